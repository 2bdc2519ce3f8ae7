/**
 * Parallel signature recovery: transactions of a block (or a gossip batch) are decoded and
 * hashed on the main thread, and their senders recovered on a pool of worker threads. The
 * results are identical to `verifyRawTx`; this only spreads the secp256k1 work over cores.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { addressOfPublicKey, bytesEqual, recoverPublicKey, StrataError, toStrataError } from '@strata/primitives';
import { decodeTx, signingDigestOfRaw, txHashOf, type SignedTx, type VerifiedTx } from '@strata/runtime';

/** Transactions per chunk: the unit a thread claims from a job. */
const CHUNK = 32;
/** Bytes per transaction in a job's input: digest(32) ‖ r ‖ s (64) ‖ recid(1). */
const ENTRY = 97;

/**
 * A batch of recoveries in shared memory. Any thread claims the next chunk with an atomic
 * increment of `ctl[0]`, writes its keys to `output`, and counts it in `ctl[1]`; whoever
 * completes the last chunk finishes the job.
 */
interface Job {
  id: number;
  count: number;
  chunks: number;
  input: Uint8Array;
  output: Uint8Array;
  ctl: Int32Array;
  /** Per chunk: id of the worker that claimed it (0 before it signs the claim, -1 the calling thread). */
  owner: Int32Array;
  /** Per chunk: 1 once its keys are written (set once, by whoever finished it first). */
  done: Int32Array;
  /** Settles when every chunk is recovered. */
  settled: Promise<void>;
  finish(): void;
}

/** A transaction decoded and hashed, waiting for its sender. */
interface Pending {
  i: number;
  tx: SignedTx;
  bytes: Uint8Array;
  hash: Uint8Array;
  digest: Uint8Array;
}

/**
 * A pool of signature-recovery workers. Each `verify` call becomes a job in shared memory that
 * the workers take apart chunk by chunk; a caller about to wait for a result calls `help()` to
 * claim the chunks no worker has started yet (work stealing), so every core stays busy even
 * when a worker has fallen behind or is still busy with an earlier job.
 */
export class TxVerifier {
  private readonly workers: Worker[] = [];
  /** Worker id (1…) of each live worker, as it signs its chunk claims. */
  private readonly workerIds = new Map<Worker, number>();
  private nextWorkerId = 1;
  private stopping = false;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  /** The job behind each promise `verify` returned, so `help` can stop at it. */
  private readonly jobOf = new WeakMap<Promise<VerifiedTx[]>, number>();

  /**
   * @param threads worker count; 0 verifies on the calling thread. The default is one fewer than
   * the machine's cores (at least one): the importing thread takes its share through `help`.
   */
  constructor(readonly threads = Math.max(1, availableParallelism() - 1)) {}

  private pool(): Worker[] {
    // Tops the pool up to `threads`: a worker that died is replaced at the next job.
    while (!this.stopping && this.workers.length < this.threads) {
      const w = new Worker(new URL('./verify-worker.js', import.meta.url));
      w.unref();
      this.workerIds.set(w, this.nextWorkerId++);
      w.on('message', (m: { id: number }) => this.jobs.get(m.id)?.finish());
      // A worker that dies (crash, OOM, terminate) may leave a chunk it claimed half done.
      w.on('error', () => this.retire(w));
      w.on('exit', () => this.retire(w));
      this.workers.push(w);
    }
    return this.workers;
  }

  private retire(w: Worker): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    const wid = this.workerIds.get(w);
    this.workerIds.delete(w);
    if (wid === undefined || this.stopping) return;
    this.reclaim(wid);
    // A replacement takes the chunks nobody has claimed yet, of every pending job.
    const before = new Set(this.workers);
    for (const nw of this.pool()) if (!before.has(nw)) for (const job of this.jobs.values()) this.post(nw, job);
  }

  private post(w: Worker, job: Job): void {
    w.postMessage({ id: job.id, count: job.count, input: job.input, output: job.output, ctl: job.ctl, owner: job.owner, done: job.done, wid: this.workerIds.get(w) });
  }

  /**
   * Redoes, on this (the importing) thread, every chunk that worker `wid` claimed and did not
   * finish, so its jobs complete without it. A chunk claimed but not yet signed (the claimant
   * died between the two steps, or a live worker is between them) is redone too: recovering a
   * chunk twice writes the same keys and it is counted once.
   */
  private reclaim(wid: number): void {
    for (const job of [...this.jobs.values()]) {
      const claimed = Math.min(Atomics.load(job.ctl, 0), job.chunks);
      for (let c = 0; c < claimed; c++) {
        if (Atomics.load(job.done, c) !== 0) continue;
        const o = Atomics.load(job.owner, c);
        if (o === wid || o === 0) runChunk(job, c);
      }
    }
  }

  /**
   * Recovers, on the calling thread, every chunk that no worker has claimed yet of the pending
   * jobs up to the one behind `upTo` (a promise `verify` returned; all jobs if omitted). Call
   * it just before awaiting that promise: this thread would otherwise sit idle while the
   * workers catch up.
   */
  help(upTo?: Promise<VerifiedTx[]>): void {
    const last = upTo === undefined ? Number.POSITIVE_INFINITY : (this.jobOf.get(upTo) ?? -1);
    for (const job of [...this.jobs.values()]) {
      if (job.id > last) break;
      runChunks(job);
    }
  }

  /**
   * Decodes raw transactions and recovers their senders. Throws a StrataError naming the
   * index of the first malformed transaction or invalid signature. `known` may return a
   * transaction already verified (e.g. by the mempool when it arrived by gossip): it is reused,
   * as Bitcoin's and geth's signature caches do, and its signature is not recovered again.
   */
  verify(raw: Uint8Array[], maxTxBytes?: number, known?: (hash: Uint8Array) => VerifiedTx | undefined): Promise<VerifiedTx[]> {
    const results: (VerifiedTx | undefined)[] = new Array(raw.length);
    const todo: Pending[] = [];
    try {
      raw.forEach((bytes, i) => {
        const hash = txHashOf(bytes);
        const cached = known?.(hash);
        if (cached && bytesEqual(cached.bytes, bytes)) {
          results[i] = cached;
          return;
        }
        try {
          todo.push({ i, tx: decodeTx(bytes, maxTxBytes), bytes, hash, digest: signingDigestOfRaw(bytes) });
        } catch (e) {
          const err = toStrataError(e);
          throw new StrataError(err.code, `transaction ${i}: ${err.message}`, { index: i });
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const job = todo.length > 0 ? this.submit(todo) : undefined;
    const p = this.collect(results, todo, job);
    if (job) this.jobOf.set(p, job.id);
    return p;
  }

  /** Queues the recoveries of `todo` as a job for the workers (or runs it here without any). */
  private submit(todo: Pending[]): Job {
    const n = todo.length;
    const job = this.newJob(n);
    todo.forEach((d, j) => {
      job.input.set(d.digest, j * ENTRY);
      job.input.set(d.tx.signature, j * ENTRY + 32);
    });
    this.jobs.set(job.id, job);
    const workers = this.pool();
    if (workers.length === 0 || n < 16) runChunks(job);
    else for (const w of workers) this.post(w, job);
    return job;
  }

  /** Waits for `job`, then turns its public keys into senders (INVALID_SIGNATURE where none). */
  private async collect(results: (VerifiedTx | undefined)[], todo: Pending[], job: Job | undefined): Promise<VerifiedTx[]> {
    if (job) await job.settled;
    todo.forEach((d, j) => {
      const pk = (job as Job).output.subarray(j * 33, j * 33 + 33);
      if (pk[0] === 0) throw new StrataError('INVALID_SIGNATURE', `transaction ${d.i}: signature does not recover to a public key`, { index: d.i });
      results[d.i] = { tx: d.tx, bytes: d.bytes, hash: d.hash, sender: addressOfPublicKey(new Uint8Array(pk)) };
    });
    return results as VerifiedTx[];
  }

  private newJob(count: number): Job {
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const job: Job = {
      id: this.nextId++,
      count,
      chunks: Math.ceil(count / CHUNK),
      input: new Uint8Array(new SharedArrayBuffer(count * ENTRY)),
      output: new Uint8Array(new SharedArrayBuffer(count * 33)),
      ctl: new Int32Array(new SharedArrayBuffer(8)),
      owner: new Int32Array(new SharedArrayBuffer(4 * Math.ceil(count / CHUNK))),
      done: new Int32Array(new SharedArrayBuffer(4 * Math.ceil(count / CHUNK))),
      settled: done,
      finish: () => {
        this.jobs.delete(job.id);
        finish();
      },
    };
    return job;
  }

  /** Stops the workers. Pending jobs are finished on this thread (a chunk a worker was in the middle of is redone). */
  async stop(): Promise<void> {
    this.stopping = true;
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
    for (const job of [...this.jobs.values()]) {
      Atomics.store(job.ctl, 0, 0);
      Atomics.store(job.ctl, 1, 0);
      job.owner.fill(0);
      job.done.fill(0);
      job.output.fill(0);
      runChunks(job);
    }
  }
}

/**
 * Claims and recovers chunks of `job` on the calling thread until none is left unclaimed;
 * finishes the job if this thread completed its last chunk. Zeros mark keys that do not recover.
 */
function runChunks(job: Job): void {
  for (let c = Atomics.add(job.ctl, 0, 1); c < job.chunks; c = Atomics.add(job.ctl, 0, 1)) {
    Atomics.store(job.owner, c, -1);
    runChunk(job, c);
  }
}

/** Recovers chunk `c` of `job` on the calling thread; counts it (once) and finishes the job after the last. */
function runChunk(job: Job, c: number): void {
  const hi = Math.min(job.count, (c + 1) * CHUNK);
  for (let j = c * CHUNK; j < hi; j++) {
    const o = j * ENTRY;
    try {
      job.output.set(recoverPublicKey(job.input.slice(o, o + 32), job.input.slice(o + 32, o + ENTRY)), j * 33);
    } catch {
      // zeros: reported as an invalid signature by the caller
    }
  }
  if (Atomics.compareExchange(job.done, c, 0, 1) === 0 && Atomics.add(job.ctl, 1, 1) + 1 === job.chunks) job.finish();
}


