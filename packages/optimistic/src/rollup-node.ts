/**
 * RollupNode: an L2 node. It follows the L1 through an `L1Client`, derives the L2 chain from L1
 * data (safe head), optionally sequences blocks ahead of L1 (unsafe head, soft confirmations),
 * and keeps a transaction pool. Every other role (batcher, proposer, challenger, RPC) reads it.
 */
import { bytesEqual, StrataError, toHex, toStrataError } from '@strata/primitives';
import { verifyRawTx, type VerifiedTx } from '@strata/runtime';
import { carriesL1Origin, checkRollupConfig, type RollupConfig } from './config.js';
import { Derivation, silentLogger, type DerivedBlock, type RollupLogger } from './derivation.js';
import type { InboxMeta } from './inbox-core.js';
import { L2Chain, type L2Block } from './l2-chain.js';
import type { L2Store } from './l2-store.js';
import type { L1Client } from './l1-client.js';
import { RollupMetrics } from './metrics.js';
import { encodeOp } from './ops.js';
import { rollupModuleNames, type RollupModuleNames } from './parent-modules.js';
import { compactOp, makeL2Env, readL1Origin, type L2Env } from './stf.js';

/** Sequencer settings. */
export interface SequencerOptions {
  /** Most sequenced operations per L2 block (default 2,000). */
  maxOpsPerBlock?: number;
  /** Test/demo: never read the delayed queue (a censoring sequencer). */
  ignoreDelayed?: boolean;
  /** Test/demo: leave the pool's transactions this selects out of every block (a censoring sequencer). */
  censor?: (tx: VerifiedTx) => boolean;
  /**
   * Test/demo: never move the L1 origin (a sequencer holding the clock of the modules its L2
   * hosts back). The inbox bounds the lag by the sequencing window and advances it by itself.
   */
  holdL1Origin?: boolean;
  /**
   * Seal an empty block when nothing arrived for this long (ms): a chain that is a parent (of
   * an L3) keeps its children's clocks moving, since their windows count its blocks.
   */
  heartbeatMs?: number;
}

/** Node settings. */
export interface RollupNodeOptions {
  rollup: RollupConfig;
  /** Present on the sequencer's node. */
  sequencer?: SequencerOptions;
  /** Most L1 blocks processed per sync call (default 1,000). */
  maxL1BlocksPerSync?: number;
}

/** The three L2 heads. */
export interface L2Heads {
  unsafe: number;
  safe: number;
  finalized: number;
}

/** An L2 node. */
export class RollupNode {
  readonly env: L2Env;
  /**
   * Whether this L2 hosts a child's settlement modules or another module on the L1-origin clock
   * (`Module.l1Clock`, e.g. the channel adjudicator): its blocks then carry their L1 origin.
   */
  readonly hostsChildren: boolean;
  readonly chain: L2Chain;
  readonly derivation: Derivation;
  readonly metrics: RollupMetrics;
  /** This rollup's settlement module names on the L1. */
  readonly modules: RollupModuleNames;
  private safe = 0;
  private l1Head = { height: -1, finalized: -1, clock: -1 };
  private readonly pool = new Map<string, VerifiedTx>();
  /**
   * Hashes of re-pooled transactions (from unsafe blocks dropped by a reorg or a re-sequencing),
   * in the order those blocks ran them: the next blocks seal them first, in that order, so a
   * soft-confirmed transaction spending what an earlier dropped one gave it still runs after it.
   */
  private replay: string[] = [];
  /** The newest timestamp among the dropped blocks behind `replay` (their reseal takes at most it). */
  private replayTs = 0;
  private readonly log: RollupLogger;
  private readonly headListeners = new Set<(b: L2Block) => void>();

  private readonly store: L2Store | undefined;

  /**
   * @param deps.store lmdb persistence (`L2Store`): the chain and the derivation cursor are
   *   written through and reloaded here, so a restart resumes where it stopped; without it the
   *   node keeps everything in memory and re-derives from the parent's genesis.
   */
  constructor(
    readonly opts: RollupNodeOptions,
    readonly l1: L1Client,
    deps: { logger?: RollupLogger; metrics?: RollupMetrics; store?: L2Store } = {},
  ) {
    checkRollupConfig(opts.rollup);
    this.log = deps.logger ?? silentLogger;
    this.metrics = deps.metrics ?? new RollupMetrics();
    this.env = makeL2Env(opts.rollup);
    this.hostsChildren = carriesL1Origin(opts.rollup);
    this.modules = rollupModuleNames(opts.rollup.rollupId);
    this.store = deps.store;
    const t0 = Date.now();
    this.chain = new L2Chain(this.env, deps.store);
    this.derivation = new Derivation(opts.rollup, this.log);
    if (deps.store) {
      this.derivation.restore(deps.store.loadDerivation());
      this.safe = Math.min(deps.store.safe, this.chain.head.number, this.derivation.meta.blockCount);
      // The L1 cursor counts more L2 blocks than are stored: a crash inside an L1 rollback, after
      // the blocks' truncation and before the cursor's (two transactions). Were the L1 back on
      // the cursor's branch, those blocks would never be derived again (every later one skipped
      // as not following the head): move the cursor back to where the stored blocks end.
      if (this.chain.head.number < this.derivation.meta.blockCount) {
        const cursorBlocks = this.derivation.meta.blockCount;
        const h = this.derivation.lastL1WithBlocksAtMost(this.chain.head.number);
        const meta = this.derivation.rollbackTo(h);
        this.safe = Math.min(this.safe, meta.blockCount);
        deps.store.rollbackL1(h, meta, this.safe);
        this.log.warn({ l2Head: this.chain.head.number, cursorBlocks, l1Cursor: h }, 'L1 cursor was past the stored L2 blocks (crash during a rollback); it is moved back and those blocks re-derived');
      }
      // A verifier's blocks past its L1 cursor were committed just before a crash, before their
      // L1 block's cursor: that L1 block may be reorged away, so they are re-derived, never served.
      if (!this.isSequencer && this.chain.head.number > this.derivation.meta.blockCount) {
        const dropped = this.chain.truncate(this.derivation.meta.blockCount);
        this.log.info({ dropped: dropped.length, l2Head: this.chain.head.number }, 'L2 blocks past the L1 cursor dropped on restart; they are re-derived');
      }
      this.log.info(
        { l2Head: this.chain.head.number, safe: this.safe, l1Cursor: this.derivation.l1Tip?.height ?? -1, ms: Date.now() - t0 },
        this.chain.head.number > 0 || this.derivation.l1Tip ? 'L2 node resumed from its data dir' : 'L2 node starting with an empty data dir',
      );
    }
  }

  get isSequencer(): boolean {
    return this.opts.sequencer !== undefined;
  }

  /**
   * Parent head and finalized height as of the last sync, and the clock its settlement modules
   * count in (the height on an L1, the L1 origin on an L2 parent).
   */
  get l1Status(): { height: number; finalized: number; clock: number } {
    return this.l1Head;
  }

  /** The unsafe, safe and finalized L2 heads. */
  heads(): L2Heads {
    // Blocks are derived in L1 order, so their origins' L1 heights never decrease: a binary
    // search finds the last final one in O(log n) origin reads (each one an lmdb read after a
    // restart; a linear scan read one per safe block on every head RPC while the parent's
    // finality lagged, e.g. all of them before the first sync).
    let lo = 0;
    let hi = this.safe;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const o = this.derivation.originOf(mid);
      if (o && o.l1Height <= this.l1Head.finalized) lo = mid;
      else hi = mid - 1;
    }
    return { unsafe: this.chain.head.number, safe: this.safe, finalized: lo };
  }

  /** Follows the L1 up to its head: derives new L2 blocks, rolls back on L1 reorgs. */
  async syncL1(): Promise<void> {
    const head = await this.l1.head();
    const tip = this.derivation.l1Tip;
    if (tip) {
      const cur = await this.l1.block(tip.height);
      if (!cur || !bytesEqual(cur.hash, tip.hash)) await this.rollbackToCommonAncestor(tip.height - 1);
    }
    // Only once the derivation is known to extend the parent's chain does the parent's new
    // finalized height apply to it (heads() may be read while the checks above await).
    this.l1Head = { height: head.height, finalized: head.finalized, clock: head.clock ?? head.height };
    const max = this.opts.maxL1BlocksPerSync ?? 1_000;
    let next = (this.derivation.l1Tip?.height ?? -1) + 1;
    for (let i = 0; i < max && next <= head.height; i++) {
      const b = await this.l1.block(next);
      if (!b) break;
      if (this.derivation.needsRollback(b)) {
        await this.rollbackToCommonAncestor(next - 1);
        next = (this.derivation.l1Tip?.height ?? -1) + 1;
        continue;
      }
      const store = this.store;
      if (store) {
        // The L2 blocks this L1 block defines and its cursor commit together (one transaction,
        // each block a child of it): one fsync per parent block, not per L2 block. A crash
        // keeps all or none, and none means this L1 block is derived again.
        const before = { ...this.derivation.meta };
        store.atomically(() => {
          for (const d of this.derivation.apply(b)) this.applyDerived(d);
          store.commitL1(this.derivation.deltaSince(before), this.safe, 10_000);
          // Unsafe blocks the derived ones replaced: their transactions are sealed again in this
          // same commit (the pool is memory only).
          this.resealReplay();
        });
        // Committed: the origins of those blocks are read from the store from now on.
        this.derivation.originsPersisted(this.derivation.meta.blockCount);
      } else for (const d of this.derivation.apply(b)) this.applyDerived(d);
      next++;
    }
    this.updateMetrics();
  }

  private async rollbackToCommonAncestor(from: number): Promise<void> {
    let h = from;
    while (h >= 0) {
      const known = this.derivation.l1HashAt(h);
      const b = await this.l1.block(h);
      if (known && b && bytesEqual(known, b.hash)) break;
      h--;
    }
    this.metrics.l1Reorgs.inc();
    // The chain's truncation, the cursor's rollback and the reseal of dropped unsafe blocks'
    // transactions commit together: a crash in between left a chain shorter than its cursor.
    const rewind = () => {
      const meta = this.derivation.rollbackTo(h);
      this.onRollback(meta);
      this.store?.rollbackL1(h, meta, this.safe);
      this.resealReplay();
    };
    if (this.store) this.store.atomically(rewind);
    else rewind();
  }

  private onRollback(meta: InboxMeta): void {
    const before = this.safe;
    this.safe = Math.min(this.safe, meta.blockCount);
    if (!this.isSequencer) {
      this.chain.truncate(meta.blockCount);
    } else {
      // Unsafe blocks stay (the batcher re-posts them) unless they read delayed operations the
      // L1 no longer has (their deposit was reorged out): then rebuild from the safe head.
      for (let n = meta.blockCount + 1; n <= this.chain.head.number; n++) {
        const b = this.chain.get(n) as L2Block;
        if (b.delayedFrom + b.delayedReads > meta.delayedCount || !this.delayedMatch(b)) {
          this.requeue(this.chain.truncate(n - 1, true));
          break;
        }
      }
    }
    this.log.info({ safeBefore: before, safe: this.safe, unsafe: this.chain.head.number }, 'L1 reorg: safe head rolled back');
  }

  private delayedMatch(b: L2Block): boolean {
    const ops = this.derivation.delayedOps(b.delayedFrom, b.delayedReads);
    return ops.length === b.delayedReads && ops.every((o, i) => bytesEqual(o, b.allOps[i] as Uint8Array));
  }

  private applyDerived(d: DerivedBlock): void {
    if (this.chain.matches(d.number, { timestamp: d.timestamp, delayedFrom: d.delayedFrom, delayedReads: d.delayedOps.length, ops: d.ops })) {
      this.safe = d.number;
      return;
    }
    if (this.chain.head.number >= d.number) {
      const dropped = this.chain.truncate(d.number - 1, this.isSequencer);
      this.log.warn({ l2Block: d.number, dropped: dropped.length, l1Height: d.l1Height }, 'unsafe L2 blocks differ from what L1 says; reorganising to the derived chain');
      this.requeue(dropped);
    }
    if (this.chain.head.number !== d.number - 1) {
      this.log.warn({ l2Block: d.number, head: this.chain.head.number }, 'derived block does not follow the local head; skipped');
      return;
    }
    const built = this.chain.build({ timestamp: d.timestamp, delayedFrom: d.delayedFrom, delayedOps: d.delayedOps, ops: d.ops });
    this.safe = d.number;
    this.emitHead(built);
  }

  private requeue(blocks: L2Block[]): void {
    if (!this.isSequencer) return;
    const queued = new Set(this.replay);
    for (const b of blocks) {
      this.replayTs = Math.max(this.replayTs, b.timestamp);
      for (const t of b.txs ?? []) {
        const h = toHex(t.hash);
        this.pool.set(h, t);
        if (!queued.has(h)) this.replay.push(h);
        queued.add(h);
      }
    }
  }

  /**
   * Sequencer: seals the re-pooled transactions again at once (in their order). Called inside
   * the store transaction that dropped their blocks, so a crash keeps either the old blocks or
   * the new ones, never only the in-memory pool. Returns how many blocks it sealed.
   */
  private resealReplay(): number {
    if (!this.opts.sequencer) return 0;
    let resealed = 0;
    try {
      while (this.replay.length > 0) {
        const before = this.replay.length;
        if (!this.sequence(this.replayTs) || this.replay.length >= before) break;
        resealed++;
      }
    } catch (e) {
      // Never fails the commit it runs in: what is left stays pooled for the next tick.
      this.log.warn({ pooled: this.pool.size, error: toStrataError(e).message }, 'sealing re-pooled transactions again failed; they stay pooled');
    }
    return resealed;
  }

  /**
   * Sequencer: drops the blocks from `from` on, which L1 does not hold yet, and seals their
   * transactions again at once, in their order, with a fresh L1 origin (and the delayed
   * operations they read); with a store, drop and reseal are one commit. The batcher calls it for blocks the origin rule would refuse (their
   * origin fell more than the sequencing window behind L1: a pause or restart longer than that).
   * Returns how many blocks were dropped.
   */
  resequenceFrom(from: number, reason: string): number {
    if (!this.isSequencer) throw new StrataError('UNAUTHORIZED', 'this node is not the sequencer');
    if (from <= this.derivation.meta.blockCount) throw new StrataError('INVALID_ARGUMENT', `L2 block ${from} is already on L1`);
    // Dropped and sealed again in one commit (with a store): a crash in between would lose the
    // soft-confirmed transactions, which only the in-memory pool would hold. The new blocks take
    // the dropped ones' last timestamp at most (those passed the inbox's drift rule already).
    const redo = (): { dropped: number; resealed: number } => {
      const dropped = this.chain.truncate(from - 1, true);
      if (dropped.length === 0) return { dropped: 0, resealed: 0 };
      this.requeue(dropped);
      return { dropped: dropped.length, resealed: this.resealReplay() };
    };
    const r = this.store ? this.store.atomically(redo) : redo();
    if (r.dropped > 0) this.log.warn({ fromBlock: from, dropped: r.dropped, resealed: r.resealed, pooled: this.pool.size, reason }, 'unsafe L2 blocks dropped and sequenced again with a fresh L1 origin');
    this.updateMetrics();
    return r.dropped;
  }

  /** Validates and pools an L2 transaction (sequencer). Throws a StrataError naming the problem. */
  submitTx(raw: Uint8Array): VerifiedTx {
    if (!this.isSequencer) throw new StrataError('UNAUTHORIZED', 'this L2 node does not sequence; send transactions to the sequencer');
    const vtx = verifyRawTx(raw, this.env.config.maxTxBytes);
    if (vtx.tx.chainId !== this.env.config.chainId) throw new StrataError('TX_WRONG_CHAIN', `transaction is for chain ${vtx.tx.chainId}, this L2 is ${this.env.config.chainId}`);
    const acct = this.chain.account(vtx.sender);
    if (vtx.tx.nonce < acct.nonce) throw new StrataError('TX_NONCE_TOO_LOW', `nonce ${vtx.tx.nonce} is below the account's next nonce ${acct.nonce}`);
    if (this.pool.size >= 50_000) throw new StrataError('MEMPOOL_FULL', 'the sequencer pool is full; retry later');
    this.pool.set(toHex(vtx.hash), vtx);
    return vtx;
  }

  /** Pending transactions. */
  get poolSize(): number {
    return this.pool.size;
  }

  /** Next nonce of an account counting pooled transactions. */
  nextNonce(address: Uint8Array): number {
    let n = this.chain.account(address).nonce;
    const mine = [...this.pool.values()].filter((t) => bytesEqual(t.sender, address)).map((t) => t.tx.nonce).sort((a, b) => a - b);
    for (const x of mine) if (x === n) n++;
    return n;
  }

  /**
   * Sequencer: seals one L2 block from queued deposits/forced transactions and pooled
   * transactions. Returns undefined when there is nothing to include.
   */
  sequence(now: number): L2Block | undefined {
    const seq = this.opts.sequencer;
    if (!seq) throw new StrataError('UNAUTHORIZED', 'this node is not the sequencer');
    const delayedFrom = this.chain.delayedRead;
    const delayedOps = seq.ignoreDelayed ? [] : this.derivation.delayedOps(delayedFrom);
    const max = seq.maxOpsPerBlock ?? 2_000;
    // Re-pooled transactions first, in the order their dropped blocks ran them; then the rest by sender and nonce.
    const replayed = new Set(this.replay);
    const first = this.replay.map((h) => this.pool.get(h)).filter((t): t is VerifiedTx => t !== undefined && !seq.censor?.(t));
    const rest = [...this.pool.entries()].filter(([h, t]) => !replayed.has(h) && !seq.censor?.(t)).map(([, t]) => t);
    rest.sort((a, b) => (toHex(a.sender) < toHex(b.sender) ? -1 : toHex(a.sender) > toHex(b.sender) ? 1 : a.tx.nonce - b.tx.nonce));
    const candidates = [...first, ...rest].slice(0, max);
    const reader = this.chain.reader();
    // An L2 hosting children's settlement modules carries its L1 origin (their clock): the first
    // block after the L1 moved says so, even if it has nothing else to include.
    const origin = this.hostsChildren && !seq.holdL1Origin && this.l1Head.height > readL1Origin(reader) ? this.l1Head.height : undefined;
    const beat = (seq.heartbeatMs !== undefined && now - this.chain.head.timestamp >= seq.heartbeatMs) || origin !== undefined;
    if (delayedOps.length === 0 && candidates.length === 0 && !beat) return undefined;
    const ops = candidates.map((t) => encodeOp(compactOp(this.env, reader, t)));
    const txs: (VerifiedTx | undefined)[] = [...candidates];
    if (origin !== undefined) {
      ops.unshift(encodeOp({ kind: 'l1info', height: origin }));
      txs.unshift(undefined);
    }
    const block = this.chain.build({ timestamp: Math.max(this.chain.head.timestamp + 1, now), delayedFrom, delayedOps, ops, txs }, true);
    for (const t of candidates) this.pool.delete(toHex(t.hash));
    if (this.replay.length > 0) this.replay = this.replay.filter((h) => this.pool.has(h));
    const skipped = candidates.length - (block.txs?.length ?? 0);
    this.log.debug({ l2Block: block.number, ops: block.allOps.length, delayed: delayedOps.length, skipped }, 'sequenced L2 block');
    this.updateMetrics();
    this.emitHead(block);
    return block;
  }

  /**
   * Calls `fn` with every new L2 head (a sequenced block, or a derived one on a verifier);
   * returns a function that removes the listener. Listener errors are logged, never thrown.
   */
  onHead(fn: (b: L2Block) => void): () => void {
    this.headListeners.add(fn);
    return () => this.headListeners.delete(fn);
  }

  private emitHead(b: L2Block): void {
    for (const fn of this.headListeners) {
      try {
        fn(b);
      } catch (e) {
        this.log.warn({ error: toStrataError(e).message }, 'head listener failed');
      }
    }
  }

  /** A transaction waiting in the sequencer pool. */
  pooledTx(hash: Uint8Array): VerifiedTx | undefined {
    return this.pool.get(toHex(hash));
  }

  /** Safe-head number. */
  get safeHead(): number {
    return this.safe;
  }

  private updateMetrics(): void {
    try {
      const h = this.heads();
      this.metrics.unsafeHead.set(h.unsafe);
      this.metrics.safeHead.set(h.safe);
      this.metrics.finalizedHead.set(h.finalized);
      this.metrics.l1Processed.set(this.derivation.l1Tip?.height ?? -1);
    } catch (e) {
      this.log.warn({ error: toStrataError(e).message }, 'metrics update failed');
    }
  }
}
