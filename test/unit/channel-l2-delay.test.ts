/**
 * The devnet L2's channel adjudicator refuses a dispute delay below 2W + F + 1 L1 blocks
 * (sequencing window W, force-after F; docs/l3.md): a channel opened there with a shorter
 * `toSelfDelay` could be closed on an old state and settled before a victim the L2 sequencer
 * censors forces its penalty in through the L1 inbox.
 */
import { describe, expect, it } from 'vitest';
import { ADJUDICATOR_COMPUTE, ADJUDICATOR_MODULE, adjudicatorAddress, L2_FORCE_AFTER_L1_BLOCKS, minL2ToSelfDelay, OpenArgs } from '@strata/channels';
import { devAccounts, devnetRollupConfig } from '@strata/devnet';
import { DepositArgs, rollupModuleNames } from '@strata/optimistic';
import { encode } from '@strata/primitives';
import { encodeTx, signTx } from '@strata/runtime';
import { keys, RollupWorld } from '../helpers/optimistic.js';

describe('dispute delay floor of channels on the devnet L2', () => {
  it('is 2W + F + 1 L1 blocks', () => {
    const l2 = devnetRollupConfig(devAccounts('st', 10));
    expect(minL2ToSelfDelay(l2.sequencingWindow)).toBe(2 * l2.sequencingWindow + L2_FORCE_AFTER_L1_BLOCKS + 1);
    expect(minL2ToSelfDelay(l2.sequencingWindow)).toBe(25);
  });

  it('an open with a shorter toSelfDelay is refused (CHANNEL_LIMIT), one at the floor goes through', async () => {
    const devnetL2 = devnetRollupConfig(devAccounts('st', 10));
    const w = new RollupWorld({ rollup: { l2Modules: devnetL2.l2Modules ?? [], sequencingWindow: devnetL2.sequencingWindow } });
    try {
      const [alice, bob] = [keys[0]!, keys[2]!];
      const n = rollupModuleNames(w.rollup.rollupId);
      await w.client.send(alice, n.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 10n ** 10n }), 5_000);
      w.mine();
      await w.sequence();
      w.l2Addresses.push(adjudicatorAddress());
      const node = w.seqNode;
      let nonce = 0;
      const open = async (fill: number, toSelfDelay: number) => {
        const args = { channelId: new Uint8Array(32).fill(fill), keyA: new Uint8Array(32).fill(1), keyB: new Uint8Array(32).fill(2), payB: bob.address, capacity: 1_000_000n, push: 0n, toSelfDelay };
        const tx = signTx({ chainId: node.env.config.chainId, nonce: nonce++, fee: 10n ** 7n, computeLimit: ADJUDICATOR_COMPUTE, module: ADJUDICATOR_MODULE, method: 'open', args: encode(OpenArgs, args) }, alice.secretKey);
        const { hash } = node.submitTx(encodeTx(tx));
        await w.sequence();
        const loc = node.chain.txLocation(hash);
        const r = loc ? node.chain.get(loc.number)?.results[loc.index] : undefined;
        return r?.status === 'ok' ? 'ok' : (r?.error ?? 'missing');
      };
      expect(await open(7, 24)).toMatch(/CHANNEL_LIMIT.*toSelfDelay must be at least 25 blocks/);
      expect(await open(8, 6)).toMatch(/toSelfDelay must be at least 25/); // a channel node's default
      expect(await open(9, 25)).toBe('ok');
    } finally {
      w.close();
    }
  }, 60_000);
});
