/**
 * Fork choice by work across the network, in proof-of-work mode: a LONGER chain mined at easy
 * difficulty (its timestamps spread out, so retargeting eases it) loses to a SHORTER chain of
 * harder blocks. A fresh node syncs the shorter heavier chain, and a node on the longer lighter
 * chain reorganises onto it — heaviest work, not height, on the shipped confirmation depth.
 */
import { type Block, blockHash, meetsTarget, workOf } from '@strata/chain';
import type { P2PNetwork, StrataNode } from '@strata/node';
import { initHashing, toHex } from '@strata/primitives';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, keys } from '../helpers/chain.js';
import { waitUntil } from '../helpers/node-process.js';
import { simNode, stopSimNodes } from '../helpers/sim-node.js';

await initHashing();
afterAll(stopSimNodes);

const config = devConfig({
  targetBlockTimeMs: 1000,
  pow: { enabled: true, initialTarget: `0x${((1n << 256n) / 256n).toString(16).padStart(64, '0')}`, maxTarget: `0x${'f'.repeat(64)}`, retargetInterval: 4, maxAdjust: 4 },
});

/** Mines `n` blocks on the node's head, `gapMs` apart (real proof of work at the expected target). */
function mine(node: StrataNode, n: number, gapMs: number, producer: number): void {
  for (let i = 0; i < n; i++) {
    const built = node.chain.buildBlock([], { producer: keys[producer]!.address, timestamp: node.chain.head.header.timestamp + gapMs });
    const header = { ...built.header, nonce: new Uint8Array(8) };
    const view = new DataView(header.nonce.buffer);
    for (let nonce = 0; !meetsTarget(blockHash(header), header.target); nonce++) view.setUint32(4, nonce);
    const block: Block = { header, txs: [] };
    expect(node.chain.importBlock(block, { verified: [], execution: built.execution }).status).toBe('head');
  }
}

describe('PoW fork choice over the network', () => {
  it('a shorter, heavier chain beats a longer, lighter one: a fresh node syncs it, the light node reorganises onto it', async () => {
    expect(config.confirmations).toBe(6);
    const light = await simNode('pow-light', config);
    const heavy = await simNode('pow-heavy', config);
    mine(light, 24, 4000, 1); // slow blocks: each retarget eases the target 4×
    mine(heavy, 12, 1, 2); // fast blocks: each retarget hardens it 4×
    const [l, h] = [light.chain.head, heavy.chain.head];
    expect(l.meta.height).toBeGreaterThan(h.meta.height);
    expect(h.meta.totalWork).toBeGreaterThan(l.meta.totalWork);
    expect(workOf(h.header.target)).toBeGreaterThan(workOf(l.header.target));

    // The light peer is listed first: a node that followed height or the first answer would pick it.
    const fresh = await simNode('pow-fresh', config, { bootnodes: [...light.network!.info().multiaddrs, ...heavy.network!.info().multiaddrs] });
    await waitUntil(() => toHex(fresh.chain.head.hash) === toHex(h.hash), 'the fresh node to reach the heavy head', 20_000, 50);
    expect(fresh.chain.store.hasBlock(l.hash)).toBe(false);

    // The light node meets the heavy one: it reverts 24 blocks (far past its finalized block).
    await (light.network as P2PNetwork).p2p!.dial(heavy.network!.info().multiaddrs[0]!);
    await waitUntil(() => toHex(light.chain.head.hash) === toHex(h.hash), 'the light node to reorganise onto the heavier, shorter chain', 20_000, 50);
    expect(light.chain.head.meta.height).toBe(12);
    // …and the heavy node never switched to the longer chain.
    expect(toHex(heavy.chain.head.hash)).toBe(toHex(h.hash));
  }, 60_000);
});
