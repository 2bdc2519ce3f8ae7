/**
 * Review (r2-l3) attacks on the L3 settled on the L2: the inbox's clock, forced inclusion,
 * token escrow. Each test failed before its fix.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ADJUDICATOR_COMPUTE, ADJUDICATOR_MODULE, adjudicatorAddress, ChannelRefArgs, channelParentModules, OpenArgs, openingState, SignedStateArgs, SwapLockArgs, SwapRefArgs } from '@strata/channels';
import { DepositArgs, IncludeForcedArgs, l1OriginClock, l2RpcMethods, readL1Origin, readGame, readOutput, readOutputsMeta, rollupModuleNames, signL2Transfer, signL2Withdrawal, StateInboxStore } from '@strata/optimistic';
import { bytesEqual, encode, toHex } from '@strata/primitives';
import { encodeTx, signTx } from '@strata/runtime';
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

describe('channel adjudicator on the L2 (L1-origin clock)', () => {
  it("a fast L2 sequencer cannot run a channel's dispute delay or a swap's expiry down with L2 blocks", async () => {
    const w = new RollupWorld({ rollup: { l2Modules: channelParentModules({ clock: l1OriginClock }) } });
    try {
      const [alice, bob] = [keys[0]!, keys[2]!];
      const n = rollupModuleNames(w.rollup.rollupId);
      await w.client.send(alice, n.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
      w.mine();
      await w.sequence();
      await w.batch();
      await w.sequence(); // the L2 carries the L1 origin (its blocks host a clocked module)
      const node = w.seqNode;
      expect(node.hostsChildren).toBe(true);
      // Channel capacity and swap locks sit in the adjudicator's account (counted by the conservation check).
      w.l2Addresses.push(adjudicatorAddress());
      let nonce = 0;
      const call = async (method: string, args: Uint8Array) => {
        const env = node.env;
        const tx = signTx({ chainId: env.config.chainId, nonce: nonce++, fee: 10n ** 7n, computeLimit: ADJUDICATOR_COMPUTE, module: ADJUDICATOR_MODULE, method, args }, alice.secretKey);
        const { hash } = node.submitTx(encodeTx(tx));
        await w.sequence();
        const loc = node.chain.txLocation(hash);
        const r = loc ? node.chain.get(loc.number)?.results[loc.index] : undefined;
        return r?.status === 'ok' ? 'ok' : (r?.error ?? 'missing');
      };
      const channelId = new Uint8Array(32).fill(7);
      const open = { channelId, keyA: new Uint8Array(32).fill(1), keyB: new Uint8Array(32).fill(2), payB: bob.address, capacity: 1_000_000n, push: 0n, toSelfDelay: 5 };
      expect(await call('open', encode(OpenArgs, open))).toBe('ok');
      expect(await call('close', encode(SignedStateArgs, { state: openingState(channelId, 1_000_000n, 0n), sigA: undefined, sigB: undefined }))).toBe('ok');
      const swapId = new Uint8Array(32).fill(9);
      const start = readL1Origin(node.chain.reader());
      expect(await call('swapLock', encode(SwapLockArgs, { swapId, receiver: bob.address, hash: new Uint8Array(32).fill(3), expiry: start + 3, amount: 1_000n }))).toBe('ok');
      // Twenty L2 blocks, no L1 block: no time has passed for the counterparty or its watchtower.
      for (let i = 0; i < 20; i++) await w.sequence();
      expect(await call('settle', encode(ChannelRefArgs, { channelId }))).toMatch(/dispute delay runs until/);
      expect(await call('swapRefund', encode(SwapRefArgs, { swapId }))).toMatch(/swap expires at/);
      // Five L1 blocks later (the L2 follows its L1 origin), the delay is over. The L2 blocks are
      // posted meanwhile: unposted ones would give way to the inbox's own origin advance after
      // the sequencing window (their transactions sequenced again, the dispute delay restarted).
      for (let i = 0; i < 5; i++) await w.batch();
      await w.sequence();
      expect(readL1Origin(node.chain.reader())).toBeGreaterThanOrEqual(start + 5);
      expect(await call('settle', encode(ChannelRefArgs, { channelId }))).toBe('ok');
      expect(await call('swapRefund', encode(SwapRefArgs, { swapId }))).toBe('ok');
    } finally {
      w.close();
    }
  }, 60_000);
});

describe('L3 proposer on the L2 clock', () => {
  it('waits maxWaitL1Blocks of the parent clock (the L1 origin), not L2 blocks, before proposing a short output', async () => {
    world = new L3World({ proposer: { interval: 1_000, maxWaitL1Blocks: 4 }, l3Sequencer: { heartbeatMs: 1 } });
    const x = world;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [keys[0]!, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    for (let i = 0; i < 5; i++) await x.l2Batch(); // the L1 origin passes 4
    const outputs = () => readOutputsMeta(x.w.seqNode.chain.reader(), x.l3cfg.rollupId).count;
    for (let i = 0; i < 6 && outputs() === 0; i++) {
      await x.l3Seal();
      await x.l3Roles();
    }
    expect(outputs()).toBe(1);
    // Three more rounds: new L3 batches, many L2 blocks, but only 3 L1 blocks: no new output yet.
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 10; j++) await x.l2Block();
      await x.l3Seal();
      await x.l3Roles();
    }
    expect(x.w.seqNode.chain.head.number).toBeGreaterThan(readL1Origin(x.w.seqNode.chain.reader()) + 4);
    expect(outputs()).toBe(1);
  }, 60_000);
});

describe('L3 challenger censored by the L2 sequencer', () => {
  for (const force of [false, true]) {
    it(`${force ? 'gets its challenge in through the L2 inbox on the L1 (forceTx)' : 'without the fallback, never gets its challenge in'}`, async () => {
      const challengerKey = keys[2]!;
      world = new L3World({
        proposer: { maliciousEvery: 1 },
        l3Sequencer: { heartbeatMs: 1 },
        l2Sequencer: { censor: (t) => bytesEqual(t.sender, challengerKey.address) },
        ...(force ? { forceAfterL1Blocks: 1 } : {}),
      });
      const x = world;
      const n2 = rollupModuleNames(x.w.rollup.rollupId);
      for (const k of [keys[0]!, keys[1]!, challengerKey]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
      x.w.mine();
      await x.l2Block();
      // An L3 deposit: L3 operations the malicious proposer's root gets wrong.
      const n3 = rollupModuleNames(x.l3cfg.rollupId);
      await x.l2client.send(keys[0]!, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: keys[0]!.address, amount: 10n ** 9n }), 5_000);
      await x.l2Block();
      await x.l3Seal();
      await x.l3Send(signL2Transfer(x.seq.env, keys[0]!.secretKey, 0, keys[3]!.address, 1_000n));
      const l2r = () => x.w.verNode.chain.reader();
      for (let i = 0; i < 12 && !readGame(l2r(), x.l3cfg.rollupId, 0); i++) {
        await x.l3Seal();
        await x.l3Roles();
      }
      const out = readOutput(l2r(), x.l3cfg.rollupId, 0);
      expect(out).toBeDefined();
      const game = readGame(l2r(), x.l3cfg.rollupId, 0);
      if (!force) {
        // The challenger did send its challenge: the censoring sequencer holds it in its pool.
        expect(x.w.seqNode.nextNonce(challengerKey.address)).toBeGreaterThan(x.w.seqNode.chain.account(challengerKey.address).nonce);
        expect(game).toBeUndefined();
        return;
      }
      // The L2 block that carried it is one the L1 queued (a forced operation), not the sequencer's pick.
      const forced = [];
      for (let n = 1; n <= x.w.verNode.chain.head.number; n++) for (const r of x.w.verNode.chain.get(n)!.results) if (r.kind === 'forced' && r.status === 'ok') forced.push(n);
      expect(forced.length).toBeGreaterThan(0);
      expect(game?.challenger).toEqual(challengerKey.address);
    }, 120_000);
  }
});
