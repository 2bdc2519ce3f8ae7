/**
 * A seeded byte mutator for fuzzing decoders (in the manner of libFuzzer / AFL's havoc stage):
 * bit flips, byte sets, "interesting" values (RLP and varint boundaries), inserts, deletes,
 * duplications, truncations, splices with other seeds, length-prefix tampering and, now and
 * then, plain random bytes. Deterministic for a given seed.
 */

/** xorshift128+ PRNG: fast, deterministic, good enough for mutation choices. */
export class Rng {
  private s0: bigint;
  private s1: bigint;
  constructor(seed: number) {
    this.s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 0x1234567n;
    this.s1 = (BigInt(seed) ^ 0xdeadbeefn) * 0xbf58476d1ce4e5b9n + 1n;
    for (let i = 0; i < 8; i++) this.u32();
    this.fill();
  }
  private buf = new Uint32Array(1024);
  private pos = 1024;
  private fill(): void {
    const M = (1n << 64n) - 1n;
    for (let i = 0; i < this.buf.length; i += 2) {
      let x = this.s0;
      const y = this.s1;
      this.s0 = y;
      x = (x ^ (x << 23n)) & M;
      this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
      const r = (this.s1 + y) & M;
      this.buf[i] = Number(r & 0xffffffffn);
      this.buf[i + 1] = Number(r >> 32n);
    }
    this.pos = 0;
  }
  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    if (this.pos >= this.buf.length) this.fill();
    return this.buf[this.pos++] as number;
  }
  /** A uniform integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }
  /** An element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)] as T;
  }
}

/** Byte values at encoding boundaries: RLP prefixes, varint continuation, sign bits. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xc1, 0xf7, 0xf8, 0xf9, 0xfa, 0xff, 0x37, 0x38, 0x41];

/** Working buffer of the mutator (grown as needed). */
let work = new Uint8Array(1 << 17);
let len = 0;

function ensure(n: number): void {
  if (n <= work.length) return;
  const w = new Uint8Array(Math.max(n, work.length * 2));
  w.set(work.subarray(0, len));
  work = w;
}

/** Inserts `src` at `at` in the working buffer. */
function insert(at: number, src: Uint8Array): void {
  ensure(len + src.length);
  work.copyWithin(at + src.length, at, len);
  work.set(src, at);
  len += src.length;
}

/**
 * One mutated input from `seeds`: 1-4 havoc edits on a random seed (1 in 40: random bytes).
 * `maxLen` caps the output length.
 */
export function mutateBytes(rng: Rng, seeds: readonly Uint8Array[], maxLen = 1 << 16): Uint8Array {
  if (rng.oneIn(40) || seeds.length === 0) {
    const out = new Uint8Array(rng.below(rng.oneIn(8) ? 4096 : 200));
    for (let i = 0; i < out.length; i++) out[i] = rng.u32() & 0xff;
    return out;
  }
  const seed = rng.pick(seeds);
  len = seed.length;
  ensure(len);
  work.set(seed);
  const edits = 1 + rng.below(4);
  for (let e = 0; e < edits; e++) {
    const at = rng.below(len + 1);
    const i = len === 0 ? 0 : at % len;
    switch (rng.below(11)) {
      case 0:
        if (len > 0) work[i] = (work[i] as number) ^ (1 << rng.below(8));
        break;
      case 1:
        if (len > 0) work[i] = rng.u32() & 0xff;
        break;
      case 2:
        if (len > 0) work[i] = rng.pick(INTERESTING);
        break;
      case 3: {
        const ins = new Uint8Array(1 + rng.below(8));
        for (let k = 0; k < ins.length; k++) ins[k] = rng.oneIn(2) ? rng.pick(INTERESTING) : rng.u32() & 0xff;
        insert(at, ins);
        break;
      }
      case 4: {
        const n = Math.min(1 + rng.below(8), len - at);
        if (n > 0) {
          work.copyWithin(at, at + n, len);
          len -= n;
        }
        break;
      }
      case 5: {
        // Duplicate a range (repeated fields, list items).
        const from = rng.below(len + 1);
        const n = rng.below(Math.min(64, len - from) + 1);
        insert(at, work.slice(from, from + n));
        break;
      }
      case 6:
        len = at;
        break;
      case 7: {
        // Splice: this seed's head with another seed's tail.
        const other = rng.pick(seeds);
        const tail = other.subarray(rng.below(other.length + 1));
        ensure(at + tail.length);
        work.set(tail, at);
        len = at + tail.length;
        break;
      }
      case 8: {
        // Tamper with a length prefix: nudge a byte that looks like one.
        for (let k = i; k < len; k++) {
          if ((work[k] as number) >= 0x80) {
            work[k] = ((work[k] as number) + (rng.oneIn(2) ? 1 : 255)) & 0xff;
            break;
          }
        }
        break;
      }
      case 9: {
        const n = 1 + rng.below(16);
        ensure(len + n);
        for (let k = 0; k < n; k++) work[len + k] = rng.u32() & 0xff;
        len += n;
        break;
      }
      default: {
        // Overwrite a 2-8 byte window with 0x00 or 0xff (big lengths, zero lengths).
        const v = rng.oneIn(2) ? 0 : 0xff;
        for (let k = 0, n = 2 + rng.below(7); k < n && at + k < len; k++) work[at + k] = v;
      }
    }
  }
  return work.slice(0, Math.min(len, maxLen));
}

/** JSON values that break parameter parsers: boundaries, wrong types, huge and nested values. */
const JSON_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 64, '', '0x', '0x0', '0x00', '0x1', '0xffffffffffffffff',
  `0x${'f'.repeat(64)}`, `0x${'0'.repeat(64)}`, `0x${'ab'.repeat(40)}`, `0x${'g'.repeat(64)}`, 'latest', 'earliest', 'pending', 'finalized',
  'newHeads', 'x'.repeat(10_000), '\u0000', '💥', [], [[]], {}, { a: 1 }, [1, 2, 3], '-0x1', '0x-1', ' 0x1', '1e3', 'NaN', 'Infinity',
  'trace', 'pow', 'dev', 'off', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRBhwfeP2Y7TCx1Q1X4ZmXqu8ARxGyLxRbEB8NuYbB4GS',
];

/** A random JSON-ish value, sometimes derived from `base` (hex digits flipped, lengthened, cut). */
export function mutateJsonValue(rng: Rng, base: unknown): unknown {
  if (typeof base === 'string' && !rng.oneIn(3)) {
    const s = base;
    switch (rng.below(6)) {
      case 0:
        return s.slice(0, rng.below(s.length + 1));
      case 1:
        return s + 'a'.repeat(1 + rng.below(70));
      case 2: {
        const i = rng.below(s.length);
        return s.slice(0, i) + rng.pick(['0', 'f', 'g', 'x', ' ', 'Z', '\u00e9']) + s.slice(i + 1);
      }
      case 3:
        return s.toUpperCase();
      case 4:
        return `0x${s.slice(2).replace(/^0+/, '') || '0'}`;
      default:
        return `0x${'0'.repeat(rng.below(8))}${s.slice(2)}`;
    }
  }
  if (rng.oneIn(4)) {
    const depth = 1 + rng.below(40);
    let v: unknown = rng.pick(JSON_VALUES);
    for (let i = 0; i < depth; i++) v = rng.oneIn(2) ? [v] : { k: v };
    return v;
  }
  return rng.pick(JSON_VALUES);
}

/** A mutated JSON-RPC request body for `method` built from one seed params array. */
export function mutateRequest(rng: Rng, method: string, seeds: readonly unknown[][]): string {
  const params = [...rng.pick(seeds)];
  const edits = 1 + rng.below(3);
  for (let e = 0; e < edits; e++) {
    const k = rng.below(6);
    if (k <= 2 && params.length > 0) {
      const i = rng.below(params.length);
      params[i] = mutateJsonValue(rng, params[i]);
    } else if (k === 3) params.push(mutateJsonValue(rng, undefined));
    else if (k === 4) params.splice(rng.below(params.length + 1), 1);
    else params.reverse();
  }
  const body: Record<string, unknown> = { jsonrpc: '2.0', id: rng.below(1000), method, params };
  if (rng.oneIn(20)) body.params = mutateJsonValue(rng, undefined);
  let text = JSON.stringify(body);
  if (rng.oneIn(10)) {
    // Byte-level damage to the text itself.
    const bytes = mutateBytes(rng, [new TextEncoder().encode(text)], 1 << 16);
    text = new TextDecoder().decode(bytes);
  }
  return text;
}
