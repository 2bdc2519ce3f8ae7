/**
 * Fixed-base scalar multiplication for the dev key setup: a comb of 32 byte-windows over the
 * generator, table-driven, calling ffjavascript's WebAssembly curve code directly (one mixed
 * addition per window, no JavaScript point objects). About 10x faster than a generic
 * `timesFr` per point, which is what makes the dev setup take seconds, not minutes.
 */
import { FIELD } from './poseidon.js';

// ffjavascript's curve object (untyped JavaScript).
// biome-ignore lint/suspicious/noExplicitAny: untyped dependency
type Curve = any;

const WINDOWS = 32;
const CHUNK = 2048;

/** Multiplies the generator of G1 or G2 by many scalars. */
export class FixedBase {
  private readonly ex: Record<string, (...a: number[]) => number>;
  private readonly sAff: number;
  private readonly sJac: number;
  private readonly pTable: number;
  private readonly pAcc: number;
  private readonly pOut: number;
  private readonly pAff: number;
  private readonly p: string;

  constructor(
    private readonly curve: Curve,
    group: 'g1' | 'g2',
  ) {
    const tm = curve.tm;
    this.ex = tm.instance.exports;
    this.p = group === 'g1' ? 'g1m' : 'g2m';
    const n8 = group === 'g1' ? 32 : 64;
    this.sAff = 2 * n8;
    this.sJac = 3 * n8;
    // headroom: the wasm batch conversions take scratch space above the free pointer
    const need = WINDOWS * 256 * this.sAff + this.sJac * (3 * CHUNK + 2 + 256) + this.sAff * (CHUNK + 1) + 65536;
    const free = tm.memory.buffer.byteLength - tm.u32[0];
    if (free < need) {
      tm.memory.grow(Math.ceil((need - free) / 65536) + 1);
      tm.u8 = new Uint8Array(tm.memory.buffer);
      tm.u32 = new Uint32Array(tm.memory.buffer);
    }
    this.pTable = tm.alloc(WINDOWS * 256 * this.sAff);
    this.pAcc = tm.alloc(this.sJac);
    this.pOut = tm.alloc(this.sJac * CHUNK);
    this.pAff = tm.alloc(this.sAff * CHUNK);
    // table[w][d] = d · 2^(8w) · G, affine; d = 0 is never read.
    const G = group === 'g1' ? curve.G1 : curve.G2;
    const pBase = tm.alloc(this.sJac);
    const pStep = tm.alloc(this.sAff);
    // Start from the generator in affine Montgomery form.
    const genAff = new Uint8Array(this.sAff);
    G.toRprLEM(genAff, 0, G.g);
    tm.u8.set(genAff, pStep);
    for (let w = 0; w < WINDOWS; w++) {
      // pStep holds 2^(8w)·G (affine); entries d·step built by repeated mixed additions.
      this.ex[`${this.p}_zero`]!(pBase);
      const jac = tm.alloc(this.sJac * 256);
      for (let d = 1; d < 256; d++) {
        this.ex[`${this.p}_addMixed`]!(pBase, pStep, pBase);
        tm.u8.copyWithin(jac + d * this.sJac, pBase, pBase + this.sJac);
      }
      this.ex[`${this.p}_batchToAffine`]!(jac + this.sJac, 255, this.pTable + (w * 256 + 1) * this.sAff);
      // next step: 256·step = (255·step) + step
      this.ex[`${this.p}_addMixed`]!(pBase, pStep, pBase);
      this.ex[`${this.p}_toAffine`]!(pBase, pBase);
      tm.u8.copyWithin(pStep, pBase, pBase + this.sAff);
      tm.u32[0] = jac; // free the scratch
    }
  }

  /** LEM-encoded affine points s_i · G, concatenated. `onPoint` is called per point (progress). */
  mulMany(scalars: readonly bigint[], onPoint?: () => void): Uint8Array {
    const tm = this.curve.tm;
    const out = new Uint8Array(scalars.length * this.sAff);
    const add = this.ex[`${this.p}_addMixed`]!;
    const zero = this.ex[`${this.p}_zero`]!;
    for (let off = 0; off < scalars.length; off += CHUNK) {
      const n = Math.min(CHUNK, scalars.length - off);
      for (let i = 0; i < n; i++) {
        let s = ((scalars[off + i] as bigint) % FIELD + FIELD) % FIELD;
        zero(this.pAcc);
        for (let w = 0; w < WINDOWS && s > 0n; w++) {
          const d = Number(s & 0xffn);
          s >>= 8n;
          if (d) add(this.pAcc, this.pTable + (w * 256 + d) * this.sAff, this.pAcc);
        }
        tm.u8.copyWithin(this.pOut + i * this.sJac, this.pAcc, this.pAcc + this.sJac);
        onPoint?.();
      }
      this.ex[`${this.p}_batchToAffine`]!(this.pOut, n, this.pAff);
      out.set(tm.u8.subarray(this.pAff, this.pAff + n * this.sAff), off * this.sAff);
    }
    return out;
  }
}
