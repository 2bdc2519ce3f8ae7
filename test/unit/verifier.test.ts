import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { TxVerifier } from '@strata/chain';
import { initHashing, toHex } from '@strata/primitives';
import { verifyRawTx } from '@strata/runtime';
import { devConfig, keys, transferTx } from '../helpers/chain.js';

await initHashing();
const config = devConfig();
/** 300 transfers from 4 senders: about 10 chunks, enough for workers and the caller to share. */
const raw = Array.from({ length: 300 }, (_, i) => transferTx(config, keys[i % 4]!, keys[(i + 1) % 4]!.address, 1n, Math.floor(i / 4)).bytes);
const expected = raw.map((b) => toHex(verifyRawTx(b).sender));

describe('TxVerifier (shared-memory jobs with work stealing)', () => {
  const verifier = new TxVerifier(1);
  afterAll(() => verifier.stop());

  it('recovers the same senders as verifyRawTx, whether the caller helps or not', async () => {
    const alone = await verifier.verify(raw);
    expect(alone.map((v) => toHex(v.sender))).toEqual(expected);
    const a = verifier.verify(raw);
    const b = verifier.verify(raw);
    verifier.help(b); // the calling thread takes whatever the worker has not claimed of both jobs
    expect((await a).map((v) => toHex(v.sender))).toEqual(expected);
    expect((await b).map((v) => toHex(v.sender))).toEqual(expected);
  });

  it('names the index of a signature that does not recover, from any chunk and any thread', async () => {
    for (const bad of [0, 150, 299]) {
      const copy = raw.map((b) => new Uint8Array(b));
      const tx = copy[bad] as Uint8Array;
      tx.fill(0, tx.length - 65, tx.length - 33); // r = 0: the signature cannot recover to any key
      for (const help of [false, true]) {
        const p = verifier.verify(copy);
        if (help) verifier.help(p);
        await expect(p).rejects.toMatchObject({ code: 'INVALID_SIGNATURE', message: expect.stringContaining(`transaction ${bad}:`) });
      }
    }
  });

  it('finishes pending jobs on the calling thread when stopped', async () => {
    const v = new TxVerifier(1);
    const p = v.verify(raw);
    await v.stop();
    expect((await p).map((x) => toHex(x.sender))).toEqual(expected);
  });

  it('a worker killed mid-chunk: the importing thread reclaims its chunks and the job completes', async () => {
    // A large job so the single worker is surely inside a chunk when it is killed.
    const big = Array.from({ length: 20 }, () => raw).flat();
    const want = Array.from({ length: 20 }, () => expected).flat();
    const v = new TxVerifier(1);
    const inner = v as unknown as { workers: Worker[]; jobs: Map<number, { ctl: Int32Array; done: Int32Array; owner: Int32Array }> };
    try {
      // Warm the worker up (it loads the native binding on its first job).
      expect((await v.verify(raw)).map((x) => toHex(x.sender))).toEqual(expected);
      const p = v.verify(big);
      const job = [...inner.jobs.values()][0]!;
      // Wait until the worker has signed a claim on a chunk it has not finished, then kill it.
      const t0 = Date.now();
      let victim = -1;
      while (victim < 0 && Date.now() - t0 < 5_000) {
        const claimed = Math.min(Atomics.load(job.ctl, 0), job.done.length);
        for (let c = 0; c < claimed; c++) if (Atomics.load(job.owner, c) > 0 && Atomics.load(job.done, c) === 0) victim = c;
      }
      expect(victim).toBeGreaterThanOrEqual(0);
      const w = inner.workers[0]!;
      const exited = new Promise((r) => w.once('exit', r));
      await w.terminate();
      await exited;
      // Nobody calls help(): today this job waited for ever on the dead worker's chunk.
      // (Generous: on a loaded machine the replacement worker takes a while to start.)
      const out = await Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
      expect(out).not.toBe('hung');
      expect((out as Awaited<typeof p>).map((x) => toHex(x.sender))).toEqual(want);
      // The pool replaces the dead worker for the next job.
      expect((await v.verify(raw)).map((x) => toHex(x.sender))).toEqual(expected);
      expect(inner.workers).toHaveLength(1);
      expect(inner.workers[0]).not.toBe(w);
    } finally {
      await v.stop();
    }
  });
});
