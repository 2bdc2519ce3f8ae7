import { createHash } from 'node:crypto';
import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import { bytesKey, utf8 } from './bytes.js';

/** CKB's personalization for blake2b-256 (`ckb-default-hash`, exactly 16 bytes). */
export const DEFAULT_PERSONAL = utf8('ckb-default-hash');

/** The exports of blake2b-wasm's compiled module (one instance of our own). */
interface Blake2bExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  blake2b_init(ptr: number, outlen: number): void;
  blake2b_update(ctx: number, input: number, inputEnd: number): void;
  blake2b_final(ctx: number): void;
}

let wasm: Blake2bExports | undefined;
let mem = new Uint8Array(0);
/** Layout of our instance's memory: param block 0..64, state 64..280, templates, then input. */
const STATE = 64;
const STATE_BYTES = 216;
const TEMPLATES = 512;
const MAX_TEMPLATES = 64;
const INPUT = TEMPLATES + MAX_TEMPLATES * STATE_BYTES;
/** Initial hash states, one per personalization seen (keyed by its 16 bytes as latin1). */
const templates = new Map<string, number>();
/** The same, by array identity: personalizations are module constants (never change an array once hashed with). */
const byIdentity = new WeakMap<Uint8Array, number>();

/**
 * Loads the blake2b WASM implementation (blake2b-wasm's module, about 9x faster than pure JS).
 * Hashing works before this resolves, through the pure-JS fallback; call it once at start-up
 * for speed.
 */
export async function initHashing(): Promise<void> {
  if (wasm || !('WebAssembly' in globalThis)) return;
  try {
    const { createRequire } = await import('node:module');
    const load = createRequire(import.meta.url)('blake2b-wasm/blake2b.js') as () => Promise<Blake2bExports>;
    const w = await load();
    if (w.memory.buffer.byteLength < INPUT + 65536) w.memory.grow(Math.ceil((INPUT + 65536 - w.memory.buffer.byteLength) / 65536));
    mem = new Uint8Array(w.memory.buffer);
    wasm = w;
  } catch {
    wasm = undefined; // stay on the pure-JS path
  }
}

/**
 * Where the initial state for a personalization is kept, computed once: later hashes copy
 * these 216 bytes instead of re-running the parameter-block setup. Returns -1 when the table is
 * full; the state at STATE has then just been initialised for this one hash.
 */
function template(w: Blake2bExports, personal: Uint8Array): number {
  const known = byIdentity.get(personal);
  if (known !== undefined) return known;
  const k = bytesKey(personal);
  const t = templates.get(k);
  if (t !== undefined) {
    byIdentity.set(personal, t);
    return t;
  }
  mem.fill(0, 0, 64);
  mem[0] = 32; // digest length
  mem[2] = 1; // fanout
  mem[3] = 1; // depth
  mem.set(personal, 48);
  w.blake2b_init(STATE, 32);
  if (templates.size >= MAX_TEMPLATES) return -1;
  const at = TEMPLATES + templates.size * STATE_BYTES;
  mem.copyWithin(at, STATE, STATE + STATE_BYTES);
  templates.set(k, at);
  byIdentity.set(personal, at);
  return at;
}

function wasmHash(w: Blake2bExports, parts: readonly Uint8Array[], personal: Uint8Array): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  if (INPUT + len > mem.length) {
    w.memory.grow(Math.ceil((INPUT + len - mem.length) / 65536));
    mem = new Uint8Array(w.memory.buffer);
  }
  const t = template(w, personal);
  if (t >= 0) mem.copyWithin(STATE, t, t + STATE_BYTES);
  let o = INPUT;
  for (const p of parts) {
    mem.set(p, o);
    o += p.length;
  }
  w.blake2b_update(STATE, INPUT, o);
  w.blake2b_final(STATE);
  return mem.slice(STATE + 128, STATE + 160);
}

/** blake2b-256 with a 16-byte personalization (default: CKB's `ckb-default-hash`). */
export function blake2b256(data: Uint8Array, personal: Uint8Array = DEFAULT_PERSONAL): Uint8Array {
  if (wasm && personal.length === 16) return wasmHash(wasm, [data], personal);
  return nobleBlake2b(data, { dkLen: 32, personalization: personal });
}

/** Hashes the concatenation of several parts without copying them together first. */
export function blake2b256Parts(parts: Uint8Array[], personal: Uint8Array = DEFAULT_PERSONAL): Uint8Array {
  if (wasm && personal.length === 16) return wasmHash(wasm, parts, personal);
  const h = nobleBlake2b.create({ dkLen: 32, personalization: personal });
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * blake2b-256 of `tag ‖ a ‖ b` (one tag byte, then two byte strings): the shape of every tree
 * node hash (a leaf is `0x00 ‖ key ‖ H(value)`, an internal node `0x01 ‖ left ‖ right`). Equal to
 * `blake2b256Parts([Uint8Array.of(tag), a, b], personal)`, written straight into the hasher's
 * memory without building the parts.
 */
export function blake2b256Tagged(tag: number, a: Uint8Array, b: Uint8Array, personal: Uint8Array = DEFAULT_PERSONAL): Uint8Array {
  const w = wasm;
  if (!w || personal.length !== 16) return blake2b256Parts([Uint8Array.of(tag), a, b], personal);
  const end = INPUT + 1 + a.length + b.length;
  if (end > mem.length) {
    w.memory.grow(Math.ceil((end - mem.length) / 65536));
    mem = new Uint8Array(w.memory.buffer);
  }
  const t = template(w, personal);
  if (t >= 0) mem.copyWithin(STATE, t, t + STATE_BYTES);
  mem[INPUT] = tag;
  mem.set(a, INPUT + 1);
  mem.set(b, INPUT + 1 + a.length);
  w.blake2b_update(STATE, INPUT, end);
  w.blake2b_final(STATE);
  return mem.slice(STATE + 128, STATE + 160);
}

/** First 20 bytes of blake2b-256: CKB's `blake160`, used for addresses. */
export function blake160(data: Uint8Array): Uint8Array {
  return blake2b256(data).subarray(0, 20);
}

/** SHA-256 through node:crypto. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}
