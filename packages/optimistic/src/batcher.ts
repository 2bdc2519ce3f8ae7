/**
 * The batcher: posts the sequencer's blocks that L1 does not hold yet as one compressed batch,
 * retries when a post does not land (failed, dropped by an L1 reorg, or stuck), and re-posts
 * whatever an L1 reorg removed (it always posts from what derivation says L1 holds).
 */
import { encode, toHex, toStrataError, type KeyPair } from '@strata/primitives';
import type { RollupLogger } from './derivation.js';
import { Driver } from './driver.js';
import { blockOrigin } from './inbox-core.js';
import type { L2Block } from './l2-chain.js';
import { batchWindowBytes, compressBatch, DECOMPRESS_WORD_COMPUTE, encodeBatchPayload, type BatchBlock } from './ops.js';
import { PostBatchArgsCodec } from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';

/** Batcher settings. */
export interface BatcherOptions {
  /** L1 key of the batcher (must be the rollup's `batcher`). */
  key: KeyPair;
  /** Most operations per batch (default: the rollup's `maxBatchOps`). */
  maxBatchOps?: number;
  /**
   * Most compressed bytes per batch (default 480 KB: under the L1's 512 KB transaction cap with
   * the envelope). Batches are bound by bytes, as the L1 stores rather than executes them.
   */
  maxBatchBytes?: number;
  /** L1 blocks to wait for a post to land before posting again (default 3). */
  retryAfterL1Blocks?: number;
  intervalMs?: number;
}

/** L1 blocks of slack the batcher keeps below the origin rule's bound (its post may land a block late). */
const ORIGIN_SLACK = 1;

/** Compute limit a batch post declares: metered state access plus per-word work. */
export function batchComputeLimit(payloadBytes: number, dataBytes: number, ops: number): number {
  // The inbox charges the data, the brotli window it declares and the output, per 32 bytes
  // (the window and output DECOMPRESS_WORD_COMPUTE each).
  return 30_000 + (Math.ceil(payloadBytes / 32) + Math.ceil(batchWindowBytes(payloadBytes) / 32)) * DECOMPRESS_WORD_COMPUTE + Math.ceil(dataBytes / 32) + ops + 200 * 20;
}

/** Builds one batch from blocks (encoded, compressed). */
export function buildBatch(blocks: L2Block[]): { payload: Uint8Array; data: Uint8Array; ops: number } {
  const bb: BatchBlock[] = blocks.map((b) => ({ timestamp: b.timestamp, delayedReads: b.delayedReads, ops: b.ops }));
  const payload = encodeBatchPayload(bb);
  return { payload, data: compressBatch(payload), ops: blocks.reduce((n, b) => n + b.allOps.length, 0) };
}

/** The batcher service. */
export class BatcherService {
  private inFlight: { first: number; last: number; sentAt: number; hash: Uint8Array } | undefined;
  private readonly driver: Driver;
  constructor(
    readonly node: RollupNode,
    readonly opts: BatcherOptions,
    private readonly log: RollupLogger,
  ) {
    this.driver = new Driver('batcher', opts.intervalMs ?? 500, () => this.tick().then(() => {}), log, () => node.metrics.roleErrors.inc({ role: 'batcher' }));
  }

  /** One iteration; resolves with the posted range, if it posted. */
  async tick(): Promise<{ first: number; last: number; bytes: number } | undefined> {
    const node = this.node;
    const onL1 = node.derivation.meta.blockCount;
    const l1Height = node.l1Status.height;
    if (this.inFlight) {
      const f = this.inFlight;
      if (onL1 >= f.last) this.inFlight = undefined;
      else {
        const r = await node.l1.receipt(f.hash).catch(() => undefined);
        if (r?.status === 'failed') {
          this.log.warn({ firstBlock: f.first, error: r.error }, 'batch rejected by L1; will rebuild and post again');
          this.inFlight = undefined;
        } else if (l1Height >= f.sentAt + (this.opts.retryAfterL1Blocks ?? 3) && onL1 < f.first) {
          this.log.warn({ firstBlock: f.first, lastBlock: f.last, sentAt: f.sentAt, l1Height }, 'batch not on L1 (dropped or reorged out); re-posting');
          node.metrics.batchRetries.inc();
          this.inFlight = undefined;
        } else return undefined;
      }
    }
    const head = node.chain.head.number;
    if (head <= onL1) return undefined;
    const blocks: L2Block[] = [];
    let ops = 0;
    const maxOps = Math.min(this.opts.maxBatchOps ?? node.opts.rollup.maxBatchOps, node.opts.rollup.maxBatchOps);
    // Never a block the L1-origin rule refuses (`blockOrigin`, as the inbox runs it): the batch
    // lands in L1 block l1Height + 1 at the earliest, and one block later is allowed for.
    const cfg = node.opts.rollup;
    let origin = node.derivation.meta.l1Origin;
    for (let n = onL1 + 1; n <= head; n++) {
      const b = node.chain.get(n) as L2Block;
      if (blocks.length > 0 && ops + b.allOps.length > maxOps) break;
      let v = blockOrigin(origin, b.ops, l1Height + 1, cfg);
      const late = v.ok ? blockOrigin(origin, b.ops, l1Height + 1 + ORIGIN_SLACK, cfg) : v;
      if (!late.ok && late.reason === 'stale') v = late;
      if (!v.ok) {
        // Origin ahead of the L1 we know (an L1 reorg shortened it): wait for L1 to catch up.
        // Stale (or malformed): those blocks can never be posted; the sequencer seals them again.
        if (v.reason !== 'ahead') {
          this.log.warn({ l2Block: n, reason: v.reason, l1Height, error: `L2 block ${n} ${v.message}` }, 'unsafe blocks the L1-origin rule refuses; sequencing them again');
          node.resequenceFrom(n, v.reason);
        }
        break;
      }
      origin = v.origin;
      blocks.push(b);
      ops += b.allOps.length;
    }
    if (blocks.length === 0) return undefined;
    // The most blocks whose compressed batch fits the byte cap (binary search over whole blocks).
    const maxBytes = this.opts.maxBatchBytes ?? 480_000;
    let batch = buildBatch(blocks);
    if (batch.data.length > maxBytes && blocks.length > 1) {
      let lo = 1;
      let hi = blocks.length - 1;
      let best = buildBatch(blocks.slice(0, 1));
      let bestN = 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const b = buildBatch(blocks.slice(0, mid));
        if (b.data.length <= maxBytes) {
          best = b;
          bestN = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      blocks.splice(bestN);
      batch = best;
    }
    const first = onL1 + 1;
    const last = first + blocks.length - 1;
    const args = encode(PostBatchArgsCodec, { rollupId: node.opts.rollup.rollupId, firstBlock: first, data: batch.data });
    try {
      const hash = await node.l1.send(this.opts.key, node.modules.inbox, 'postBatch', args, batchComputeLimit(batch.payload.length, batch.data.length, batch.ops));
      this.inFlight = { first, last, sentAt: l1Height, hash };
      node.metrics.batchesPosted.inc();
      node.metrics.batchBytes.inc(batch.data.length);
      this.log.info({ firstBlock: first, lastBlock: last, ops: batch.ops, bytes: batch.data.length, tx: toHex(hash) }, 'batch posted to L1');
      return { first, last, bytes: batch.data.length };
    } catch (e) {
      const err = toStrataError(e);
      this.log.warn({ firstBlock: first, code: err.code, error: err.message }, 'posting batch failed; will retry');
      return undefined;
    }
  }

  start(): void {
    this.driver.start();
  }
  stop(): Promise<void> {
    return this.driver.stop();
  }
}
