/**
 * Canonical binary encoding for every hashed or signed object. The wire format is RLP
 * (`@ethereumjs/rlp`); on top of it, typed codecs describe each object's shape. Decoding is
 * strict: the input must re-encode to exactly the same bytes (so there is one encoding per
 * value), integers have no leading zeros, fixed-size fields have their size, lists have their
 * arity, and every field and the whole input have a maximum size.
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
  return RLP.encode(codec.toItem(value) as never);
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
  if (bytes.length === 0) throw new DecodeError('DECODE_TRUNCATED', `${codec.name}: empty input`);
  let item: RlpItem;
  try {
    item = RLP.decode(bytes) as RlpItem;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const truncated = /length|short|out.of.bounds|not enough|remainder/i.test(msg);
    throw new DecodeError(truncated ? 'DECODE_TRUNCATED' : 'DECODE_INVALID', `${codec.name}: malformed RLP (${msg})`);
  }
  // One encoding per value, without re-encoding to compare: the RLP layer is canonical
  // already (@ethereumjs/rlp rejects prefixed single bytes, long forms of short lengths,
  // leading zeros in lengths and trailing bytes), and the codecs reject integers with leading
  // zeros, wrong sizes and wrong arity. A property test checks that whatever decodes
  // re-encodes to the same bytes.
  return codec.fromItem(item, codec.name);
}

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
      return bigintToBytes(v);
    },
    fromItem(item, path) {
      const b = expectBytes(item, path);
      if (b.length > maxLen) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer wider than ${maxBits} bits`);
      if (b.length > 0 && b[0] === 0) throw new DecodeError('DECODE_NON_CANONICAL', `${path}: integer has leading zero bytes`);
      const v = bytesToBigint(b);
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
    return bigintToBytes(BigInt(v));
  },
  fromItem(item, path) {
    const b = expectBytes(item, path);
    if (b.length > 7) throw new DecodeError('DECODE_OVERSIZED', `${path}: integer too wide`);
    if (b.length > 0 && b[0] === 0) throw new DecodeError('DECODE_NON_CANONICAL', `${path}: integer has leading zero bytes`);
    const v = Number(bytesToBigint(b));
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

/** UTF-8 string of at most `max` bytes. */
export function str(max: number): Codec<string> {
  const inner = varBytes(max);
  return {
    name: `string<=${max}`,
    toItem: (v) => inner.toItem(new TextEncoder().encode(v)),
    fromItem(item, path) {
      const b = inner.fromItem(item, path);
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(b);
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
  return {
    name,
    toItem(v) {
      return keys.map((k) => (fields[k] as Codec<unknown>).toItem(v[k]));
    },
    fromItem(item, path) {
      const l = expectList(item, path);
      if (l.length !== keys.length) {
        throw new DecodeError(l.length < keys.length ? 'DECODE_TRUNCATED' : 'DECODE_INVALID', `${path}: expected ${keys.length} fields, got ${l.length}`);
      }
      const out = {} as T;
      keys.forEach((k, i) => {
        out[k] = (fields[k] as Codec<T[typeof k]>).fromItem(l[i] as RlpItem, `${path}.${String(k)}`);
      });
      return out;
    },
  };
}

/** Raw RLP item passthrough (for nested payloads decoded later by their own codec). */
export const rawItem: Codec<RlpItem> = {
  name: 'item',
  toItem: (v) => v,
  fromItem: (item) => item,
};
