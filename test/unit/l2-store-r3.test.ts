/**
 * Review r3 of the on-demand L2 store: indexes across truncations (L1 reorgs), crash points of
 * a rollback, and restarts after a rewind.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Chain, ChainStore } from '@strata/chain';
import { compactOp, DepositArgs, encodeOp, L2Chain, L2Store, l2RpcMethods, makeL2Env, NodeL1Client, optimisticParentModules, RollupNode, rollupModuleNames, signL2Transfer, signL2Withdrawal } from '@strata/optimistic';
import { encode } from '@strata/primitives';
import { RollupWorld } from '../helpers/optimistic.js';
import { initHashing, toHex } from '@strata/primitives';
import { bankModule, encodeTx, ModuleRegistry, verifyRawTx } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { devConfig, keys, tempDir } from '../helpers/chain.js';
import { persistRollup, recordHistory } from '../helpers/l2-persist.js';

await initHashing();

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const alice = keys[0]!;

/** Block 1: a deposit to alice; block 2: her transfer `tx` (nonce 0); block 3: `tx` again, forced by anyone on the L1 (a replay: skipped). */
function replayed(chain: L2Chain) {
  const env = chain.env;
  chain.build({ timestamp: 1_000, delayedFrom: 0, delayedOps: [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount: 10n ** 12n })], ops: [] });
  const raw = encodeTx(signL2Transfer(env, alice.secretKey, 0, new Uint8Array(20).fill(0x42), 5n));
  const vtx = verifyRawTx(raw);
  const b2 = chain.build({ timestamp: 2_000, delayedFrom: 1, delayedOps: [], ops: [encodeOp(compactOp(env, chain.reader(), vtx))], txs: [vtx] });
  expect(b2.results[0]?.status).toBe('ok');
  const b3 = chain.build({ timestamp: 3_000, delayedFrom: 1, delayedOps: [encodeOp({ kind: 'forced', queueIndex: 1, from: keys[3]!.address, raw })], ops: [] });
  expect(b3.results[0]?.status).toBe('skipped');
  expect(toHex(b3.results[0]?.txHash as Uint8Array)).toBe(toHex(vtx.hash));
  return vtx;
}

describe('L2 store indexes (review r3)', () => {
  it('dropping a block that holds a skipped replay of a transaction keeps the index of its real inclusion (memory and lmdb)', async () => {
    const t = tempDir('strata-r3-l2idx-');
    cleanups.push(t.cleanup);
    const env = makeL2Env(persistRollup());
    const mem = new L2Chain(env);
    const store = new L2Store({ path: t.dir });
    cleanups.push(() => store.close());
    const stored = new L2Chain(env, store);
    for (const chain of [mem, stored]) {
      const vtx = replayed(chain);
      expect(chain.txLocation(vtx.hash)).toEqual({ number: 2, index: 0 });
      // An L1 reorg drops block 3 (the forced replay): the transfer is still in block 2.
      chain.truncate(2);
      expect(chain.head.number).toBe(2);
      expect(chain.txLocation(vtx.hash)).toEqual({ number: 2, index: 0 });
      // Dropping block 2 itself does remove it.
      chain.truncate(1);
      expect(chain.txLocation(vtx.hash)).toBeUndefined();
    }
  });

  it('a withdrawal of a dropped block is not found afterwards, and one re-made in a new block is found there', async () => {
    const t = tempDir('strata-r3-l2wd-');
    cleanups.push(t.cleanup);
    const env = makeL2Env(persistRollup());
    const store = new L2Store({ path: t.dir });
    cleanups.push(() => store.close());
    const chain = new L2Chain(env, store);
    chain.build({ timestamp: 1_000, delayedFrom: 0, delayedOps: [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount: 10n ** 12n })], ops: [] });
    const w = verifyRawTx(encodeTx(signL2Withdrawal(env, alice.secretKey, 0, alice.address, 1_000n)));
    chain.build({ timestamp: 2_000, delayedFrom: 1, delayedOps: [], ops: [encodeOp(compactOp(env, chain.reader(), w))], txs: [w] });
    expect(chain.withdrawalBlock(0)).toBe(2);
    chain.truncate(1);
    expect(chain.withdrawalBlock(0)).toBeUndefined();
    expect(chain.txLocation(w.hash)).toBeUndefined();
    expect(chain.allWithdrawals()).toEqual([]);
    chain.build({ timestamp: 2_500, delayedFrom: 1, delayedOps: [], ops: [] });
    chain.build({ timestamp: 3_000, delayedFrom: 1, delayedOps: [], ops: [encodeOp(compactOp(env, chain.reader(), w))], txs: [w] });
    expect(chain.withdrawalBlock(0)).toBe(3);
    expect(chain.txLocation(w.hash)).toEqual({ number: 3, index: 0 });
  });
});

describe('heads() over the lazy origins (review r3)', () => {
  it('the finalized head is found in O(log n) origin reads, not one per safe block (heads() runs on every RPC head call)', async () => {
    const t = tempDir('strata-r3-heads-');
    cleanups.push(t.cleanup);
    const l1Dir = join(t.dir, 'l1');
    mkdirSync(l1Dir);
    await recordHistory(l1Dir, { blocks: 80, txsPerBlock: 1, blocksPerBatch: 2 });
    const rollup = persistRollup();
    const chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry([bankModule, ...optimisticParentModules(rollup)]), new ChainStore(openDatabase({ path: l1Dir })));
    cleanups.push(() => chain.store.close());
    const client = new NodeL1Client({ chain, submitTx: () => undefined }, rollup);
    const l2Dir = join(t.dir, 'l2');
    let store = new L2Store({ path: l2Dir });
    await new RollupNode({ rollup }, client, { store }).syncL1();
    await store.close();
    store = new L2Store({ path: l2Dir });
    cleanups.push(() => store.close());
    // A parent whose finality lags (half its height): part of the safe chain is final.
    const lagging = new Proxy(client, {
      get(target, prop) {
        if (prop === 'head') return async () => ({ ...(await target.head()), finalized: Math.floor((await target.head()).height / 2) });
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const node = new RollupNode({ rollup }, lagging, { store });
    expect(node.safeHead).toBe(80);
    // Before the first sync the parent's finalized height is unknown (-1): nothing is final.
    const before = store.originReads;
    expect(node.heads().finalized).toBe(0);
    expect(store.originReads - before).toBeLessThanOrEqual(10);
    await node.syncL1();
    // The answer is the linear scan's: the last safe block whose L1 origin is final.
    const fin = node.l1Status.finalized;
    let want = 0;
    for (let n = node.safeHead; n > 0; n--) {
      if ((node.derivation.originOf(n)?.l1Height ?? Number.POSITIVE_INFINITY) <= fin) {
        want = n;
        break;
      }
    }
    expect(want).toBeGreaterThan(0);
    expect(want).toBeLessThan(80);
    const mid = store.originReads;
    expect(node.heads().finalized).toBe(want);
    expect(store.originReads - mid).toBeLessThanOrEqual(10);
  });
});

describe('a crash inside an L1 rollback (review r3)', () => {
  it('blocks truncated but the L1 cursor not yet rolled back (kill -9 between the two transactions), and the L1 back on the old branch: the restarted node re-derives instead of skipping every block', async () => {
    const t = tempDir('strata-r3-crash-');
    cleanups.push(t.cleanup);
    const l1Dir = join(t.dir, 'l1');
    mkdirSync(l1Dir);
    const roots = await recordHistory(l1Dir, { blocks: 30, txsPerBlock: 1, blocksPerBatch: 3 });
    const rollup = persistRollup();
    const chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry([bankModule, ...optimisticParentModules(rollup)]), new ChainStore(openDatabase({ path: l1Dir })));
    cleanups.push(() => chain.store.close());
    const client = new NodeL1Client({ chain, submitTx: () => undefined }, rollup);
    const l2Dir = join(t.dir, 'l2');
    let store = new L2Store({ path: l2Dir });
    const first = new RollupNode({ rollup }, client, { store });
    await first.syncL1();
    expect(first.chain.head.number).toBe(30);
    // An L1 reorg was being handled: the L2 blocks after 20 were dropped (their own lmdb
    // transaction), then the process died before the cursor's rollback was written.
    first.chain.truncate(20);
    await store.close();
    // The reorg was itself undone: the L1 is back on the branch the cursor names.
    store = new L2Store({ path: l2Dir });
    cleanups.push(() => store.close());
    const node = new RollupNode({ rollup }, client, { store });
    await node.syncL1();
    expect(node.chain.head.number).toBe(30);
    expect(node.safeHead).toBe(30);
    expect(toHex(node.chain.head.stateRoot)).toBe(roots[30]);
  });
});

describe('a failed block commit (review r3)', () => {
  it('leaves no node of the uncommitted block readable, and the retried block commits and reopens', async () => {
    const t = tempDir('strata-r3-fault-');
    cleanups.push(t.cleanup);
    const env = makeL2Env(persistRollup());
    const store = new L2Store({ path: t.dir });
    let closed = false;
    cleanups.push(() => (closed ? undefined : store.close()));
    const chain = new L2Chain(env, store);
    const deposit = (amount: bigint) => ({ timestamp: 1_000, delayedFrom: 0, delayedOps: [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount })], ops: [] });
    // The disk fails during the block's transaction (as lmdb does on a full disk).
    const env2 = store.env as unknown as { transactionSync: (f: () => unknown) => unknown };
    const real = env2.transactionSync.bind(store.env);
    env2.transactionSync = () => {
      throw new Error('MDB_MAP_FULL: Environment mapsize limit reached');
    };
    const probe = chain.nodes.getNode.bind(chain.nodes);
    expect(() => chain.build(deposit(7n))).toThrow(/MDB_MAP_FULL/);
    env2.transactionSync = real;
    // What the failed block's root would have been (the same content built in memory).
    const failedRoot = new L2Chain(env).build(deposit(7n)).stateRoot;
    expect(chain.head.number).toBe(0);
    expect(probe(failedRoot)).toBeUndefined();
    const b = chain.build(deposit(9n));
    expect(chain.head.number).toBe(1);
    await store.close();
    closed = true;
    const again = new L2Store({ path: t.dir });
    try {
      const reopened = new L2Chain(env, again);
      expect(toHex(reopened.head.stateRoot)).toBe(toHex(b.stateRoot));
      expect(reopened.account(alice.address).balance).toBe(9n);
    } finally {
      await again.close();
    }
  });
});

describe('withdrawal listings by account (review r3, rule 11)', () => {
  it('the per-account index answers like a scan of every withdrawal (memory, lmdb, truncation, reopen)', async () => {
    const t = tempDir('strata-r3-acct-');
    cleanups.push(t.cleanup);
    const env = makeL2Env(persistRollup());
    const mem = new L2Chain(env);
    let store = new L2Store({ path: t.dir });
    let stored = new L2Chain(env, store);
    let closed = false;
    cleanups.push(() => (closed ? undefined : store.close()));
    const bob = keys[2]!;
    const carol = { address: new Uint8Array(20).fill(0xc4) };
    for (const c of [mem, stored]) c.build({ timestamp: 1_000, delayedFrom: 0, delayedOps: [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount: 10n ** 12n })], ops: [] });
    // Blocks 2..7: alice withdraws to herself, and once (block 5) to bob's L1 address.
    for (let i = 0; i < 6; i++) {
      const v = verifyRawTx(encodeTx(signL2Withdrawal(env, alice.secretKey, i, i === 3 ? bob.address : alice.address, 1_000n + BigInt(i))));
      for (const c of [mem, stored]) c.build({ timestamp: 2_000 + i, delayedFrom: 1, delayedOps: [], ops: [encodeOp(compactOp(env, c.reader(), v))], txs: [v] });
    }
    const check = (c: L2Chain) => {
      expect(c.withdrawalsOf(alice.address)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(c.withdrawalsOf(alice.address, false, 2)).toEqual([4, 5]);
      expect(c.withdrawalsOf(bob.address)).toEqual([3]);
      expect(c.withdrawalsOf(carol.address)).toEqual([]);
      expect(c.withdrawalsOf(alice.address, true)).toEqual([]);
      expect(c.recentWithdrawals(false, 3)).toEqual([3, 4, 5]);
    };
    check(mem);
    check(stored);
    // A reorg drops blocks 5..7 (withdrawals 3, 4, 5): gone from every account's list.
    for (const c of [mem, stored]) c.truncate(4);
    for (const c of [mem, stored]) {
      expect(c.withdrawalsOf(alice.address)).toEqual([0, 1, 2]);
      expect(c.withdrawalsOf(bob.address)).toEqual([]);
      expect(c.recentWithdrawals(false, 256)).toEqual([0, 1, 2]);
    }
    // A data dir written before this index (index version 1, no per-account entries) gets it on open.
    const internals = store as unknown as { acctWdIdx: { clearSync(): void }; info: { putSync(k: string, v: unknown): void }; env: { transactionSync(f: () => void): void } };
    internals.env.transactionSync(() => {
      internals.acctWdIdx.clearSync();
      internals.info.putSync('indexes', 1);
    });
    expect(stored.withdrawalsOf(alice.address)).toEqual([]);
    await store.close();
    store = new L2Store({ path: t.dir });
    stored = new L2Chain(env, store);
    expect(stored.withdrawalsOf(alice.address)).toEqual([0, 1, 2]);
    await store.close();
    closed = true;
  });

  it("rollup_listWithdrawals for one account reads no other account's withdrawal records", async () => {
    const w = new RollupWorld();
    cleanups.push(() => w.close());
    const bob = keys[2]!;
    const carol = { address: new Uint8Array(20).fill(0xc4) };
    const n = rollupModuleNames(w.rollup.rollupId);
    await w.client.send(alice, n.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
    w.mine();
    await w.sequence();
    const count = 30;
    for (let i = 0; i < count; i++) w.l2Send(encodeTx(signL2Withdrawal(w.seqNode.env, alice.secretKey, i, i === 7 ? bob.address : alice.address, 1_000n + BigInt(i))));
    await w.sequence();
    await w.batch();
    const node = w.seqNode;
    const rpc = l2RpcMethods(node);
    const call = (m: string, p: unknown[]) => (rpc[m] as { handler: (p: unknown[]) => Promise<unknown> }).handler(p);
    let reads = 0;
    const nodes = node.chain.nodes as { getNode: (h: Uint8Array, l?: number) => Uint8Array | undefined };
    const real = nodes.getNode.bind(nodes);
    nodes.getNode = (h, l) => {
      reads++;
      return real(h, l);
    };
    expect(await call('rollup_listWithdrawals', [toHex(carol.address)])).toEqual([]);
    // Before: each of the 30 withdrawals' records was read from the state tree (a walk each).
    expect(reads).toBe(0);
    const bobs = (await call('rollup_listWithdrawals', [toHex(bob.address)])) as { id: number }[];
    expect(bobs.map((x) => x.id)).toEqual([7]);
    expect(((await call('rollup_listWithdrawals', [toHex(alice.address)])) as unknown[]).length).toBe(count);
  }, 60_000);
});

describe('an L1 reorg that rewinds derivation across the LRU (review r3)', () => {
  it('a stored verifier drops 300 L2 blocks (more than the 256 it caches): same chain as an in-memory one, reverted txs and withdrawals not found, same after a reopen', async () => {
    const w = new RollupWorld();
    cleanups.push(() => w.close());
    const t = tempDir('strata-r3-deep-');
    cleanups.push(t.cleanup);
    let store = new L2Store({ path: t.dir });
    let closed = false;
    cleanups.push(() => (closed ? undefined : store.close()));
    let ver = new RollupNode({ rollup: w.rollup }, w.client, { store });
    const n = rollupModuleNames(w.rollup.rollupId);
    await w.client.send(alice, n.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
    w.mine();
    await w.sequence();
    await w.batch();
    await ver.syncL1();
    const forkHeight = w.l1.chain.head.meta.height;
    const kept = ver.chain.head.number;
    const rival = w.l1.fork();
    cleanups.push(() => rival.close());
    const env = w.seqNode.env;
    const reverted: Uint8Array[] = [];
    const blocks = L2Chain.CACHE_BLOCKS + 44;
    for (let i = 0; i < blocks; i++) {
      const raw = encodeTx(i === 100 ? signL2Withdrawal(env, alice.secretKey, i, alice.address, 5_000n) : signL2Transfer(env, alice.secretKey, i, keys[1]!.address, 1n));
      reverted.push(w.seqNode.submitTx(raw).hash);
      await w.sequence();
      if (i % 60 === 59 || i === blocks - 1) await w.batch();
    }
    await ver.syncL1();
    expect(ver.chain.head.number).toBe(kept + blocks);
    expect(ver.chain.withdrawalBlock(0)).toBeDefined();
    expect(ver.chain.txLocation(reverted[0]!)).toBeDefined();
    // A heavier rival branch from before all of it.
    for (let i = 0; i < 12; i++) rival.mine();
    expect(w.l1.adopt(rival, forkHeight + 1).reorged).toBe(true);
    await ver.syncL1();
    await w.verNode.syncL1();
    const check = (node: RollupNode) => {
      expect(node.chain.head.number).toBe(w.verNode.chain.head.number);
      expect(node.chain.head.number).toBe(kept);
      expect(toHex(node.chain.head.stateRoot)).toBe(toHex(w.verNode.chain.head.stateRoot));
      for (const h of reverted) expect(node.chain.txLocation(h)).toBeUndefined();
      expect(node.chain.withdrawalBlock(0)).toBeUndefined();
      expect(node.chain.withdrawalsOf(alice.address)).toEqual([]);
      expect(node.chain.blockOfOp(node.chain.opCount)).toBeUndefined();
      expect(node.safeHead).toBe(kept);
    };
    check(ver);
    await store.close();
    store = new L2Store({ path: t.dir });
    ver = new RollupNode({ rollup: w.rollup }, w.client, { store });
    check(ver);
    await ver.syncL1();
    check(ver);
    await store.close();
    closed = true;
  }, 120_000);
});

describe('derivation memory with a store (review r3)', () => {
  it('a stored node keeps no per-L2-block origin in memory once committed with the cursor, and answers originOf like an in-memory node', async () => {
    const t = tempDir('strata-r3-origins-');
    cleanups.push(t.cleanup);
    const l1Dir = join(t.dir, 'l1');
    mkdirSync(l1Dir);
    await recordHistory(l1Dir, { blocks: 60, txsPerBlock: 1, blocksPerBatch: 4 });
    const rollup = persistRollup();
    const chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry([bankModule, ...optimisticParentModules(rollup)]), new ChainStore(openDatabase({ path: l1Dir })));
    cleanups.push(() => chain.store.close());
    const client = new NodeL1Client({ chain, submitTx: () => undefined }, rollup);
    const store = new L2Store({ path: join(t.dir, 'l2') });
    cleanups.push(() => store.close());
    const stored = new RollupNode({ rollup }, client, { store });
    const mem = new RollupNode({ rollup }, client);
    await stored.syncL1();
    await mem.syncL1();
    expect(stored.chain.head.number).toBe(60);
    // Before: one in-memory record per L2 block derived since the start (the chain's length).
    expect((stored.derivation as unknown as { origin: Map<number, unknown> }).origin.size).toBe(0);
    for (let n = 0; n <= 61; n++) expect(stored.derivation.originOf(n)).toEqual(mem.derivation.originOf(n));
    expect(stored.heads()).toEqual(mem.heads());
  });
});
