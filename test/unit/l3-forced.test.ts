/**
 * Forced inclusion on the L3. Its inbox lives on the L2, which runs no end-of-block hooks, so
 * the sequencing window is applied by a call: once the oldest operation queued on the L2 (a
 * deposit or a forced L3 transaction) has waited `sequencingWindow` L2 blocks, anyone calls
 * `op_inbox/902.includeForced` and the inbox appends an L3 block with every queued operation;
 * every L3 node's derivation mirrors the call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DepositArgs, ForceTxArgs, IncludeForcedArgs, rollupModuleNames, signL2Transfer } from '@strata/optimistic';
import { encode } from '@strata/primitives';
import { encodeTx } from '@strata/runtime';
import { L3World } from '../helpers/l3.js';
import { keys } from '../helpers/optimistic.js';

let world: L3World | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

describe('L3 forced inclusion (parent without end-of-block hooks)', () => {
  it('a censoring L3 sequencer cannot keep a deposit and a forced L3 transaction out past the window', async () => {
    world = new L3World({ l3Sequencer: { ignoreDelayed: true, heartbeatMs: 1 } });
    const x = world;
    const [alice, , carol] = [keys[0]!, keys[1]!, keys[2]!];
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [keys[0]!, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    const id = x.l3cfg.rollupId;
    // Alice bridges coins to the L3 and queues an L3 transfer on the L2 (forced, signed for the L3).
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: id, to: alice.address, amount: 10n ** 9n }), 5_000);
    const transfer = signL2Transfer(x.seq.env, alice.secretKey, 0, carol.address, 10n ** 8n);
    await x.l2client.send(alice, n3.inbox, 'forceTx', encode(ForceTxArgs, { rollupId: id, raw: encodeTx(transfer) }), 20_000);
    await x.l2Block();
    const include = async () => {
      const h = await x.l2client.send(carol, n3.inbox, 'includeForced', encode(IncludeForcedArgs, { rollupId: id }), 20_000);
      await x.l2Block();
      return x.l2client.receipt(h);
    };
    // The sequencer censors: its blocks (and batches, through the L3 roles) leave both out.
    await x.l3Seal();
    await x.l3Roles();
    expect(x.ver.chain.account(alice.address).balance).toBe(0n);
    const early = await include();
    expect(early?.status).toBe('failed');
    expect(early?.error).toMatch(/due at block/);
    for (let i = 0; i < x.l3cfg.sequencingWindow; i++) await x.l2Block();
    expect((await include())?.status).toBe('ok');
    await x.l2Block();
    await x.l2Batch(); // the L3 verifier reads the L2 as derived from L1 data
    // Every L3 node derives the forced block from the L2: the deposit, then the transfer.
    for (const node of [x.ver, x.seq]) {
      expect(node.chain.account(carol.address).balance).toBe(10n ** 8n);
      expect(node.chain.account(alice.address).balance).toBe(10n ** 9n - 10n ** 8n - transfer.fee);
    }
    x.checkL3();
    // Nothing is due any more: a second call is refused.
    expect((await include())?.status).toBe('failed');
  }, 120_000);
});
