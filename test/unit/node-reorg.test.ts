import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Block } from '@strata/chain';
import { StrataNode } from '@strata/node';
import { initHashing, toHex } from '@strata/primitives';
import { devConfig, keys, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function devNode(producer: number) {
  const t = tempDir();
  const cfg = devConfig();
  const node = await StrataNode.create({ dataDir: t.dir, config: cfg, mining: 'dev', blockTimeMs: 60_000, producer: keys[producer]!.address, verifierThreads: 1 }, { logger: pino({ level: 'silent' }) });
  await node.start();
  stops.push(async () => {
    await node.stop();
    t.cleanup();
  });
  return { node, cfg };
}

function blockOf(node: StrataNode, height: number): Block {
  const ref = node.chain.blockAt(height)!;
  return { header: ref.header, txs: node.chain.store.getBody(ref.hash)! };
}

describe('node reorg', () => {
  it('a heavier branch from a peer replaces the head; the orphaned transaction returns to the mempool and is mined again', async () => {
    const a = await devNode(2);
    const b = await devNode(3);
    // A mines a block with Alice → Bob.
    const tx = transferTx(a.cfg, keys[0]!, keys[1]!.address, 999n, 0);
    a.node.submitTx(tx.bytes, { gossip: false });
    await a.node.sealDevBlock();
    expect(a.node.chain.lookupTx(tx.hash)).toBeDefined();
    // B mines two empty blocks: heavier.
    await b.node.mineBlocks(2);
    const res1 = await a.node.importNetworkBlock(blockOf(b.node, 1), 'peer-b');
    expect(res1.status).toBe('side');
    const res2 = await a.node.importNetworkBlock(blockOf(b.node, 2), 'peer-b');
    expect(res2.status).toBe('reorg');
    expect(toHex(a.node.chain.head.hash)).toBe(toHex(b.node.chain.head.hash));
    expect(a.node.chain.account(keys[1]!.address)).toEqual(b.node.chain.account(keys[1]!.address));
    expect(a.node.chain.lookupTx(tx.hash)).toBeUndefined();
    expect(a.node.mempool.has(tx.hash)).toBe(true);
    // …and the next block includes it again.
    await a.node.sealDevBlock();
    expect(a.node.chain.lookupTx(tx.hash)?.height).toBe(3);
    expect(a.node.mempool.has(tx.hash)).toBe(false);
  });
});
