/**
 * Review r3: a ZK operator whose keys are not the ones the L1 verifies with (a resumed devnet
 * started with another --zk-depth/--zk-batch, or a stale key cache) is refused at start with a
 * typed error, instead of running and never getting a batch verified (exodus follows).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as snarkjs from 'snarkjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPair } from '@strata/primitives';
import { setupCircuit, terminateSnarkjs, zkCrypto, zkeyContributions, ZkOperator, type CircuitArtifacts, type SnarkVk, type ZkCrypto } from '@strata/zk';
import { tempDir } from '../helpers/chain.js';
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

describe('the ZK key cache (review r3)', () => {
  it('a zkey changed after its vk.json was exported (a contribution written over it: a new δ) gets its key exported again; --ptau never returns cached dev keys; an uncontributed key counts as dev', async () => {
    const t = tempDir('strata-r3-zkcache-');
    try {
      const dir = join(t.dir, basename(art.dir));
      cpSync(art.dir, dir, { recursive: true });
      const first = await setupCircuit(TEST_ZK, { cacheDir: t.dir });
      expect(first.vk.vk_delta_2).toEqual(art.vk.vk_delta_2);
      // What a phase-2 contribution does to the zkey: a new δ. Written over the cached zkey in
      // place (δ₂ := γ₂ here, a valid point, so the key export reads it; a real beacon or
      // contribution takes ~40 s at this size).
      const zkey = join(dir, 'circuit.zkey');
      const bytes = readFileSync(zkey);
      expect(bytes.readUInt32LE(28)).toBe(2);
      const header = 40; // 'zkey', version, count, section 1 (12 + 4), section 2's own 12 bytes
      bytes.copy(bytes, header + 532, header + 340, header + 468);
      writeFileSync(zkey, bytes);
      const want = (await snarkjs.zKey.exportVerificationKey(zkey)) as SnarkVk;
      await terminateSnarkjs();
      expect(want.vk_delta_2).toEqual(art.vk.vk_gamma_2);
      expect(want.vk_delta_2).not.toEqual(art.vk.vk_delta_2);
      const after = await setupCircuit(TEST_ZK, { cacheDir: t.dir });
      expect(after.vk.vk_delta_2).toEqual(want.vk_delta_2);
      // And the next start reads it from the cache as is.
      expect((await setupCircuit(TEST_ZK, { cacheDir: t.dir })).vk.vk_delta_2).toEqual(want.vk_delta_2);
      await expect(setupCircuit(TEST_ZK, { cacheDir: t.dir, ptau: join(t.dir, 'ceremony.ptau') })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      // A key set from a ptau (ready.json: not dev) that no one contributed to yet: δ is the
      // generator, anyone can forge its proofs — reported as dev keys.
      const ready = join(dir, 'ready.json');
      writeFileSync(ready, JSON.stringify({ ...JSON.parse(readFileSync(ready, 'utf8')), dev: false, toxic: undefined }));
      expect(zkeyContributions(join(dir, 'circuit.zkey'))).toBe(0);
      expect((await setupCircuit(TEST_ZK, { cacheDir: t.dir })).dev).toBe(true);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
