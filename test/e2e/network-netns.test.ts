/**
 * Two "hosts" on one machine: two Linux network namespaces joined by a veth pair
 * (10.213.x.1 <-> 10.213.x.2). A mining node listens on its namespace's address and announces it;
 * a second node in the other namespace dials it as its bootnode, syncs and follows its chain —
 * the same flags as docs/network.md gives for two machines. Skipped (not failed) where network
 * namespaces are unavailable (not root, no `ip`, no CAP_NET_ADMIN). Traffic stays inside the
 * namespaces created here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/chain.js';
import { type NodeProcess, startNodeProcess, waitUntil, writeNetConfig } from '../helpers/node-process.js';

const tag = `${process.pid % 10_000}`;
const NS_A = `strata-a-${tag}`;
const NS_B = `strata-b-${tag}`;
const SUBNET = `10.213.${process.pid % 250}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

function namespacesAvailable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = `strata-probe-${tag}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

const available = namespacesAvailable();
const procs: NodeProcess[] = [];
const dirs: (() => void)[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  for (const ns of [NS_A, NS_B]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not created
    }
  }
  for (const d of dirs) d();
});

/** Calls the node's RPC from inside its namespace (its RPC listens on that namespace's loopback). */
function nsCall(ns: string, url: string, method: string, params: unknown[] = []): unknown {
  const script = `fetch(${JSON.stringify(url)},{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({jsonrpc:'2.0',id:1,method:${JSON.stringify(method)},params:${JSON.stringify(params)}})}).then(r=>r.json()).then(j=>process.stdout.write(JSON.stringify(j.result)))`;
  return JSON.parse(execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8' }));
}

describe.skipIf(!available)('L1 network across two network namespaces (two hosts)', () => {
  it('a node in one namespace bootstraps from, syncs and follows a miner in another', async () => {
    ip('netns', 'add', NS_A);
    ip('netns', 'add', NS_B);
    ip('link', 'add', `va${tag}`, 'type', 'veth', 'peer', 'name', `vb${tag}`);
    ip('link', 'set', `va${tag}`, 'netns', NS_A);
    ip('link', 'set', `vb${tag}`, 'netns', NS_B);
    ip('-n', NS_A, 'addr', 'add', `${SUBNET}.1/24`, 'dev', `va${tag}`);
    ip('-n', NS_B, 'addr', 'add', `${SUBNET}.2/24`, 'dev', `vb${tag}`);
    for (const [ns, dev] of [[NS_A, `va${tag}`], [NS_B, `vb${tag}`]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    const t = tempDir('strata-netns-');
    dirs.push(t.cleanup);
    const config = writeNetConfig(t.dir);
    const addrA = `/ip4/${SUBNET}.1/tcp/30333`;
    const a = await startNodeProcess({ name: 'a', dataDir: `${t.dir}/a`, config, mine: true, wrap: ['ip', 'netns', 'exec', NS_A], listen: addrA, args: ['--announce', addrA] });
    procs.push(a);
    expect(a.endpoints.multiaddrs).toEqual([`${addrA}/p2p/${a.endpoints.peerId}`]);
    const b = await startNodeProcess({
      name: 'b',
      dataDir: `${t.dir}/b`,
      config,
      wrap: ['ip', 'netns', 'exec', NS_B],
      listen: `/ip4/${SUBNET}.2/tcp/30333`,
      bootnodes: a.endpoints.multiaddrs,
    });
    procs.push(b);
    const height = (ns: string, n: NodeProcess) => Number(BigInt((nsCall(ns, n.endpoints.rpc, 'chain_getHead') as { number: string }).number));
    await waitUntil(() => height(NS_B, b) >= 5, 'b (namespace B) to sync a’s chain', 40_000, 500);
    const peers = nsCall(NS_B, b.endpoints.rpc, 'net_peers') as { id: string; addrs: string[] }[];
    expect(peers.map((p) => p.id)).toContain(a.endpoints.peerId);
    expect(peers.find((p) => p.id === a.endpoints.peerId)?.addrs[0]).toContain(`/ip4/${SUBNET}.1/tcp/30333`);
    const logA = readFileSync(`${t.dir}/a/a.log`, 'utf8');
    expect(logA).toContain(`/ip4/${SUBNET}.2/`);
    // Following: b keeps up with a's new blocks.
    const h = height(NS_B, b);
    await waitUntil(() => height(NS_B, b) >= h + 3, 'b to follow a', 40_000, 500);
  }, 120_000);
});
