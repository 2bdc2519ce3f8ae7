import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blake2b256, bytesEqual, isStrataError, toHex, utf8 } from '@strata/primitives';
import { blsKeyFromSeed, edKeyFromSeed, FileSignStateStore, NIL, PRECOMMIT, PREVOTE, PrivValidator, verifyVoteSignature } from '@strata/sidechain';
import { tmp } from '../helpers/sidechain.js';

const ed = edKeyFromSeed(blake2b256(utf8('crash-ed')));
const bls = blsKeyFromSeed(blake2b256(utf8('crash-bls')));
const A = new Uint8Array(32).fill(0xaa);
const B = new Uint8Array(32).fill(0xbb);
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function crashAfterSigning(file: string, type: number, height: number, round: number, hash: Uint8Array): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/privval-crash.ts', file, String(type), String(height), String(round), toHex(hash)], { encoding: 'utf8', timeout: 30_000 });
  expect(r.signal).toBe('SIGKILL');
  return r.stdout;
}

function expectDoubleSign(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(isStrataError(e, 'SC_DOUBLE_SIGN')).toBe(true);
    return;
  }
  throw new Error('signed a conflicting vote');
}

describe('privval: the last signed vote is persisted before it is returned', () => {
  it('a validator SIGKILLed right after signing a prevote does not sign a conflicting one after restart', () => {
    const t = tmp();
    cleanup = t.cleanup;
    const file = join(t.dir, 'privval.json');
    expect(crashAfterSigning(file, PREVOTE, 5, 2, A)).toBe('persisted\n');
    const pv = new PrivValidator(9, ed, bls, new FileSignStateStore(file));
    expect(pv.lastSigned?.height).toBe(5);
    // the same height, round and step for another block or nil: refused
    expectDoubleSign(() => pv.signVote({ type: PREVOTE, height: 5, round: 2, blockHash: B, validator: 0 }));
    expectDoubleSign(() => pv.signVote({ type: PREVOTE, height: 5, round: 2, blockHash: NIL, validator: 0 }));
    // going back in height, round or step: refused
    expectDoubleSign(() => pv.signVote({ type: PREVOTE, height: 5, round: 1, blockHash: B, validator: 0 }));
    expectDoubleSign(() => pv.signVote({ type: PREVOTE, height: 4, round: 9, blockHash: B, validator: 0 }));
    expectDoubleSign(() => pv.signProposal({ height: 5, round: 2, polRound: 0, block: new Uint8Array(0), proposer: 0 }, B));
    // the very same vote again returns the persisted signature (safe to re-send)
    const again = pv.signVote({ type: PREVOTE, height: 5, round: 2, blockHash: A, validator: 0 });
    expect(verifyVoteSignature(9, again, ed.publicKey)).toBe(true);
    // moving on is fine
    const pc = pv.signVote({ type: PRECOMMIT, height: 5, round: 2, blockHash: A, validator: 0 });
    expect(pc.bls.length).toBe(96);
    expect(pv.signVote({ type: PREVOTE, height: 5, round: 3, blockHash: B, validator: 0 }).round).toBe(3);
  });

  it('a crash after a precommit keeps its BLS share too; restarting twice changes nothing', () => {
    const t = tmp();
    cleanup = t.cleanup;
    const file = join(t.dir, 'privval.json');
    crashAfterSigning(file, PRECOMMIT, 8, 0, B);
    const first = new PrivValidator(9, ed, bls, new FileSignStateStore(file)).signVote({ type: PRECOMMIT, height: 8, round: 0, blockHash: B, validator: 0 });
    const second = new PrivValidator(9, ed, bls, new FileSignStateStore(file));
    expectDoubleSign(() => second.signVote({ type: PRECOMMIT, height: 8, round: 0, blockHash: A, validator: 0 }));
    const same = second.signVote({ type: PRECOMMIT, height: 8, round: 0, blockHash: B, validator: 0 });
    expect(bytesEqual(first.signature, same.signature)).toBe(true);
    expect(bytesEqual(first.bls, same.bls)).toBe(true);
  });

  it('without persistence the guard would be lost (the test above can fail)', () => {
    // A fresh signer with no state signs anything: that is what the file prevents.
    const t = tmp();
    cleanup = t.cleanup;
    const pv = new PrivValidator(9, ed, bls, new FileSignStateStore(join(t.dir, 'none.json')));
    expect(pv.signVote({ type: PREVOTE, height: 5, round: 2, blockHash: B, validator: 0 }).height).toBe(5);
  });
});
