/**
 * The L1 origin an L2 block claims is bounded below (OP Stack's sequencing window on epochs).
 * An L2 that hosts modules on the L1-origin clock (a child's settlement modules, the channel
 * adjudicator) carries its origin in its blocks; before this rule the sequencer could hold that
 * origin back (freezing every window, game clock and expiry counted in it) and later jump it to
 * the real L1 height, so an output proposed meanwhile saw its whole challenge window pass at
 * once. Now every block's origin is within `sequencingWindow` L1 blocks of the L1 block carrying
 * its batch, origins never decrease, both the parent's inbox and derivation refuse a batch that
 * breaks it (one pure function, `blockOrigin`), and a silent sequencer's origin is advanced by the
 * inbox itself. The batcher never posts a block the rule refuses (it has them sequenced again).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendBatch,
  BatcherService,
  compressBatch,
  DepositArgs,
  defaultRollupConfig,
  Derivation,
  encodeBatchPayload,
  encodeOp,
  forceInclusion,
  L2Store,
  PostBatchArgsCodec,
  readInboxMeta,
  readL1Origin,
  readOutput,
  readOutputsMeta,
  RollupNode,
  rollupModuleNames,
  signL2Transfer,
  type L1BlockData,
} from '@strata/optimistic';
import { encode, keyPairFromSecret, toHex } from '@strata/primitives';
import { encodeTx, type Module } from '@strata/runtime';
import { devAccounts, devnetL3Config, devnetRollupConfig, safeL3Window, shortL3Windows } from '@strata/devnet';
import { L3World } from '../helpers/l3.js';
import { MemInbox } from '../helpers/inbox.js';
import { keys, RollupWorld } from '../helpers/optimistic.js';
import { tempDir } from '../helpers/chain.js';

const silent = { info() {}, warn() {}, debug() {} };
/** A module counting its host's L1 origin: the L2 hosting it carries its origin in its blocks. */
const clocked: Module = { name: 'clocked', l1Clock: true, methods: {} };
const W = 4;

const info = (height: number) => encodeOp({ kind: 'l1info', height });
/** A batch of blocks, each with the given sequenced ops. */
const batch = (firstBlock: number, blocks: Uint8Array[][], ts = 1_000) => ({
  firstBlock,
  data: compressBatch(encodeBatchPayload(blocks.map((ops, i) => ({ timestamp: ts + i, delayedReads: 0, ops })))),
});
const at = (height: number) => ({ height, timestamp: 1_000_000 + height * 1_000 });

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function world(sequencer: { holdL1Origin?: boolean } = {}): RollupWorld {
  const w = new RollupWorld({ rollup: { sequencingWindow: W, l2Modules: [clocked] }, sequencer });
  cleanups.push(() => w.close());
  return w;
}

/** Records every `postBatch` the batcher sends (to check none is refused). */
function recordPosts(w: RollupWorld): Uint8Array[] {
  const posts: Uint8Array[] = [];
  const send = w.client.send.bind(w.client);
  w.client.send = async (k, mod, method, args, limit) => {
    const h = await send(k, mod, method, args, limit);
    if (method === 'postBatch') posts.push(h);
    return h;
  };
  return posts;
}

async function refusedPosts(w: RollupWorld, posts: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for (const h of posts) {
    const r = await w.client.receipt(h);
    if (r?.status !== 'ok') out.push(r?.error ?? 'not mined');
  }
  return out;
}

async function fund(w: RollupWorld): Promise<void> {
  await w.client.send(keys[0]!, rollupModuleNames(w.rollup.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: keys[0]!.address, amount: 10n ** 10n }), 5_000);
  w.mine();
  await w.sequence();
  await w.batch();
}

describe('the L1 origin is within the sequencing window of the L1 block carrying it', () => {
  const cfg = defaultRollupConfig({ batcher: keys[1]!.address, sequencingWindow: W, l2Modules: [clocked] });

  it('the inbox refuses an origin held back beyond the window, one moving backwards, one not opening its block', () => {
    const ok = new MemInbox();
    // Carried by L1 block 10: origins 6..9 are inside the window, 5 is not.
    expect(appendBatch(new MemInbox(), at(10), batch(1, [[info(10 - W)]]), cfg, () => {}).record.blockCount).toBe(1);
    expect(() => appendBatch(new MemInbox(), at(10), batch(1, [[info(10 - W - 1)]]), cfg, () => {})).toThrow(
      expect.objectContaining({ code: 'L2_INVALID_BATCH', message: expect.stringMatching(/more than the sequencing window/), meta: expect.objectContaining({ reason: 'stale' }) }),
    );
    appendBatch(ok, at(10), batch(1, [[info(9)], []]), cfg, () => {});
    expect(ok.m.l1Origin).toBe(9);
    // A block naming no origin keeps the previous one: still fine 4 blocks later, not 5.
    const copy = Object.assign(new MemInbox(), { m: { ...ok.m }, b: [...ok.b] });
    expect(appendBatch(copy, at(9 + W), batch(3, [[]], 2_000), cfg, () => {}).record.blockCount).toBe(1);
    const before = { ...ok.m };
    expect(() => appendBatch(ok, at(9 + W + 1), batch(3, [[]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'stale' }) }));
    // Backwards, or not forward at all.
    expect(() => appendBatch(ok, at(12), batch(3, [[info(8)]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'backwards' }) }));
    expect(() => appendBatch(ok, at(12), batch(3, [[info(9)]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'backwards' }) }));
    // A jump backwards inside one batch (the first block is fine).
    expect(() => appendBatch(ok, at(12), batch(3, [[info(11)], [info(10)]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ message: expect.stringMatching(/L2 block 4 L1 origin 10 does not move forward/) }));
    // Only as the block's first sequenced operation (a transaction before it would run at the old origin).
    expect(() => appendBatch(ok, at(12), batch(3, [[info(10), info(11)]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'misplaced' }) }));
    // Ahead of the carrying block, as before.
    expect(() => appendBatch(ok, at(12), batch(3, [[info(12)]], 2_000), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'ahead' }) }));
    expect(ok.m).toEqual(before);
    // A rollup whose L2 hosts nothing on the L1-origin clock is not bound (its blocks carry no origin).
    const plain = defaultRollupConfig({ batcher: keys[1]!.address, sequencingWindow: W });
    expect(appendBatch(new MemInbox(), at(100), batch(1, [[]]), plain, () => {}).record.blockCount).toBe(1);
  });

  it('a silent sequencer: the inbox advances the origin by itself once it lags more than the window', () => {
    const s = new MemInbox();
    appendBatch(s, at(10), batch(1, [[info(9)]]), cfg, () => {});
    expect(forceInclusion(s, at(9 + W), cfg)).toBeUndefined();
    const f = forceInclusion(s, at(9 + W + 1), cfg);
    expect(f?.blocks).toHaveLength(1);
    expect(f?.blocks[0]?.ops).toEqual([info(9 + W)]);
    expect(f?.blocks[0]?.delayedReads).toBe(0);
    expect(s.m.l1Origin).toBe(9 + W);
    // The advance never lets a held-back batch in afterwards.
    expect(() => appendBatch(s, at(9 + W + 1), batch(3, [[info(10)]], 1_014_500), cfg, () => {})).toThrow(expect.objectContaining({ meta: expect.objectContaining({ reason: 'backwards' }) }));
    // Not for a rollup without an origin.
    const plain = defaultRollupConfig({ batcher: keys[1]!.address, sequencingWindow: W });
    expect(forceInclusion(new MemInbox(), at(100), plain)).toBeUndefined();
  });

  it('derivation ignores a batch breaking the rule even if its parent accepted it, and advances the origin itself', () => {
    const d = new Derivation(cfg);
    const names = rollupModuleNames(cfg.rollupId);
    const post = (first: number, blocks: Uint8Array[][], ts: number) => ({
      module: names.inbox,
      method: 'postBatch',
      args: encode(PostBatchArgsCodec, { rollupId: cfg.rollupId, ...batch(first, blocks, ts) }),
      sender: keys[1]!.address,
      ok: true,
    });
    let prev = new Uint8Array(32);
    const l1 = (height: number, txs: L1BlockData['txs']): L1BlockData => {
      const hash = new Uint8Array(32).fill(height);
      const b = { height, hash, parentHash: prev, timestamp: 1_000_000 + height * 1_000, txs };
      prev = hash;
      return b;
    };
    for (let h = 0; h < 3; h++) expect(d.apply(l1(h, []))).toEqual([]);
    expect(d.apply(l1(3, [post(1, [[info(2)]], 2_000)])).map((b) => b.ops)).toEqual([[info(2)]]);
    for (let h = 4; h <= 2 + W; h++) expect(d.apply(l1(h, []))).toEqual([]);
    // L1 block 2 + W + 1: a batch held back at origin 2 is ignored; the window advances the origin.
    const out = d.apply(l1(3 + W, [post(2, [[]], 3_000)]));
    expect(out.map((b) => b.ops)).toEqual([[info(2 + W)]]);
    expect(d.meta.l1Origin).toBe(2 + W);
    // An origin moving backwards is ignored too.
    expect(d.apply(l1(4 + W, [post(3, [[info(2 + W - 1)]], 4_000)]))).toEqual([]);
    expect(d.meta.blockCount).toBe(2);
  });

  it('an L2 sequencer holding the origin back: its stale batches never land, and the derived origin never lags or jumps more than the window', async () => {
    const w = world({ holdL1Origin: true });
    const posts = recordPosts(w);
    await fund(w);
    const names = rollupModuleNames(w.rollup.rollupId);
    let lastOrigin = 0;
    let maxJump = 0;
    for (let i = 0; i < 4 * W; i++) {
      w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, keys[0]!.secretKey, w.seqNode.nextNonce(keys[0]!.address), keys[2]!.address, 1n)));
      await w.sequence();
      await w.batch();
      const h = w.l1.chain.head.meta.height;
      const o = readL1Origin(w.verNode.chain.reader());
      expect(o).toBeGreaterThanOrEqual(h - W);
      expect(readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId).l1Origin).toBe(o);
      maxJump = Math.max(maxJump, o - lastOrigin);
      lastOrigin = o;
    }
    expect(maxJump).toBeLessThanOrEqual(W);
    // The honest batcher never posted a block the rule refuses (it had them sequenced again).
    expect(await refusedPosts(w, posts)).toEqual([]);
    // The transfers all landed in spite of the holding sequencer.
    for (let i = 0; i < 3; i++) {
      await w.sequence();
      await w.batch();
    }
    expect(w.verNode.chain.account(keys[0]!.address).nonce).toBe(4 * W);
    // The attacker's own batcher: a block held at an origin more than the window behind is refused on L1.
    // (It lands in the first L1 block where the origin lags more than the window: at the end of
    // that block the inbox would advance the origin itself.)
    const m = readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    while (w.l1.chain.head.meta.height < m.l1Origin + W) w.mine();
    expect(readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId)).toEqual(m);
    const stale = await w.client.send(keys[1]!, names.inbox, 'postBatch', encode(PostBatchArgsCodec, { rollupId: w.rollup.rollupId, ...batch(m.blockCount + 1, [[]], m.lastTimestamp + 1) }), 100_000);
    w.mine();
    expect(await w.client.receipt(stale)).toMatchObject({ status: 'failed', error: expect.stringMatching(/more than the sequencing window/) });
    const m2 = readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    const back = await w.client.send(keys[1]!, names.inbox, 'postBatch', encode(PostBatchArgsCodec, { rollupId: w.rollup.rollupId, ...batch(m2.blockCount + 1, [[info(m2.l1Origin - 1)]], m2.lastTimestamp + 1) }), 100_000);
    w.mine();
    expect(await w.client.receipt(back)).toMatchObject({ status: 'failed', error: expect.stringMatching(/does not move forward/) });
    await w.syncAll();
    // Derivation agrees: the verifier holds only the inbox's own blocks after them.
    expect(w.verNode.derivation.meta.blockCount).toBe(readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId).blockCount);
    expect(readL1Origin(w.verNode.chain.reader())).toBeGreaterThanOrEqual(w.l1.chain.head.meta.height - W);
  }, 60_000);

  it('a silent L2 sequencer cannot freeze the clocks: L1 blocks alone move the origin', async () => {
    const w = world();
    await fund(w);
    const start = readL1Origin(w.verNode.chain.reader());
    for (let i = 0; i < 3 * W; i++) {
      w.mine();
      await w.verNode.syncL1();
      expect(readL1Origin(w.verNode.chain.reader())).toBeGreaterThanOrEqual(w.l1.chain.head.meta.height - W);
    }
    expect(readL1Origin(w.verNode.chain.reader())).toBeGreaterThan(start + W);
    // The sequencer follows the inbox's blocks and goes on from them.
    await w.sequence();
    await w.batch();
    expect(w.verNode.chain.head.number).toBe(w.seqNode.chain.head.number);
  }, 30_000);

  it('the batcher never posts a batch the rule refuses: after a pause shorter or longer than the window, and after a restart', async () => {
    const w = world();
    const posts = recordPosts(w);
    await fund(w);
    const alice = keys[0]!;
    const pay = () => w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, alice.secretKey, w.seqNode.nextNonce(alice.address), keys[2]!.address, 1n)));
    // Paused just under the point where the inbox would advance the origin: the block sealed
    // before the pause is too old to post (its batch would land late); the batcher has it sealed again.
    pay();
    await w.sequence();
    const sealed = w.seqNode.chain.head.number;
    const sealedOrigin = readL1Origin(w.seqNode.chain.reader());
    const inboxOrigin = readInboxMeta(w.l1.chain.stateReader, w.rollup.rollupId).l1Origin;
    while (w.l1.chain.head.meta.height < sealedOrigin + W - 1) w.mine();
    expect(w.l1.chain.head.meta.height).toBeLessThanOrEqual(inboxOrigin + W);
    await w.seqNode.syncL1();
    expect(await w.batcher.tick()).toBeUndefined();
    // Sealed again at once, with a fresh origin.
    expect(w.seqNode.chain.head.number).toBe(sealed);
    expect(readL1Origin(w.seqNode.chain.reader())).toBeGreaterThan(sealedOrigin);
    expect(w.seqNode.poolSize).toBe(0);
    await w.sequence();
    await w.batch();
    expect(w.verNode.chain.account(alice.address).nonce).toBe(1);
    // A pause longer than the window: the inbox advanced the origin meanwhile; the sequencer's
    // unsafe block gives way to it and its transaction is included after.
    pay();
    await w.sequence();
    for (let i = 0; i < 3 * W; i++) w.mine();
    await w.sequence();
    await w.batch();
    await w.batch();
    expect(w.verNode.chain.account(alice.address).nonce).toBe(2);
    // A restart after a pause: a persisted sequencer holding an unposted block.
    const t = tempDir('strata-origin-');
    cleanups.push(t.cleanup);
    const open = () => {
      const store = new L2Store({ path: t.dir });
      const node = new RollupNode({ rollup: w.rollup, sequencer: {} }, w.client, { store });
      return { store, node, batcher: new BatcherService(node, { key: keys[1]! }, silent) };
    };
    let s = open();
    await s.node.syncL1();
    s.node.submitTx(encodeTx(signL2Transfer(s.node.env, alice.secretKey, s.node.nextNonce(alice.address), keys[2]!.address, 1n)));
    s.node.sequence(w.now + 1_000);
    await s.store.close();
    for (let i = 0; i < W; i++) w.mine();
    s = open();
    cleanups.push(() => s.store.close());
    await s.node.syncL1();
    for (let i = 0; i < 3; i++) {
      await s.batcher.tick();
      s.node.sequence(w.now + 2_000 + i);
      await s.batcher.tick();
      w.mine();
      await s.node.syncL1();
      await w.verNode.syncL1();
    }
    expect(w.verNode.chain.account(alice.address).nonce).toBe(3);
    expect(await refusedPosts(w, posts)).toEqual([]);
  }, 60_000);

  it('re-sequencing after a pause keeps every soft-confirmed transaction, even one spending what an earlier dropped block paid it', async () => {
    const w = world();
    await fund(w);
    const alice = keys[0]!;
    // Bob sorts before Alice (the pool's order is by sender): sealed again in one block by that
    // order, Bob's payment would run before the one funding it and be skipped, then dropped.
    let bob = keyPairFromSecret(new Uint8Array(32).fill(7));
    for (let i = 8; toHex(bob.address) >= toHex(alice.address); i++) bob = keyPairFromSecret(new Uint8Array(32).fill(i));
    w.l2Addresses.push(bob.address); // counted in the conservation checks
    const carol = keys[2]!;
    const carolBefore = w.seqNode.chain.account(carol.address).balance;
    w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, alice.secretKey, w.seqNode.nextNonce(alice.address), bob.address, 1_000_000n)));
    await w.sequence();
    w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, bob.secretKey, 0, carol.address, 1_000n)));
    await w.sequence();
    // Soft-confirmed: the sequencer's chain holds both.
    expect(w.seqNode.chain.account(bob.address).nonce).toBe(1);
    const sealedOrigin = readL1Origin(w.seqNode.chain.reader());
    while (w.l1.chain.head.meta.height < sealedOrigin + W - 1) w.mine();
    await w.seqNode.syncL1();
    expect(await w.batcher.tick()).toBeUndefined(); // stale: both blocks dropped and sealed again
    expect(readL1Origin(w.seqNode.chain.reader())).toBeGreaterThan(sealedOrigin);
    for (let i = 0; i < 3; i++) {
      await w.sequence();
      await w.batch();
    }
    expect(w.verNode.chain.account(bob.address).nonce).toBe(1);
    expect(w.verNode.chain.account(carol.address).balance - carolBefore).toBe(1_000n);
  }, 30_000);

  it('a persisted sequencer killed right after a re-sequencing keeps the soft-confirmed transactions (dropped blocks are sealed again in the same commit)', async () => {
    const w = world();
    await fund(w);
    const alice = keys[0]!;
    const t = tempDir('strata-reseq-');
    cleanups.push(t.cleanup);
    const open = () => {
      const store = new L2Store({ path: t.dir });
      const node = new RollupNode({ rollup: w.rollup, sequencer: {} }, w.client, { store });
      return { store, node, batcher: new BatcherService(node, { key: keys[1]! }, silent) };
    };
    let s = open();
    await s.node.syncL1();
    s.node.submitTx(encodeTx(signL2Transfer(s.node.env, alice.secretKey, s.node.nextNonce(alice.address), keys[2]!.address, 1n)));
    const sealed = s.node.sequence(w.now + 1_000)!;
    const txHash = sealed.txs![0]!.hash;
    const sealedOrigin = readL1Origin(s.node.chain.reader());
    while (w.l1.chain.head.meta.height < sealedOrigin + W - 1) w.mine();
    await s.node.syncL1();
    expect(await s.batcher.tick()).toBeUndefined(); // stale: re-sequenced
    // Killed here (nothing more is written): what is on disk is all a restart has.
    await s.store.close();
    s = open();
    cleanups.push(() => s.store.close());
    await s.node.syncL1();
    expect(s.node.chain.txLocation(txHash)).toBeDefined();
    for (let i = 0; i < 2; i++) {
      await s.batcher.tick();
      w.mine();
      await s.node.syncL1();
      await w.verNode.syncL1();
    }
    expect(w.verNode.chain.account(alice.address).nonce).toBe(1);
  }, 30_000);

  it('a persisted sequencer whose unsafe block gives way to a forced origin advance keeps its transaction across a kill -9 right after', async () => {
    const w = world();
    await fund(w);
    const alice = keys[0]!;
    const t = tempDir('strata-reorg-requeue-');
    cleanups.push(t.cleanup);
    const open = () => {
      const store = new L2Store({ path: t.dir });
      const node = new RollupNode({ rollup: w.rollup, sequencer: {} }, w.client, { store });
      return { store, node, batcher: new BatcherService(node, { key: keys[1]! }, silent) };
    };
    let s = open();
    await s.node.syncL1();
    s.node.submitTx(encodeTx(signL2Transfer(s.node.env, alice.secretKey, s.node.nextNonce(alice.address), keys[2]!.address, 1n)));
    const sealed = s.node.sequence(w.now + 1_000)!;
    const txHash = sealed.txs![0]!.hash;
    // Never posted: the inbox advances the origin by itself and appends a block at that number.
    for (let i = 0; i < 3 * W; i++) w.mine();
    await s.node.syncL1(); // the derived forced block replaces the unsafe one
    expect(s.node.chain.get(sealed.number)?.txs?.length ?? 0).toBe(0);
    // Killed here: what is on disk is all a restart has.
    await s.store.close();
    s = open();
    cleanups.push(() => s.store.close());
    await s.node.syncL1();
    expect(s.node.chain.txLocation(txHash) !== undefined || s.node.pooledTx(txHash) !== undefined).toBe(true);
  }, 30_000);

  it("the issue's attack: an L3 output proposed while the L2 sequencer held the origin back still gets its challenge window in L1 blocks (minus at most the sequencing window)", async () => {
    const x = new L3World({ l2Sequencer: { holdL1Origin: true } });
    cleanups.push(() => x.close());
    const alice = keys[0]!;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [alice, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    await x.l3Seal();
    const cw = x.l3cfg.challengeWindow;
    const lag = x.w.rollup.sequencingWindow;
    // L1 time passes (a challenge window and more) while the L2 sequencer holds its origin back.
    for (let i = 0; i < cw + 2; i++) await x.l2Batch();
    // The L3 proposer's output lands on the L2, stamped in the L2's (held) L1-origin clock.
    const l2v = () => x.w.verNode.chain.reader();
    for (let i = 0; i < 20 && readOutputsMeta(l2v(), x.l3cfg.rollupId).count === 0; i++) await x.l3Roles();
    expect(readOutputsMeta(l2v(), x.l3cfg.rollupId).count).toBeGreaterThan(0);
    const proposedAt = x.w.l1.chain.head.meta.height; // the L2 block carrying it is on the L1 by now
    const stamp = readOutput(l2v(), x.l3cfg.rollupId, 0)!.l1Height;
    expect(stamp).toBeGreaterThanOrEqual(proposedAt - lag - 1);
    // The sequencer lets go: the origin may catch up, but by no more than it lagged.
    x.w.seqNode.opts.sequencer!.holdL1Origin = false;
    let over = -1;
    for (let i = 0; i < 3 * cw && over < 0; i++) {
      await x.l2Block();
      await x.l2Batch();
      if (readL1Origin(l2v()) >= stamp + cw) over = x.w.l1.chain.head.meta.height;
    }
    expect(over).toBeGreaterThan(0);
    // A challenger watching the L1 had at least the window minus the sequencing window.
    expect(over - proposedAt).toBeGreaterThanOrEqual(cw - lag);
  }, 60_000);

  it("the devnet L3's windows leave a party the L2 sequencer censors its time (2 × the L2's sequencing window + the force delay + 1)", () => {
    const accounts = devAccounts('st', 10);
    const l2 = devnetRollupConfig(accounts);
    expect(safeL3Window(l2)).toBe(25);
    expect(shortL3Windows(devnetL3Config(accounts), l2)).toEqual([]);
    // A short window is named (the devnet logs a warning for it).
    expect(shortL3Windows(devnetL3Config(accounts, { challengeWindow: 4 }), l2)).toEqual(['challengeWindow']);
  });
});
