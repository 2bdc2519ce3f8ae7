/**
 * L2Store: an L2 node's chain on disk, in lmdb through the same storage layer the L1 uses
 * (`openDatabase`, and `StateDb` for the authenticated state's tree nodes in pages with a roots
 * table). It holds the L2 blocks with their per-operation roots and results, and the derivation
 * cursor: one record per processed L1 block (its hash and the inbox counters after it, so an L1
 * reorg rolls back exactly), the delayed queue, the batch records and each L2 block's L1 origin.
 *
 * Writes: one lmdb transaction per L2 block (its tree nodes, its op roots, its record) and one
 * per processed L1 block (the cursor and what that block appended). lmdb commits are durable
 * when they return, so a `kill -9` at any moment leaves the last committed block and cursor; a
 * restart re-derives only the L1 blocks after the cursor, and blocks it already holds are
 * recognised (`L2Chain.matches`) instead of re-executed.
 */
import { mkdirSync } from 'node:fs';
import type { Database, RootDatabase } from 'lmdb';
import { StrataError, toHex } from '@strata/primitives';
import { openDatabase, StateDb, type NewNode } from '@strata/state';
import type { BatchRecord, DelayedRecord, InboxMeta } from './inbox-core.js';
import type { L2Block } from './l2-chain.js';
import type { L2OpResult } from './stf.js';

/** Where an L2 node keeps its data. */
export interface L2StoreOptions {
  /** Directory of the database (created if missing). */
  path: string;
  /** Initial lmdb map size (it grows). */
  mapSize?: number;
}

/** What the derivation needs back after a restart. */
export interface DerivationSnapshot {
  /** The most recent processed L1 blocks, oldest first (at most `keep`). */
  processed: { height: number; hash: Uint8Array; meta: InboxMeta }[];
  delayedRecs: DelayedRecord[];
  delayedOps: Uint8Array[];
  batches: BatchRecord[];
  /** Index = L2 block number (empty when `originOf` is given: the origins are read on demand). */
  origin: ({ l1Height: number; batchIndex: number } | undefined)[];
  /** Reads one stored L2 block origin (lazy restore: per-L2-block records are not loaded on open). */
  originOf?: (number: number) => { l1Height: number; batchIndex: number } | undefined;
}

/** What one processed L1 block adds to the derivation state. */
export interface L1Delta {
  height: number;
  hash: Uint8Array;
  meta: InboxMeta;
  /** New delayed entries, from index `delayedFrom`. */
  delayedFrom: number;
  delayed: { rec: DelayedRecord; op: Uint8Array }[];
  /** New batch records, from index `batchFrom`. */
  batchFrom: number;
  batches: BatchRecord[];
  /** New L2 block origins. */
  origins: { number: number; l1Height: number; batchIndex: number }[];
}

/** One stored tree-update run and the op root it produced. */
export interface StoredRun {
  nodes: NewNode[];
  root: Uint8Array;
  rootLoc: number | undefined;
}

// lmdb's msgpack returns Buffers; the public API hands out plain Uint8Arrays.
const u8 = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

type StoredBlock = Omit<L2Block, 'txs'>;

function fromStored(b: StoredBlock): L2Block {
  return {
    number: b.number,
    hash: u8(b.hash),
    parentHash: u8(b.parentHash),
    timestamp: b.timestamp,
    firstOp: b.firstOp,
    delayedFrom: b.delayedFrom,
    delayedReads: b.delayedReads,
    ops: b.ops.map(u8),
    allOps: b.allOps.map(u8),
    opRoots: b.opRoots.map(u8),
    stateRoot: u8(b.stateRoot),
    results: b.results.map((r) => {
      const out: L2OpResult = { kind: r.kind, status: r.status, events: r.events };
      if (r.txHash) out.txHash = u8(r.txHash);
      if (r.sender) out.sender = u8(r.sender);
      if (r.error !== undefined) out.error = r.error;
      return out;
    }),
  };
}

/** A withdrawal's accounts (its L2 sender and L1 recipient, lowercase hex), as its event names them. */
export interface WithdrawalParties {
  id: number;
  accounts: string[];
}

function parties(data: Record<string, unknown>): WithdrawalParties {
  const accounts = [...new Set([data.from, data.to].filter((a): a is string => typeof a === 'string').map((a) => a.toLowerCase()))];
  return { id: Number(data.id), accounts };
}

/** What one block adds to the chain's persisted indexes (transactions, withdrawals). */
export function blockIndexEntries(b: L2Block): {
  txs: [Uint8Array, number][];
  allTxHashes: Uint8Array[];
  withdrawals: number[];
  tokenWithdrawals: number[];
  withdrawalParties: WithdrawalParties[];
  tokenWithdrawalParties: WithdrawalParties[];
} {
  const txs: [Uint8Array, number][] = [];
  const allTxHashes: Uint8Array[] = [];
  const withdrawals: number[] = [];
  const tokenWithdrawals: number[] = [];
  const withdrawalParties: WithdrawalParties[] = [];
  const tokenWithdrawalParties: WithdrawalParties[] = [];
  b.results.forEach((r, index) => {
    if (r.txHash) allTxHashes.push(r.txHash);
    if (r.txHash && r.status !== 'skipped') txs.push([r.txHash, index]);
    for (const e of r.events) {
      if (e.module === 'l2bridge' && e.type === 'withdrawal') {
        withdrawals.push(Number(e.data.id));
        withdrawalParties.push(parties(e.data));
      }
      if (e.module === 'l2bridge' && e.type === 'tokenWithdrawal') {
        tokenWithdrawals.push(Number(e.data.id));
        tokenWithdrawalParties.push(parties(e.data));
      }
    }
  });
  return { txs, allTxHashes, withdrawals, tokenWithdrawals, withdrawalParties, tokenWithdrawalParties };
}

/** Version of the persisted indexes; a data dir with an older one has them rebuilt once on open (2: per-account withdrawals). */
const INDEX_VERSION = 2;

/** Key of the per-account withdrawal index: kind (0 coin, 1 token) ‖ account (20 bytes) ‖ id (u64 BE). */
function accountKey(token: boolean, account: string | Uint8Array, id: number): Buffer {
  const k = Buffer.alloc(29);
  k[0] = token ? 1 : 0;
  const a = typeof account === 'string' ? Buffer.from(account.replace(/^0x/, ''), 'hex') : Buffer.from(account);
  a.copy(k, 1, 0, 20);
  k.writeBigUInt64BE(BigInt(id), 21);
  return k;
}

function toStored(b: L2Block): StoredBlock {
  // The sequencer's transaction objects are not stored: they are only needed to re-pool the
  // transactions of blocks an L1 reorg drops, and the operations themselves are kept.
  const { txs: _txs, ...rest } = b;
  return rest;
}

/** The persistent L2 chain. */
export class L2Store {
  readonly env: RootDatabase;
  /** Tree nodes and roots (the flat table is unused: the L2 keeps every root readable instead). */
  readonly state: StateDb;
  private readonly blocks: Database<StoredBlock, number>;
  private readonly info: Database<unknown, string>;
  private readonly l1: Database<{ hash: Uint8Array; meta: InboxMeta }, number>;
  private readonly delayed: Database<{ rec: DelayedRecord; op: Uint8Array }, number>;
  private readonly batches: Database<BatchRecord, number>;
  private readonly origins: Database<{ l1Height: number; batchIndex: number }, number>;
  /** Transaction hash → [block number, op index] (non-skipped transactions). */
  private readonly txIdx: Database<[number, number], Uint8Array>;
  /** Withdrawal id → block number; token withdrawal id → block number. */
  private readonly wdIdx: Database<number, number>;
  private readonly twdIdx: Database<number, number>;
  /** First global op index → block number, for blocks holding at least one op. */
  private readonly opIdx: Database<number, number>;
  /** kind ‖ account ‖ withdrawal id → id: the withdrawals an account sent or receives (see `accountKey`). */
  private readonly acctWdIdx: Database<number, Buffer>;
  /** Block records read so far (restart must read O(1) of them; tests and metrics read it). */
  blockReads = 0;
  /** Per-L2-block origin records read so far. */
  originReads = 0;

  constructor(opts: L2StoreOptions) {
    mkdirSync(opts.path, { recursive: true });
    this.env = openDatabase({ path: opts.path, ...(opts.mapSize ? { mapSize: opts.mapSize } : {}) });
    this.state = new StateDb(this.env);
    const db = <V, K extends string | number | Uint8Array>(name: string, keyEncoding: 'uint32' | 'ordered-binary') =>
      this.env.openDB<V, K>({ name, keyEncoding, encoding: 'msgpack', cache: false });
    this.blocks = db('l2blocks', 'uint32');
    this.info = db('l2info', 'ordered-binary');
    this.l1 = db('l2cursor', 'uint32');
    this.delayed = db('l2delayed', 'uint32');
    this.batches = db('l2batches', 'uint32');
    this.origins = db('l2origins', 'uint32');
    this.txIdx = db<[number, number], Uint8Array>('l2txidx', 'ordered-binary');
    this.wdIdx = db('l2wdidx', 'ordered-binary');
    this.twdIdx = db('l2twdidx', 'ordered-binary');
    this.opIdx = db('l2opidx', 'ordered-binary');
    this.acctWdIdx = this.env.openDB<number, Buffer>({ name: 'l2acctwdidx', keyEncoding: 'binary', encoding: 'msgpack', cache: false });
  }

  /**
   * Binds the store to one rollup: the first open records its identity, later opens must match
   * (a data dir of another rollup or chain id is refused, never mixed).
   */
  checkIdentity(id: { rollupId: number; l2ChainId: number; genesis: Uint8Array }): void {
    const want = { rollupId: id.rollupId, l2ChainId: id.l2ChainId, genesis: toHex(id.genesis) };
    const have = this.info.get('identity') as typeof want | undefined;
    if (!have) {
      this.env.transactionSync(() => this.info.putSync('identity', want));
      return;
    }
    if (have.rollupId !== want.rollupId || have.l2ChainId !== want.l2ChainId || have.genesis !== want.genesis) {
      throw new StrataError('CONFIG_INVALID', `the L2 data dir holds rollup ${have.rollupId} (chain ${have.l2ChainId}), not rollup ${want.rollupId} (chain ${want.l2ChainId}); use another --data-dir`, { have, want });
    }
  }

  /** Every stored L2 block after genesis, in order (linear: for tools and migrations, not for open). */
  loadBlocks(): L2Block[] {
    const out: L2Block[] = [];
    for (const { value } of this.blocks.getRange({ start: 1 })) {
      this.blockReads++;
      out.push(fromStored(value));
    }
    return out;
  }

  /** One stored L2 block (undefined when not stored). */
  getBlock(number: number): L2Block | undefined {
    if (!Number.isInteger(number) || number < 1 || number > 0xffffffff) return undefined;
    this.blockReads++;
    const v = this.blocks.get(number);
    return v ? fromStored(v) : undefined;
  }

  /** Number of the last stored L2 block (0 when none). */
  lastBlockNumber(): number {
    for (const k of this.blocks.getKeys({ reverse: true, limit: 1 })) return k as number;
    return 0;
  }

  /** Number of the stored block whose ops start at the greatest first-op index ≤ `op` (the caller checks the range). */
  blockOfOp(op: number): number | undefined {
    for (const { value } of this.opIdx.getRange({ start: op, reverse: true, limit: 1 })) return value;
    return undefined;
  }

  /** Block number and op index of an included transaction. */
  txLocation(hash: Uint8Array): { number: number; index: number } | undefined {
    const v = this.txIdx.get(Buffer.from(hash));
    return v ? { number: v[0], index: v[1] } : undefined;
  }

  /** Block of withdrawal `id` (`token`: of token withdrawal `id`). */
  withdrawalBlock(id: number, token = false): number | undefined {
    return (token ? this.twdIdx : this.wdIdx).get(id);
  }

  /** Every withdrawal id with its block, ordered by id (`token`: the token withdrawals; `limit`: the newest that many). */
  allWithdrawals(token = false, limit?: number): [number, number][] {
    const db = token ? this.twdIdx : this.wdIdx;
    if (limit !== undefined) return [...db.getRange({ reverse: true, limit })].map(({ key, value }) => [key, value] as [number, number]).reverse();
    return [...db.getRange({})].map(({ key, value }) => [key, value] as [number, number]);
  }

  /**
   * The newest `limit` withdrawal ids (ascending) that `account` sent or receives (`token`: token
   * withdrawals): one range read of the per-account index, whatever the chain's total.
   */
  withdrawalsOf(account: Uint8Array, token: boolean, limit: number): number[] {
    const ids: number[] = [];
    for (const { value } of this.acctWdIdx.getRange({ start: accountKey(token, account, Number.MAX_SAFE_INTEGER), end: accountKey(token, account, 0), reverse: true, limit })) ids.push(value);
    // `end` is exclusive: id 0 is read on its own.
    if (ids.length < limit && this.acctWdIdx.get(accountKey(token, account, 0)) !== undefined) ids.push(0);
    return ids.reverse();
  }

  private putIndexes(block: L2Block): void {
    const e = blockIndexEntries(block);
    for (const [h, i] of e.txs) this.txIdx.putSync(Buffer.from(h), [block.number, i]);
    for (const id of e.withdrawals) this.wdIdx.putSync(id, block.number);
    for (const id of e.tokenWithdrawals) this.twdIdx.putSync(id, block.number);
    for (const [token, list] of [[false, e.withdrawalParties], [true, e.tokenWithdrawalParties]] as const) {
      for (const w of list) for (const a of w.accounts) this.acctWdIdx.putSync(accountKey(token, a, w.id), w.id);
    }
    if (block.allOps.length > 0) this.opIdx.putSync(block.firstOp, block.number);
  }

  /**
   * Builds the indexes of a data dir written before they existed (once, linear in the chain:
   * later opens find the version and read nothing).
   */
  ensureIndexes(): boolean {
    if (this.info.get('indexes') === INDEX_VERSION) return false;
    this.env.transactionSync(() => {
      for (const { value } of this.blocks.getRange({ start: 1 })) this.putIndexes(fromStored(value));
      this.info.putSync('indexes', INDEX_VERSION);
    });
    return true;
  }

  /** Writes one L2 block: its tree nodes (page runs), its op roots, its record and its index entries, in one transaction. */
  commitBlock(block: L2Block, runs: readonly StoredRun[]): void {
    this.env.transactionSync(() => {
      for (const r of runs) {
        if (r.nodes.length > 0) this.state.putNodes(r.nodes);
        this.state.putRoot(r.root, r.rootLoc);
      }
      this.blocks.putSync(block.number, toStored(block));
      this.putIndexes(block);
    });
  }

  /**
   * Deletes every L2 block after `number` and their index entries (one transaction); `dropped`
   * are those blocks when the caller already read them. Tree nodes stay: they are content-addressed.
   */
  truncateBlocks(number: number, dropped?: readonly L2Block[]): void {
    this.env.transactionSync(() => {
      const blocks = dropped ?? [...this.blocks.getRange({ start: number + 1 })].map(({ value }) => fromStored(value));
      for (const b of blocks) {
        const e = blockIndexEntries(b);
        // Only an entry pointing at the dropped block: a skipped replay of a transaction (anyone
        // can force one on the L1) carries the hash of its real inclusion in a kept block.
        for (const h of e.allTxHashes) if (this.txIdx.get(Buffer.from(h))?.[0] === b.number) this.txIdx.removeSync(Buffer.from(h));
        for (const [token, list] of [[false, e.withdrawalParties], [true, e.tokenWithdrawalParties]] as const) {
          for (const w of list) if ((token ? this.twdIdx : this.wdIdx).get(w.id) === b.number) for (const a of w.accounts) this.acctWdIdx.removeSync(accountKey(token, a, w.id));
        }
        for (const id of e.withdrawals) if (this.wdIdx.get(id) === b.number) this.wdIdx.removeSync(id);
        for (const id of e.tokenWithdrawals) if (this.twdIdx.get(id) === b.number) this.twdIdx.removeSync(id);
      }
      const first = blocks[0];
      if (first) for (const k of this.opIdx.getKeys({ start: first.firstOp })) this.opIdx.removeSync(k as number);
      for (const k of this.blocks.getKeys({ start: number + 1 })) this.blocks.removeSync(k as number);
    });
  }

  /** Records one processed L1 block and the safe head after it (one transaction). */
  commitL1(d: L1Delta, safe: number, keep: number): void {
    this.env.transactionSync(() => {
      for (const [i, x] of d.delayed.entries()) this.delayed.putSync(d.delayedFrom + i, x);
      for (const [i, b] of d.batches.entries()) this.batches.putSync(d.batchFrom + i, b);
      for (const o of d.origins) this.origins.putSync(o.number, { l1Height: o.l1Height, batchIndex: o.batchIndex });
      this.l1.putSync(d.height, { hash: d.hash, meta: d.meta });
      if (d.height - keep >= 0) this.l1.removeSync(d.height - keep);
      this.info.putSync('safe', safe);
    });
  }

  /** Forgets every L1 block after `height` and what they appended (one transaction). */
  rollbackL1(height: number, meta: InboxMeta, safe: number): void {
    this.env.transactionSync(() => {
      for (const k of this.l1.getKeys({ start: height + 1 })) this.l1.removeSync(k as number);
      for (const k of this.delayed.getKeys({ start: meta.delayedCount })) this.delayed.removeSync(k as number);
      for (const k of this.batches.getKeys({ start: meta.batchCount })) this.batches.removeSync(k as number);
      for (const k of this.origins.getKeys({ start: meta.blockCount + 1 })) this.origins.removeSync(k as number);
      this.info.putSync('safe', safe);
    });
  }

  /** The safe head recorded with the last cursor. */
  get safe(): number {
    return (this.info.get('safe') as number | undefined) ?? 0;
  }

  /** The derivation state as of the last committed L1 block. */
  loadDerivation(): DerivationSnapshot {
    const processed = [...this.l1.getRange({})].map(({ key, value }) => ({ height: key, hash: u8(value.hash), meta: value.meta }));
    const delayedRecs: DelayedRecord[] = [];
    const delayedOps: Uint8Array[] = [];
    for (const { key, value } of this.delayed.getRange({})) {
      delayedRecs[key] = { l1Height: value.rec.l1Height, opHash: u8(value.rec.opHash) };
      delayedOps[key] = u8(value.op);
    }
    const batches: BatchRecord[] = [];
    for (const { key, value } of this.batches.getRange({})) batches[key] = { ...value, opsRoot: u8(value.opsRoot) };
    // Per-L2-block origins are read on demand: their number grows with the chain.
    const originOf = (n: number) => {
      if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) return undefined;
      this.originReads++;
      return this.origins.get(n);
    };
    return { processed, delayedRecs, delayedOps, batches, origin: [], originOf };
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.env.close();
  }
}
