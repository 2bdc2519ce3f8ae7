/**
 * Review attacks on the ZK-rollup operator (CI circuit, depth 4 / batch 2, real L1 chain on lmdb):
 * a stranger who leases every proving job and keeps it alive with heartbeats must not stall the
 * rollup into exodus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type KeyPair } from '@strata/primitives';
import { encodeVk, fieldToBytes, OP_TRANSFER, opMessage, PreparedVk, PROOF_BYTES, ZkDepositArgs, zkCrypto, ZkOperator, type NodeZkL1Client, type ZkCrypto } from '@strata/zk';
import { keys, registerTestRollup, TEST_UNIT, TEST_ZK, testArtifacts, ZkL1Miner } from '../helpers/zk.js';

let l1: ZkL1Miner;
let client: NodeZkL1Client;
let crypto: ZkCrypto;
const operatorKey = keys[0] as KeyPair;

beforeAll(async () => {
  await testArtifacts();
  crypto = await zkCrypto();
  l1 = new ZkL1Miner();
  client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 50 });
}, 300_000);

afterAll(() => l1?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('zk operator prover leases', () => {
  it('a stranger who leases a job and heartbeats forever cannot keep it from honest provers', async () => {
    const art = await testArtifacts();
    const op = await ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 0, leaseMs: 150 }, { l1: client, crypto });
    const key = crypto.deriveKey((keys[1] as KeyPair).secretKey);
    await client.send(keys[1] as KeyPair, 'deposit', encode(ZkDepositArgs, { rollupId: TEST_ZK.rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: 5n * TEST_UNIT }), 50_000);
    l1.mine();
    await op.tick();
    expect(op.batches.length).toBe(1);
    expect(op.takeJob('squatter')?.id).toBe(0);
    // The squatter keeps its lease alive well past any reasonable proving time.
    let honest: unknown;
    for (let i = 0; i < 30 && !honest; i++) {
      await sleep(50);
      expect(op.heartbeat(0, 'squatter') || op.batches[0]?.lease?.prover !== 'squatter').toBe(true);
      honest = op.takeJob('honest');
    }
    expect((honest as { id: number } | undefined)?.id).toBe(0);
    expect(op.batches[0]?.lease?.prover).toBe('honest');
    // A squatter grabbing it again under fresh names does not lock honest provers out.
    expect(op.takeJob('squatter-2')?.id).toBe(0);
    expect(op.takeJob('squatter-3')?.id).toBe(0);
    expect(op.takeJob('honest-2')?.id).toBe(0);
  }, 120_000);
});

describe('zk operator backlog', () => {
  it('a spammer of valid zero-amount self-transfers is refused once the unproven backlog is full', async () => {
    const l1b = new ZkL1Miner();
    try {
      const art = await testArtifacts();
      const c = await registerTestRollup(l1b, operatorKey, { priorityDeadline: 50 });
      const op = await ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 0, maxPendingOps: 4 }, { l1: c, crypto });
      const key = crypto.deriveKey((keys[1] as KeyPair).secretKey);
      await c.send(keys[1] as KeyPair, 'deposit', encode(ZkDepositArgs, { rollupId: TEST_ZK.rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: 5n * TEST_UNIT }), 50_000);
      l1b.mine();
      await op.tick(); // batch 0: the deposit (unproven)
      const spam = () => {
        const nonce = op.soft.leaf(0)?.nonce ?? 0n;
        const sig = crypto.sign(key, opMessage(TEST_ZK, { type: OP_TRANSFER, from: 0, to: 0, amount: 0n }, nonce));
        return op.submit({ type: OP_TRANSFER, from: 0, to: 0, amount: 0n, nonce, sig });
      };
      for (let i = 0; i < 3; i++) spam();
      expect(() => spam()).toThrow(expect.objectContaining({ code: 'MEMPOOL_FULL' }));
    } finally {
      l1b.close();
    }
  }, 120_000);
});

describe('groth16 verifier on malformed proofs', () => {
  it('a proof whose B is the point at infinity is a typed PROOF_INVALID, not an engine error', async () => {
    const art = await testArtifacts();
    const pvk = new PreparedVk(encodeVk(art.vk));
    const proof = new Uint8Array(PROOF_BYTES);
    proof[31] = 1; // A = C = the G1 generator (1, 2); B = (0, 0) = infinity
    proof[63] = 2;
    proof[223] = 1;
    proof[255] = 2;
    expect(() => pvk.verify(proof, 5n)).toThrow(expect.objectContaining({ code: 'PROOF_INVALID' }));
  });
  it('a verification key with an identity point is refused with a typed error', async () => {
    const art = await testArtifacts();
    const vk = encodeVk(art.vk);
    vk.fill(0, 192, 320); // gamma = infinity
    expect(() => new PreparedVk(vk)).toThrow(expect.objectContaining({ code: 'PROOF_INVALID' }));
  });
});
