/**
 * The hot-path codecs (RLP layer, generic codecs, decodeTx, signingDigestOfRaw, encodeReceipt,
 * account records, OverlayView) against oracles: the codec as it was before the fast paths
 * (test/fixtures/reference-codec.ts, on @ethereumjs/rlp) and plain reference models. Same bytes,
 * same values, and the same DecodeError code on every malformed input.
 */
import { RLP } from '@ethereumjs/rlp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '@strata/primitives';
import { blake2b256, bytesKey, DecodeError, decodeRlp, encodeRlp, initHashing, recoverAddress, toHex, utf8, type RlpItem } from '@strata/primitives';
import {
  decodeAccount,
  decodeReceipt,
  decodeTx,
  defaultChainConfig,
  encodeAccount,
  encodeReceipt,
  encodeTx,
  minimumFee,
  recoverSender,
  signingDigest,
  signingDigestOfRaw,
  signTx,
  verifyRawTx,
  type Receipt,
  type SignedTx,
} from '@strata/runtime';
import { OverlayView, type StateView } from '@strata/state';
import * as R from '../fixtures/reference-codec.js';
import { keys } from '../helpers/chain.js';
import { editsArb, mutate } from '../helpers/mutate.js';

await initHashing();

/** A comparable form of a decoded value: byte arrays by content and class, bigints tagged. */
function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: toHex(v), cls: v.constructor.name };
  if (typeof v === 'bigint') return { big: v.toString() };
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, norm(x)]);
  return v;
}

/** The value, or the error class and code. */
function outcome(f: () => unknown): unknown {
  try {
    return { ok: norm(f()) };
  } catch (e) {
    return { err: e instanceof DecodeError ? `DecodeError:${e.code}` : e instanceof P.StrataError ? `StrataError:${e.code}` : (e as Error).name };
  }
}

/** Byte strings around every RLP length boundary (single byte, 55/56, 255/256). */
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 3 }),
  fc.uint8Array({ minLength: 1, maxLength: 1 }),
  fc.uint8Array({ minLength: 54, maxLength: 57 }),
  fc.uint8Array({ minLength: 254, maxLength: 257 }),
);

const itemArb: fc.Arbitrary<RlpItem> = fc.letrec<{ item: RlpItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, bytesArb, fc.array(tie('item'), { maxLength: 5 })),
})).item;

/** The RLP step of the old `decode`, error classification included. */
function referenceDecodeRlp(bytes: Uint8Array): RlpItem {
  if (bytes.length === 0) throw new DecodeError('DECODE_TRUNCATED', 'empty input');
  try {
    return RLP.decode(bytes) as RlpItem;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new DecodeError(/length|short|out.of.bounds|not enough|remainder/i.test(msg) ? 'DECODE_TRUNCATED' : 'DECODE_INVALID', msg);
  }
}

describe('RLP layer', () => {
  it('encodes every item exactly as @ethereumjs/rlp', () => {
    fc.assert(
      fc.property(itemArb, (item) => {
        expect(toHex(encodeRlp(item))).toBe(toHex(RLP.encode(item as never)));
      }),
      { numRuns: 1000 },
    );
    for (const n of [65_535, 65_536, 70_000]) {
      const big = [new Uint8Array(n).fill(7), [new Uint8Array(n)]];
      expect(toHex(encodeRlp(big))).toBe(toHex(RLP.encode(big as never)));
    }
  });

  it('decodes exactly what @ethereumjs/rlp decodes and rejects the rest with the same code', () => {
    const check = (b: Uint8Array) => {
      expect(outcome(() => decodeRlp(b))).toEqual(outcome(() => referenceDecodeRlp(b)));
      const buf = Buffer.from(b);
      expect(outcome(() => decodeRlp(buf))).toEqual(outcome(() => referenceDecodeRlp(buf)));
    };
    fc.assert(
      fc.property(itemArb, editsArb, (item, edits) => {
        const bytes = RLP.encode(item as never);
        check(bytes);
        check(mutate(bytes, edits));
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), check), { numRuns: 3000 });
    const crafted = [
      [0x81, 0x05], // prefixed single byte
      [0x81, 0x80],
      [0xb8, 0x05, 1, 2, 3, 4, 5], // long form of a short string
      [0xb9, 0x00, 0x40, ...new Array(64).fill(1)], // leading zero in a length
      [0xf8, 0x02, 0x01, 0x02], // long form of a short list
      [0xc2, 0x01], // short list overrunning the input
      [0xc1, 0x01, 0x02], // trailing byte
      [0xc3, 0x82, 0x01], // item overrunning its list
      [0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // absurd length
      [0xff, 0x01, 0, 0, 0, 0, 0, 0, 0],
      [0xb8],
      [0xf8],
    ];
    for (const c of crafted) check(Uint8Array.from(c));
    // Nesting up to MAX_RLP_DEPTH decodes as the reference does; deeper is refused with a typed
    // error before any recursion (the reference would recurse into it).
    let deep: RlpItem = new Uint8Array([1]);
    for (let i = 0; i < P.MAX_RLP_DEPTH; i++) deep = [deep];
    check(RLP.encode(deep as never));
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(outcome(() => decodeRlp(RLP.encode(deep as never)))).toEqual({ err: 'DecodeError:DECODE_INVALID' });
  });

  it('returns fresh copies of byte items for Uint8Array input', () => {
    const input = RLP.encode([new Uint8Array([1, 2, 3]), new Uint8Array([0x42])] as never);
    const item = decodeRlp(input) as Uint8Array[];
    input.fill(0);
    expect(toHex(item[0]!)).toBe('0x010203');
    expect(toHex(item[1]!)).toBe('0x42');
  });
});

/** One struct over every generic codec, built from either implementation. */
function shape(lib: typeof P | typeof R) {
  return lib.struct('T', {
    a: lib.uint,
    b: lib.uintBig(128),
    c: lib.uintBig(64),
    d: lib.uintBig(12),
    s: lib.str(8),
    t: lib.str(100),
    f: lib.fixedBytes(4),
    v: lib.varBytes(60),
    l: lib.list(lib.bool, 3),
    o: lib.optional(lib.uint),
    n: lib.list(lib.struct('N', { x: lib.uint, y: lib.str(4) }), 2),
  });
}
const fastShape = shape(P);
const refShape = shape(R);

/** Strings mixing ASCII with multi-byte characters, a BOM and lone surrogates. */
const textArb = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      { weight: 8, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
      fc.constantFrom('é', '\uFEFF', '\uD800', '\uDC00', '😀', '中'),
    ),
    maxLength,
  });

const uintArb = fc.oneof(
  fc.nat(300),
  fc.nat(),
  fc.constantFrom(0, 127, 128, 255, 256, 2 ** 48 - 1, 2 ** 48, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);
const bigArb = (bits: number) => {
  const max = (1n << BigInt(bits)) - 1n;
  const edges = [0n, 127n, 128n, (1n << 48n) - 1n, 1n << 48n, max].filter((v) => v <= max);
  return fc.oneof(fc.bigInt({ min: 0n, max: 1000n < max ? 1000n : max }), fc.bigInt({ min: 0n, max }), fc.constantFrom(...edges));
};

const anyShapeValueArb = fc.record({
  a: uintArb,
  b: bigArb(128),
  c: bigArb(64),
  d: bigArb(12),
  s: textArb(6),
  t: textArb(40),
  f: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  v: bytesArb,
  l: fc.array(fc.boolean(), { maxLength: 3 }),
  o: fc.option(uintArb, { nil: undefined }),
  n: fc.array(fc.record({ x: uintArb, y: textArb(2) }), { maxLength: 2 }),
});

/** Any value (some out of the codecs' limits), or only values the codec encodes. */
function shapeValueArb(wide: boolean) {
  if (wide) return anyShapeValueArb;
  return anyShapeValueArb.filter((v) => {
    try {
      R.encode(refShape, v);
      return true;
    } catch {
      return false;
    }
  });
}

describe('generic codecs', () => {
  it('encode as before, and reject the same invalid values', () => {
    fc.assert(
      fc.property(shapeValueArb(true), (v) => {
        expect(outcome(() => P.encode(fastShape, v))).toEqual(outcome(() => R.encode(refShape, v)));
      }),
      { numRuns: 1000 },
    );
    const bad = [-1, 1.5, 2 ** 53, Number.NaN];
    for (const a of bad) {
      const v = fc.sample(shapeValueArb(false), { numRuns: 1, seed: 1 })[0]!;
      expect(outcome(() => P.encode(fastShape, { ...v, a }))).toEqual(outcome(() => R.encode(refShape, { ...v, a })));
    }
    for (const b of [-1n, 1n << 128n]) {
      const v = fc.sample(shapeValueArb(false), { numRuns: 1, seed: 2 })[0]!;
      expect(outcome(() => P.encode(fastShape, { ...v, b }))).toEqual(outcome(() => R.encode(refShape, { ...v, b })));
      expect(outcome(() => P.encode(fastShape, { ...v, d: 1n << 12n }))).toEqual(outcome(() => R.encode(refShape, { ...v, d: 1n << 12n })));
    }
  });

  it('decode valid, mutated and random input exactly as before (value or error code)', () => {
    const check = (b: Uint8Array) => {
      expect(outcome(() => P.decode(fastShape, b))).toEqual(outcome(() => R.decode(refShape, b)));
    };
    fc.assert(
      fc.property(shapeValueArb(false), editsArb, (v, edits) => {
        const bytes = R.encode(refShape, v);
        check(bytes);
        check(mutate(bytes, edits));
        check(mutate(mutate(bytes, edits), edits));
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), check), { numRuns: 1000 });
    // Hand-made integer and string edge cases inside an otherwise valid value.
    const v = fc.sample(shapeValueArb(false), { numRuns: 1, seed: 3 })[0]!;
    const items = RLP.decode(R.encode(refShape, v)) as RlpItem[];
    const variants: [number, RlpItem][] = [
      [0, new Uint8Array([0])],
      [0, new Uint8Array([0, 1])],
      [0, new Uint8Array(7).fill(0xff)],
      [0, new Uint8Array([0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
      [0, new Uint8Array([0x20, 0, 0, 0, 0, 0, 0])],
      [0, new Uint8Array(8).fill(1)],
      [1, new Uint8Array(17).fill(1)],
      [1, new Uint8Array([0, 5])],
      [3, new Uint8Array([0x10, 0x00])],
      [3, new Uint8Array([0x0f, 0xff])],
      [4, utf8('\uFEFFab')],
      [4, new Uint8Array([0xc3, 0x28])],
      [4, new Uint8Array([0x61, 0xff])],
      [4, new Uint8Array(9).fill(0x61)],
      [5, new Uint8Array(70).fill(0x61)],
      [5, new Uint8Array([...new Array(70).fill(0x61), 0xe2, 0x82])],
      [5, []],
      [6, new Uint8Array(3)],
      [9, [new Uint8Array([1]), new Uint8Array([2])]],
      [9, new Uint8Array(0)],
    ];
    for (const [i, item] of variants) {
      const copy = [...items];
      copy[i] = item;
      check(RLP.encode(copy as never));
    }
  });

  it('decode respects the input size limit and rejects non-bytes as before', () => {
    const bytes = R.encode(refShape, fc.sample(shapeValueArb(false), { numRuns: 1, seed: 4 })[0]!);
    for (const max of [0, 1, bytes.length - 1, bytes.length]) {
      expect(outcome(() => P.decode(fastShape, bytes, max))).toEqual(outcome(() => R.decode(refShape, bytes, max)));
    }
    expect(outcome(() => P.decode(fastShape, [1, 2] as never))).toEqual(outcome(() => R.decode(refShape, [1, 2] as never)));
    expect(outcome(() => P.decode(fastShape, new Uint8Array(0)))).toEqual(outcome(() => R.decode(refShape, new Uint8Array(0))));
  });
});

const MAX_ARGS = 4 * 1024 * 1024;
const unsignedFields = {
  chainId: R.uint,
  nonce: R.uint,
  fee: R.uintBig(128),
  computeLimit: R.uint,
  module: R.str(32),
  method: R.str(32),
  args: R.varBytes(MAX_ARGS),
};
const refUnsignedTx = R.struct('UnsignedTx', unsignedFields);
const refSignedTx = R.struct('SignedTx', { ...unsignedFields, signature: R.fixedBytes(65) });

const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('bank', 'transfer', '', 'a', 'x'.repeat(32)) },
  textArb(20),
  fc.string({ maxLength: 34 }),
);
const txArb: fc.Arbitrary<SignedTx> = fc.record({
  chainId: uintArb,
  nonce: uintArb,
  fee: bigArb(128),
  computeLimit: uintArb,
  module: nameArb,
  method: nameArb,
  args: fc.oneof(bytesArb, fc.uint8Array({ maxLength: 300 })),
  signature: fc.uint8Array({ minLength: 65, maxLength: 65 }),
});

describe('decodeTx fast path', () => {
  it('encodes and decodes transactions exactly as the reference codec, values and errors', () => {
    const check = (b: Uint8Array, max?: number) => {
      expect(outcome(() => decodeTx(b, max))).toEqual(outcome(() => R.decode(refSignedTx, b, max)));
      const buf = Buffer.from(b);
      expect(outcome(() => decodeTx(buf, max))).toEqual(outcome(() => R.decode(refSignedTx, buf, max)));
    };
    fc.assert(
      fc.property(txArb, editsArb, fc.nat(400), (tx, edits, max) => {
        const ref = outcome(() => R.encode(refSignedTx, tx));
        expect(outcome(() => encodeTx(tx))).toEqual(ref);
        if (!('ok' in (ref as object))) return;
        const bytes = R.encode(refSignedTx, tx);
        check(bytes);
        check(bytes, max);
        check(mutate(bytes, edits));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)),
      { numRuns: 1000 },
    );
  });

  it('returns byte fields that do not alias the input', () => {
    const tx = fc.sample(
      txArb.filter((t) => Buffer.byteLength(t.module) <= 32 && Buffer.byteLength(t.method) <= 32),
      { numRuns: 1, seed: 5 },
    )[0]!;
    const bytes = encodeTx(tx);
    const back = decodeTx(bytes);
    bytes.fill(0);
    expect(toHex(back.signature)).toBe(toHex(tx.signature));
    expect(toHex(back.args)).toBe(toHex(tx.args));
  });
});

describe('signingDigestOfRaw', () => {
  const SIGN_PERSONAL = utf8('strata-tx-signed');
  it('equals signingDigest(decodeTx(bytes)) for every decodable transaction, as the old codec computed it', () => {
    const check = (bytes: Uint8Array) => {
      let decoded: SignedTx;
      try {
        decoded = R.decode(refSignedTx, bytes);
      } catch {
        return;
      }
      const want = toHex(blake2b256(R.encode(refUnsignedTx, decoded), SIGN_PERSONAL));
      expect(toHex(signingDigestOfRaw(bytes))).toBe(want);
      expect(toHex(signingDigest(decodeTx(bytes)))).toBe(want);
    };
    fc.assert(
      fc.property(txArb, editsArb, (tx, edits) => {
        let bytes: Uint8Array;
        try {
          bytes = R.encode(refSignedTx, tx);
        } catch {
          return;
        }
        check(bytes);
        check(mutate(bytes, edits));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps a leading U+FEFF in names, so no second encoding of a transaction exists', () => {
    const tx: SignedTx = {
      chainId: 1,
      nonce: 0,
      fee: 1n,
      computeLimit: 1,
      module: 'bank',
      method: '\uFEFFtransfer',
      args: new Uint8Array(0),
      signature: new Uint8Array(65),
    };
    const bytes = R.encode(refSignedTx, tx);
    expect(decodeTx(bytes).method).toBe('\uFEFFtransfer');
    expect(toHex(signingDigestOfRaw(bytes))).toBe(toHex(signingDigest(tx)));
    // The BOM-less encoding is another transaction with another digest: nothing aliases.
    expect(toHex(signingDigest(tx))).not.toBe(toHex(signingDigest({ ...tx, method: 'transfer' })));
  });

  it('recovers the signer of real transactions, and rejects bytes that are not a signed transaction', () => {
    fc.assert(
      fc.property(txArb, fc.integer({ min: 0, max: 3 }), (tx, k) => {
        if (Buffer.byteLength(tx.module) > 32 || Buffer.byteLength(tx.method) > 32) return;
        const signed = signTx(tx, keys[k]!.secretKey);
        const bytes = encodeTx(signed);
        const decoded = decodeTx(bytes);
        const sender = toHex(recoverAddress(signingDigestOfRaw(bytes), signed.signature));
        // Exactly the old verification (decode, re-encode, digest), quirks included...
        expect(sender).toBe(toHex(recoverSender(decoded)));
        expect(toHex(verifyRawTx(bytes).sender)).toBe(sender);
        // ...which is always the signer, and names survive decoding exactly (a lone surrogate,
        // which UTF-8 cannot carry, was already U+FFFD in the signed bytes).
        const wellFormed = (t: string) => Buffer.from(t, 'utf8').toString('utf8');
        expect(decoded.module).toBe(wellFormed(tx.module));
        expect(decoded.method).toBe(wellFormed(tx.method));
        expect(sender).toBe(toHex(keys[k]!.address));
      }),
      { numRuns: 50 },
    );
    for (const junk of [[], [0x80], [0xc0], [0xc1, 0x01], [0xf8, 0x40, ...new Array(64).fill(1)], [0xb8, 0x41, ...new Array(65).fill(1)]]) {
      expect(() => signingDigestOfRaw(Uint8Array.from(junk))).toThrow(DecodeError);
    }
  });
});

/** The receipt layout of receipt.ts, on the reference codecs (pins the consensus encoding). */
const refEvent = R.struct('Event', { module: R.str(32), type: R.str(64), json: R.str(1 << 20) });
const refReceipt = R.struct('Receipt', {
  txHash: R.fixedBytes(32),
  ok: R.uint,
  computeUsed: R.uint,
  fee: R.uintBig(128),
  // Consensus bytes carry the error's stable code only (the message is never hashed).
  error: R.optional(R.struct('ReceiptError', { code: R.str(64) })),
  events: R.list(refEvent, 10_000),
});

function referenceEncodeReceipt(r: Receipt): Uint8Array {
  return R.encode(refReceipt, {
    txHash: r.txHash,
    ok: r.status === 'ok' ? 1 : 0,
    computeUsed: r.computeUsed,
    fee: r.fee,
    error: r.error ? { code: r.error.code } : undefined,
    events: r.events.map((e) => ({ module: e.module, type: e.type, json: JSON.stringify(e.data) })),
  });
}

function referenceDecodeReceipt(bytes: Uint8Array): Receipt {
  const s = R.decode(refReceipt, bytes);
  const r: Receipt = {
    txHash: s.txHash,
    status: s.ok === 1 ? 'ok' : 'failed',
    computeUsed: s.computeUsed,
    fee: s.fee,
    events: s.events.map((e) => ({ module: e.module, type: e.type, data: JSON.parse(e.json) })),
  };
  if (s.error) r.error = { code: s.error.code, message: '' };
  return r;
}

const eventArb = fc.record({
  module: fc.oneof({ weight: 4, arbitrary: fc.constant('bank') }, textArb(34)),
  type: fc.oneof({ weight: 4, arbitrary: fc.constant('transfer') }, textArb(66)),
  data: fc.dictionary(textArb(8), fc.oneof(textArb(80), fc.integer(), fc.double(), fc.boolean()), { maxKeys: 4 }),
});

const receiptArb: fc.Arbitrary<Receipt> = fc.record(
  {
    txHash: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) }, fc.uint8Array({ maxLength: 40 })),
    status: fc.constantFrom('ok' as const, 'failed' as const),
    computeUsed: fc.oneof({ weight: 9, arbitrary: uintArb }, fc.constantFrom(-1, 1.5, 2 ** 53)),
    fee: fc.oneof({ weight: 9, arbitrary: bigArb(128) }, fc.constantFrom(-1n, 1n << 128n, 2n ** 53n - 1n, 2n ** 53n)),
    error: fc.record({ code: textArb(70), message: textArb(120) }),
    events: fc.array(eventArb, { maxLength: 4 }),
  },
  { requiredKeys: ['txHash', 'status', 'computeUsed', 'fee', 'events'] },
);

describe('encodeReceipt fast path', () => {
  it('writes exactly the codec bytes, or fails with the same error', () => {
    fc.assert(
      fc.property(receiptArb, (r) => {
        const got = outcome(() => encodeReceipt(r));
        expect(got).toEqual(outcome(() => referenceEncodeReceipt(r)));
        if ('ok' in (got as object)) {
          const bytes = encodeReceipt(r);
          expect(outcome(() => decodeReceipt(bytes))).toEqual(outcome(() => referenceDecodeReceipt(bytes)));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('matches the codec at the size limits', () => {
    const base: Receipt = { txHash: new Uint8Array(32), status: 'ok', computeUsed: 1, fee: 1n, events: [] };
    const many = Array.from({ length: 10_001 }, () => ({ module: 'bank', type: 't', data: {} }));
    const cases: Receipt[] = [
      { ...base, events: many },
      { ...base, events: many.slice(0, 10_000) },
      { ...base, events: [{ module: 'bank', type: 't', data: { x: 'a'.repeat((1 << 20) - 8) } }] },
      { ...base, events: [{ module: 'bank', type: 't', data: { x: 'a'.repeat((1 << 20) - 7) } }] },
      { ...base, events: [{ module: 'x'.repeat(33), type: 't', data: {} }] },
      { ...base, error: { code: 'c'.repeat(64), message: 'm'.repeat(4096) } },
      { ...base, error: { code: 'c'.repeat(65), message: 'm' } },
      { ...base, error: { code: 'c', message: 'é'.repeat(2049) } },
      { ...base, events: [{ module: 'bank', type: 't', data: { big: 1n } as never }] },
    ];
    for (const r of cases) expect(outcome(() => encodeReceipt(r))).toEqual(outcome(() => referenceEncodeReceipt(r)));
  });
});

describe('account records', () => {
  const referenceEncode = (balance: bigint, nonce: number) => {
    const out = new Uint8Array(24);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(0, balance >> 64n);
    dv.setBigUint64(8, balance & 0xffffffffffffffffn);
    dv.setBigUint64(16, BigInt(nonce));
    return out;
  };
  it('encode and decode as the 24-byte big-endian layout', () => {
    fc.assert(
      fc.property(bigArb(128), uintArb, (balance, nonce) => {
        const bytes = encodeAccount({ balance, nonce });
        expect(toHex(bytes)).toBe(toHex(referenceEncode(balance, nonce)));
        expect(decodeAccount(bytes)).toEqual({ balance, nonce });
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.integer({ min: 0, max: 24 }), (b, zeros) => {
        b.fill(0, 0, zeros);
        const dv = new DataView(b.buffer, b.byteOffset, 24);
        expect(decodeAccount(b)).toEqual({ balance: (dv.getBigUint64(0) << 64n) | dv.getBigUint64(8), nonce: Number(dv.getBigUint64(16)) });
      }),
      { numRuns: 2000 },
    );
    for (const a of [
      { balance: -1n, nonce: 0 },
      { balance: 1n << 128n, nonce: 0 },
    ]) {
      expect(outcome(() => encodeAccount(a))).toEqual({ err: 'StrataError:TX_EXECUTION_FAILED' });
    }
    expect(outcome(() => encodeAccount({ balance: 1n, nonce: 1.5 }))).toEqual(outcome(() => referenceEncode(1n, 1.5)));
    expect(toHex(encodeAccount({ balance: 1n, nonce: -1 }))).toBe(toHex(referenceEncode(1n, -1)));
    expect(outcome(() => decodeAccount(new Uint8Array(23)))).toEqual({ err: 'DecodeError:DECODE_INVALID' });
  });
});

/** OverlayView as it was: writes keyed by bytesKey, commit through put/del. */
class ReferenceOverlay implements StateView {
  readonly writes = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
  constructor(private readonly base: { get(k: Uint8Array): Uint8Array | undefined }) {}
  get(key: Uint8Array) {
    const w = this.writes.get(bytesKey(key));
    if (w) return w.value ?? undefined;
    return this.base.get(key);
  }
  put(key: Uint8Array, value: Uint8Array) {
    this.writes.set(bytesKey(key), { key, value });
  }
  del(key: Uint8Array) {
    this.writes.set(bytesKey(key), { key, value: null });
  }
  commitTo(target: StateView) {
    for (const w of this.writes.values()) {
      if (w.value === null) target.del(w.key);
      else target.put(w.key, w.value);
    }
    this.writes.clear();
  }
  changes() {
    return [...this.writes.values()].map((w) => ({ key: w.key, value: w.value }));
  }
}

describe('OverlayView', () => {
  const stateKeyOf = (i: number) => blake2b256(new Uint8Array([i]));
  const baseMap = new Map<string, Uint8Array>([[bytesKey(stateKeyOf(1)), new Uint8Array([1])]]);
  const base = { get: (k: Uint8Array) => baseMap.get(bytesKey(k)) };
  const opArb = fc.array(
    fc.record({
      op: fc.constantFrom('put', 'del', 'get', 'childPut', 'childDel', 'commit', 'drop'),
      k: fc.integer({ min: 0, max: 6 }),
      v: fc.uint8Array({ maxLength: 4 }),
    }),
    { maxLength: 60 },
  );
  const show = (x: Uint8Array | undefined) => (x === undefined ? undefined : toHex(x));
  const showChanges = (c: { key: Uint8Array; value: Uint8Array | null }[]) => c.map((e) => [toHex(e.key), e.value && toHex(e.value)]);

  it('behaves as the reference overlay, nested and committed, changes in the same order', () => {
    fc.assert(
      fc.property(opArb, (ops) => {
        const view = new OverlayView(base);
        const ref = new ReferenceOverlay(base);
        let child = new OverlayView(view);
        let refChild = new ReferenceOverlay(ref);
        for (const { op, k, v } of ops) {
          const key = stateKeyOf(k);
          if (op === 'put') {
            view.put(key, v);
            ref.put(key, v);
          } else if (op === 'del') {
            view.del(key);
            ref.del(key);
          } else if (op === 'childPut') {
            child.put(key, v);
            refChild.put(key, v);
          } else if (op === 'childDel') {
            child.del(key);
            refChild.del(key);
          } else if (op === 'commit') {
            child.commitTo(view);
            refChild.commitTo(ref);
          } else if (op === 'drop') {
            child = new OverlayView(view);
            refChild = new ReferenceOverlay(ref);
          }
          expect(show(view.get(key))).toBe(show(ref.get(key)));
          expect(show(child.get(key))).toBe(show(refChild.get(key)));
        }
        expect(showChanges(view.changes())).toEqual(showChanges(ref.changes()));
        expect(view.size).toBe(ref.writes.size);
      }),
      { numRuns: 500 },
    );
  });

  it('commits into other views through put and del, reads other key shapes from the base, checks keys', () => {
    const calls: string[] = [];
    const target: StateView = {
      get: () => undefined,
      put: (k, v) => void calls.push(`put ${toHex(k)} ${toHex(v)}`),
      del: (k) => void calls.push(`del ${toHex(k)}`),
    };
    const o = new OverlayView(base);
    o.put(stateKeyOf(2), new Uint8Array([2]));
    o.del(stateKeyOf(3));
    o.commitTo(target);
    expect(calls).toEqual([`put ${toHex(stateKeyOf(2))} 0x02`, `del ${toHex(stateKeyOf(3))}`]);
    expect(o.size).toBe(0);
    const short = new Uint8Array(16);
    const seen: Uint8Array[] = [];
    const v = new OverlayView({
      get: (k) => {
        seen.push(k);
        return undefined;
      },
    });
    v.put(new Uint8Array(32), new Uint8Array([9]));
    expect(v.get(short)).toBeUndefined();
    expect(seen).toEqual([short]);
    expect(() => v.put(short, new Uint8Array(1))).toThrow(P.StrataError);
  });
});

describe('minimumFee', () => {
  it('is exact whatever the order of configurations and sizes', () => {
    const a = defaultChainConfig();
    const b = { ...a, fees: { ...a.fees, perByte: a.fees.perByte + 3n } };
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(2000), fc.nat(100_000)), { maxLength: 20 }), (calls) => {
        for (const [useB, bytes, compute] of calls) {
          const c = useB ? b : a;
          expect(minimumFee(c, bytes, compute)).toBe(BigInt(bytes) * c.fees.perByte + BigInt(compute) * c.fees.perCompute);
        }
      }),
    );
  });
});
