/**
 * The Tendermint consensus state machine for one validator (after CometBFT consensus/state.go):
 * one step function per phase (enterNewRound, enterPropose, enterPrevote, enterPrecommit,
 * enterCommit) driven by messages and timeouts, with the locking and proof-of-lock rules of
 * the Tendermint paper (arXiv:1807.04938, Algorithm 1). Pure: no clock, network or disk; the
 * caller delivers messages and timeouts and carries out the effects in `ConsensusOutput`.
 * A block is an opaque byte string here (the validator service encodes Strata blocks).
 */
import { bytesEqual, bytesKey, toHex } from '@strata/primitives';
import { blsAggregate, blsVerify, edVerify } from './crypto.js';
import {
  isNil,
  NIL,
  PRECOMMIT,
  PREVOTE,
  proposalDigest,
  verifyVoteSignature,
  voteDigest,
  type Certificate,
  type ConsensusMessage,
  type Evidence,
  type Proposal,
  type Vote,
} from './messages.js';
import type { PrivValidator } from './privval.js';
import type { ValidatorSet } from './validator-set.js';
import { HeightVoteSet } from './vote-set.js';

/** Steps of a round. */
export type Step = 'newHeight' | 'propose' | 'prevote' | 'precommit' | 'commit';

/** Round timeouts: base + round × delta, so they grow until the network is synchronous enough. */
export interface TimeoutConfig {
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
}

/** Defaults sized for validators on one machine or one LAN. */
export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  proposeMs: 1000,
  proposeDeltaMs: 500,
  prevoteMs: 500,
  prevoteDeltaMs: 250,
  precommitMs: 500,
  precommitDeltaMs: 250,
};

/** A timeout the driver schedules and later hands back to `handleTimeout`. */
export interface Timeout {
  height: number;
  round: number;
  step: 'propose' | 'prevote' | 'precommit';
}

/** The application: builds and checks blocks. */
export interface ConsensusApp {
  /** Builds a new block for `height` (encoded). */
  propose(height: number): Uint8Array;
  /** The block id (hash) of encoded block bytes; throws on bytes that are not a block. */
  blockId(block: Uint8Array): Uint8Array;
  /** Whether a proposed block is valid at `height` (executed against the current state). */
  validate(height: number, block: Uint8Array): boolean;
}

/** Effects of the state machine, carried out by the driver. */
export interface ConsensusOutput {
  broadcast(m: ConsensusMessage): void;
  schedule(t: Timeout, ms: number): void;
  /** A block is decided (final): import it, then call `startHeight(height + 1)`. */
  decided(height: number, block: Uint8Array, cert: Certificate): void;
  /** Conflicting votes from one validator (double signing). */
  evidence(ev: Evidence): void;
  /** More than 2/3 precommitted a block this node does not have: fetch it (sync). */
  missingBlock(height: number, blockId: Uint8Array): void;
  /** Durably records a lock before the precommit that makes it is signed. */
  saveLock(lock: LockState): void;
  log?(msg: string, fields?: Record<string, unknown>): void;
}

/** The lock a validator keeps across restarts. */
export interface LockState {
  height: number;
  lockedRound: number;
  lockedBlock: Uint8Array | undefined;
}

/** Options of a ConsensusState. */
export interface ConsensusOptions {
  chainId: number;
  /** Validator set of a height. */
  validators: (height: number) => ValidatorSet;
  /** This node's signer (undefined for a non-validating full node). */
  privval?: PrivValidator;
  timeouts?: TimeoutConfig;
  /** Most rounds ahead of the current one that votes are kept for (bounds memory). */
  maxRoundsAhead?: number;
}

interface Known {
  bytes: Uint8Array;
  id: Uint8Array;
}

const MAX_FUTURE_MESSAGES = 2000;

/** One validator's consensus state. */
export class ConsensusState {
  height = 0;
  round = 0;
  step: Step = 'newHeight';
  lockedRound = -1;
  lockedBlock: Known | undefined;
  validRound = -1;
  validBlock: Known | undefined;
  private set!: ValidatorSet;
  private votes!: HeightVoteSet;
  private proposals = new Map<number, { proposal: Proposal; block: Known }>();
  private blocks = new Map<string, Known>();
  private validity = new Map<string, boolean>();
  private flags = new Set<string>();
  private farRounds = new Map<number, number>();
  private future: ConsensusMessage[] = [];
  private readonly timeouts: TimeoutConfig;
  private readonly maxRoundsAhead: number;
  private myIndex = -1;
  /** Own messages of this height (the driver re-broadcasts them). */
  readonly ownMessages: ConsensusMessage[] = [];
  /** Evidence seen (also handed to `output.evidence`). */
  readonly evidenceSeen: Evidence[] = [];

  constructor(
    readonly opts: ConsensusOptions,
    private readonly app: ConsensusApp,
    private readonly out: ConsensusOutput,
  ) {
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.maxRoundsAhead = opts.maxRoundsAhead ?? 20;
  }

  /** The validator set of the current height. */
  get validatorSet(): ValidatorSet {
    return this.set;
  }

  /** This validator's index in the current set (-1 when not a member). */
  get index(): number {
    return this.myIndex;
  }

  /**
   * Starts a height (after the previous one was committed). `lock` restores a lock persisted
   * for this height before a restart. The first round begins with `enterNewRound(0)`, which
   * the driver calls after its commit timeout, or which any message of this height triggers.
   */
  startHeight(height: number, lock?: LockState): void {
    this.height = height;
    this.round = 0;
    this.step = 'newHeight';
    this.lockedRound = -1;
    this.lockedBlock = undefined;
    this.validRound = -1;
    this.validBlock = undefined;
    this.set = this.opts.validators(height);
    this.votes = new HeightVoteSet(height, this.set);
    this.proposals = new Map();
    this.blocks = new Map();
    this.validity = new Map();
    this.flags = new Set();
    this.farRounds = new Map();
    this.ownMessages.length = 0;
    this.myIndex = this.opts.privval ? this.set.indexOf(this.opts.privval.ed.publicKey) : -1;
    if (lock && lock.height === height && lock.lockedBlock && lock.lockedRound >= 0) {
      const k = this.known(lock.lockedBlock);
      if (k) {
        this.lockedRound = lock.lockedRound;
        this.lockedBlock = k;
        this.validRound = lock.lockedRound;
        this.validBlock = k;
      }
    }
    const queued = this.future.filter((m) => msgHeight(m) === height);
    this.future = this.future.filter((m) => msgHeight(m) > height);
    for (const m of queued) this.handleMessage(m);
  }

  private blockIdOf(bytes: Uint8Array): Uint8Array | undefined {
    try {
      return this.app.blockId(bytes);
    } catch {
      return undefined;
    }
  }

  /** Remembers a block (only after its proposal's signature verified: gossip is untrusted). */
  private known(bytes: Uint8Array, knownId?: Uint8Array): Known | undefined {
    const id = knownId ?? this.blockIdOf(bytes);
    if (!id) return undefined;
    const k = bytesKey(id);
    const prev = this.blocks.get(k);
    if (prev) return prev;
    const kb = { bytes, id };
    this.blocks.set(k, kb);
    return kb;
  }

  private isValid(b: Known): boolean {
    const k = bytesKey(b.id);
    let v = this.validity.get(k);
    if (v === undefined) {
      try {
        v = this.app.validate(this.height, b.bytes);
      } catch {
        v = false;
      }
      this.validity.set(k, v);
    }
    return v;
  }

  private log(msg: string, fields: Record<string, unknown> = {}): void {
    this.out.log?.(msg, { height: this.height, round: this.round, step: this.step, ...fields });
  }

  // ------------------------------------------------------------------ inputs

  /**
   * Handles a message from the network (or this node). Invalid messages are dropped and
   * reported in the return value; nothing here throws on network input.
   */
  handleMessage(m: ConsensusMessage): 'ok' | 'ignored' | 'invalid' {
    const h = msgHeight(m);
    if (h < this.height || this.step === 'commit' && h === this.height) return 'ignored';
    if (h > this.height) {
      if (h === this.height + 1 && this.future.length < MAX_FUTURE_MESSAGES) this.future.push(m);
      return 'ignored';
    }
    const r = m.kind === 'proposal' ? m.proposal.round : m.vote.round;
    if (r > this.round + this.maxRoundsAhead) {
      // Far-future rounds are not stored (bounded memory); each validator's highest far round
      // is remembered, and once more than 1/3 of the stake is at or past a round we jump there.
      if (m.kind !== 'vote' || m.vote.validator >= this.set.size) return 'ignored';
      if (!verifyVoteSignature(this.opts.chainId, m.vote, this.set.at(m.vote.validator).edPub)) return 'invalid';
      if ((this.farRounds.get(m.vote.validator) ?? -1) < r) this.farRounds.set(m.vote.validator, r);
      const target = this.farRoundWithOneThird();
      if (target === undefined) return 'ignored';
      if (this.step === 'newHeight') this.enterNewRound(0);
      this.enterNewRound(target);
      this.checkRules();
      if (r > this.round + this.maxRoundsAhead) return 'ignored';
    }
    const res = m.kind === 'proposal' ? this.onProposal(m.proposal) : this.onVote(m.vote);
    if (res === 'ok') {
      if (this.step === 'newHeight') this.enterNewRound(0);
      this.checkRules();
    }
    return res;
  }

  private farRoundWithOneThird(): number | undefined {
    const entries = [...this.farRounds.entries()].sort((a, b) => b[1] - a[1]);
    let p = 0n;
    for (const [v, r] of entries) {
      p += this.set.at(v).power;
      if (this.set.hasOneThird(p)) return r > this.round ? r : undefined;
    }
    return undefined;
  }

  /** Handles a timeout the driver scheduled. */
  handleTimeout(t: Timeout): void {
    if (t.height !== this.height || this.step === 'commit') return;
    if (t.step === 'propose' && t.round === this.round && this.step === 'propose') {
      this.log('propose timeout');
      this.enterPrevote(NIL);
    } else if (t.step === 'prevote' && t.round === this.round && this.step === 'prevote') {
      this.log('prevote timeout');
      this.enterPrecommit(NIL);
    } else if (t.step === 'precommit' && t.round === this.round) {
      this.log('precommit timeout');
      this.enterNewRound(this.round + 1);
    }
    this.checkRules();
  }

  private onProposal(p: Proposal): 'ok' | 'ignored' | 'invalid' {
    if (p.proposer !== this.set.proposer(p.height, p.round)) return 'invalid';
    if (p.polRound > p.round) return 'invalid';
    const id = this.blockIdOf(p.block);
    if (!id) return 'invalid';
    const pub = this.set.at(p.proposer).edPub;
    // Verify before keeping anything: anyone on the gossip network can name the proposer.
    if (!edVerify(pub, proposalDigest(this.opts.chainId, p.height, p.round, p.polRound, id), p.signature)) return 'invalid';
    const prev = this.proposals.get(p.round);
    if (prev) {
      if (!bytesEqual(prev.block.id, id)) this.log('conflicting proposal ignored', { proposer: p.proposer, first: toHex(prev.block.id), second: toHex(id) });
      return 'ignored';
    }
    const b = this.known(p.block, id) as Known;
    this.proposals.set(p.round, { proposal: p, block: b });
    return 'ok';
  }

  private onVote(v: Vote): 'ok' | 'ignored' | 'invalid' {
    if (v.type !== PREVOTE && v.type !== PRECOMMIT) return 'invalid';
    if (v.validator >= this.set.size) return 'invalid';
    const val = this.set.at(v.validator);
    if (!verifyVoteSignature(this.opts.chainId, v, val.edPub)) return 'invalid';
    if (v.type === PRECOMMIT && !isNil(v.blockHash)) {
      // Each BLS share is checked on arrival so that a certificate never carries a bad one.
      if (!blsVerify(val.blsPub, voteDigest(this.opts.chainId, PRECOMMIT, v.height, v.round, v.blockHash), v.bls)) return 'invalid';
    } else if (v.bls.length !== 0) return 'invalid';
    const vs = v.type === PREVOTE ? this.votes.prevotes(v.round) : this.votes.precommits(v.round);
    const res = vs.add(v);
    if (res.evidence) {
      this.evidenceSeen.push(res.evidence);
      this.log('double sign detected', { validator: v.validator, type: v.type, voteRound: v.round });
      this.out.evidence(res.evidence);
      return 'ignored';
    }
    return res.added ? 'ok' : 'ignored';
  }

  // ------------------------------------------------------------------ step functions

  /** Begins round 0 of the height started with `startHeight` (the driver's commit timeout ended). */
  begin(): void {
    if (this.step === 'newHeight') this.enterNewRound(0);
    this.checkRules();
  }

  /** Enters round `r` of the current height (no-op for an earlier round). */
  private enterNewRound(r: number): void {
    if (this.step === 'commit') return;
    if (r < this.round || (r === this.round && this.step !== 'newHeight')) return;
    this.round = r;
    this.log('new round', { proposer: this.set.proposer(this.height, r) });
    this.enterPropose();
  }

  private enterPropose(): void {
    this.step = 'propose';
    this.out.schedule({ height: this.height, round: this.round, step: 'propose' }, this.timeouts.proposeMs + this.round * this.timeouts.proposeDeltaMs);
    const pv = this.opts.privval;
    if (!pv || this.myIndex < 0 || this.set.proposer(this.height, this.round) !== this.myIndex) return;
    let block: Known | undefined = this.validBlock;
    if (!block) {
      let bytes: Uint8Array;
      try {
        bytes = this.app.propose(this.height);
      } catch (e) {
        this.log('cannot build a proposal', { error: (e as Error).message });
        return;
      }
      block = this.known(bytes);
      if (!block) return;
    }
    let proposal: Proposal;
    try {
      proposal = pv.signProposal({ height: this.height, round: this.round, polRound: this.validRound + 1, block: block.bytes, proposer: this.myIndex }, block.id);
    } catch (e) {
      this.log('refused to sign proposal', { error: (e as Error).message });
      return;
    }
    this.log('proposing', { block: toHex(block.id), polRound: this.validRound });
    this.proposals.set(this.round, { proposal, block });
    this.validity.set(bytesKey(block.id), this.validity.get(bytesKey(block.id)) ?? true);
    this.emit({ kind: 'proposal', proposal });
  }

  private enterPrevote(id: Uint8Array): void {
    this.step = 'prevote';
    this.castVote(PREVOTE, id);
  }

  private enterPrecommit(id: Uint8Array): void {
    this.step = 'precommit';
    this.castVote(PRECOMMIT, id);
  }

  private enterCommit(round: number, block: Known): void {
    const precommits = this.votes.precommits(round);
    const votes = precommits.votesFor(block.id);
    const cert: Certificate = {
      height: this.height,
      round,
      blockHash: block.id,
      signers: precommits.signers(block.id),
      aggregate: blsAggregate(votes.map((v) => v.bls)),
    };
    this.step = 'commit';
    this.log('commit', { block: toHex(block.id), commitRound: round, signers: votes.length });
    this.out.decided(this.height, block.bytes, cert);
  }

  private castVote(type: number, id: Uint8Array): void {
    const pv = this.opts.privval;
    if (!pv || this.myIndex < 0) return;
    let vote: Vote;
    try {
      vote = pv.signVote({ type, height: this.height, round: this.round, blockHash: id, validator: this.myIndex });
    } catch (e) {
      this.log('refused to sign vote', { error: (e as Error).message });
      return;
    }
    this.onVote(vote);
    this.emit({ kind: 'vote', vote });
  }

  private emit(m: ConsensusMessage): void {
    this.ownMessages.push(m);
    this.out.broadcast(m);
  }

  // ------------------------------------------------------------------ the "upon" rules

  private once(flag: string): boolean {
    if (this.flags.has(flag)) return false;
    this.flags.add(flag);
    return true;
  }

  private checkRules(): void {
    for (let guard = 0; guard < 64; guard++) {
      if (this.step === 'commit' || this.step === 'newHeight') return;
      const before = `${this.round}/${this.step}`;
      this.rules();
      if (`${this.round}/${this.step}` === before) return;
    }
  }

  private rules(): void {
    const r = this.round;
    const prop = this.proposals.get(r);
    const prevotes = this.votes.prevotes(r);

    // Decision: 2/3 precommits for a block in any round (Algorithm 1 line 49).
    for (const rr of this.votes.roundNumbers()) {
      const m = this.votes.precommits(rr).twoThirdsMajority();
      if (!m || isNil(m)) continue;
      const b = this.blocks.get(bytesKey(m));
      if (b && this.isValid(b)) {
        this.enterCommit(rr, b);
        return;
      }
      if (!b && this.once(`missing:${bytesKey(m)}`)) this.out.missingBlock(this.height, m);
    }

    if (this.step === 'propose' && prop) {
      const pol = prop.proposal.polRound - 1;
      if (pol < 0) {
        // Line 22: a fresh proposal; prevote it unless locked on something else.
        const ok = this.isValid(prop.block) && (this.lockedRound === -1 || bytesEqual(this.lockedBlock?.id ?? NIL, prop.block.id));
        this.enterPrevote(ok ? prop.block.id : NIL);
        return;
      }
      // Line 28: a re-proposal with a proof of lock from round `pol`.
      const polMaj = pol < r ? this.votes.prevotes(pol).twoThirdsMajority() : undefined;
      if (polMaj && bytesEqual(polMaj, prop.block.id)) {
        const ok = this.isValid(prop.block) && (this.lockedRound <= pol || bytesEqual(this.lockedBlock?.id ?? NIL, prop.block.id));
        this.enterPrevote(ok ? prop.block.id : NIL);
        return;
      }
    }

    // Line 34: 2/3 prevotes for anything: start the prevote timeout.
    if (this.step === 'prevote' && prevotes.hasTwoThirdsAny() && this.once(`prevoteTimeout:${r}`)) {
      this.out.schedule({ height: this.height, round: r, step: 'prevote' }, this.timeouts.prevoteMs + r * this.timeouts.prevoteDeltaMs);
    }

    // Line 36: 2/3 prevotes for the proposal: lock and precommit (or just remember it as valid).
    const maj = prevotes.twoThirdsMajority();
    if (prop && maj && bytesEqual(maj, prop.block.id) && (this.step === 'prevote' || this.step === 'precommit') && this.isValid(prop.block) && this.once(`lock:${r}`)) {
      if (this.step === 'prevote') {
        this.lockedRound = r;
        this.lockedBlock = prop.block;
        this.out.saveLock({ height: this.height, lockedRound: r, lockedBlock: prop.block.bytes });
        this.validRound = r;
        this.validBlock = prop.block;
        this.enterPrecommit(prop.block.id);
        return;
      }
      this.validRound = r;
      this.validBlock = prop.block;
    }

    // Line 44: 2/3 prevotes for nil: precommit nil.
    if (this.step === 'prevote' && maj && isNil(maj)) {
      this.enterPrecommit(NIL);
      return;
    }

    // Line 47: 2/3 precommits for anything: start the precommit timeout.
    if (this.votes.precommits(r).hasTwoThirdsAny() && this.once(`precommitTimeout:${r}`)) {
      this.out.schedule({ height: this.height, round: r, step: 'precommit' }, this.timeouts.precommitMs + r * this.timeouts.precommitDeltaMs);
    }

    // Line 55: more than 1/3 of the stake is in a later round: skip to it.
    for (const rr of this.votes.roundNumbers()) {
      if (rr > r && this.votes.oneThirdAnyInRound(rr)) {
        this.enterNewRound(rr);
        return;
      }
    }
  }

  /** A JSON view for RPC and logs. */
  status(): Record<string, unknown> {
    return {
      height: this.height,
      round: this.round,
      step: this.step,
      lockedRound: this.lockedRound,
      lockedBlock: this.lockedBlock ? toHex(this.lockedBlock.id) : null,
      validRound: this.validRound,
      proposer: this.set ? this.set.proposer(this.height, this.round) : null,
      prevotes: this.votes ? this.votes.prevotes(this.round).summary() : {},
      precommits: this.votes ? this.votes.precommits(this.round).summary() : {},
    };
  }
}

function msgHeight(m: ConsensusMessage): number {
  return m.kind === 'proposal' ? m.proposal.height : m.vote.height;
}

