/**
 * A recorded rollup history for L2 persistence tests and benches: an L1 chain on disk carrying
 * a deposit and `blocks` L2 blocks of transfers in batches, plus the sequencer's state root of
 * every L2 block (what any correct node must reproduce).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '@strata/primitives';
import { BatcherService, rollupModuleNames, defaultRollupConfig, DepositArgs, NodeL1Client, RollupNode, signL2Transfer, type RollupConfig } from '@strata/optimistic';
import { encodeTx } from '@strata/runtime';
import { toHex } from '@strata/primitives';
import { keys } from './chain.js';
import { L1Miner } from './optimistic.js';

const silent = { info() {}, warn() {}, debug() {} };

/** The rollup every persistence scenario uses. */
export function persistRollup(): RollupConfig {
  return defaultRollupConfig({ batcher: keys[1]!.address, challengeWindow: 12, clockBlocks: 6, sequencingWindow: 1_000_000 });
}

/** Builds the history in `l1Dir`; writes `roots.json` (L2 block number → state root) beside it and returns the roots. */
export async function recordHistory(l1Dir: string, opts: { blocks: number; txsPerBlock: number; blocksPerBatch: number; onProgress?: (n: number) => void }): Promise<string[]> {
  const rollup = persistRollup();
  const l1 = new L1Miner(rollup, [], l1Dir);
  try {
    const client = new NodeL1Client(l1, rollup);
    const seq = new RollupNode({ rollup, sequencer: { maxOpsPerBlock: 10_000 } }, client);
    const batcher = new BatcherService(seq, { key: keys[1]! }, silent);
    await client.send(keys[0]!, rollupModuleNames(rollup.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: rollup.rollupId, to: keys[0]!.address, amount: 10n ** 11n }), 5_000);
    l1.mine();
    await seq.syncL1();
    let now = l1.chain.head.header.timestamp;
    let nonce = 0;
    const roots: string[] = [toHex(seq.chain.head.stateRoot)];
    while (seq.chain.head.number < opts.blocks) {
      for (let i = 0; i < opts.txsPerBlock; i++) {
        const to = new Uint8Array(20);
        to[0] = 0x77;
        to[1] = i;
        to[2] = seq.chain.head.number & 0xff;
        seq.submitTx(encodeTx(signL2Transfer(seq.env, keys[0]!.secretKey, nonce++, to, 1n)));
      }
      now = Math.max(now + 10, l1.chain.head.header.timestamp);
      const b = seq.sequence(now);
      if (b) roots[b.number] = toHex(b.stateRoot);
      if (seq.chain.head.number % opts.blocksPerBatch === 0 || seq.chain.head.number >= opts.blocks) {
        await batcher.tick();
        l1.mine();
        await seq.syncL1();
        opts.onProgress?.(seq.chain.head.number);
      }
    }
    // Flush: every block in a batch on L1, and a few empty L1 blocks after.
    while (seq.safeHead < seq.chain.head.number) {
      await batcher.tick();
      l1.mine();
      await seq.syncL1();
    }
    for (let i = 0; i < 3; i++) l1.mine();
    writeFileSync(join(l1Dir, '..', 'roots.json'), JSON.stringify(roots));
    return roots;
  } finally {
    await l1.chain.store.close();
  }
}
