import { StrataError, toHex, toQuantity } from '@strata/primitives';
import type { RawData } from 'ws';

/**
 * JSON.stringify with the EIP-1474 conventions for values plain JSON cannot carry:
 * `bigint` → `0x` quantity, `Uint8Array` (including Buffer) → `0x` hex, `undefined` result → `null`.
 * Throws a StrataError('INTERNAL') for values that still cannot be encoded (negative bigint,
 * circular structures).
 */
export function encodeJson(value: unknown): string {
  try {
    const out = JSON.stringify(value === undefined ? null : value, replacer);
    // JSON.stringify returns undefined for a top-level function or symbol.
    return out ?? 'null';
  } catch (e) {
    throw new StrataError('INTERNAL', `value cannot be encoded as JSON: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // `value` has already been through toJSON (a Buffer arrives as {type,data}); look at the raw
  // property on the holder to catch byte arrays of every kind.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return toHex(raw);
  if (typeof value === 'bigint') {
    if (value < 0n) throw new StrataError('INTERNAL', 'negative bigint has no JSON-RPC quantity encoding');
    return toQuantity(value);
  }
  return value;
}

/** Decodes a WebSocket message (any `ws` binary type) as UTF-8 text. */
export function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
