import { describe, expect, it } from 'vitest';
import { blake2b256, bytesEqual } from '@strata/primitives';
import {
  ConsensusState,
  edSign,
  MemorySignStateStore,
  NIL,
  PREVOTE,
  PrivValidator,
  proposalDigest,
  ValidatorSet,
  voteDigest,
  type ConsensusMessage,
  type Timeout,
  type Vote,
} from '@strata/sidechain';
import { SIM_CHAIN_ID, SIM_TIMEOUTS, simBlock, simKeys, simValidators } from '../helpers/bft-sim.js';

const keys = simKeys(4);
const set = new ValidatorSet(simValidators(keys));
const H = 3;

function harness(me: number) {
  const sent: ConsensusMessage[] = [];
  const timeouts: Timeout[] = [];
  const st = new ConsensusState(
    { chainId: SIM_CHAIN_ID, validators: () => set, privval: new PrivValidator(SIM_CHAIN_ID, keys[me]!.ed, keys[me]!.bls, new MemorySignStateStore()), timeouts: SIM_TIMEOUTS },
    { propose: (h) => simBlock(h, me, 'own'), blockId: (b) => blake2b256(b), validate: () => true },
    { broadcast: (m) => sent.push(m), schedule: (t) => timeouts.push(t), decided: () => {}, evidence: () => {}, missingBlock: () => {}, saveLock: () => {} },
  );
  st.startHeight(H);
  return { st, sent, timeouts };
}

function proposal(round: number, block: Uint8Array, polRound = 0): ConsensusMessage {
  const p = set.proposer(H, round);
  return { kind: 'proposal', proposal: { height: H, round, polRound, block, proposer: p, signature: edSign(keys[p]!.ed, proposalDigest(SIM_CHAIN_ID, H, round, polRound, blake2b256(block))) } };
}

function vote(v: number, type: number, round: number, id: Uint8Array): ConsensusMessage {
  const vt: Vote = { type, height: H, round, blockHash: id, validator: v, signature: edSign(keys[v]!.ed, voteDigest(SIM_CHAIN_ID, type, H, round, id)), bls: new Uint8Array(0) };
  return { kind: 'vote', vote: vt };
}

function myVotes(sent: ConsensusMessage[], type: number, round: number): Uint8Array[] {
  return sent.filter((m) => m.kind === 'vote' && m.vote.type === type && m.vote.round === round).map((m) => (m as { vote: Vote }).vote.blockHash);
}

describe('Tendermint locking and proof-of-lock', () => {
  // A validator that is never the proposer in rounds 0-2 of height H.
  const me = [0, 1, 2, 3].find((i) => ![0, 1, 2].some((r) => set.proposer(H, r) === i)) ?? 0;
  const others = [0, 1, 2, 3].filter((i) => i !== me);
  const A = simBlock(H, 9, 'A');
  const B = simBlock(H, 9, 'B');
  const idA = blake2b256(A);
  const idB = blake2b256(B);

  it('locks on a block with 2/3 prevotes, and prevotes nil for a different block without a newer proof of lock', () => {
    const { st, sent } = harness(me);
    st.begin();
    st.handleMessage(proposal(0, A));
    expect(bytesEqual(myVotes(sent, PREVOTE, 0)[0]!, idA)).toBe(true);
    for (const v of others.slice(0, 2)) st.handleMessage(vote(v, PREVOTE, 0, idA));
    expect(st.lockedRound).toBe(0);
    expect(myVotes(sent, 2, 0).map((x) => bytesEqual(x, idA))).toEqual([true]);
    // precommits for nil from the others: no decision, move to round 1 on the timeout
    for (const v of others) st.handleMessage(vote(v, 2, 0, NIL));
    st.handleTimeout({ height: H, round: 0, step: 'precommit' });
    expect(st.round).toBe(1);
    st.handleMessage(proposal(1, B));
    // locked on A: a fresh proposal of B gets a nil prevote
    expect(myVotes(sent, PREVOTE, 1).map((x) => bytesEqual(x, NIL))).toEqual([true]);
  });

  it('keeps no block of a proposal whose signature does not verify, nor of a second proposal for the round', () => {
    const { st } = harness(me);
    st.begin();
    const held = () => (st as unknown as { blocks: Map<string, unknown> }).blocks.size;
    // anyone on the gossip network can name the scheduled proposer: 2 MiB each would pile up
    for (let i = 0; i < 20; i++) {
      const m = proposal(0, simBlock(H, 9, `forged-${i}`)) as { kind: 'proposal'; proposal: { signature: Uint8Array } };
      m.proposal.signature = new Uint8Array(64).fill(i + 1);
      expect(st.handleMessage(m as ConsensusMessage)).toBe('invalid');
    }
    expect(held()).toBe(0);
    expect(st.handleMessage(proposal(0, A))).toBe('ok');
    expect(held()).toBe(1);
    // a byzantine proposer's conflicting second proposal is not kept either
    expect(st.handleMessage(proposal(0, B))).toBe('ignored');
    expect(held()).toBe(1);
  });

  it('unlocks for a re-proposal carrying a proof of lock from a later round', () => {
    const { st, sent } = harness(me);
    st.begin();
    st.handleMessage(proposal(0, A));
    for (const v of others.slice(0, 2)) st.handleMessage(vote(v, PREVOTE, 0, idA));
    for (const v of others) st.handleMessage(vote(v, 2, 0, NIL));
    st.handleTimeout({ height: H, round: 0, step: 'precommit' });
    // round 1: the others prevote B (a polka for B at round 1), we stay locked on A
    st.handleMessage(proposal(1, B));
    for (const v of others) st.handleMessage(vote(v, PREVOTE, 1, idB));
    for (const v of others) st.handleMessage(vote(v, 2, 1, NIL));
    st.handleTimeout({ height: H, round: 1, step: 'precommit' });
    expect(st.round).toBe(2);
    // round 2: B re-proposed with proof of lock round 1 (polRound field = 1 + 1)
    st.handleMessage(proposal(2, B, 2));
    expect(myVotes(sent, PREVOTE, 2).map((x) => bytesEqual(x, idB))).toEqual([true]);
  });

  it('a re-proposal claiming a proof of lock that does not exist gets no vote for it', () => {
    const { st, sent } = harness(me);
    st.begin();
    st.handleMessage(proposal(0, A));
    for (const v of others.slice(0, 2)) st.handleMessage(vote(v, PREVOTE, 0, idA));
    for (const v of others) st.handleMessage(vote(v, 2, 0, NIL));
    st.handleTimeout({ height: H, round: 0, step: 'precommit' });
    st.handleMessage(proposal(1, B, 1)); // claims a polka for B at round 0, where A had it
    st.handleTimeout({ height: H, round: 1, step: 'propose' });
    expect(myVotes(sent, PREVOTE, 1).map((x) => bytesEqual(x, NIL))).toEqual([true]);
  });

  it('rejects messages with bad signatures, wrong proposers and other chains', () => {
    const { st } = harness(me);
    st.begin();
    const p = proposal(0, A) as { kind: 'proposal'; proposal: { proposer: number; signature: Uint8Array } };
    expect(st.handleMessage({ ...p, proposal: { ...p.proposal, proposer: (p.proposal.proposer + 1) % 4 } } as ConsensusMessage)).toBe('invalid');
    const v = vote(others[0]!, PREVOTE, 0, idA) as { kind: 'vote'; vote: Vote };
    expect(st.handleMessage({ kind: 'vote', vote: { ...v.vote, blockHash: idB } })).toBe('invalid');
    expect(st.handleMessage({ kind: 'vote', vote: { ...v.vote, validator: 7 } })).toBe('invalid');
    const other = { ...v.vote, signature: edSign(keys[others[0]!]!.ed, voteDigest(SIM_CHAIN_ID + 1, PREVOTE, H, 0, idA)) };
    expect(st.handleMessage({ kind: 'vote', vote: other })).toBe('invalid');
  });
});

describe('consensus wire input', () => {
  it('random or mutated bytes decode to a typed error or a message the state machine rejects, never a crash', async () => {
    const fc = (await import('fast-check')).default;
    const { decodeMessage, encodeMessage } = await import('@strata/sidechain');
    const { isStrataError } = await import('@strata/primitives');
    const good = encodeMessage(proposal(0, simBlock(H, 1, 'x')));
    const { st } = harness(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), (junk, at, byte) => {
        for (const input of [junk, Uint8Array.from(good, (b, i) => (i === at ? byte : b))]) {
          let m: ConsensusMessage;
          try {
            m = decodeMessage(input);
          } catch (e) {
            expect(isStrataError(e)).toBe(true);
            continue;
          }
          expect(['ok', 'ignored', 'invalid']).toContain(st.handleMessage(m));
        }
      }),
      { numRuns: 300 },
    );
  });
});
