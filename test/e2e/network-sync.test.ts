/**
 * L1 network over real TCP on 127.0.0.1, one OS process per node: three mining nodes converge on
 * one head; a fourth started later syncs the whole chain (headers first, then bodies) and then
 * follows the chain through gossip.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/chain.js';
import { type NodeProcess, peerIds, startNodeProcess, waitUntil, writeNetConfig } from '../helpers/node-process.js';

const procs: NodeProcess[] = [];
const dirs: (() => void)[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  for (const d of dirs) d();
});

async function sameHead(nodes: NodeProcess[]): Promise<boolean> {
  const heads = await Promise.all(nodes.map((n) => n.head()));
  return heads.every((h) => h.hash === heads[0]?.hash);
}

describe('L1 network: mining, convergence, late sync', () => {
  it('3 mining processes converge on one head; a 4th started later syncs the chain and follows it', async () => {
    const t = tempDir('strata-net-');
    dirs.push(t.cleanup);
    const config = writeNetConfig(t.dir);
    const a = await startNodeProcess({ name: 'a', dataDir: `${t.dir}/a`, config, mine: true });
    procs.push(a);
    const boot = a.endpoints.multiaddrs;
    const [b, c] = await Promise.all([
      startNodeProcess({ name: 'b', dataDir: `${t.dir}/b`, config, mine: true, bootnodes: boot }),
      startNodeProcess({ name: 'c', dataDir: `${t.dir}/c`, config, mine: true, bootnodes: boot }),
    ]);
    procs.push(b, c);
    // net_info: own peer id and listen addresses.
    const info = await b.rpc.call<{ peerId: string; multiaddrs: string[] }>('net_info');
    expect(info.peerId).toBe(b.endpoints.peerId);
    expect(info.multiaddrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    await waitUntil(async () => (await peerIds(a)).length >= 2, 'a to see b and c');
    // All three mine for a while (they fork and reorganise onto the heaviest chain) …
    await waitUntil(async () => (await Promise.all([a, b, c].map((n) => n.height()))).every((h) => h >= 12), 'every node at height 12', 60_000);
    // … then stop mining and must agree on one head.
    await Promise.all([a, b, c].map((n) => n.rpc.call('admin_setMining', ['off'])));
    await new Promise((r) => setTimeout(r, 1000)); // let a block sealed at the switch arrive
    await waitUntil(() => sameHead([a, b, c]), 'a, b and c on the same head', 20_000);
    const heads = await Promise.all([a, b, c].map((n) => n.head()));
    expect(new Set(heads.map((h) => h.hash)).size).toBe(1);
    expect(new Set(heads.map((h) => h.stateRoot)).size).toBe(1);
    const head = heads[0]!;
    // Blocks were produced by more than one node (the network really is several miners).
    const producers = new Set<string>();
    for (let h = 1; h <= Number(BigInt(head.number)); h++) {
      const blk = await a.rpc.call<{ producer: string }>('chain_getBlockByNumber', [`0x${h.toString(16)}`]);
      producers.add(blk.producer);
    }
    expect(producers.size).toBeGreaterThan(1);

    // A fourth node, started late, syncs from scratch.
    const d = await startNodeProcess({ name: 'd', dataDir: `${t.dir}/d`, config, bootnodes: boot });
    procs.push(d);
    await waitUntil(async () => (await d.head()).hash === head.hash, 'd to sync to the head', 30_000);
    const sync = await d.rpc.call<{ lastSync: { blocks: number } | null; syncs: number }>('net_syncStatus');
    expect(sync.syncs).toBeGreaterThan(0);
    // Then it follows: the others mine on, d tracks them through gossip.
    await Promise.all([a, b].map((n) => n.rpc.call('admin_setMining', ['pow'])));
    const h0 = Number(BigInt(head.number));
    await waitUntil(async () => (await d.height()) >= h0 + 5, 'd to follow the chain', 60_000);
    await Promise.all([a, b].map((n) => n.rpc.call('admin_setMining', ['off'])));
    await new Promise((r) => setTimeout(r, 1000));
    await waitUntil(() => sameHead([a, b, c, d]), 'all four on the same head', 20_000);
    const final = await Promise.all([a, b, c, d].map((n) => n.head()));
    expect(new Set(final.map((h) => h.stateRoot)).size).toBe(1);
    expect(Number(BigInt(final[0]!.number))).toBeGreaterThanOrEqual(h0 + 5);
    // Peer gauge.
    const metrics = await (await fetch(d.endpoints.rpc.replace(/:\d+$/, `:${new URL((d.endpoints as unknown as { metrics: string }).metrics).port}`) + '/metrics')).text();
    expect(metrics).toMatch(/strata_peers [1-9]/);
  }, 150_000);
});
