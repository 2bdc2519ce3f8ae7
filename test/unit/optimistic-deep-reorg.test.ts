/**
 * The rollup follows the L1's heaviest chain even through a reorg that reverts L1 blocks its
 * derivation had treated as final: the safe and finalized L2 heads roll back, and the same
 * deposit and batch, re-mined on the new branch, are derived again (nothing minted twice).
 */
import { Chain, ChainStore, type Block } from '@strata/chain';
import { DepositArgs, optimisticParentModules, rollupModuleNames } from '@strata/optimistic';
import { encode, toHex } from '@strata/primitives';
import { bankModule, ModuleRegistry } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { afterEach, describe, expect, it } from 'vitest';
import { mineOn, tempDir } from '../helpers/chain.js';
import { keys, RollupWorld } from '../helpers/optimistic.js';

let world: RollupWorld | undefined;
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  world?.close();
  world = undefined;
  for (const c of cleanups.splice(0)) await c();
});

const alice = keys[0]!;

describe('optimistic derivation across a deep L1 reorg', () => {
  it('an L1 reorg below the finalized block rolls the safe and finalized L2 heads back, and re-derivation matches', async () => {
    world = new RollupWorld();
    const w = world;
    const l1cfg = w.l1.chain.config;
    // A rival miner on the same genesis, partitioned from the start.
    const t = tempDir('strata-rival-');
    const store = new ChainStore(openDatabase({ path: t.dir }));
    cleanups.push(async () => {
      await store.close();
      t.cleanup();
    });
    const rival = Chain.open(l1cfg, new ModuleRegistry([bankModule, ...optimisticParentModules(w.rollup)]), store);
    expect(toHex(rival.genesisHash)).toBe(toHex(w.l1.chain.genesisHash));

    // Deposit, an L2 block, its batch, then enough L1 blocks for the batch to be final.
    await w.client.send(alice, rollupModuleNames(w.rollup.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 4_000_000n }), 5_000);
    w.mine();
    await w.sequence();
    await w.batch();
    for (let i = 0; i <= l1cfg.confirmations; i++) w.mine();
    await w.syncAll();
    expect(w.verNode.heads()).toMatchObject({ safe: 1, finalized: 1 });
    expect(w.verNode.chain.account(alice.address).balance).toBe(4_000_000n);
    const finalizedL1 = w.l1.chain.finalized.meta.height;
    expect(finalizedL1).toBeGreaterThan(2); // the deposit (1) and the batch (2) are below it

    // The rival branch (no deposit, no batch) outgrows it: the L1 reorganises below finalized.
    const rivalBlocks: Block[] = [];
    for (let i = 0; i < w.l1.chain.head.meta.height + 2; i++) rivalBlocks.push(mineOn(rival, [], undefined, keys[2]!.address));
    let orphaned: Uint8Array[] = [];
    for (const b of rivalBlocks) {
      const r = w.l1.chain.importBlock(b);
      if (r.reorg) {
        expect(r.reorg.forkHeight).toBe(0);
        expect(r.reorg.depth).toBeGreaterThan(l1cfg.confirmations);
        orphaned = r.reorg.orphaned.map((v) => v.bytes);
      }
    }
    expect(toHex(w.l1.chain.head.hash)).toBe(toHex(rival.head.hash));
    w.client.resetNonces();
    await w.syncAll();
    expect(w.verNode.heads()).toMatchObject({ safe: 0, finalized: 0 });
    expect(w.verNode.chain.head.number).toBe(0);
    expect(w.verNode.chain.account(alice.address).balance).toBe(0n);

    // The orphaned deposit and batch are mined again (as a mempool would): derivation follows.
    expect(orphaned).toHaveLength(2);
    for (const raw of orphaned) w.l1.submitTx(raw);
    w.mine();
    for (let i = 0; i <= l1cfg.confirmations; i++) w.mine();
    await w.syncAll();
    for (let i = 0; i < 4 && w.verNode.safeHead < 1; i++) await w.batch();
    expect(w.verNode.safeHead).toBe(1);
    expect(w.verNode.chain.account(alice.address).balance).toBe(4_000_000n);
    expect(toHex(w.verNode.chain.head.stateRoot)).toBe(toHex(w.seqNode.chain.head.stateRoot));
  });
});
