/**
 * Review r3: a ZK operator whose keys are not the ones the L1 verifies with (a resumed devnet
 * started with another --zk-depth/--zk-batch, or a stale key cache) is refused at start with a
 * typed error, instead of running and never getting a batch verified (exodus follows).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPair } from '@strata/primitives';
import { zkCrypto, ZkOperator, type CircuitArtifacts, type ZkCrypto } from '@strata/zk';
import { keys, registerTestRollup, TEST_ZK, testArtifacts, ZkL1Miner } from '../helpers/zk.js';

let art: CircuitArtifacts;
let crypto: ZkCrypto;
const operatorKey = keys[0] as KeyPair;
const l1s: ZkL1Miner[] = [];

beforeAll(async () => {
  art = await testArtifacts();
  crypto = await zkCrypto();
}, 300_000);
afterAll(async () => {
  for (const l of l1s) await l.close();
});

describe('ZK operator keys against the L1 record (review r3)', () => {
  it('an operator given a verification key other than the registered one is refused with CONFIG_INVALID; the right one starts', async () => {
    const l1 = new ZkL1Miner();
    l1s.push(l1);
    const client = await registerTestRollup(l1, operatorKey);
    // Another circuit's key: same shape, other points (as a depth-20 key against a depth-4 rollup).
    const other = { ...art.vk, IC: [...art.vk.IC].reverse() };
    await expect(ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: other, circuitHash: 'other', batchIntervalMs: 60_000 }, { l1: client, crypto })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const ok = await ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 60_000 }, { l1: client, crypto });
    await ok.stop();
  });
});
