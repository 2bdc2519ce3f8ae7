// Which compiled entry (packages/cli/dist/<name>.js, built by scripts/build.mjs) may run: only
// while every source file it was built from is unchanged (else the caller runs the TypeScript
// sources through tsx), so the code that runs is always the current source.
// STRATA_CLI_FROM_SOURCE=1 forces the sources.
import { readFileSync, statSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const root = new URL('../../../', import.meta.url);

/** The URL of dist/<name>.js when it is fresh, else undefined. */
export function compiledEntry(name) {
  if (process.env.STRATA_CLI_FROM_SOURCE === '1') return undefined;
  try {
    const { inputs } = JSON.parse(readFileSync(new URL('manifest.json', dist), 'utf8'));
    for (const [path, mtimeMs, size] of inputs) {
      const s = statSync(new URL(path, root));
      if (s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
    }
    const entry = new URL(`${name}.js`, dist);
    statSync(entry);
    return entry.href;
  } catch {
    return undefined;
  }
}
