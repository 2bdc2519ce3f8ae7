/**
 * Tallies of votes by stake (CometBFT types/vote_set.go): one VoteSet per (height, round,
 * type), and a HeightVoteSet holding every round of one height. A second, different vote from
 * a validator is not counted; it is returned as double-sign evidence.
 */
import { bytesKey, toHex } from '@strata/primitives';
import { bitmapSet, isNil, type Evidence, type Vote } from './messages.js';
import type { ValidatorSet } from './validator-set.js';

/** Outcome of adding a vote. */
export interface AddVoteResult {
  added: boolean;
  /** Set when the validator already voted differently: both votes. */
  evidence?: Evidence;
}

/** The votes of one type at one height and round. */
export class VoteSet {
  private readonly byValidator = new Map<number, Vote>();
  private readonly powerByBlock = new Map<string, bigint>();
  private totalVoted = 0n;
  private majority: Uint8Array | undefined;

  constructor(
    readonly height: number,
    readonly round: number,
    readonly type: number,
    readonly set: ValidatorSet,
  ) {}

  /** Adds a vote whose signature the caller has checked. */
  add(vote: Vote): AddVoteResult {
    const prev = this.byValidator.get(vote.validator);
    if (prev) {
      if (bytesKey(prev.blockHash) === bytesKey(vote.blockHash)) return { added: false };
      return { added: false, evidence: { a: prev, b: vote } };
    }
    this.byValidator.set(vote.validator, vote);
    const power = this.set.at(vote.validator).power;
    this.totalVoted += power;
    const k = bytesKey(vote.blockHash);
    const p = (this.powerByBlock.get(k) ?? 0n) + power;
    this.powerByBlock.set(k, p);
    if (!this.majority && this.set.hasQuorum(p)) this.majority = vote.blockHash;
    return { added: true };
  }

  /** The block id (possibly nil) that more than 2/3 voted for, if any. */
  twoThirdsMajority(): Uint8Array | undefined {
    return this.majority;
  }

  /** Whether more than 2/3 of the power voted at all (for anything). */
  hasTwoThirdsAny(): boolean {
    return this.set.hasQuorum(this.totalVoted);
  }

  /** Whether more than 1/3 of the power voted (the round-skip rule). */
  hasOneThirdAny(): boolean {
    return this.set.hasOneThird(this.totalVoted);
  }

  /** Power that voted for a block id. */
  powerFor(blockHash: Uint8Array): bigint {
    return this.powerByBlock.get(bytesKey(blockHash)) ?? 0n;
  }

  /** The votes for one block id. */
  votesFor(blockHash: Uint8Array): Vote[] {
    const k = bytesKey(blockHash);
    return [...this.byValidator.values()].filter((v) => bytesKey(v.blockHash) === k);
  }

  /** Every vote. */
  all(): Vote[] {
    return [...this.byValidator.values()];
  }

  /** Bitmap of the validators that voted for a block id. */
  signers(blockHash: Uint8Array): Uint8Array {
    const bits = new Uint8Array(Math.ceil(this.set.size / 8));
    for (const v of this.votesFor(blockHash)) bitmapSet(bits, v.validator);
    return bits;
  }

  /** A JSON summary: power per block id. */
  summary(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, p] of this.powerByBlock) {
      const h = Uint8Array.from(Buffer.from(k, 'latin1'));
      out[isNil(h) ? 'nil' : toHex(h)] = p.toString();
    }
    return out;
  }
}

/** Every round's prevotes and precommits at one height. */
export class HeightVoteSet {
  private readonly rounds = new Map<number, { prevotes: VoteSet; precommits: VoteSet }>();

  constructor(
    readonly height: number,
    readonly set: ValidatorSet,
  ) {}

  private round(r: number) {
    let e = this.rounds.get(r);
    if (!e) {
      e = { prevotes: new VoteSet(this.height, r, 1, this.set), precommits: new VoteSet(this.height, r, 2, this.set) };
      this.rounds.set(r, e);
    }
    return e;
  }

  prevotes(r: number): VoteSet {
    return this.round(r).prevotes;
  }

  precommits(r: number): VoteSet {
    return this.round(r).precommits;
  }

  /** Rounds seen so far. */
  roundNumbers(): number[] {
    return [...this.rounds.keys()].sort((a, b) => a - b);
  }

  /** Whether more than 1/3 of the power sent any vote in round r (prevote or precommit). */
  oneThirdAnyInRound(r: number): boolean {
    const e = this.rounds.get(r);
    if (!e) return false;
    const seen = new Set<number>();
    let p = 0n;
    for (const v of [...e.prevotes.all(), ...e.precommits.all()]) {
      if (seen.has(v.validator)) continue;
      seen.add(v.validator);
      p += this.set.at(v.validator).power;
    }
    return this.set.hasOneThird(p);
  }
}
