/**
 * BabyJubjub keys and EdDSA-Poseidon signatures of L2 operations. A user's L2 key is derived
 * from their L1 secret key (as zkSync derives its L2 key from the L1 account), so the dev
 * mnemonic's accounts have L2 keys too. Point arithmetic uses circomlibjs' BabyJubjub; the curve
 * checks the L1 needs at deposit time are plain BigInt arithmetic here (synchronous).
 */
import { createHash } from 'node:crypto';
import { StrataError } from '@strata/primitives';
import { blake512 } from '@noble/hashes/blake1.js';
import { buildBabyjub } from 'circomlibjs';
import { FIELD, poseidon } from './poseidon.js';

/** An L2 signature: R8 point and scalar S. */
export interface ZkSignature {
  r8x: bigint;
  r8y: bigint;
  s: bigint;
}

/** An L2 key pair. */
export interface ZkKey {
  /** 32-byte EdDSA private key (circomlibjs convention: hashed with blake512 into the scalar). */
  prv: Uint8Array;
  ax: bigint;
  ay: bigint;
}

// circomlibjs' BabyJubjub object (untyped JavaScript): points are [x, y] of its field's elements.
type Point = [unknown, unknown];
interface BabyJub {
  F: { e(x: bigint): unknown; toObject(x: unknown): bigint; eq(a: unknown, b: unknown): boolean };
  Base8: Point;
  mulPointEscalar(p: Point, e: bigint): Point;
  addPoint(p: Point, q: Point): Point;
  inCurve(p: Point): boolean;
}

/** Little-endian bytes as an integer. */
function leInt(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i] as number);
  return x;
}

/** The 32 little-endian bytes of a field element. */
function le32(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, v = x; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/**
 * EdDSA over BabyJubjub with Poseidon (iden3's scheme, what circomlib's EdDSAPoseidonVerifier
 * checks): h = BLAKE-512(prv); the secret scalar s is h[0..32] pruned (low 3 bits cleared, bit
 * 255 cleared, bit 254 set), little-endian; the public key A = Base8 · (s >> 3).
 */
function secretScalar(prv: Uint8Array): { s: bigint; h: Uint8Array } {
  const h = blake512(prv);
  const sb = h.slice(0, 32);
  sb[0] = (sb[0] as number) & 0xf8;
  sb[31] = ((sb[31] as number) & 0x7f) | 0x40;
  return { s: leInt(sb), h };
}

/** Signing and verification (async to build once: circomlibjs loads its field code). */
export interface ZkCrypto {
  deriveKey(l1SecretKey: Uint8Array): ZkKey;
  keyFromPrivate(prv: Uint8Array): ZkKey;
  sign(key: ZkKey, msg: bigint): ZkSignature;
  verify(msg: bigint, sig: ZkSignature, ax: bigint, ay: bigint): boolean;
}

let built: Promise<ZkCrypto> | undefined;

/** The process-wide ZkCrypto. */
export function zkCrypto(): Promise<ZkCrypto> {
  // Only BabyJubjub is built (its WebAssembly field code); Poseidon is ours (poseidon.ts) and
  // BLAKE-512 @noble/hashes'. circomlibjs' buildEddsa also built a second BabyJubjub, its own
  // Poseidon, MiMC7, MiMCSponge and a Pedersen hash that nothing here uses: seconds of a devnet's
  // warm start (test/unit/zk-keys-eddsa.test.ts checks the signatures are byte-for-byte its).
  built ??= (async () => {
    const bj = (await buildBabyjub()) as BabyJub;
    const F = bj.F;
    const point = (x: bigint, y: bigint): Point => [F.e(x), F.e(y)];
    const keyFromPrivate = (prv: Uint8Array): ZkKey => {
      const [x, y] = bj.mulPointEscalar(bj.Base8, secretScalar(prv).s >> 3n);
      return { prv, ax: F.toObject(x), ay: F.toObject(y) };
    };
    return {
      keyFromPrivate,
      deriveKey(l1SecretKey) {
        const prv = new Uint8Array(createHash('sha256').update('strata-zk-babyjubjub-key/v1').update(l1SecretKey).digest());
        return keyFromPrivate(prv);
      },
      sign(key, msg) {
        // r = BLAKE-512(h[32..64] ‖ msg as 32 LE bytes) mod l; R8 = Base8 · r;
        // S = r + Poseidon(R8, A, msg) · s mod l.
        const { s, h } = secretScalar(key.prv);
        const m = ((msg % FIELD) + FIELD) % FIELD;
        const seed = new Uint8Array(64);
        seed.set(h.subarray(32, 64), 0);
        seed.set(le32(m), 32);
        const r = leInt(blake512(seed)) % SUBORDER;
        const [rx, ry] = bj.mulPointEscalar(bj.Base8, r);
        const r8x = F.toObject(rx);
        const r8y = F.toObject(ry);
        const hm = poseidon([r8x, r8y, key.ax, key.ay, m]);
        return { r8x, r8y, s: (r + hm * s) % SUBORDER };
      },
      verify(msg, sig, ax, ay) {
        if (!isSafeKey(ax, ay)) return false;
        if (sig.s >= SUBORDER || sig.r8x >= FIELD || sig.r8y >= FIELD || msg >= FIELD || msg < 0n || sig.s < 0n || sig.r8x < 0n || sig.r8y < 0n) return false;
        try {
          const R8 = point(sig.r8x, sig.r8y);
          const A = point(ax, ay);
          if (!bj.inCurve(R8) || !bj.inCurve(A)) return false;
          // Base8 · S = R8 + A · (8 · Poseidon(R8, A, msg))
          const hm = poseidon([sig.r8x, sig.r8y, ax, ay, msg]);
          const left = bj.mulPointEscalar(bj.Base8, sig.s);
          const right = bj.addPoint(R8, bj.mulPointEscalar(A, hm * 8n));
          return F.eq(left[0], right[0]) && F.eq(left[1], right[1]);
        } catch {
          return false;
        }
      },
    };
  })();
  return built;
}

// BabyJubjub (twisted Edwards a·x² + y² = 1 + d·x²·y² over the BN254 scalar field).
const A = 168700n;
const D = 168696n;
/** Order of the prime subgroup. */
export const SUBORDER = 2736030358979909402780800718157159386076813972158567259200215660948447373041n;
const mod = (x: bigint) => ((x % FIELD) + FIELD) % FIELD;
function inv(x: bigint): bigint {
  let [a, b, u, v] = [mod(x), FIELD, 1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b] = [b - q * a, a];
    [u, v] = [v - q * u, u];
  }
  if (b !== 1n) throw new StrataError('INVALID_KEY', 'not invertible');
  return mod(v);
}
function add(p: [bigint, bigint], q: [bigint, bigint]): [bigint, bigint] {
  const [x1, y1] = p;
  const [x2, y2] = q;
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 - A * x1 * x2) * inv(1n - t))];
}

/** Whether (x, y) is on BabyJubjub. */
export function onCurve(x: bigint, y: bigint): boolean {
  if (x < 0n || y < 0n || x >= FIELD || y >= FIELD) return false;
  const x2 = mod(x * x);
  const y2 = mod(y * y);
  return mod(A * x2 + y2) === mod(1n + D * x2 * y2);
}

/** A usable signing key: on the curve and not of small order (8·A has x ≠ 0, as the circuit checks). */
export function isSafeKey(x: bigint, y: bigint): boolean {
  if (!onCurve(x, y)) return false;
  let p: [bigint, bigint] = [x, y];
  for (let i = 0; i < 3; i++) p = add(p, p);
  return p[0] !== 0n;
}
