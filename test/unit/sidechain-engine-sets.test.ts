/**
 * The engine's set of a height is derived once per checkpoint period: a vote of the previous
 * period's last height (late precommits right after a boundary, or an old vote replayed by any
 * peer) must not re-derive the set (a read of every included change) and rebuild the proposer
 * schedule for each message before its signature is even checked.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BftEngine, makeSidechainSpec, newValidatorKeys, validatorOf } from '@strata/sidechain';

describe('BftEngine validator sets', () => {
  it('keeps the sets of the current and the previous period: no re-derivation per message', () => {
    const keys = [newValidatorKeys(), newValidatorKeys(), newValidatorKeys(), newValidatorKeys()];
    const spec = makeSidechainSpec({ name: 'sets', chainId: 4343, parentChainId: 1, validators: keys.map((k) => validatorOf(k, 1000n)), checkpointInterval: 4 });
    const network = { onConsensusMessage: () => {}, handle: () => {} };
    const engine = new BftEngine({ spec, consensusDir: '/nonexistent' }, network as never, pino({ level: 'silent' }));
    let reads = 0;
    // no set change included: the genesis set
    const stateReader = {
      get: () => {
        reads++;
        return undefined;
      },
    };
    (engine as unknown as { node: unknown }).node = { chain: { head: { meta: { height: 8 } }, stateReader } };
    // heights 9… (period after boundary 8) and late votes of height 8 (period after boundary 4), interleaved
    for (let i = 0; i < 50; i++) {
      expect(engine.setFor(9)?.size).toBe(4);
      expect(engine.setFor(8)?.size).toBe(4);
    }
    expect(reads).toBeLessThanOrEqual(2);
  });
});
