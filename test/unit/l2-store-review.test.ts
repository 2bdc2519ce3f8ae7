import { afterEach, describe, expect, it } from 'vitest';
import { compactOp, encodeOp, L2Chain, L2Store, l2ParentBlockData, makeL2Env, signL2Transfer } from '@strata/optimistic';
import { initHashing, toHex } from '@strata/primitives';
import { encodeTx, verifyRawTx } from '@strata/runtime';
import { keys, tempDir } from '../helpers/chain.js';
import { persistRollup } from '../helpers/l2-persist.js';

await initHashing();

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A stored L2 chain: block 1 funds keys[0] by deposit, block 2 holds its transfer (a sequenced op with its tx). */
async function storedChain(dir: string) {
  const env = makeL2Env(persistRollup());
  const store = new L2Store({ path: dir });
  const chain = new L2Chain(env, store);
  const alice = keys[0]!;
  chain.build({ timestamp: 1_000, delayedFrom: 0, delayedOps: [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount: 10n ** 12n })], ops: [] });
  const to = new Uint8Array(20).fill(0x42);
  const vtx = verifyRawTx(encodeTx(signL2Transfer(env, alice.secretKey, 0, to, 5n)));
  const b2 = chain.build({ timestamp: 2_000, delayedFrom: 1, delayedOps: [], ops: [encodeOp(compactOp(env, chain.reader(), vtx))], txs: [vtx] });
  expect(b2.results[0]?.status).toBe('ok');
  await store.close();
  return { env, vtx };
}

describe('L2 persistence (review)', () => {
  it('a restarted sequencer can still re-pool the transactions of unsafe blocks it drops', async () => {
    const t = tempDir('strata-l2review-');
    cleanups.push(t.cleanup);
    const { env, vtx } = await storedChain(t.dir);
    const store = new L2Store({ path: t.dir });
    try {
      const chain = new L2Chain(env, store);
      expect(chain.head.number).toBe(2);
      // An L1 reorg after the restart drops block 2: its transaction must come back for re-pooling.
      const dropped = chain.truncate(1, true);
      expect(dropped).toHaveLength(1);
      expect((dropped[0]?.txs ?? []).map((x) => toHex(x.hash))).toEqual([toHex(vtx.hash)]);
    } finally {
      await store.close();
    }
  });

  it('an L2 block read as a parent block carries the senders execution recorded', async () => {
    const t = tempDir('strata-l2review-');
    cleanups.push(t.cleanup);
    const { env } = await storedChain(t.dir);
    const store = new L2Store({ path: t.dir });
    try {
      const chain = new L2Chain(env, store);
      // Block 2 holds a bank transfer only: nothing for a child rollup.
      const node = { chain } as unknown as Parameters<typeof l2ParentBlockData>[0];
      expect(l2ParentBlockData(node, 2, 7)?.txs).toEqual([]);
      expect(l2ParentBlockData(node, 99, 7)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
