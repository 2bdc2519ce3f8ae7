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
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(cliDir, '../..');
// dist sits at the same depth as packages/<name>/src, so `new URL('../../../bin/…', import.meta.url)`
// in bundled code still points at the repository's files.
const dist = join(cliDir, 'dist');
const tmp = join(cliDir, `.dist-tmp-${process.pid}`);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('strata build: esbuild not installed; the CLI runs from source (slower start)\n');
  process.exit(0);
}

const externalNpm = {
  name: 'external-npm',
  setup(b) {
    // Bundle relative imports and our workspace packages; leave every npm package external.
    // Our own modules are marked free of side effects (except the files imported only for their
    // side effects), so a command that imports one helper from a package does not pull in the
    // rest of it (e.g. `devAccounts` from @strata/devnet must not load lmdb and libp2p).
    // `import.meta.url` keeps meaning the source file's URL, so code that finds files next to
    // itself (worker scripts, a validator binary, circuits, the explorer's web files) finds the
    // same files from the bundle as from source.
    b.onLoad({ filter: /\/packages\/[^/]+\/src\/.*\.[jt]s$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
    });
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.inner || args.kind === 'entry-point') return undefined;
      if (/^[^./]/.test(args.path) && !args.path.startsWith('@strata/')) return { path: args.path, external: true };
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { inner: true } });
      if (r.errors.length > 0) return { errors: r.errors };
      return { path: r.path, external: r.external, sideEffects: SIDE_EFFECT_FILES.some((f) => r.path.endsWith(f)) };
    });
  },
};
/** Workspace files that are imported for their side effects (they must never be tree-shaken). */
const SIDE_EFFECT_FILES = ['/polyfill.ts', '/polyfill.js'];

const started = Date.now();
rmSync(tmp, { recursive: true, force: true });
const result = await esbuild.build({
  // The CLI, and the processes the devnet spawns by the handful (sidechain validators, ZK
  // provers): compiled once too, so none of them transpiles the sources at every start.
  entryPoints: { main: join(cliDir, 'src/main.ts'), validator: join(root, 'packages/sidechain/src/main.ts'), prover: join(root, 'packages/zk/src/prover-main.ts') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: tmp,
  metafile: true,
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  plugins: [externalNpm],
});
const inputs = [...Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(process.cwd(), p)))].map((p) => {
  const s = statSync(join(root, p));
  return [p, s.mtimeMs, s.size];
});
writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ builtAt: new Date().toISOString(), inputs }));
mkdirSync(dist, { recursive: true });
const old = join(cliDir, `.dist-old-${process.pid}`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
process.stderr.write(`strata build: ${inputs.length} sources → packages/cli/dist in ${Date.now() - started} ms\n`);
