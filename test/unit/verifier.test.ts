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
});
