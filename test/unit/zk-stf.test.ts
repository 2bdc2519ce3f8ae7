/**
 * The ZK-rollup's two state transitions agree: the TypeScript STF and the circom circuit (its
 * witness generator enforces every constraint). Random batches, valid and invalid (bad
 * signature, wrong nonce, overdraft, unknown account), must give the same new root or both be
 * rejected. Plus Poseidon against circomlibjs, tree proof binding and posted-data decoding.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { StrataError } from '@strata/primitives';
import {
  buildBatch,
  circuitInput,
  decodeBatchData,
  emptyRoot,
  encodeBatchData,
  OP_DEPOSIT,
  OP_NOOP,
  OP_TRANSFER,
  OP_WITHDRAW,
  opMessage,
  poseidon,
  PoseidonTree,
  rootFromPath,
  zkCrypto,
  ZkState,
  type ZkCrypto,
  type ZkKey,
  type ZkOp,
} from '@strata/zk';
import { buildPoseidonReference } from 'circomlibjs';
import { TEST_ZK, testArtifacts } from '../helpers/zk.js';

type Calc = { calculateWitness(input: unknown, sanity: boolean): Promise<bigint[]> };
let calc: Calc;
let crypto: ZkCrypto;
let keysL2: ZkKey[];

beforeAll(async () => {
  const art = await testArtifacts();
  const req = createRequire(import.meta.url);
  const builder = req(join(dirname(art.wasm), 'witness_calculator.cjs')) as (code: Buffer) => Promise<Calc>;
  calc = await builder(readFileSync(art.wasm));
  crypto = await zkCrypto();
  keysL2 = [1, 2, 3].map((i) => crypto.deriveKey(new Uint8Array(32).fill(i)));
}, 240_000);

describe('zk primitives', () => {
  it('Poseidon matches circomlibjs for 1..6 inputs', async () => {
    const ref = (await (buildPoseidonReference as () => Promise<{ (x: bigint[]): unknown; F: { toObject(x: unknown): bigint } }>)());
    for (let n = 1; n <= 6; n++) {
      const xs = Array.from({ length: n }, (_, i) => BigInt(i * 7919 + n));
      expect(poseidon(xs)).toBe(ref.F.toObject(ref(xs)));
    }
  });

  it('a tree proof binds its position and its exact length', () => {
    const t = new PoseidonTree(4);
    t.set(3, 11n);
    t.set(9, 22n);
    const pf = t.proof(3);
    expect(rootFromPath(11n, 3, pf, 4)).toBe(t.root);
    expect(rootFromPath(11n, 2, pf, 4)).not.toBe(t.root); // re-indexed
    expect(() => rootFromPath(11n, 3, [...pf, 0n], 4)).toThrow(StrataError); // padded
    expect(() => rootFromPath(11n, 3, pf.slice(0, 3), 4)).toThrow(StrataError); // truncated
    expect(() => rootFromPath(11n, 16, pf, 4)).toThrow(StrataError); // outside
    expect(new PoseidonTree(4).root).toBe(emptyRoot(4));
  });

  it('posted data round-trips and malformed data gets a typed error', () => {
    const ops = [
      { type: OP_TRANSFER, from: 3, to: 9, amount: 12345n, addr: 0n },
      { type: OP_WITHDRAW, from: 9, to: 0, amount: 5n, addr: 0xabcdefn },
    ];
    const p = { ...TEST_ZK, batchSize: 2 };
    const data = encodeBatchData(p, ops);
    expect(decodeBatchData(p, data)).toEqual(ops);
    const bad = (d: Uint8Array) => {
      try {
        decodeBatchData(p, d);
        return 'accepted';
      } catch (e) {
        return (e as StrataError).code;
      }
    };
    expect(bad(data.slice(0, data.length - 1))).toBe('L2_INVALID_BATCH'); // truncated
    expect(bad(new Uint8Array([...data, 0, 0, 0, 0, 0, 1]))).toBe('L2_INVALID_BATCH'); // too many ops
    expect(bad(new Uint8Array([0, 0, 0, 0, 1, 0]))).toBe('L2_INVALID_BATCH'); // a noop with fields
  });
});

type Kind = 'ok' | 'badSig' | 'wrongNonce' | 'overdraft' | 'unknownFrom' | 'unknownTo';

function makeOp(st: ZkState, kind: Kind, type: number, from: number, to: number, amt: bigint): ZkOp {
  const p = st.params;
  if (type === OP_NOOP) return { type, from: 0, to: 0, amount: 0n, ax: 0n, ay: 0n, addr: 0n };
  if (type === OP_DEPOSIT) {
    const k = keysL2[from % keysL2.length] as ZkKey;
    const idx = st.findKey(k.ax, k.ay) ?? st.nextFreeIndex();
    return { type, from: idx, to: 0, amount: amt, ax: k.ax, ay: k.ay, addr: BigInt(1000 + from) };
  }
  const fromIdx = kind === 'unknownFrom' ? 15 : from;
  const toIdx = type === OP_TRANSFER ? (kind === 'unknownTo' ? 14 : to) : 0;
  const leaf = st.leaf(fromIdx);
  const bal = leaf?.balance ?? 0n;
  const amount = kind === 'overdraft' ? bal + 1n + amt : bal === 0n ? 0n : amt % (bal + 1n);
  const nonce = (leaf?.nonce ?? 0n) + (kind === 'wrongNonce' ? 1n : 0n);
  const owner = keysL2.findIndex((k) => leaf && k.ax === leaf.ax && k.ay === leaf.ay);
  const signer = (kind === 'badSig' ? keysL2[(owner + 1) % keysL2.length] : keysL2[Math.max(owner, 0)]) as ZkKey;
  const op = { type, from: fromIdx, to: toIdx, amount, ax: 0n, ay: 0n, addr: type === OP_WITHDRAW ? (leaf?.addr ?? 0n) : 0n, nonce };
  return { ...op, sig: crypto.sign(signer, opMessage(p, op, nonce)) };
}

describe('TS STF and circuit agree', () => {
  it('random batches: same root or same rejection', async () => {
    let st = new ZkState(TEST_ZK);
    // seed two accounts
    st = st.clone();
    const d0 = makeOp(st, 'ok', OP_DEPOSIT, 0, 0, 500n);
    const probe = st.clone();
    probe.apply(d0, crypto.verify);
    buildBatch(st, [d0, makeOp(probe, 'ok', OP_DEPOSIT, 1, 0, 300n)], crypto.verify);
    const opArb = fc.record({
      kind: fc.constantFrom<Kind>('ok', 'ok', 'ok', 'badSig', 'wrongNonce', 'overdraft', 'unknownFrom', 'unknownTo'),
      type: fc.constantFrom(OP_TRANSFER, OP_TRANSFER, OP_WITHDRAW, OP_DEPOSIT, OP_NOOP),
      from: fc.integer({ min: 0, max: 2 }),
      to: fc.integer({ min: 0, max: 2 }),
      amt: fc.bigInt({ min: 1n, max: 400n }),
    });
    let rejected = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 2 }), async (specs) => {
        // build the ops in sequence against a scratch copy so later ops see earlier effects
        const scratch = st.clone();
        const ops: ZkOp[] = [];
        for (const s of specs) {
          const from = Math.min(s.from, scratch.leaves.size - 1);
          const to = Math.min(s.to, scratch.leaves.size - 1);
          const op = makeOp(scratch, s.kind, s.type, from, to, s.amt);
          ops.push(op);
          try {
            scratch.apply(op, crypto.verify, true);
          } catch {
            // keep going: the batch as a whole is judged below
          }
        }
        const checked = st.clone();
        let tsRoot: bigint | undefined;
        let tsHash: bigint | undefined;
        try {
          const b = buildBatch(checked, ops, crypto.verify, true);
          tsRoot = b.newRoot;
          tsHash = b.inputHash;
        } catch (e) {
          expect(e).toBeInstanceOf(StrataError);
        }
        const unchecked = buildBatch(st.clone(), ops, crypto.verify, false);
        let circuitOut: bigint | undefined;
        try {
          const w = await calc.calculateWitness(circuitInput(unchecked), true);
          circuitOut = w[1];
        } catch {
          circuitOut = undefined;
        }
        if (tsRoot === undefined) {
          rejected++;
          expect(circuitOut, `circuit accepted a batch the STF rejects: ${JSON.stringify(specs, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`).toBeUndefined();
        } else {
          accepted++;
          expect(circuitOut, `circuit rejected a batch the STF accepts: ${JSON.stringify(specs, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`).toBe(tsHash);
          expect(unchecked.newRoot).toBe(tsRoot);
          st = checked;
        }
      }),
      { numRuns: 30, seed: 42 },
    );
    expect(accepted).toBeGreaterThan(3);
    expect(rejected).toBeGreaterThan(3);
  }, 240_000);
});
