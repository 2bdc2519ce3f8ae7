/**
 * The CLI bundle's esbuild options, shared by scripts/build.mjs (writes packages/cli/dist) and
 * test/unit/cli-import-graph.test.ts (builds in memory and checks what each command's chunk
 * loads). See build.mjs for what the bundle is.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(cliDir, '../..');

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
      if (/^[^./]/.test(args.path) && !args.path.startsWith('@strata/') && !BUNDLED_NPM.some((n) => args.path === n || args.path.startsWith(`${n}/`))) return { path: args.path, external: true };
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { inner: true } });
      if (r.errors.length > 0) return { errors: r.errors };
      return { path: r.path, external: r.external, sideEffects: SIDE_EFFECT_FILES.some((f) => r.path.endsWith(f)) };
    });
  },
};
/**
 * Small pure-JS npm packages every command loads, bundled instead of loaded from node_modules:
 * resolving a bare specifier through node_modules and package.json `exports`, and (commander is
 * CommonJS) lexing its exports for ESM, cost a client command ~30 ms of its 200 ms budget.
 */
const BUNDLED_NPM = ['commander', '@scure/base'];
/**
 * Bundled CommonJS (commander) calls `require` for node builtins: give every chunk one (ES
 * modules have none). The name is the one esbuild's CommonJS wrapper looks up.
 */
const REQUIRE_BANNER = "import { createRequire as __strataCreateRequire } from 'node:module'; const require = __strataCreateRequire(import.meta.url);";
/** Workspace files that are imported for their side effects (they must never be tree-shaken). */
const SIDE_EFFECT_FILES = ['/polyfill.ts', '/polyfill.js'];

/**
 * Bundles the CLI (and the validator and prover entries) into `outdir`; returns esbuild's result
 * with its metafile. `write: false` keeps the output in memory. Throws when esbuild is missing.
 */
export async function bundleCli({ outdir, write = true }) {
  const esbuild = await import('esbuild');
  return esbuild.build({
    // The CLI, and the processes the devnet spawns by the handful (sidechain validators, ZK
    // provers): compiled once too, so none of them transpiles the sources at every start.
    entryPoints: { main: join(cliDir, 'src/main.ts'), validator: join(root, 'packages/sidechain/src/main.ts'), prover: join(root, 'packages/zk/src/prover-main.ts') },
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    write,
    metafile: true,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    banner: { js: REQUIRE_BANNER },
    plugins: [externalNpm],
  });
}
