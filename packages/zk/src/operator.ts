/**
 * The ZK-rollup operator: accepts signed L2 transactions (soft-confirmed at once against its
 * state), applies the L1's queued deposits in queue order, seals batches of `batchSize`
 * operations, hands them to provers as jobs (leased; a silent prover's job goes to the next
 * one; the first valid proof wins, later ones are refused), and commits proven batches to the
 * L1 in order. Proving never blocks soft confirmations: provers are other processes (local
 * children or remote machines) pulling jobs over JSON-RPC.
 */
import { createHash } from 'node:crypto';
import { bytesEqual, encode, fromHex, StrataError, toHex, toStrataError, type KeyPair } from '@strata/primitives';
import { Driver, silentLogger, type ZkLogger } from './driver.js';
import { encodeProof, encodeVk, PreparedVk } from './groth16.js';
import type { ZkCrypto, ZkSignature } from './keys.js';
import type { ZkL1Client } from './l1-client.js';
import { ZkMetrics } from './metrics.js';
import { encodeBatchData } from './ops.js';
import { OP_DEPOSIT, OP_TRANSFER, OP_WITHDRAW, type ZkParams } from './params.js';
import { CommitBatchArgs, DEFAULT_PROOF_COMPUTE, paramsOf, POSEIDON_COMPUTE, type ZkRollupRecord } from './parent-modules.js';
import { fieldFromBytes, fieldToBytes } from './poseidon.js';
import type { SnarkVk } from './setup.js';
import { rebuildFromL1 } from './rebuild.js';
import { buildBatch, circuitInput, ZkState, type BuiltBatch, type Leaf, type ZkOp } from './stf.js';
import { ZkStore, type StoredBatch, type ZkCursor } from './store.js';

/** Operator settings. */
export interface OperatorOptions {
  rollupId: number;
  /** The operator's L1 key (the registered operator of the rollup). */
  key: KeyPair;
  /** The circuit's verification key (proofs from provers are checked before they are posted). */
  vk: SnarkVk;
  /** The circuit hash provers must match. */
  circuitHash: string;
  /** The proving key came from the documented dev-only secret (reported by `zk_info`, shown in the explorer's risk panel). */
  devKeys?: boolean;
  /** Close a partial batch after this long (default 2,000 ms). */
  batchIntervalMs?: number;
  /** A prover must report within this long or its job is handed out again (default 30,000 ms). */
  leaseMs?: number;
  /**
   * However often its prover heartbeats, a job leased this long is handed to every other prover
   * who asks (the first valid proof wins), so a stranger who leases every job and keeps the
   * leases alive cannot stall the rollup into exodus (default 4 × leaseMs).
   */
  maxLeaseMs?: number;
  /**
   * Signed transactions refused (MEMPOOL_FULL) while this many operations wait to be verified on
   * L1 (queued + in unverified batches), so a spammer cannot grow the backlog and the operator's
   * memory without bound (default 32 × batchSize). L1 deposits are never refused.
   */
  maxPendingOps?: number;
  /** Driver interval (default 250 ms). */
  pollMs?: number;
  /** Stop handing out proving jobs (devnet `--zk-stall`: watch exodus happen). */
  stall?: boolean;
  /** Ignore L1 deposits (a misbehaving operator, for tests of the priority deadline). */
  skipDeposits?: boolean;
  /**
   * lmdb directory of the operator's state (accounts, queued operations, batches and their
   * proofs, cursors). Without it the state lives in memory only (tests).
   */
  dataDir?: string;
  /** Compute the L1 charges per proof (must match the module's; default DEFAULT_PROOF_COMPUTE). */
  proofCompute?: number;
}

/** A user's signed L2 transaction. */
export interface L2Tx {
  type: typeof OP_TRANSFER | typeof OP_WITHDRAW;
  from: number;
  to: number;
  amount: bigint;
  nonce: bigint;
  sig: ZkSignature;
}

/** Where a batch is. */
export type BatchStatus = 'pending' | 'proving' | 'proven' | 'submitted' | 'verified';

/**
 * A sealed batch. Once verified on L1 only its summary stays in memory: the witness, the circuit
 * input and the state clone are dropped (the verified state is kept once, as `provenState()`).
 */
export interface OperatorBatch {
  index: number;
  status: BatchStatus;
  oldRoot: bigint;
  newRoot: bigint;
  /** Operations the batch posts (the rest of its slots are noops). */
  ops: number;
  data: Uint8Array;
  /** Sequence numbers of its operations: [firstSeq, firstSeq + ops). */
  firstSeq: number;
  /** The witness (unverified batches only). */
  built?: BuiltBatch;
  /** The circuit input (unverified batches only). */
  input?: Record<string, unknown>;
  /** State after this batch (unverified batches only). */
  stateAfter?: ZkState;
  lease?: { prover: string; until: number; since: number };
  proof?: Uint8Array;
  provedBy?: string;
  txHash?: Uint8Array;
  l1Height?: number;
  createdAt: number;
  withdrawals: { from: number; amount: bigint; addr: bigint }[];
}

/** A proving job as a prover receives it. */
export interface ProveJob {
  id: number;
  circuitHash: string;
  input: Record<string, unknown>;
  leaseMs: number;
}

type Deps = { l1: ZkL1Client; crypto: ZkCrypto; logger?: ZkLogger; metrics?: ZkMetrics };

function storedOf(b: OperatorBatch): StoredBatch {
  return {
    index: b.index,
    firstSeq: b.firstSeq,
    count: b.ops,
    status: b.status === 'proving' ? 'pending' : b.status,
    oldRoot: toHex(fieldToBytes(b.oldRoot)),
    newRoot: toHex(fieldToBytes(b.newRoot)),
    data: toHex(b.data),
    ...(b.proof ? { proof: toHex(b.proof) } : {}),
    ...(b.provedBy ? { provedBy: b.provedBy } : {}),
    ...(b.txHash ? { txHash: toHex(b.txHash) } : {}),
    ...(b.l1Height !== undefined ? { l1Height: b.l1Height } : {}),
    createdAt: b.createdAt,
    withdrawals: b.withdrawals.map((w) => ({ from: w.from, amount: w.amount.toString(), addr: w.addr.toString() })),
  };
}

/** Copies of the leaves at `indices` (undefined: absent), to put back if a store write fails. */
function snapshot(st: ZkState, indices: Iterable<number>): [number, Leaf | undefined][] {
  return [...new Set(indices)].map((i) => {
    const l = st.leaf(i);
    return [i, l ? { ...l } : undefined];
  });
}
function restore(st: ZkState, snap: readonly [number, Leaf | undefined][]): void {
  for (const [i, l] of snap) st.setLeaf(i, l);
}

/** The operator service. */
export class ZkOperator {
  readonly params: ZkParams;
  readonly soft: ZkState;
  private sealed: ZkState;
  private proven: ZkState;
  private queue: { op: ZkOp; at: number; seq: number }[] = [];
  readonly batches: OperatorBatch[] = [];
  private depositsSeen = 0;
  private verifiedCount = 0;
  private nextSeq = 0;
  private nextCommit = 0;
  private frozen = false;
  private stuckDeposit: number | undefined;
  unit = 1n;
  private readonly pvk: PreparedVk;
  private readonly driver: Driver;
  private readonly log: ZkLogger;
  readonly metrics: ZkMetrics;
  private readonly store: ZkStore | undefined;

  private constructor(
    readonly opts: OperatorOptions,
    params: ZkParams,
    rec: ZkRollupRecord,
    private readonly deps: Deps,
    init: { store?: ZkStore; proven: ZkState; sealed: ZkState; soft: ZkState; batches: OperatorBatch[]; queue: { op: ZkOp; seq: number }[]; cursor: ZkCursor },
  ) {
    this.params = params;
    this.unit = rec.unit;
    this.pvk = new PreparedVk(encodeVk(opts.vk));
    this.log = deps.logger ?? silentLogger;
    this.metrics = deps.metrics ?? new ZkMetrics();
    this.store = init.store;
    this.proven = init.proven;
    this.sealed = init.sealed;
    this.soft = init.soft;
    this.batches.push(...init.batches);
    const now = Date.now();
    this.queue = init.queue.map((q) => ({ ...q, at: now }));
    this.depositsSeen = init.cursor.depositsSeen;
    this.verifiedCount = init.cursor.verified;
    this.nextSeq = init.cursor.nextSeq;
    this.nextCommit = this.verifiedCount;
    this.metrics.committed.set(this.verifiedCount);
    this.updateJobGauges();
    this.driver = new Driver('zk-operator', opts.pollMs ?? 250, () => this.tick(), this.log, () => this.metrics.roleErrors.inc({ role: 'operator' }));
  }

  /**
   * Creates the operator for a rollup registered on the L1 (reads its params from there). With
   * `dataDir` its state is kept in lmdb: a restart resumes from it. A data dir that is empty
   * while the rollup already has verified batches is filled by rebuilding the L2 state from L1
   * data alone (posted batch data + deposit queue).
   */
  static async create(opts: OperatorOptions, deps: Deps): Promise<ZkOperator> {
    const l1 = deps.l1;
    const log = deps.logger ?? silentLogger;
    const rec = await l1.rollup(opts.rollupId);
    if (!rec) throw new StrataError('NOT_FOUND', `no ZK-rollup ${opts.rollupId} is registered on the L1`);
    const params = paramsOf(rec, await l1.chainId(), opts.rollupId);
    // Proofs made with other keys never verify on the L1: no batch would ever be accepted and
    // the rollup would drift into exodus (a devnet resumed with another --zk-depth/--zk-batch,
    // or a key cache rebuilt since the registration).
    const vkHash = new Uint8Array(createHash('sha256').update(encodeVk(opts.vk)).digest());
    if (!bytesEqual(vkHash, rec.vkHash)) {
      throw new StrataError(
        'CONFIG_INVALID',
        `the verification key given to the operator (circuit ${opts.circuitHash}) is not the one ZK-rollup ${opts.rollupId} is registered with on the L1 (depth ${rec.depth}, batch ${rec.batchSize}); use that circuit's keys, or register a new rollup`,
        { rollupId: opts.rollupId, depth: rec.depth, batchSize: rec.batchSize, l1VkHash: toHex(rec.vkHash), vkHash: toHex(vkHash) },
      );
    }
    const store = opts.dataDir ? new ZkStore(opts.dataDir) : undefined;
    try {
      store?.checkIdentity(params);
      if (store && !store.empty) {
        const op = new ZkOperator(opts, params, rec, deps, { store, ...ZkOperator.resume(store, params, rec, deps.crypto, log) });
        await op.checkAgainstL1(rec);
        await op.reconcile(rec);
        return op;
      }
      // Fresh: an empty rollup, or one with history rebuilt from L1 data.
      const cursor: ZkCursor = { depositsSeen: 0, verified: 0, nextSeq: 0 };
      let proven = new ZkState(params);
      const batches: OperatorBatch[] = [];
      if (rec.batchCount > 0) {
        const t = Date.now();
        const rb = await rebuildFromL1(l1, opts.rollupId);
        proven = rb.state;
        cursor.depositsSeen = rb.depositsConsumed;
        cursor.verified = rb.batches.length;
        for (const b of rb.batches) batches.push({ index: b.index, status: 'verified', oldRoot: b.oldRoot, newRoot: b.root, ops: b.ops, data: b.data, firstSeq: 0, l1Height: b.height, createdAt: Date.now(), withdrawals: b.withdrawals });
        log.info({ rollupId: opts.rollupId, batches: rb.batches.length, accounts: proven.leaves.size, deposits: rb.depositsConsumed, ms: Date.now() - t }, 'L2 state rebuilt from L1 data');
      }
      store?.init(params, cursor, proven.leaves, batches.map(storedOf));
      return new ZkOperator(opts, params, rec, deps, { ...(store ? { store } : {}), proven, sealed: proven.clone(), soft: proven.clone(), batches, queue: [], cursor });
    } catch (e) {
      await store?.close();
      throw e;
    }
  }

  /** Loads the stored state and replays the unverified operations into the sealed and soft states. */
  private static resume(store: ZkStore, params: ZkParams, rec: ZkRollupRecord, crypto: ZkCrypto, log: ZkLogger) {
    const t = Date.now();
    const s = store.load();
    const proven = new ZkState(params);
    for (const [i, l] of s.leaves) proven.setLeaf(i, l);
    const sealed = proven.clone();
    const batches: OperatorBatch[] = [];
    let seq = -1;
    for (const sb of s.batches) {
      const wd = sb.withdrawals.map((w) => ({ from: w.from, amount: BigInt(w.amount), addr: BigInt(w.addr) }));
      const base = { index: sb.index, oldRoot: BigInt(sb.oldRoot), newRoot: BigInt(sb.newRoot), ops: sb.count, data: fromHex(sb.data), firstSeq: sb.firstSeq, createdAt: sb.createdAt, withdrawals: wd, ...(sb.proof ? { proof: fromHex(sb.proof) } : {}), ...(sb.provedBy ? { provedBy: sb.provedBy } : {}), ...(sb.txHash ? { txHash: fromHex(sb.txHash) } : {}), ...(sb.l1Height !== undefined ? { l1Height: sb.l1Height } : {}) };
      if (sb.status === 'verified') {
        batches.push({ ...base, status: 'verified' });
        continue;
      }
      const ops: ZkOp[] = [];
      for (let q = sb.firstSeq; q < sb.firstSeq + sb.count; q++) {
        const op = s.ops.get(q);
        if (!op) throw new StrataError('STORAGE_FAULT', `the ZK store lacks operation ${q} of batch ${sb.index}`);
        ops.push(op);
      }
      const built = buildBatch(sealed, ops, crypto.verify, true);
      if (built.newRoot !== base.newRoot) throw new StrataError('STORAGE_FAULT', `replaying batch ${sb.index} from the ZK store gives another root`);
      // A commit sent before the crash may never have reached the L1 pool: send it again (a
      // duplicate fails on L1 harmlessly; the L1's batch count tells which one landed).
      batches.push({ ...base, status: sb.status === 'submitted' ? 'proven' : sb.status, built, input: circuitInput(built), stateAfter: sealed.clone() });
      seq = sb.firstSeq + sb.count;
    }
    // Stored operations are those of unverified batches (above) and the queue (the rest).
    const soft = sealed.clone();
    const queue: { op: ZkOp; seq: number }[] = [];
    for (const [q, op] of [...s.ops].sort((a, b) => a[0] - b[0])) {
      if (q < seq) continue;
      soft.apply(op, crypto.verify, true);
      queue.push({ op, seq: q });
    }
    log.info({ rollupId: params.rollupId, batches: batches.length, verified: s.cursor.verified, unverified: batches.filter((b) => b.status !== 'verified').length, queued: queue.length, l1Batches: rec.batchCount, ms: Date.now() - t }, 'zk operator state resumed from its store');
    return { proven, sealed, soft, batches, queue, cursor: s.cursor };
  }

  start(): void {
    this.driver.start();
    this.log.info({ rollupId: this.params.rollupId, depth: this.params.depth, batchSize: this.params.batchSize, stall: !!this.opts.stall, persistent: !!this.store }, 'zk operator started');
  }

  async stop(): Promise<void> {
    await this.driver.stop();
    await this.store?.close();
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** The state as of the last batch verified on L1. */
  provenState(): ZkState {
    return this.proven;
  }

  private cursor(): ZkCursor {
    return { depositsSeen: this.depositsSeen, verified: this.verifiedCount, nextSeq: this.nextSeq };
  }

  // ------------------------------------------------------------------ L2 transactions

  /** Validates and soft-confirms a signed transaction (stored before it returns); throws a typed error otherwise. */
  submit(tx: L2Tx): { status: 'soft-confirmed'; position: number; root: bigint } {
    if (this.frozen) throw new StrataError('L2_INVALID_BATCH', 'the rollup is in exodus mode: it takes no transactions', { reason: 'frozen' });
    if (tx.type !== OP_TRANSFER && tx.type !== OP_WITHDRAW) throw new StrataError('DECODE_INVALID', 'an L2 transaction is a transfer or a withdrawal', { reason: 'type' });
    const maxPending = this.opts.maxPendingOps ?? 32 * this.params.batchSize;
    let backlog = this.queue.length;
    for (let i = this.batches.length - 1; i >= 0 && backlog < maxPending; i--) {
      const b = this.batches[i] as OperatorBatch;
      if (b.status === 'verified') break; // batches verify in order
      backlog += b.ops;
    }
    if (backlog >= maxPending) {
      this.metrics.rejectedTxs.inc({ code: 'MEMPOOL_FULL' });
      throw new StrataError('MEMPOOL_FULL', `${backlog} operations wait for proofs; try again later`, { reason: 'backlog' });
    }
    const from = this.soft.leaf(tx.from);
    const op: ZkOp = { type: tx.type, from: tx.from, to: tx.type === OP_TRANSFER ? tx.to : 0, amount: tx.amount, ax: 0n, ay: 0n, addr: tx.type === OP_WITHDRAW ? (from?.addr ?? 0n) : 0n, nonce: tx.nonce, sig: tx.sig };
    const snap = snapshot(this.soft, [op.from, op.to]);
    try {
      this.soft.apply(op, this.deps.crypto.verify, true);
      // Stored before it is confirmed; a failed write puts the soft state back (never ahead of the store).
      this.accept(op);
    } catch (e) {
      restore(this.soft, snap);
      this.metrics.rejectedTxs.inc({ code: toStrataError(e).code });
      throw e;
    }
    this.metrics.softTxs.inc();
    this.log.info({ type: tx.type === OP_TRANSFER ? 'transfer' : 'withdraw', from: tx.from, to: op.to, amount: tx.amount.toString(), nonce: tx.nonce.toString() }, 'L2 transaction soft-confirmed');
    return { status: 'soft-confirmed', position: this.queue.length - 1, root: this.soft.root };
  }

  /** Queues an operation already applied to the soft state, durably first. */
  private accept(op: ZkOp, depositsSeen = this.depositsSeen): void {
    const seq = this.nextSeq;
    this.store?.appendOp(seq, op, { depositsSeen, verified: this.verifiedCount, nextSeq: seq + 1 });
    this.nextSeq = seq + 1;
    this.depositsSeen = depositsSeen;
    this.queue.push({ op, at: Date.now(), seq });
  }

  // ------------------------------------------------------------------ provers

  /** Leases the next job to `prover`, or returns undefined (nothing to prove, or stalled). */
  takeJob(prover: string): ProveJob | undefined {
    if (this.opts.stall || this.frozen) return undefined;
    const now = Date.now();
    for (const b of this.batches) {
      if (b.status === 'proving' && b.lease?.until !== undefined && b.lease.until < now) {
        this.log.warn({ batch: b.index, prover: b.lease.prover }, 'prover went silent; job handed out again');
        this.metrics.leaseExpired.inc();
        b.status = 'pending';
        delete b.lease;
      }
      if (b.status === 'pending') return this.lease(b, prover, now);
    }
    // Nothing pending: a job held past maxLeaseMs (heartbeats or not) goes to another prover.
    const leaseMs = this.opts.leaseMs ?? 30_000;
    const maxLeaseMs = this.opts.maxLeaseMs ?? 4 * leaseMs;
    for (const b of this.batches) {
      if (b.status === 'proving' && b.lease && b.lease.prover !== prover && now - b.lease.since >= maxLeaseMs) {
        // Keep the first lease's start: from now on every prover who asks gets this job (a
        // squatter who grabs it again under a new name cannot lock honest provers out).
        this.log.warn({ batch: b.index, prover: b.lease.prover, heldMs: now - b.lease.since }, 'proving job held too long; handed to another prover');
        this.metrics.leaseExpired.inc();
        return this.lease(b, prover, now, b.lease.since);
      }
    }
    return undefined;
  }

  private lease(b: OperatorBatch, prover: string, now: number, since = now): ProveJob {
    const leaseMs = this.opts.leaseMs ?? 30_000;
    b.status = 'proving';
    b.lease = { prover, until: now + leaseMs, since };
    this.updateJobGauges();
    this.log.info({ batch: b.index, prover }, 'proving job leased');
    return { id: b.index, circuitHash: this.opts.circuitHash, input: b.input as Record<string, unknown>, leaseMs };
  }

  /** A prover reports it is still working on `id`. */
  heartbeat(id: number, prover: string): boolean {
    const lease = this.batches[id]?.status === 'proving' ? this.batches[id]?.lease : undefined;
    if (lease?.prover !== prover) return false;
    lease.until = Date.now() + (this.opts.leaseMs ?? 30_000);
    return true;
  }

  /** Accepts the first valid proof of a job (stored before it returns); throws a typed error for an invalid or duplicate one. */
  submitProof(id: number, prover: string, proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }): void {
    const b = this.batches[id];
    if (!b) throw new StrataError('NOT_FOUND', `no batch ${id}`);
    if ((b.status !== 'pending' && b.status !== 'proving') || !b.built) {
      this.metrics.badProofs.inc();
      throw new StrataError('TX_ALREADY_KNOWN', `batch ${id} is already proven`, { reason: 'duplicate' });
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeProof(proof);
    } catch (e) {
      this.metrics.badProofs.inc();
      throw new StrataError('PROOF_INVALID', `malformed proof: ${(e as Error).message}`, { reason: 'format' });
    }
    try {
      this.pvk.verify(bytes, b.built.inputHash);
    } catch (e) {
      this.metrics.badProofs.inc();
      this.log.warn({ batch: id, prover, error: (e as Error).message }, 'invalid proof refused');
      throw e;
    }
    b.proof = bytes;
    b.provedBy = prover;
    b.status = 'proven';
    delete b.lease;
    this.store?.putBatch(storedOf(b));
    this.metrics.proofs.inc();
    this.updateJobGauges();
    this.log.info({ batch: id, prover }, 'batch proven');
  }

  private updateJobGauges(): void {
    this.metrics.jobsPending.set(this.batches.filter((b) => b.status === 'pending').length);
    this.metrics.jobsProving.set(this.batches.filter((b) => b.status === 'proving').length);
  }

  // ------------------------------------------------------------------ the loop

  /** Marks batch `b` verified on L1: the proven state moves to it, the store drops its ops, memory drops its witness. */
  private markVerified(b: OperatorBatch, l1Height: number): void {
    if (!b.stateAfter || !b.built) throw new StrataError('INTERNAL', `batch ${b.index} has no state to verify`);
    const after = b.stateAfter;
    const touched = new Set<number>();
    for (const o of b.built.ops) {
      touched.add(o.from);
      touched.add(o.to);
    }
    // Stored first: if the write fails nothing in memory moved, and the next tick retries.
    this.store?.verifyBatch({ ...storedOf(b), status: 'verified', l1Height }, [...touched].map((i) => [i, after.leaf(i)] as [number, Leaf | undefined]), { ...this.cursor(), verified: b.index + 1 });
    b.status = 'verified';
    b.l1Height = l1Height;
    this.verifiedCount = b.index + 1;
    this.proven = after;
    // Prune: a verified batch keeps only its summary in memory.
    delete b.stateAfter;
    delete b.built;
    delete b.input;
    delete b.lease;
    this.metrics.committed.set(b.index + 1);
    this.log.info({ batch: b.index, l1Height, withdrawals: b.withdrawals.length }, 'batch verified on L1');
  }

  /**
   * A stored state must be a past of the L1's: a store kept across an L1 reset (same chain id and
   * rollup id, new history) would otherwise resume with deposits the L1 never queued and roots it
   * never verified, ignore the new L1's deposits (its cursor is past them) and freeze the rollup.
   */
  private async checkAgainstL1(rec: ZkRollupRecord): Promise<void> {
    const id = this.params.rollupId;
    const bad = (why: string): never => {
      throw new StrataError('CONFIG_INVALID', `the ZK data dir does not match rollup ${id} on this L1 (${why}): was the L1 reset? use another data dir (or wait if the L1 is reorganising)`, { reason: 'store-ahead' });
    };
    if (this.depositsSeen > rec.queueTail) bad(`it applied ${this.depositsSeen} deposits, the L1 queued ${rec.queueTail}`);
    if (this.verifiedCount > rec.batchCount) bad(`it holds ${this.verifiedCount} verified batches, the L1 ${rec.batchCount}`);
    if (this.verifiedCount > 0) {
      const b = this.batches[this.verifiedCount - 1];
      const onL1 = await this.deps.l1.batch(id, this.verifiedCount - 1);
      if (!b || !onL1 || fieldFromBytes(onL1.root) !== b.newRoot) bad(`batch ${this.verifiedCount - 1} has another root on the L1`);
    }
  }

  /**
   * The L1 is the truth: every batch below its count is verified (a commit whose receipt was
   * never seen, or one sent just before a crash, is recognised by its root).
   */
  private async reconcile(rec: ZkRollupRecord): Promise<void> {
    for (let i = this.verifiedCount; i < rec.batchCount; i++) {
      const b = this.batches[i];
      const onL1 = await this.deps.l1.batch(this.params.rollupId, i);
      if (!b || !onL1 || fieldFromBytes(onL1.root) !== b.newRoot) {
        throw new StrataError('CONFIG_INVALID', `the L1 verified batch ${i} of rollup ${this.params.rollupId} with a root this operator did not build; its state is not this rollup's (another operator, or a lost data dir)`);
      }
      this.markVerified(b, onL1.height);
    }
  }

  /** One driver iteration (public for tests that step the operator by hand). */
  async tick(): Promise<void> {
    const l1 = this.deps.l1;
    const rec = await l1.rollup(this.params.rollupId);
    if (!rec) return;
    // First: a batch the L1 verified just before it froze is still verified (the proven state,
    // and so the exit proofs the ZK node serves, must match the root exits are checked against).
    await this.reconcile(rec);
    if (rec.frozen && !this.frozen) {
      this.frozen = true;
      this.log.warn({ rollupId: this.params.rollupId, frozenAt: rec.frozenAt }, 'rollup is in EXODUS mode: users exit with Merkle proofs (strata zk exit)');
    }
    if (this.frozen) return;
    // receipts of submitted batches
    for (const b of this.batches) {
      if (b.status !== 'submitted' || !b.txHash) continue;
      const r = await l1.receipt(b.txHash);
      if (!r) continue;
      if (r.status === 'ok' && b.index === this.verifiedCount) this.markVerified(b, r.height);
      else if (r.status !== 'ok') {
        this.log.warn({ batch: b.index, error: r.error }, 'batch commit failed on L1; retrying');
        b.status = 'proven';
        delete b.txHash;
        this.store?.putBatch(storedOf(b));
        this.nextCommit = Math.min(this.nextCommit, b.index);
      }
    }
    // deposits
    if (!this.opts.skipDeposits) {
      while (this.depositsSeen < rec.queueTail) {
        const d = await l1.deposit(this.params.rollupId, this.depositsSeen);
        if (!d) break;
        const ax = fieldFromBytes(d.ax);
        const ay = fieldFromBytes(d.ay);
        const addr = BigInt(toHex(d.addr));
        // The L1 assigned the account index (the key's account, or the next free one).
        const op: ZkOp = { type: OP_DEPOSIT, from: d.index, to: 0, amount: d.amount, ax, ay, addr };
        const prev = this.soft.leaf(d.index);
        const before = prev ? { ...prev } : undefined;
        try {
          this.soft.apply(op, this.deps.crypto.verify, true);
        } catch (e) {
          // The L1 refuses what the circuit cannot take (full tree, supply cap), so this means
          // the operator's state is wrong: say so once, and do not spin on it.
          if (this.stuckDeposit !== this.depositsSeen) {
            this.stuckDeposit = this.depositsSeen;
            this.log.warn({ deposit: this.depositsSeen, account: d.index, error: toStrataError(e).message }, 'L1 deposit cannot be applied: the rollup freezes at its deadline unless this is fixed');
          }
          break;
        }
        try {
          this.accept(op, this.depositsSeen + 1);
        } catch (e) {
          restore(this.soft, [[d.index, before]]); // not stored: not applied (the next tick retries it once)
          throw e;
        }
        this.metrics.deposits.inc();
        this.log.info({ deposit: this.depositsSeen - 1, account: d.index, amount: d.amount.toString() }, 'L1 deposit applied');
      }
    }
    // seal batches
    const n = this.params.batchSize;
    const head = await l1.head();
    const idle = rec.maxBatchGap > 0 && this.queue.length === 0 && !this.batches.some((b) => b.status !== 'verified') && head - rec.lastBatchHeight >= Math.max(1, Math.floor(rec.maxBatchGap / 2));
    while (this.queue.length >= n || (this.queue.length > 0 && Date.now() - (this.queue[0] as { at: number }).at >= (this.opts.batchIntervalMs ?? 2000)) || (idle && this.batches.length === this.nextCommit)) {
      const taken = this.queue.splice(0, n);
      try {
        this.seal(taken.map((q) => q.op), taken[0]?.seq ?? this.nextSeq);
      } catch (e) {
        this.queue.unshift(...taken); // not sealed: the next tick seals them again
        throw e;
      }
      if (taken.length === 0) break;
    }
    // commit in order
    while (this.nextCommit < this.batches.length) {
      const b = this.batches[this.nextCommit] as OperatorBatch;
      if (b.status === 'verified' || b.status === 'submitted') {
        this.nextCommit++;
        continue;
      }
      if (b.status !== 'proven') break;
      const args = encode(CommitBatchArgs, { rollupId: this.params.rollupId, newRoot: fieldToBytes(b.newRoot), data: b.data, proof: b.proof as Uint8Array });
      const compute = 2_000 + (this.opts.proofCompute ?? DEFAULT_PROOF_COMPUTE) + (n + 1) * POSEIDON_COMPUTE + Math.ceil(b.data.length / 32) + b.withdrawals.length * 400 + b.ops * 60;
      b.txHash = await l1.send(this.opts.key, 'commitBatch', args, compute);
      b.status = 'submitted';
      this.store?.putBatch(storedOf(b));
      this.log.info({ batch: b.index, bytes: b.data.length, tx: toHex(b.txHash) }, 'batch committed to L1');
      this.nextCommit++;
    }
  }

  private seal(ops: ZkOp[], firstSeq: number): void {
    // A batch exists once it is stored: if building or the write fails, the sealed state is put
    // back (a batch in memory but not on disk would make a later batch unreplayable at restart).
    const snap = snapshot(this.sealed, ops.flatMap((o) => [o.from, o.to]));
    try {
      this.sealBatch(ops, firstSeq);
    } catch (e) {
      restore(this.sealed, snap);
      throw e;
    }
  }

  private sealBatch(ops: ZkOp[], firstSeq: number): void {
    const built = buildBatch(this.sealed, ops, this.deps.crypto.verify, true);
    const b: OperatorBatch = {
      index: this.batches.length,
      status: 'pending',
      oldRoot: built.oldRoot,
      newRoot: built.newRoot,
      ops: ops.length,
      data: encodeBatchData(this.params, built.ops),
      firstSeq,
      built,
      input: circuitInput(built),
      createdAt: Date.now(),
      stateAfter: this.sealed.clone(),
      withdrawals: ops.filter((o) => o.type === OP_WITHDRAW).map((o) => ({ from: o.from, amount: o.amount, addr: o.addr })),
    };
    this.store?.putBatch(storedOf(b));
    this.batches.push(b);
    this.metrics.batches.inc();
    this.updateJobGauges();
    this.log.info({ batch: b.index, ops: ops.length, bytes: b.data.length, root: toHex(fieldToBytes(built.newRoot)) }, 'batch sealed; waiting for a prover');
  }
}
