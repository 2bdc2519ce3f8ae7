/**
 * BabyJubjub keys and EdDSA-Poseidon signatures of L2 operations. A user's L2 key is derived
 * from their L1 secret key (as zkSync derives its L2 key from the L1 account), so the dev
 * mnemonic's accounts have L2 keys too. Signing and verification use circomlibjs; the curve
 * checks the L1 needs at deposit time are plain BigInt arithmetic here (synchronous).
 */
import { createHash } from 'node:crypto';
import { StrataError } from '@strata/primitives';
import { buildEddsa } from 'circomlibjs';
import { FIELD } from './poseidon.js';

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

// circomlibjs' EdDSA object (untyped JavaScript).
interface Eddsa {
  F: { e(x: bigint): unknown; toObject(x: unknown): bigint };
  prv2pub(prv: Uint8Array): [unknown, unknown];
  signPoseidon(prv: Uint8Array, msg: unknown): { R8: [unknown, unknown]; S: bigint };
  verifyPoseidon(msg: unknown, sig: { R8: [unknown, unknown]; S: bigint }, pub: [unknown, unknown]): boolean;
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
  built ??= (async () => {
    const eddsa = (await buildEddsa()) as Eddsa;
    const F = eddsa.F;
    const keyFromPrivate = (prv: Uint8Array): ZkKey => {
      const [x, y] = eddsa.prv2pub(prv);
      return { prv, ax: F.toObject(x), ay: F.toObject(y) };
    };
    return {
      keyFromPrivate,
      deriveKey(l1SecretKey) {
        const prv = new Uint8Array(createHash('sha256').update('strata-zk-babyjubjub-key/v1').update(l1SecretKey).digest());
        return keyFromPrivate(prv);
      },
      sign(key, msg) {
        const sig = eddsa.signPoseidon(key.prv, F.e(msg));
        return { r8x: F.toObject(sig.R8[0]), r8y: F.toObject(sig.R8[1]), s: sig.S };
      },
      verify(msg, sig, ax, ay) {
        if (!isSafeKey(ax, ay)) return false;
        if (sig.s >= SUBORDER || sig.r8x >= FIELD || sig.r8y >= FIELD || msg >= FIELD) return false;
        try {
          return eddsa.verifyPoseidon(F.e(msg), { R8: [F.e(sig.r8x), F.e(sig.r8y)], S: sig.s }, [F.e(ax), F.e(ay)]);
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
