/**
 * What `strata --help` and `strata account balance` load, read from the compiled bundle's import
 * graph (esbuild's metafile, built in memory from the current sources): a static check, not a
 * timing test. Each of the packages below costs a client command tens of milliseconds to load
 * (measured on this machine: ws ~80 ms, @noble/curves ~65 ms, bip39 + word list ~30 ms, smol-toml
 * ~15 ms), and lmdb, libp2p, snarkjs and @strata/devnet far more; `account balance` must answer
 * in ≤ 200 ms (issue 14, item 7). Only static imports count: what an action loads with
 * `await import(...)` when it needs it is fine.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { bundleCli } from '../../packages/cli/scripts/bundle.mjs';

interface MetaOutput {
  inputs: Record<string, unknown>;
  imports: { path: string; kind: string; external?: boolean }[];
}
interface Meta {
  outputs: Record<string, MetaOutput>;
}

/** npm packages a light client command must not load (by module specifier). */
const HEAVY_NPM = [/^lmdb/, /^libp2p/, /^@libp2p\//, /^@chainsafe\//, /^snarkjs/, /^circomlibjs/, /^ws$/, /^@noble\/curves/, /^@scure\/bip39/, /^@scure\/bip32/, /^secp256k1/, /^smol-toml/, /^@ethereumjs\/rlp/, /^pino/, /^prom-client/];
/** Workspace packages a light client command must not load (the key code of primitives either). */
const HEAVY_SOURCES = [
  /^packages\/(devnet|node|chain|p2p|state|zk|optimistic|channels|sidechain|explorer|apps|runtime)\//,
  /^packages\/rpc\/src\/(server|wsClient|dispatcher|subscriptions)\.ts$/,
  /^packages\/primitives\/src\/(keys|hash|encoding)\.ts$/,
];

let meta: Meta | undefined;
async function graph(): Promise<Meta> {
  meta ??= (await bundleCli({ outdir: join(process.cwd(), 'packages/cli/.dist-graph-test'), write: false })).metafile as Meta;
  return meta;
}

/** Everything loaded by static imports from the output chunk that holds `source` (or is `entry`). */
function staticClosure(m: Meta, pick: (name: string, out: MetaOutput) => boolean): { sources: string[]; npm: string[] } {
  const outs = Object.entries(m.outputs).filter(([k]) => !k.endsWith('.map'));
  const start = outs.find(([k, o]) => pick(k, o));
  if (!start) throw new Error('no such chunk in the bundle');
  const byPath = new Map(outs);
  const seen = new Set<string>();
  const sources = new Set<string>();
  const npm = new Set<string>();
  const walk = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const o = byPath.get(path);
    if (!o) throw new Error(`chunk ${path} missing from the metafile`);
    for (const s of Object.keys(o.inputs)) sources.add(s);
    for (const i of o.imports) {
      if (i.kind !== 'import-statement') continue;
      if (i.external) npm.add(i.path);
      else walk(i.path);
    }
  };
  walk(start[0]);
  return { sources: [...sources].sort(), npm: [...npm].sort() };
}

function heavy(c: { sources: string[]; npm: string[] }): string[] {
  return [...c.npm.filter((p) => !p.startsWith('node:') && HEAVY_NPM.some((r) => r.test(p))), ...c.sources.filter((s) => HEAVY_SOURCES.some((r) => r.test(s)))];
}

describe('the CLI bundle loads only what a client command needs', () => {
  it('`strata --help` (main.js) loads commander (bundled into it) and nothing else', async () => {
    const c = staticClosure(await graph(), (k) => /(^|\/)main\.js$/.test(k));
    expect(c.npm.filter((p) => !p.startsWith('node:'))).toEqual([]);
    expect(c.sources.filter((s) => s !== 'packages/cli/src/main.ts' && !s.startsWith('node_modules/commander/'))).toEqual([]);
    expect(c.sources).toContain('node_modules/commander/lib/command.js');
  }, 60_000);

  it('the chunk of `account balance` (commands/chain.ts) loads no lmdb, libp2p, snarkjs, ws, key code or @strata/devnet', async () => {
    const c = staticClosure(await graph(), (_k, o) => 'packages/cli/src/commands/chain.ts' in o.inputs);
    expect(c.sources).toContain('packages/rpc/src/client.ts'); // the walk reached what balance uses
    expect(heavy(c)).toEqual([]);
    // node:https (with tls) costs as much as node:http: the RPC client loads it for https URLs only.
    expect(c.npm).toContain('node:http');
    expect(c.npm).not.toContain('node:https');
  }, 60_000);

  it('the check sees a heavy module when one is there (the devnet command)', async () => {
    const c = staticClosure(await graph(), (_k, o) => 'packages/cli/src/commands/devnet.ts' in o.inputs);
    expect(heavy(c).length).toBeGreaterThan(0);
  }, 60_000);
});
