/**
 * In-process nodes over libp2p on 127.0.0.1: a fresh node shown two chains by its two bootnodes
 * syncs from the one with the MOST total work (not the first to answer) and never downloads the
 * lighter one; the wire protocols answer range and hash requests as specified.
 */
import { type Block, blockHash, decodeBlock, decodeHeader } from '@strata/chain';
import {
  BlocksCodec,
  encodeRange,
  HashesCodec,
  HeadersCodec,
  type P2PNetwork,
  PROTO_BLOCKS_HASH,
  PROTO_BLOCKS_RANGE,
  PROTO_HEADERS,
  PROTOCOL_LIMITS,
  type StrataNode,
} from '@strata/node';
import { decode, encode, initHashing, toHex } from '@strata/primitives';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig } from '../helpers/chain.js';
import { simNode, stopSimNodes } from '../helpers/sim-node.js';
import { waitUntil } from '../helpers/node-process.js';

await initHashing();
afterAll(stopSimNodes);

// The shipped confirmation depth (6): the switch to the heavy chain below reverts far more blocks.
// Without proof of work a node's reorg brake defaults to that depth (a longer dev chain costs a
// peer nothing); these nodes lift it, since this file is about which peer sync picks, by work.
// Deep heals by real proof of work: network-pow-fork-choice and the partition e2e.
const config = devConfig({ pow: { enabled: false } });
const node = (name: string, blocks: number, producer: number, bootnodes: string[] = [], prefix?: { from: StrataNode; blocks: number }) =>
  simNode(name, config, { blocks, producer, bootnodes, maxReorgDepth: Number.POSITIVE_INFINITY, ...(prefix ? { prefix } : {}) });

describe('sync chooses the heaviest chain', () => {
  it('a fresh node shown a light and a heavy chain syncs the heavy one, never the light one', async () => {
    const light = await node('light', 30, 1);
    const heavy = await node('heavy', 60, 2);
    // Captured now: by peer exchange through the fresh node, light and heavy meet later and
    // light itself moves to the heavy chain.
    const lightHead = light.chain.head.hash;
    const lightFirst = light.chain.blockAt(1)!.hash;
    // The light chain is listed first.
    const fresh = await node('fresh', 0, 3, [...light.network!.info().multiaddrs, ...heavy.network!.info().multiaddrs]);
    await waitUntil(() => toHex(fresh.chain.head.hash) === toHex(heavy.chain.head.hash), 'the fresh node to reach the heavy head', 20_000, 50);
    const net = fresh.network as P2PNetwork;
    expect(net.sync?.state.lastSync?.peer).toBe(heavy.network!.info().peerId);
    expect(fresh.chain.store.hasBlock(lightHead)).toBe(false);
    expect(fresh.chain.store.hasBlock(lightFirst)).toBe(false);
  });

  it('a heavier peer that appears during a sync takes over before the lighter chain is complete', async () => {
    // Both share the first 5,000 blocks, then fork: a switch after the fresh node passed 5,006
    // reverts blocks below its finalized one, which heaviest work allows.
    const light = await node('light2', 6000, 1);
    const heavy = await node('heavy2', 1500, 2, [], { from: light, blocks: 5000 });
    const lightHead = light.chain.head.hash;
    const fresh = await node('fresh2', 0, 3, light.network!.info().multiaddrs);
    const net = fresh.network as P2PNetwork;
    // Once the sync from the light peer is under way, the heavy peer turns up.
    await waitUntil(() => fresh.chain.head.meta.height > 0, 'the sync from the light peer to start', 20_000, 5);
    expect(net.sync?.state.peer).toBe(light.network!.info().peerId);
    await net.p2p!.dial(heavy.network!.info().multiaddrs[0]!);
    await waitUntil(() => toHex(fresh.chain.head.hash) === toHex(heavy.chain.head.hash), 'the fresh node to reach the heavy head', 30_000, 50);
    expect(net.sync?.state.lastSync?.peer).toBe(heavy.network!.info().peerId);
    // It left the light chain part-way: its last blocks were never downloaded.
    expect(fresh.chain.store.hasBlock(lightHead)).toBe(false);
  }, 150_000);

  it('serves headers by range, blocks by range and blocks by hash', async () => {
    const src = await node('src', 20, 1);
    const client = await node('client', 0, 2);
    const p2p = (client.network as P2PNetwork).p2p!;
    const peer = src.network!.info().peerId;
    await p2p.dial(src.network!.info().multiaddrs[0]!);
    const headers = decode(HeadersCodec, await p2p.request(peer, PROTO_HEADERS, encodeRange({ start: 5, count: 10 }), PROTOCOL_LIMITS.headers), 1 << 20).map((h) => decodeHeader(h));
    expect(headers.map((h) => h.height)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const past = decode(HeadersCodec, await p2p.request(peer, PROTO_HEADERS, encodeRange({ start: 18, count: 100 }), PROTOCOL_LIMITS.headers), 1 << 20);
    expect(past).toHaveLength(3); // 18, 19, 20: stops at the head
    const range = decode(BlocksCodec, await p2p.request(peer, PROTO_BLOCKS_RANGE, encodeRange({ start: 1, count: 4 }), PROTOCOL_LIMITS.blocks), 1 << 24).map((b) => decodeBlock(b));
    expect(range.map((b: Block) => toHex(blockHash(b.header)))).toEqual([1, 2, 3, 4].map((h) => toHex(src.chain.blockAt(h)!.hash)));
    const want = [src.chain.blockAt(7)!.hash, src.chain.blockAt(3)!.hash];
    const byHash = decode(BlocksCodec, await p2p.request(peer, PROTO_BLOCKS_HASH, encode(HashesCodec, want), PROTOCOL_LIMITS.blocks), 1 << 24).map((b) => decodeBlock(b));
    expect(byHash.map((b) => toHex(blockHash(b.header)))).toEqual(want.map(toHex));
    // A malformed request is answered with an error and costs the sender score.
    await expect(p2p.request(peer, PROTO_HEADERS, Uint8Array.of(0xff, 0xff), PROTOCOL_LIMITS.headers)).rejects.toThrow();
    const srcP2p = (src.network as P2PNetwork).p2p!;
    expect(srcP2p.scoreOf(client.network!.info().peerId)).toBeLessThan(0);
  });
});
