/**
 * Canonical binary encoding for every hashed or signed object. The wire format is RLP
 * (byte-identical to `@ethereumjs/rlp`, which remains the reference and the error path); on top
 * of it, typed codecs describe each object's shape. Decoding is strict: the input must
 * re-encode to exactly the same bytes (so there is one encoding per value), integers have no
 * leading zeros, fixed-size fields have their size, lists have their arity, and every field and
 * the whole input have a maximum size.
 */
import { RLP } from '@ethereumjs/rlp';
import { bigintToBytes, bytesToBigint } from './bytes.js';
import { DecodeError } from './errors.js';

/** A nested RLP item. */
export type RlpItem = Uint8Array | RlpItem[];

/** A codec between a typed value and an RLP item. */
export interface Codec<T> {
  /** Name used in error messages. */
  readonly name: string;
  toItem(value: T): RlpItem;
  fromItem(item: RlpItem, path: string): T;
}

/** Encodes a value with its codec. */
export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  return encodeRlp(codec.toItem(value));
}

/**
 * Decodes bytes with a codec; throws DecodeError (DECODE_TRUNCATED, DECODE_OVERSIZED,
 * DECODE_NON_CANONICAL or DECODE_INVALID) naming the field at fault.
 */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, maxBytes = 4 * 1024 * 1024): T {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('DECODE_INVALID', `${codec.name}: input is not bytes`);
  if (bytes.length > maxBytes) {
    throw new DecodeError('DECODE_OVERSIZED', `${codec.name}: ${bytes.length} bytes exceeds the limit of ${maxBytes}`, {
      size: bytes.length,
      limit: maxBytes,
    });
  }
  // One encoding per value, without re-encoding to compare: the RLP layer is canonical
  // already (it rejects prefixed single bytes, long forms of short lengths, leading zeros in
  // lengths and trailing bytes), and the codecs reject integers with leading zeros, wrong sizes
  // and wrong arity. A property test checks that whatever decodes re-encodes to the same bytes.
  return codec.fromItem(decodeRlp(bytes, codec.name), codec.name);
}

// ---------------------------------------------------------------------------------------------
// RLP layer. `encodeRlp` writes the whole encoding into one buffer (sizes first, then bytes);
// `decodeRlp` parses in one pass. Both produce exactly what `@ethereumjs/rlp` produces (property
// tests compare them on valid, mutated and random input); any input the fast reader does not
// accept is handed to `RLP.decode`, so malformed input fails with the same error as before.
// ---------------------------------------------------------------------------------------------

/**
 * Bytes of the RLP header announcing a payload of `len` bytes (1 below 56, else 1 plus the
 * length's own minimal big-endian size). For hand-written encoders of fixed shapes.
 */
export function rlpHeaderSize(len: number): number {
  if (len < 56) return 1;
  let n = 1;
  for (let x = len; x >= 256; x = Math.floor(x / 256)) n++;
  return 1 + n;
}

/**
 * Writes at `pos` the RLP header of a payload of `len` bytes: `offset` is 0x80 for a byte
 * string, 0xc0 for a list. Returns the position after the header (`rlpHeaderSize(len)` bytes).
 */
export function writeRlpHeader(out: Uint8Array, pos: number, len: number, offset: 0x80 | 0xc0): number {
  if (len < 56) {
    out[pos] = offset + len;
    return pos + 1;
  }
  const n = rlpHeaderSize(len) - 1;
  out[pos] = offset + 55 + n;
  for (let i = n, x = len; i >= 1; i--, x = Math.floor(x / 256)) out[pos + i] = x % 256;
  return pos + 1 + n;
}

/** Encoded size of `item`; list payload sizes are pushed to `sizes` in pre-order. -1: not an item. */
function measureItem(item: RlpItem, sizes: number[]): number {
  if (item instanceof Uint8Array) {
    const n = item.length;
    return n === 1 && (item[0] as number) < 0x80 ? 1 : rlpHeaderSize(n) + n;
  }
  if (!Array.isArray(item)) return -1;
  const at = sizes.length;
  sizes.push(0);
  let payload = 0;
  for (let i = 0; i < item.length; i++) {
    const s = measureItem(item[i] as RlpItem, sizes);
    if (s < 0) return -1;
    payload += s;
  }
  sizes[at] = payload;
  return rlpHeaderSize(payload) + payload;
}

/** Index of the next list payload size to use while writing (encodeRlp is not re-entrant). */
let listCursor = 0;

function writeItem(out: Uint8Array, pos: number, item: RlpItem, sizes: number[]): number {
  if (item instanceof Uint8Array) {
    const n = item.length;
    if (n === 1 && (item[0] as number) < 0x80) {
      out[pos] = item[0] as number;
      return pos + 1;
    }
    const at = writeRlpHeader(out, pos, n, 0x80);
    if (n <= 32) for (let i = 0; i < n; i++) out[at + i] = item[i] as number;
    else out.set(item, at);
    return at + n;
  }
  let at = writeRlpHeader(out, pos, sizes[listCursor++] as number, 0xc0);
  for (let i = 0; i < item.length; i++) at = writeItem(out, at, item[i] as RlpItem, sizes);
  return at;
}

/**
 * RLP encoding of an item: byte for byte what `RLP.encode` of `@ethereumjs/rlp` returns, built
 * in a single allocation. Always returns a new array.
 */
export function encodeRlp(item: RlpItem): Uint8Array {
  const sizes: number[] = [];
  const total = measureItem(item, sizes);
  // Anything that is not bytes or a list (a caller's custom codec may hand RLP.encode strings
  // or numbers) keeps the reference encoder's conversions.
  if (total < 0) return RLP.encode(item as never);
  const out = new Uint8Array(total);
  listCursor = 0;
  writeItem(out, 0, item, sizes);
  return out;
}

/**
 * Deepest list nesting any input may have (a consensus rule of the decoder: deeper input is
 * DECODE_INVALID). A fixed bound, far below any engine's stack, so no input can make decoding
 * depend on how much stack a machine has: before it, lists nested deeper than 64 went to the
 * recursive reference decoder, which decoded them or overflowed depending on the stack size.
 */
export const MAX_RLP_DEPTH = 64;
const MAX_FAST_DEPTH = MAX_RLP_DEPTH;

/** Whether the list nesting of RLP `b` exceeds `MAX_RLP_DEPTH` (iterative: reads prefixes only). */
function nestedTooDeep(b: Uint8Array): boolean {
  // Ends of the lists currently open; an item is read at `pos` when it lies inside all of them.
  const ends: number[] = [];
  let pos = 0;
  while (pos < b.length) {
    while (ends.length > 0 && pos >= (ends[ends.length - 1] as number)) ends.pop();
    const fb = b[pos] as number;
    if (fb < 0x80) pos += 1;
    else if (fb <= 0xb7) pos += 1 + fb - 0x80;
    else if (fb <= 0xbf) {
      const n = fb - 0xb7;
      let len = 0;
      for (let i = 1; i <= n && pos + i < b.length; i++) len = len * 256 + (b[pos + i] as number);
      pos += 1 + n + len;
    } else {
      let len: number;
      let head: number;
      if (fb <= 0xf7) {
        len = fb - 0xc0;
        head = 1;
      } else {
        const n = fb - 0xf7;
        len = 0;
        for (let i = 1; i <= n && pos + i < b.length; i++) len = len * 256 + (b[pos + i] as number);
        head = 1 + n;
      }
      ends.push(pos + head + len);
      if (ends.length > MAX_RLP_DEPTH) return true;
      pos += head;
    }
  }
  return false;
}

/** End of the item last read by `readItem`. */
let readEnd = 0;

/** Length of a long-form header: `n` big-endian bytes at `pos`, no leading zero; -1 if invalid. */
function readLength(b: Uint8Array, pos: number, n: number, end: number): number {
  if (pos + n > end || b[pos] === 0) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (b[pos + i] as number);
  return v;
}

/**
 * Reads one canonical item in `b[pos, end)` (pos < end) and sets `readEnd`; undefined when the
 * item is malformed or non-canonical. Byte items are copied with `b.slice`, as the reference does.
 */
function readItem(b: Uint8Array, pos: number, end: number, depth: number): RlpItem | undefined {
  const fb = b[pos] as number;
  if (fb < 0x80) {
    readEnd = pos + 1;
    return b.slice(pos, pos + 1);
  }
  let start: number;
  let len: number;
  if (fb <= 0xb7) {
    start = pos + 1;
    len = fb - 0x80;
    if (start + len > end) return undefined;
    if (len === 1 && (b[start] as number) < 0x80) return undefined;
    readEnd = start + len;
    return len === 0 ? new Uint8Array(0) : b.slice(start, start + len);
  }
  if (fb <= 0xbf) {
    const n = fb - 0xb7;
    len = readLength(b, pos + 1, n, end);
    if (len <= 55) return undefined;
    start = pos + 1 + n;
    if (start + len > end) return undefined;
    readEnd = start + len;
    return b.slice(start, start + len);
  }
  if (fb <= 0xf7) {
    start = pos + 1;
    len = fb - 0xc0;
  } else {
    const n = fb - 0xf7;
    len = readLength(b, pos + 1, n, end);
    if (len < 56) return undefined;
    start = pos + 1 + n;
  }
  const stop = start + len;
  if (stop > end || depth >= MAX_FAST_DEPTH) return undefined;
  const out: RlpItem[] = [];
  for (let p = start; p < stop; p = readEnd) {
    const child = readItem(b, p, stop, depth + 1);
    if (child === undefined) return undefined;
    out.push(child);
  }
  readEnd = stop;
  return out;
}

/**
 * Decodes one RLP item that must span all of `bytes`, accepting exactly what `RLP.decode` of
 * `@ethereumjs/rlp` accepts (canonical RLP only) and returning the same item. Throws
 * DecodeError: DECODE_TRUNCATED for empty or short input (and trailing bytes), DECODE_INVALID
 * for other malformed input; `name` prefixes the message.
 */
export function decodeRlp(bytes: Uint8Array, name = 'RLP'): RlpItem {
  if (bytes.length === 0) throw new DecodeError('DECODE_TRUNCATED', `${name}: empty input`);
  const item = readItem(bytes, 0, bytes.length, 0);
  if (item !== undefined && readEnd === bytes.length) return item;
  if (nestedTooDeep(bytes)) throw new DecodeError('DECODE_INVALID', `${name}: lists nested deeper than ${MAX_RLP_DEPTH}`);
  // Not canonical RLP: the reference decoder decides and names the fault.
  try {
    return RLP.decode(bytes) as RlpItem;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const truncated = /length|short|out.of.bounds|not enough|remainder/i.test(msg);
    throw new DecodeError(truncated ? 'DECODE_TRUNCATED' : 'DECODE_INVALID', `${name}: malformed RLP (${msg})`);
  }
}

/** Minimal big-endian bytes of a safe non-negative integer (zero is the empty array). */
function uintToBytes(v: number): Uint8Array {
  if (v === 0) return new Uint8Array(0);
  let len = 0;
  for (let x = v; x > 0; x = Math.floor(x / 256)) len++;
  const out = new Uint8Array(len);
  for (let i = len - 1, x = v; i >= 0; i--, x = Math.floor(x / 256)) out[i] = x % 256;
  return out;
}

/** Big-endian bytes (at most 6, so exact) as a number. */
function smallBytesToNumber(b: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < b.length; i++) v = v * 256 + (b[i] as number);
  return v;
}

/** Largest bigint converted through the number path (2^48 - 1: six bytes, exact). */
const SMALL_BIG = (1n << 48n) - 1n;

function expectBytes(item: RlpItem, path: string): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new DecodeError('DECODE_INVALID', `${path}: expected bytes, got a list`);
  return item;
}

function expectList(item: RlpItem, path: string): RlpItem[] {
  if (!Array.isArray(item)) throw new DecodeError('DECODE_INVALID', `${path}: expected a list, got bytes`);
  return item;
}

/** Unsigned integer of at most `maxBits` bits as a bigint, minimal big-endian. */
export function uintBig(maxBits = 256): Codec<bigint> {
  const maxLen = Math.ceil(maxBits / 8);
  const limit = (1n << BigInt(maxBits)) - 1n;
  return {
    name: `uint${maxBits}`,
    toItem(v) {
      if (typeof v !== 'bigint' || v < 0n || v > limit) throw new DecodeError('DECODE_INVALID', `value ${String(v)} is not a uint${maxBits}`);
      return v <= SMALL_BIG ? uintToBytes(Number(v)) : bigintToBytes(v);
    },
    fromItem(item, path) {
      const b = expectBytes(item, path);
      if (b.length > maxLen) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer wider than ${maxBits} bits`);
      if (b.length > 0 && b[0] === 0) throw new DecodeError('DECODE_NON_CANONICAL', `${path}: integer has leading zero bytes`);
      const v = b.length <= 6 ? BigInt(smallBytesToNumber(b)) : bytesToBigint(b);
      if (v > limit) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer exceeds uint${maxBits}`);
      return v;
    },
  };
}

/** Unsigned integer that fits a JS number safely (at most 2^53-1). */
export const uint: Codec<number> = {
  name: 'uint53',
  toItem(v) {
    if (!Number.isSafeInteger(v) || v < 0) throw new DecodeError('DECODE_INVALID', `value ${v} is not a safe unsigned integer`);
    return uintToBytes(v);
  },
  fromItem(item, path) {
    const b = expectBytes(item, path);
    if (b.length > 7) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer too wide`);
    if (b.length > 0 && b[0] === 0) throw new DecodeError('DECODE_NON_CANONICAL', `${path}: integer has leading zero bytes`);
    // Exact below 2^53; above, the rounded value is at least 2^53 and fails the check as well.
    let v = 0;
    for (let i = 0; i < b.length; i++) v = v * 256 + (b[i] as number);
    if (!Number.isSafeInteger(v)) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer exceeds 2^53-1`);
    return v;
  },
};

/** Exactly `len` bytes. */
export function fixedBytes(len: number): Codec<Uint8Array> {
  return {
    name: `bytes${len}`,
    toItem(v) {
      if (!(v instanceof Uint8Array) || v.length !== len) throw new DecodeError('DECODE_INVALID', `expected ${len} bytes`);
      return v;
    },
    fromItem(item, path) {
      const b = expectBytes(item, path);
      if (b.length !== len) {
        throw new DecodeError(b.length < len ? 'DECODE_TRUNCATED' : 'DECODE_OVERSIZED', `${path}: expected ${len} bytes, got ${b.length}`);
      }
      return b;
    },
  };
}

/** Variable-length bytes of at most `max` bytes. */
export function varBytes(max: number): Codec<Uint8Array> {
  return {
    name: `bytes<=${max}`,
    toItem(v) {
      if (!(v instanceof Uint8Array) || v.length > max) throw new DecodeError('DECODE_OVERSIZED', `expected at most ${max} bytes`);
      return v;
    },
    fromItem(item, path) {
      const b = expectBytes(item, path);
      if (b.length > max) throw new DecodeError('DECODE_OVERSIZED', `${path}: ${b.length} bytes exceeds ${max}`);
      return b;
    },
  };
}

const utf8Encoder = new TextEncoder();
// Stateless between calls (no streaming), so one fatal decoder serves every string. `ignoreBOM`
// keeps a leading U+FEFF in the string: dropping it (the default) would let two byte strings
// decode to one value, so a transaction could be re-encoded under another hash (malleability).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Longest string taken through the ASCII fast paths (longer ones go to TextEncoder/Decoder). */
const ASCII_FAST_MAX = 64;

/**
 * UTF-8 bytes of a string, exactly as `TextEncoder.encode` gives them (lone surrogates become
 * U+FFFD): short ASCII strings by hand, others with `encodeInto` into a buffer of the expected
 * size (falling back to `encode` should the size ever disagree).
 */
export function utf8Bytes(v: string): Uint8Array {
  const n = v.length;
  if (n <= ASCII_FAST_MAX) {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      out[i] = c;
    }
    if (i === n) return out;
  }
  const out = new Uint8Array(Buffer.byteLength(v, 'utf8'));
  const r = utf8Encoder.encodeInto(v, out);
  return r.read === n && r.written === out.length ? out : utf8Encoder.encode(v);
}

/** The string of short all-ASCII bytes (identical to their UTF-8 decoding), or undefined. */
function asciiString(b: Uint8Array): string | undefined {
  const n = b.length;
  if (n > ASCII_FAST_MAX) return undefined;
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = b[i] as number;
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * UTF-8 string of at most `max` bytes. Decoding is the exact inverse of encoding: invalid UTF-8
 * is rejected and a leading U+FEFF is kept, so the bytes → string map is one-to-one.
 */
export function str(max: number): Codec<string> {
  const inner = varBytes(max);
  return {
    name: `string<=${max}`,
    toItem: (v) => inner.toItem(typeof v === 'string' ? utf8Bytes(v) : utf8Encoder.encode(v)),
    fromItem(item, path) {
      const b = inner.fromItem(item, path);
      const ascii = asciiString(b);
      if (ascii !== undefined) return ascii;
      try {
        return utf8Decoder.decode(b);
      } catch {
        throw new DecodeError('DECODE_INVALID', `${path}: not valid UTF-8`);
      }
    },
  };
}

/** Boolean as 0 or 1. */
export const bool: Codec<boolean> = {
  name: 'bool',
  toItem: (v) => (v ? new Uint8Array([1]) : new Uint8Array(0)),
  fromItem(item, path) {
    const b = expectBytes(item, path);
    if (b.length === 0) return false;
    if (b.length === 1 && b[0] === 1) return true;
    throw new DecodeError('DECODE_INVALID', `${path}: expected a boolean`);
  },
};

/** Homogeneous list of at most `max` elements. */
export function list<T>(codec: Codec<T>, max: number): Codec<T[]> {
  return {
    name: `list<${codec.name}>`,
    toItem(v) {
      if (v.length > max) throw new DecodeError('DECODE_OVERSIZED', `list longer than ${max}`);
      return v.map((x) => codec.toItem(x));
    },
    fromItem(item, path) {
      const l = expectList(item, path);
      if (l.length > max) throw new DecodeError('DECODE_OVERSIZED', `${path}: ${l.length} elements exceeds ${max}`);
      return l.map((x, i) => codec.fromItem(x, `${path}[${i}]`));
    },
  };
}

/** Optional value: an empty list for none, a one-element list for some. */
export function optional<T>(codec: Codec<T>): Codec<T | undefined> {
  return {
    name: `optional<${codec.name}>`,
    toItem: (v) => (v === undefined ? [] : [codec.toItem(v)]),
    fromItem(item, path) {
      const l = expectList(item, path);
      if (l.length === 0) return undefined;
      if (l.length !== 1) throw new DecodeError('DECODE_INVALID', `${path}: optional with ${l.length} elements`);
      return codec.fromItem(l[0] as RlpItem, path);
    },
  };
}

type FieldCodecs<T> = { [K in keyof T]: Codec<T[K]> };

/** Struct: a list of its fields in the declared order; arity is checked. */
export function struct<T extends object>(name: string, fields: FieldCodecs<T>): Codec<T> {
  const keys = Object.keys(fields) as (keyof T)[];
  const codecs = keys.map((k) => fields[k] as Codec<unknown>);
  const n = keys.length;
  // Field paths for error messages, precomputed for the common top-level case.
  const suffixes = keys.map((k) => `.${String(k)}`);
  const topPaths = suffixes.map((sfx) => `${name}${sfx}`);
  return {
    name,
    toItem(v) {
      const out: RlpItem[] = [];
      for (let i = 0; i < n; i++) out.push((codecs[i] as Codec<unknown>).toItem(v[keys[i] as keyof T]));
      return out;
    },
    fromItem(item, path) {
      const l = expectList(item, path);
      if (l.length !== n) {
        throw new DecodeError(l.length < n ? 'DECODE_TRUNCATED' : 'DECODE_INVALID', `${path}: expected ${n} fields, got ${l.length}`);
      }
      const out = {} as Record<keyof T, unknown>;
      const top = path === name;
      for (let i = 0; i < n; i++) {
        out[keys[i] as keyof T] = (codecs[i] as Codec<unknown>).fromItem(
          l[i] as RlpItem,
          top ? (topPaths[i] as string) : path + (suffixes[i] as string),
        );
      }
      return out as T;
    },
  };
}

/** Raw RLP item passthrough (for nested payloads decoded later by their own codec). */
export const rawItem: Codec<RlpItem> = {
  name: 'item',
  toItem: (v) => v,
  fromItem: (item) => item,
};
