/**
 * StrataNode: wires a chain, its mempool, block production, the JSON-RPC server, metrics and
 * (optionally) the peer-to-peer network into one service with `start()` / `stop()`. Blocks
 * from any source go through one serialised import queue; every state change an operator
 * cares about gets a log line.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { Logger as PinoLogger } from 'pino';
import {
  blockHash,
  Chain,
  ChainStore,
  DEFAULT_MAX_FUTURE_MS,
  Mempool,
  Miner,
  TxVerifier,
  type Block,
  type BlockRef,
  type Execution,
  type ImportResult,
  type MempoolOptions,
} from '@strata/chain';
import { initHashing, isLocalFault, StrataError, toHex, toStrataError } from '@strata/primitives';
import { bankModule, ModuleRegistry, verifyRawTx, type ChainConfig, type Module, type VerifiedTx } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { lockDataDir } from './data-lock.js';
import { NodeMetrics } from './metrics.js';

/** How this node produces blocks. */
export type MiningMode = 'off' | 'dev' | 'pow';

/** Node settings (not protocol rules: those are in ChainConfig). */
export interface NodeOptions {
  dataDir: string;
  config: ChainConfig;
  /** Runtime modules; default `[bankModule]`. Layers add their settlement modules here. */
  modules?: Module[];
  /** Address credited with fees and rewards of blocks this node produces. */
  producer?: Uint8Array;
  /** `dev` seals blocks instantly or every `blockTimeMs`; `pow` mines on a worker thread. */
  mining?: MiningMode;
  /** Dev mode: 0 seals a block as soon as a transaction arrives; otherwise the interval. */
  blockTimeMs?: number;
  mempool?: MempoolOptions;
  /** Signature-recovery worker threads (default: cores). */
  verifierThreads?: number;
  /** Blocks from the network with a timestamp further ahead than this are refused. */
  maxFutureMs?: number;
  /**
   * Reorg brake: refuse (and alarm on) a heavier branch that would revert more than this many
   * blocks. With proof of work it is an emergency brake, off by default (the heaviest work wins
   * however deep it forks). Without proof of work (dev sealing) "heaviest" is only "longest", so a
   * peer could rewrite history for free: there it defaults to the chain's `confirmations`; a
   * larger number raises it and `Infinity` turns it off. See docs/network.md "Deep reorgs and
   * the reorg brake".
   */
  maxReorgDepth?: number;
  /**
   * An external block-production engine (e.g. a layer's BFT consensus), started after the
   * network and stopped before it. Run it with `mining: 'off'`; it builds blocks with
   * `buildCandidate` and imports decided ones with `importDecided`.
   */
  engine?: BlockEngine;
}

/** A block-production engine that lives outside this package (see `NodeOptions.engine`). */
export interface BlockEngine {
  start(node: StrataNode): Promise<void>;
  stop(): Promise<void>;
}

/** Waits before each retry of an import that a local fault aborted (then it gives up). */
const FAULT_RETRY_MS = [20, 200, 1000];

/** Something that carries blocks and transactions to and from peers. */
export interface NodeNetwork {
  start(node: StrataNode): Promise<void>;
  stop(): Promise<void>;
  broadcastBlock(block: Block): void;
  broadcastTxs(raw: Uint8Array[]): void;
  info(): { peerId: string; multiaddrs: string[]; listen?: string[]; networkId?: string };
  peers(): { id: string; addrs: string[]; score: number; direction: string }[];
  /** Optional operator controls (admin_* RPC): dial, disconnect, block and unblock peers. */
  admin?: NetworkAdmin;
}

/** Operator controls of a network, exposed as admin_* RPC methods. */
export interface NetworkAdmin {
  /** Dials a multiaddr ending in /p2p/<peerId>. */
  addPeer(addr: string): Promise<void>;
  /** Closes the connections to a peer (it may reconnect). */
  disconnectPeer(peerId: string): Promise<void>;
  /** Disconnects a peer and refuses it for `seconds`. */
  blockPeer(peerId: string, seconds: number): void;
  /** Lifts a block placed with `blockPeer` (or a ban). */
  unblockPeer(peerId: string): void;
  /** Sync state: whether syncing, from whom, and counters. */
  syncStatus(): Record<string, unknown>;
}

/** Outcome of `importNetworkBlocks`: one result per imported block, and the first failure. */
export interface BatchImportResult {
  results: ImportResult[];
  failure?: { index: number; error: StrataError };
}

/** Events: `head` (BlockRef), `reorg` (ImportResult), `txAccepted` (VerifiedTx). */
export interface NodeEvents {
  head: [BlockRef];
  reorg: [ImportResult];
  txAccepted: [VerifiedTx];
}

/** A full node of one chain. */
export class StrataNode extends EventEmitter<NodeEvents> {
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly metrics: NodeMetrics;
  readonly registry: ModuleRegistry;
  readonly log: PinoLogger;
  network: NodeNetwork | undefined;
  private readonly verifier: TxVerifier;
  private readonly miner = new Miner();
  private importQueue: Promise<unknown> = Promise.resolve();
  private mining: MiningMode;
  private blockTimeMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sealScheduled = false;
  private powAbort: AbortController | undefined;
  private powLoop: Promise<void> | undefined;
  private running = false;
  /** Set by the first `stop()`, started or not: the database is closed and the lock released. */
  private closed = false;
  /** Dev clock offset (dev_increaseTime). */
  timeOffsetMs = 0;
  readonly producer: Uint8Array;
  /** Releases the data dir's lock. */
  private readonly unlock: () => void;
  /** Branch head of the reorg alarm last mirrored in metrics and logs. */
  private alarmSeen: string | undefined;

  private constructor(
    readonly opts: NodeOptions,
    deps: { logger: PinoLogger; metrics?: NodeMetrics },
  ) {
    super();
    this.log = deps.logger;
    this.metrics = deps.metrics ?? new NodeMetrics();
    mkdirSync(opts.dataDir, { recursive: true });
    this.registry = new ModuleRegistry(opts.modules ?? [bankModule]);
    this.unlock = lockDataDir(opts.dataDir);
    try {
      const store = new ChainStore(openDatabase({ path: opts.dataDir }));
      this.chain = Chain.open(opts.config, this.registry, store, {
        logger: this.log,
        maxFutureMs: opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS,
        ...reorgBrake(opts),
      });
    } catch (e) {
      this.unlock();
      throw e;
    }
    this.mempool = new Mempool(opts.config, this.registry, opts.mempool);
    this.verifier = new TxVerifier(opts.verifierThreads);
    this.mining = opts.mining ?? 'off';
    this.blockTimeMs = opts.blockTimeMs ?? 0;
    this.producer = opts.producer ?? new Uint8Array(20);
  }

  /** Opens the node's database (creating genesis on first run). Call `start()` to run it. */
  static async create(opts: NodeOptions, deps: { logger: PinoLogger; metrics?: NodeMetrics }): Promise<StrataNode> {
    await initHashing();
    return new StrataNode(opts, deps);
  }

  /** Current time as this node sees it (wall clock plus the dev offset). */
  now(): number {
    return Date.now() + this.timeOffsetMs;
  }

  /** Starts block production and the network. */
  async start(): Promise<void> {
    this.running = true;
    const head = this.chain.head;
    this.metrics.headHeight.set(head.meta.height);
    this.log.info(
      { height: head.meta.height, hash: toHex(head.hash), genesis: toHex(this.chain.genesisHash), mining: this.mining },
      'node started',
    );
    if (this.network) await this.network.start(this);
    await this.opts.engine?.start(this);
    this.applyMiningMode();
  }

  /** Stops production, the network and the database, and frees the data dir. Safe to call twice, and on a node never started. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.stopProduction();
    await this.powLoop?.catch(() => {});
    await this.opts.engine?.stop();
    await this.network?.stop();
    await this.importQueue.catch(() => {});
    await this.miner.stop();
    await this.verifier.stop();
    await this.chain.store.close();
    this.unlock();
    this.log.info({}, 'node stopped');
  }

  private stopProduction(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.powAbort?.abort();
  }

  private applyMiningMode(): void {
    this.stopProduction();
    if (!this.running) return;
    if (this.mining === 'dev' && this.blockTimeMs > 0) {
      this.timer = setInterval(() => void this.sealDevBlock().catch((e) => this.log.warn({ err: toStrataError(e).message }, 'sealing failed')), this.blockTimeMs);
    } else if (this.mining === 'pow') {
      this.powLoop = this.runPow();
    }
  }

  /** Dev mode: changes the block interval (0 = seal on each transaction). */
  setBlockInterval(ms: number): void {
    this.blockTimeMs = ms;
    this.log.info({ blockTimeMs: ms }, 'block interval changed');
    this.applyMiningMode();
  }

  get blockInterval(): number {
    return this.blockTimeMs;
  }

  get miningMode(): MiningMode {
    return this.mining;
  }

  /** Runs `fn` after every earlier import, one at a time. */
  private serialize<T>(fn: () => Promise<T> | T): Promise<T> {
    const p = this.importQueue.then(fn, fn);
    this.importQueue = p.catch(() => {});
    return p;
  }

  /**
   * Submits a raw transaction: decoded, signature checked, admitted to the mempool (or
   * rejected with a StrataError naming the reason), gossiped, and in dev automine sealed.
   */
  submitTx(raw: Uint8Array, opts: { gossip?: boolean } = {}): VerifiedTx {
    let vtx: VerifiedTx;
    try {
      vtx = verifyRawTx(raw, this.opts.config.maxTxBytes);
    } catch (e) {
      const err = toStrataError(e);
      this.metrics.txsRejected.inc({ reason: err.code });
      this.log.info({ reason: err.code, error: err.message }, 'transaction rejected');
      throw err;
    }
    return this.acceptTx(vtx, opts);
  }

  /**
   * Admits a transaction whose sender is already recovered (e.g. a gossip batch recovered on the
   * worker pool): mempool checks (nonce, balance, limits), then as `submitTx`.
   */
  acceptTx(vtx: VerifiedTx, opts: { gossip?: boolean } = {}): VerifiedTx {
    const raw = vtx.bytes;
    try {
      this.mempool.add(vtx, this.chain.account(vtx.sender));
    } catch (e) {
      const err = toStrataError(e);
      this.metrics.txsRejected.inc({ reason: err.code });
      this.log.info({ reason: err.code, error: err.message }, 'transaction rejected');
      throw err;
    }
    this.metrics.txsAccepted.inc();
    this.metrics.mempoolSize.set(this.mempool.size);
    this.log.debug({ hash: toHex(vtx.hash), sender: toHex(vtx.sender), nonce: vtx.tx.nonce }, 'transaction accepted');
    this.emit('txAccepted', vtx);
    if (opts.gossip !== false) this.network?.broadcastTxs([raw]);
    if (this.mining === 'dev' && this.blockTimeMs === 0) this.scheduleSeal();
    return vtx;
  }

  private scheduleSeal(): void {
    if (this.sealScheduled) return;
    this.sealScheduled = true;
    setImmediate(() => {
      this.sealScheduled = false;
      void this.sealDevBlock().catch((e) => this.log.warn({ err: toStrataError(e).message }, 'sealing failed'));
    });
  }

  /** Builds a block from the mempool on the current head (no proof of work yet). */
  private buildFromMempool() {
    const cfg = this.opts.config;
    const candidates = this.mempool.select({ maxBytes: cfg.maxBlockBytes, maxCompute: cfg.maxBlockCompute }, (a) => this.chain.account(a));
    const built = this.chain.buildBlock(candidates, { producer: this.producer, timestamp: this.now() });
    for (const r of built.rejected) {
      this.log.info({ hash: toHex(r.vtx.hash), reason: r.error.code, error: r.error.message }, 'transaction dropped from mempool');
      this.metrics.txsRejected.inc({ reason: r.error.code });
    }
    this.mempool.remove(built.rejected.map((r) => r.vtx.hash));
    return built;
  }

  /**
   * For an external engine: builds a candidate block on the head from `leading` transactions
   * (e.g. the engine's own system transactions) followed by the mempool's best, without
   * importing it. Mempool transactions invalid at this state are dropped from the pool.
   */
  buildCandidate(opts: { producer: Uint8Array; timestamp: number; leading?: VerifiedTx[] }) {
    const cfg = this.opts.config;
    const candidates = [...(opts.leading ?? []), ...this.mempool.select({ maxBytes: cfg.maxBlockBytes, maxCompute: cfg.maxBlockCompute }, (a) => this.chain.account(a))];
    const built = this.chain.buildBlock(candidates, { producer: opts.producer, timestamp: opts.timestamp });
    const leading = new Set(opts.leading ?? []);
    const dropped = built.rejected.filter((r) => !leading.has(r.vtx));
    for (const r of dropped) this.log.info({ hash: toHex(r.vtx.hash), reason: r.error.code, error: r.error.message }, 'transaction dropped from mempool');
    this.mempool.remove(dropped.map((r) => r.vtx.hash));
    return built;
  }

  /**
   * For an external engine: imports a block it decided (final), reusing the execution it ran
   * when it checked the block. Serialised with every other import.
   */
  importDecided(block: Block, opts: { verified?: VerifiedTx[]; execution?: Execution } = {}, source = 'engine'): Promise<ImportResult> {
    return this.serialize(() => {
      const res = this.chain.importBlock(block, opts);
      this.afterImport(block, res, source);
      return res;
    });
  }

  /** Dev mode: seals one block now (any nonce is valid). Returns its ref. */
  sealDevBlock(): Promise<BlockRef> {
    return this.serialize(() => {
      const built = this.buildFromMempool();
      const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
      const res = this.chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
      this.afterImport(block, res, 'local');
      this.network?.broadcastBlock(block);
      return this.chain.head;
    });
  }

  /** Mines `count` blocks now (dev mode seals, PoW mode mines each with real work). */
  async mineBlocks(count: number): Promise<BlockRef> {
    for (let i = 0; i < count; i++) {
      if (this.opts.config.pow.enabled) await this.mineOnePow();
      else await this.sealDevBlock();
    }
    return this.chain.head;
  }

  private async mineOnePow(signal?: AbortSignal): Promise<boolean> {
    const built = await this.serialize(() => this.buildFromMempool());
    const sealed = await this.miner.mine(built.header, signal);
    if (!sealed) return false;
    const block: Block = { header: sealed, txs: built.execution.txs.map((t) => t.bytes) };
    return this.serialize(() => {
      if (!bytesEqualHex(block.header.parentHash, this.chain.head.hash)) return false; // head moved while mining
      const res = this.chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
      this.afterImport(block, res, 'mined');
      this.network?.broadcastBlock(block);
      return true;
    });
  }

  private async runPow(): Promise<void> {
    while (this.running && this.mining === 'pow') {
      const ctrl = new AbortController();
      this.powAbort = ctrl;
      // Refresh the template regularly so new transactions get in.
      const refresh = setTimeout(() => ctrl.abort(), Math.max(1000, this.opts.config.targetBlockTimeMs));
      const onHead = () => ctrl.abort();
      this.once('head', onHead);
      try {
        await this.mineOnePow(ctrl.signal);
      } catch (e) {
        this.log.warn({ err: toStrataError(e).message }, 'mining attempt failed');
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        clearTimeout(refresh);
        this.off('head', onHead);
      }
    }
  }

  /**
   * Imports a block from a peer: transactions verified on the worker pool, timestamp checked
   * against the local clock, then the serialised chain import. Throws on an invalid block.
   */
  importNetworkBlock(block: Block, from?: string): Promise<ImportResult> {
    return this.serialize(async () => {
      const hash = blockHash(block.header);
      if (this.chain.store.hasBlock(hash)) return this.chain.importBlock(block);
      const end = this.metrics.importSeconds.startTimer();
      try {
        let verified: VerifiedTx[];
        try {
          verified = await this.verifier.verify(block.txs, this.opts.config.maxTxBytes, (h) => this.mempool.get(h));
        } catch (e) {
          const err = toStrataError(e);
          throw new StrataError('BLOCK_INVALID', `block ${toHex(hash)}: ${err.message}`, { cause: err.code });
        }
        const res = await this.retryLocalFaults(() => this.chain.importBlock(block, { verified, now: this.now() }), hash);
        this.afterImport(block, res, from ?? 'network');
        return res;
      } catch (e) {
        const err = toStrataError(e);
        if (isLocalFault(err)) {
          this.log.error({ hash: toHex(hash), height: block.header.height, from, reason: err.code, error: err.message }, 'block import aborted by a local fault (not judged; it is imported when offered again)');
        } else if (err.code !== 'BLOCK_UNKNOWN_PARENT') {
          this.metrics.blocksRejected.inc({ reason: err.code });
          this.log.warn({ hash: toHex(hash), height: block.header.height, from, reason: err.code, error: err.message }, 'block rejected');
        }
        throw err;
      } finally {
        end();
      }
    });
  }

  /**
   * Runs an import, retrying it after a local fault (storage or engine): such a fault aborts
   * the write transaction, so nothing of the attempt is kept, and says nothing about the block.
   * Gives up (throwing the fault) after `FAULT_RETRY_MS.length` retries.
   */
  private async retryLocalFaults<T>(run: () => T, hash: Uint8Array): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return run();
      } catch (e) {
        this.chain.reloadHead();
        if (!isLocalFault(e)) throw e;
        const err = e as StrataError;
        this.metrics.importFaults.inc({ reason: err.code });
        const wait = FAULT_RETRY_MS[attempt];
        if (wait === undefined) throw e;
        this.log.warn({ hash: toHex(hash), attempt: attempt + 1, reason: err.code, error: err.message, retryInMs: wait }, 'local fault during block import; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /**
   * Imports consecutive blocks from a peer (sync): all their transactions are verified on the
   * worker pool in one call, then the blocks are imported in order inside one lmdb write
   * transaction (one durable commit per batch instead of per block). Stops at the first block
   * that fails and reports it; the blocks before it stay imported.
   */
  importNetworkBlocks(blocks: Block[], from?: string, preverified?: Promise<VerifiedTx[]>): Promise<BatchImportResult> {
    // Signature recovery starts now, on the worker pool, even if an earlier import is still
    // running: a caller that passes `preverified` (started when the bodies arrived) overlaps
    // recovery for the next batch with the import of this one.
    const verifying = preverified ?? this.verifyBlockTxs(blocks);
    verifying.catch(() => undefined);
    return this.serialize(async () => {
      const results: ImportResult[] = [];
      const raw: Uint8Array[] = [];
      for (const b of blocks) for (const t of b.txs) raw.push(t);
      let verified: VerifiedTx[];
      try {
        // Recover on this thread too what the workers have not started yet, rather than idle.
        this.verifier.help(verifying);
        verified = await verifying;
      } catch {
        // Find the culprit block by verifying them one at a time below.
        verified = [];
      }
      let failure: { index: number; error: StrataError } | undefined;
      const end = this.metrics.importSeconds.startTimer();
      // One write transaction for the batch. A local fault aborts all of it (nothing half
      // written) and the batch is retried; `afterImport` runs once the batch is committed.
      const attempt = () => {
        failure = undefined;
        results.length = 0;
        this.chain.store.write(() => {
          let offset = 0;
          for (let i = 0; i < blocks.length; i++) {
            const block = blocks[i] as Block;
            try {
              const txs = verified.length === raw.length ? verified.slice(offset, offset + block.txs.length) : undefined;
              let res: ImportResult;
              try {
                res = this.chain.importBlock(block, txs ? { verified: txs, now: this.now() } : { now: this.now() });
              } catch (e) {
                const err = toStrataError(e);
                if (err.code.startsWith('BLOCK_') || isLocalFault(err)) throw err;
                throw new StrataError('BLOCK_INVALID', `block ${toHex(blockHash(block.header))}: ${err.message}`, { cause: err.code });
              }
              offset += block.txs.length;
              results.push(res);
            } catch (e) {
              const err = toStrataError(e);
              if (isLocalFault(err)) throw err; // aborts the transaction
              if (err.code !== 'BLOCK_UNKNOWN_PARENT') {
                this.metrics.blocksRejected.inc({ reason: err.code });
                this.log.warn({ hash: toHex(blockHash(block.header)), height: block.header.height, from, reason: err.code, error: err.message }, 'block rejected');
              }
              failure = { index: i, error: err };
              break;
            }
          }
        });
      };
      try {
        await this.retryLocalFaults(attempt, blockHash((blocks[0] as Block).header));
      } catch (e) {
        const err = toStrataError(e);
        results.length = 0;
        failure = { index: 0, error: err };
        this.log.error({ from, blocks: blocks.length, reason: err.code, error: err.message }, 'block batch import aborted by a local fault (not judged; it is imported when offered again)');
      }
      for (const [i, res] of results.entries()) this.afterImport(blocks[i] as Block, res, from ?? 'sync', true);
      end();
      return failure ? { results, failure } : { results };
    });
  }

  /** Decodes raw transactions and recovers their senders on the worker pool (rejects at the first bad one). */
  verifyTxs(raw: Uint8Array[]): Promise<VerifiedTx[]> {
    return this.verifier.verify(raw, this.opts.config.maxTxBytes);
  }

  /** Decodes the transactions of consecutive blocks and recovers their senders on the worker pool. */
  verifyBlockTxs(blocks: Block[]): Promise<VerifiedTx[]> {
    const raw: Uint8Array[] = [];
    for (const b of blocks) for (const t of b.txs) raw.push(t);
    return this.verifier.verify(raw, this.opts.config.maxTxBytes);
  }

  /** Switches block production ('off', 'dev' or 'pow') at run time. */
  setMiningMode(mode: MiningMode): void {
    if (mode === 'pow' && !this.opts.config.pow.enabled) throw new StrataError('CONFIG_INVALID', 'pow mining needs a chain config with pow.enabled = true');
    if (mode === 'dev' && this.opts.config.pow.enabled) throw new StrataError('CONFIG_INVALID', 'dev sealing needs a chain config with pow.enabled = false');
    this.mining = mode;
    this.log.info({ mining: mode }, 'mining mode changed');
    this.applyMiningMode();
  }

  /** Mirrors the reorg brake's state in metrics; logs at error level when it engages or moves. */
  private noteReorgAlarm(): void {
    const a = this.chain.reorgAlarm;
    const before = this.alarmSeen;
    this.alarmSeen = a ? toHex(a.branchHead) : undefined;
    this.metrics.reorgBrakeEngaged.set(a ? 1 : 0);
    this.metrics.reorgBrakeDepth.set(a ? a.depth : 0);
    if (a && before === undefined) {
      this.log.error(
        { depth: a.depth, forkHeight: a.forkHeight, branchHead: toHex(a.branchHead), branchHeight: a.branchHeight, maxReorgDepth: a.maxReorgDepth },
        'REORG BRAKE ENGAGED: this node refuses the heaviest chain and is split from the network; inspect chain_getReorgAlarm, then admin_releaseReorgBrake (or restart without --max-reorg-depth)',
      );
    } else if (!a && before !== undefined) {
      this.log.warn({}, 'reorg brake alarm cleared');
    }
  }

  /** Operator: adopts the heavier branch the reorg brake holds back (admin_releaseReorgBrake). */
  releaseReorgBrake(): Promise<ImportResult> {
    return this.serialize(() => {
      const res = this.chain.releaseReorgBrake();
      if (res.status === 'reorg') {
        const body = this.chain.store.getBody(res.hash) ?? [];
        this.afterImport({ header: this.chain.head.header, txs: body }, res, 'operator');
      }
      this.noteReorgAlarm();
      return res;
    });
  }

  private afterImport(block: Block, res: ImportResult, source: string, quiet = false): void {
    this.metrics.blocksImported.inc({ status: res.status });
    if (res.status === 'known') return;
    if (this.chain.reorgAlarm || this.alarmSeen !== undefined) this.noteReorgAlarm();
    if (res.status === 'side') {
      this.log.info({ hash: toHex(res.hash), height: res.height, source }, 'side-chain block stored');
      return;
    }
    this.mempool.remove(res.included);
    this.metrics.txsIncluded.inc(res.included.length);
    if (res.reorg) {
      this.metrics.reorgs.inc();
      let back = 0;
      for (const vtx of res.reorg.orphaned) {
        try {
          this.mempool.add(vtx, this.chain.account(vtx.sender));
          back++;
        } catch {
          // no longer valid on the new branch
        }
      }
      this.log.info(
        { depth: res.reorg.depth, forkHeight: res.reorg.forkHeight, newHead: toHex(res.hash), orphanedBackToMempool: back },
        'reorg',
      );
      this.emit('reorg', res);
    }
    this.mempool.prune((a) => this.chain.account(a));
    const head = this.chain.head;
    this.metrics.headHeight.set(head.meta.height);
    this.metrics.finalizedHeight.set(Math.max(0, head.meta.height - this.opts.config.confirmations));
    this.metrics.mempoolSize.set(this.mempool.size);
    this.log[quiet ? 'debug' : 'info'](
      { height: head.meta.height, hash: toHex(head.hash), txs: block.txs.length, source, status: res.status },
      'block imported',
    );
    this.emit('head', head);
  }

  /** Dev: rewinds the chain to a canonical block (dev_revert). */
  rewindTo(hash: Uint8Array): Promise<BlockRef> {
    return this.serialize(() => {
      const dropped = this.chain.rewindTo(hash);
      this.log.info({ head: toHex(hash), droppedTxs: dropped.length }, 'chain rewound (dev revert)');
      this.mempool.prune((a) => this.chain.account(a));
      this.metrics.headHeight.set(this.chain.head.meta.height);
      this.emit('head', this.chain.head);
      return this.chain.head;
    });
  }
}

function bytesEqualHex(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/**
 * The reorg brake a node runs with: the operator's setting; else, on a chain without proof of
 * work (where every block weighs the same and a longer branch costs a peer nothing), the
 * chain's `confirmations`; else none. `Infinity` means no brake.
 */
export function reorgBrake(opts: Pick<NodeOptions, 'config' | 'maxReorgDepth'>): { maxReorgDepth?: number } {
  // A chain final at once (confirmations 0, as a BFT sidechain) still brakes at depth 1.
  const depth = opts.maxReorgDepth ?? (opts.config.pow.enabled ? undefined : Math.max(1, opts.config.confirmations));
  return depth === undefined || depth === Number.POSITIVE_INFINITY ? {} : { maxReorgDepth: depth };
}
