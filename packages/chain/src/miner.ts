/**
 * Proof-of-work mining off the main event loop: nonce ranges are searched on a worker thread
 * in chunks, so a new head can abort the search between chunks.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { bigintToFixed, bytesToBigint, encode, StrataError, utf8 } from '@strata/primitives';
import { type BlockHeader, HeaderCodec } from './block.js';

/** A PoW search that can be cancelled. */
export class Miner {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (r: { nonce: string | null; tried: number }) => void>();
  /** Hashes tried since start. */
  hashes = 0;
  private failure: StrataError | undefined;

  constructor(private readonly chunk = 100_000) {}

  private ensureWorker(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL('./pow-worker.js', import.meta.url));
      this.worker.unref();
      this.worker.on('message', (m: { id: number; nonce: string | null; tried: number }) => {
        this.hashes += m.tried;
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      });
      this.worker.on('error', (e) => {
        this.failure = new StrataError('INTERNAL', `PoW worker failed: ${e.message}`);
        for (const p of this.pending.values()) p({ nonce: null, tried: 0 });
        this.pending.clear();
        this.worker = undefined;
      });
    }
    return this.worker;
  }

  /**
   * Searches for a nonce that makes the header meet its target. Resolves with the sealed
   * header, or undefined if `signal` aborted first.
   */
  async mine(header: BlockHeader, signal?: AbortSignal): Promise<BlockHeader | undefined> {
    const enc = encode(HeaderCodec, { ...header, nonce: new Uint8Array(8) });
    let start = bytesToBigint(new Uint8Array(randomBytes(8)));
    const worker = this.ensureWorker();
    for (;;) {
      if (signal?.aborted) return undefined;
      const id = this.nextId++;
      const res = await new Promise<{ nonce: string | null; tried: number }>((resolve) => {
        this.pending.set(id, resolve);
        worker.postMessage({ id, header: enc, target: header.target, personal: utf8('strata-block-hdr'), start: start.toString(), count: this.chunk });
      });
      if (res.nonce !== null) return { ...header, nonce: bigintToFixed(BigInt(res.nonce), 8) };
      if (this.failure) {
        const f = this.failure;
        this.failure = undefined;
        throw f;
      }
      start = (start + BigInt(this.chunk)) & 0xffffffffffffffffn;
    }
  }

  /** Stops the worker thread. */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
