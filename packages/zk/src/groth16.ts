/**
 * Synchronous Groth16 verification over BN254 with @noble/curves, for the L1 module (`applyTx`
 * is synchronous; snarkjs's verifier is asynchronous). Fixed parts are prepared once per
 * verification key: e(α, β) as a Miller-loop value and the line coefficients of γ and δ, so a
 * check is three Miller loops (one with a fresh G2 point) and one final exponentiation.
 *
 * Wire form of a proof (256 bytes): A.x A.y | B.x.c0 B.x.c1 B.y.c0 B.y.c1 | C.x C.y, 32-byte
 * big-endian coordinates. Points are validated (on the curve, in the subgroup) before pairing.
 */
import { bn254 } from '@noble/curves/bn254.js';
import { StrataError } from '@strata/primitives';
import { FIELD } from './poseidon.js';
import type { SnarkVk } from './setup.js';

type G1 = ReturnType<typeof bn254.G1.Point.fromAffine>;
type G2 = ReturnType<typeof bn254.G2.Point.fromAffine>;
const Fp2 = bn254.fields.Fp2;
const Fp12 = bn254.fields.Fp12;

/** Proof size on the wire. */
export const PROOF_BYTES = 256;
/** Verification key size on the wire with one public input: α (G1), β γ δ (G2), IC0 IC1 (G1). */
export const VK_BYTES = 64 + 3 * 128 + 2 * 64;

const be = (b: Uint8Array, off: number): bigint => {
  let x = 0n;
  for (let i = 0; i < 32; i++) x = (x << 8n) | BigInt(b[off + i] as number);
  return x;
};
const put = (out: Uint8Array, off: number, x: bigint) => {
  let v = x;
  for (let i = 31; i >= 0; i--) {
    out[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
};

function g1At(b: Uint8Array, off: number, what: string): G1 {
  try {
    const p = bn254.G1.Point.fromAffine({ x: be(b, off), y: be(b, off + 32) });
    p.assertValidity();
    if (p.is0()) throw new Error('identity');
    return p;
  } catch {
    // The identity is refused too: no honest key or proof has it, and the pairing code would
    // fail on it with an untyped error.
    throw new StrataError('PROOF_INVALID', `${what} is not a valid BN254 G1 point (on the curve, in the subgroup, not the identity)`, { reason: 'point' });
  }
}
function g2At(b: Uint8Array, off: number, what: string): G2 {
  try {
    const p = bn254.G2.Point.fromAffine({ x: Fp2.create({ c0: be(b, off), c1: be(b, off + 32) }), y: Fp2.create({ c0: be(b, off + 64), c1: be(b, off + 96) }) });
    p.assertValidity();
    if (p.is0()) throw new Error('identity');
    return p;
  } catch {
    // The identity is refused too: no honest key or proof has it, and the pairing code would
    // fail on it with an untyped error.
    throw new StrataError('PROOF_INVALID', `${what} is not a valid BN254 G2 point (on the curve, in the subgroup, not the identity)`, { reason: 'point' });
  }
}

/** Encodes a snarkjs proof JSON into the 256-byte wire form. */
export function encodeProof(proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }): Uint8Array {
  const out = new Uint8Array(PROOF_BYTES);
  const b = proof.pi_b as [string[], string[]];
  put(out, 0, BigInt(proof.pi_a[0] as string));
  put(out, 32, BigInt(proof.pi_a[1] as string));
  put(out, 64, BigInt(b[0][0] as string));
  put(out, 96, BigInt(b[0][1] as string));
  put(out, 128, BigInt(b[1][0] as string));
  put(out, 160, BigInt(b[1][1] as string));
  put(out, 192, BigInt(proof.pi_c[0] as string));
  put(out, 224, BigInt(proof.pi_c[1] as string));
  return out;
}

/** Encodes a snarkjs verification key (one public input) into its wire form. */
export function encodeVk(vk: SnarkVk): Uint8Array {
  if (vk.protocol !== 'groth16' || vk.IC.length !== 2) throw new StrataError('CONFIG_INVALID', 'expected a Groth16 key with one public input');
  const out = new Uint8Array(VK_BYTES);
  const g2 = (o: number, p: string[][]) => {
    put(out, o, BigInt((p[0] as string[])[0] as string));
    put(out, o + 32, BigInt((p[0] as string[])[1] as string));
    put(out, o + 64, BigInt((p[1] as string[])[0] as string));
    put(out, o + 96, BigInt((p[1] as string[])[1] as string));
  };
  put(out, 0, BigInt(vk.vk_alpha_1[0] as string));
  put(out, 32, BigInt(vk.vk_alpha_1[1] as string));
  g2(64, vk.vk_beta_2);
  g2(192, vk.vk_gamma_2);
  g2(320, vk.vk_delta_2);
  put(out, 448, BigInt((vk.IC[0] as string[])[0] as string));
  put(out, 480, BigInt((vk.IC[0] as string[])[1] as string));
  put(out, 512, BigInt((vk.IC[1] as string[])[0] as string));
  put(out, 544, BigInt((vk.IC[1] as string[])[1] as string));
  return out;
}

type Precompute = ReturnType<typeof bn254.utils.calcPairingPrecomputes>;
const calcPre = bn254.utils.calcPairingPrecomputes;
const millerLoopBatch = bn254.millerLoopBatch;

/** A verification key prepared for repeated checks. */
export class PreparedVk {
  private readonly ic0: G1;
  private readonly ic1: G1;
  private readonly gammaPre: Precompute;
  private readonly deltaPre: Precompute;
  private readonly alphaBeta: ReturnType<typeof millerLoopBatch>;

  constructor(vkBytes: Uint8Array) {
    if (vkBytes.length !== VK_BYTES) throw new StrataError('DECODE_INVALID', `a verification key is ${VK_BYTES} bytes`);
    const alpha = g1At(vkBytes, 0, 'vk.alpha');
    const beta = g2At(vkBytes, 64, 'vk.beta');
    const gamma = g2At(vkBytes, 192, 'vk.gamma');
    const delta = g2At(vkBytes, 320, 'vk.delta');
    this.ic0 = g1At(vkBytes, 448, 'vk.IC0');
    this.ic1 = g1At(vkBytes, 512, 'vk.IC1');
    this.gammaPre = calcPre(gamma);
    this.deltaPre = calcPre(delta);
    const a = alpha.toAffine();
    this.alphaBeta = millerLoopBatch([[calcPre(beta), a.x, a.y]]);
  }

  /**
   * Checks a 256-byte proof for one public input: e(A,B) = e(α,β)·e(IC0 + x·IC1, γ)·e(C,δ).
   * Throws PROOF_INVALID (reason `point` or `pairing`) when it does not hold.
   */
  verify(proof: Uint8Array, publicInput: bigint): void {
    if (proof.length !== PROOF_BYTES) throw new StrataError('PROOF_INVALID', `a proof is ${PROOF_BYTES} bytes, got ${proof.length}`, { reason: 'length' });
    if (publicInput < 0n || publicInput >= FIELD) throw new StrataError('PROOF_INVALID', 'public input is not a field element', { reason: 'input' });
    const A = g1At(proof, 0, 'proof.A');
    const B = g2At(proof, 64, 'proof.B');
    const C = g1At(proof, 192, 'proof.C');
        const vkx = publicInput === 0n ? this.ic0 : this.ic0.add(this.ic1.multiply(publicInput));
    const nA = A.negate().toAffine();
    const c = C.toAffine();
    if (vkx.is0()) throw new StrataError('PROOF_INVALID', 'the public input maps to the identity', { reason: 'input' });
    const x = vkx.toAffine();
    let res: ReturnType<typeof Fp12.finalExponentiate>;
    try {
      const ml = millerLoopBatch([
        [calcPre(B), nA.x, nA.y],
        [this.gammaPre, x.x, x.y],
        [this.deltaPre, c.x, c.y],
      ]);
      res = Fp12.finalExponentiate(Fp12.mul(ml, this.alphaBeta));
    } catch (e) {
      throw new StrataError('PROOF_INVALID', `the pairing check failed: ${(e as Error).message}`, { reason: 'point' });
    }
    if (!Fp12.eql(res, Fp12.ONE)) throw new StrataError('PROOF_INVALID', 'the proof does not verify against the rollup\'s verification key', { reason: 'pairing' });
  }
}
