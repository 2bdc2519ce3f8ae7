#!/usr/bin/env node
/**
 * Compiles the `strata` CLI once (run by the root package's `prepare` on `npm install`, and by
 * `npm test` first): esbuild bundles packages/cli/src/main.ts with every @strata/* workspace
 * package into ES module chunks under packages/cli/dist/ (code splitting, so a command's
 * `await import(...)` stays lazy); npm packages stay external and load from node_modules.
 *
 * dist/manifest.json lists every source file that went in with its mtime and size; the
 * launcher (bin/strata.js) runs the compiled CLI only while all of them are unchanged, and
 * falls back to the TypeScript sources through tsx otherwise, so the compiled output can
 * never be stale.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleCli } from './bundle.mjs';

const cliDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(cliDir, '../..');
// dist sits at the same depth as packages/<name>/src, so `new URL('../../../bin/…', import.meta.url)`
// in bundled code still points at the repository's files.
const dist = join(cliDir, 'dist');
const tmp = join(cliDir, `.dist-tmp-${process.pid}`);

try {
  await import('esbuild');
} catch {
  process.stderr.write('strata build: esbuild not installed; the CLI runs from source (slower start)\n');
  process.exit(0);
}

const started = Date.now();
rmSync(tmp, { recursive: true, force: true });
const result = await bundleCli({ outdir: tmp });
const inputs = [...Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(root, p)))].map((p) => {
  const s = statSync(join(root, p));
  return [p, s.mtimeMs, s.size];
});
writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ builtAt: new Date().toISOString(), inputs }));
// esbuild's metafile: which sources and npm packages each chunk imports (to see what a command
// loads; test/unit/cli-import-graph.test.ts checks the same graph built in memory).
writeFileSync(join(tmp, 'meta.json'), JSON.stringify(result.metafile));
mkdirSync(dist, { recursive: true });
const old = join(cliDir, `.dist-old-${process.pid}`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
process.stderr.write(`strata build: ${inputs.length} sources → packages/cli/dist in ${Date.now() - started} ms\n`);
