import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBlock, decodeHeader, encodeBlock, encodeHeader, type BlockHeader } from '@strata/chain';
import { bytesEqual, decode, DecodeError, decodeRlp, encode, encodeRlp, MAX_RLP_DEPTH, type RlpItem, fixedBytes, initHashing, list, recoverAddress, secpBackend, sign, struct, toHex, uint, uintBig, useNobleSecp256k1, varBytes } from '@strata/primitives';
import { decodeTx, encodeTx, recoverSender, signTx, type UnsignedTx } from '@strata/runtime';
import { keys } from '../helpers/chain.js';
import { editsArb, mutate } from '../helpers/mutate.js';

await initHashing();

const unsignedArb: fc.Arbitrary<UnsignedTx> = fc.record({
  chainId: fc.integer({ min: 0, max: 2 ** 31 }),
  nonce: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fee: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  computeLimit: fc.integer({ min: 0, max: 10_000_000 }),
  module: fc.string({ maxLength: 32 }).filter((s) => Buffer.byteLength(s) <= 32),
  method: fc.string({ maxLength: 32 }).filter((s) => Buffer.byteLength(s) <= 32),
  args: fc.uint8Array({ maxLength: 200 }),
});

const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  version: fc.nat(),
  chainId: fc.nat(),
  parentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  height: fc.nat(),
  timestamp: fc.nat(),
  txRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  stateRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  receiptRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  target: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  producer: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  extra: fc.uint8Array({ maxLength: 64 }),
  nonce: fc.uint8Array({ minLength: 8, maxLength: 8 }),
});

describe('canonical encoding', () => {
  it('round-trips transactions, headers and blocks', () => {
    fc.assert(
      fc.property(unsignedArb, fc.integer({ min: 0, max: 3 }), (u, k) => {
        const tx = signTx(u, keys[k]!.secretKey);
        const bytes = encodeTx(tx);
        const back = decodeTx(bytes);
        expect(bytesEqual(encodeTx(back), bytes)).toBe(true);
        expect(back.fee).toBe(u.fee);
        expect(toHex(recoverSender(back))).toBe(toHex(keys[k]!.address));
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(headerArb, fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 5 }), (h, txs) => {
        const hb = encodeHeader(h);
        expect(bytesEqual(encodeHeader(decodeHeader(hb)), hb)).toBe(true);
        const bb = encodeBlock({ header: h, txs });
        expect(bytesEqual(encodeBlock(decodeBlock(bb)), bb)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('changing any byte of a signed transaction invalidates it', () => {
    fc.assert(
      fc.property(unsignedArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (u, pos, flip) => {
        const tx = signTx(u, keys[0]!.secretKey);
        const bytes = encodeTx(tx);
        const bad = new Uint8Array(bytes);
        const i = pos % bad.length;
        bad[i] = (bad[i] as number) ^ flip;
        let stillValidForSender = false;
        try {
          const t2 = decodeTx(bad);
          stillValidForSender = toHex(recoverSender(t2)) === toHex(keys[0]!.address);
        } catch (e) {
          expect((e as { code?: string }).code).toMatch(/^(DECODE_|INVALID_SIGNATURE)/);
        }
        expect(stillValidForSender).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('whatever decodes re-encodes to exactly the same bytes (one encoding per value)', () => {
    fc.assert(
      fc.property(
        unsignedArb,
        headerArb,
        editsArb,
        (u, h, edits) => {
          for (const [bytes, dec, enc] of [
            [encodeTx(signTx(u, keys[0]!.secretKey)), decodeTx, encodeTx],
            [encodeHeader(h), decodeHeader, encodeHeader],
            [encodeBlock({ header: h, txs: [new Uint8Array([1, 2, 3])] }), decodeBlock, encodeBlock],
          ] as [Uint8Array, (b: Uint8Array) => unknown, (v: never) => Uint8Array][]) {
            const mutated = mutate(bytes, edits);
            let decoded: unknown;
            try {
              decoded = dec(mutated);
            } catch (err) {
              expect(err).toBeInstanceOf(DecodeError);
              continue;
            }
            expect(toHex(enc(decoded as never))).toBe(toHex(mutated));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the pure-JS secp256k1 fallback signs and recovers exactly as the native addon', () => {
    const digest = new Uint8Array(32).fill(7);
    const sigNative = sign(digest, keys[1]!.secretKey);
    useNobleSecp256k1();
    expect(secpBackend()).toBe('noble');
    expect(toHex(sign(digest, keys[1]!.secretKey))).toBe(toHex(sigNative));
    expect(toHex(recoverAddress(digest, sigNative))).toBe(toHex(keys[1]!.address));
  });

  it('rejects truncated, oversized, non-canonical and garbage input with a typed error', () => {
    const C = struct('T', { a: uint, b: uintBig(64), c: fixedBytes(4), d: list(varBytes(8), 3) });
    const good = encode(C, { a: 1, b: 2n, c: new Uint8Array(4), d: [new Uint8Array([1])] });
    expect(() => decode(C, good.subarray(0, good.length - 1))).toThrow(DecodeError);
    expect(() => decode(C, good, 4)).toThrow(expect.objectContaining({ code: 'DECODE_OVERSIZED' }));
    // Integer with a leading zero byte: 0x82 0x00 0x01 instead of 0x01.
    const nonCanon = new Uint8Array([0xc9, 0x82, 0x00, 0x01, 0x02, 0x84, 0, 0, 0, 0, 0xc0]);
    expect(() => decode(C, nonCanon)).toThrow(DecodeError);
    // Single byte < 0x80 wrapped in a string header is non-canonical RLP.
    const wrapped = new Uint8Array([0xc8, 0x81, 0x01, 0x02, 0x84, 0, 0, 0, 0, 0xc0]);
    expect(() => decode(C, wrapped)).toThrow(DecodeError);
    expect(() => decode(C, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'DECODE_TRUNCATED' }));
    expect(() => decode(C, new Uint8Array([...good, 0]))).toThrow(DecodeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
        // Each decoder either rejects the junk with a DecodeError or accepts exactly its
        // canonical encoding (no branch passes without an assertion).
        for (const [dec, enc] of [
          [decodeTx, encodeTx],
          [decodeHeader, encodeHeader],
          [decodeBlock, encodeBlock],
        ] as [(b: Uint8Array) => unknown, (v: never) => Uint8Array][]) {
          let decoded: unknown;
          let error: unknown;
          try {
            decoded = dec(junk);
          } catch (e) {
            error = e;
          }
          if (error !== undefined) expect(error).toBeInstanceOf(DecodeError);
          else expect(toHex(enc(decoded as never))).toBe(toHex(junk));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('RLP nesting is bounded (no input makes decoding depend on the stack size)', () => {
  /** `depth` lists around one byte, built without recursion (the encoder would recurse too). */
  const nested = (depth: number): Uint8Array => {
    const header = (len: number): number[] => {
      if (len < 56) return [0xc0 + len];
      const bytes: number[] = [];
      for (let x = len; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
      return [0xf7 + bytes.length, ...bytes];
    };
    const headers: number[][] = [];
    let len = 1;
    for (let i = 0; i < depth; i++) {
      const h = header(len);
      headers.push(h);
      len += h.length;
    }
    const out = new Uint8Array(len);
    let o = 0;
    for (let i = headers.length - 1; i >= 0; i--) for (const b of headers[i] as number[]) out[o++] = b;
    out[o] = 1;
    return out;
  };
  it(`decodes lists nested ${MAX_RLP_DEPTH} deep`, () => {
    expect(MAX_RLP_DEPTH).toBe(64);
    let wrapped: RlpItem = Uint8Array.of(1);
    for (let i = 0; i < MAX_RLP_DEPTH; i++) wrapped = [wrapped];
    expect(toHex(nested(MAX_RLP_DEPTH))).toBe(toHex(encodeRlp(wrapped)));
    let item = decodeRlp(nested(MAX_RLP_DEPTH));
    for (let i = 0; i < MAX_RLP_DEPTH; i++) item = (item as RlpItem[])[0] as RlpItem;
    expect(item).toEqual(Uint8Array.of(1));
  });
  it.each([MAX_RLP_DEPTH + 1, 1000, 200_000])('refuses lists nested %i deep with DECODE_INVALID, without recursing', (depth) => {
    // Before: the recursive reference decoder took these, and at some depth the stack ran out
    // (where depends on the machine).
    expect(() => decodeRlp(nested(depth))).toThrow(expect.objectContaining({ code: 'DECODE_INVALID', message: expect.stringMatching(/nested deeper than 64/) }));
  });
  it('a malformed deep input is refused with a typed error too', () => {
    const deep = nested(5000);
    expect(() => decodeRlp(deep.subarray(0, deep.length - 1))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^DECODE_/) }));
  });
});
