import { createHash } from 'node:crypto';
import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import blake2bWasm from 'blake2b-wasm';
import { utf8 } from './bytes.js';

/** CKB's personalization for blake2b-256 (`ckb-default-hash`, exactly 16 bytes). */
export const DEFAULT_PERSONAL = utf8('ckb-default-hash');

let wasmReady = false;

/**
 * Loads the blake2b WASM implementation (about 9x faster than pure JS). Hashing works before
 * this resolves, through the pure-JS fallback; call it once at start-up for speed.
 */
export function initHashing(): Promise<void> {
  if (wasmReady) return Promise.resolve();
  return new Promise((resolve) => {
    blake2bWasm.ready((err?: Error) => {
      wasmReady = !err && blake2bWasm.SUPPORTED;
      resolve();
    });
  });
}

/** blake2b-256 with a 16-byte personalization (default: CKB's `ckb-default-hash`). */
export function blake2b256(data: Uint8Array, personal: Uint8Array = DEFAULT_PERSONAL): Uint8Array {
  if (wasmReady) {
    const h = blake2bWasm(32, null, null, personal, true);
    h.update(data);
    return h.digest() as Uint8Array;
  }
  return nobleBlake2b(data, { dkLen: 32, personalization: personal });
}

/** Hashes the concatenation of several parts without copying them together first. */
export function blake2b256Parts(parts: Uint8Array[], personal: Uint8Array = DEFAULT_PERSONAL): Uint8Array {
  if (wasmReady) {
    const h = blake2bWasm(32, null, null, personal, true);
    for (const p of parts) h.update(p);
    return h.digest() as Uint8Array;
  }
  const h = nobleBlake2b.create({ dkLen: 32, personalization: personal });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** First 20 bytes of blake2b-256: CKB's `blake160`, used for addresses. */
export function blake160(data: Uint8Array): Uint8Array {
  return blake2b256(data).subarray(0, 20);
}

/** SHA-256 through node:crypto. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}
