/**
 * `strata devnet --l1-nodes 3`: the devnet's node plus two `strata node` child processes, real
 * PoW miners on one shared chain config, connected over libp2p on loopback. The banner lists each
 * node's RPC endpoint and multiaddr; all of them mine and agree; Ctrl-C stops the children too.
 */
import { RpcClient } from '@strata/rpc';
import { describe, expect, it } from 'vitest';
import { startDevnetProcess } from '../helpers/devnet-process.js';
import { waitUntil } from '../helpers/node-process.js';

describe('strata devnet --l1-nodes', () => {
  it('runs 3 mining L1 nodes as separate processes that converge, and stops them all', async () => {
    const dev = await startDevnetProcess(['--l1-nodes', '3', '--quiet']);
    try {
      const l1 = dev.banner.layers.l1 as unknown as { rpc: string; nodes: { index: number; rpc: string; pid: number; peerId: string; multiaddrs: string[] }[] };
      expect(l1.nodes).toHaveLength(3);
      expect(l1.nodes[0]!.rpc).toBe(l1.rpc);
      for (const n of l1.nodes) expect(n.multiaddrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${n.peerId}$`));
      expect(new Set(l1.nodes.map((n) => n.pid)).size).toBe(3);
      const clients = l1.nodes.map((n) => new RpcClient(n.rpc, { adminToken: dev.banner.adminToken }));
      const info = await clients[1]!.call<{ peerId: string }>('net_info');
      expect(info.peerId).toBe(l1.nodes[1]!.peerId);
      await waitUntil(async () => (await clients[0]!.call<unknown[]>('net_peers')).length === 2, 'the devnet node to see both children');
      // Not a star: the children find each other through peer exchange with the devnet's node.
      await waitUntil(
        async () => (await clients[1]!.call<{ id: string }[]>('net_peers')).some((p) => p.id === l1.nodes[2]!.peerId),
        'the two children to connect to each other',
        30_000,
      );
      const heights = async () => Promise.all(clients.map(async (c) => Number(BigInt((await c.call<{ number: string }>('chain_getHead')).number))));
      await waitUntil(async () => (await heights()).every((h) => h >= 4), 'all three to mine past height 4', 60_000);
      // The canonical chain holds blocks from more than one miner (under load one miner can win
      // the first few blocks, so keep watching for a while).
      const producers = async () => {
        const set = new Set<string>();
        const top = (await heights())[0]!;
        for (let h = 1; h <= top; h++) set.add((await clients[0]!.call<{ producer: string }>('chain_getBlockByNumber', [`0x${h.toString(16)}`])).producer);
        return set.size;
      };
      await waitUntil(async () => (await producers()) > 1, 'blocks from more than one miner', 60_000, 500);
      // Stop two miners; the third keeps mining, so any tie between equal-work tips is broken
      // by its next block (as in Bitcoin, equal work keeps the first-seen tip).
      await Promise.all(clients.slice(1).map((c) => c.call('admin_setMining', ['off'])));
      const oneHead = async () => new Set(await Promise.all(clients.map(async (c) => (await c.call<{ hash: string }>('chain_getHead')).hash))).size === 1;
      await waitUntil(oneHead, 'one head', 60_000, 100);
      await clients[0]!.call('admin_setMining', ['off']);
    } finally {
      const code = await dev.stop('SIGINT');
      expect(code).toBe(0);
    }
    const pids = (dev.banner.layers.l1 as unknown as { nodes: { pid: number }[] }).nodes.slice(1).map((n) => n.pid);
    await waitUntil(() => pids.every((pid) => { try { process.kill(pid, 0); return false; } catch { return true; } }), 'child node processes to exit', 15_000);
  }, 120_000);
});
