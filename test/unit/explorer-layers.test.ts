/**
 * The explorer's watcher over layers other than the L1: the L3 is an optimistic rollup whose
 * settlement modules (`op_inbox/902`, `op_disputes/902`…) live in the L2's blocks, so its
 * batches, roots and disputes must be read from the L2 and shown as the L3's; a ZK-rollup's
 * batches are followed through their proof status. Fake chains over real HTTP JSON-RPC.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventFeed, type ExplorerLayer, LayerWatcher } from '@strata/explorer';
import { afterEach, describe, expect, it } from 'vitest';

type Handler = (params: unknown[]) => unknown;
const servers: Server[] = [];
async function fakeChain(methods: Record<string, Handler>): Promise<string> {
  const s = createServer((r, res) => {
    let b = '';
    r.on('data', (c) => (b += c));
    r.on('end', () => {
      const body = JSON.parse(b) as { id: number; method: string; params?: unknown[] } | { id: number; method: string; params?: unknown[] }[];
      const one = (c: { id: number; method: string; params?: unknown[] }) => {
        const h = methods[c.method];
        return h ? { jsonrpc: '2.0', id: c.id, result: h(c.params ?? []) } : { jsonrpc: '2.0', id: c.id, error: { code: -32601, message: `no ${c.method}` } };
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Array.isArray(body) ? body.map(one) : one(body)));
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const until = async (f: () => boolean, ms = 5000) => {
  const t = Date.now();
  while (!f()) {
    if (Date.now() - t > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('explorer watcher: L3 and ZK layers', () => {
  it("shows the L3's batches, roots and dispute moves posted in the L2's blocks as the L3's events", async () => {
    const l2Block = (n: number) => ({
      number: `0x${n.toString(16)}`,
      hash: `0x${n.toString(16).padStart(64, '0')}`,
      parentHash: `0x${(n - 1).toString(16).padStart(64, '0')}`,
      transactions:
        n === 2
          ? [
              {
                hash: `0x${'ab'.repeat(32)}`,
                status: 'ok',
                events: [
                  { module: 'op_inbox/902', type: 'batch', data: { index: 4, firstBlock: 10, blocks: 2, ops: 3, bytes: 120 } },
                  { module: 'op_disputes/902', type: 'outputProposed', data: { index: 1, l2Block: 11, stateRoot: `0x${'cd'.repeat(32)}` } },
                  { module: 'op_disputes/902', type: 'gameOpened', data: { gameId: 0, outputIndex: 1, lo: 0, hi: 3 } },
                ],
              },
            ]
          : [],
    });
    const l2 = await fakeChain({
      chain_getConfig: () => ({ addressPrefix: 'sl', chainId: '0x385' }),
      chain_getHead: () => ({ number: '0x3' }),
      chain_getBlockByNumber: (p) => l2Block(Number(p[0])),
      rollup_listWithdrawals: () => [],
    });
    const l3 = await fakeChain({
      chain_getConfig: () => ({ addressPrefix: 'sx', chainId: '0x386' }),
      chain_getHead: () => ({ number: '0x0' }),
      chain_getBlockByNumber: () => null,
      rollup_listWithdrawals: () => [],
    });
    const layers: ExplorerLayer[] = [
      { name: 'l2', kind: 'optimistic', parent: 'l1', rpc: l2, ws: l2.replace('http', 'ws') },
      { name: 'l3', kind: 'l3', parent: 'l2', rpc: l3, ws: l3.replace('http', 'ws') },
    ];
    const feed = new EventFeed();
    const w = new LayerWatcher(layers, feed, { intervalMs: 50 });
    w.start();
    try {
      await until(() => feed.recent().some((e) => e.kind === 'game.opened'));
    } finally {
      w.stop();
    }
    const ev = feed.recent().filter((e) => e.kind === 'batch' || e.kind === 'output' || e.kind === 'game.opened');
    expect(ev.map((e) => [e.layer, e.chain, e.kind, e.block])).toEqual([
      ['l3', 'l2', 'batch', 2],
      ['l3', 'l2', 'output', 2],
      ['l3', 'l2', 'game.opened', 2],
    ]);
    expect(ev[0]?.text).toBe('batch 4 posted to l2: L2 blocks #10–#11, 3 ops, 120 B');
    // The L3 itself is followed as a rollup (its head, its withdrawals), up.
    expect(w.status().find((s) => s.name === 'l3')).toMatchObject({ up: true, head: 0, chainId: 902 });
  });

  it("follows a ZK-rollup's batches through pending → proving → proven → verified", async () => {
    let status = 'pending';
    const zk = await fakeChain({ zk_getBatches: () => [{ index: 0, status, operations: 2 }] });
    const feed = new EventFeed();
    const w = new LayerWatcher([{ name: 'zk', kind: 'zk', parent: 'l1', rpc: zk, ws: zk.replace('http', 'ws') }], feed, { intervalMs: 30 });
    w.start();
    try {
      for (const s of ['proving', 'proven', 'verified']) {
        await until(() => feed.recent().some((e) => e.kind === 'zk.batch' && e.text.endsWith(status)));
        status = s;
      }
      await until(() => feed.recent().some((e) => e.text === 'ZK batch 0: verified'));
    } finally {
      w.stop();
    }
    expect(feed.recent().filter((e) => e.kind === 'zk.batch').map((e) => e.text)).toEqual(['ZK batch 0: pending', 'ZK batch 0: proving', 'ZK batch 0: proven', 'ZK batch 0: verified']);
  });
});
