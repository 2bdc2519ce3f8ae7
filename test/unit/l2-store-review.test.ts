import { afterEach, describe, expect, it } from 'vitest';
import { compactOp, DepositArgs, encodeOp, L2Chain, L2Store, l2ParentBlockData, makeL2Env, RollupNode, rollupModuleNames, signL2Transfer, type L1Client } from '@strata/optimistic';
import { encode } from '@strata/primitives';
import { RollupWorld } from '../helpers/optimistic.js';
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

  it('heads() never pairs a parent finalized height with derivation the parent no longer has', async () => {
    const w = new RollupWorld();
    cleanups.push(() => w.close());
    const fin = { override: false, captured: -1 };
    let node: RollupNode | undefined;
    // The parent as seen over a network: after a reorg that has since finalized, the old tip's
    // hash changed and every block is final; heads() is read (an RPC call) while the node awaits.
    const client = new Proxy(w.client, {
      get(target, prop) {
        if (prop === 'head') {
          return async () => {
            const h = await target.head();
            return fin.override ? { ...h, finalized: h.height } : { ...h, finalized: -1 };
          };
        }
        if (prop === 'block') {
          return async (height: number) => {
            const b = await target.block(height);
            if (!fin.override || !b || !node || height !== node.derivation.l1Tip?.height) return b;
            await new Promise((r) => setTimeout(r, 1));
            fin.captured = node.heads().finalized;
            return { ...b, hash: new Uint8Array(32).fill(9) };
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as L1Client;
    node = new RollupNode({ rollup: w.rollup }, client);
    await w.client.send(keys[0]!, rollupModuleNames(w.rollup.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: keys[0]!.address, amount: 1_000_000n }), 5_000);
    w.mine();
    await w.sequence();
    await w.batch();
    await node.syncL1();
    expect(node.safeHead).toBeGreaterThan(0);
    expect(node.heads().finalized).toBe(0);
    fin.override = true;
    await node.syncL1();
    // While the node had not yet checked its tip, its L2 blocks were not final for the new parent view.
    expect(fin.captured).toBe(0);
  });
});
