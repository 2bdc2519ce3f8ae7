/**
 * The checkpoint relayer's evidence queue: each offender is reported once, recognised by its
 * key, not by its index (indexes shift when the set changes at a checkpoint).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decode, type KeyPair } from '@strata/primitives';
import { CheckpointRelayer, edSign, EvidenceArgs, newValidatorKeys, NIL, PREVOTE, SidechainMetrics, validatorOf, ValidatorSet, voteDigest, type Evidence, type Vote } from '@strata/sidechain';

const CHAIN = 4242;

describe('checkpoint relayer evidence', () => {
  it('reports two offenders that held the same index in different sets; the same offender once', async () => {
    const keys = [newValidatorKeys(), newValidatorKeys(), newValidatorKeys(), newValidatorKeys()];
    // heights 1…10: validators 0-3; from 11 on validator 1 has left, so validator 2 is index 1
    const before = new ValidatorSet(keys.map((k) => validatorOf(k, 1000n)));
    const after = new ValidatorSet([keys[0]!, keys[2]!, keys[3]!].map((k) => validatorOf(k, 1000n)));
    const engine = { setFor: (h: number) => (h <= 10 ? before : after) };
    const sent: Evidence[] = [];
    const l1 = {
      sendAndWait: async (_k: KeyPair, _m: string, method: string, args: Uint8Array) => {
        if (method === 'evidence') sent.push(decode(EvidenceArgs, args).evidence);
        return { status: '0x1', blockNumber: '0x1', error: null };
      },
      sidechain: async () => null,
      maxBlockCompute: async () => 1_600_000,
    };
    const relayer = new CheckpointRelayer({ chainId: CHAIN, key: {} as KeyPair }, {} as never, engine as never, l1 as never, pino({ level: 'silent' }), new SidechainMetrics());
    const evidence = (k: (typeof keys)[number], height: number, index: number): Evidence => {
      const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height, round: 0, blockHash, validator: index, signature: edSign(k.ed, voteDigest(CHAIN, PREVOTE, height, 0, blockHash)), bls: new Uint8Array(0) });
      return { a: vote(new Uint8Array(32).fill(1)), b: vote(NIL) };
    };
    relayer.reportEvidence(evidence(keys[1]!, 5, 1));
    relayer.reportEvidence(evidence(keys[1]!, 6, 1)); // the same offender again
    relayer.reportEvidence(evidence(keys[2]!, 12, 1)); // another offender at index 1 of the new set
    await relayer.step();
    expect(sent.map((e) => [e.a.height, e.a.validator])).toEqual([
      [5, 1],
      [12, 1],
    ]);
  });
});
