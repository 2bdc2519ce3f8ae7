/**
 * Derivation writes through the on-demand L2 store with one durable commit per parent block:
 * the L2 blocks a parent block defines and its cursor are one lmdb transaction (each block a
 * child transaction), not one commit (two fsyncs) per L2 block, the cost that made derivation
 * with the store grow slower (session 2: 3.87× an in-memory derivation at 10,000 blocks). A
 * restart after it resumes exactly where the cursor stands.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DepositArgs, L2Store, RollupNode, rollupModuleNames, signL2Transfer } from '@strata/optimistic';
import { encode, toHex } from '@strata/primitives';
import { encodeTx } from '@strata/runtime';
import { tempDir } from '../helpers/chain.js';
import { keys, RollupWorld } from '../helpers/optimistic.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Counts the outermost write transactions (durable commits) of a store. */
function countCommits(store: L2Store): { n: number } {
  const c = { n: 0 };
  let depth = 0;
  const env = store.env as unknown as { transactionSync: <T>(fn: () => T) => T };
  const orig = env.transactionSync.bind(env);
  env.transactionSync = <T>(fn: () => T): T => {
    if (depth === 0) c.n++;
    depth++;
    try {
      return orig(fn);
    } finally {
      depth--;
    }
  };
  return c;
}

describe('L2 store: one commit per parent block during derivation', () => {
  it('a verifier deriving 3 batches of 6 L2 blocks commits once per L1 block, and restarts at its cursor', async () => {
    const w = new RollupWorld();
    cleanups.push(() => w.close());
    const alice = keys[0]!;
    await w.client.send(alice, rollupModuleNames(w.rollup.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
    w.mine();
    await w.sequence();
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 6; i++) {
        w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, alice.secretKey, w.seqNode.nextNonce(alice.address), keys[2]!.address, 1n)));
        await w.sequence();
      }
      await w.batch();
    }
    const t = tempDir('strata-l2commits-');
    cleanups.push(t.cleanup);
    const store = new L2Store({ path: t.dir });
    const commits = countCommits(store);
    const node = new RollupNode({ rollup: w.rollup }, w.client, { store });
    const opened = commits.n;
    await node.syncL1();
    const l1Blocks = w.l1.chain.head.meta.height + 1;
    expect(node.chain.head.number).toBe(w.seqNode.chain.head.number);
    expect(node.chain.head.number).toBeGreaterThanOrEqual(19);
    // One per processed L1 block (genesis included), none per L2 block.
    expect(commits.n - opened).toBe(l1Blocks);
    await store.close();
    const again = new L2Store({ path: t.dir });
    cleanups.push(() => again.close());
    const back = new RollupNode({ rollup: w.rollup }, w.client, { store: again });
    expect(back.chain.head.number).toBe(node.chain.head.number);
    expect(toHex(back.chain.head.stateRoot)).toBe(toHex(w.seqNode.chain.head.stateRoot));
    expect(back.derivation.l1Tip?.height).toBe(w.l1.chain.head.meta.height);
    expect(back.safeHead).toBe(node.chain.head.number);
  }, 30_000);
});
