/**
 * P2PNetwork: the L1 node's peer-to-peer network on top of @strata/p2p. What flows through it:
 *
 * - gossip `blocks`: one encoded block per message; validated before relay (decode, proof of
 *   work, parent known, then the full import) — unknown parent → ignore and sync from the
 *   sender, invalid → reject and penalise the sender;
 * - gossip `txs`: batches of raw transactions (many per message), each signature-checked and
 *   admitted to the mempool before the batch is relayed;
 * - request/response: `status/1` (a symmetric handshake: genesis, head, total work),
 *   `headers-by-range/1`, `blocks-by-range/1`, `blocks-by-hash/1`, served from the block store;
 * - sync (see sync.ts): headers first then bodies, from the peer showing the most work.
 *
 * Nothing a peer sends can throw out of here: every handler and validator catches, maps
 * chain-level invalidity to a penalty and carries on.
 */
import { type Block, blockHash, decodeBlock, encodeBlock, encodeHeader, meetsTarget } from '@strata/chain';
import { P2PNode, type P2POptions, PENALTY, RateLimiter } from '@strata/p2p';
import { bytesToBigint, decode, encode, isLocalFault, StrataError, toHex, toStrataError } from '@strata/primitives';
import { checkTxStatic, decodeTx, txHashOf, type VerifiedTx } from '@strata/runtime';
import type { NetworkAdmin, NodeNetwork, StrataNode } from './node.js';
import { BlockSync, CHAIN_PENALTY, maxWireBlockBytes, PROTOCOL_LIMITS, type SyncOptions } from './sync.js';
import type { Status } from './wire.js';
import {
  BlocksCodec,
  decodeRange,
  decodeStatus,
  encodeStatus,
  HashesCodec,
  HeadersCodec,
  MAX_BLOCKS_PER_REQUEST,
  MAX_BLOCKS_RESPONSE_BYTES,
  MAX_HEADERS_PER_REQUEST,
  MAX_TXS_PER_BATCH,
  MAX_MEMPOOL_RESPONSE_BYTES,
  PROTO_BLOCKS_HASH,
  PROTO_BLOCKS_RANGE,
  PROTO_MEMPOOL,
  PROTO_HEADERS,
  PROTO_STATUS,
  TOPIC_BLOCKS,
  TOPIC_TXS,
  txBatchCodec,
} from './wire.js';

/** Node settings of the network. */
export interface NetworkOptions {
  /** Multiaddrs to listen on (default `/ip4/127.0.0.1/tcp/0`). */
  listen?: string[];
  /** Multiaddrs to announce instead of the listen addresses (another host, NAT). */
  announce?: string[];
  /** Multiaddrs ending in /p2p/<peerId>, dialled at start and re-dialled while disconnected. */
  bootnodes?: string[];
  /** Where the persistent node key lives (default: the node's data dir). */
  dataDir?: string;
  /** How long a peer that reached the ban threshold is refused, seconds (default 300). */
  banSeconds?: number;
  /** Largest gossip message (default 2 MiB). */
  maxGossipBytes?: number;
  /** Most connections (default 64). */
  maxConnections?: number;
  /** Connections kept by discovery (default 8; 0: dial only bootnodes). */
  targetPeers?: number;
  /** Discovery round period, ms (default 5000). */
  discoveryIntervalMs?: number;
  /** Peer exchange (`peers/1`) on (default) or off. */
  peerExchange?: boolean;
  /** All nodes on one host (a devnet): no IP-colocation penalty in gossipsub. */
  localNetwork?: boolean;
  /** Inbound requests per peer (default 50/s, burst 200). */
  requestRate?: { perSecond: number; burst: number };
  /** IPs never banned by address (default the host's loopback 127.0.0.1 and ::1). */
  addressBanExempt?: string[];
  /** Status refresh with every peer, ms (default 2000). */
  statusIntervalMs?: number;
  /** How long transactions wait to be batched into one gossip message, ms (default 20). */
  txBatchMs?: number;
  /** Gossiped transactions accepted from one peer: per second and burst (default 5000/s, burst 16384). */
  txRate?: { perSecond: number; burst: number };
  /** Gossiped blocks whose parent is this far below our head are refused (default 100). */
  maxSideForkDepth?: number;
  /** Sync batch sizes. */
  sync?: SyncOptions;
}

/**
 * Transaction errors that prove the sender relayed garbage (not just a state-dependent miss):
 * undecodable, bad signature, or failing a stateless rule (chain id, size, compute, minimum
 * fee, module and method) that every honest node checks before relaying.
 */
const INVALID_TX_CODES = new Set([
  'DECODE_TRUNCATED',
  'DECODE_NON_CANONICAL',
  'DECODE_OVERSIZED',
  'DECODE_INVALID',
  'INVALID_SIGNATURE',
  'TX_WRONG_CHAIN',
  'TX_TOO_LARGE',
  'TX_COMPUTE_EXCEEDED',
  'TX_FEE_TOO_LOW',
  'TX_UNKNOWN_MODULE',
  'TX_UNKNOWN_METHOD',
]);
/**
 * Transactions that cannot pay (balance below the fees) or whose nonce is far ahead: state-
 * dependent, so a peer may relay one honestly after a reorg, but each costs a recovery; a peer
 * relaying many loses score (and a flood of them a ban).
 */
const UNPAYABLE_TX_CODES = new Set(['TX_INSUFFICIENT_FUNDS', 'TX_NONCE_TOO_HIGH']);
/** Points per unpayable transaction, and at most per batch. */
const UNPAYABLE_PENALTY = 1;
const UNPAYABLE_PENALTY_MAX = 25;
/** Transactions remembered as rejected (until the next head), so a replay costs no recovery. */
const RECENT_REJECTS = 50_000;
/** Penalty for a gossiped block whose unknown parent leads nowhere, or that forks far below our head. */
const USELESS_BLOCK_PENALTY = 10;

/** Network id of a chain: namespaces topics and protocols so chains with other genesis never mix. */
export function networkIdOf(genesisHash: Uint8Array): string {
  return `strata-l1-${toHex(genesisHash).slice(2, 18)}`;
}

/** The L1 node's libp2p network. Attach with `node.network = new P2PNetwork(opts)` before `node.start()`. */
export class P2PNetwork implements NodeNetwork {
  private p2pNode: P2PNode | undefined;
  private syncer: BlockSync | undefined;
  private node: StrataNode | undefined;
  private timer: NodeJS.Timeout | undefined;
  private txQueue: Uint8Array[] = [];
  private txQueueBytes = 0;
  private txTimer: NodeJS.Timeout | undefined;
  private txLimiter: RateLimiter | undefined;
  /** Hashes of transactions rejected since the last head (as Bitcoin's recentRejects). */
  private readonly recentRejects = new Set<string>();
  private readonly onHead = () => this.recentRejects.clear();
  private readonly onReorg = (res: { reorg?: { orphaned: { bytes: Uint8Array; hash: Uint8Array }[] } }) => {
    // Orphaned transactions are back in our mempool; tell peers too so whoever mines next includes them.
    const back = (res.reorg?.orphaned ?? []).filter((t) => this.node?.mempool.has(t.hash)).map((t) => t.bytes);
    if (back.length > 0) this.broadcastTxs(back);
  };

  constructor(readonly opts: NetworkOptions = {}) {}

  /** The underlying p2p host (after start). */
  get p2p(): P2PNode | undefined {
    return this.p2pNode;
  }

  /** The block sync (after start). */
  get sync(): BlockSync | undefined {
    return this.syncer;
  }

  /** Starts libp2p, registers topics and protocols, dials bootnodes and begins syncing. */
  async start(node: StrataNode): Promise<void> {
    this.node = node;
    const o = this.opts;
    const p2pOpts: P2POptions = {
      networkId: networkIdOf(node.chain.genesisHash),
      dataDir: o.dataDir ?? node.opts.dataDir,
      ...(o.listen ? { listen: o.listen } : {}),
      ...(o.announce ? { announce: o.announce } : {}),
      ...(o.bootnodes ? { bootnodes: o.bootnodes } : {}),
      ...(o.banSeconds !== undefined ? { banSeconds: o.banSeconds } : {}),
      ...(o.maxGossipBytes !== undefined ? { maxGossipBytes: o.maxGossipBytes } : {}),
      ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
      ...(o.targetPeers !== undefined ? { targetPeers: o.targetPeers } : {}),
      ...(o.discoveryIntervalMs !== undefined ? { discoveryIntervalMs: o.discoveryIntervalMs } : {}),
      ...(o.peerExchange !== undefined ? { peerExchange: o.peerExchange } : {}),
      ...(o.localNetwork !== undefined ? { localNetwork: o.localNetwork } : {}),
      ...(o.requestRate !== undefined ? { requestRate: o.requestRate } : {}),
      ...(o.addressBanExempt !== undefined ? { addressBanExempt: o.addressBanExempt } : {}),
    };
    const p2p = await P2PNode.create(p2pOpts, { logger: node.log });
    this.p2pNode = p2p;
    const sync = new BlockSync(node, p2p, o.sync);
    this.syncer = sync;

    p2p.subscribe(TOPIC_BLOCKS, (data, from) => this.validateBlock(data, from), () => undefined);
    p2p.subscribe(TOPIC_TXS, (data, from) => this.validateTxs(data, from), () => undefined);
    p2p.handle(PROTO_STATUS, (req, from) => this.serveStatus(req, from), PROTOCOL_LIMITS.status);
    p2p.handle(PROTO_HEADERS, (req, from) => this.serveHeaders(req, from), PROTOCOL_LIMITS.headers);
    p2p.handle(PROTO_BLOCKS_RANGE, (req, from) => this.serveBlocksByRange(req, from), PROTOCOL_LIMITS.blocks);
    p2p.handle(PROTO_BLOCKS_HASH, (req, from) => this.serveBlocksByHash(req, from), PROTOCOL_LIMITS.blocks);
    p2p.handle(PROTO_MEMPOOL, (req, from) => this.serveMempool(req, from), PROTOCOL_LIMITS.mempool);

    p2p.on('peer:connect', (peer) => {
      this.updatePeerMetric();
      void this.handshake(peer);
    });
    p2p.on('peer:disconnect', (peer) => {
      this.updatePeerMetric();
      this.txLimiter?.forget(peer);
      sync.removePeer(peer);
    });
    node.on('reorg', this.onReorg);
    node.on('head', this.onHead);
    this.txLimiter = new RateLimiter(o.txRate ?? { perSecond: 5000, burst: 16_384 });
    await p2p.start();
    node.log.info({ peerId: p2p.peerId, multiaddrs: p2p.multiaddrs, networkId: p2p.networkId, bootnodes: o.bootnodes ?? [] }, 'p2p network started');
    const interval = o.statusIntervalMs ?? 2000;
    this.timer = setInterval(() => void this.refreshStatuses(), interval);
    this.timer.unref();
  }

  /** Stops syncing, gossip and libp2p. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    this.node?.off('reorg', this.onReorg);
    this.node?.off('head', this.onHead);
    await this.syncer?.stop();
    await this.p2pNode?.stop();
  }

  /** Gossips a block this node produced or imported. */
  broadcastBlock(block: Block): void {
    const p2p = this.p2pNode;
    if (!p2p) return;
    p2p.publish(TOPIC_BLOCKS, encodeBlock(block)).catch((e: unknown) => this.node?.log.debug({ err: toStrataError(e).message }, 'block publish failed'));
  }

  /** Queues transactions for the next gossip batch (flushed after `txBatchMs` or when full). */
  broadcastTxs(raw: Uint8Array[]): void {
    if (!this.p2pNode) return;
    for (const r of raw) {
      this.txQueue.push(r);
      this.txQueueBytes += r.length + 4;
      if (this.txQueue.length >= MAX_TXS_PER_BATCH || this.txQueueBytes > 1024 * 1024) this.flushTxs();
    }
    if (this.txQueue.length > 0 && this.txTimer === undefined) {
      this.txTimer = setTimeout(() => this.flushTxs(), this.opts.txBatchMs ?? 20);
    }
  }

  private flushTxs(): void {
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    if (!this.p2pNode || !this.node) return;
    // Nobody subscribed yet (just started, or a healed partition still forming its mesh): keep
    // the batch and retry rather than publish into the void.
    if (this.txQueue.length > 0 && this.p2pNode.topicPeers(TOPIC_TXS).length === 0 && this.txQueue.length < MAX_TXS_PER_BATCH) {
      this.txTimer = setTimeout(() => this.flushTxs(), 250);
      this.txTimer.unref();
      return;
    }
    const batch = this.txQueue;
    this.txQueue = [];
    this.txQueueBytes = 0;
    if (batch.length === 0) return;
    const data = encode(txBatchCodec(this.node.opts.config.maxTxBytes), batch);
    this.p2pNode.publish(TOPIC_TXS, data).catch((e: unknown) => this.node?.log.debug({ err: toStrataError(e).message }, 'tx batch publish failed'));
  }

  /** Own peer id, dialable addresses and listen addresses. */
  info(): { peerId: string; multiaddrs: string[]; listen: string[]; networkId: string } {
    const p2p = this.p2pNode;
    return {
      peerId: p2p?.peerId ?? '',
      multiaddrs: p2p?.multiaddrs ?? [],
      listen: this.opts.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      networkId: p2p?.networkId ?? '',
    };
  }

  /** Connected peers with score and (when known) their head. */
  peers(): { id: string; addrs: string[]; score: number; direction: string; headHeight?: number; totalWork?: string }[] {
    const known = new Map((this.syncer?.knownPeers() ?? []).map((k) => [k.peer, k]));
    return (this.p2pNode?.peers() ?? []).map((p) => {
      const k = known.get(p.id);
      return { ...p, ...(k ? { headHeight: k.headHeight, totalWork: k.totalWork.toString() } : {}) };
    });
  }

  /** Operator controls. */
  readonly admin: NetworkAdmin = {
    addPeer: async (addr) => {
      await this.requireP2P().dial(addr);
    },
    disconnectPeer: async (peer) => {
      await this.requireP2P().hangUp(peer);
    },
    blockPeer: (peer, seconds) => {
      this.requireP2P().ban(peer, 'blocked by operator', seconds);
      this.syncer?.removePeer(peer);
    },
    unblockPeer: (peer) => {
      // A zero-length ban clears the ban and the score (PeerScoreBook semantics).
      this.requireP2P().ban(peer, 'unblocked by operator', 0);
    },
    syncStatus: () => {
      const s = this.syncer?.state;
      return {
        ...(s ?? {}),
        lastSync: s?.lastSync ?? null,
        peers: (this.syncer?.knownPeers() ?? []).map((k) => ({ ...k, totalWork: k.totalWork.toString() })),
      };
    },
  };

  private requireP2P(): P2PNode {
    if (!this.p2pNode) throw new StrataError('NODE_STOPPED', 'p2p network is not started; start the node first');
    return this.p2pNode;
  }

  private updatePeerMetric(): void {
    if (this.node && this.p2pNode) this.node.metrics.peers.set(this.p2pNode.peers().length);
  }

  // --------------------------------------------------------------- handshake and statuses

  private async handshake(peer: string): Promise<void> {
    const sync = this.syncer;
    if (!sync) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      const s = await sync.exchangeStatus(peer);
      if (s) {
        this.node?.log.debug({ peer, height: s.headHeight, work: s.totalWork.toString() }, 'peer status');
        sync.trigger();
        void this.pullMempool(peer);
        return;
      }
      if (this.p2pNode?.isBanned(peer)) return;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      if (!this.p2pNode?.peers().some((p) => p.id === peer)) return;
    }
    // A peer that cannot answer the status protocol speaks another network (or is broken).
    this.node?.log.info({ peer }, 'peer does not answer the status handshake; disconnecting');
    await this.p2pNode?.hangUp(peer).catch(() => undefined);
  }

  /**
   * Pulls a peer's pending transactions once after the handshake (mempool/1), so a node that
   * was offline or partitioned learns what it missed without anyone re-broadcasting. They are
   * admitted exactly as a gossip batch is; a malformed answer or an invalid transaction costs
   * the peer score. A peer without the protocol is simply skipped.
   */
  private async pullMempool(peer: string): Promise<void> {
    const node = this.node;
    const p2p = this.p2pNode;
    if (!node || !p2p) return;
    let body: Uint8Array;
    try {
      body = await p2p.request(peer, PROTO_MEMPOOL, new Uint8Array(0), PROTOCOL_LIMITS.mempool);
    } catch (e) {
      node.log.debug({ peer, err: toStrataError(e).message }, 'mempool request failed');
      return;
    }
    let raws: Uint8Array[];
    try {
      raws = decode(txBatchCodec(node.opts.config.maxTxBytes), body, PROTOCOL_LIMITS.mempool.maxResponseBytes);
    } catch (e) {
      p2p.penalize(peer, CHAIN_PENALTY.MALFORMED, `malformed mempool response: ${toStrataError(e).message}`);
      return;
    }
    const { accepted, invalid, unpayable } = await this.admitTxs(raws);
    if (invalid) p2p.penalize(peer, CHAIN_PENALTY.INVALID_TX, `invalid transaction in mempool response: ${invalid.code} ${invalid.message}`);
    if (unpayable > 0) p2p.penalize(peer, Math.min(UNPAYABLE_PENALTY_MAX, unpayable * UNPAYABLE_PENALTY), `${unpayable} unpayable transactions in mempool response`);
    if (accepted > 0) node.log.info({ peer, offered: raws.length, accepted }, 'pending transactions pulled from peer');
  }

  private async refreshStatuses(): Promise<void> {
    const p2p = this.p2pNode;
    const sync = this.syncer;
    if (!p2p || !sync) return;
    try {
      await Promise.all(p2p.peers().map((p) => sync.exchangeStatus(p.id)));
      sync.trigger();
    } catch (e) {
      this.node?.log.debug({ err: toStrataError(e).message }, 'status refresh failed');
    }
  }

  // --------------------------------------------------------------------------- gossip

  private async validateBlock(data: Uint8Array, from: string): Promise<'accept' | 'reject' | 'ignore'> {
    const node = this.node;
    const p2p = this.p2pNode;
    if (!node || !p2p) return 'ignore';
    let block: Block;
    try {
      block = decodeBlock(data, maxWireBlockBytes(node.opts.config));
    } catch (e) {
      p2p.penalize(from, CHAIN_PENALTY.MALFORMED - PENALTY.GOSSIP_REJECTED, `malformed block gossip: ${toStrataError(e).message}`);
      return 'reject';
    }
    const hash = blockHash(block.header);
    const store = node.chain.store;
    const meta = store.getMeta(hash);
    if (meta) {
      if (meta.status !== 'invalid') return 'ignore';
      return this.invalidBlock(from, hash, 'BLOCK_INVALID', 'block already found invalid');
    }
    const cfg = node.opts.config;
    if (block.header.chainId !== cfg.chainId) return this.invalidBlock(from, hash, 'BLOCK_INVALID', `block for chain ${block.header.chainId}`);
    // Proof of work first: it is the cheapest check and the costliest to fake. No branch's
    // target exceeds maxTarget (the retarget rule clamps to it): above it, "work" is free.
    if (cfg.pow.enabled && bytesToBigint(block.header.target) > BigInt(cfg.pow.maxTarget)) {
      return this.invalidBlock(from, hash, 'BLOCK_BAD_TARGET', 'target above the chain’s maximum');
    }
    if (cfg.pow.enabled && !meetsTarget(hash, block.header.target)) return this.invalidBlock(from, hash, 'BLOCK_BAD_POW', 'hash does not meet its target');
    if (block.header.timestamp > node.now() + (node.opts.maxFutureMs ?? 15_000)) return 'ignore'; // maybe our clock
    if (!store.hasBlock(block.header.parentHash)) {
      node.log.debug({ peer: from, hash: toHex(hash), height: block.header.height }, 'gossip block with unknown parent; syncing');
      void this.orphanFrom(from, hash);
      return 'ignore';
    }
    // A side block forking far below our head cannot win by gossip (a heavier branch that deep
    // comes through headers-first sync, which checks its work first): refuse to store it.
    const parentMeta = store.getMeta(block.header.parentHash);
    const maxDepth = this.opts.maxSideForkDepth ?? 100;
    if (parentMeta && parentMeta.height + maxDepth < node.chain.head.meta.height) {
      p2p.penalize(from, USELESS_BLOCK_PENALTY, `gossip block ${toHex(hash)} forks ${node.chain.head.meta.height - parentMeta.height} blocks below our head`);
      return 'ignore';
    }
    try {
      const res = await node.importNetworkBlock(block, from);
      if (res.status === 'known') return 'ignore';
      this.syncer?.noteBlockFrom(from, hash);
      // A side-branch block is stored with header checks only (it is executed if its branch
      // becomes the heaviest), so it is not relayed: only fully validated blocks travel on.
      if (res.status === 'side') return 'ignore';
      return 'accept';
    } catch (e) {
      const err = toStrataError(e);
      if (err.code === 'BLOCK_UNKNOWN_PARENT') {
        this.syncer?.trigger();
        return 'ignore';
      }
      // Our own fault (disk, engine) or shutdown: no verdict on the block or its sender.
      if (err.code === 'NODE_STOPPED' || err.code === 'INTERNAL' || isLocalFault(err)) return 'ignore';
      return this.invalidBlock(from, hash, err.code, err.message);
    }
  }

  /**
   * A gossiped block whose parent we lack: ask the sender for its status and sync. If its chain
   * shows no more work than ours, the orphan leads nowhere and costs the sender score.
   */
  private async orphanFrom(from: string, hash: Uint8Array): Promise<void> {
    const sync = this.syncer;
    const node = this.node;
    if (!sync || !node) return;
    const status = await sync.exchangeStatus(from);
    if (status && status.totalWork <= node.chain.head.meta.totalWork && !node.chain.store.hasBlock(hash)) {
      this.p2pNode?.penalize(from, USELESS_BLOCK_PENALTY, `gossip block ${toHex(hash)} with an unknown parent, but the peer shows no heavier chain`);
      return;
    }
    sync.trigger();
  }

  private invalidBlock(from: string, hash: Uint8Array, code: string, message: string): 'reject' {
    this.node?.log.warn({ peer: from, hash: toHex(hash), reason: code, error: message }, 'invalid block from peer');
    // The gossip layer takes GOSSIP_REJECTED for the reject; together they reach the ban threshold.
    this.p2pNode?.penalize(from, CHAIN_PENALTY.INVALID_BLOCK - PENALTY.GOSSIP_REJECTED, `invalid block ${toHex(hash)}: ${code}`);
    return 'reject';
  }

  private async validateTxs(data: Uint8Array, from: string): Promise<'accept' | 'reject' | 'ignore'> {
    const node = this.node;
    const p2p = this.p2pNode;
    if (!node || !p2p) return 'ignore';
    let raws: Uint8Array[];
    try {
      raws = decode(txBatchCodec(node.opts.config.maxTxBytes), data, data.length);
    } catch (e) {
      p2p.penalize(from, CHAIN_PENALTY.MALFORMED - PENALTY.GOSSIP_REJECTED, `malformed tx batch: ${toStrataError(e).message}`);
      return 'reject';
    }
    // Per-peer rate: beyond it the batch is dropped unread (and costs the peer a little).
    if (this.txLimiter && !this.txLimiter.take(from, raws.length)) {
      node.metrics.txsRejected.inc({ reason: 'RATE_LIMITED' }, raws.length);
      p2p.penalize(from, PENALTY.RATE_LIMITED, `${raws.length} gossiped transactions beyond ${this.txLimiter.limit.perSecond}/s`);
      return 'ignore';
    }
    const { accepted, invalid, unpayable } = await this.admitTxs(raws);
    if (invalid) {
      p2p.penalize(from, CHAIN_PENALTY.INVALID_TX - PENALTY.GOSSIP_REJECTED, `invalid transaction in batch: ${invalid.code} ${invalid.message}`);
      return 'reject';
    }
    if (unpayable > 0) p2p.penalize(from, Math.min(UNPAYABLE_PENALTY_MAX, unpayable * UNPAYABLE_PENALTY), `${unpayable} unpayable transactions in batch`);
    return accepted > 0 ? 'accept' : 'ignore';
  }

  /**
   * Offers raw transactions from a peer to the mempool (without re-gossip). Cheap checks come
   * first, on this thread, for every transaction: known or recently rejected hash, size,
   * decoding, and the stateless rules (chain id, compute, minimum fee, module and method). Only
   * the survivors have their senders recovered, in one batch on the worker pool; then nonce and
   * balance (which need the sender: a transaction names none) are checked by the mempool. The
   * first transaction invalid in itself stops the batch and is held against the peer; unpayable
   * ones are counted; misses of the moment (nonce just used, full pool) are not its fault.
   */
  private async admitTxs(raws: Uint8Array[]): Promise<{ accepted: number; invalid?: StrataError; unpayable: number }> {
    const node = this.node;
    let accepted = 0;
    let unpayable = 0;
    if (!node) return { accepted, unpayable };
    const cfg = node.opts.config;
    const todo: Uint8Array[] = [];
    // `counted`: acceptTx has already counted it in the metrics.
    const reject = (hash: string, err: StrataError, counted = false) => {
      if (!counted) node.metrics.txsRejected.inc({ reason: err.code });
      if (this.recentRejects.size >= RECENT_REJECTS) this.recentRejects.clear();
      this.recentRejects.add(hash);
    };
    for (const raw of raws) {
      const hash = txHashOf(raw);
      const hex = toHex(hash);
      if (node.mempool.has(hash) || this.recentRejects.has(hex)) continue;
      try {
        const tx = decodeTx(raw, cfg.maxTxBytes);
        // Stateless rules read the transaction and its size only, not the (unknown) sender.
        checkTxStatic(cfg, node.registry, { tx, bytes: raw, hash, sender: new Uint8Array(20) });
      } catch (e) {
        const err = toStrataError(e);
        reject(hex, err);
        if (INVALID_TX_CODES.has(err.code)) return { accepted, invalid: err, unpayable };
        continue;
      }
      todo.push(raw);
    }
    if (todo.length === 0) return { accepted, unpayable };
    let verified: VerifiedTx[];
    try {
      verified = await node.verifyTxs(todo);
    } catch (e) {
      const err = toStrataError(e);
      const at = typeof err.meta.index === 'number' ? (todo[err.meta.index] as Uint8Array | undefined) : undefined;
      if (at) reject(toHex(txHashOf(at)), err);
      return { accepted, invalid: err, unpayable };
    }
    for (const vtx of verified) {
      try {
        if (node.mempool.has(vtx.hash)) continue;
        node.acceptTx(vtx, { gossip: false });
        accepted++;
      } catch (e) {
        const err = toStrataError(e);
        if (UNPAYABLE_TX_CODES.has(err.code)) {
          unpayable++;
          reject(toHex(vtx.hash), err, true);
        }
      }
    }
    return { accepted, unpayable };
  }

  // ----------------------------------------------------------------- request handlers

  private async serveMempool(req: Uint8Array, from: string): Promise<Uint8Array> {
    const node = this.node;
    if (!node) throw new StrataError('NETWORK', 'node not running');
    if (req.length !== 0) {
      this.p2pNode?.penalize(from, CHAIN_PENALTY.MALFORMED, 'malformed mempool request');
      throw new StrataError('DECODE_INVALID', 'a mempool request is empty');
    }
    const out: Uint8Array[] = [];
    let bytes = 0;
    for (const t of node.mempool.all()) {
      if (out.length >= MAX_TXS_PER_BATCH || bytes + t.bytes.length + 8 > MAX_MEMPOOL_RESPONSE_BYTES) break;
      out.push(t.bytes);
      bytes += t.bytes.length + 8;
    }
    return encode(txBatchCodec(node.opts.config.maxTxBytes), out);
  }


  private async serveStatus(req: Uint8Array, from: string): Promise<Uint8Array> {
    const sync = this.requireSync();
    let theirs: Status;
    try {
      theirs = decodeStatus(req);
    } catch (e) {
      this.p2pNode?.penalize(from, CHAIN_PENALTY.MALFORMED, `malformed status request: ${toStrataError(e).message}`);
      throw e;
    }
    const ours = encodeStatus(sync.localStatus());
    if (sync.noteStatus(from, theirs)) sync.trigger();
    return ours;
  }

  private requireSync(): BlockSync {
    if (!this.syncer) throw new StrataError('NODE_STOPPED', 'p2p network is not started');
    return this.syncer;
  }

  private range(req: Uint8Array, from: string, max: number): { start: number; count: number } {
    try {
      const r = decodeRange(req);
      return { start: r.start, count: Math.min(r.count, max) };
    } catch (e) {
      this.p2pNode?.penalize(from, CHAIN_PENALTY.MALFORMED, `malformed range request: ${toStrataError(e).message}`);
      throw e;
    }
  }

  private async serveHeaders(req: Uint8Array, from: string): Promise<Uint8Array> {
    const store = this.requireNode().chain.store;
    const { start, count } = this.range(req, from, MAX_HEADERS_PER_REQUEST);
    const out: Uint8Array[] = [];
    for (let h = start; h < start + count; h++) {
      const hash = store.getCanonical(h);
      const header = hash && store.getHeader(hash);
      if (!header) break;
      out.push(encodeHeader(header));
    }
    return encode(HeadersCodec, out);
  }

  private encodeBlocks(hashes: Iterable<Uint8Array | undefined>): Uint8Array {
    const store = this.requireNode().chain.store;
    const out: Uint8Array[] = [];
    let bytes = 0;
    for (const hash of hashes) {
      if (!hash) break;
      const header = store.getHeader(hash);
      const body = store.getBody(hash);
      if (!header || !body) break;
      const enc = encodeBlock({ header, txs: body });
      // Stop before the response limit; the requester asks again for the rest.
      if (out.length > 0 && bytes + enc.length > MAX_BLOCKS_RESPONSE_BYTES) break;
      bytes += enc.length + 8;
      out.push(enc);
    }
    return encode(BlocksCodec, out);
  }

  private async serveBlocksByRange(req: Uint8Array, from: string): Promise<Uint8Array> {
    const store = this.requireNode().chain.store;
    const { start, count } = this.range(req, from, MAX_BLOCKS_PER_REQUEST);
    const hashes: (Uint8Array | undefined)[] = [];
    for (let h = start; h < start + count; h++) hashes.push(store.getCanonical(h));
    return this.encodeBlocks(hashes);
  }

  private async serveBlocksByHash(req: Uint8Array, from: string): Promise<Uint8Array> {
    let hashes: Uint8Array[];
    try {
      hashes = decode(HashesCodec, req, PROTOCOL_LIMITS.blocks.maxRequestBytes);
    } catch (e) {
      this.p2pNode?.penalize(from, CHAIN_PENALTY.MALFORMED, `malformed blocks-by-hash request: ${toStrataError(e).message}`);
      throw e;
    }
    return this.encodeBlocks(hashes);
  }

  private requireNode(): StrataNode {
    if (!this.node) throw new StrataError('NODE_STOPPED', 'p2p network is not started');
    return this.node;
  }
}
