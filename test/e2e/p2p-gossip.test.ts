/**
 * Gossip over real TCP on 127.0.0.1: bootnode topology B - A - C (B and C only know A), relay
 * through A, and a message A's validator rejects must not reach C while B loses score at A.
 */
import { type GossipVerdict, P2PNode } from '@strata/p2p';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../helpers/wait.js';

const NET = 'gossiptest';
const TOPIC = 'blocks';
const nodes: P2PNode[] = [];

async function node(opts: Partial<Parameters<typeof P2PNode.create>[0]> = {}): Promise<P2PNode> {
  const n = await P2PNode.create({ networkId: NET, ...opts });
  nodes.push(n);
  await n.start();
  return n;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

describe('p2p gossip', () => {
  it('relays accepted messages two hops and stops rejected ones at the first hop', async () => {
    const a = await node();
    // no peer exchange: B and C only know A. With it, B learnt C's address from A and dialled it
    // within the test (a race the test lost now and then: C then got bad-block from B directly)
    const b = await node({ bootnodes: a.multiaddrs, peerExchange: false });
    const c = await node({ bootnodes: a.multiaddrs, peerExchange: false });
    const got: Record<string, { data: string; from: string }[]> = { a: [], b: [], c: [] };
    // A rejects anything starting with "bad"; B and C accept everything, so only A stops it.
    a.subscribe(TOPIC, (d) => (str(d).startsWith('bad') ? 'reject' : 'accept'), (d, from) => got.a?.push({ data: str(d), from }));
    b.subscribe(TOPIC, () => 'accept', (d, from) => got.b?.push({ data: str(d), from }));
    c.subscribe(TOPIC, () => 'accept', (d, from) => got.c?.push({ data: str(d), from }));

    await a.waitForPeers(2);
    expect(b.peers().map((p) => p.id)).toEqual([a.peerId]);
    expect(c.peers().map((p) => p.id)).toEqual([a.peerId]);
    expect(a.peers().find((p) => p.id === b.peerId)?.direction).toBe('inbound');
    expect(b.peers()[0]?.direction).toBe('outbound');
    await waitFor(() => b.topicPeers(TOPIC).includes(a.peerId), 'B to see A on the topic');
    await waitFor(() => a.meshPeers(TOPIC).includes(c.peerId), 'C in A mesh');

    await b.publish(TOPIC, text('block-1'));
    await waitFor(() => got.c?.length === 1 && got.a?.length === 1, 'block-1 at A and C');
    expect(got.a?.[0]).toEqual({ data: 'block-1', from: b.peerId });
    expect(got.c?.[0]).toEqual({ data: 'block-1', from: a.peerId }); // relayed by A
    expect(got.b).toEqual([]); // no echo to the publisher

    await b.publish(TOPIC, text('bad-block'));
    await b.publish(TOPIC, text('block-2'));
    await waitFor(() => got.c?.length === 2, 'block-2 at C');
    await sleep(300);
    expect(got.a?.map((m) => m.data)).toEqual(['block-1', 'block-2']);
    expect(got.c?.map((m) => m.data)).toEqual(['block-1', 'block-2']);
    expect(a.scoreOf(b.peerId)).toBeCloseTo(-10, 1);
    expect(a.peers().find((p) => p.id === b.peerId)?.score).toBeCloseTo(-10, 1);
    expect(a.scoreOf(c.peerId)).toBe(0);
  });

  it('treats a throwing validator as reject and survives throwing handlers', async () => {
    const a = await node();
    const b = await node({ bootnodes: a.multiaddrs });
    const delivered: string[] = [];
    a.subscribe(
      TOPIC,
      async (d): Promise<GossipVerdict> => {
        if (str(d) === 'boom') throw new Error('validator bug');
        return 'accept';
      },
      (d) => {
        delivered.push(str(d));
        throw new Error('handler bug');
      },
    );
    b.subscribe(TOPIC, () => 'accept', () => {});
    await waitFor(() => b.topicPeers(TOPIC).includes(a.peerId), 'B to see A on the topic');
    await b.publish(TOPIC, text('boom'));
    await b.publish(TOPIC, text('fine'));
    await waitFor(() => delivered.length === 1, 'fine at A');
    await b.publish(TOPIC, text('fine-2'));
    await waitFor(() => delivered.length === 2, 'fine-2 at A');
    expect(delivered).toEqual(['fine', 'fine-2']);
    expect(a.scoreOf(b.peerId)).toBeCloseTo(-10, 1);
  });

  it('publishes without peers and refuses oversized messages locally', async () => {
    const a = await node({ maxGossipBytes: 1024 });
    await expect(a.publish(TOPIC, new Uint8Array(10))).resolves.toBeUndefined();
    await expect(a.publish(TOPIC, new Uint8Array(1025))).rejects.toMatchObject({ code: 'DECODE_OVERSIZED' });
  });

  it('keeps networks apart: a different networkId does not receive the gossip', async () => {
    const a = await node();
    const other = await P2PNode.create({ networkId: 'othernet', bootnodes: a.multiaddrs });
    nodes.push(other);
    await other.start();
    const seen: string[] = [];
    other.subscribe(TOPIC, () => 'accept', (d) => seen.push(str(d)));
    a.subscribe(TOPIC, () => 'accept', () => {});
    await a.waitForPeers(1);
    await sleep(300);
    await a.publish(TOPIC, text('x'));
    await sleep(300);
    expect(seen).toEqual([]);
    expect(a.topicPeers(TOPIC)).toEqual([]);
  });
});
