/**
 * In-process nodes for network simulations: a StrataNode with a P2PNetwork on 127.0.0.1 and a
 * fresh data dir, optionally holding a chain of empty blocks; `stopSimNodes` stops them all.
 */
import { type NetworkOptions, P2PNetwork, StrataNode } from '@strata/node';
import type { ChainConfig } from '@strata/runtime';
import pino from 'pino';
import { keys, tempDir } from './chain.js';

const logger = pino({ level: 'silent' });
const running: (() => Promise<void>)[] = [];

/** What the node starts with. */
export interface SimNodeOptions {
  /** Empty blocks it builds on top of what it holds (default 0). */
  blocks?: number;
  /** Index of the dev key whose address produces those blocks (different producers fork). */
  producer?: number;
  bootnodes?: string[];
  /** First imports another node's first `blocks` blocks: a shared history, then a fork. */
  prefix?: { from: StrataNode; blocks: number };
  /** More network settings (discovery, limits). */
  network?: NetworkOptions;
  /** Data dir to use (kept after stop) instead of a fresh temporary one. */
  dataDir?: string;
  /** The node's reorg brake (without proof of work it defaults to the chain's confirmations). */
  maxReorgDepth?: number;
}

/** Starts an in-process node with PoW off, mining off and no worker threads. */
export async function simNode(name: string, config: ChainConfig, o: SimNodeOptions = {}): Promise<StrataNode> {
  const t = o.dataDir !== undefined ? { dir: o.dataDir, cleanup: () => undefined } : tempDir(`strata-sim-${name}-`);
  const n = await StrataNode.create({ dataDir: t.dir, config, mining: 'off', verifierThreads: 0, ...(o.maxReorgDepth !== undefined ? { maxReorgDepth: o.maxReorgDepth } : {}) }, { logger });
  n.network = new P2PNetwork({ listen: ['/ip4/127.0.0.1/tcp/0'], bootnodes: o.bootnodes ?? [], statusIntervalMs: 300, ...(o.network ?? {}) });
  const src = o.prefix?.from.chain;
  for (let h = 1; src && h <= (o.prefix?.blocks ?? 0); h++) {
    const hash = (src.blockAt(h) as { hash: Uint8Array }).hash;
    n.chain.importBlock({ header: src.store.getHeader(hash)!, txs: src.store.getBody(hash) ?? [] });
  }
  for (let i = 0; i < (o.blocks ?? 0); i++) {
    const built = n.chain.buildBlock([], { producer: keys[o.producer ?? 0]!.address, timestamp: n.chain.head.header.timestamp + 1000 });
    n.chain.importBlock({ header: built.header, txs: [] }, { verified: [], execution: built.execution });
  }
  await n.start();
  running.push(async () => {
    await n.stop();
    t.cleanup();
  });
  return n;
}

/** Stops every node `simNode` started, last first. */
export async function stopSimNodes(): Promise<void> {
  for (const stop of running.splice(0).reverse()) await stop();
}
