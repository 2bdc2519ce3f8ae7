/**
 * Parallel signature recovery: transactions of a block (or a gossip batch) are decoded and
 * hashed on the main thread, and their senders recovered on a pool of worker threads. The
 * results are identical to `verifyRawTx`; this only spreads the secp256k1 work over cores.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { addressOfPublicKey, StrataError, toStrataError } from '@strata/primitives';
import { decodeTx, signingDigest, txHashOf, type VerifiedTx } from '@strata/runtime';

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
   * index of the first malformed transaction or invalid signature.
   */
  async verify(raw: Uint8Array[], maxTxBytes?: number): Promise<VerifiedTx[]> {
    const decoded = raw.map((bytes, i) => {
      try {
        const tx = decodeTx(bytes, maxTxBytes);
        return { tx, bytes, hash: txHashOf(bytes), digest: signingDigest(tx) };
      } catch (e) {
        const err = toStrataError(e);
        throw new StrataError(err.code, `transaction ${i}: ${err.message}`, { index: i });
      }
    });
    const workers = this.pool();
    const n = decoded.length;
    const pubkeys = new Uint8Array(n * 33);
    if (workers.length === 0 || n < 16) {
      const { recoverPublicKey } = await import('@strata/primitives');
      decoded.forEach((d, i) => {
        try {
          pubkeys.set(recoverPublicKey(d.digest, d.tx.signature), i * 33);
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
        for (let i = lo; i < hi; i++) {
          const d = decoded[i] as (typeof decoded)[number];
          buf.set(d.digest, (i - lo) * 97);
          buf.set(d.tx.signature, (i - lo) * 97 + 32);
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
    return decoded.map((d, i) => {
      const pk = pubkeys.subarray(i * 33, i * 33 + 33);
      if (pk[0] === 0) throw new StrataError('INVALID_SIGNATURE', `transaction ${i}: signature does not recover to a public key`, { index: i });
      return { tx: d.tx, bytes: d.bytes, hash: d.hash, sender: addressOfPublicKey(new Uint8Array(pk)) };
    });
  }

  /** Stops the workers. */
  async stop(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
