/**
 * Parallel signature recovery: transactions of a block (or a gossip batch) are decoded and
 * hashed on the main thread, and their senders recovered on a pool of worker threads. The
 * results are identical to `verifyRawTx`; this only spreads the secp256k1 work over cores.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { addressOfPublicKey, bytesEqual, recoverPublicKey, StrataError, toStrataError } from '@strata/primitives';
import { decodeTx, signingDigest, txHashOf, type SignedTx, type VerifiedTx } from '@strata/runtime';

/** A pool of signature-recovery workers. */
export class TxVerifier {
  private readonly workers: Worker[] = [];
  private nextId = 0;
  private readonly pending = new Map<number, (d: Uint8Array) => void>();

  /** @param threads worker count (default: the machine's cores); 0 verifies on the calling thread. */
  constructor(private readonly threads = availableParallelism()) {}

  private pool(): Worker[] {
    if (this.workers.length === 0 && this.threads > 0) {
      for (let i = 0; i < this.threads; i++) {
        const w = new Worker(new URL('./verify-worker.js', import.meta.url));
        w.unref();
        w.on('message', (m: { id: number; data: Uint8Array }) => {
          this.pending.get(m.id)?.(new Uint8Array(m.data));
          this.pending.delete(m.id);
        });
        this.workers.push(w);
      }
    }
    return this.workers;
  }

  /**
   * Decodes raw transactions and recovers their senders. Throws a StrataError naming the
   * index of the first malformed transaction or invalid signature. `known` may return a
   * transaction already verified (e.g. by the mempool when it arrived by gossip): it is reused,
   * as Bitcoin's and geth's signature caches do, and its signature is not recovered again.
   */
  async verify(raw: Uint8Array[], maxTxBytes?: number, known?: (hash: Uint8Array) => VerifiedTx | undefined): Promise<VerifiedTx[]> {
    const results: (VerifiedTx | undefined)[] = new Array(raw.length);
    const todo: { i: number; tx: SignedTx; bytes: Uint8Array; hash: Uint8Array; digest: Uint8Array }[] = [];
    raw.forEach((bytes, i) => {
      const hash = txHashOf(bytes);
      const cached = known?.(hash);
      if (cached && bytesEqual(cached.bytes, bytes)) {
        results[i] = cached;
        return;
      }
      try {
        const tx = decodeTx(bytes, maxTxBytes);
        todo.push({ i, tx, bytes, hash, digest: signingDigest(tx) });
      } catch (e) {
        const err = toStrataError(e);
        throw new StrataError(err.code, `transaction ${i}: ${err.message}`, { index: i });
      }
    });
    const workers = this.pool();
    const n = todo.length;
    const pubkeys = new Uint8Array(n * 33);
    if (workers.length === 0 || n < 16) {
      todo.forEach((d, j) => {
        try {
          pubkeys.set(recoverPublicKey(d.digest, d.tx.signature), j * 33);
        } catch {
          // zeros: reported below
        }
      });
    } else {
      const per = Math.ceil(n / workers.length);
      const jobs: Promise<void>[] = [];
      for (let w = 0; w < workers.length; w++) {
        const lo = w * per;
        const hi = Math.min(n, lo + per);
        if (lo >= hi) break;
        const buf = new Uint8Array((hi - lo) * 97);
        for (let j = lo; j < hi; j++) {
          const d = todo[j] as (typeof todo)[number];
          buf.set(d.digest, (j - lo) * 97);
          buf.set(d.tx.signature, (j - lo) * 97 + 32);
        }
        const id = this.nextId++;
        jobs.push(
          new Promise<void>((resolve) => {
            this.pending.set(id, (out) => {
              pubkeys.set(out, lo * 33);
              resolve();
            });
            (workers[w] as Worker).postMessage({ id, data: buf, count: hi - lo }, [buf.buffer]);
          }),
        );
      }
      await Promise.all(jobs);
    }
    todo.forEach((d, j) => {
      const pk = pubkeys.subarray(j * 33, j * 33 + 33);
      if (pk[0] === 0) throw new StrataError('INVALID_SIGNATURE', `transaction ${d.i}: signature does not recover to a public key`, { index: d.i });
      results[d.i] = { tx: d.tx, bytes: d.bytes, hash: d.hash, sender: addressOfPublicKey(new Uint8Array(pk)) };
    });
    return results as VerifiedTx[];
  }

  /** Stops the workers. */
  async stop(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
