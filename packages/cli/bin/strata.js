#!/usr/bin/env node
// Entry point of the `strata` command. Runs the CLI compiled at install (packages/cli/dist,
// built by scripts/build.mjs from `npm install`'s prepare step and before `npm test`) while every
// source file it was built from is unchanged; otherwise (or with STRATA_CLI_FROM_SOURCE=1) runs
// the TypeScript sources through tsx. Either way the code that runs is the current source.
import { readFileSync, statSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const root = new URL('../../../', import.meta.url);

function compiledIsFresh() {
  if (process.env.STRATA_CLI_FROM_SOURCE === '1') return false;
  try {
    const { inputs } = JSON.parse(readFileSync(new URL('manifest.json', dist), 'utf8'));
    for (const [path, mtimeMs, size] of inputs) {
      const s = statSync(new URL(path, root));
      if (s.mtimeMs !== mtimeMs || s.size !== size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

if (compiledIsFresh()) {
  await import(new URL('main.js', dist).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
