/**
 * Bounded work per peer, over real libp2p sockets on 127.0.0.1: an in-process victim node and a
 * raw attacker P2PNode speaking the L1 protocols. Each case is a party breaking a rule —
 * relaying invalid or unpayable transactions, flooding transactions or requests, minting a new
 * peer id after a ban, lying about its total work, declaring targets the retarget rule does not
 * give, serving bodies above the chain's block limit, gossiping orphans that lead nowhere or
 * side blocks forking far below the head — and the victim refusing it at the cheap stage.
 */
import { type Block, type BlockHeader, blockHash, encodeBlock, encodeHeader, meetsTarget, workOf } from '@strata/chain';
import {
  BlocksCodec,
  decodeRange,
  encodeStatus,
  HeadersCodec,
  type NetworkOptions,
  type P2PNetwork,
  PROTO_BLOCKS_HASH,
  PROTO_HEADERS,
  PROTO_STATUS,
  PROTOCOL_LIMITS,
  type StrataNode,
  TOPIC_BLOCKS,
  TOPIC_TXS,
  txBatchCodec,
} from '@strata/node';
import { P2PNode } from '@strata/p2p';
import { bigintToFixed, encode, initHashing, randomKeyPair } from '@strata/primitives';
import { type ChainConfig, encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec } from '@strata/runtime';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { devConfig, keys, transferTx } from '../helpers/chain.js';
import { simNode, stopSimNodes } from '../helpers/sim-node.js';
import { waitUntil } from '../helpers/wait.js';

await initHashing();
const attackers: P2PNode[] = [];
afterAll(async () => {
  await Promise.all(attackers.map((a) => a.stop()));
  await stopSimNodes();
});

const dev = devConfig({ pow: { enabled: false } });
const p2pOf = (n: StrataNode) => (n.network as P2PNetwork).p2p!;

async function victim(name: string, config: ChainConfig = dev, network: NetworkOptions = {}, blocks = 0): Promise<StrataNode> {
  return simNode(name, config, { blocks, network: { targetPeers: 0, peerExchange: false, ...network } });
}

/** A raw peer; answers the status handshake with an echo unless given handlers. */
async function attacker(v: StrataNode, handlers: Record<string, (req: Uint8Array) => Promise<Uint8Array>> = {}, connect = true): Promise<P2PNode> {
  const a = await P2PNode.create({ networkId: p2pOf(v).networkId, peerExchange: false, targetPeers: 0 });
  attackers.push(a);
  a.subscribe(TOPIC_BLOCKS, () => 'accept', () => undefined);
  a.subscribe(TOPIC_TXS, () => 'accept', () => undefined);
  a.handle(PROTO_STATUS, handlers[PROTO_STATUS] ?? (async (req) => req), PROTOCOL_LIMITS.status);
  for (const [proto, h] of Object.entries(handlers)) {
    if (proto === PROTO_STATUS) continue;
    a.handle(proto, h, proto === PROTO_HEADERS ? PROTOCOL_LIMITS.headers : PROTOCOL_LIMITS.blocks);
  }
  await a.start();
  if (connect) await a.dial(v.network!.info().multiaddrs[0]!);
  return a;
}

async function joinTopic(a: P2PNode, v: StrataNode, topic: string): Promise<void> {
  const id = v.network!.info().peerId;
  await waitUntil(() => a.topicPeers(topic).includes(id), `attacker to see the victim on ${topic}`, 10_000, 25);
}

const rejected = async (n: StrataNode, reason: string) =>
  (await n.metrics.txsRejected.get()).values.find((x) => x.labels.reason === reason)?.value ?? 0;

describe('bounded work per peer', () => {
  it('gossiped transactions get the cheap checks before signature recovery, and invalid ones cost the relayer', async () => {
    const v = await victim('b-cheap');
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_TXS);
    // Fee below the minimum AND a signature that cannot be recovered: the fee check runs first.
    const unsigned = { chainId: dev.chainId, nonce: 0, fee: 1n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: keys[1]!.address, amount: 1n }) };
    const bad = encodeTx({ ...signTx(unsigned, keys[0]!.secretKey), signature: new Uint8Array(65) });
    await a.publish(TOPIC_TXS, encode(txBatchCodec(dev.maxTxBytes), [bad]));
    await waitUntil(async () => (await rejected(v, 'TX_FEE_TOO_LOW')) === 1, 'the victim to reject the transaction for its fee', 10_000, 25);
    expect(await rejected(v, 'INVALID_SIGNATURE')).toBe(0);
    expect(p2pOf(v).scoreOf(a.peerId)).toBeLessThan(0);
  });

  it('a peer relaying unpayable transactions loses score and is banned for a flood of them', async () => {
    const v = await victim('b-unpayable');
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_TXS);
    for (let batch = 0; batch < 5; batch++) {
      const poor = randomKeyPair(); // holds nothing: every fee is unpayable
      const txs = Array.from({ length: 30 }, (_, i) => transferTx(dev, poor, keys[1]!.address, 1n, i).bytes);
      await a.publish(TOPIC_TXS, encode(txBatchCodec(dev.maxTxBytes), txs));
      await waitUntil(async () => (await rejected(v, 'TX_INSUFFICIENT_FUNDS')) >= (batch + 1) * 30 || p2pOf(v).isBanned(a.peerId), 'the batch to be judged', 10_000, 25);
    }
    expect(v.mempool.size).toBe(0);
    expect(p2pOf(v).isBanned(a.peerId)).toBe(true);
  });

  it('transactions beyond a peer’s rate are dropped unread', async () => {
    const v = await victim('b-txrate', dev, { txRate: { perSecond: 1, burst: 10 } });
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_TXS);
    const flood = Array.from({ length: 20 }, (_, i) => transferTx(dev, keys[0]!, keys[1]!.address, 1n, i).bytes);
    await a.publish(TOPIC_TXS, encode(txBatchCodec(dev.maxTxBytes), flood));
    await waitUntil(async () => (await rejected(v, 'RATE_LIMITED')) === 20, 'the flood to be dropped', 10_000, 25);
    expect(v.mempool.size).toBe(0);
    const fair = Array.from({ length: 5 }, (_, i) => transferTx(dev, keys[2]!, keys[1]!.address, 1n, i).bytes);
    await a.publish(TOPIC_TXS, encode(txBatchCodec(dev.maxTxBytes), fair));
    await waitUntil(() => v.mempool.size === 5, 'a batch within the rate to be admitted', 10_000, 25);
  });

  it('requests beyond a peer’s rate are refused, the flooder is banned, and so is its address under a new peer id', async () => {
    const v = await victim('b-reqrate', dev, { requestRate: { perSecond: 1, burst: 5 }, addressBanExempt: [], banSeconds: 60 });
    const a = await attacker(v);
    const vid = v.network!.info().peerId;
    let served = 0;
    let refused = 0;
    // (up to 160 pushes, 24 s: each costs the attacker only once the victim's sync loop has tried
    // its head, which a loaded machine makes slow; a quiet one bans after about 20)
    for (let i = 0; i < 160 && !p2pOf(v).isBanned(a.peerId); i++) {
      try {
        await a.request(vid, PROTO_STATUS, encodeStatus((v.network as P2PNetwork).sync!.localStatus()), PROTOCOL_LIMITS.status);
        served++;
      } catch {
        refused++;
      }
    }
    expect(served).toBeLessThanOrEqual(7); // the burst (plus what refilled meanwhile)
    expect(refused).toBeGreaterThan(0);
    await waitUntil(() => p2pOf(v).isBanned(a.peerId), 'the flooder to be banned', 10_000, 25);
    // Same address, fresh identity: refused at the connection, before any handshake.
    const again = await attacker(v, {}, false);
    await expect(again.dial(v.network!.info().multiaddrs[0]!)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(p2pOf(v).peers().some((p) => p.id === again.peerId)).toBe(false);
  });

  it('a peer whose headers do not add up to the total work it announced is banned before any body is asked for', async () => {
    const honest = await victim('b-honest', dev, {}, 5);
    const hid = honest.network!.info().peerId;
    let bodies = 0;
    const a = await attacker(honest, {
      [PROTO_STATUS]: async () => {
        const s = (honest.network as P2PNetwork).sync!.localStatus();
        return encodeStatus({ ...s, totalWork: s.totalWork + 1000n });
      },
      // Real headers, fetched from the honest node.
      [PROTO_HEADERS]: async (req) => a.request(hid, PROTO_HEADERS, req, PROTOCOL_LIMITS.headers),
      [PROTO_BLOCKS_HASH]: async () => {
        bodies++;
        throw new Error('no bodies');
      },
    });
    const v = await victim('b-liar-victim');
    await p2pOf(v).dial(a.multiaddrs[0]!);
    await waitUntil(() => p2pOf(v).isBanned(a.peerId), 'the liar to be banned', 15_000, 25);
    expect(bodies).toBe(0);
    expect(v.chain.head.meta.height).toBe(0);
  });

  it('headers first: a branch whose headers show no more work than our head is never asked for a body', async () => {
    const v = await victim('b-lighter', dev, {}, 18);
    const g = v.chain.blockAt(0)!.header;
    // 15 well-linked headers forking at genesis (less work than the victim's 18 blocks), while
    // the status claims a heavier head it never shows.
    const fork: BlockHeader[] = [g];
    for (let h = 1; h <= 15; h++) {
      const p = fork[h - 1]!;
      fork.push({ ...p, parentHash: blockHash(p), height: h, timestamp: p.timestamp + 1000, producer: new Uint8Array(20).fill(9) });
    }
    let bodies = 0;
    await attacker(v, {
      [PROTO_STATUS]: async () =>
        encodeStatus({ genesis: blockHash(g), headHash: new Uint8Array(32).fill(3), headHeight: 20, totalWork: v.chain.head.meta.totalWork + 50n, finalizedHeight: 0 }),
      [PROTO_HEADERS]: async (req) => {
        const { start, count } = decodeRange(req);
        return encode(HeadersCodec, fork.slice(start, start + count).map(encodeHeader));
      },
      [PROTO_BLOCKS_HASH]: async () => {
        bodies++;
        throw new Error('no bodies');
      },
    });
    await waitUntil(() => (v.network as P2PNetwork).sync!.state.syncs > 0 && !(v.network as P2PNetwork).sync!.state.syncing, 'a sync round from the attacker', 15_000, 25);
    await new Promise((r) => setTimeout(r, 500));
    expect(bodies).toBe(0);
    expect(v.chain.store.hasBlock(blockHash(fork[1]!))).toBe(false);
    expect(v.chain.head.meta.height).toBe(18);
  });

  it('a peer that keeps announcing heavier heads it never shows loses score until banned (no sync stall for free)', async () => {
    const v = await victim('b-promises');
    const vid = v.network!.info().peerId;
    const g = v.chain.blockAt(0)!.header;
    const a = await attacker(v, {
      // Serves our genesis (the common ancestor) and nothing above it.
      [PROTO_HEADERS]: async (req) => {
        const { start } = decodeRange(req);
        return encode(HeadersCodec, start === 0 ? [encodeHeader(g)] : []);
      },
    });
    // A fresh "heavier" head in every status push: each one used to reset the victim's
    // stuck-on-this-head memory and win its sync loop again, at no cost to the attacker.
    // (up to 160 pushes, 24 s: each costs the attacker only once the victim's sync loop has tried
    // its head, which a loaded machine makes slow; a quiet one bans after about 20)
    for (let i = 0; i < 160 && !p2pOf(v).isBanned(a.peerId); i++) {
      const head = new Uint8Array(32).fill(i + 1);
      try {
        await a.request(vid, PROTO_STATUS, encodeStatus({ genesis: blockHash(g), headHash: head, headHeight: 50, totalWork: 10n ** 30n, finalizedHeight: 0 }), PROTOCOL_LIMITS.status);
      } catch {
        // banned meanwhile
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(p2pOf(v).isBanned(a.peerId)).toBe(true);
  });

  it('headers declaring a target the retarget rule does not give are refused before any body is asked for', async () => {
    const pow = devConfig({ pow: { enabled: true, initialTarget: `0x${(1n << 252n).toString(16)}`, maxTarget: `0x${(1n << 255n).toString(16)}`, retargetInterval: 1000 } });
    const v = await victim('b-target', pow);
    const genesis = v.chain.head.header;
    // A chain of 3 headers; the second declares the (easier) maximum target instead of its parent's.
    const headers: BlockHeader[] = [];
    let parent = genesis;
    for (let h = 1; h <= 3; h++) {
      const target = h === 2 ? bigintToFixed(1n << 255n, 32) : genesis.target;
      const header: BlockHeader = { ...parent, parentHash: blockHash(parent), height: h, timestamp: parent.timestamp + 1000, target, nonce: new Uint8Array(8) };
      for (let n = 0; !meetsTarget(blockHash(header), target); n++) new DataView(header.nonce.buffer).setUint32(4, n);
      headers.push(header);
      parent = header;
    }
    let work = v.chain.head.meta.totalWork;
    for (const h of headers) work += workOf(h.target);
    let bodies = 0;
    const head = headers[2]!;
    const a = await attacker(v, {
      [PROTO_STATUS]: async () => encodeStatus({ genesis: blockHash(genesis), headHash: blockHash(head), headHeight: 3, totalWork: work, finalizedHeight: 0 }),
      [PROTO_HEADERS]: async (req) => {
        const { start, count } = decodeRange(req);
        const all = [genesis, ...headers];
        return encode(HeadersCodec, all.slice(start, start + count).map(encodeHeader));
      },
      [PROTO_BLOCKS_HASH]: async () => {
        bodies++;
        throw new Error('no bodies');
      },
    });
    await waitUntil(() => p2pOf(v).isBanned(a.peerId), 'the peer with the forged target to be banned', 15_000, 25);
    expect(bodies).toBe(0);
  });

  /** A header chain on the victim's genesis, `stamp(h, parentTs)` giving each timestamp, served by an attacker that counts body requests. */
  async function headerChainPeer(v: StrataNode, count: number, stamp: (h: number, parentTs: number) => number) {
    const genesis = v.chain.head.header;
    const headers: BlockHeader[] = [];
    let parent = genesis;
    for (let h = 1; h <= count; h++) {
      const header: BlockHeader = { ...parent, parentHash: blockHash(parent), height: h, timestamp: stamp(h, parent.timestamp), producer: new Uint8Array(20).fill(9) };
      headers.push(header);
      parent = header;
    }
    let work = v.chain.head.meta.totalWork;
    for (const h of headers) work += workOf(h.target);
    const head = headers[count - 1]!;
    const seen = { bodies: 0 };
    const a = await attacker(v, {
      [PROTO_STATUS]: async () => encodeStatus({ genesis: blockHash(genesis), headHash: blockHash(head), headHeight: count, totalWork: work, finalizedHeight: 0 }),
      [PROTO_HEADERS]: async (req) => {
        const { start, count: n } = decodeRange(req);
        return encode(HeadersCodec, [genesis, ...headers].slice(start, start + n).map(encodeHeader));
      },
      [PROTO_BLOCKS_HASH]: async () => {
        seen.bodies++;
        throw new Error('no bodies');
      },
    });
    return { a, seen };
  }

  it('headers first: a header not above the median time of the 11 before it gets its sender banned before any body is asked for', async () => {
    const v = await victim('b-mtp');
    // Heights 1..11 a second apart; height 12 is stamped after its parent's grandparent but below
    // the median of the 11 before it (height 6's time): never valid.
    const { a, seen } = await headerChainPeer(v, 12, (h, parentTs) => (h === 12 ? parentTs - 6000 : parentTs + 1000));
    await waitUntil(() => p2pOf(v).isBanned(a.peerId), 'the peer serving a header below median-time-past to be banned', 15_000, 25);
    expect(seen.bodies).toBe(0);
    expect(v.chain.head.meta.height).toBe(0);
  });

  it('headers first: a header stamped beyond the clock allowance costs its sender score and no body is asked for', async () => {
    const v = await victim('b-future');
    const { a, seen } = await headerChainPeer(v, 3, (h, parentTs) => (h === 3 ? Date.now() + 10 * 60_000 : parentTs + 1000));
    await waitUntil(() => p2pOf(v).scoreOf(a.peerId) < -5, 'the peer serving a far-future header to lose score', 15_000, 25);
    expect(seen.bodies).toBe(0);
    // Valid later, so not a ban at once.
    expect(p2pOf(v).isBanned(a.peerId)).toBe(false);
    expect(v.chain.head.meta.height).toBe(0);
  });

  it('a body above the chain’s block limit is refused as it is decoded, before any signature is recovered', async () => {
    const small = devConfig({ pow: { enabled: false }, maxBlockBytes: 4096, maxTxBytes: 2048 });
    const v = await victim('b-bodycap', small);
    const spy = vi.spyOn(v, 'verifyBlockTxs');
    const genesis = v.chain.head.header;
    const block: Block = {
      header: { ...genesis, parentHash: blockHash(genesis), height: 1, timestamp: genesis.timestamp + 1000 },
      txs: Array.from({ length: 20 }, () => new Uint8Array(1500).fill(7)),
    };
    const status = { genesis: blockHash(genesis), headHash: blockHash(block.header), headHeight: 1, totalWork: v.chain.head.meta.totalWork + workOf(block.header.target), finalizedHeight: 0 };
    let bodies = 0;
    const a = await attacker(v, {
      [PROTO_STATUS]: async () => encodeStatus(status),
      [PROTO_HEADERS]: async (req) => {
        const { start, count } = decodeRange(req);
        return encode(HeadersCodec, [genesis, block.header].slice(start, start + count).map(encodeHeader));
      },
      [PROTO_BLOCKS_HASH]: async () => {
        bodies++;
        return encode(BlocksCodec, [encodeBlock(block)]);
      },
    });
    await waitUntil(() => bodies > 0 && p2pOf(v).scoreOf(a.peerId) < -40, 'the oversized body to cost the peer', 15_000, 25);
    expect(spy).not.toHaveBeenCalled();
    expect(v.chain.head.meta.height).toBe(0);
  });

  it('a gossiped block whose unknown parent leads nowhere costs the sender', async () => {
    const v = await victim('b-orphan');
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_BLOCKS);
    const g = v.chain.head.header;
    const orphan: Block = { header: { ...g, parentHash: crypto.getRandomValues(new Uint8Array(32)), height: 7, timestamp: Date.now() }, txs: [] };
    await a.publish(TOPIC_BLOCKS, encodeBlock(orphan));
    await waitUntil(() => p2pOf(v).scoreOf(a.peerId) < 0, 'the orphan to cost the sender', 10_000, 25);
  });

  it('a gossiped orphan declaring a target above the chain’s maximum (free proof of work) is rejected and costs the sender', async () => {
    const pow = devConfig({ pow: { enabled: true, initialTarget: `0x${(1n << 240n).toString(16)}`, maxTarget: `0x${(1n << 244n).toString(16)}`, retargetInterval: 1000 } });
    const v = await victim('b-freepow', pow);
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_BLOCKS);
    const g = v.chain.head.header;
    // No target of any branch can exceed maxTarget (the retarget rule clamps to it), so an
    // orphan declaring ff…ff "meets" its target with no work at all.
    const orphan: Block = { header: { ...g, parentHash: crypto.getRandomValues(new Uint8Array(32)), height: 7, timestamp: Date.now(), target: new Uint8Array(32).fill(0xff) }, txs: [] };
    await a.publish(TOPIC_BLOCKS, encodeBlock(orphan));
    await waitUntil(() => p2pOf(v).scoreOf(a.peerId) <= -20, 'the free-work orphan to cost the sender as an invalid block', 10_000, 25);
    // (an orphan that merely leads nowhere costs USELESS, 10: this one is judged invalid)
  });

  it('a gossiped side block forking far below the head is refused, not stored', async () => {
    const v = await victim('b-deep', dev, { maxSideForkDepth: 3 }, 10);
    const other = await simNode('b-deep-fork', dev, { prefix: { from: v, blocks: 1 }, blocks: 1, producer: 2, network: { targetPeers: 0 } });
    const side = other.chain.head;
    const a = await attacker(v);
    await joinTopic(a, v, TOPIC_BLOCKS);
    await a.publish(TOPIC_BLOCKS, encodeBlock({ header: side.header, txs: other.chain.store.getBody(side.hash) ?? [] }));
    await waitUntil(() => p2pOf(v).scoreOf(a.peerId) < 0, 'the deep side block to cost the sender', 10_000, 25);
    expect(v.chain.store.hasBlock(side.hash)).toBe(false);
  });
});
