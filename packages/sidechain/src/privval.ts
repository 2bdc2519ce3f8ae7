/**
 * The private validator (CometBFT privval): holds a validator's keys and its last-sign state
 * (height, round, step, digest, signature). Before a signature is returned the new state is
 * written durably (temp file, fsync, rename, fsync of the directory), so a validator that
 * crashes right after signing, and restarts, never signs a conflicting message for the same
 * height, round and step. Re-signing the very same message returns the stored signature.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bytesEqual, fromHex, StrataError, toHex } from '@strata/primitives';
import { blsSign, edSign, type BlsKey, type EdKey } from './crypto.js';
import { isNil, PRECOMMIT, PREVOTE, proposalDigest, voteDigest, type Proposal, type Vote } from './messages.js';

/** Steps in signing order within one round. */
export const STEP_PROPOSE = 1;
export const STEP_PREVOTE = 2;
export const STEP_PRECOMMIT = 3;

/** The last thing a validator signed. */
export interface LastSignState {
  height: number;
  round: number;
  step: number;
  digest: Uint8Array;
  signature: Uint8Array;
  bls: Uint8Array;
}

/** Where the last-sign state lives. */
export interface SignStateStore {
  load(): LastSignState | undefined;
  /** Must be durable when it returns. */
  save(s: LastSignState): void;
}

/** A JSON file written atomically and fsynced (the default store). */
export class FileSignStateStore implements SignStateStore {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }
  load(): LastSignState | undefined {
    if (!existsSync(this.path)) return undefined;
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new StrataError('SC_DOUBLE_SIGN', `cannot read the last-sign state ${this.path}: ${(e as Error).message}; refusing to sign (restore it or remove it only if this key never signed)`);
    }
    return {
      height: Number(j.height),
      round: Number(j.round),
      step: Number(j.step),
      digest: fromHex(String(j.digest)),
      signature: fromHex(String(j.signature)),
      bls: fromHex(String(j.bls ?? '0x')),
    };
  }
  save(s: LastSignState): void {
    const tmp = `${this.path}.tmp`;
    const body = JSON.stringify({ height: s.height, round: s.round, step: s.step, digest: toHex(s.digest), signature: toHex(s.signature), bls: toHex(s.bls) });
    writeFileSync(tmp, body);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}

/** An in-memory store (simulations only: not crash safe). */
export class MemorySignStateStore implements SignStateStore {
  private s: LastSignState | undefined;
  load(): LastSignState | undefined {
    return this.s;
  }
  save(s: LastSignState): void {
    this.s = s;
  }
}

/** Signs votes and proposals for one validator, never twice differently for one (h, r, step). */
export class PrivValidator {
  private last: LastSignState | undefined;
  /** Called after the state is persisted and before the signature is returned (crash tests). */
  afterPersist: ((s: LastSignState) => void) | undefined;

  constructor(
    readonly chainId: number,
    readonly ed: EdKey,
    readonly bls: BlsKey,
    private readonly store: SignStateStore,
  ) {
    this.last = store.load();
  }

  /** The last-sign state (undefined before the first signature). */
  get lastSigned(): LastSignState | undefined {
    return this.last;
  }

  private check(height: number, round: number, step: number, digest: Uint8Array): LastSignState | undefined {
    const l = this.last;
    if (!l) return undefined;
    const where = `height ${height} round ${round} step ${step}`;
    const regress = () =>
      new StrataError('SC_DOUBLE_SIGN', `refusing to sign at ${where}: already signed at height ${l.height} round ${l.round} step ${l.step}`, {
        height,
        round,
        step,
        last: { height: l.height, round: l.round, step: l.step },
      });
    if (height < l.height) throw regress();
    if (height > l.height) return undefined;
    if (round < l.round) throw regress();
    if (round > l.round) return undefined;
    if (step < l.step) throw regress();
    if (step > l.step) return undefined;
    if (bytesEqual(digest, l.digest)) return l;
    throw new StrataError('SC_DOUBLE_SIGN', `refusing to sign a conflicting message at ${where}`, { height, round, step });
  }

  private commit(s: LastSignState): void {
    this.store.save(s);
    this.last = s;
    this.afterPersist?.(s);
  }

  /** Signs a vote (and, for a non-nil precommit, its BLS share). Throws SC_DOUBLE_SIGN. */
  signVote(v: Omit<Vote, 'signature' | 'bls'>): Vote {
    if (v.type !== PREVOTE && v.type !== PRECOMMIT) throw new StrataError('SC_CONSENSUS', `unknown vote type ${v.type}`);
    const step = v.type === PREVOTE ? STEP_PREVOTE : STEP_PRECOMMIT;
    const digest = voteDigest(this.chainId, v.type, v.height, v.round, v.blockHash);
    const same = this.check(v.height, v.round, step, digest);
    if (same) return { ...v, signature: same.signature, bls: same.bls };
    const signature = edSign(this.ed, digest);
    const bls = v.type === PRECOMMIT && !isNil(v.blockHash) ? blsSign(this.bls, digest) : new Uint8Array(0);
    this.commit({ height: v.height, round: v.round, step, digest, signature, bls });
    return { ...v, signature, bls };
  }

  /** Signs a proposal. Throws SC_DOUBLE_SIGN. */
  signProposal(p: Omit<Proposal, 'signature'>, blockHash: Uint8Array): Proposal {
    const digest = proposalDigest(this.chainId, p.height, p.round, p.polRound, blockHash);
    const same = this.check(p.height, p.round, STEP_PROPOSE, digest);
    if (same) return { ...p, signature: same.signature };
    const signature = edSign(this.ed, digest);
    this.commit({ height: p.height, round: p.round, step: STEP_PROPOSE, digest, signature, bls: new Uint8Array(0) });
    return { ...p, signature };
  }
}
