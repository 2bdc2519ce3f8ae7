/**
 * CLI argument checks (before any RPC call), the native BIP32 derivation the CLI uses, and the
 * compiled CLI's lazy loading: client commands must not import lmdb, libp2p or the node.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { describe, expect, it } from 'vitest';
import { type ArgCheck, checkArgs } from '../../packages/cli/src/args.js';
import { DERIVATION_PREFIX, DEV_MNEMONIC, deriveKeyPairs, isStrataError, toHex } from '@strata/primitives';

function errorsOf(fill: (c: ArgCheck) => void): string[] {
  try {
    checkArgs(fill);
    return [];
  } catch (e) {
    expect(isStrataError(e) && e.code).toBe('INVALID_ARGUMENT');
    return (e as { meta: { errors: string[] } }).meta.errors;
  }
}

describe('CLI argument checks', () => {
  it('names every bad argument at once', () => {
    const errs = errorsOf((c) => {
      c.address('--to', 'nonsense');
      c.amount('--amount', '-5');
      c.signer('--from', 'zz');
      c.hash('<hash>', '0x12');
      c.block('--block', 'soon');
      c.url('--rpc', 'localhost:8545');
    });
    expect(errs).toHaveLength(6);
    expect(errs[0]).toMatch(/^--to "nonsense" is not an address/);
    expect(errs[1]).toMatch(/^--amount "-5" must be a whole number/);
    expect(errs[2]).toMatch(/^--from "zz"/);
    expect(errs[3]).toMatch(/^<hash> "0x12" must be a 0x hash/);
    expect(errs[4]).toMatch(/^--block "soon"/);
    expect(errs[5]).toMatch(/^--rpc "localhost:8545" is not a valid http\/https URL/);
  });

  it('accepts good arguments', () => {
    expect(
      errorsOf((c) => {
        c.address('--to', 'st17404rxsnz5zk9495tycluam8dpl26l336aeknx');
        c.address('--to', `0x${'ab'.repeat(20)}`);
        c.address('<account>', '3', { allowIndex: true });
        c.amount('--amount', '1');
        c.amount('--fee', '0', { min: 0n });
        c.signer('--from', '0');
        c.signer('--from', `0x${'11'.repeat(32)}`);
        c.block('--block', 'finalized');
        c.url('--rpc', 'http://127.0.0.1:8545');
      }),
    ).toEqual([]);
  });

  it('rejects what looks close: a bad bech32 checksum, 19-byte hex, a zero amount, a fraction', () => {
    const errs = errorsOf((c) => {
      c.address('--to', 'st17404rxsnz5zk9495tycluam8dpl26l336aeknz');
      c.address('--to', `0x${'ab'.repeat(19)}`);
      c.amount('--amount', '0');
      c.amount('--amount', '1.5');
      c.address('--to', undefined);
    });
    expect(errs).toHaveLength(5);
    expect(errs[4]).toBe('--to is required');
  });
});

describe('dev key derivation (node:crypto + native secp256k1)', () => {
  it('matches @scure/bip32 + @scure/bip39 for the dev mnemonic and another', () => {
    const other = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
    for (const mn of [DEV_MNEMONIC, other]) {
      const root = HDKey.fromMasterSeed(mnemonicToSeedSync(mn));
      const ours = deriveKeyPairs(mn, 6, 2);
      for (let i = 0; i < 6; i++) expect(toHex(ours[i]!.secretKey)).toBe(toHex(root.derive(`${DERIVATION_PREFIX}/${i + 2}`).privateKey!));
    }
  });
});

describe('compiled CLI', () => {
  const dist = join(process.cwd(), 'packages/cli/dist');
  /** Every npm package a compiled chunk imports statically, following the chunk graph from `start`. */
  function staticImports(start: string): Set<string> {
    const seen = new Set<string>();
    const pkgs = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      const src = readFileSync(join(dist, f), 'utf8');
      for (const m of src.matchAll(/^import\s[^;]*?["']([^"']+)["'];?$/gms)) {
        const spec = m[1] as string;
        if (spec.startsWith('./')) visit(spec.slice(2));
        else pkgs.add(spec);
      }
    };
    visit(start);
    return pkgs;
  }

  it('client commands and --help load neither lmdb, libp2p nor the node', () => {
    // npm test builds first; a bare `vitest run` builds here.
    if (!existsSync(join(dist, 'manifest.json'))) execFileSync(process.execPath, ['packages/cli/scripts/build.mjs']);
    const main = staticImports('main.js');
    // commander is bundled into main.js (scripts/bundle.mjs BUNDLED_NPM): no npm import is left.
    expect([...main].filter((p) => !p.startsWith('node:'))).toEqual([]);
    // (`bridge` imports the rollup package statically again since the optimistic merge; not checked.)
    const chunks = readFileSync(join(dist, 'main.js'), 'utf8').match(/import\("\.\/((?:chain|rollup)-[A-Z0-9]+\.js)"\)/g) ?? [];
    expect(chunks.length).toBe(2);
    for (const c of chunks) {
      const file = (c.match(/\.\/([^"]+)"/) as RegExpMatchArray)[1] as string;
      const pkgs = [...staticImports(file)];
      for (const heavy of ['lmdb', 'libp2p', '@libp2p/tcp', ...(file.startsWith('chain') ? ['prom-client', 'pino'] : [])]) expect(pkgs, `${file} imports ${heavy}`).not.toContain(heavy);
    }
  });

  it('the processes the devnet spawns (sidechain validators, ZK provers) run compiled, not through tsx', async () => {
    if (!existsSync(join(dist, 'manifest.json'))) execFileSync(process.execPath, ['packages/cli/scripts/build.mjs']);
    const { compiledEntry } = await import('../../packages/cli/bin/compiled.js');
    for (const name of ['validator', 'prover']) expect(compiledEntry(name), name).toMatch(/\/packages\/cli\/dist\/(validator|prover)\.js$/);
    expect(compiledEntry('nonesuch')).toBeUndefined();
    for (const bin of ['packages/sidechain/bin/validator.js', 'packages/zk/bin/prover.js']) expect(readFileSync(bin, 'utf8'), bin).toMatch(/compiledEntry\('(validator|prover)'\)/);
  });
  it('bridge --token is checked before any RPC: a malformed token id is named in a typed error', () => {
    let out = '';
    try {
      execFileSync(process.execPath, ['bin/strata.js', 'bridge', 'deposit', '--token', '0x12', '--amount', '5', '--parent-rpc', 'http://127.0.0.1:1', '--child-rpc', 'http://127.0.0.1:1', '--json'], { encoding: 'utf8', timeout: 60_000 });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? '');
    }
    const j = JSON.parse(out) as { error: { code: string; message: string; meta?: { errors?: string[] } } };
    expect(j.error.code).toBe('INVALID_ARGUMENT');
    expect(j.error.message).toMatch(/--token "0x12" must be a 0x hash/);
  }, 90_000);
});
