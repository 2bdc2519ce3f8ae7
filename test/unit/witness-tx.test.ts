import { afterEach, describe, expect, it } from 'vitest';
import { initHashing, isStrataError, toHex } from '@strata/primitives';
import { applyTx, bankModule, ModuleRegistry } from '@strata/runtime';
import { executeOnWitness, executeWithWitness, OverlayView, SparseMerkleTree } from '@strata/state';
import { devConfig, keys, mineOn, openChain, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('witness-backed re-execution of a real transaction', () => {
  it('a signed transfer re-executed from its witness alone gives the full node’s post-state root', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const cfg = devConfig();
    const { chain } = openChain(cfg, t.dir);
    // Some history so the tree has depth.
    for (let i = 0; i < 5; i++) mineOn(chain, [transferTx(cfg, keys[0]!, keys[1]!.address, 10n + BigInt(i), i)]);
    const vtx = transferTx(cfg, keys[1]!, keys[2]!.address, 77n, 0);
    const env = { config: cfg, registry: new ModuleRegistry([bankModule]), block: { height: 6, timestamp: chain.head.header.timestamp + 1, producer: keys[3]!.address } };
    const preRoot = chain.head.header.stateRoot;

    // Full node: the flat database and the stored tree.
    const full = new OverlayView(chain.stateReader);
    const receipt = applyTx(full, env, vtx, 0);
    expect(receipt.status).toBe('ok');
    const fullRoot = new SparseMerkleTree(chain.nodeReader).update(preRoot, full.changes()).root;

    // Prover: records the nodes it touches. Verifier: has only the witness, no database.
    const { postRoot, witness } = executeWithWitness(chain.nodeReader, preRoot, (v) => applyTx(v, env, vtx, 0));
    const fromWitness = executeOnWitness(preRoot, witness, (v) => applyTx(v, env, vtx, 0));
    expect(toHex(postRoot)).toBe(toHex(fullRoot));
    expect(toHex(fromWitness)).toBe(toHex(fullRoot));
    expect(witness.length).toBeLessThan(200);

    // A different transaction over the same witness cannot silently produce a root: it either
    // needs nodes the witness lacks or produces a different root.
    const other = transferTx(cfg, keys[1]!, keys[2]!.address, 78n, 0);
    const otherRoot = executeOnWitness(preRoot, witness, (v) => applyTx(v, env, other, 0));
    expect(toHex(otherRoot)).not.toBe(toHex(fullRoot));
  });

  it('a witness with one tampered node is rejected, whichever node and byte is altered', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const cfg = devConfig();
    const { chain } = openChain(cfg, t.dir);
    for (let i = 0; i < 5; i++) mineOn(chain, [transferTx(cfg, keys[0]!, keys[1]!.address, 10n + BigInt(i), i)]);
    const vtx = transferTx(cfg, keys[1]!, keys[2]!.address, 77n, 0);
    const env = { config: cfg, registry: new ModuleRegistry([bankModule]), block: { height: 6, timestamp: chain.head.header.timestamp + 1, producer: keys[3]!.address } };
    const preRoot = chain.head.header.stateRoot;
    const { postRoot, witness } = executeWithWitness(chain.nodeReader, preRoot, (v) => applyTx(v, env, vtx, 0));
    expect(witness.length).toBeGreaterThan(3);
    let checked = 0;
    for (let i = 0; i < witness.length; i++) {
      const enc = witness[i]!;
      // The tag byte, a byte of the first hash or key, and the last byte (a value or a hash).
      for (const at of [0, 1, 40, enc.length - 1]) {
        if (at >= enc.length) continue;
        const bad = witness.map((w) => new Uint8Array(w));
        bad[i]![at]! ^= 0x01;
        let root: Uint8Array | undefined;
        let error: unknown;
        try {
          root = executeOnWitness(preRoot, bad, (v) => applyTx(v, env, vtx, 0));
        } catch (e) {
          error = e;
        }
        // Never a root, not even the honest one (and in particular not a "failed transaction" root).
        expect(root, `node ${i} byte ${at} gave root ${root ? toHex(root) : ''} (honest ${toHex(postRoot)})`).toBeUndefined();
        expect(isStrataError(error) && ['WITNESS_INCOMPLETE', 'PROOF_INVALID'].includes(error.code), `node ${i} byte ${at}: ${String(error)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
    // The untampered witness still gives the honest root.
    expect(toHex(executeOnWitness(preRoot, witness, (v) => applyTx(v, env, vtx, 0)))).toBe(toHex(postRoot));
  });
});
