/**
 * Misbehaving peers over real TCP on 127.0.0.1: garbage on a raw request stream, a flood of
 * oversized gossip and an oversized gossipsub frame get the sender penalised, disconnected and
 * banned (reconnections refused), while the honest nodes keep gossiping with each other.
 */
// @strata/p2p first: it installs the Promise.withResolvers polyfill the raw libp2p client needs.
import { P2PNode, type P2POptions, protocolId } from '@strata/p2p';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../helpers/wait.js';

const NET = 'abusetest';
const TOPIC = 'txs';
const LIMITS = { maxRequestBytes: 1000, maxResponseBytes: 1000, timeoutMs: 1000 };
const stoppers: (() => Promise<void>)[] = [];

async function node(opts: Partial<P2POptions> = {}): Promise<P2PNode> {
  const n = await P2PNode.create({ networkId: NET, ...opts });
  stoppers.push(() => n.stop());
  await n.start();
  return n;
}

const random = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
};

afterEach(async () => {
  await Promise.all(stoppers.splice(0).map((s) => s()));
});

/** Both honest nodes still exchange gossip in both directions. */
async function assertHonestGossip(a: P2PNode, b: P2PNode, gotA: string[], gotB: string[], tag: string): Promise<void> {
  await a.publish(TOPIC, new TextEncoder().encode(`${tag}-from-a`));
  await b.publish(TOPIC, new TextEncoder().encode(`${tag}-from-b`));
  await waitFor(() => gotB.includes(`${tag}-from-a`) && gotA.includes(`${tag}-from-b`), `honest gossip ${tag}`);
}

async function honestPair(): Promise<{ a: P2PNode; b: P2PNode; gotA: string[]; gotB: string[] }> {
  const a = await node({ maxGossipBytes: 16 * 1024 });
  const b = await node({ maxGossipBytes: 16 * 1024, bootnodes: a.multiaddrs });
  const gotA: string[] = [];
  const gotB: string[] = [];
  a.subscribe(TOPIC, () => 'accept', (d) => gotA.push(new TextDecoder().decode(d)));
  b.subscribe(TOPIC, () => 'accept', (d) => gotB.push(new TextDecoder().decode(d)));
  a.handle('echo/1', async (req) => req, LIMITS);
  await waitFor(() => a.topicPeers(TOPIC).includes(b.peerId) && b.topicPeers(TOPIC).includes(a.peerId), 'honest topic peers');
  await assertHonestGossip(a, b, gotA, gotB, 'before');
  return { a, b, gotA, gotB };
}

describe('p2p abuse', () => {
  it('bans a peer that writes garbage on raw request streams and refuses its reconnection', async () => {
    const { a, b, gotA, gotB } = await honestPair();
    const raw = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
    stoppers.push(async () => {
      await raw.stop();
    });
    const rawId = raw.peerId.toString();
    const target = multiaddr(a.multiaddrs[0] as string);
    const garbage = [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // over-long varint
      Uint8Array.of(0x80, 0x00), // non-canonical varint
      Uint8Array.of(0x05, 1, 2), // truncated frame, then close
      Uint8Array.of(0x02, 1, 2, 3, 4), // trailing bytes
      Uint8Array.of(0xe8, 0x87, 0x01), // 17 384 bytes announced, limit 1000
    ];
    const scores: number[] = [];
    for (const g of garbage) {
      if (a.isBanned(rawId)) break;
      try {
        const s = await raw.dialProtocol(target, protocolId(NET, 'echo/1'));
        s.send(g);
        await s.close();
        await new Promise<void>((r) => s.addEventListener('close', () => r(), { once: true }));
      } catch {
        // the server may reset the stream or refuse the connection: that is the point
      }
      await waitFor(() => a.scoreOf(rawId) < (scores.at(-1) ?? 0), 'a penalty');
      scores.push(a.scoreOf(rawId));
    }
    expect(scores.length).toBeGreaterThanOrEqual(4);
    expect(a.isBanned(rawId)).toBe(true);
    await waitFor(() => !a.peers().some((p) => p.id === rawId), 'the garbage peer to be disconnected');
    await waitFor(() => raw.getConnections().length === 0, 'the garbage peer to see the disconnection');
    // Reconnection is refused while banned. The dialler may see its side of the handshake
    // complete (noise XX authenticates the initiator last), but A's gater closes it at once.
    await raw.dial(target, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    await waitFor(() => raw.getConnections().length === 0, 'the refused connection to close', 3000);
    expect(a.peers().some((p) => p.id === rawId)).toBe(false);
    // The honest pair is unaffected.
    expect(a.isBanned(b.peerId)).toBe(false);
    await assertHonestGossip(a, b, gotA, gotB, 'after');
    expect(await b.request(a.peerId, 'echo/1', Uint8Array.of(42), LIMITS)).toEqual(Uint8Array.of(42));
  });

  it('bans a peer flooding oversized gossip; honest nodes keep gossiping', async () => {
    const { a, b, gotA, gotB } = await honestPair();
    // The flooder allows itself 1 MiB messages; the honest nodes allow 16 KiB.
    const m = await node({ maxGossipBytes: 1024 * 1024, bootnodes: a.multiaddrs });
    m.subscribe(TOPIC, () => 'accept', () => {});
    await waitFor(() => m.topicPeers(TOPIC).includes(a.peerId), 'flooder to see A on the topic');
    let sent = 0;
    while (!a.isBanned(m.peerId) && sent < 20) {
      await m.publish(TOPIC, random(64 * 1024)).catch(() => undefined);
      sent++;
      await sleep(30);
    }
    expect(a.isBanned(m.peerId)).toBe(true);
    expect(sent).toBeGreaterThanOrEqual(4); // 25 points each, ban at -100
    await waitFor(() => !m.peers().some((p) => p.id === a.peerId), 'flooder to be disconnected');
    // None of the oversized messages was delivered to the application.
    expect(gotA.every((s) => s.length < 100)).toBe(true);
    // A refuses the flooder's reconnection, explicit or through its bootnode re-dial (1 s backoff).
    await m.dial(a.multiaddrs[0] as string).catch(() => undefined);
    const seen = new Set<string>();
    a.on('peer:connect', (id) => seen.add(id));
    for (let i = 0; i < 12; i++) {
      expect(a.peers().some((p) => p.id === m.peerId)).toBe(false);
      await sleep(100);
    }
    expect(seen.has(m.peerId)).toBe(false);
    await assertHonestGossip(a, b, gotA, gotB, 'after');
  });

  it('penalises a gossipsub frame beyond the stream limit', async () => {
    const { a, b, gotA, gotB } = await honestPair();
    const m = await node({ maxGossipBytes: 1024 * 1024, bootnodes: a.multiaddrs });
    m.subscribe(TOPIC, () => 'accept', () => {});
    await waitFor(() => m.topicPeers(TOPIC).includes(a.peerId), 'sender to see A on the topic');
    // 600 KiB > 16 KiB + 512 KiB frame slack: gossipsub drops the stream, our hook scores it.
    await m.publish(TOPIC, random(600 * 1024));
    await waitFor(() => a.scoreOf(m.peerId) <= -49, 'frame penalty');
    // Not banned yet (-50), but disconnected so that gossip restarts cleanly on reconnection.
    expect(a.isBanned(m.peerId)).toBe(false);
    await waitFor(() => !a.peers().some((p) => p.id === m.peerId), 'the sender to be disconnected');
    await assertHonestGossip(a, b, gotA, gotB, 'after');
  });
});
