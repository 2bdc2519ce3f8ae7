import {
  FrameReader,
  MAX_ERROR_MESSAGE_BYTES,
  PeerScoreBook,
  decodeResponseFrame,
  decodeVarint,
  encodeErrorFrame,
  encodeFrame,
  encodeResponseFrame,
  encodeVarint,
  resolveP2POptions,
} from '@strata/p2p';
import { isStrataError } from '@strata/primitives';
import { describe, expect, it } from 'vitest';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isStrataError(e) ? e.code : 'FOREIGN';
  }
  return undefined;
}

describe('p2p varint and frames', () => {
  it('round-trips varints and rejects non-canonical or over-long ones', () => {
    for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 28 + 5, 2 ** 32]) {
      const b = encodeVarint(n);
      expect(decodeVarint(b)).toEqual({ value: n, bytes: b.length });
    }
    expect(encodeVarint(300)).toEqual(Uint8Array.from([0xac, 0x02]));
    expect(decodeVarint(Uint8Array.from([0x80]))).toBeNull(); // incomplete
    expect(code(() => decodeVarint(Uint8Array.from([0x80, 0x00])))).toBe('DECODE_INVALID');
    expect(code(() => decodeVarint(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])))).toBe('DECODE_INVALID');
    expect(code(() => encodeVarint(-1))).toBe('DECODE_INVALID');
  });

  it('FrameReader assembles a frame from byte-sized chunks', () => {
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    const frame = encodeFrame(payload);
    const r = new FrameReader(1000);
    let out: Uint8Array | null = null;
    for (let i = 0; i < frame.length; i++) {
      expect(out).toBeNull();
      out = r.push(frame.subarray(i, i + 1));
    }
    expect(out).toEqual(payload);
    expect(new FrameReader(0).push(encodeFrame(new Uint8Array(0)))).toEqual(new Uint8Array(0));
  });

  it('FrameReader fails on the length prefix alone when it exceeds the limit', () => {
    const r = new FrameReader(100);
    // Only the prefix of a 101-byte frame: no payload has been buffered yet.
    expect(code(() => r.push(encodeVarint(101)))).toBe('DECODE_OVERSIZED');
    expect(code(() => new FrameReader(100).push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe('DECODE_OVERSIZED');
  });

  it('FrameReader rejects bytes after the frame', () => {
    const f = encodeFrame(Uint8Array.from([1, 2]));
    const extra = new Uint8Array(f.length + 1);
    extra.set(f);
    expect(code(() => new FrameReader(10).push(extra))).toBe('DECODE_INVALID');
  });

  it('response frames carry a status byte and enforce limits per status', () => {
    const ok = new FrameReader(100).push(encodeResponseFrame(0, Uint8Array.from([9, 9]))) as Uint8Array;
    expect(decodeResponseFrame(ok, 2)).toEqual({ status: 'ok', body: Uint8Array.from([9, 9]) });
    expect(code(() => decodeResponseFrame(ok, 1))).toBe('DECODE_OVERSIZED');
    const err = new FrameReader(2000).push(encodeErrorFrame('x'.repeat(5000))) as Uint8Array;
    expect(err.length).toBe(1 + MAX_ERROR_MESSAGE_BYTES);
    const d = decodeResponseFrame(err, 0);
    expect(d.status).toBe('error');
    expect(code(() => decodeResponseFrame(Uint8Array.from([7]), 10))).toBe('DECODE_INVALID');
    expect(code(() => decodeResponseFrame(new Uint8Array(0), 10))).toBe('DECODE_INVALID');
  });
});

describe('p2p PeerScoreBook', () => {
  it('bans at the threshold, decays with a half-life, and forgets after the ban', () => {
    let now = 1_000_000;
    const book = new PeerScoreBook({ banThreshold: -100, banSeconds: 60, halfLifeSeconds: 100, now: () => now });
    expect(book.score('p')).toBe(0);
    expect(book.penalize('p', 40)).toEqual({ score: -40, banned: false });
    now += 100_000; // one half-life
    expect(book.score('p')).toBeCloseTo(-20, 6);
    expect(book.penalize('p', 79).banned).toBe(false); // -99
    const r = book.penalize('p', 1);
    expect(r.banned).toBe(true);
    expect(book.isBanned('p')).toBe(true);
    expect(book.penalize('p', 50).banned).toBe(false); // already banned: no second ban event
    expect(book.bannedPeers()).toEqual(['p']);
    now += 59_000;
    expect(book.isBanned('p')).toBe(true);
    now += 1_001;
    expect(book.isBanned('p')).toBe(false);
    expect(book.score('p')).toBe(0);
  });
});

describe('p2p options', () => {
  it('fills defaults and rejects bad fields with CONFIG_INVALID', () => {
    const o = resolveP2POptions({ networkId: 'abcd0123' });
    expect(o.listen).toEqual(['/ip4/127.0.0.1/tcp/0']);
    expect(o.maxGossipBytes).toBe(2 * 1024 * 1024);
    expect(o.banSeconds).toBe(300);
    expect(code(() => resolveP2POptions({ networkId: '' }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'a/b' }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'n', listen: ['not-a-multiaddr'] }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'n', bootnodes: ['/ip4/127.0.0.1/tcp/1'] }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'n', maxGossipBytes: 0 }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'n', maxGossipBytes: 64 * 1024 * 1024 }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveP2POptions({ networkId: 'n', banSeconds: -1 }))).toBe('CONFIG_INVALID');
    const b = resolveP2POptions({
      networkId: 'n',
      bootnodes: ['/ip4/10.0.0.1/tcp/30333/p2p/12D3KooWMt45SPPyAGBv18AptpqVHr6JmVnBFap5AAom6DRZoKma'],
    });
    expect(b.bootnodes[0]?.peerId).toBe('12D3KooWMt45SPPyAGBv18AptpqVHr6JmVnBFap5AAom6DRZoKma');
  });

  it('installs the Promise.withResolvers polyfill that libp2p needs on Node 20', () => {
    expect(typeof (Promise as unknown as { withResolvers?: unknown }).withResolvers).toBe('function');
  });
});
