/**
 * The inbox rule, shared by the L1 inbox module and the L2 derivation: how L1 data (batches,
 * deposits, forced transactions, the passage of L1 blocks) turns into the ordered list of L2
 * blocks and operations. The L1 module runs it over L1 state; every L2 node runs the same code
 * over an in-memory mirror fed with L1 blocks, so the L2 chain is a pure function of L1 data.
 *
 * Arbitrum-style: deposits and forced transactions wait in a delayed queue; the sequencer's
 * batches read them in order (each L2 block says how many it reads); when the oldest has waited
 * `sequencingWindow` L1 blocks, the inbox itself appends an L2 block that includes every queued
 * operation (OP Stack's sequencing window), so the sequencer cannot censor them.
 *
 * An L2 that carries its L1 origin (`carriesL1Origin`: the clock of the settlement modules it
 * hosts) is bound by the same window on that origin (OP Stack's sequencing window on epochs):
 * every L2 block's origin is before the L1 block carrying its batch and at most `sequencingWindow`
 * blocks behind it, and origins never decrease (`blockOrigin`). When the origin would fall further
 * behind (a silent sequencer), the inbox appends a block advancing it by itself (`forceInclusion`).
 * So the L2's L1 clock never lags the L1 by more than the window, and never jumps by more.
 */
import { decode, encode, fixedBytes, StrataError, struct, uint, type Codec } from '@strata/primitives';
import { merkleRoot } from '@strata/chain';
import { carriesL1Origin, type RollupConfig } from './config.js';
import { brotliWindowBytes, DECOMPRESS_WORD_COMPUTE, decodeBatchPayload, decodeOp, decompressBatch, encodeOp, MAX_BATCH_WINDOW_BYTES, OP_L1INFO, opHash, opLeaf } from './ops.js';

/** Counters of one rollup's inbox. */
export interface InboxMeta {
  batchCount: number;
  /** L2 blocks appended so far (the next block is number blockCount + 1; block 0 is genesis). */
  blockCount: number;
  /** Operations appended so far (global operation index). */
  opCount: number;
  delayedCount: number;
  delayedRead: number;
  lastTimestamp: number;
  /** The L1 origin as of the last appended L2 block (0 before any `l1info` operation). */
  l1Origin: number;
}

/** A queued deposit or forced transaction. */
export interface DelayedRecord {
  l1Height: number;
  opHash: Uint8Array;
}

/** What L1 remembers about one batch. */
export interface BatchRecord {
  l1Height: number;
  firstBlock: number;
  blockCount: number;
  firstOp: number;
  opCount: number;
  /** Merkle root of the batch's operation leaves (`opLeaf`). */
  opsRoot: Uint8Array;
  lastTimestamp: number;
  /** 1 when the inbox appended it (sequencing window expired), 0 for a batcher's batch. */
  forced: number;
}

/** Codecs of the records (as stored in L1 state). */
export const InboxMetaCodec: Codec<InboxMeta> = struct('InboxMeta', {
  batchCount: uint,
  blockCount: uint,
  opCount: uint,
  delayedCount: uint,
  delayedRead: uint,
  lastTimestamp: uint,
  l1Origin: uint,
});
export const DelayedCodec: Codec<DelayedRecord> = struct('Delayed', { l1Height: uint, opHash: fixedBytes(32) });
export const BatchRecordCodec: Codec<BatchRecord> = struct('BatchRecord', {
  l1Height: uint,
  firstBlock: uint,
  blockCount: uint,
  firstOp: uint,
  opCount: uint,
  opsRoot: fixedBytes(32),
  lastTimestamp: uint,
  forced: uint,
});

/** Storage the inbox rule runs over (L1 state or a derivation mirror). */
export interface InboxStore {
  meta(): InboxMeta;
  setMeta(m: InboxMeta): void;
  delayed(i: number): DelayedRecord | undefined;
  setDelayed(i: number, r: DelayedRecord): void;
  batch(b: number): BatchRecord | undefined;
  setBatch(b: number, r: BatchRecord): void;
}

/** The empty inbox. */
export const EMPTY_INBOX: InboxMeta = { batchCount: 0, blockCount: 0, opCount: 0, delayedCount: 0, delayedRead: 0, lastTimestamp: 0, l1Origin: 0 };

/** One L2 block as the inbox appended it. */
export interface AppendedBlock {
  number: number;
  timestamp: number;
  /** Global index of its first operation. */
  firstOp: number;
  /** Delayed queue indices read at its start. */
  delayedFrom: number;
  delayedReads: number;
  /** Sequenced operations (encoded). */
  ops: Uint8Array[];
}

/** A batch as appended: its record and blocks. */
export interface AppendedBatch {
  index: number;
  record: BatchRecord;
  blocks: AppendedBlock[];
}

/** L1 block facts the rule depends on. */
export interface L1Point {
  height: number;
  timestamp: number;
}

/** Why `blockOrigin` refuses a block. */
export type OriginRefusal =
  /** An `l1info` operation that is not the block's first sequenced operation, or a second one. */
  | 'misplaced'
  /** The origin does not move forward. */
  | 'backwards'
  /** The origin is not before the L1 block carrying the batch (the L2's clock would run ahead). */
  | 'ahead'
  /** The origin lags the L1 block carrying the batch by more than the sequencing window. */
  | 'stale';

/** What `blockOrigin` says of one L2 block. */
export type OriginVerdict = { ok: true; origin: number } | { ok: false; reason: OriginRefusal; origin: number; message: string };

/**
 * The L1-origin rule of one L2 block, a pure function shared by the parent's inbox, derivation
 * and the batcher (which never posts a block it refuses). `prev` is the origin before the block,
 * `ops` its sequenced operations, `carrier` the L1 block carrying its batch. An `l1info`
 * operation may only be the block's first sequenced operation, and must name an origin after
 * `prev` and before `carrier`. When the rollup carries its origin (`carriesL1Origin`), the block's
 * origin must also be at least `carrier − sequencingWindow`: a sequencer cannot hold the clock of
 * the modules its L2 hosts back (and later jump it) by more than the window. Returns the block's
 * origin (the new one, or `prev`).
 */
export function blockOrigin(prev: number, ops: readonly Uint8Array[], carrier: number, cfg: RollupConfig): OriginVerdict {
  let origin = prev;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i] as Uint8Array;
    if (o[0] !== OP_L1INFO) continue;
    if (i !== 0) return { ok: false, reason: 'misplaced', origin, message: `an l1info operation at position ${i}: it may only open the block` };
    const h = (decodeOp(o) as { height: number }).height;
    if (h <= prev) return { ok: false, reason: 'backwards', origin: h, message: `L1 origin ${h} does not move forward from ${prev}` };
    // An L1 origin is an L1 block before the one carrying the batch: the L2's L1 clock never runs ahead.
    if (h >= carrier) return { ok: false, reason: 'ahead', origin: h, message: `names L1 origin ${h}, not before the L1 block ${carrier} carrying it` };
    origin = h;
  }
  if (carriesL1Origin(cfg) && origin + cfg.sequencingWindow < carrier) {
    return {
      ok: false,
      reason: 'stale',
      origin,
      message: `has L1 origin ${origin}, more than the sequencing window (${cfg.sequencingWindow}) behind the L1 block ${carrier} carrying it`,
    };
  }
  return { ok: true, origin };
}

/** Appends a deposit or forced transaction to the delayed queue; returns its index. */
export function appendDelayed(store: InboxStore, at: L1Point, op: Uint8Array): number {
  const m = store.meta();
  const i = m.delayedCount;
  store.setDelayed(i, { l1Height: at.height, opHash: opHash(op) });
  store.setMeta({ ...m, delayedCount: i + 1 });
  return i;
}

/** Arguments of a batch post. */
export interface PostBatchArgs {
  /** The L2 block number the batch starts at (must be the next one: guards against reordering). */
  firstBlock: number;
  /** Brotli-compressed batch payload. */
  data: Uint8Array;
}

function commit(store: InboxStore, m: InboxMeta, at: L1Point, blocks: AppendedBlock[], forced: boolean, l1Origin: number): AppendedBatch {
  const leaves: Uint8Array[] = [];
  let lastTs = m.lastTimestamp;
  let ops = 0;
  for (const b of blocks) {
    for (let i = 0; i < b.delayedReads; i++) {
      const d = store.delayed(b.delayedFrom + i) as DelayedRecord;
      leaves.push(opLeaf(b.number, b.timestamp, d.opHash));
    }
    for (const op of b.ops) leaves.push(opLeaf(b.number, b.timestamp, opHash(op)));
    ops += b.delayedReads + b.ops.length;
    lastTs = b.timestamp;
  }
  const record: BatchRecord = {
    l1Height: at.height,
    firstBlock: m.blockCount + 1,
    blockCount: blocks.length,
    firstOp: m.opCount,
    opCount: ops,
    opsRoot: merkleRoot(leaves),
    lastTimestamp: lastTs,
    forced: forced ? 1 : 0,
  };
  const index = m.batchCount;
  store.setBatch(index, record);
  const delayedRead = blocks.reduce((n, b) => n + b.delayedReads, m.delayedRead);
  store.setMeta({ ...m, batchCount: index + 1, blockCount: m.blockCount + blocks.length, opCount: m.opCount + ops, delayedRead, lastTimestamp: lastTs, l1Origin });
  return { index, record, blocks };
}

/**
 * Appends a batcher's batch. Throws L2_INVALID_BATCH naming the rule broken: wrong first block,
 * corrupt or oversized data, timestamps not increasing or too far ahead of L1, reading delayed
 * operations that are not queued. `charge` meters the work, per 32 bytes: the data (1 word), the brotli
 * window it declares (the decoder may fill that much before any output cap bites; a window
 * above `maxBatchBytes` and 4 MiB is refused unread), and the decompressed output, which is
 * charged also when decompression fails: a stream that would expand past the cap pays for the
 * whole cap (before, a 106-byte batch expanding past 4 MiB cost every node ~100 ms and its
 * sender nothing). `affordableBytes`, when given (the L1 module: what the transaction's compute
 * left can pay for), lowers the cap, so the decompression work never exceeds what is paid for.
 */
export function appendBatch(
  store: InboxStore,
  at: L1Point,
  args: PostBatchArgs,
  cfg: RollupConfig,
  charge: (words: number) => void,
  affordableBytes?: () => number,
): AppendedBatch {
  const m = store.meta();
  if (args.firstBlock !== m.blockCount + 1) {
    throw new StrataError('L2_INVALID_BATCH', `batch starts at L2 block ${args.firstBlock}, the next block is ${m.blockCount + 1}`, {
      expected: m.blockCount + 1,
      got: args.firstBlock,
    });
  }
  const window = brotliWindowBytes(args.data);
  if (window > Math.max(cfg.maxBatchBytes, MAX_BATCH_WINDOW_BYTES)) {
    throw new StrataError('L2_INVALID_BATCH', `batch data declares a brotli window of ${window} bytes, more than the ${Math.max(cfg.maxBatchBytes, MAX_BATCH_WINDOW_BYTES)} allowed`);
  }
  charge(Math.ceil(args.data.length / 32) + Math.ceil(Math.min(window, cfg.maxBatchBytes) / 32) * DECOMPRESS_WORD_COMPUTE);
  const cap = Math.max(0, Math.min(cfg.maxBatchBytes, Math.floor(affordableBytes?.() ?? Number.POSITIVE_INFINITY)));
  let payload: Uint8Array;
  try {
    payload = decompressBatch(args.data, cap);
  } catch (e) {
    // Up to `cap` bytes came out before it failed (or would have gone past the cap): paid for.
    charge(Math.ceil(cap / 32) * DECOMPRESS_WORD_COMPUTE);
    throw e;
  }
  charge(Math.ceil(payload.length / 32) * DECOMPRESS_WORD_COMPUTE);
  const blocks = decodeBatchPayload(payload, cfg.maxBatchOps);
  let ts = m.lastTimestamp;
  let delayed = m.delayedRead;
  const out: AppendedBlock[] = [];
  let op = m.opCount;
  let origin = m.l1Origin;
  blocks.forEach((b, i) => {
    if (b.timestamp <= ts) throw new StrataError('L2_INVALID_BATCH', `L2 block ${m.blockCount + 1 + i} timestamp ${b.timestamp} is not after ${ts}`);
    if (b.timestamp > at.timestamp + cfg.maxTimestampDriftMs) {
      throw new StrataError('L2_INVALID_BATCH', `L2 block ${m.blockCount + 1 + i} timestamp ${b.timestamp} is too far ahead of L1 (${at.timestamp})`);
    }
    if (delayed + b.delayedReads > m.delayedCount) {
      throw new StrataError('L2_INVALID_BATCH', `L2 block ${m.blockCount + 1 + i} reads delayed operations up to ${delayed + b.delayedReads}, only ${m.delayedCount} are queued`);
    }
    const v = blockOrigin(origin, b.ops, at.height, cfg);
    if (!v.ok) throw new StrataError('L2_INVALID_BATCH', `L2 block ${m.blockCount + 1 + i} ${v.message}`, { rule: 'l1Origin', reason: v.reason, origin: v.origin });
    origin = v.origin;
    out.push({ number: m.blockCount + 1 + i, timestamp: b.timestamp, firstOp: op, delayedFrom: delayed, delayedReads: b.delayedReads, ops: b.ops });
    op += b.delayedReads + b.ops.length;
    ts = b.timestamp;
    delayed += b.delayedReads;
  });
  charge(op - m.opCount);
  return commit(store, m, at, out, false, origin);
}

/** Whether the origin of a rollup carrying it has fallen more than the window behind L1 block `height`. */
export function originOverdue(m: InboxMeta, height: number, cfg: RollupConfig): boolean {
  return carriesL1Origin(cfg) && m.l1Origin + cfg.sequencingWindow < height;
}

/**
 * End-of-L1-block rule: if the oldest queued operation has waited `sequencingWindow` L1 blocks,
 * append one L2 block that reads every queued operation (up to `maxBatchOps`). On a rollup
 * carrying its L1 origin, also when the origin lags this L1 block by more than the window (the
 * sequencer posted nothing fresh for that long: OP Stack's forced origin advance); such a block
 * names the newest origin it may, the L1 block before this one, after its delayed operations
 * (which run at the old origin). Returns the appended batch, if any.
 */
export function forceInclusion(store: InboxStore, at: L1Point, cfg: RollupConfig): AppendedBatch | undefined {
  const m = store.meta();
  const oldest = m.delayedRead < m.delayedCount ? (store.delayed(m.delayedRead) as DelayedRecord) : undefined;
  const due = oldest !== undefined && oldest.l1Height + cfg.sequencingWindow <= at.height;
  if (!due && !originOverdue(m, at.height, cfg)) return undefined;
  const reads = due ? Math.min(m.delayedCount - m.delayedRead, cfg.maxBatchOps) : 0;
  const advance = carriesL1Origin(cfg) && at.height - 1 > m.l1Origin;
  const block: AppendedBlock = {
    number: m.blockCount + 1,
    timestamp: Math.max(m.lastTimestamp + 1, at.timestamp),
    firstOp: m.opCount,
    delayedFrom: m.delayedRead,
    delayedReads: reads,
    ops: advance ? [encodeOp({ kind: 'l1info', height: at.height - 1 })] : [],
  };
  return commit(store, m, at, [block], true, advance ? at.height - 1 : m.l1Origin);
}

/** Decodes stored inbox meta (or the empty inbox). */
export function decodeMeta(raw: Uint8Array | undefined): InboxMeta {
  return raw ? decode(InboxMetaCodec, raw) : { ...EMPTY_INBOX };
}

/** Encodes inbox meta. */
export function encodeMeta(m: InboxMeta): Uint8Array {
  return encode(InboxMetaCodec, m);
}
