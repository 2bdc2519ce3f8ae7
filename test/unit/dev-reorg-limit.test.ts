/**
 * Without proof of work (dev sealing, the single-node devnet L1) every block weighs the same, so
 * "heaviest" is only "longest" and a connected peer could rewrite any depth of history for free.
 * A node on such a chain therefore runs the reorg brake at the chain's `confirmations` by default:
 * a longer branch forking deeper is held back with the alarm (chain_getReorgAlarm, metric, log),
 * a shallower one is adopted as before. With proof of work nothing changes: no brake unless set.
 */
import { Chain, ChainStore, type Block } from '@strata/chain';
import { reorgBrake, StrataNode } from '@strata/node';
import { initHashing, toHex } from '@strata/primitives';
import { bankModule, ModuleRegistry } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, keys, mineOn, tempDir } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const config = devConfig();

function rival(): Chain {
  const t = tempDir('strata-rival-');
  const store = new ChainStore(openDatabase({ path: t.dir }));
  cleanups.push(async () => {
    await store.close();
    t.cleanup();
  });
  return Chain.open(config, new ModuleRegistry([bankModule]), store, { maxReorgDepth: 1_000_000 });
}

async function devNode(maxReorgDepth?: number): Promise<StrataNode> {
  const t = tempDir('strata-devbrake-');
  const node = await StrataNode.create(
    { dataDir: t.dir, config, mining: 'dev', blockTimeMs: 60_000, producer: keys[2]!.address, verifierThreads: 0, ...(maxReorgDepth !== undefined ? { maxReorgDepth } : {}) },
    { logger: pino({ level: 'silent' }) },
  );
  await node.start();
  cleanups.push(async () => {
    await node.stop();
    t.cleanup();
  });
  return node;
}

/** The peer's branch: `common` blocks shared with the node, then `extra` of its own. */
function peerBranch(common: number, extra: number): { chain: Chain; shared: Block[]; own: Block[] } {
  const chain = rival();
  const shared: Block[] = [];
  for (let i = 0; i < common; i++) shared.push(mineOn(chain, []));
  const own: Block[] = [];
  for (let i = 0; i < extra; i++) own.push(mineOn(chain, [], undefined, keys[1]!.address));
  return { chain, shared, own };
}

describe('dev mode (no proof of work): a reorg limit at `confirmations`', () => {
  it('the brake defaults to confirmations without proof of work, and stays off with it', () => {
    expect(config.pow.enabled).toBe(false);
    expect(reorgBrake({ config })).toEqual({ maxReorgDepth: config.confirmations });
    expect(reorgBrake({ config, maxReorgDepth: 50 })).toEqual({ maxReorgDepth: 50 });
    expect(reorgBrake({ config, maxReorgDepth: Number.POSITIVE_INFINITY })).toEqual({});
    const pow = devConfig({ pow: { enabled: true } });
    expect(reorgBrake({ config: pow })).toEqual({});
    // A chain final at once (a BFT sidechain's confirmations 0) brakes at depth 1, and a node
    // on it starts (a depth of 0 is refused as a setting).
    expect(reorgBrake({ config: devConfig({ confirmations: 0 }) })).toEqual({ maxReorgDepth: 1 });
  });

  it('a peer offering a longer branch that forks deeper than confirmations cannot rewrite the history', async () => {
    const node = await devNode();
    const peer = peerBranch(2, 14);
    for (const b of peer.shared) await node.importNetworkBlock(b, 'peer');
    await node.mineBlocks(12); // 12 blocks of our own on top of the shared 2
    const ours = node.chain.head.hash;
    for (const b of peer.own) await node.importNetworkBlock(b, 'peer');
    // Longer, so "heavier" in dev mode, but it would revert 12 > 6 blocks: held back.
    expect(toHex(node.chain.head.hash)).toBe(toHex(ours));
    expect(node.chain.reorgAlarm).toMatchObject({ depth: 12, forkHeight: 2, maxReorgDepth: config.confirmations, branchHeight: 16 });
    expect(await node.metrics.registry.getSingleMetricAsString('strata_reorg_brake_engaged')).toMatch(/strata_reorg_brake_engaged 1/);
  });

  it('a reorg within confirmations is adopted as before', async () => {
    const node = await devNode();
    const peer = peerBranch(2, 6);
    for (const b of peer.shared) await node.importNetworkBlock(b, 'peer');
    await node.mineBlocks(5);
    for (const b of peer.own) await node.importNetworkBlock(b, 'peer');
    expect(toHex(node.chain.head.hash)).toBe(toHex(peer.chain.head.hash));
    expect(node.chain.reorgAlarm).toBeUndefined();
  });

  it('an operator can lift the limit (Infinity): the longer branch then wins however deep', async () => {
    const node = await devNode(Number.POSITIVE_INFINITY);
    const peer = peerBranch(2, 14);
    for (const b of peer.shared) await node.importNetworkBlock(b, 'peer');
    await node.mineBlocks(12);
    for (const b of peer.own) await node.importNetworkBlock(b, 'peer');
    expect(toHex(node.chain.head.hash)).toBe(toHex(peer.chain.head.hash));
  });
});
