/**
 * The payment path's crypto off the event loop (crypto-pool.ts): the onion's curve work on a
 * worker thread and the invoice's signature check on the thread pool give the bytes, results and
 * typed errors of the inline functions — for a fixed session key the known-answer packet of
 * channel-onion-kat — concurrent jobs are not mixed up, and without the native addon (the
 * @noble fallback) the same packet is built inline.
 */
import { describe, expect, it } from 'vitest';
import {
  buildOnion,
  ChannelMetrics,
  onionWorkerStatus,
  drainOnionWorker,
  buildOnionAsync,
  createFailure,
  decodeInvoice,
  decodeInvoiceAsync,
  decryptFailure,
  edVerifyAsync,
  encodeInvoice,
  peelOnion,
  randomEdKey,
  secpPublic,
  sha256,
  useNobleOnionCurve,
  wrapFailure,
} from '@strata/channels';
import { StrataError, toHex } from '@strata/primitives';
import { bech32 } from '@scure/base';

const sk = (b: number) => new Uint8Array(32).fill(b);
const hops = [1, 2, 3].map((b, i) => ({
  key: secpPublic(sk(b)),
  payload: { next: i < 2 ? new Uint8Array(32).fill(10 + i) : new Uint8Array(0), amount: 1000n - BigInt(i), expiry: 100 - i * 6, secret: i === 2 ? new Uint8Array(32).fill(7) : new Uint8Array(0), total: i === 2 ? 998n : 0n },
}));
const hash = new Uint8Array(32).fill(5);
const KAT = '0x8e71e65a2862566c0d65d672409a6eede06d77d7e1e110df469b8ffc5c057f71';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StrataError);
    return (e as StrataError).code;
  }
  return 'resolved';
}

describe('onion on the worker thread', () => {
  it('a fixed session key gives the known-answer packet and the inline secrets', async () => {
    const a = await buildOnionAsync(hops, hash, sk(9));
    expect(toHex(sha256(a.packet))).toBe(KAT);
    const b = buildOnion(hops, hash, sk(9));
    expect(a.secrets.map(toHex)).toEqual(b.secrets.map(toHex));
  });

  it('a fresh session: every hop peels its layer, failures decrypt to the failing hop', async () => {
    const { packet, secrets } = await buildOnionAsync(hops, hash);
    const p1 = peelOnion(packet, sk(1), hash);
    const p2 = peelOnion(p1.next as Uint8Array, sk(2), hash);
    const p3 = peelOnion(p2.next as Uint8Array, sk(3), hash);
    expect([p1.payload.amount, p2.payload.amount, p3.payload.amount, p3.next]).toEqual([1000n, 999n, 998n, undefined]);
    const back = wrapFailure(p1.secret, wrapFailure(p2.secret, createFailure(p3.secret, { code: 0x400f, data: new Uint8Array(0) })));
    expect(decryptFailure(secrets, back)?.hop).toBe(2);
  });

  it('200 concurrent jobs each get their own session (no answers crossed)', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => sk((i % 250) + 1));
    const built = await Promise.all(keys.map((k, i) => buildOnionAsync([{ key: secpPublic(k), payload: { ...(hops[2] as (typeof hops)[number]).payload, amount: BigInt(i + 1) } }], hash)));
    for (const [i, b] of built.entries()) expect(peelOnion(b.packet, keys[i] as Uint8Array, hash).payload.amount).toBe(BigInt(i + 1));
    expect(new Set(built.map((b) => toHex(b.packet.subarray(1, 34)))).size).toBe(200);
  });

  it('a hop key that is not a curve point, or a route of 0 or 21 hops, rejects CHANNEL_ONION', async () => {
    const bad = [{ key: new Uint8Array(33).fill(5), payload: (hops[0] as (typeof hops)[number]).payload }];
    expect(await code(buildOnionAsync(bad, hash))).toBe('CHANNEL_ONION');
    expect(await code(buildOnionAsync([], hash))).toBe('CHANNEL_ONION');
    expect(await code(buildOnionAsync(Array.from({ length: 21 }, () => hops[0] as (typeof hops)[number]), hash))).toBe('CHANNEL_ONION');
    // the worker survives a bad job
    expect(toHex(sha256((await buildOnionAsync(hops, hash, sk(9))).packet))).toBe(KAT);
  });
});

describe('invoice signature on the thread pool', () => {
  const key = randomEdKey();
  const text = encodeInvoice({ chainPrefix: 'strata', amount: 1000n, timestamp: 1_700_000_000, paymentHash: hash, paymentSecret: sk(4), expiry: 3600, description: 'coffee', minFinalExpiry: 12 }, key);

  it('decodes as decodeInvoice does', async () => {
    expect(await decodeInvoiceAsync(text, 'strata')).toEqual(decodeInvoice(text, 'strata'));
  });

  it('a changed signature, another chain, or not bech32 rejects CHANNEL_INVOICE', async () => {
    // a valid bech32 string whose last signature byte is changed: only the signature check can refuse it
    const d = bech32.decode(text as `${string}1${string}`, false);
    const bytes = bech32.fromWords(d.words);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    const tampered = bech32.encode(d.prefix, bech32.toWords(bytes), false);
    expect(() => decodeInvoice(tampered, 'strata')).toThrow(/signature/);
    await expect(decodeInvoiceAsync(tampered, 'strata')).rejects.toThrow(/signature does not verify/);
    expect(await code(decodeInvoiceAsync(tampered, 'strata'))).toBe('CHANNEL_INVOICE');
    expect(await code(decodeInvoiceAsync(text, 'other'))).toBe('CHANNEL_INVOICE');
    expect(await code(decodeInvoiceAsync('hello', 'strata'))).toBe('CHANNEL_INVOICE');
  });

  it('edVerifyAsync: true for a good signature, false (never a rejection) for a bad one, key or length', async () => {
    const msg = new Uint8Array([1, 2, 3]);
    const { edSignMsg } = await import('@strata/channels');
    const sig = edSignMsg(key, msg);
    expect(await edVerifyAsync(key.publicKey, msg, sig)).toBe(true);
    expect(await edVerifyAsync(key.publicKey, new Uint8Array([1, 2, 4]), sig)).toBe(false);
    expect(await edVerifyAsync(new Uint8Array(31), msg, sig)).toBe(false);
    expect(await edVerifyAsync(key.publicKey, msg, sig.subarray(0, 63))).toBe(false);
  });
});

describe('draining the worker (ChannelNode.stop)', () => {
  it('resolves once every session in flight is back, at once when none is', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => secpPublic(sk(i + 1)));
    const jobs = Array.from({ length: 300 }, () => buildOnionAsync(keys.map((key) => ({ key, payload: (hops[0] as (typeof hops)[number]).payload })), hash).catch(() => undefined));
    expect(onionWorkerStatus().pending).toBeGreaterThan(0);
    await drainOnionWorker();
    expect(onionWorkerStatus().pending).toBe(0);
    await Promise.all(jobs);
    const t = performance.now();
    await drainOnionWorker();
    expect(performance.now() - t).toBeLessThan(50);
  });
});

describe('what an operator sees', () => {
  it('the worker status and its two gauges', async () => {
    await buildOnionAsync(hops, hash);
    const s = onionWorkerStatus();
    expect(s).toMatchObject({ mode: 'worker', pending: 0 });
    expect(s.done).toBeGreaterThan(0);
    const text = await new ChannelMetrics().registry.metrics();
    expect(text).toMatch(/strata_channel_onion_worker_up 1/);
    expect(text).toMatch(/strata_channel_onion_worker_pending 0/);
  });
});

describe('without the native addon', () => {
  it('the onion is built inline with the same bytes, and the status says so', async () => {
    useNobleOnionCurve();
    const a = await buildOnionAsync(hops, hash, sk(9));
    expect(toHex(sha256(a.packet))).toBe(KAT);
    expect(onionWorkerStatus().mode).toBe('inline');
    expect(await new ChannelMetrics().registry.metrics()).toMatch(/strata_channel_onion_worker_up 0/);
  });
});
