/**
 * Rules of the L1 `zk_rollup` module a party might break (CI circuit, real lmdb L1, real proofs):
 * a proof made for another rollup's circuit never verifies (the public input names the rollup),
 * a deposit is credited only to the account the L1 assigned, a deposit the circuit could never
 * include (full tree) is refused at the door instead of freezing the rollup later, and the
 * end-of-block hook reads only the rollups whose deadline is due (not every registered one).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type KeyPair } from '@strata/primitives';
import {
  buildBatch,
  circuitInput,
  CommitBatchArgs,
  encodeBatchData,
  encodeProof,
  encodeVk,
  fieldToBytes,
  OP_DEPOSIT,
  proveInput,
  readZkRollup,
  RegisterArgs,
  ZK_MODULE,
  ZkDepositArgs,
  zkCrypto,
  ZkState,
  zkParentModules,
  type CircuitArtifacts,
  type NodeZkL1Client,
  type ZkCrypto,
  type ZkKey,
} from '@strata/zk';
import { keys, registerTestRollup, TEST_UNIT, TEST_ZK, testArtifacts, ZkL1Miner } from '../helpers/zk.js';

let art: CircuitArtifacts;
let crypto: ZkCrypto;
const operatorKey = keys[0] as KeyPair;

beforeAll(async () => {
  art = await testArtifacts();
  crypto = await zkCrypto();
}, 300_000);

async function register(client: NodeZkL1Client, _l1: ZkL1Miner, rollupId: number, opts: { maxBatchGap?: number } = {}) {
  const h = await client.send(operatorKey, 'register', encode(RegisterArgs, { rollupId, depth: TEST_ZK.depth, batchSize: TEST_ZK.batchSize, unit: TEST_UNIT, priorityDeadline: 50, maxBatchGap: opts.maxBatchGap ?? 0, vk: encodeVk(art.vk) }), 100_000);
  return h;
}

function deposit(client: NodeZkL1Client, rollupId: number, key: ZkKey, units: bigint, from = keys[1] as KeyPair) {
  return client.send(from, 'deposit', encode(ZkDepositArgs, { rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: units * TEST_UNIT }), 50_000);
}

/** A batch of one deposit into account `index` on top of `st` (moved on), proven with the test circuit. */
async function depositBatch(st: ZkState, key: ZkKey, units: bigint, index: number, addr: bigint) {
  const built = buildBatch(st, [{ type: OP_DEPOSIT, from: index, to: 0, amount: units, ax: key.ax, ay: key.ay, addr }], crypto.verify);
  const { proof } = await proveInput(art, circuitInput(built));
  return { newRoot: fieldToBytes(built.newRoot), data: encodeBatchData(TEST_ZK, built.ops), proof: encodeProof(proof) };
}

describe('zk_rollup rules on L1', () => {
  let l1: ZkL1Miner;
  let client: NodeZkL1Client;
  const st7 = new ZkState(TEST_ZK);
  beforeAll(async () => {
    l1 = new ZkL1Miner();
    client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 50 });
  });
  afterAll(() => l1?.close());

  it("a valid proof of rollup 7's circuit does not verify for rollup 8, even with the same key, root and data", async () => {
    await register(client, l1, 8);
    l1.mine();
    const key = crypto.deriveKey((keys[1] as KeyPair).secretKey);
    await deposit(client, 7, key, 100n);
    await deposit(client, 8, key, 100n);
    l1.mine();
    const addr = BigInt(`0x${Buffer.from((keys[1] as KeyPair).address).toString('hex')}`);
    const b = await depositBatch(st7, key, 100n, 0, addr);
    const to8 = await client.send(operatorKey, 'commitBatch', encode(CommitBatchArgs, { rollupId: 8, ...b }), 100_000);
    l1.mine();
    expect(l1.receiptOf(to8)?.error?.code).toBe('PROOF_INVALID');
    expect(readZkRollup(l1.chain.stateReader, 8)?.batchCount).toBe(0);
    const to7 = await client.send(operatorKey, 'commitBatch', encode(CommitBatchArgs, { rollupId: 7, ...b }), 100_000);
    l1.mine();
    expect(l1.receiptOf(to7)?.status).toBe('ok');
  }, 120_000);

  it('a deposit is credited only to the account index the L1 assigned to its key', async () => {
    const key = crypto.deriveKey(randomBytes(32));
    await deposit(client, 7, key, 30n, keys[2] as KeyPair); // a new key: the L1 assigns account 1
    l1.mine();
    // The operator proves that deposit into account 5 instead: a valid proof of a wrong placement.
    const addr = BigInt(`0x${Buffer.from((keys[2] as KeyPair).address).toString('hex')}`);
    const b = await depositBatch(st7.clone(), key, 30n, 5, addr);
    const h = await client.send(operatorKey, 'commitBatch', encode(CommitBatchArgs, { rollupId: 7, ...b }), 100_000);
    l1.mine();
    expect(l1.receiptOf(h)?.error?.code).toBe('L2_INVALID_BATCH');
    expect(l1.receiptOf(h)?.error?.message).toMatch(/credits account 1/);
    // The right placement is accepted.
    const ok = await client.send(operatorKey, 'commitBatch', encode(CommitBatchArgs, { rollupId: 7, ...(await depositBatch(st7, key, 30n, 1, addr)) }), 100_000);
    l1.mine();
    expect(l1.receiptOf(ok)?.status).toBe('ok');
  }, 120_000);

  it('once the tree is full, a deposit for a new key is refused on L1 (it could never be included); known keys still deposit', async () => {
    await register(client, l1, 9);
    l1.mine();
    const fresh = Array.from({ length: 2 ** TEST_ZK.depth + 1 }, () => crypto.deriveKey(randomBytes(32)));
    const hashes = [];
    for (const k of fresh) hashes.push(await deposit(client, 9, k, 1n));
    l1.mine();
    const codes = hashes.map((h) => l1.receiptOf(h)?.error?.code ?? 'ok');
    expect(codes.slice(0, 16).every((c) => c === 'ok')).toBe(true);
    expect(codes[16]).toBe('L2_BRIDGE');
    expect(l1.receiptOf(hashes[16] as Uint8Array)?.error?.message).toMatch(/full/);
    const again = await deposit(client, 9, fresh[3] as ZkKey, 2n);
    l1.mine();
    expect(l1.receiptOf(again)?.status).toBe('ok');
    expect(readZkRollup(l1.chain.stateReader, 9)?.accounts).toBe(16);
  }, 120_000);

  it('the end-of-block hook reads only rollups with a deadline due, however many are registered', async () => {
    for (let i = 0; i < 30; i++) {
      await register(client, l1, 100 + i);
      if (i % 10 === 9) l1.mine(); // ten registrations fit a block's compute
    }
    expect(readZkRollup(l1.chain.stateReader, 129)).toBeDefined();
    await register(client, l1, 200, { maxBatchGap: 3 });
    l1.mine();
    expect(readZkRollup(l1.chain.stateReader, 200)).toBeDefined();
    const registeredAt = l1.chain.head.meta.height;
    const mod = zkParentModules().find((m) => m.name === ZK_MODULE);
    let reads = 0;
    const r = l1.chain.stateReader;
    const view = { get: (k: Uint8Array) => (reads++, r.get(k)), put() {}, del() {} };
    const ctx = { view, config: l1.chain.config, block: { height: registeredAt + 1, timestamp: 0, producer: new Uint8Array(20) }, emit() {}, registry: undefined as never };
    mod?.endBlock?.(ctx as never);
    expect(reads).toBeLessThanOrEqual(2);
    // ...and the one that is due still freezes on time.
    for (let i = 0; i < 4; i++) l1.mine();
    const rec = readZkRollup(l1.chain.stateReader, 200);
    expect(rec?.frozen).toBe(true);
    expect(rec?.frozenAt).toBe(registeredAt + 4);
    expect(readZkRollup(l1.chain.stateReader, 100)?.frozen).toBe(false);
  }, 120_000);
});
