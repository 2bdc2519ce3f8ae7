/**
 * Derivation: the L2 chain as a pure function of L1 data. `Derivation` replays the L1's inbox
 * rule (the same `inbox-core` code the L1 module runs) over L1 blocks, in order, and yields the
 * L2 blocks they define. It keeps a snapshot per L1 block so an L1 reorg rolls it back exactly.
 * Nothing read from L1 can make it throw: a transaction it cannot interpret is skipped with a
 * log line (the L1 receipt already says whether the inbox accepted it).
 */
import { bytesEqual, decode, isEngineExhaustion, isLocalFault, StrataError, toHex, toStrataError } from '@strata/primitives';
import type { RollupConfig } from './config.js';
import {
  appendBatch,
  appendDelayed,
  EMPTY_INBOX,
  forceInclusion,
  type AppendedBatch,
  type BatchRecord,
  type DelayedRecord,
  type InboxMeta,
  type InboxStore,
} from './inbox-core.js';
import type { DerivationSnapshot, L1Delta } from './l2-store.js';
import { encodeOp } from './ops.js';
import { DepositArgs, DepositTokenArgs, tokenDepositOp, ForceTxArgs, IncludeForcedArgs, PostBatchArgsCodec, rollupModuleNames, type RollupModuleNames } from './parent-modules.js';

/** One rollup-relevant transaction of an L1 block. */
export interface L1TxData {
  module: string;
  method: string;
  args: Uint8Array;
  sender: Uint8Array;
  /** The L1 receipt status: only `ok` transactions changed L1 state. */
  ok: boolean;
}

/** What derivation needs of an L1 block. */
export interface L1BlockData {
  height: number;
  hash: Uint8Array;
  parentHash: Uint8Array;
  timestamp: number;
  txs: L1TxData[];
}

/** A derived L2 block's content, with where it came from. */
export interface DerivedBlock {
  number: number;
  timestamp: number;
  firstOp: number;
  delayedFrom: number;
  delayedOps: Uint8Array[];
  ops: Uint8Array[];
  l1Height: number;
  batchIndex: number;
}

/** Minimal logger (pino-compatible). */
export interface RollupLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: RollupLogger = { info() {}, warn() {}, debug() {} };

class MirrorStore implements InboxStore {
  m: InboxMeta = { ...EMPTY_INBOX };
  readonly delayedRecs: DelayedRecord[] = [];
  readonly delayedOps: Uint8Array[] = [];
  readonly batches: BatchRecord[] = [];
  meta(): InboxMeta {
    return this.m;
  }
  setMeta(m: InboxMeta): void {
    this.m = m;
  }
  delayed(i: number): DelayedRecord | undefined {
    return this.delayedRecs[i];
  }
  setDelayed(i: number, r: DelayedRecord): void {
    this.delayedRecs[i] = r;
  }
  batch(b: number): BatchRecord | undefined {
    return this.batches[b];
  }
  setBatch(b: number, r: BatchRecord): void {
    this.batches[b] = r;
  }
}

/** Replays the inbox rule over L1 blocks. */
export class Derivation {
  private readonly store = new MirrorStore();
  /** Processed L1 blocks: height, hash and the inbox counters after it. */
  private readonly processed: { height: number; hash: Uint8Array; meta: InboxMeta }[] = [];
  /** Per derived L2 block: the L1 block and batch that carried it. */
  private readonly origin = new Map<number, { l1Height: number; batchIndex: number }>();
  /** After a lazy restore: reads the origin of a restored block (≤ `lazyBlocks`) from the store. */
  private lazyOrigin: DerivationSnapshot['originOf'];
  private lazyBlocks = 0;
  private readonly names: RollupModuleNames;

  constructor(
    readonly cfg: RollupConfig,
    private readonly log: RollupLogger = silentLogger,
  ) {
    this.names = rollupModuleNames(cfg.rollupId);
  }

  /** Inbox counters as of the last processed L1 block. */
  get meta(): InboxMeta {
    return this.store.meta();
  }

  /** The last processed L1 block. */
  get l1Tip(): { height: number; hash: Uint8Array } | undefined {
    return this.processed[this.processed.length - 1];
  }

  /** Hash of a processed L1 block. */
  l1HashAt(height: number): Uint8Array | undefined {
    const first = this.processed[0];
    if (!first) return undefined;
    return this.processed[height - first.height]?.hash;
  }

  batch(b: number): BatchRecord | undefined {
    return this.store.batch(b);
  }

  /** Queued delayed operations (encoded) from `from` up to the current count. */
  delayedOps(from: number, count?: number): Uint8Array[] {
    return this.store.delayedOps.slice(from, count === undefined ? this.store.m.delayedCount : from + count);
  }

  /** L1 height at which delayed operation `i` was queued. */
  delayedHeight(i: number): number | undefined {
    return this.store.delayedRecs[i]?.l1Height;
  }

  /** Which L1 block and batch carried L2 block `number`. */
  originOf(number: number): { l1Height: number; batchIndex: number } | undefined {
    return this.origin.get(number) ?? (this.lazyOrigin && number <= this.lazyBlocks ? this.lazyOrigin(number) : undefined);
  }

  /** The batch holding global operation `op`. */
  batchOfOp(op: number): number | undefined {
    let lo = 0;
    let hi = this.store.m.batchCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.store.batches[mid] as BatchRecord;
      if (op < b.firstOp) hi = mid - 1;
      else if (op >= b.firstOp + b.opCount) lo = mid + 1;
      else return mid;
    }
    return undefined;
  }

  /**
   * Processes the next L1 block. Throws NOT_FOUND-free: the caller checks `parentHash` against
   * `l1Tip` first (see `needsRollback`). Returns the L2 blocks it defines.
   */
  apply(block: L1BlockData): DerivedBlock[] {
    const out: DerivedBlock[] = [];
    const at = { height: block.height, timestamp: block.timestamp };
    const emit = (b: AppendedBatch) => {
      for (const blk of b.blocks) {
        out.push({
          number: blk.number,
          timestamp: blk.timestamp,
          firstOp: blk.firstOp,
          delayedFrom: blk.delayedFrom,
          delayedOps: this.store.delayedOps.slice(blk.delayedFrom, blk.delayedFrom + blk.delayedReads),
          ops: blk.ops,
          l1Height: block.height,
          batchIndex: b.index,
        });
        this.origin.set(blk.number, { l1Height: block.height, batchIndex: b.index });
      }
    };
    for (const tx of block.txs) {
      if (!tx.ok) continue;
      try {
        if (tx.module === this.names.bridge && tx.method === 'deposit') {
          const a = decode(DepositArgs, tx.args);
          if (a.rollupId !== this.cfg.rollupId) continue;
          const id = this.store.m.delayedCount;
          const op = encodeOp({ kind: 'deposit', depositId: id, from: tx.sender, to: a.to, amount: a.amount });
          appendDelayed(this.store, at, op);
          this.store.delayedOps[id] = op;
        } else if (tx.module === this.names.bridge && tx.method === 'depositToken') {
          const a = decode(DepositTokenArgs, tx.args);
          if (a.rollupId !== this.cfg.rollupId) continue;
          const id = this.store.m.delayedCount;
          const op = encodeOp(tokenDepositOp(id, tx.sender, a));
          appendDelayed(this.store, at, op);
          this.store.delayedOps[id] = op;
        } else if (tx.module === this.names.inbox && tx.method === 'forceTx') {
          const a = decode(ForceTxArgs, tx.args);
          if (a.rollupId !== this.cfg.rollupId) continue;
          const id = this.store.m.delayedCount;
          const op = encodeOp({ kind: 'forced', queueIndex: id, from: tx.sender, raw: a.raw });
          appendDelayed(this.store, at, op);
          this.store.delayedOps[id] = op;
        } else if (tx.module === this.names.inbox && tx.method === 'postBatch') {
          const a = decode(PostBatchArgsCodec, tx.args);
          if (a.rollupId !== this.cfg.rollupId || !bytesEqual(tx.sender, this.cfg.batcher)) continue;
          emit(appendBatch(this.store, at, { firstBlock: a.firstBlock, data: a.data }, this.cfg, () => {}));
        } else if (tx.module === this.names.inbox && tx.method === 'includeForced') {
          if (decode(IncludeForcedArgs, tx.args).rollupId !== this.cfg.rollupId) continue;
          const forced = forceInclusion(this.store, at, this.cfg);
          if (forced) {
            this.log.info({ l1Height: block.height, l2Block: forced.record.firstBlock, ops: forced.record.opCount }, 'forced inclusion called: inbox included queued operations');
            emit(forced);
          }
        }
      } catch (e) {
        const err = toStrataError(e);
        this.log.warn({ l1Height: block.height, module: tx.module, method: tx.method, code: err.code, error: err.message }, 'skipping L1 transaction derivation cannot use');
      }
    }
    // A parent without end-of-block hooks applies the window only when called (above).
    const forced = this.cfg.forcedInclusion === 'call' ? undefined : this.endBlockRule(at, block.height);
    if (forced) {
      this.log.info({ l1Height: block.height, l2Block: forced.record.firstBlock, ops: forced.record.opCount }, 'sequencing window expired: inbox force-included queued operations');
      emit(forced);
    }
    this.processed.push({ height: block.height, hash: block.hash, meta: { ...this.store.m } });
    if (this.processed.length > 10_000) this.processed.splice(0, this.processed.length - 10_000);
    return out;
  }

  /**
   * The inbox's end-of-block rule, as the L1 runs it: in a hook whose throw is rolled back (a
   * `hook_failed` event, the L1 block goes on). So a throw here changes nothing and is skipped
   * with a warning; escaping `apply` would stall derivation on this L1 block for ever.
   */
  private endBlockRule(at: { height: number; timestamp: number }, height: number): AppendedBatch | undefined {
    const m = this.store.m;
    const batches = this.store.batches.length;
    try {
      return forceInclusion(this.store, at, this.cfg);
    } catch (e) {
      if (isLocalFault(e) || isEngineExhaustion(e)) throw e; // the L1 aborts that block's import too
      this.store.m = m;
      this.store.batches.length = batches;
      const err = toStrataError(e);
      this.log.warn({ l1Height: height, code: err.code, error: err.message }, 'inbox end-of-block rule failed: skipped, as the L1 rolls its hook back');
      return undefined;
    }
  }

  /** Whether `block` does not extend the last processed L1 block (an L1 reorg happened). */
  needsRollback(block: L1BlockData): boolean {
    const tip = this.l1Tip;
    return !!tip && (block.height !== tip.height + 1 || !bytesEqual(block.parentHash, tip.hash));
  }

  /**
   * Height of the newest processed L1 block after which at most `blocks` L2 blocks were derived
   * (-1 when no kept record qualifies: derivation restarts from the parent's genesis).
   */
  lastL1WithBlocksAtMost(blocks: number): number {
    for (let i = this.processed.length - 1; i >= 0; i--) {
      const p = this.processed[i] as { height: number; meta: InboxMeta };
      if (p.meta.blockCount <= blocks) return p.height;
    }
    return -1;
  }

  /**
   * With a store's lazy reader: the origins of blocks through `blocks` are durable there
   * (committed with the L1 cursor), so memory stops holding them and they are read on demand,
   * like those restored on open (memory no longer grows with the chain). Without a store it does
   * nothing: an in-memory node keeps every origin.
   */
  originsPersisted(blocks: number): void {
    if (!this.lazyOrigin) return;
    for (const k of this.origin.keys()) if (k <= blocks) this.origin.delete(k);
    this.lazyBlocks = Math.max(this.lazyBlocks, blocks);
  }

  /** Rolls back to just after L1 block `height` (every later L1 block is forgotten). */
  rollbackTo(height: number): InboxMeta {
    while (this.processed.length > 0 && (this.l1Tip as { height: number }).height > height) this.processed.pop();
    const meta = this.processed[this.processed.length - 1]?.meta ?? { ...EMPTY_INBOX };
    this.store.m = { ...meta };
    this.store.batches.length = meta.batchCount;
    this.store.delayedRecs.length = meta.delayedCount;
    this.store.delayedOps.length = meta.delayedCount;
    for (const k of this.origin.keys()) if (k > meta.blockCount) this.origin.delete(k);
    this.lazyBlocks = Math.min(this.lazyBlocks, meta.blockCount);
    this.log.info({ l1Height: height, l2Blocks: meta.blockCount, batches: meta.batchCount }, 'derivation rolled back after an L1 reorg');
    return meta;
  }

  /**
   * What processing the last L1 block added since the counters were `before` (for a store to
   * persist the cursor incrementally).
   */
  deltaSince(before: InboxMeta): L1Delta {
    const tip = this.l1Tip;
    if (!tip) throw new StrataError('INTERNAL', 'no L1 block processed yet');
    const m = this.store.m;
    const delayed: L1Delta['delayed'] = [];
    for (let i = before.delayedCount; i < m.delayedCount; i++) delayed.push({ rec: this.store.delayedRecs[i] as DelayedRecord, op: this.store.delayedOps[i] as Uint8Array });
    const origins: L1Delta['origins'] = [];
    for (let n = before.blockCount + 1; n <= m.blockCount; n++) {
      const o = this.origin.get(n);
      if (o) origins.push({ number: n, ...o });
    }
    return {
      height: tip.height,
      hash: tip.hash,
      meta: { ...m },
      delayedFrom: before.delayedCount,
      delayed,
      batchFrom: before.batchCount,
      batches: this.store.batches.slice(before.batchCount, m.batchCount),
      origins,
    };
  }

  /** Restores the state a store saved (on restart); the last processed L1 block becomes the tip. */
  restore(s: DerivationSnapshot): void {
    this.processed.length = 0;
    this.processed.push(...s.processed);
    const meta = this.l1Tip ? { ...(s.processed[s.processed.length - 1] as { meta: InboxMeta }).meta } : { ...EMPTY_INBOX };
    this.store.m = meta;
    this.store.delayedRecs.length = 0;
    this.store.delayedOps.length = 0;
    this.store.batches.length = 0;
    this.origin.clear();
    this.lazyOrigin = s.originOf;
    this.lazyBlocks = s.originOf ? meta.blockCount : 0;
    for (let i = 0; i < meta.delayedCount; i++) {
      const r = s.delayedRecs[i];
      const op = s.delayedOps[i];
      if (!r || !op) throw new StrataError('INTERNAL', `stored derivation state lacks delayed operation ${i}`);
      this.store.delayedRecs[i] = r;
      this.store.delayedOps[i] = op;
    }
    for (let b = 0; b < meta.batchCount; b++) {
      const r = s.batches[b];
      if (!r) throw new StrataError('INTERNAL', `stored derivation state lacks batch ${b}`);
      this.store.batches[b] = r;
    }
    for (let n = 1; !s.originOf && n <= meta.blockCount; n++) {
      const o = s.origin[n];
      if (o) this.origin.set(n, o);
    }
  }

  /** Describes the derivation cursor for logs. */
  describe(): Record<string, unknown> {
    const t = this.l1Tip;
    return { l1: t ? { height: t.height, hash: toHex(t.hash) } : null, ...this.store.m };
  }
}
