/**
 * The chain: validates and imports blocks, keeps the heaviest chain as head (reorganising
 * when a heavier branch appears), executes blocks with the runtime and commits each import as
 * one lmdb transaction. It makes no network calls and reads no clock: callers pass time in.
 */
import {
  blake2b256,
  bytesEqual,
  isLocalFault,
  StrataError,
  toHex,
  toStrataError,
  utf8,
} from '@strata/primitives';
import {
  applyBlock,
  applyGenesis,
  chainConfigToJson,
  encodeReceipt,
  getAccount,
  type Account,
  type BlockResult,
  type ChainConfig,
  type ExecEnv,
  type ModuleRegistry,
  type Receipt,
  verifyRawTx,
  type VerifiedTx,
  applyTx,
  checkBlockLimits,
  HOOK_FAILED_EVENT,
  txHashOf,
} from '@strata/runtime';
import {
  EMPTY_ROOT,
  LayeredNodeReader,
  MemoryNodeStore,
  OverlayView,
  SparseMerkleTree,
  type KeyChange,
  type NewNode,
  type NodeReader,
  type StateReader,
} from '@strata/state';
import { type Block, type BlockHeader, blockHash, encodeHeader, hashHeaderBytes, meetsTarget, workOf } from './block.js';
import { leafHash, merkleRoot } from './merkle.js';
import { genesisTarget, nextTarget } from './pow.js';
import type { BlockMeta, ChainStore } from './store.js';

/** Minimal logger shape (pino-compatible). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

const silent: Logger = { info() {}, warn() {}, debug() {} };

/** Dependencies and node-level settings of a Chain (none of them consensus rules). */
export interface ChainDeps {
  logger?: Logger;
  /**
   * Emergency brake (off unless set): a heavier branch that would revert more than this many
   * canonical blocks is NOT adopted; the chain stays on its head and raises a {@link ReorgAlarm}
   * until an operator calls `releaseReorgBrake()` (or restarts without the brake). Fork choice
   * by work is the consensus rule; this is a node operator's manual override, like a Bitcoin
   * node's `invalidateblock`, and splits the network for as long as it holds.
   */
  maxReorgDepth?: number;
  /**
   * How far ahead of the caller's clock (`importBlock`'s `now`) a block's timestamp may be, in
   * ms (default {@link DEFAULT_MAX_FUTURE_MS}). Such a block is refused for now, not marked
   * invalid: it is acceptable once the clock has caught up.
   */
  maxFutureMs?: number;
}

/** Blocks whose median timestamp a child must exceed (Bitcoin's median-time-past over 11). */
export const MEDIAN_TIME_SPAN = 11;

/** Default bound on a block's timestamp ahead of the importing node's clock (ms). */
export const DEFAULT_MAX_FUTURE_MS = 15_000;

/** The median of the timestamps given (the middle one after sorting; the upper middle for an even count). */
export function medianTimestamp(timestamps: readonly number[]): number {
  const sorted = [...timestamps].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** A heavier branch the reorg brake is holding back. */
export interface ReorgAlarm {
  /** Head of the heavier branch that was not adopted. */
  branchHead: Uint8Array;
  branchHeight: number;
  branchWork: bigint;
  /** Canonical blocks adopting it would revert. */
  depth: number;
  forkHeight: number;
  /** The brake's setting. */
  maxReorgDepth: number;
}

/** The head (or any block) with its metadata. */
export interface BlockRef {
  hash: Uint8Array;
  header: BlockHeader;
  meta: BlockMeta;
}

/** The outcome of executing a block on top of its parent. */
export interface Execution {
  txs: VerifiedTx[];
  result: BlockResult;
  changes: KeyChange[];
  stateRoot: Uint8Array;
  receiptRoot: Uint8Array;
  /** Canonical bytes of each receipt (hashed into the receipt root, stored as is). */
  receiptBytes: Uint8Array[];
  /** Tree nodes created, with their storage locations. */
  newNodes: NewNode[];
  /** Storage location of the state root's node (undefined for an empty state). */
  rootLoc: number | undefined;
  /**
   * Values the execution read from the head's flat state (when it ran on it), so the commit
   * need not read them again for the undo log.
   */
  headReads?: ReadonlyMap<string, Uint8Array | undefined>;
}

/** What an import did. */
export interface ImportResult {
  status: 'head' | 'side' | 'known' | 'reorg';
  hash: Uint8Array;
  height: number;
  reorg?: {
    /** Blocks removed from the canonical chain. */
    depth: number;
    oldHead: Uint8Array;
    forkHeight: number;
    /** Transactions of the removed blocks that the new branch does not include. */
    orphaned: VerifiedTx[];
  };
  /** Transactions newly included in the canonical chain (to drop from the mempool). */
  included: Uint8Array[];
}

/** A block template from `buildBlock`, ready for proof of work. */
export interface BuiltBlock {
  header: BlockHeader;
  execution: Execution;
  /** Candidates that could not be included, with the reason (invalid at this state). */
  rejected: { vtx: VerifiedTx; error: StrataError }[];
}

const ZERO32 = new Uint8Array(32);
const ZERO20 = new Uint8Array(20);

/** On-disk layout version (3: tree nodes in pages by location, roots table gives the root's location; 4: receipts hash error codes only, messages stored beside them). */
const STORAGE_FORMAT = '4';

function utf8Text(b: Uint8Array | undefined): string | undefined {
  return b ? new TextDecoder().decode(b) : undefined;
}

/** Hash committing to a chain config; stored in the genesis header's `extra`. */
export function configFingerprint(cfg: ChainConfig): Uint8Array {
  return blake2b256(utf8(JSON.stringify(chainConfigToJson(cfg))));
}

/** The chain state machine over a ChainStore. */
export class Chain {
  private headRef!: BlockRef;
  private genesisHashValue!: Uint8Array;
  private readonly log: Logger;
  private readonly maxReorgDepth: number | undefined;
  private readonly maxFutureMs: number;
  private alarm: ReorgAlarm | undefined;

  private constructor(
    readonly config: ChainConfig,
    readonly registry: ModuleRegistry,
    readonly store: ChainStore,
    deps: ChainDeps,
  ) {
    this.log = deps.logger ?? silent;
    if (deps.maxReorgDepth !== undefined && (!Number.isSafeInteger(deps.maxReorgDepth) || deps.maxReorgDepth < 1)) {
      throw new StrataError('CONFIG_INVALID', `maxReorgDepth must be a positive integer (got ${deps.maxReorgDepth}); leave it unset for no brake`);
    }
    this.maxReorgDepth = deps.maxReorgDepth;
    this.maxFutureMs = deps.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  }

  /** Opens the chain: writes genesis on an empty store, otherwise loads the stored head. */
  static open(config: ChainConfig, registry: ModuleRegistry, store: ChainStore, deps: ChainDeps = {}): Chain {
    registry.checkChildrenOf(config.chainId); // a child chain never shares its parent's id
    const c = new Chain(config, registry, store, deps);
    c.init();
    return c;
  }

  private init(): void {
    const genesis = this.makeGenesis();
    const stored = this.store.getGenesis();
    if (stored && utf8Text(this.store.getMisc('format')) !== STORAGE_FORMAT) {
      throw new StrataError(
        'CONFIG_INVALID',
        `the data directory was written by another Strata storage format (${utf8Text(this.store.getMisc('format')) ?? '1'}, this build uses ${STORAGE_FORMAT}); start with a fresh data dir`,
      );
    }
    if (stored) {
      if (!bytesEqual(stored, genesis.hash)) {
        throw new StrataError(
          'CONFIG_INVALID',
          `the data directory holds a chain with genesis ${toHex(stored)}, but this config gives genesis ${toHex(genesis.hash)}; use another data dir or the same config`,
        );
      }
    } else {
      this.store.write(() => {
        this.store.putBlock(genesis.hash, genesis.header, [], { height: 0, totalWork: workOf(genesis.header.target), status: 'executed' });
        this.store.state.applyChanges(genesis.changes, genesis.hash);
        this.store.state.putNodes(genesis.newNodes);
        this.store.state.putRoot(genesis.header.stateRoot, genesis.rootLoc);
        this.store.putMisc('format', utf8(STORAGE_FORMAT));
        this.store.putReceipts(genesis.hash, []);
        this.store.setCanonical(0, genesis.hash);
        this.store.setGenesis(genesis.hash);
        this.store.setHead(genesis.hash);
      });
      this.log.info({ hash: toHex(genesis.hash) }, 'genesis written');
    }
    this.genesisHashValue = genesis.hash;
    const head = this.store.getHead() as Uint8Array;
    this.headRef = this.ref(head);
  }

  private makeGenesis() {
    const header0: BlockHeader = {
      version: 1,
      chainId: this.config.chainId,
      parentHash: ZERO32,
      height: 0,
      timestamp: this.config.genesis.timestamp,
      txRoot: merkleRoot([]),
      stateRoot: EMPTY_ROOT,
      receiptRoot: merkleRoot([]),
      target: genesisTarget(this.config),
      producer: ZERO20,
      extra: configFingerprint(this.config),
      nonce: new Uint8Array(8),
    };
    const view = new OverlayView({ get: () => undefined });
    applyGenesis(view, this.env(header0));
    const changes = view.changes();
    const { root, rootLoc, newNodes } = new SparseMerkleTree(new MemoryNodeStore()).update(EMPTY_ROOT, changes, { locs: this.store.state.locations });
    const header = { ...header0, stateRoot: root };
    return { header, hash: blockHash(header), changes, newNodes, rootLoc };
  }

  private env(h: Pick<BlockHeader, 'height' | 'timestamp' | 'producer'>): ExecEnv {
    return { config: this.config, registry: this.registry, block: { height: h.height, timestamp: h.timestamp, producer: h.producer } };
  }

  private ref(hash: Uint8Array): BlockRef {
    const header = this.store.getHeader(hash);
    const meta = this.store.getMeta(hash);
    if (!header || !meta) throw new StrataError('NOT_FOUND', `block ${toHex(hash)} is not stored`);
    return { hash, header, meta };
  }

  /**
   * Re-reads the head from the store. Call after a write transaction that joined blocks into
   * one batch was aborted (a storage fault): the in-memory head may name a block never committed.
   */
  reloadHead(): void {
    this.headRef = this.ref(this.store.getHead() as Uint8Array);
  }

  /** The current head. */
  get head(): BlockRef {
    return this.headRef;
  }

  /** The genesis hash. */
  get genesisHash(): Uint8Array {
    return this.genesisHashValue;
  }

  /**
   * The highest block with at least `confirmations` blocks on top: what wallets and L2s wait
   * for. It is a depth, not a checkpoint: a heavier branch that forks below it still wins
   * (heaviest work is the only fork-choice rule), so a partition longer than `confirmations`
   * blocks heals; such a reorg reverts "finalized" blocks and is logged as deep.
   */
  get finalized(): BlockRef {
    const h = Math.max(0, this.headRef.meta.height - this.config.confirmations);
    return this.ref(this.store.getCanonical(h) as Uint8Array);
  }

  /** Reads head state. */
  get stateReader(): StateReader {
    return this.store.state.flatReader;
  }

  /** Tree nodes (all roots ever committed). */
  get nodeReader(): NodeReader {
    return this.store.state.nodeReader;
  }

  /** Account at the head. */
  account(address: Uint8Array): Account {
    return getAccount(this.store.state.flatReader, address);
  }

  /** Inclusion/exclusion proof of a state key at the head (or at `root`). */
  proof(key: Uint8Array, root: Uint8Array = this.headRef.header.stateRoot): { value: Uint8Array | undefined; proof: Uint8Array[] } {
    const tree = new SparseMerkleTree(this.store.state.nodeReader);
    return { value: tree.get(root, key), proof: tree.prove(root, key) };
  }

  /** Canonical block at a height. */
  blockAt(height: number): BlockRef | undefined {
    const h = this.store.getCanonical(height);
    return h ? this.ref(h) : undefined;
  }

  /** Any stored block by hash. */
  blockByHash(hash: Uint8Array): BlockRef | undefined {
    return this.store.hasBlock(hash) ? this.ref(hash) : undefined;
  }

  /** Whether a block is on the canonical chain. */
  isCanonical(hash: Uint8Array, height: number): boolean {
    const c = this.store.getCanonical(height);
    return !!c && bytesEqual(c, hash);
  }

  /** Target the child of `parent` must meet. */
  expectedTarget(parent: BlockRef): Uint8Array {
    const height = parent.meta.height + 1;
    const n = this.config.pow.retargetInterval;
    if (!this.config.pow.enabled || height % n !== 0 || height - n - 1 < 0) {
      return nextTarget(this.config, height, parent.header.target, parent.header.timestamp, undefined);
    }
    // Walk back along this branch to the window's first block.
    let h = parent.header;
    while (h.height > height - n - 1) {
      const p = this.store.getHeader(h.parentHash);
      if (!p) throw new StrataError('BLOCK_UNKNOWN_PARENT', 'ancestor missing for retarget');
      h = p;
    }
    return nextTarget(this.config, height, parent.header.target, parent.header.timestamp, h.timestamp);
  }

  /**
   * Median timestamp of `parent` and up to ten of its ancestors (median-time-past): a child's
   * timestamp must exceed it. Unlike "after the parent", one block stamped far ahead cannot
   * drag every later block's time with it.
   */
  medianTimePast(parent: BlockHeader): number {
    const ts: number[] = [parent.timestamp];
    let h = parent;
    while (ts.length < MEDIAN_TIME_SPAN && h.height > 0) {
      const p = this.store.getHeader(h.parentHash);
      if (!p) throw new StrataError('BLOCK_UNKNOWN_PARENT', `ancestor ${toHex(h.parentHash)} missing for median-time-past`);
      ts.push(p.timestamp);
      h = p;
    }
    return medianTimestamp(ts);
  }

  /**
   * Checks a header against its parent: height, time (above the median of the last 11 blocks
   * and, when `now` is given, at most `maxFutureMs` ahead of it), target, proof of work.
   */
  checkHeader(header: BlockHeader, hash: Uint8Array, parent: BlockRef, now?: number): void {
    if (header.chainId !== this.config.chainId) throw new StrataError('BLOCK_INVALID', `block is for chain ${header.chainId}`);
    if (header.version !== 1) throw new StrataError('BLOCK_INVALID', `unknown block version ${header.version}`);
    if (header.height !== parent.meta.height + 1) {
      throw new StrataError('BLOCK_INVALID', `height ${header.height} does not follow parent height ${parent.meta.height}`);
    }
    const mtp = this.medianTimePast(parent.header);
    if (header.timestamp <= mtp) {
      throw new StrataError('BLOCK_BAD_TIMESTAMP', `timestamp ${header.timestamp} is not after the median ${mtp} of the last ${MEDIAN_TIME_SPAN} blocks`, {
        timestamp: header.timestamp,
        medianTimePast: mtp,
      });
    }
    if (now !== undefined && header.timestamp > now + this.maxFutureMs) {
      throw new StrataError('BLOCK_BAD_TIMESTAMP', `timestamp ${header.timestamp} is more than ${this.maxFutureMs} ms ahead of this node's clock (${now}); refused for now`, {
        timestamp: header.timestamp,
        now,
        maxFutureMs: this.maxFutureMs,
      });
    }
    const target = this.expectedTarget(parent);
    if (!bytesEqual(target, header.target)) {
      throw new StrataError('BLOCK_BAD_TARGET', `target ${toHex(header.target)} is not the expected ${toHex(target)}`);
    }
    if (this.config.pow.enabled && !meetsTarget(hash, header.target)) {
      throw new StrataError('BLOCK_BAD_POW', `block hash ${toHex(hash)} does not meet its target`);
    }
  }

  /** Executes `txs` on top of `parent` over the given state reader; pure apart from reads. */
  execute(
    parentRoot: Uint8Array,
    base: StateReader,
    nodes: NodeReader,
    header: Pick<BlockHeader, 'height' | 'timestamp' | 'producer'>,
    txs: VerifiedTx[],
  ): Execution {
    // On the head's flat state, remember what was read: the commit's undo log needs those values.
    const recorder = base === this.store.state.flatReader ? this.store.state.recordingFlatReader() : undefined;
    const view = new OverlayView(recorder ?? base);
    const result = applyBlock(view, this.env(header), txs);
    const changes = view.changes();
    const { root, rootLoc, newNodes } = new SparseMerkleTree(nodes).update(parentRoot, changes, { locs: this.store.state.locations });
    const receiptBytes = result.receipts.map(encodeReceipt);
    const receiptRoot = merkleRoot(receiptBytes.map(leafHash));
    const exec: Execution = { txs, result, changes, stateRoot: root, receiptRoot, receiptBytes, newNodes, rootLoc };
    if (recorder) exec.headReads = recorder.reads;
    return exec;
  }

  /**
   * Builds a block on the head from candidate transactions (in the order given), skipping
   * any that are invalid at this state, within the block limits.
   */
  buildBlock(
    candidates: VerifiedTx[],
    opts: { producer: Uint8Array; timestamp: number; extra?: Uint8Array; timestampFloor?: 'parent' | 'median' },
  ): BuiltBlock {
    const parent = this.headRef;
    // The producer's clock, but after the parent's time (the default policy: blocks this node
    // builds keep L1 time increasing, which layers above may rely on) or only after the
    // median-time-past (`'median'`: the consensus floor, as Bitcoin's miner does).
    const floor = opts.timestampFloor === 'median' ? this.medianTimePast(parent.header) : parent.header.timestamp;
    const timestamp = Math.max(opts.timestamp, floor + 1);
    const info = { height: parent.meta.height + 1, timestamp, producer: opts.producer };
    const rejected: BuiltBlock['rejected'] = [];
    const accepted: VerifiedTx[] = [];
    // Trial-run each candidate on a scratch overlay so one bad transaction cannot spoil the block.
    const scratch = new OverlayView(this.store.state.flatReader);
    const env = this.env(info);
    let bytes = 0;
    let compute = 0;
    for (const vtx of candidates) {
      if (bytes + vtx.bytes.length > this.config.maxBlockBytes || compute + vtx.tx.computeLimit > this.config.maxBlockCompute) continue;
      const trial = new OverlayView(scratch);
      try {
        applyTx(trial, env, vtx, accepted.length);
      } catch (e) {
        // A disk fault is not the transaction's: stop building, keep it in the pool. An engine
        // fault (stack or memory exhausted) follows the transaction, so it is left out of this
        // node's block (no verdict: it is not recorded as a failed receipt); stopping instead
        // would let one such transaction halt block production for as long as it is pooled.
        if (isLocalFault(e) && toStrataError(e).code !== 'ENGINE_FAULT') throw e;
        rejected.push({ vtx, error: toStrataError(e) });
        continue;
      }
      trial.commitTo(scratch);
      accepted.push(vtx);
      bytes += vtx.bytes.length;
      compute += vtx.tx.computeLimit;
    }
    checkBlockLimits(this.config, accepted);
    const execution = this.execute(parent.header.stateRoot, this.store.state.flatReader, this.store.state.nodeReader, info, accepted);
    const header: BlockHeader = {
      version: 1,
      chainId: this.config.chainId,
      parentHash: parent.hash,
      height: info.height,
      timestamp,
      txRoot: merkleRoot(accepted.map((t) => t.hash)),
      stateRoot: execution.stateRoot,
      receiptRoot: execution.receiptRoot,
      target: this.expectedTarget(parent),
      producer: opts.producer,
      extra: opts.extra ?? new Uint8Array(0),
      nonce: new Uint8Array(8),
    };
    return { header, execution, rejected };
  }

  /**
   * Imports a block. `verified` carries the decoded transactions with senders already
   * recovered (e.g. on worker threads); without it they are verified here. `execution` may
   * carry the result of `buildBlock` for a block this node produced, to skip re-execution.
   * `now` (the caller's clock, ms) enables the future-drift rule. Throws a StrataError
   * (BLOCK_*) when the block is invalid, a local fault (STORAGE_FAULT, ENGINE_FAULT) when the
   * node could not judge it.
   */
  importBlock(block: Block, opts: { verified?: VerifiedTx[]; execution?: Execution; now?: number } = {}): ImportResult {
    const headerBytes = encodeHeader(block.header);
    const hash = hashHeaderBytes(headerBytes);
    const existing = this.store.getMeta(hash);
    if (existing) {
      if (existing.status === 'invalid') throw new StrataError('BLOCK_INVALID', `block ${toHex(hash)} was already found invalid`);
      return { status: 'known', hash, height: existing.height, included: [] };
    }
    const parentMeta = this.store.getMeta(block.header.parentHash);
    if (!parentMeta) {
      throw new StrataError('BLOCK_UNKNOWN_PARENT', `parent ${toHex(block.header.parentHash)} of block ${toHex(hash)} is unknown`, {
        parent: toHex(block.header.parentHash),
      });
    }
    if (parentMeta.status === 'invalid') throw new StrataError('BLOCK_INVALID', 'block builds on an invalid block');
    const parent = this.ref(block.header.parentHash);
    this.checkHeader(block.header, hash, parent, opts.now);
    const txs = opts.verified ?? this.verifyTxs(block.txs);
    if (txs.length !== block.txs.length) throw new StrataError('BLOCK_INVALID', 'verified transactions do not match the block');
    const txRoot = merkleRoot(txs.map((t) => t.hash));
    if (!bytesEqual(txRoot, block.header.txRoot)) throw new StrataError('BLOCK_BAD_TX_ROOT', `tx root does not match the block's ${txs.length} transactions`);
    checkBlockLimits(this.config, txs);
    const meta: BlockMeta = { height: block.header.height, totalWork: parentMeta.totalWork + workOf(block.header.target), status: 'stored' };

    if (bytesEqual(parent.hash, this.headRef.hash)) {
      const exec =
        opts.execution && bytesEqual(opts.execution.stateRoot, block.header.stateRoot)
          ? opts.execution
          : this.executeChecked(block.header, hash, parent, this.store.state.flatReader, this.store.state.nodeReader, txs);
      this.store.write(() => this.commitExtension(hash, block, meta, exec, headerBytes));
      this.headRef = { hash, header: block.header, meta: { ...meta, status: 'executed' } };
      this.clearAlarmIfPassed();
      return { status: 'head', hash, height: meta.height, included: txs.map((t) => t.hash) };
    }

    if (meta.totalWork <= this.headRef.meta.totalWork) {
      this.store.write(() => this.store.putBlock(hash, block.header, block.txs, meta, headerBytes));
      return { status: 'side', hash, height: meta.height, included: [] };
    }
    // Heavier branch: store the block, then try to reorganise onto it.
    this.store.write(() => this.store.putBlock(hash, block.header, block.txs, meta, headerBytes));
    return this.reorgTo(hash, txs);
  }

  private executeChecked(
    header: BlockHeader,
    hash: Uint8Array,
    parent: BlockRef,
    base: StateReader,
    nodes: NodeReader,
    txs: VerifiedTx[],
  ): Execution {
    let exec: Execution;
    try {
      exec = this.execute(parent.header.stateRoot, base, nodes, header, txs);
    } catch (e) {
      throw asBlockVerdict(e, hash);
    }
    if (!bytesEqual(exec.stateRoot, header.stateRoot)) {
      throw new StrataError('BLOCK_BAD_STATE_ROOT', `state root ${toHex(header.stateRoot)} does not match execution (${toHex(exec.stateRoot)})`);
    }
    if (!bytesEqual(exec.receiptRoot, header.receiptRoot)) {
      throw new StrataError('BLOCK_INVALID', 'receipt root does not match execution');
    }
    return exec;
  }

  private commitExtension(hash: Uint8Array, block: Block, meta: BlockMeta, exec: Execution, headerBytes?: Uint8Array): void {
    this.store.putBlock(hash, block.header, block.txs, { ...meta, status: 'executed' }, headerBytes);
    // The head reads are only valid while the flat state is still the one the block ran on.
    const onHead = exec.headReads && bytesEqual(block.header.parentHash, this.store.getHead() ?? new Uint8Array(0));
    this.store.state.applyChanges(exec.changes, hash, onHead ? exec.headReads : undefined);
    this.store.state.putNodes(exec.newNodes);
    this.store.state.putRoot(exec.stateRoot, exec.rootLoc);
    this.store.putReceiptBytes(
      hash,
      exec.receiptBytes,
      exec.result.receipts.map((r) => r.error?.message ?? ''),
    );
    this.store.setCanonical(meta.height, hash);
    exec.txs.forEach((t, index) => {
      this.store.putTxLocation(t.hash, { blockHash: hash, index });
    });
    this.store.setHead(hash);
    for (const e of exec.result.events) {
      if (e.type === HOOK_FAILED_EVENT) {
        this.log.warn({ height: meta.height, hash: toHex(hash), module: e.module, ...e.data }, 'module block hook failed; its state changes were rolled back and the block went on');
      }
    }
  }

  /** Decodes and recovers the senders of raw transactions on this thread. */
  verifyTxs(raw: Uint8Array[]): VerifiedTx[] {
    return raw.map((b, i) => {
      try {
        return verifyRawTx(b, this.config.maxTxBytes);
      } catch (e) {
        const err = toStrataError(e);
        throw new StrataError('BLOCK_INVALID', `transaction ${i} of the block is malformed: ${err.message}`, { cause: err.code });
      }
    });
  }

  /**
   * Switches the canonical chain to end at `newHead` (already stored). The old branch's state
   * is undone in memory, the new branch executed on top, and everything is committed in one
   * transaction; if any block of the new branch is invalid nothing changes and it is marked.
   */
  private reorgTo(newHead: Uint8Array, newHeadTxs?: VerifiedTx[], force = false): ImportResult {
    // Collect the new branch back to the canonical chain.
    const branch: BlockRef[] = [];
    let cur = this.ref(newHead);
    while (!this.isCanonical(cur.hash, cur.meta.height)) {
      branch.unshift(cur);
      cur = this.ref(cur.header.parentHash);
    }
    const fork = cur;
    const oldHead = this.headRef;
    const depth = oldHead.meta.height - fork.meta.height;
    const tip = branch[branch.length - 1] as BlockRef;
    if (!force && this.maxReorgDepth !== undefined && depth > this.maxReorgDepth) {
      const alarm: ReorgAlarm = {
        branchHead: tip.hash,
        branchHeight: tip.meta.height,
        branchWork: tip.meta.totalWork,
        depth,
        forkHeight: fork.meta.height,
        maxReorgDepth: this.maxReorgDepth,
      };
      this.alarm = alarm;
      this.log.warn(
        { depth, forkHeight: fork.meta.height, maxReorgDepth: this.maxReorgDepth, branchHead: toHex(tip.hash), branchHeight: tip.meta.height },
        'REORG BRAKE ENGAGED: a heavier branch would revert more blocks than maxReorgDepth; staying on the lighter head until an operator releases the brake (admin_releaseReorgBrake)',
      );
      return { status: 'side', hash: newHead, height: tip.meta.height, included: [] };
    }
    const finalizedHeight = Math.max(0, oldHead.meta.height - this.config.confirmations);
    if (fork.meta.height < finalizedHeight) {
      this.log.warn(
        { fork: fork.meta.height, finalized: finalizedHeight, depth, branchHead: toHex(newHead) },
        'deep reorg: a heavier branch forks below the finalized block; following the heaviest work (finalized blocks are reverted)',
      );
    }
    // Undo the old branch in memory.
    const undo = new OverlayView(this.store.state.flatReader);
    const oldBlocks: BlockRef[] = [];
    for (let h = oldHead.meta.height; h > fork.meta.height; h--) {
      const r = this.ref(this.store.getCanonical(h) as Uint8Array);
      oldBlocks.push(r);
      for (const c of this.store.state.readUndo(r.hash)) {
        if (c.value === null) undo.del(c.key);
        else undo.put(c.key, c.value);
      }
    }
    // Execute the new branch on top.
    const mem = new MemoryNodeStore();
    const nodes = new LayeredNodeReader(mem, this.store.state.nodeReader);
    let base: StateReader = undo;
    let parent = fork;
    const executed: { ref: BlockRef; exec: Execution; body: Uint8Array[] }[] = [];
    for (const b of branch) {
      const body = this.store.getBody(b.hash) ?? [];
      try {
        const txs = b.hash === newHead && newHeadTxs ? newHeadTxs : this.verifyTxs(body);
        const exec = this.executeChecked(b.header, b.hash, parent, base, nodes, txs);
        mem.addAll(exec.newNodes);
        const layer = new OverlayView(base);
        for (const c of exec.changes) {
          if (c.value === null) layer.del(c.key);
          else layer.put(c.key, c.value);
        }
        base = layer;
        executed.push({ ref: b, exec, body });
        parent = b;
      } catch (e) {
        // A local fault is no verdict on the block: leave it stored, unmarked, for the retry.
        if (isLocalFault(e)) throw e;
        this.store.write(() => this.store.putMeta(b.hash, { ...b.meta, status: 'invalid' }));
        this.log.warn({ hash: toHex(b.hash), error: toStrataError(e).message }, 'block on heavier branch is invalid; staying on current head');
        throw e;
      }
    }
    // Commit: revert old blocks, apply new ones, fix indexes, move head.
    this.store.write(() => {
      for (const r of oldBlocks) {
        this.store.state.revert(r.hash);
        this.store.deleteCanonical(r.meta.height);
        for (const raw of this.store.getBody(r.hash) ?? []) this.store.deleteTxLocation(txHashOf(raw));
        this.store.putMeta(r.hash, { ...r.meta, status: 'executed' });
      }
      for (const { ref, exec, body } of executed) {
        this.commitExtension(ref.hash, { header: ref.header, txs: body }, ref.meta, exec);
      }
    });
    const last = executed[executed.length - 1] as (typeof executed)[number];
    this.headRef = { hash: last.ref.hash, header: last.ref.header, meta: { ...last.ref.meta, status: 'executed' } };
    this.clearAlarmIfPassed();
    const included = new Set<string>();
    for (const e of executed) for (const t of e.exec.txs) included.add(toHex(t.hash));
    const orphaned: VerifiedTx[] = [];
    for (const r of [...oldBlocks].reverse()) {
      for (const raw of this.store.getBody(r.hash) ?? []) {
        try {
          const v = verifyRawTx(raw, this.config.maxTxBytes);
          if (!included.has(toHex(v.hash))) orphaned.push(v);
        } catch {
          // was valid when mined; cannot happen
        }
      }
    }
    this.log.info(
      { depth: oldBlocks.length, forkHeight: fork.meta.height, oldHead: toHex(oldHead.hash), newHead: toHex(this.headRef.hash), orphaned: orphaned.length },
      'chain reorganised',
    );
    return {
      status: 'reorg',
      hash: newHead,
      height: this.headRef.meta.height,
      reorg: { depth: oldBlocks.length, oldHead: oldHead.hash, forkHeight: fork.meta.height, orphaned },
      included: [...included].map((h) => Uint8Array.from(Buffer.from(h.slice(2), 'hex'))),
    };
  }

  /** The heavier branch the reorg brake holds back, if it is engaged (see `ChainDeps.maxReorgDepth`). */
  get reorgAlarm(): ReorgAlarm | undefined {
    return this.alarm;
  }

  /**
   * Operator's way out of an engaged reorg brake: adopts the held heavier branch now (the one
   * reorg the brake refused), then clears the alarm. Throws NOT_FOUND when the brake is not engaged.
   */
  releaseReorgBrake(): ImportResult {
    const a = this.alarm;
    if (!a) throw new StrataError('NOT_FOUND', 'the reorg brake is not engaged: there is no held branch to adopt');
    const meta = this.store.getMeta(a.branchHead);
    this.alarm = undefined;
    if (!meta || meta.totalWork <= this.headRef.meta.totalWork) {
      return { status: 'known', hash: a.branchHead, height: a.branchHeight, included: [] };
    }
    this.log.warn({ branchHead: toHex(a.branchHead), depth: a.depth }, 'reorg brake released by the operator; adopting the heavier branch');
    return this.reorgTo(a.branchHead, undefined, true);
  }

  private clearAlarmIfPassed(): void {
    if (this.alarm && this.headRef.meta.totalWork >= this.alarm.branchWork) this.alarm = undefined;
  }

  /**
   * Dev mode: makes `hash` (a canonical ancestor) the head again, discarding the blocks after
   * it (anvil's `evm_revert`). Returns the transactions of the discarded blocks.
   */
  rewindTo(hash: Uint8Array): VerifiedTx[] {
    const target = this.blockByHash(hash);
    if (!target || !this.isCanonical(hash, target.meta.height)) {
      throw new StrataError('NOT_FOUND', `block ${toHex(hash)} is not on the canonical chain`);
    }
    const dropped: BlockRef[] = [];
    for (let h = this.headRef.meta.height; h > target.meta.height; h--) dropped.push(this.ref(this.store.getCanonical(h) as Uint8Array));
    const txs: VerifiedTx[] = [];
    this.store.write(() => {
      for (const r of dropped) {
        this.store.state.revert(r.hash);
        this.store.deleteCanonical(r.meta.height);
        for (const raw of this.store.getBody(r.hash) ?? []) {
          const v = verifyRawTx(raw);
          txs.push(v);
          this.store.deleteTxLocation(v.hash);
        }
        // Mark discarded blocks invalid so fork choice never returns to them.
        this.store.putMeta(r.hash, { ...r.meta, status: 'invalid' });
      }
      this.store.setHead(hash);
    });
    this.headRef = this.ref(hash);
    return txs;
  }

  /** Finds a canonical transaction with its receipt. */
  lookupTx(hash: Uint8Array): TxLookup | undefined {
    const loc = this.store.getTxLocation(hash);
    if (!loc) return undefined;
    const block = this.blockByHash(loc.blockHash);
    const raw = this.store.getBody(loc.blockHash)?.[loc.index];
    const receipt = this.store.getReceipts(loc.blockHash)?.[loc.index];
    if (!block || !raw || !receipt) return undefined;
    return { tx: verifyRawTx(raw), blockHash: loc.blockHash, height: block.meta.height, index: loc.index, receipt };
  }

  /** Receipts of a stored, executed block. */
  receipts(hash: Uint8Array): Receipt[] | undefined {
    return this.store.getReceipts(hash);
  }
}

/**
 * What an exception during a block's execution means. A local fault (storage, engine) stays one
 * (the import is aborted and retried; the block is not judged); so does any foreign exception
 * outside a transaction's method (our code or the engine failed, not the block). A StrataError
 * is the block's fault: BLOCK_INVALID naming the cause.
 */
function asBlockVerdict(e: unknown, hash: Uint8Array): StrataError {
  if (isLocalFault(e)) return e as StrataError;
  if (!(e instanceof StrataError)) {
    const msg = e instanceof Error ? e.message : String(e);
    return new StrataError('ENGINE_FAULT', `engine fault executing block ${toHex(hash)}: ${msg}; the import is aborted and retried`, {}, { cause: e });
  }
  return new StrataError('BLOCK_INVALID', `block ${toHex(hash)} contains an invalid transaction: ${e.message}`, { cause: e.code });
}

/** Receipt of a transaction with its location. */
export interface TxLookup {
  tx: VerifiedTx;
  blockHash: Uint8Array;
  height: number;
  index: number;
  receipt: Receipt;
}
