/**
 * Review (r2-l3) attacks on the L3 settled on the L2: the inbox's clock, forced inclusion,
 * token escrow. Each test failed before its fix.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DepositArgs, IncludeForcedArgs, l2RpcMethods, readL1Origin, rollupModuleNames, signL2Withdrawal, StateInboxStore } from '@strata/optimistic';
import { encode, toHex } from '@strata/primitives';
import { encodeTx } from '@strata/runtime';
import type { StateView } from '@strata/state';
import { L3World } from '../helpers/l3.js';
import { keys, RollupWorld } from '../helpers/optimistic.js';

let world: L3World | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

describe('L3 review', () => {
  it('a deposit queued on the L2 waits the sequencing window in the clock derivation counts (no forced inclusion the L3 nodes do not mirror)', async () => {
    world = new L3World({ l3Sequencer: { ignoreDelayed: true, heartbeatMs: 1 } });
    const x = world;
    const [alice, , carol] = [keys[0]!, keys[1]!, keys[2]!];
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [alice, carol]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    await x.l2Batch(); // the L2's L1 origin moves (an l1info op)
    // L2 blocks come fast, L1 blocks slowly: the L2 height runs far past its L1 origin.
    for (let i = 0; i < 2 * x.l3cfg.sequencingWindow; i++) await x.l2Block();
    const l2 = x.w.seqNode;
    expect(l2.chain.head.number).toBeGreaterThan(readL1Origin(l2.chain.reader()) + x.l3cfg.sequencingWindow);
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    const id = x.l3cfg.rollupId;
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: id, to: alice.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    // The L2's inbox and every L3 node's derivation date the queued deposit alike.
    const inbox = new StateInboxStore(l2.chain.reader() as unknown as StateView, id);
    expect(inbox.delayed(0)?.l1Height).toBe(x.seq.derivation.delayedHeight(0));
    // It waited one L2 block: including it by force now is refused.
    const h = await x.l2client.send(carol, n3.inbox, 'includeForced', encode(IncludeForcedArgs, { rollupId: id }), 20_000);
    await x.l2Block();
    expect((await x.l2client.receipt(h))?.status).toBe('failed');
    expect(inbox.meta().blockCount).toBe(x.seq.derivation.meta.blockCount);
  }, 120_000);
});

describe('withdrawal listings (rule 11)', () => {
  it("rollup_listWithdrawals / rollup_listTokenWithdrawals for one account read no other account's stage from the parent", async () => {
    const w = new RollupWorld();
    try {
      const [alice, bob] = [keys[0]!, keys[2]!];
      const n = rollupModuleNames(w.rollup.rollupId);
      await w.client.send(alice, n.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
      w.mine();
      await w.sequence();
      const count = 5;
      for (let i = 0; i < count; i++) w.l2Send(encodeTx(signL2Withdrawal(w.seqNode.env, alice.secretKey, i, alice.address, 1_000n + BigInt(i))));
      await w.sequence();
      await w.batch();
      await w.roles();
      const node = w.seqNode;
      let parentReads = 0;
      const l1 = node.l1 as unknown as Record<string, (...a: unknown[]) => unknown>;
      for (const m of ['withdrawalState', 'tokenWithdrawalState', 'outputsMeta', 'output']) {
        const f = l1[m]!.bind(l1);
        l1[m] = (...a: unknown[]) => {
          parentReads++;
          return f(...a);
        };
      }
      const rpc = l2RpcMethods(node);
      const call = (m: string, p: unknown[]) => (rpc[m] as { handler: (p: unknown[]) => Promise<unknown> }).handler(p);
      expect(await call('rollup_listWithdrawals', [toHex(bob.address)])).toEqual([]);
      expect(await call('rollup_listTokenWithdrawals', [toHex(bob.address)])).toEqual([]);
      expect(parentReads).toBe(0);
      const mine = (await call('rollup_listWithdrawals', [toHex(alice.address)])) as unknown[];
      expect(mine).toHaveLength(count);
    } finally {
      w.close();
    }
  }, 60_000);
});
