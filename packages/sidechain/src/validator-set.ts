/**
 * A validator set: keys and stake (voting power) per validator, the quorum rule (more than
 * 2/3 of the power), the stake-weighted round-robin proposer schedule, and the check of a
 * commit certificate (one BLS aggregate against the signers' public keys) that the L1 and
 * light clients run.
 */
import { bytesEqual, decode, encode, fixedBytes, list, StrataError, struct, uintBig, type Codec } from '@strata/primitives';
import { BLS_PUBKEY_LENGTH, blsFastAggregateVerify, ED_PUBKEY_LENGTH } from './crypto.js';
import { bitmapHas, MAX_VALIDATORS, PRECOMMIT, voteDigest, type Certificate } from './messages.js';

/** One validator. `power` is its bonded stake in base units. */
export interface Validator {
  edPub: Uint8Array;
  blsPub: Uint8Array;
  /** Sidechain address credited with the fees of blocks it proposes. */
  producer: Uint8Array;
  power: bigint;
}

export const ValidatorCodec: Codec<Validator> = struct('Validator', {
  edPub: fixedBytes(ED_PUBKEY_LENGTH),
  blsPub: fixedBytes(BLS_PUBKEY_LENGTH),
  producer: fixedBytes(20),
  power: uintBig(128),
});

export const ValidatorListCodec: Codec<Validator[]> = list(ValidatorCodec, MAX_VALIDATORS);

/** Encodes a validator list. */
export function encodeValidators(v: Validator[]): Uint8Array {
  return encode(ValidatorListCodec, v);
}

/** Decodes a validator list. */
export function decodeValidators(b: Uint8Array): Validator[] {
  return decode(ValidatorListCodec, b, 64 * 1024);
}

/** Length of the proposer schedule cycle at most (powers are scaled down to fit). */
const MAX_SCHEDULE = 4096;

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** An immutable validator set. */
export class ValidatorSet {
  readonly totalPower: bigint;
  private readonly schedule: number[];

  constructor(readonly validators: readonly Validator[]) {
    if (validators.length === 0) throw new StrataError('CONFIG_INVALID', 'a validator set needs at least one validator');
    if (validators.length > MAX_VALIDATORS) throw new StrataError('CONFIG_INVALID', `at most ${MAX_VALIDATORS} validators`);
    let total = 0n;
    for (const v of validators) {
      if (v.power < 0n) throw new StrataError('CONFIG_INVALID', 'validator power must not be negative');
      total += v.power;
    }
    if (total === 0n) throw new StrataError('CONFIG_INVALID', 'a validator set needs positive total power');
    this.totalPower = total;
    this.schedule = buildSchedule(validators.map((v) => v.power));
  }

  get size(): number {
    return this.validators.length;
  }

  /** Validator at an index (throws for an unknown index). */
  at(i: number): Validator {
    const v = this.validators[i];
    if (!v) throw new StrataError('SC_CONSENSUS', `no validator at index ${i}`);
    return v;
  }

  /** Index of the validator with this ed25519 key, or -1. */
  indexOf(edPub: Uint8Array): number {
    return this.validators.findIndex((v) => bytesEqual(v.edPub, edPub));
  }

  /** Whether `power` is more than 2/3 of the total (the quorum). */
  hasQuorum(power: bigint): boolean {
    return power * 3n > this.totalPower * 2n;
  }

  /** Whether `power` is more than 1/3 of the total (at least one honest validator among them). */
  hasOneThird(power: bigint): boolean {
    return power * 3n > this.totalPower;
  }

  /**
   * Proposer of (height, round): a stake-weighted round robin. The schedule is one cycle of
   * CometBFT's priority algorithm (each validator appears in proportion to its power,
   * interleaved smoothly); the slot is (height + round) modulo the cycle, so every round of
   * a height moves to the next proposer.
   */
  proposer(height: number, round: number): number {
    return this.schedule[(height + round) % this.schedule.length] as number;
  }

  /** Sum of the power of the validators in a bitmap. */
  powerOf(bits: Uint8Array): bigint {
    let p = 0n;
    for (let i = 0; i < this.validators.length; i++) if (bitmapHas(bits, i)) p += (this.validators[i] as Validator).power;
    return p;
  }

  /**
   * Verifies a commit certificate for `chainId`: the bitmap names only validators of this
   * set, their power is more than 2/3 of the total, and the aggregate is their BLS
   * signatures over the precommit digest. Throws SC_CHECKPOINT naming the reason.
   */
  verifyCertificate(chainId: number, cert: Certificate): void {
    const n = this.validators.length;
    if (cert.signers.length !== Math.ceil(n / 8)) {
      throw new StrataError('SC_CHECKPOINT', `certificate signer bitmap has ${cert.signers.length} bytes, expected ${Math.ceil(n / 8)} for ${n} validators`, { reason: 'bad-bitmap' });
    }
    for (let i = n; i < cert.signers.length * 8; i++) {
      if (bitmapHas(cert.signers, i)) throw new StrataError('SC_CHECKPOINT', `certificate names signer ${i} outside the set of ${n}`, { reason: 'bad-bitmap' });
    }
    const power = this.powerOf(cert.signers);
    if (!this.hasQuorum(power)) {
      throw new StrataError('SC_CHECKPOINT', `certificate signers hold ${power} of ${this.totalPower} stake, not more than 2/3`, {
        reason: 'insufficient-stake',
        power: power.toString(),
        total: this.totalPower.toString(),
      });
    }
    const pubs: Uint8Array[] = [];
    for (let i = 0; i < n; i++) if (bitmapHas(cert.signers, i)) pubs.push((this.validators[i] as Validator).blsPub);
    const msg = voteDigest(chainId, PRECOMMIT, cert.height, cert.round, cert.blockHash);
    if (!blsFastAggregateVerify(pubs, msg, cert.aggregate)) {
      throw new StrataError('SC_CHECKPOINT', 'certificate aggregate signature does not verify against the signers\' BLS keys', { reason: 'bad-aggregate' });
    }
  }
}

function buildSchedule(powers: bigint[]): number[] {
  let g = 0n;
  for (const p of powers) if (p > 0n) g = gcd(g, p);
  let scaled = powers.map((p) => (p === 0n ? 0n : p / g));
  let total = scaled.reduce((a, b) => a + b, 0n);
  if (total > BigInt(MAX_SCHEDULE)) {
    // Scale down (keeping every positive validator at ≥ 1 slot) so the cycle stays short.
    scaled = powers.map((p) => (p === 0n ? 0n : (p * BigInt(MAX_SCHEDULE)) / (total * g) || 1n));
    total = scaled.reduce((a, b) => a + b, 0n);
  }
  const prio = scaled.map(() => 0n);
  const out: number[] = [];
  for (let k = 0n; k < total; k++) {
    let best = -1;
    for (let i = 0; i < scaled.length; i++) {
      prio[i] = (prio[i] as bigint) + (scaled[i] as bigint);
      if (scaled[i] === 0n) continue;
      if (best === -1 || (prio[i] as bigint) > (prio[best] as bigint)) best = i;
    }
    prio[best] = (prio[best] as bigint) - total;
    out.push(best);
  }
  return out;
}


/** Kinds of validator-set change recorded on the parent and replayed by the sidechain. */
export const SET_BOND = 1;
export const SET_UNBOND = 2;
export const SET_SLASH = 3;

/**
 * One validator-set change, as the parent's registry records it (in order, numbered from 0)
 * and as the sidechain's producer includes it (`sc_bridge.setChange`) once it is final there.
 */
export interface SetChange {
  kind: number;
  edPub: Uint8Array;
  blsPub: Uint8Array;
  producer: Uint8Array;
  amount: bigint;
}

/**
 * Applies one set change to a validator list (returns a new list; the input is not changed).
 * The one rule both halves run — the sidechain to derive the set of each height, the parent's
 * registry to derive the set it checks checkpoints against — so both derive the same indexes
 * and stakes. A bond adds stake (a new key joins at the end); an unbond removes the validator
 * unless no other one has power (then it is held: no chain may lose its whole set); a slash sets
 * the power to 0. `make` builds a joining entry (the registry adds its own fields).
 */
export function applySetChange<T extends Validator>(set: readonly T[], c: SetChange, make: (c: SetChange) => T): { set: T[]; removed: T | undefined; applied: boolean } {
  const out = set.map((v) => ({ ...v }));
  const i = out.findIndex((v) => bytesEqual(v.edPub, c.edPub));
  if (c.kind === SET_BOND) {
    if (i >= 0) (out[i] as T).power += c.amount;
    else if (out.length < MAX_VALIDATORS) out.push(make(c));
    else return { set: out, removed: undefined, applied: false };
    return { set: out, removed: undefined, applied: true };
  }
  if (c.kind === SET_UNBOND) {
    // The last validator with power is held (not just the last one: slashed validators stay
    // in the set with no power, and a set of zero power could never sign again).
    if (i < 0 || !out.some((v, k) => k !== i && v.power > 0n)) return { set: out, removed: undefined, applied: false };
    const [removed] = out.splice(i, 1);
    return { set: out, removed, applied: true };
  }
  if (c.kind === SET_SLASH && i >= 0) {
    (out[i] as T).power = 0n;
    return { set: out, removed: undefined, applied: true };
  }
  return { set: out, removed: undefined, applied: false };
}
