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
  /** Index = L2 block number. */
  origin: ({ l1Height: number; batchIndex: number } | undefined)[];
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

  constructor(opts: L2StoreOptions) {
    mkdirSync(opts.path, { recursive: true });
    this.env = openDatabase({ path: opts.path, ...(opts.mapSize ? { mapSize: opts.mapSize } : {}) });
    this.state = new StateDb(this.env);
    const db = <V, K extends string | number>(name: string, keyEncoding: 'uint32' | 'ordered-binary') =>
      this.env.openDB<V, K>({ name, keyEncoding, encoding: 'msgpack', cache: false });
    this.blocks = db('l2blocks', 'uint32');
    this.info = db('l2info', 'ordered-binary');
    this.l1 = db('l2cursor', 'uint32');
    this.delayed = db('l2delayed', 'uint32');
    this.batches = db('l2batches', 'uint32');
    this.origins = db('l2origins', 'uint32');
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

  /** Every stored L2 block after genesis, in order. */
  loadBlocks(): L2Block[] {
    const out: L2Block[] = [];
    for (const { value } of this.blocks.getRange({ start: 1 })) out.push(fromStored(value));
    return out;
  }

  /** Writes one L2 block: its tree nodes (page runs), its op roots and its record, in one transaction. */
  commitBlock(block: L2Block, runs: readonly StoredRun[]): void {
    this.env.transactionSync(() => {
      for (const r of runs) {
        if (r.nodes.length > 0) this.state.putNodes(r.nodes);
        this.state.putRoot(r.root, r.rootLoc);
      }
      this.blocks.putSync(block.number, toStored(block));
    });
  }

  /** Deletes every L2 block after `number` (one transaction). Tree nodes stay: they are content-addressed. */
  truncateBlocks(number: number): void {
    this.env.transactionSync(() => {
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
    const origin: DerivationSnapshot['origin'] = [];
    for (const { key, value } of this.origins.getRange({})) origin[key] = value;
    return { processed, delayedRecs, delayedOps, batches, origin };
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.env.close();
  }
}
