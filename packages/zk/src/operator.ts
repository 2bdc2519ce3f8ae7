/**
 * The ZK-rollup operator: accepts signed L2 transactions (soft-confirmed at once against its
 * state), applies the L1's queued deposits in queue order, seals batches of `batchSize`
 * operations, hands them to provers as jobs (leased; a silent prover's job goes to the next
 * one; the first valid proof wins, later ones are refused), and commits proven batches to the
 * L1 in order. Proving never blocks soft confirmations: provers are other processes (local
 * children or remote machines) pulling jobs over JSON-RPC.
 */
import { encode, StrataError, toHex, toStrataError, type KeyPair } from '@strata/primitives';
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
import { buildBatch, circuitInput, ZkState, type BuiltBatch, type ZkOp } from './stf.js';

/** Operator settings. */
export interface OperatorOptions {
  rollupId: number;
  /** The operator's L1 key (the registered operator of the rollup). */
  key: KeyPair;
  /** The circuit's verification key (proofs from provers are checked before they are posted). */
  vk: SnarkVk;
  /** The circuit hash provers must match. */
  circuitHash: string;
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

/** A sealed batch. */
export interface OperatorBatch {
  index: number;
  built: BuiltBatch;
  data: Uint8Array;
  input: Record<string, unknown>;
  status: BatchStatus;
  lease?: { prover: string; until: number; since: number };
  proof?: Uint8Array;
  provedBy?: string;
  txHash?: Uint8Array;
  l1Height?: number;
  createdAt: number;
  /** State after this batch (for exit proofs against a verified root). */
  stateAfter: ZkState;
  withdrawals: { from: number; amount: bigint; addr: bigint }[];
}

/** A proving job as a prover receives it. */
export interface ProveJob {
  id: number;
  circuitHash: string;
  input: Record<string, unknown>;
  leaseMs: number;
}

/** The operator service. */
export class ZkOperator {
  readonly params: ZkParams;
  readonly soft: ZkState;
  private readonly sealed: ZkState;
  private genesis: ZkState;
  private queue: { op: ZkOp; at: number }[] = [];
  readonly batches: OperatorBatch[] = [];
  private depositsSeen = 0;
  private nextCommit = 0;
  private frozen = false;
  unit = 1n;
  private readonly pvk: PreparedVk;
  private readonly driver: Driver;
  private readonly log: ZkLogger;
  readonly metrics: ZkMetrics;

  private constructor(
    readonly opts: OperatorOptions,
    params: ZkParams,
    rec: ZkRollupRecord,
    private readonly deps: { l1: ZkL1Client; crypto: ZkCrypto; logger?: ZkLogger; metrics?: ZkMetrics },
  ) {
    this.params = params;
    this.soft = new ZkState(params);
    this.sealed = new ZkState(params);
    this.genesis = new ZkState(params);
    this.unit = rec.unit;
    this.pvk = new PreparedVk(encodeVk(opts.vk));
    this.log = deps.logger ?? silentLogger;
    this.metrics = deps.metrics ?? new ZkMetrics();
    if (fieldFromBytes(rec.root) !== this.soft.root || rec.batchCount !== 0) {
      // Resuming a rollup with history needs its state rebuilt from the L1's posted data.
      throw new StrataError('CONFIG_INVALID', `rollup ${opts.rollupId} already has ${rec.batchCount} batches; this operator starts from an empty rollup only`);
    }
    this.driver = new Driver('zk-operator', opts.pollMs ?? 250, () => this.tick(), this.log, () => this.metrics.roleErrors.inc({ role: 'operator' }));
  }

  /** Creates the operator for a rollup registered on the L1 (reads its params from there). */
  static async create(opts: OperatorOptions, deps: { l1: ZkL1Client; crypto: ZkCrypto; logger?: ZkLogger; metrics?: ZkMetrics }): Promise<ZkOperator> {
    const rec = await deps.l1.rollup(opts.rollupId);
    if (!rec) throw new StrataError('NOT_FOUND', `no ZK-rollup ${opts.rollupId} is registered on the L1`);
    return new ZkOperator(opts, paramsOf(rec, await deps.l1.chainId(), opts.rollupId), rec, deps);
  }

  start(): void {
    this.driver.start();
    this.log.info({ rollupId: this.params.rollupId, depth: this.params.depth, batchSize: this.params.batchSize, stall: !!this.opts.stall }, 'zk operator started');
  }

  async stop(): Promise<void> {
    await this.driver.stop();
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** The state as of the last batch verified on L1. */
  provenState(): ZkState {
    let last: ZkState = this.genesis;
    for (const b of this.batches) if (b.status === 'verified') last = b.stateAfter;
    return last;
  }

  // ------------------------------------------------------------------ L2 transactions

  /** Validates and soft-confirms a signed transaction; throws a typed error otherwise. */
  submit(tx: L2Tx): { status: 'soft-confirmed'; position: number; root: bigint } {
    if (this.frozen) throw new StrataError('L2_INVALID_BATCH', 'the rollup is in exodus mode: it takes no transactions', { reason: 'frozen' });
    if (tx.type !== OP_TRANSFER && tx.type !== OP_WITHDRAW) throw new StrataError('DECODE_INVALID', 'an L2 transaction is a transfer or a withdrawal', { reason: 'type' });
    const maxPending = this.opts.maxPendingOps ?? 32 * this.params.batchSize;
    let backlog = this.queue.length;
    for (let i = this.batches.length - 1; i >= 0 && backlog < maxPending; i--) {
      const b = this.batches[i] as OperatorBatch;
      if (b.status === 'verified') break; // batches verify in order
      backlog += b.built.ops.length;
    }
    if (backlog >= maxPending) {
      this.metrics.rejectedTxs.inc({ code: 'MEMPOOL_FULL' });
      throw new StrataError('MEMPOOL_FULL', `${backlog} operations wait for proofs; try again later`, { reason: 'backlog' });
    }
    const from = this.soft.leaf(tx.from);
    const op: ZkOp = { type: tx.type, from: tx.from, to: tx.type === OP_TRANSFER ? tx.to : 0, amount: tx.amount, ax: 0n, ay: 0n, addr: tx.type === OP_WITHDRAW ? (from?.addr ?? 0n) : 0n, nonce: tx.nonce, sig: tx.sig };
    try {
      this.soft.apply(op, this.deps.crypto.verify, true);
    } catch (e) {
      this.metrics.rejectedTxs.inc({ code: toStrataError(e).code });
      throw e;
    }
    this.queue.push({ op, at: Date.now() });
    this.metrics.softTxs.inc();
    this.log.info({ type: tx.type === OP_TRANSFER ? 'transfer' : 'withdraw', from: tx.from, to: op.to, amount: tx.amount.toString(), nonce: tx.nonce.toString() }, 'L2 transaction soft-confirmed');
    return { status: 'soft-confirmed', position: this.queue.length - 1, root: this.soft.root };
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
    return { id: b.index, circuitHash: this.opts.circuitHash, input: b.input, leaseMs };
  }

  /** A prover reports it is still working on `id`. */
  heartbeat(id: number, prover: string): boolean {
    const lease = this.batches[id]?.status === 'proving' ? this.batches[id]?.lease : undefined;
    if (lease?.prover !== prover) return false;
    lease.until = Date.now() + (this.opts.leaseMs ?? 30_000);
    return true;
  }

  /** Accepts the first valid proof of a job; throws a typed error for an invalid or duplicate one. */
  submitProof(id: number, prover: string, proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }): void {
    const b = this.batches[id];
    if (!b) throw new StrataError('NOT_FOUND', `no batch ${id}`);
    if (b.status !== 'pending' && b.status !== 'proving') {
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
    this.metrics.proofs.inc();
    this.updateJobGauges();
    this.log.info({ batch: id, prover }, 'batch proven');
  }

  private updateJobGauges(): void {
    this.metrics.jobsPending.set(this.batches.filter((b) => b.status === 'pending').length);
    this.metrics.jobsProving.set(this.batches.filter((b) => b.status === 'proving').length);
  }

  // ------------------------------------------------------------------ the loop

  /** One driver iteration (public for tests that step the operator by hand). */
  async tick(): Promise<void> {
    const l1 = this.deps.l1;
    const rec = await l1.rollup(this.params.rollupId);
    if (!rec) return;
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
      if (r.status === 'ok') {
        b.status = 'verified';
        b.l1Height = r.height;
        this.metrics.committed.set(b.index + 1);
        this.log.info({ batch: b.index, l1Height: r.height, withdrawals: b.withdrawals.length }, 'batch verified on L1');
      } else {
        this.log.warn({ batch: b.index, error: r.error }, 'batch commit failed on L1; retrying');
        b.status = 'proven';
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
        const existing = this.soft.findKey(ax, ay);
        const target = existing ?? this.soft.nextFreeIndex();
        const op: ZkOp = { type: OP_DEPOSIT, from: target, to: 0, amount: d.amount, ax, ay, addr };
        this.soft.apply(op, this.deps.crypto.verify, true);
        this.queue.push({ op, at: Date.now() });
        this.metrics.deposits.inc();
        this.log.info({ deposit: this.depositsSeen, account: target, amount: d.amount.toString() }, 'L1 deposit applied');
        this.depositsSeen++;
      }
    }
    // seal batches
    const n = this.params.batchSize;
    const head = await l1.head();
    const idle = rec.maxBatchGap > 0 && this.queue.length === 0 && !this.batches.some((b) => b.status !== 'verified') && head - rec.lastBatchHeight >= Math.max(1, Math.floor(rec.maxBatchGap / 2));
    while (this.queue.length >= n || (this.queue.length > 0 && Date.now() - (this.queue[0] as { at: number }).at >= (this.opts.batchIntervalMs ?? 2000)) || (idle && this.batches.length === this.nextCommit)) {
      const ops = this.queue.splice(0, n).map((q) => q.op);
      this.seal(ops);
      if (ops.length === 0) break;
    }
    // commit in order
    while (this.nextCommit < this.batches.length) {
      const b = this.batches[this.nextCommit] as OperatorBatch;
      if (b.status === 'verified' || b.status === 'submitted') {
        this.nextCommit++;
        continue;
      }
      if (b.status !== 'proven') break;
      const args = encode(CommitBatchArgs, { rollupId: this.params.rollupId, newRoot: fieldToBytes(b.built.newRoot), data: b.data, proof: b.proof as Uint8Array });
      const compute = 2_000 + (this.opts.proofCompute ?? DEFAULT_PROOF_COMPUTE) + (n + 1) * POSEIDON_COMPUTE + Math.ceil(b.data.length / 32) + b.withdrawals.length * 400;
      b.txHash = await l1.send(this.opts.key, 'commitBatch', args, compute);
      b.status = 'submitted';
      this.log.info({ batch: b.index, bytes: b.data.length, tx: toHex(b.txHash) }, 'batch committed to L1');
      this.nextCommit++;
    }
  }

  private seal(ops: ZkOp[]): void {
    const built = buildBatch(this.sealed, ops, this.deps.crypto.verify, true);
    const b: OperatorBatch = {
      index: this.batches.length,
      built,
      data: encodeBatchData(this.params, built.ops),
      input: circuitInput(built),
      status: 'pending',
      createdAt: Date.now(),
      stateAfter: this.sealed.clone(),
      withdrawals: ops.filter((o) => o.type === OP_WITHDRAW).map((o) => ({ from: o.from, amount: o.amount, addr: o.addr })),
    };
    this.batches.push(b);
    this.metrics.batches.inc();
    this.updateJobGauges();
    this.log.info({ batch: b.index, ops: ops.length, bytes: b.data.length, root: toHex(fieldToBytes(built.newRoot)) }, 'batch sealed; waiting for a prover');
  }
}
