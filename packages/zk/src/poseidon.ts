/**
 * Poseidon over the BN254 scalar field, synchronous BigInt arithmetic with circomlib's constants
 * (the same permutation as circomlib's `Poseidon(n)` template and circomlibjs). The L1 module,
 * the STF and the witness builder all hash with this one function; a unit test cross-checks it
 * against circomlibjs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '@strata/primitives';
import { packageDir } from './package-dir.js';

/** The BN254 scalar field modulus (circom's prime). */
export const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

const N_ROUNDS_F = 8;
const N_ROUNDS_P = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68];

interface Constants {
  C: bigint[][];
  M: bigint[][][];
}
let constants: Constants | undefined;

function load(): Constants {
  if (constants) return constants;
  const dir = packageDir('circomlibjs');
  const raw = JSON.parse(readFileSync(join(dir, 'src', 'poseidon_constants.json'), 'utf8')) as { C: string[][]; M: string[][][] };
  constants = { C: raw.C.map((r) => r.map((x) => BigInt(x))), M: raw.M.map((m) => m.map((r) => r.map((x) => BigInt(x)))) };
  return constants;
}

const pow5 = (a: bigint): bigint => {
  const a2 = (a * a) % FIELD;
  return (((a2 * a2) % FIELD) * a) % FIELD;
};

/** Poseidon hash of 1 to 16 field elements (each must be < FIELD). */
export function poseidon(inputs: readonly bigint[]): bigint {
  const { C, M } = load();
  const n = inputs.length;
  if (n < 1 || n > N_ROUNDS_P.length) throw new StrataError('INTERNAL', `poseidon takes 1..16 inputs, got ${n}`);
  const t = n + 1;
  const nRoundsP = N_ROUNDS_P[t - 2] as number;
  const c = C[t - 2] as bigint[];
  const m = M[t - 2] as bigint[][];
  let state: bigint[] = [0n];
  for (const x of inputs) {
    if (x < 0n || x >= FIELD) throw new StrataError('DECODE_INVALID', 'poseidon input is not a field element');
    state.push(x);
  }
  const next = new Array<bigint>(t);
  for (let r = 0; r < N_ROUNDS_F + nRoundsP; r++) {
    for (let i = 0; i < t; i++) state[i] = ((state[i] as bigint) + (c[r * t + i] as bigint)) % FIELD;
    if (r < N_ROUNDS_F / 2 || r >= N_ROUNDS_F / 2 + nRoundsP) {
      for (let i = 0; i < t; i++) state[i] = pow5(state[i] as bigint);
    } else {
      state[0] = pow5(state[0] as bigint);
    }
    for (let i = 0; i < t; i++) {
      const row = m[i] as bigint[];
      let acc = 0n;
      for (let j = 0; j < t; j++) acc += (row[j] as bigint) * (state[j] as bigint);
      next[i] = acc % FIELD;
    }
    state = next.slice();
  }
  return state[0] as bigint;
}

/** Field element from 32 big-endian bytes (must be canonical: < FIELD). */
export function fieldFromBytes(b: Uint8Array): bigint {
  if (b.length !== 32) throw new StrataError('DECODE_INVALID', `a field element is 32 bytes, got ${b.length}`);
  let x = 0n;
  for (const byte of b) x = (x << 8n) | BigInt(byte);
  if (x >= FIELD) throw new StrataError('DECODE_NON_CANONICAL', 'field element is not reduced modulo the BN254 scalar field');
  return x;
}

/** 32 big-endian bytes of a field element. */
export function fieldToBytes(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = x;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
