/**
 * Peer discovery over real libp2p sockets on 127.0.0.1: nodes that share only a bootnode learn
 * each other by peer exchange (`peers/1`), connect, and keep gossiping blocks when the bootnode
 * stops; a node restarted with its data dir and no bootnode at all rejoins through the peers it
 * remembered in `<dataDir>/peers.json`. A malformed peer-exchange answer costs score.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { P2PNetwork, StrataNode } from '@strata/node';
import { P2PNode, PEERS_FILE, PEERS_LIMITS, PROTO_PEERS } from '@strata/p2p';
import { initHashing } from '@strata/primitives';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, tempDir } from '../helpers/chain.js';
import { simNode, stopSimNodes } from '../helpers/sim-node.js';
import { waitUntil } from '../helpers/wait.js';

await initHashing();
const cleanups: (() => void)[] = [];
afterAll(async () => {
  await stopSimNodes();
  for (const c of cleanups) c();
});

const config = devConfig({ pow: { enabled: false } });
const fast = { discoveryIntervalMs: 200, statusIntervalMs: 300 };
const p2pOf = (n: StrataNode) => (n.network as P2PNetwork).p2p!;
const idOf = (n: StrataNode) => n.network!.info().peerId;
const connected = (a: StrataNode, b: StrataNode) => p2pOf(a).peers().some((p) => p.id === idOf(b));

describe('peer discovery', () => {
  it('nodes sharing only a bootnode connect to each other and survive the bootnode; a restart rejoins from peers.json', async () => {
    const boot = await simNode('disc-boot', config, { network: fast });
    const bootAddr = boot.network!.info().multiaddrs;
    const dirC = tempDir('strata-disc-c-');
    cleanups.push(dirC.cleanup);
    const t0 = Date.now();
    const c = await simNode('disc-c', config, { bootnodes: bootAddr, network: fast, dataDir: dirC.dir });
    const d = await simNode('disc-d', config, { bootnodes: bootAddr, network: fast });
    const e = await simNode('disc-e', config, { bootnodes: bootAddr, network: fast });
    // Nobody told c about d or e: only the bootnode's peer exchange can.
    await waitUntil(() => connected(c, d) && connected(c, e) && connected(d, e), 'c, d and e to find each other', 20_000, 25);
    const meshMs = Date.now() - t0;

    // The bootnode goes away; the others stay connected and keep agreeing on new blocks.
    await boot.stop();
    await waitUntil(() => !connected(c, boot), 'c to notice the bootnode is gone', 10_000, 25);
    for (let i = 0; i < 3; i++) await c.sealDevBlock();
    await waitUntil(() => d.chain.head.meta.height === 3 && e.chain.head.meta.height === 3, 'd and e to get c’s blocks without the bootnode', 10_000, 25);
    expect(connected(d, e)).toBe(true);

    // c restarts with its data dir and NO bootnode: it remembers d and e.
    await c.stop();
    expect(existsSync(`${dirC.dir}/${PEERS_FILE}`)).toBe(true);
    const remembered = JSON.parse(readFileSync(`${dirC.dir}/${PEERS_FILE}`, 'utf8')).peers.map((p: { id: string }) => p.id);
    expect(remembered).toEqual(expect.arrayContaining([idOf(d), idOf(e)]));
    const t1 = Date.now();
    const c2 = await simNode('disc-c2', config, { bootnodes: [], network: fast, dataDir: dirC.dir });
    await waitUntil(() => connected(c2, d) && connected(c2, e), 'the restarted c to reconnect from peers.json', 20_000, 25);
    const rejoinMs = Date.now() - t1;
    await d.sealDevBlock();
    await waitUntil(() => c2.chain.head.meta.height === 4 && e.chain.head.meta.height === 4, 'a block to reach everyone', 10_000, 25);
    console.log(`discovery: mesh of 3 via one bootnode in ${meshMs} ms; rejoin from peers.json in ${rejoinMs} ms`);
  });

  it('dials toward targetPeers and no further', async () => {
    const hub = await simNode('disc-hub', config, { network: fast });
    const hubAddr = hub.network!.info().multiaddrs;
    const others = [];
    for (let i = 0; i < 4; i++) others.push(await simNode(`disc-o${i}`, config, { bootnodes: hubAddr, network: { ...fast, targetPeers: 1 } }));
    // x knows only the hub, wants 3 peers: it learns the others from the hub and dials two of them.
    const x = await simNode('disc-x', config, { bootnodes: hubAddr, network: { ...fast, targetPeers: 3 } });
    await waitUntil(() => p2pOf(x).peers().length >= 3, 'x to reach its target of 3 peers', 15_000, 25);
    await new Promise((r) => setTimeout(r, 1500)); // several more discovery rounds
    expect(p2pOf(x).knownPeerCount).toBeGreaterThanOrEqual(5);
    expect(p2pOf(x).peers().filter((p) => p.direction === 'outbound').length).toBe(3);
  });

  it('a malformed peer-exchange answer costs the answering peer', async () => {
    const a = await simNode('disc-t', config, { network: { ...fast, targetPeers: 0 } });
    const liar = await P2PNode.create({ networkId: p2pOf(a).networkId, peerExchange: false });
    cleanups.push(() => void liar.stop());
    liar.handle(PROTO_PEERS, async () => Uint8Array.of(0xc1, 0x85, 1, 2), PEERS_LIMITS);
    await liar.start();
    await liar.dial(a.network!.info().multiaddrs[0]!);
    await waitUntil(() => p2pOf(a).peers().some((p) => p.id === liar.peerId), 'the liar to connect', 10_000, 25);
    await p2pOf(a).askPeers(liar.peerId);
    expect(p2pOf(a).scoreOf(liar.peerId)).toBeLessThan(0);
    await liar.stop();
  });
});
