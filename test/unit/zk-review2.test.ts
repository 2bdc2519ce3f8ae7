/**
 * Review round 2 of the ZK operator's lmdb store (CI circuit, real lmdb L1 and store): a write
 * that fails (disk full, I/O error) must leave the operator's memory exactly as it was, so what
 * it soft-confirmed never runs ahead of what it stored. Otherwise a refused transaction stays
 * applied to the soft state (the user's retry is refused as a bad nonce, the next one is accepted
 * on top of a phantom and makes every later seal throw: no batch, exodus), a deposit is applied
 * twice, or a batch missing from the store makes the next restart fail.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataError, type KeyPair } from '@strata/primitives';
import { fieldToBytes, type NodeZkL1Client, proveInput, readZkRollup, zkRpcMethods, zkCrypto, ZkOperator, type CircuitArtifacts, type ZkCrypto, type ZkKey } from '@strata/zk';
import { tempDir } from '../helpers/chain.js';
import { keys, registerTestRollup, TEST_ZK, testArtifacts, ZkL1Miner, zkDeposit, zkTransfer } from '../helpers/zk.js';

let art: CircuitArtifacts;
let crypto: ZkCrypto;
let l2: ZkKey[];
let t: { dir: string; cleanup: () => void };
const operatorKey = keys[0] as KeyPair;

beforeAll(async () => {
  art = await testArtifacts();
  crypto = await zkCrypto();
  l2 = [1, 2, 3].map((i) => crypto.deriveKey((keys[i] as KeyPair).secretKey));
  t = tempDir('strata-zkreview2-');
}, 300_000);
afterAll(() => t?.cleanup());

const deposit = (client: NodeZkL1Client, who: number, units: bigint) => zkDeposit(client, keys[who] as KeyPair, l2[who - 1] as ZkKey, units);

const transfer = (op: ZkOperator, from: number, to: number, amount: bigint, nonce = op.soft.leaf(from)?.nonce ?? 0n) => zkTransfer(crypto, l2[from] as ZkKey, from, to, amount, nonce);

/** Makes the operator's next `times` lmdb transactions fail, as lmdb does on a full disk. */
function failStore(op: ZkOperator, times = 1) {
  const env = (op as unknown as { store: { env: { transactionSync: (f: () => unknown) => unknown } } }).store.env;
  const real = env.transactionSync.bind(env);
  let left = times;
  env.transactionSync = (f: () => unknown) => {
    if (left-- > 0) throw new Error('MDB_MAP_FULL: Environment mapsize limit reached');
    return real(f);
  };
}

async function setup(name: string, batchIntervalMs = 60_000, priorityDeadline = 50) {
  const l1 = new ZkL1Miner();
  const client = await registerTestRollup(l1, operatorKey, { priorityDeadline });
  await deposit(client, 1, 500n);
  await deposit(client, 2, 300n);
  l1.mine();
  const dir = join(t.dir, name);
  const mk = () => ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs, dataDir: dir }, { l1: client, crypto });
  return { l1, client, mk };
}

describe('zk operator: a failed store write leaves memory as it was', () => {
  it('a transaction whose write fails is not soft-confirmed: the retry is accepted and batches still seal', async () => {
    const { l1, mk } = await setup('submit');
    let op = await mk();
    try {
      await op.tick(); // the two deposits (sealed as batch 0)
      const root = op.soft.root;
      failStore(op);
      let err: unknown;
      try {
        op.submit(transfer(op, 0, 1, 50n));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StrataError);
      expect((err as StrataError).code).toBe('STORAGE_FAULT');
      expect(op.soft.root).toBe(root);
      expect(op.soft.leaf(0)?.nonce).toBe(0n);
      // The user's retry (same nonce) goes through, then a second transaction; both seal.
      op.submit(transfer(op, 0, 1, 50n, 0n));
      op.submit(transfer(op, 0, 1, 5n, 1n));
      await op.tick();
      expect(op.batches.length).toBe(2);
      expect(op.batches[1]?.newRoot).toBe(op.soft.root);
      const softRoot = op.soft.root;
      await op.stop();
      op = await mk();
      expect(op.soft.root).toBe(softRoot);
    } finally {
      await op.stop();
      await l1.close();
    }
  }, 120_000);

  it('a deposit whose write fails is applied once, not twice', async () => {
    const { l1, client, mk } = await setup('deposit');
    const op = await mk();
    try {
      await op.tick();
      await deposit(client, 3, 40n);
      l1.mine();
      failStore(op);
      await expect(op.tick()).rejects.toThrow();
      await op.tick();
      expect(op.soft.leaf(2)?.balance).toBe(40n);
    } finally {
      await op.stop();
      await l1.close();
    }
  }, 120_000);

  it('a batch whose write fails is not sealed: its operations seal again and a restart resumes', async () => {
    const { l1, mk } = await setup('seal', 0);
    let op = await mk();
    try {
      await op.tick(); // batch 0: the deposits
      op.submit(transfer(op, 0, 1, 50n));
      op.submit(transfer(op, 1, 0, 10n));
      failStore(op);
      await expect(op.tick()).rejects.toThrow();
      op.submit(transfer(op, 0, 1, 1n));
      await op.tick(); // every queued operation is sealed (and stored)
      expect(op.batches.map((b) => b.ops)).toEqual([2, 2, 1]);
      const softRoot = op.soft.root;
      await op.stop();
      op = await mk();
      expect(op.soft.root).toBe(softRoot);
      expect(op.batches.map((b) => b.ops)).toEqual([2, 2, 1]);
    } finally {
      await op.stop();
      await l1.close();
    }
  }, 120_000);
});

describe('zk operator: a store kept across an L1 reset', () => {
  it('is refused (CONFIG_INVALID), not resumed with deposits the new L1 never queued', async () => {
    const { l1, mk } = await setup('reset');
    const op = await mk();
    await op.tick(); // applies the old L1's two deposits
    await op.stop();
    await l1.close();
    // A new L1 (same chain id, same rollup id), one deposit queued.
    const l1b = new ZkL1Miner();
    try {
      const client = await registerTestRollup(l1b, operatorKey, { priorityDeadline: 50 });
      await deposit(client, 3, 40n);
      l1b.mine();
      const dir = join(t.dir, 'reset');
      const again = ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 60_000, dataDir: dir }, { l1: client, crypto });
      await expect(again).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await l1b.close();
    }
  }, 120_000);
});

describe('zk operator: a batch verified just before the freeze', () => {
  it('is still taken as verified: the proven state (exit proofs from the ZK node) matches the L1 root', async () => {
    const { l1, client, mk } = await setup('freeze', 0, 3);
    const op = await mk();
    try {
      await op.tick(); // batch 0: the deposits
      const b = op.batches[0];
      op.submitProof(0, 'test', (await proveInput(art, b?.input as Record<string, unknown>)).proof);
      await op.tick(); // commit sent
      l1.mine(); // batch 0 verified on L1...
      await deposit(client, 3, 40n);
      for (let i = 0; i < 6; i++) l1.mine(); // ...then a deposit misses its deadline before the operator looks again
      const rec = readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId);
      expect(rec?.frozen).toBe(true);
      expect(rec?.batchCount).toBe(1);
      await op.tick();
      expect(op.isFrozen).toBe(true);
      expect(op.batches[0]?.status).toBe('verified');
      expect(fieldToBytes(op.provenState().root)).toEqual(rec?.root);
    } finally {
      await op.stop();
      await l1.close();
    }
  }, 120_000);
});

describe('zk RPC: malformed input gets invalid params', () => {
  it('zk_getAccount refuses a state tag it does not know (a typo would silently serve the soft state)', async () => {
    const { l1, mk } = await setup('rpc');
    const op = await mk();
    try {
      const m = zkRpcMethods(op);
      const call = (name: string, params: unknown[]) => (m[name] as { handler: (p: unknown[]) => unknown }).handler(params);
      expect(() => call('zk_getAccount', [0, 'proved'])).toThrow(expect.objectContaining({ rpcCode: -32602 }));
      expect(() => call('zk_getAccount', [0, 7])).toThrow(expect.objectContaining({ rpcCode: -32602 }));
      expect((call('zk_getAccount', [0, 'proven']) as { index: number }).index).toBe(0);
      for (const bad of [[{}], ['0x1'.repeat(40)], [-1], ['latest2']]) expect(() => call('chain_getBlockByNumber', bad)).toThrow(expect.objectContaining({ rpcCode: -32602 }));
      expect(() => call('zk_sendTransaction', [{ type: 'transfer', from: '0x0', to: '0x1', amount: '0x1', nonce: '0x0', signature: [] }])).toThrow(expect.objectContaining({ rpcCode: -32602 }));
    } finally {
      await op.stop();
      await l1.close();
    }
  }, 60_000);
});
