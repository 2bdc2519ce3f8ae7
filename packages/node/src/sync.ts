/**
 * Block sync: keeps a table of what each peer says about its chain (status handshake, refreshed
 * periodically and from gossip) and, whenever a peer shows more total work than our head, pulls
 * its chain — first the common ancestor, then headers in batches (linkage and proof of work
 * checked before any body is fetched), then the bodies by hash, imported in batches through the
 * node's serialised import queue. Always syncs from the peer showing the HEAVIEST chain.
 * Every peer answer is checked; bad ones penalise the peer and abort that sync, never the node.
 */
import type { VerifiedTx } from '@strata/runtime';
import { type Block, type BlockHeader, blockHash, DEFAULT_MAX_FUTURE_MS, decodeBlock, decodeHeader, MEDIAN_TIME_SPAN, medianTimestamp, meetsTarget, nextTarget, workOf } from '@strata/chain';
import type { ChainConfig } from '@strata/runtime';
import { bytesEqual, decode, encode, isLocalFault, StrataError, toHex, toStrataError } from '@strata/primitives';
import type { StrataNode } from './node.js';
import {
  BlocksCodec,
  decodeStatus,
  encodeRange,
  encodeStatus,
  HashesCodec,
  HeadersCodec,
  MAX_BLOCKS_PER_REQUEST,
  MAX_BLOCKS_RESPONSE_BYTES,
  MAX_HEADER_BYTES,
  MAX_HEADERS_PER_REQUEST,
  MAX_MEMPOOL_RESPONSE_BYTES,
  PROTO_BLOCKS_HASH,
  PROTO_HEADERS,
  PROTO_STATUS,
  type Status,
} from './wire.js';

/** Points a peer loses for chain-level misbehaviour (the ban threshold is -100). */
export const CHAIN_PENALTY = {
  /** A block that fails validation (bad PoW, target, state root, signatures…): banned at once. */
  INVALID_BLOCK: 100,
  /** A message or response that does not decode, or headers that do not link. */
  MALFORMED: 50,
  /** A transaction batch holding an invalid transaction (bad signature, wrong chain). */
  INVALID_TX: 30,
  /** Claimed a heavier chain it then could not serve. */
  USELESS: 10,
  /** Announced a total work its own headers do not add up to. */
  LIED_ABOUT_WORK: 100,
  /** Served a header stamped beyond our clock's allowance (valid later, so not a ban at once). */
  FUTURE_HEADER: 10,
} as const;

/**
 * Largest encoded block a peer may send for a chain: the chain's block limit (on transaction
 * bytes) plus the header and the per-transaction encoding overhead (at most 4 bytes for a
 * transaction of 67+ bytes, i.e. under 1/16 of the limit), not a fixed wire maximum.
 */
export function maxWireBlockBytes(cfg: ChainConfig): number {
  return cfg.maxBlockBytes + Math.ceil(cfg.maxBlockBytes / 16) + 2048;
}

/** Most checked headers held (before their branch shows more work than our head) in one sync. */
const MAX_HELD_HEADERS = 100_000;
/** Body requests kept in flight ahead of the import. */
const PREFETCH = 3;

/** Limits of the request/response protocols (both sides use the same values). */
export const PROTOCOL_LIMITS = {
  status: { maxRequestBytes: 512, maxResponseBytes: 512, timeoutMs: 5_000 },
  headers: { maxRequestBytes: 64, maxResponseBytes: MAX_HEADERS_PER_REQUEST * (MAX_HEADER_BYTES + 4) + 16, timeoutMs: 10_000 },
  blocks: { maxRequestBytes: MAX_BLOCKS_PER_REQUEST * 33 + 16, maxResponseBytes: MAX_BLOCKS_RESPONSE_BYTES + 1024, timeoutMs: 20_000 },
  mempool: { maxRequestBytes: 16, maxResponseBytes: MAX_MEMPOOL_RESPONSE_BYTES + 1024, timeoutMs: 10_000 },
} as const;

/** What a sync needs from the p2p layer (a P2PNode satisfies it). */
export interface SyncTransport {
  request(peerId: string, protocol: string, req: Uint8Array, opts: { maxRequestBytes: number; maxResponseBytes: number; timeoutMs?: number }): Promise<Uint8Array>;
  penalize(peerId: string, points: number, reason: string): void;
  isBanned(peerId: string): boolean;
  ban(peerId: string, reason: string, seconds?: number): void;
}

/** Settings of the sync. */
export interface SyncOptions {
  /** Headers per request (default 1024, at most MAX_HEADERS_PER_REQUEST). */
  headerBatch?: number;
  /** Blocks per bodies request and per import batch (default 256). */
  bodyBatch?: number;
  /** Before the first sync, wait this long for more peer statuses (default 300 ms). */
  initialWaitMs?: number;
}

interface PeerChain {
  status: Status;
  updatedAt: number;
  /** Head hash we failed to make progress on; skipped until the peer's head changes. */
  stuckOn?: string;
  retryAt: number;
}

/** Counters and state of the sync, for RPC and logs. */
export interface SyncState {
  syncing: boolean;
  peer: string | null;
  targetHeight: number | null;
  syncs: number;
  blocksImported: number;
  lastSync: { peer: string; from: number; to: number; blocks: number; ms: number; blocksPerSec: number } | null;
}

/** The block sync of one node. */
export class BlockSync {
  private readonly peers = new Map<string, PeerChain>();
  private running: Promise<void> | undefined;
  private rerun = false;
  private stopped = false;
  private readonly headerBatch: number;
  private readonly bodyBatch: number;
  private readonly initialWaitMs: number;
  readonly state: SyncState = { syncing: false, peer: null, targetHeight: null, syncs: 0, blocksImported: 0, lastSync: null };

  constructor(
    private readonly node: StrataNode,
    private readonly net: SyncTransport,
    opts: SyncOptions = {},
  ) {
    this.headerBatch = Math.min(opts.headerBatch ?? MAX_HEADERS_PER_REQUEST, MAX_HEADERS_PER_REQUEST);
    this.bodyBatch = Math.min(opts.bodyBatch ?? 256, MAX_BLOCKS_PER_REQUEST);
    this.initialWaitMs = opts.initialWaitMs ?? 300;
  }

  /** Our own status. */
  localStatus(): Status {
    const head = this.node.chain.head;
    return {
      genesis: this.node.chain.genesisHash,
      headHash: head.hash,
      headHeight: head.meta.height,
      totalWork: head.meta.totalWork,
      finalizedHeight: Math.max(0, head.meta.height - this.node.opts.config.confirmations),
    };
  }

  /**
   * Records a peer's status (from a handshake in either direction). A peer on another genesis is
   * banned; returns false then.
   */
  noteStatus(peer: string, status: Status): boolean {
    if (!bytesEqual(status.genesis, this.node.chain.genesisHash)) {
      this.node.log.warn({ peer, theirGenesis: toHex(status.genesis), ourGenesis: toHex(this.node.chain.genesisHash) }, 'peer is on another genesis; disconnecting');
      this.peers.delete(peer);
      this.net.ban(peer, 'different genesis');
      return false;
    }
    const prev = this.peers.get(peer);
    const changed = !prev || !bytesEqual(prev.status.headHash, status.headHash);
    this.peers.set(peer, {
      status,
      updatedAt: Date.now(),
      retryAt: changed ? 0 : (prev?.retryAt ?? 0),
      ...(!changed && prev?.stuckOn !== undefined ? { stuckOn: prev.stuckOn } : {}),
    });
    return true;
  }

  /** Raises a peer's known head after it relayed a block we imported (no request needed). */
  noteBlockFrom(peer: string, hash: Uint8Array): void {
    const p = this.peers.get(peer);
    const meta = this.node.chain.store.getMeta(hash);
    if (!p || !meta || meta.totalWork <= p.status.totalWork) return;
    p.status = { ...p.status, headHash: hash, headHeight: meta.height, totalWork: meta.totalWork };
    p.updatedAt = Date.now();
  }

  /** Forgets a disconnected peer. */
  removePeer(peer: string): void {
    this.peers.delete(peer);
  }

  /** Peers we hold a status for. */
  knownPeers(): { peer: string; headHeight: number; totalWork: bigint }[] {
    return [...this.peers].map(([peer, p]) => ({ peer, headHeight: p.status.headHeight, totalWork: p.status.totalWork }));
  }

  /**
   * Status handshake with a peer: sends ours, records theirs. Malformed answers penalise the
   * peer; network failures are returned as undefined (the caller may retry or hang up).
   */
  async exchangeStatus(peer: string): Promise<Status | undefined> {
    let body: Uint8Array;
    try {
      body = await this.net.request(peer, PROTO_STATUS, encodeStatus(this.localStatus()), PROTOCOL_LIMITS.status);
    } catch (e) {
      this.node.log.debug({ peer, err: toStrataError(e).message }, 'status request failed');
      return undefined;
    }
    let status: Status;
    try {
      status = decodeStatus(body);
    } catch (e) {
      this.net.penalize(peer, CHAIN_PENALTY.MALFORMED, `malformed status: ${toStrataError(e).message}`);
      return undefined;
    }
    return this.noteStatus(peer, status) ? status : undefined;
  }

  /** Starts a sync round in the background unless one is running (then it re-runs after). */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.rerun && !this.stopped) {
        this.rerun = false;
        this.trigger();
      }
    });
  }

  /** Stops starting new rounds and waits for the current one. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** The connected peer showing the most total work above ours, if any. */
  bestPeer(): { peer: string; status: Status } | undefined {
    const ours = this.node.chain.head.meta.totalWork;
    const now = Date.now();
    let best: { peer: string; status: Status } | undefined;
    for (const [peer, p] of this.peers) {
      if (p.status.totalWork <= ours || this.net.isBanned(peer) || now < p.retryAt) continue;
      if (p.stuckOn === toHex(p.status.headHash)) continue;
      if (!best || p.status.totalWork > best.status.totalWork) best = { peer, status: p.status };
    }
    return best;
  }

  /** Another usable peer showing more total work than `status` (the chain being synced), if any. */
  private heavierThan(peer: string, status: Status): string | undefined {
    const best = this.bestPeer();
    return best && best.peer !== peer && best.status.totalWork > status.totalWork ? best.peer : undefined;
  }

  private async loop(): Promise<void> {
    if (this.state.syncs === 0 && this.initialWaitMs > 0) {
      // First sync: give the handshakes with the other bootnodes a moment, so we choose the
      // heaviest chain on offer rather than the first peer to answer.
      await new Promise((r) => setTimeout(r, this.initialWaitMs));
    }
    for (let round = 0; round < 1000 && !this.stopped; round++) {
      const best = this.bestPeer();
      if (!best) return;
      const p = this.peers.get(best.peer);
      const before = this.node.chain.head.meta.totalWork;
      try {
        await this.syncFrom(best.peer, best.status);
      } catch (e) {
        const err = toStrataError(e);
        this.node.log.warn({ peer: best.peer, reason: err.code, error: err.message }, 'sync failed');
        if (p) p.retryAt = Date.now() + 1000;
      } finally {
        this.state.syncing = false;
        this.state.peer = null;
        this.state.targetHeight = null;
      }
      // No progress toward a heavier chain (e.g. it forks below our finalized block): stop
      // trying that head until the peer shows another one.
      if (p && this.node.chain.head.meta.totalWork <= before && this.node.chain.head.meta.totalWork < best.status.totalWork) {
        p.stuckOn = toHex(best.status.headHash);
      }
    }
  }

  private async headersRange(peer: string, start: number, count: number): Promise<BlockHeader[]> {
    const body = await this.net.request(peer, PROTO_HEADERS, encodeRange({ start, count }), PROTOCOL_LIMITS.headers);
    try {
      const raw = decode(HeadersCodec, body, PROTOCOL_LIMITS.headers.maxResponseBytes);
      if (raw.length > count) throw new StrataError('DECODE_INVALID', `asked for ${count} headers, got ${raw.length}`);
      return raw.map((h) => decodeHeader(h));
    } catch (e) {
      const err = toStrataError(e);
      this.net.penalize(peer, CHAIN_PENALTY.MALFORMED, `malformed headers response: ${err.message}`);
      throw new StrataError('DECODE_INVALID', `peer ${peer} sent malformed headers: ${err.message}`, { peer });
    }
  }

  private async blocksByHash(peer: string, hashes: Uint8Array[]): Promise<Block[]> {
    const out: Block[] = [];
    let rest = hashes;
    while (rest.length > 0) {
      const body = await this.net.request(peer, PROTO_BLOCKS_HASH, encode(HashesCodec, rest), PROTOCOL_LIMITS.blocks);
      let blocks: Block[];
      try {
        const cap = maxWireBlockBytes(this.node.opts.config);
        blocks = decode(BlocksCodec, body, PROTOCOL_LIMITS.blocks.maxResponseBytes).map((b) => {
          if (b.length > cap) throw new StrataError('DECODE_OVERSIZED', `block of ${b.length} bytes exceeds the chain's block limit (${cap} on the wire)`);
          return decodeBlock(b, cap);
        });
      } catch (e) {
        const err = toStrataError(e);
        this.net.penalize(peer, CHAIN_PENALTY.MALFORMED, `malformed blocks response: ${err.message}`);
        throw new StrataError('DECODE_INVALID', `peer ${peer} sent malformed blocks: ${err.message}`, { peer });
      }
      if (blocks.length === 0) throw new StrataError('NETWORK', `peer ${peer} does not have the blocks it announced`, { peer });
      for (let i = 0; i < blocks.length; i++) {
        if (i >= rest.length || !bytesEqual(blockHash((blocks[i] as Block).header), rest[i] as Uint8Array)) {
          this.net.penalize(peer, CHAIN_PENALTY.MALFORMED, 'blocks response does not match the requested hashes');
          throw new StrataError('DECODE_INVALID', `peer ${peer} answered blocks-by-hash with other blocks`, { peer });
        }
      }
      out.push(...blocks);
      rest = rest.slice(blocks.length);
    }
    return out;
  }

  /** Highest block of the peer's canonical chain that we hold too (at worst genesis). */
  private async findAncestor(peer: string, status: Status): Promise<{ height: number; hash: Uint8Array }> {
    const store = this.node.chain.store;
    let top = Math.min(this.node.chain.head.meta.height, status.headHeight);
    let step = 32;
    for (;;) {
      const start = Math.max(0, top - step + 1);
      const headers = await this.headersRange(peer, start, top - start + 1);
      for (let i = headers.length - 1; i >= 0; i--) {
        const h = headers[i] as BlockHeader;
        const hash = blockHash(h);
        const meta = store.getMeta(hash);
        if (meta && meta.status !== 'invalid') return { height: h.height, hash };
      }
      if (start === 0) throw new StrataError('NETWORK', `peer ${peer} shares no block with us, not even genesis`, { peer });
      top = start - 1;
      step = Math.min(step * 4, this.headerBatch);
    }
  }

  /**
   * Checks that headers link to `parent` and each other, that each declares the target the
   * retarget rule gives along this header chain (not just any target it meets), and meets it.
   * `along` holds the headers of this sync checked so far, by height (for the retarget window).
   */
  private checkHeaders(peer: string, parent: { height: number; hash: Uint8Array }, headers: BlockHeader[], along: Map<number, BlockHeader>): Uint8Array[] {
    const cfg = this.node.opts.config;
    const pow = cfg.pow.enabled;
    const hashes: Uint8Array[] = [];
    let prev = parent;
    let prevHeader = along.get(parent.height) ?? this.node.chain.store.getHeader(parent.hash);
    // Timestamps of the parent and up to ten ancestors (oldest first), rolled along the headers:
    // each header must be above their median (median-time-past) and at most maxFutureMs ahead
    // of our clock, as the import would require, before any body is asked for.
    const recent = prevHeader ? this.timestampsUpTo(prevHeader, along) : undefined;
    const latest = this.node.now() + (this.node.opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS);
    for (const h of headers) {
      const hash = blockHash(h);
      if (h.height !== prev.height + 1 || !bytesEqual(h.parentHash, prev.hash)) {
        throw new StrataError('BLOCK_INVALID', `header ${h.height} from ${peer} does not link to its predecessor`, { peer });
      }
      if (recent) {
        const mtp = medianTimestamp(recent);
        if (h.timestamp <= mtp) {
          // Never valid, whatever the clock: as a bad proof of work.
          this.net.penalize(peer, CHAIN_PENALTY.INVALID_BLOCK, `header ${toHex(hash)} has timestamp ${h.timestamp}, not above the median ${mtp} of the last ${MEDIAN_TIME_SPAN} blocks`);
          throw new StrataError('BLOCK_BAD_TIMESTAMP', `header ${h.height} from ${peer} is not after the median time of the ${MEDIAN_TIME_SPAN} blocks before it`, {
            peer,
            height: h.height,
            timestamp: h.timestamp,
            medianTimePast: mtp,
          });
        }
        recent.push(h.timestamp);
        if (recent.length > MEDIAN_TIME_SPAN) recent.shift();
      }
      if (h.timestamp > latest) {
        // Acceptable later (our clock may lag), so not a ban: but no body is fetched for it now,
        // and a peer that keeps serving such headers runs out of score.
        this.net.penalize(peer, CHAIN_PENALTY.FUTURE_HEADER, `header ${toHex(hash)} is stamped ${h.timestamp - latest} ms beyond our clock's allowance`);
        throw new StrataError('BLOCK_BAD_TIMESTAMP', `header ${h.height} from ${peer} is stamped too far ahead of this node's clock; refused for now`, {
          peer,
          height: h.height,
          timestamp: h.timestamp,
          latest,
        });
      }
      if (pow && prevHeader) {
        const want = this.expectedTarget(h.height, prevHeader, along);
        if (want && !bytesEqual(want, h.target)) {
          this.net.penalize(peer, CHAIN_PENALTY.INVALID_BLOCK, `header ${toHex(hash)} declares a target the retarget rule does not give`);
          throw new StrataError('BLOCK_BAD_TARGET', `header ${h.height} from ${peer} declares the wrong target`, { peer, height: h.height });
        }
      }
      if (pow && !meetsTarget(hash, h.target)) {
        this.net.penalize(peer, CHAIN_PENALTY.INVALID_BLOCK, `header ${toHex(hash)} fails proof of work`);
        throw new StrataError('BLOCK_BAD_POW', `header ${h.height} from ${peer} does not meet its target`, { peer });
      }
      along.set(h.height, h);
      hashes.push(hash);
      prev = { height: h.height, hash };
      prevHeader = h;
    }
    return hashes;
  }

  /**
   * Timestamps of `parent` and up to ten of its ancestors, oldest first (this sync's headers,
   * then our store along the parent links), as Chain.medianTimePast reads them. Undefined when an
   * ancestor is missing (the import decides).
   */
  private timestampsUpTo(parent: BlockHeader, along: Map<number, BlockHeader>): number[] | undefined {
    const ts = [parent.timestamp];
    let h: BlockHeader | undefined = parent;
    while (ts.length < MEDIAN_TIME_SPAN && h.height > 0) {
      const below: BlockHeader | undefined = along.get(h.height - 1);
      h = below && bytesEqual(blockHash(below), h.parentHash) ? below : this.node.chain.store.getHeader(h.parentHash);
      if (!h) return undefined;
      ts.push(h.timestamp);
    }
    return ts.reverse();
  }

  /**
   * Target the block at `height` must declare, given its parent header, as Chain.expectedTarget
   * computes it: the window's first block comes from this sync's headers or, below them, from
   * our store along the parent links. Undefined when an ancestor is missing (the import decides).
   */
  private expectedTarget(height: number, parent: BlockHeader, along: Map<number, BlockHeader>): Uint8Array | undefined {
    const cfg = this.node.opts.config;
    const n = cfg.pow.retargetInterval;
    if (height % n !== 0 || height - n - 1 < 0) return nextTarget(cfg, height, parent.target, parent.timestamp, undefined);
    const startHeight = height - n - 1;
    let h: BlockHeader | undefined = parent;
    while (h && h.height > startHeight) {
      const below: BlockHeader | undefined = along.get(h.height - 1);
      h = below && bytesEqual(blockHash(below), h.parentHash) ? below : this.node.chain.store.getHeader(h.parentHash);
    }
    if (!h) return undefined;
    return nextTarget(cfg, height, parent.target, parent.timestamp, h.timestamp);
  }

  /** Pulls the peer's chain from our common ancestor up to its announced head. */
  private async syncFrom(peer: string, status: Status): Promise<void> {
    const started = Date.now();
    const startHeight = this.node.chain.head.meta.height;
    this.state.syncing = true;
    this.state.peer = peer;
    this.state.targetHeight = status.headHeight;
    this.state.syncs++;
    let cursor = await this.findAncestor(peer, status);
    this.node.log.info(
      { peer, ourHeight: startHeight, theirHeight: status.headHeight, ancestor: cursor.height, theirWork: status.totalWork.toString() },
      'sync started',
    );
    let imported = 0;
    let lastLog = Date.now();
    let relinks = 0;
    // The next header batch is requested while this batch's bodies download and import.
    let nextHeaders: { from: number; p: Promise<BlockHeader[]> } | undefined;
    const requestHeaders = (from: number) => {
      const count = Math.min(this.headerBatch, status.headHeight - from + 1);
      const p = this.headersRange(peer, from, count);
      p.catch(() => undefined);
      return { from, p };
    };
    let switchTo: string | undefined;
    // Headers of this sync by height, for the retarget window (only the last interval is kept).
    const along = new Map<number, BlockHeader>();
    const window = Math.max(this.node.opts.config.pow.retargetInterval + 2, MEDIAN_TIME_SPAN + 1);
    // Headers-first: `hdr` is the last checked header and the work of the branch up to it. No
    // body is asked for until the branch shows more work than our head: until then checked
    // headers are held (bounded), as Bitcoin downloads headers before blocks.
    const ancestorWork = (c: { hash: Uint8Array }) => this.node.chain.store.getMeta(c.hash)?.totalWork ?? 0n;
    let hdr = { ...cursor, work: ancestorWork(cursor) };
    let held: Uint8Array[] = [];
    while (hdr.height < status.headHeight && !this.stopped && !switchTo) {
      const pending = nextHeaders && nextHeaders.from === hdr.height + 1 ? nextHeaders : requestHeaders(hdr.height + 1);
      nextHeaders = undefined;
      const headers = await pending.p;
      if (headers.length === 0) {
        // The peer announced a heavier head but serves no headers towards it: a broken promise
        // (free to repeat with a fresh head hash in every status), so it costs score.
        this.net.penalize(peer, CHAIN_PENALTY.USELESS, `announced head ${status.headHeight} (work ${status.totalWork}) but serves no headers above ${hdr.height}`);
        throw new StrataError('NETWORK', `peer ${peer} announced a head at height ${status.headHeight} but serves no headers above ${hdr.height}`, { peer });
      }
      const lastHeight = (headers[headers.length - 1] as BlockHeader).height;
      if (lastHeight < status.headHeight) nextHeaders = requestHeaders(lastHeight + 1);
      if (!bytesEqual((headers[0] as BlockHeader).parentHash, hdr.hash)) {
        // The peer reorganised since we found the ancestor; find it again (a few times at most).
        if (++relinks > 3) throw new StrataError('NETWORK', `peer ${peer} keeps changing its chain during sync`, { peer });
        cursor = await this.findAncestor(peer, status);
        hdr = { ...cursor, work: ancestorWork(cursor) };
        held = [];
        along.clear();
        continue;
      }
      let checked: Uint8Array[];
      try {
        checked = this.checkHeaders(peer, hdr, headers, along);
      } catch (e) {
        const err = toStrataError(e);
        if (err.code === 'BLOCK_INVALID') this.net.penalize(peer, CHAIN_PENALTY.MALFORMED, err.message);
        throw err;
      }
      for (const height of along.keys()) if (height < lastHeight - window) along.delete(height);
      let work = hdr.work;
      for (const h of headers) work += workOf(h.target);
      const lastHash = checked[checked.length - 1] as Uint8Array;
      hdr = { height: lastHeight, hash: lastHash, work };
      // The headers reach the head the peer announced: their work must be the work it claimed
      // (work is a function of the targets), before a single body is asked for.
      if (lastHeight === status.headHeight && bytesEqual(lastHash, status.headHash) && work !== status.totalWork) {
        this.net.penalize(peer, CHAIN_PENALTY.LIED_ABOUT_WORK, `announced total work ${status.totalWork} but its headers add up to ${work}`);
        throw new StrataError('BLOCK_INVALID', `peer ${peer} lied about its total work`, { peer, claimed: status.totalWork.toString(), actual: work.toString() });
      }
      held = held.concat(checked);
      if (work <= this.node.chain.head.meta.totalWork) {
        if (lastHeight >= status.headHeight) {
          this.net.penalize(peer, CHAIN_PENALTY.USELESS, `announced work ${status.totalWork} but its headers up to ${lastHeight} add up to ${work}`);
          throw new StrataError('NETWORK', `peer ${peer}'s chain changed and is no heavier than ours`, { peer });
        }
        if (held.length > MAX_HELD_HEADERS) {
          this.net.penalize(peer, CHAIN_PENALTY.USELESS, `${held.length} headers without more work than our head`);
          throw new StrataError('NETWORK', `peer ${peer} sent ${held.length} headers of a branch no heavier than ours`, { peer });
        }
        continue;
      }
      const hashes = held;
      held = [];
      // Bodies by hash of the checked headers, one request ahead of the import.
      const chunks: Uint8Array[][] = [];
      for (let i = 0; i < hashes.length; i += this.bodyBatch) chunks.push(hashes.slice(i, i + this.bodyBatch));
      // Bodies are requested PREFETCH chunks ahead of the import, so download and import overlap.
      // Each chunk's senders are recovered on the worker pool as soon as it arrives, so
      // download, signature recovery and import all overlap.
      const inflight: Promise<{ blocks: Block[]; verified: Promise<VerifiedTx[]> }>[] = [];
      const fetchChunk = (c: number) => {
        if (c >= chunks.length) return;
        const p = this.blocksByHash(peer, chunks[c] as Uint8Array[]).then((blocks) => {
          const verified = this.node.verifyBlockTxs(blocks);
          verified.catch(() => undefined);
          return { blocks, verified };
        });
        // Keep a rejected prefetch from surfacing as an unhandled rejection if we abort below.
        p.catch(() => undefined);
        inflight.push(p);
      };
      for (let c = 0; c < PREFETCH; c++) fetchChunk(c);
      for (let c = 0; c < chunks.length; c++) {
        // A peer that has meanwhile shown a heavier chain than this one wins: stop here (what is
        // imported stays) and let the next round sync from it.
        switchTo = this.heavierThan(peer, status);
        if (switchTo) break;
        const { blocks, verified } = await (inflight.shift() as Promise<{ blocks: Block[]; verified: Promise<VerifiedTx[]> }>);
        fetchChunk(c + PREFETCH);
        const res = await this.node.importNetworkBlocks(blocks, peer, verified);
        imported += res.results.filter((r) => r.status !== 'known').length;
        this.state.blocksImported += res.results.length;
        if (res.failure) {
          const err = res.failure.error;
          if (err.code !== 'BLOCK_UNKNOWN_PARENT' && err.code !== 'BLOCK_BAD_TIMESTAMP' && !isLocalFault(err)) {
            this.net.penalize(peer, CHAIN_PENALTY.INVALID_BLOCK, `invalid block during sync: ${err.code} ${err.message}`);
          }
          throw err;
        }
        const last = blocks[blocks.length - 1] as Block;
        cursor = { height: last.header.height, hash: blockHash(last.header) };
        if (Date.now() - lastLog > 2000) {
          lastLog = Date.now();
          this.node.log.info({ peer, height: cursor.height, target: status.headHeight, imported }, 'sync progress');
        }
      }
    }
    if (switchTo) {
      this.node.log.info({ peer, height: cursor.height, target: status.headHeight, heavierPeer: switchTo }, 'sync switching to a peer with a heavier chain');
    }
    const ms = Date.now() - started;
    const blocksPerSec = ms > 0 ? Math.round((imported * 1000) / ms) : imported;
    this.state.lastSync = { peer, from: startHeight, to: this.node.chain.head.meta.height, blocks: imported, ms, blocksPerSec };
    this.node.log.info({ peer, height: this.node.chain.head.meta.height, imported, ms, blocksPerSec }, 'sync done');
  }
}
