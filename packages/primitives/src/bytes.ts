import { StrataError } from './errors.js';

/** Hex string with a `0x` prefix. */
export type Hex = `0x${string}`;

const HEX_RE = /^0x([0-9a-fA-F]{2})*$/;

/** Encodes bytes as lower-case `0x` hex. */
export function toHex(b: Uint8Array): Hex {
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;
}

/** Decodes `0x` hex into bytes; throws INVALID_HEX on anything else (odd length, bad chars, no prefix). */
export function fromHex(h: string, expectedLength?: number): Uint8Array {
  if (typeof h !== 'string' || !HEX_RE.test(h)) {
    throw new StrataError('INVALID_HEX', `expected 0x-prefixed even-length hex, got ${JSON.stringify(String(h).slice(0, 80))}`);
  }
  const out = new Uint8Array(Buffer.from(h.slice(2), 'hex'));
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new StrataError('INVALID_HEX', `expected ${expectedLength} bytes of hex, got ${out.length}`, {
      expected: expectedLength,
      got: out.length,
    });
  }
  return out;
}

/** Encodes a non-negative integer as a `0x` hex quantity without leading zeros (EIP-1474). */
export function toQuantity(n: bigint | number): Hex {
  const v = BigInt(n);
  if (v < 0n) throw new StrataError('INVALID_HEX', 'quantities are non-negative');
  return `0x${v.toString(16)}`;
}

/** Decodes an EIP-1474 hex quantity (`0x0`, `0x1f`, no leading zeros). */
export function fromQuantity(h: unknown): bigint {
  if (typeof h !== 'string' || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(h)) {
    throw new StrataError('INVALID_HEX', `expected a 0x hex quantity without leading zeros, got ${JSON.stringify(String(h).slice(0, 80))}`);
  }
  return BigInt(h);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-shape byte equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic comparison of byte arrays. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const textEncoder = new TextEncoder();

/** UTF-8 encodes a string. */
export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** Big-endian minimal encoding of a non-negative bigint (zero is the empty array). */
export function bigintToBytes(v: bigint): Uint8Array {
  if (v < 0n) throw new StrataError('DECODE_INVALID', 'negative integers are not encodable');
  if (v === 0n) return new Uint8Array(0);
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Big-endian bytes to bigint. */
export function bytesToBigint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}

/** Fixed-width big-endian encoding of a bigint into `len` bytes. */
export function bigintToFixed(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = v;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new StrataError('DECODE_OVERSIZED', `integer does not fit in ${len} bytes`);
  return out;
}

/**
 * A compact string key for byte arrays in Maps (one char per byte). Faster than hex and
 * orders the same way as the bytes under JS string comparison.
 */
export function bytesKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

const pairUnits: number[] = [];

/**
 * A Map key for byte arrays of ONE fixed even length per map (20-byte addresses, 32-byte state
 * keys): two bytes per UTF-16 code unit, half as long as `bytesKey` and built without a Buffer
 * (the hot maps of execution use it). Arrays of different lengths, or an odd length, can give
 * equal keys, so never mix lengths in one map; it does not order like the bytes.
 */
export function pairKey(b: Uint8Array): string {
  const n = b.length >> 1;
  pairUnits.length = n;
  for (let i = 0; i < n; i++) pairUnits[i] = ((b[2 * i] as number) << 8) | (b[2 * i + 1] as number);
  return String.fromCharCode.apply(null, pairUnits);
}
