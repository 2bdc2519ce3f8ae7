/**
 * Finality is a depth, not a checkpoint: on the SHIPPED default config (6 confirmations) a
 * heavier branch that forks far below the finalized block still wins, so a partition longer
 * than the confirmation depth heals. The optional reorg brake (`maxReorgDepth`, off by default)
 * holds such a branch back with an alarm (log, metric, RPC) until an operator releases it.
 */
import { Chain, ChainStore, type Block } from '@strata/chain';
import { StrataNode, startRpc } from '@strata/node';
import { initHashing, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { bankModule, defaultChainConfig, ModuleRegistry, parseChainConfig } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { keys, mineOn, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The shipped defaults: only the genesis allocation differs (no confirmations override).
const config = parseChainConfig(
  { blockReward: '0', genesis: { timestamp: 1_700_000_000_000, alloc: keys.map((k) => ({ address: toHex(k.address), balance: '1000000000000' })) } },
  defaultChainConfig(),
);

function open(deps: { maxReorgDepth?: number } = {}): Chain {
  const t = tempDir('strata-deep-');
  const store = new ChainStore(openDatabase({ path: t.dir }));
  cleanups.push(async () => {
    await store.close();
    t.cleanup();
  });
  return Chain.open(config, new ModuleRegistry([bankModule]), store, deps);
}

/** Two chains sharing `common` blocks, then `a` more on one and `b` more on the other. */
function forked(common: number, a: number, b: number, deps: { maxReorgDepth?: number } = {}) {
  const left = open(deps);
  const right = open();
  for (let i = 0; i < common; i++) {
    const blk = mineOn(left, []);
    right.importBlock(blk);
  }
  // Different producers and a transaction on the left make the branches differ.
  mineOn(left, [transferTx(config, keys[0]!, keys[1]!.address, 5n, 0)], undefined, keys[2]!.address);
  for (let i = 1; i < a; i++) mineOn(left, []);
  const rightBlocks: Block[] = [];
  for (let i = 0; i < b; i++) rightBlocks.push(mineOn(right, [], undefined, keys[1]!.address));
  return { left, right, rightBlocks };
}

describe('deep reorgs on the shipped config', () => {
  it('the default config has 6 confirmations and no reorg limit', () => {
    expect(defaultChainConfig().confirmations).toBe(6);
  });

  it('a heavier branch forking 20 blocks below the head (far below finalized) wins by work', () => {
    const { left, right, rightBlocks } = forked(3, 20, 22);
    const finalizedBefore = left.finalized.meta.height;
    expect(finalizedBefore).toBe(3 + 20 - config.confirmations);
    const statuses = rightBlocks.map((b) => left.importBlock(b));
    // Side blocks until the branch is heavier (height 24 > 23), then the reorg, then extension.
    expect(statuses.map((r) => r.status)).toEqual([...Array(20).fill('side'), 'reorg', 'head']);
    const last = statuses[20];
    expect(last?.reorg?.depth).toBe(20);
    expect(last?.reorg?.forkHeight).toBe(3);
    expect(toHex(left.head.hash)).toBe(toHex(right.head.hash));
    expect(toHex(left.head.header.stateRoot)).toBe(toHex(right.head.header.stateRoot));
    // The transaction of the reverted branch is orphaned (for the mempool), the finalized block moved.
    expect(last?.reorg?.orphaned).toHaveLength(1);
    expect(toHex(left.finalized.hash)).toBe(toHex(right.finalized.hash));
    expect(left.reorgAlarm).toBeUndefined();
  });

  it('the reorg brake, when set, holds the branch back with an alarm until released', () => {
    const { left, right, rightBlocks } = forked(3, 20, 22, { maxReorgDepth: 10 });
    const oldHead = left.head.hash;
    for (const b of rightBlocks) expect(left.importBlock(b).status).toBe('side');
    expect(toHex(left.head.hash)).toBe(toHex(oldHead));
    const a = left.reorgAlarm;
    expect(a).toMatchObject({ depth: 20, forkHeight: 3, maxReorgDepth: 10, branchHeight: 25 });
    expect(toHex(a!.branchHead)).toBe(toHex(right.head.hash));
    const res = left.releaseReorgBrake();
    expect(res.status).toBe('reorg');
    expect(toHex(left.head.hash)).toBe(toHex(right.head.hash));
    expect(left.reorgAlarm).toBeUndefined();
    expect(() => left.releaseReorgBrake()).toThrow(/not engaged/);
  });

  it('a node with the brake: metric, RPC alarm and admin_releaseReorgBrake', async () => {
    const { right, rightBlocks } = forked(2, 12, 14);
    const t = tempDir('strata-brake-');
    const node = await StrataNode.create(
      { dataDir: t.dir, config, mining: 'dev', blockTimeMs: 60_000, producer: keys[2]!.address, verifierThreads: 1, maxReorgDepth: 5 },
      { logger: pino({ level: 'silent' }) },
    );
    await node.start();
    const rpc = await startRpc(node, { host: '127.0.0.1', port: 0, adminToken: 'tok' });
    cleanups.push(async () => {
      await rpc.stop();
      await node.stop();
      t.cleanup();
    });
    for (let h = 1; h <= 2; h++) await node.importNetworkBlock({ header: right.blockAt(h)!.header, txs: [] }, 'peer');
    await node.mineBlocks(12);
    for (const b of rightBlocks) await node.importNetworkBlock(b, 'peer');
    expect(node.chain.head.meta.height).toBe(14);
    expect(toHex(node.chain.head.hash)).not.toBe(toHex(right.head.hash));
    const client = new RpcClient(rpc.url, { adminToken: 'tok' });
    const alarm = await client.call<{ depth: number; branchHead: string }>('chain_getReorgAlarm');
    expect(alarm).toMatchObject({ depth: 12, branchHead: toHex(right.head.hash) });
    expect(await node.metrics.registry.getSingleMetricAsString('strata_reorg_brake_engaged')).toMatch(/strata_reorg_brake_engaged 1/);
    const out = await client.call<{ status: string; depth: number }>('admin_releaseReorgBrake');
    expect(out).toMatchObject({ status: 'reorg', depth: 12 });
    expect(toHex(node.chain.head.hash)).toBe(toHex(right.head.hash));
    expect(await client.call('chain_getReorgAlarm')).toBeNull();
    expect(await node.metrics.registry.getSingleMetricAsString('strata_reorg_brake_engaged')).toMatch(/strata_reorg_brake_engaged 0/);
  });
});
