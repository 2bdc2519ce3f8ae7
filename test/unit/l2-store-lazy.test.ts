/**
 * A stored L2 chain opens in O(1) block reads (issue 13 item 1: "a restart resumes ... in
 * seconds, whatever the chain's length"), and the on-demand chain answers every query exactly as
 * the in-memory chain built from the same content does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { compactOp, encodeOp, L2Chain, L2Store, makeL2Env, signL2Transfer, signL2Withdrawal, type L2Block } from '@strata/optimistic';
import { initHashing, toHex } from '@strata/primitives';
import { encodeTx, verifyRawTx } from '@strata/runtime';
import { keys, tempDir } from '../helpers/chain.js';
import { persistRollup } from '../helpers/l2-persist.js';

await initHashing();

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

type Db = { get(k: unknown): unknown; getRange(o?: unknown): Iterable<unknown> };

/** Counts the records read from one of the store's lmdb tables (get and every range item). */
function countReads(store: L2Store, table: 'blocks' | 'origins'): { n: number } {
  const db = (store as unknown as Record<string, Db>)[table] as Db;
  const c = { n: 0 };
  const get = db.get.bind(db);
  const getRange = db.getRange.bind(db);
  db.get = (k) => {
    c.n++;
    return get(k);
  };
  db.getRange = (o) => {
    const it = getRange(o);
    return {
      *[Symbol.iterator]() {
        for (const x of it) {
          c.n++;
          yield x;
        }
      },
    } as Iterable<unknown>;
  };
  return c;
}

/** Builds `n` blocks on `chains` alike: a deposit, then transfers and a withdrawal every 5th block. */
function grow(chains: L2Chain[], n: number): void {
  const env = chains[0]!.env;
  const alice = keys[0]!;
  const to = new Uint8Array(20).fill(0x42);
  let nonce = 0;
  for (let i = 0; i < n; i++) {
    const head = chains[0]!.head;
    const delayedOps = i === 0 ? [encodeOp({ kind: 'deposit', depositId: 0, from: alice.address, to: alice.address, amount: 10n ** 15n })] : [];
    const txs = i === 0 || i % 7 === 3 ? [] : [verifyRawTx(encodeTx(i % 5 === 0 ? signL2Withdrawal(env, alice.secretKey, nonce, alice.address, 1000n) : signL2Transfer(env, alice.secretKey, nonce, to, 5n)))];
    nonce += txs.length;
    const ops = txs.map((v) => encodeOp(compactOp(env, chains[0]!.reader(), v)));
    for (const c of chains) c.build({ timestamp: head.timestamp + 1, delayedFrom: i === 0 ? 0 : 1, delayedOps, ops, txs });
  }
}

async function storedChain(dir: string, blocks: number, memory?: L2Chain): Promise<void> {
  const store = new L2Store({ path: dir });
  const chain = new L2Chain(makeL2Env(persistRollup()), store);
  grow(memory ? [chain, memory] : [chain], blocks);
  await store.close();
}

describe('L2 store read on demand', () => {
  it('opening a stored chain reads O(1) block and origin records, whatever its length', async () => {
    const reads: number[] = [];
    for (const blocks of [20, 120]) {
      const t = tempDir('strata-l2lazy-');
      cleanups.push(t.cleanup);
      await storedChain(t.dir, blocks);
      const store = new L2Store({ path: t.dir });
      try {
        const b = countReads(store, 'blocks');
        const o = countReads(store, 'origins');
        const chain = new L2Chain(makeL2Env(persistRollup()), store);
        expect(chain.head.number).toBe(blocks);
        store.loadDerivation();
        // The code before read every block (20, then 120); the last key, the head and its parent suffice.
        expect(b.n).toBeLessThanOrEqual(3);
        expect(o.n).toBe(0);
        reads.push(b.n);
      } finally {
        await store.close();
      }
    }
    expect(reads[1]).toBe(reads[0]);
  });

  it('the on-demand chain answers like the in-memory chain: blocks, ops, roots, txs, withdrawals, truncation', async () => {
    const t = tempDir('strata-l2lazy-');
    cleanups.push(t.cleanup);
    const env = makeL2Env(persistRollup());
    const memory = new L2Chain(env);
    const N = 40;
    await storedChain(t.dir, N, memory);
    const same = (a: L2Block | undefined, b: L2Block | undefined) => expect(a && toHex(a.hash)).toBe(b && toHex(b.hash));
    const check = (chain: L2Chain) => {
      expect(chain.head.number).toBe(memory.head.number);
      expect(chain.opCount).toBe(memory.opCount);
      expect(chain.delayedRead).toBe(memory.delayedRead);
      for (const n of [-1, 0, 1, 2, 17, memory.head.number, memory.head.number + 1, 1.5]) same(chain.get(n), memory.get(n));
      for (let i = -1; i <= memory.opCount + 1; i++) {
        same(chain.blockOfOp(i), memory.blockOfOp(i));
        expect(chain.rootAfterOps(i) && toHex(chain.rootAfterOps(i) as Uint8Array)).toBe(memory.rootAfterOps(i) && toHex(memory.rootAfterOps(i) as Uint8Array));
      }
      for (let n = 1; n <= memory.head.number; n++) {
        const b = memory.get(n) as L2Block;
        for (const r of b.results) if (r.txHash) expect(chain.txLocation(r.txHash)).toEqual(memory.txLocation(r.txHash));
      }
      expect(chain.allWithdrawals()).toEqual(memory.allWithdrawals());
      expect(chain.allWithdrawals().length).toBeGreaterThan(3);
      for (const [id] of memory.allWithdrawals()) expect(chain.withdrawalBlock(id)).toBe(memory.withdrawalBlock(id));
      const w = chain.stepWitness(5);
      expect(w && toHex(w.postRoot)).toBe(toHex(memory.rootAfterOps(6) as Uint8Array));
    };
    const store = new L2Store({ path: t.dir });
    try {
      const chain = new L2Chain(env, store);
      check(chain);
      // A reorg drops the last 9 blocks on both; the dropped transactions come back for re-pooling.
      const dropped = chain.truncate(N - 9, true);
      const droppedMem = memory.truncate(N - 9, true);
      expect(dropped.map((b) => toHex(b.hash))).toEqual(droppedMem.map((b) => toHex(b.hash)));
      expect(dropped.flatMap((b) => (b.txs ?? []).map((x) => toHex(x.hash)))).toEqual(droppedMem.flatMap((b) => (b.txs ?? []).map((x) => toHex(x.hash))));
      check(chain);
      // Both grow again (other content), and a reopened store agrees.
      const head = memory.head;
      for (const c of [chain, memory]) c.build({ timestamp: head.timestamp + 1, delayedFrom: 1, delayedOps: [], ops: [] });
      check(chain);
    } finally {
      await store.close();
    }
    const store2 = new L2Store({ path: t.dir });
    try {
      check(new L2Chain(env, store2));
    } finally {
      await store2.close();
    }
  });
});
