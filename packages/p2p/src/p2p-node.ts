/**
 * P2PNode: one libp2p v3 host (TCP + noise + yamux, identify, gossipsub) wrapped in the small
 * surface a Strata node needs — gossip topics with application validators, request/response
 * protocols with size limits and timeouts, and peer scoring with bans. It knows nothing about
 * blocks or transactions: the chain node registers validators and handlers.
 */
// Must stay the first import: installs Promise.withResolvers before any libp2p module runs.
import './polyfill.js';
import { type GossipSub, type Message, TopicValidatorResult, gossipsub } from '@libp2p/gossipsub';
import { type Identify, identify } from '@libp2p/identify';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { StrataError, blake2b256Parts, decode, encode, initHashing, isStrataError, toStrataError, utf8 } from '@strata/primitives';
import { createLibp2p } from 'libp2p';
import type { Logger } from 'pino';
import {
  STATUS_OK,
  decodeResponseFrame,
  encodeErrorFrame,
  encodeFrame,
  encodeResponseFrame,
  encodeVarint,
  maxResponseFrameBytes,
} from './frame.js';
import { AddressBook, isLoopbackAddr, MAX_EXCHANGE_ADDRS, type KnownPeer, PeerAddrsCodec } from './address-book.js';
import { loadOrCreateNodeKey } from './node-key.js';
import { RateLimiter } from './rate-limiter.js';
import { ClientSession, serveSession, type SessionOptions } from './session.js';
import { type P2POptions, type ResolvedP2POptions, resolveP2POptions } from './options.js';
import { PENALTY, PeerScoreBook } from './peer-score-book.js';
import { readFrame, toPlainBytes, writeAndClose } from './stream-io.js';
import { withWriteBatching } from './write-batching.js';

/** What an application gossip validator decides about one message. */
export type GossipVerdict = 'accept' | 'reject' | 'ignore';

/**
 * Validates one gossip message before it is delivered or relayed. `from` is the peer that relayed
 * it to us (messages are unsigned at the libp2p level, so there is no original author). 'accept'
 * delivers and relays it; 'ignore' drops it silently; 'reject' drops it and penalises `from`.
 * Throwing (or returning anything else) counts as 'reject'.
 */
export type GossipValidator = (data: Uint8Array, from: string) => GossipVerdict | Promise<GossipVerdict>;

/** Limits of a request/response protocol; both sides should use the same values. */
export interface ProtocolHandlerOptions {
  /** Largest request payload in bytes. */
  maxRequestBytes: number;
  /** Largest response payload in bytes. */
  maxResponseBytes: number;
  /** Deadline for the whole exchange in milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** A connected peer. */
export interface PeerInfo {
  /** Peer id (base58btc). */
  id: string;
  /** Remote addresses of the open connections to it. */
  addrs: string[];
  /** Application-level score (0 = clean; at or below the ban threshold the peer is banned). */
  score: number;
  /** gossipsub's router score of the peer (which also counts our application score at half weight). */
  gossipScore: number;
  /** Who opened the (first) connection. */
  direction: 'inbound' | 'outbound';
}

/** Events a P2PNode emits; listeners receive the peer id. */
export type P2PEvent = 'peer:connect' | 'peer:disconnect';

/** Dependencies of a P2PNode. */
export interface P2PDeps {
  /** pino logger; one line per connect, disconnect, penalty and ban. */
  logger?: Logger;
}

/** Request deadline when `timeoutMs` is not given. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Deadline of an explicit `dial`. */
const DIAL_TIMEOUT_MS = 10_000;
/** First and longest wait between re-dials of a disconnected bootnode. */
const BOOTNODE_MIN_BACKOFF_MS = 1_000;
const BOOTNODE_MAX_BACKOFF_MS = 60_000;
/** A bootnode connection that lasted this long resets the re-dial backoff. */
const BOOTNODE_STABLE_MS = 10_000;
/**
 * Slack above `maxGossipBytes` for a whole gossipsub RPC frame (topic, control messages such as
 * IHAVE id lists, protobuf overhead). Frames beyond it break the sender's gossip stream.
 */
const GOSSIP_FRAME_SLACK = 512 * 1024;
/** The peer-exchange protocol (`/strata/<networkId>/req/peers/1`): empty request, a list of multiaddrs back. */
export const PROTO_PEERS = 'peers/1';
/** Limits of the peer-exchange protocol. */
export const PEERS_LIMITS: ProtocolHandlerOptions = { maxRequestBytes: 0, maxResponseBytes: MAX_EXCHANGE_ADDRS * 260 + 16, timeoutMs: 5_000 };
/** Inbound streams of one protocol open at once on one connection; more are reset by libp2p. */
export const MAX_INBOUND_STREAMS_PER_PROTOCOL = 16;
/** A peer is asked for addresses at most this often. */
const EXCHANGE_MIN_INTERVAL_MS = 60_000;
/** Most dials one discovery round starts. */
const DIALS_PER_ROUND = 4;

/** The IP of a multiaddr that starts with /ip4 or /ip6, if any. */
export function ipOfMultiaddr(ma: Multiaddr | string): string | undefined {
  try {
    const c = (typeof ma === 'string' ? multiaddr(ma) : ma).getComponents()[0];
    return c !== undefined && (c.name === 'ip4' || c.name === 'ip6') ? c.value : undefined;
  } catch {
    return undefined;
  }
}

/** Domain separation of gossip message ids (exactly 16 bytes, as blake2b personalization requires). */
const GOSSIP_ID_PERSONAL = utf8('strata-gossip-id');

/** Gossip topic string on the wire for an application topic: `/strata/<networkId>/gossip/<topic>`. */
export function gossipTopicId(networkId: string, topic: string): string {
  return `/strata/${networkId}/gossip/${topic}`;
}

/** libp2p protocol id for an application protocol: `/strata/<networkId>/req/<protocol>`. */
export function protocolId(networkId: string, protocol: string): string {
  return `/strata/${networkId}/req/${protocol.replace(/^\/+/, '')}`;
}

/** The libp2p protocol id of a session protocol. */
export function sessionProtocolId(networkId: string, protocol: string): string {
  return `/strata/${networkId}/sess/${protocol.replace(/^\/+/, '')}`;
}

type Services = { identify: Identify; pubsub: GossipSub };

/** gossipsub implementation members that are not on its public interface (checked at runtime). */
interface GossipSubInternals {
  getScore?: (peerId: string) => number;
  getMeshPeers?: (topic: string) => string[];
  handlePeerReadStreamError?: (err: unknown, peerId: PeerId) => void;
}

interface Subscription {
  topic: string;
  validator: GossipValidator;
  onMessage: (data: Uint8Array, from: string) => void;
}

interface Handler {
  protocol: string;
  handler: (req: Uint8Array, from: string) => Promise<Uint8Array>;
  opts: ProtocolHandlerOptions;
}

interface Bootnode {
  addr: string;
  peerId: string;
  delay: number;
  timer: NodeJS.Timeout | undefined;
  connectedAt: number | undefined;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkLimits(protocol: string, opts: ProtocolHandlerOptions): void {
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (opts === null || typeof opts !== 'object' || !ok(opts.maxRequestBytes) || !ok(opts.maxResponseBytes)) {
    throw new StrataError('CONFIG_INVALID', `protocol ${protocol}: maxRequestBytes and maxResponseBytes must be non-negative integers`, {
      protocol,
    });
  }
  if (opts.timeoutMs !== undefined && !(typeof opts.timeoutMs === 'number' && opts.timeoutMs > 0)) {
    throw new StrataError('CONFIG_INVALID', `protocol ${protocol}: timeoutMs must be a positive number of milliseconds`, { protocol });
  }
}

/** A Strata peer-to-peer host. Create with `P2PNode.create`, then `start()`. */
export class P2PNode {
  private readonly subs = new Map<string, Subscription>();
  private readonly handlers = new Map<string, Handler>();
  private readonly listeners = new Map<P2PEvent, Set<(peerId: string) => void>>();
  private readonly bootnodes: Bootnode[];
  private started = false;
  private stopped = false;
  /** Peers heard of, for discovery (persisted in the data dir). */
  private readonly book: AddressBook;
  private readonly requestLimiter: RateLimiter;
  private readonly sessionHandlers = new Set<string>();
  private readonly sessions = new Map<string, ClientSession>();
  private readonly sessionsOpening = new Map<string, Promise<ClientSession>>();
  private discoveryTimer: NodeJS.Timeout | undefined;
  private discoveryRunning = false;
  private readonly exchangedAt = new Map<string, number>();
  /** Peer exchanges in flight: a second ask while one runs waits for the same answer. */
  private readonly exchanging = new Map<string, Promise<number>>();
  private readonly dialing = new Set<string>();
  /** Addresses banned together with a peer, to lift with it. */
  private readonly bannedAddrsOf = new Map<string, string[]>();

  private constructor(
    private readonly opts: ResolvedP2POptions,
    private readonly node: Libp2p<Services>,
    private readonly scores: PeerScoreBook,
    private readonly log: Logger | undefined,
  ) {
    this.bootnodes = opts.bootnodes
      .filter((b) => b.peerId !== node.peerId.toString())
      .map((b) => ({ ...b, delay: BOOTNODE_MIN_BACKOFF_MS, timer: undefined, connectedAt: undefined }));
    this.book = new AddressBook(node.peerId.toString());
    if (opts.dataDir !== undefined) {
      const n = this.book.load(opts.dataDir);
      if (n > 0) this.log?.info({ peers: n }, 'known peers loaded from the data dir');
    }
    this.requestLimiter = new RateLimiter(opts.requestRate);
    node.addEventListener('peer:identify', (evt) => this.onIdentify(evt.detail.peerId, evt.detail.listenAddrs, evt.detail.protocols));
    node.addEventListener('peer:connect', (evt) => this.onPeerConnect(evt.detail));
    node.addEventListener('peer:disconnect', (evt) => this.onPeerDisconnect(evt.detail));
    this.installGossipHooks();
  }

  /**
   * Builds a node (not yet listening): validates options (CONFIG_INVALID), loads or creates the
   * node key in `dataDir`, and configures libp2p. Call `start()` to listen and dial bootnodes.
   */
  static async create(opts: P2POptions, deps: P2PDeps = {}): Promise<P2PNode> {
    const o = resolveP2POptions(opts);
    await initHashing();
    const privateKey = await loadOrCreateNodeKey(o.dataDir);
    const scores = new PeerScoreBook({ banThreshold: o.banThreshold, banSeconds: o.banSeconds, halfLifeSeconds: o.scoreHalfLifeSeconds });
    const banned = (peer: PeerId): boolean => scores.isBanned(peer.toString());
    const exempt = new Set(o.addressBanExempt);
    const addrBanned = (ma: Multiaddr): boolean => {
      const ip = ipOfMultiaddr(ma);
      return ip !== undefined && !exempt.has(ip) && scores.isAddressBanned(ip);
    };
    let node: Libp2p<Services>;
    try {
      node = await createLibp2p({
        privateKey,
        start: false,
        nodeInfo: { name: 'strata', version: '0.1.0' },
        addresses: o.announce.length > 0 ? { listen: o.listen, announce: o.announce } : { listen: o.listen },
        // one writev per connection and event-loop turn instead of one write per buffer
        transports: [o.batchWrites ? withWriteBatching(tcp()) : tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: {
          maxConnections: o.maxConnections,
          // libp2p's default (5 inbound connections per host per second) trips when a devnet on
          // one machine starts all its nodes at once.
          inboundConnectionThreshold: 100,
        },
        // Banned peers are refused at every stage where the remote peer id is known.
        connectionGater: {
          // ...and addresses of banned peers, whatever peer id they present next.
          denyInboundConnection: (maConn) => addrBanned(maConn.remoteAddr),
          denyDialMultiaddr: (ma) => addrBanned(ma),
          denyDialPeer: banned,
          denyInboundEncryptedConnection: banned,
          denyOutboundEncryptedConnection: banned,
          denyInboundUpgradedConnection: banned,
          denyOutboundUpgradedConnection: banned,
        },
        services: {
          identify: identify(),
          pubsub: gossipsub({
            // Unsigned gossip (~1.7x the throughput); the application signs what matters.
            globalSignaturePolicy: 'StrictNoSign',
            msgIdFn: (msg: Message) => {
              const topic = utf8(msg.topic);
              return blake2b256Parts([encodeVarint(topic.length), topic, msg.data], GOSSIP_ID_PERSONAL);
            },
            allowPublishToZeroTopicPeers: true,
            ignoreDuplicatePublishError: true,
            emitSelf: false,
            fallbackToFloodsub: false,
            heartbeatInterval: 700,
            maxInboundDataLength: o.maxGossipBytes + GOSSIP_FRAME_SLACK,
            scoreParams: {
              // Our application score feeds the router score at half weight, so gossipsub stops
              // publishing to a misbehaving peer (-50 router = -100 app) only as it gets banned.
              appSpecificScore: (peerId: string) => scores.score(peerId),
              appSpecificWeight: 0.5,
              // Many peer ids on one IP are a Sybil sign (gossipsub's default penalty beyond 10);
              // only a devnet, where every node shares the host's IP, turns it off.
              IPColocationFactorWeight: o.localNetwork ? 0 : -5,
              IPColocationFactorThreshold: 10,
            },
          }),
        },
      });
    } catch (e) {
      throw new StrataError('CONFIG_INVALID', `cannot configure libp2p: ${errMessage(e)}; check listen/announce addresses`, {}, { cause: e });
    }
    const p = new P2PNode(o, node, scores, deps.logger?.child({ module: 'p2p' }));
    for (const b of o.bootnodes) p.book.add([b.addr]);
    return p;
  }

  /** This node's peer id (base58btc), stable across restarts when `dataDir` is set. */
  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** The addresses peers can dial, each ending in `/p2p/<peerId>` (listen or announce addresses). */
  get multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((m) => m.toString());
  }

  /** The network id this node was created with. */
  get networkId(): string {
    return this.opts.networkId;
  }

  /** Starts listening, joins the topics subscribed so far and dials the bootnodes (in the background). */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.stopped) throw new StrataError('NODE_STOPPED', 'p2p node was stopped; create a new one');
    try {
      await this.node.start();
    } catch (e) {
      throw new StrataError('NETWORK', `cannot start p2p node: ${errMessage(e)}; check that the listen addresses are free`, {}, { cause: e });
    }
    this.started = true;
    for (const sub of this.subs.values()) this.node.services.pubsub.subscribe(gossipTopicId(this.opts.networkId, sub.topic));
    if (this.opts.peerExchange && !this.handlers.has(protocolId(this.opts.networkId, PROTO_PEERS))) {
      this.handle(PROTO_PEERS, (req, from) => this.servePeers(req, from), PEERS_LIMITS);
    }
    for (const b of this.bootnodes) void this.dialBootnode(b);
    this.discoveryTimer = setInterval(() => void this.discoveryRound(), this.opts.discoveryIntervalMs);
    this.discoveryTimer.unref();
    // A restarted node whose bootnodes are gone rejoins through the peers it remembers.
    void this.discoveryRound();
  }

  /** Stops re-dialling, closes every connection and stops listening. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.discoveryTimer !== undefined) clearInterval(this.discoveryTimer);
    this.discoveryTimer = undefined;
    this.saveBook();
    for (const b of this.bootnodes) {
      if (b.timer !== undefined) clearTimeout(b.timer);
      b.timer = undefined;
    }
    if (!this.started) return;
    this.started = false;
    try {
      await this.node.stop();
    } catch (e) {
      this.log?.warn({ err: errMessage(e) }, 'error while stopping libp2p');
    }
  }

  // ---------------------------------------------------------------- gossip

  /**
   * Subscribes to an application topic (namespaced by networkId). Each message is handed to
   * `validator` first; only accepted ones reach `onMessage` and are relayed. One subscription per
   * topic (CONFIG_INVALID otherwise). Our own published messages are not delivered back.
   */
  subscribe(topic: string, validator: GossipValidator, onMessage: (data: Uint8Array, from: string) => void): void {
    if (typeof topic !== 'string' || topic === '') throw new StrataError('CONFIG_INVALID', 'gossip topic must be a non-empty string');
    const id = gossipTopicId(this.opts.networkId, topic);
    if (this.subs.has(id)) throw new StrataError('CONFIG_INVALID', `already subscribed to gossip topic ${topic}`, { topic });
    this.subs.set(id, { topic, validator, onMessage });
    const pubsub = this.node.services.pubsub;
    pubsub.topicValidators.set(id, (peer, msg) => this.validateGossip(topic, peer, msg));
    if (this.started) pubsub.subscribe(id);
  }

  /** Leaves a topic and forgets its validator and handler. */
  unsubscribe(topic: string): void {
    const id = gossipTopicId(this.opts.networkId, topic);
    if (!this.subs.delete(id)) return;
    this.node.services.pubsub.topicValidators.delete(id);
    if (this.started) this.node.services.pubsub.unsubscribe(id);
  }

  /**
   * Publishes `data` on a topic (we need not be subscribed). Resolves even with no peers yet, and
   * for a message already seen. Throws DECODE_OVERSIZED above `maxGossipBytes`, NETWORK when the
   * node is not started.
   */
  async publish(topic: string, data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new StrataError('DECODE_INVALID', 'gossip data must be a Uint8Array', { topic });
    if (data.length > this.opts.maxGossipBytes) {
      throw new StrataError('DECODE_OVERSIZED', `gossip message of ${data.length} bytes on ${topic} exceeds maxGossipBytes ${this.opts.maxGossipBytes}; split it`, {
        topic,
        size: data.length,
        limit: this.opts.maxGossipBytes,
      });
    }
    if (!this.started) throw new StrataError('NETWORK', `cannot publish on ${topic}: p2p node is not started`, { topic });
    try {
      await this.node.services.pubsub.publish(gossipTopicId(this.opts.networkId, topic), data);
    } catch (e) {
      throw new StrataError('NETWORK', `publish on ${topic} failed: ${errMessage(e)}`, { topic }, { cause: e });
    }
  }

  /** Peers known to be subscribed to a topic (gossip can reach them directly). */
  topicPeers(topic: string): string[] {
    return this.node.services.pubsub.getSubscribers(gossipTopicId(this.opts.networkId, topic)).map((p) => p.toString());
  }

  /** Peers in our gossipsub mesh for a topic (the ones we relay to). */
  meshPeers(topic: string): string[] {
    const gs = this.node.services.pubsub as unknown as GossipSubInternals;
    return gs.getMeshPeers?.(gossipTopicId(this.opts.networkId, topic)) ?? [];
  }

  // Runs inside gossipsub before a message is delivered or relayed; never throws.
  private async validateGossip(topic: string, peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const from = peer.toString();
    try {
      if (this.scores.isBanned(from)) return TopicValidatorResult.Reject;
      if (msg.data.length > this.opts.maxGossipBytes) {
        this.penalize(from, PENALTY.GOSSIP_OVERSIZED, `gossip of ${msg.data.length} bytes on ${topic} exceeds ${this.opts.maxGossipBytes}`);
        return TopicValidatorResult.Reject;
      }
      const sub = this.subs.get(msg.topic);
      if (sub === undefined) return TopicValidatorResult.Ignore;
      let verdict: unknown;
      try {
        verdict = await sub.validator(toPlainBytes(msg.data), from);
      } catch (e) {
        this.log?.debug({ topic, peer: from, err: errMessage(e) }, 'gossip validator threw; rejecting');
        verdict = 'reject';
      }
      if (verdict === 'accept') return TopicValidatorResult.Accept;
      if (verdict === 'ignore') return TopicValidatorResult.Ignore;
      this.penalize(from, PENALTY.GOSSIP_REJECTED, `gossip rejected on ${topic}`);
      return TopicValidatorResult.Reject;
    } catch (e) {
      this.log?.error({ topic, peer: from, err: errMessage(e) }, 'gossip validation failed');
      return TopicValidatorResult.Ignore;
    }
  }

  private installGossipHooks(): void {
    const pubsub = this.node.services.pubsub;
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource } = evt.detail;
      const sub = this.subs.get(msg.topic);
      if (sub === undefined) return;
      const from = propagationSource.toString();
      try {
        const r: unknown = sub.onMessage(toPlainBytes(msg.data), from);
        if (r instanceof Promise) r.catch((e: unknown) => this.log?.error({ topic: sub.topic, err: errMessage(e) }, 'gossip handler failed'));
      } catch (e) {
        this.log?.error({ topic: sub.topic, err: errMessage(e) }, 'gossip handler failed');
      }
    });
    // gossipsub drops a peer's inbound stream when a frame exceeds maxInboundDataLength but does
    // not score it; hook the (internal, present in @libp2p/gossipsub 17) error path to penalise.
    const gs = pubsub as unknown as GossipSubInternals;
    const original = gs.handlePeerReadStreamError;
    if (typeof original === 'function') {
      gs.handlePeerReadStreamError = (err: unknown, peerId: PeerId): void => {
        try {
          const name = err instanceof Error ? err.name : '';
          if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
            const id = peerId.toString();
            this.penalize(id, PENALTY.GOSSIP_FRAME_OVERSIZED, 'oversized gossipsub frame');
            // gossipsub has now dropped the peer while the connection stays up; hang up so that
            // a reconnection starts gossip afresh instead of leaving a silent half-peer.
            if (this.started) this.node.hangUp(peerId).catch(() => undefined);
          }
        } catch {
          // scoring must never break gossipsub's own clean-up
        }
        original.call(pubsub, err, peerId);
      };
    }
  }

  // ------------------------------------------------------- request/response

  /**
   * Serves an application protocol (namespaced by networkId). Each request arrives on its own
   * stream; `handler`'s result goes back as the response. A thrown error goes back as an error
   * frame (its message is sent to the peer). Requests over `maxRequestBytes`, malformed or late
   * ones abort the stream and penalise the peer. One handler per protocol (CONFIG_INVALID otherwise).
   */
  handle(protocol: string, handler: (req: Uint8Array, from: string) => Promise<Uint8Array>, opts: ProtocolHandlerOptions): void {
    checkLimits(protocol, opts);
    const id = protocolId(this.opts.networkId, protocol);
    if (this.handlers.has(id)) throw new StrataError('CONFIG_INVALID', `a handler for protocol ${protocol} is already registered`, { protocol });
    const entry: Handler = { protocol, handler, opts: { ...opts } };
    this.handlers.set(id, entry);
    this.node
      .handle(id, (stream, connection) => this.serve(entry, stream, connection), { maxInboundStreams: MAX_INBOUND_STREAMS_PER_PROTOCOL, maxOutboundStreams: 64 })
      .catch((e: unknown) => this.log?.error({ protocol, err: errMessage(e) }, 'cannot register protocol handler'));
  }

  /** Stops serving a protocol. */
  async unhandle(protocol: string): Promise<void> {
    const id = protocolId(this.opts.networkId, protocol);
    if (!this.handlers.delete(id)) return;
    await this.node.unhandle(id);
  }

  /**
   * Sends one request on a fresh stream and returns the response payload. Errors, all naming the
   * protocol and peer in message and meta: DECODE_OVERSIZED (our request over `maxRequestBytes`,
   * or a response over `maxResponseBytes` — the peer is penalised), DECODE_INVALID (bad peer id,
   * malformed response), NETWORK (cannot connect, stream reset, timeout, or the handler failed:
   * meta.remoteError holds its message).
   */
  async request(peerId: string, protocol: string, req: Uint8Array, opts: ProtocolHandlerOptions): Promise<Uint8Array> {
    checkLimits(protocol, opts);
    const ctx = { protocol, peer: peerId };
    const pid = this.parsePeerId(peerId);
    if (!(req instanceof Uint8Array)) throw new StrataError('DECODE_INVALID', `${protocol} request to ${peerId} must be a Uint8Array`, ctx);
    if (req.length > opts.maxRequestBytes) {
      throw new StrataError('DECODE_OVERSIZED', `${protocol} request of ${req.length} bytes to ${peerId} exceeds maxRequestBytes ${opts.maxRequestBytes}`, {
        ...ctx,
        size: req.length,
        limit: opts.maxRequestBytes,
      });
    }
    if (!this.started) throw new StrataError('NETWORK', `cannot send ${protocol} request: p2p node is not started`, ctx);
    if (this.scores.isBanned(peerId)) throw new StrataError('NETWORK', `cannot send ${protocol} request: peer ${peerId} is banned`, ctx);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(pid, protocolId(this.opts.networkId, protocol), { signal });
    } catch (e) {
      const why = signal.aborted ? `timed out after ${timeoutMs} ms` : errMessage(e);
      throw new StrataError('NETWORK', `cannot open a ${protocol} stream to ${peerId}: ${why}`, { ...ctx, timeout: signal.aborted }, { cause: e });
    }
    try {
      await writeAndClose(stream, encodeFrame(req), signal);
      const inner = await readFrame(stream, maxResponseFrameBytes(opts.maxResponseBytes), signal);
      const resp = decodeResponseFrame(inner, opts.maxResponseBytes);
      if (resp.status === 'error') {
        throw new StrataError('NETWORK', `peer ${peerId} failed ${protocol} request: ${resp.message}`, { ...ctx, remoteError: resp.message });
      }
      return resp.body;
    } catch (e) {
      stream.abort(e instanceof Error ? e : new StrataError('INTERNAL', String(e)));
      if (isStrataError(e) && e.meta.remoteError !== undefined) throw e;
      this.punishStreamError(peerId, e, `${protocol} response`, timeoutMs);
      const se = isStrataError(e) ? e : new StrataError('NETWORK', errMessage(e));
      const detail = se.meta.timeout === true ? `timed out after ${timeoutMs} ms` : se.message;
      throw new StrataError(se.code, `${protocol} request to ${peerId}: ${detail}`, { ...se.meta, ...ctx }, { cause: e });
    }
  }

  // Serves one inbound request stream; never throws.
  private async serve(entry: Handler, stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    const timeoutMs = entry.opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    try {
      if (this.scores.isBanned(from)) {
        stream.abort(new StrataError('NETWORK', 'peer is banned'));
        return;
      }
      if (!this.requestLimiter.take(from)) {
        this.penalize(from, PENALTY.RATE_LIMITED, `${entry.protocol} request beyond ${this.opts.requestRate.perSecond}/s`);
        stream.abort(new StrataError('NETWORK', 'request rate exceeded'));
        return;
      }
      const readSignal = AbortSignal.timeout(timeoutMs);
      let req: Uint8Array;
      try {
        req = await readFrame(stream, entry.opts.maxRequestBytes, readSignal);
      } catch (e) {
        this.punishStreamError(from, e, `${entry.protocol} request`, timeoutMs);
        stream.abort(e instanceof Error ? e : new StrataError('INTERNAL', String(e)));
        return;
      }
      let frame: Uint8Array;
      try {
        const resp = await this.runHandler(entry, req, from, timeoutMs);
        if (!(resp instanceof Uint8Array)) {
          frame = encodeErrorFrame('INTERNAL: handler returned no bytes');
        } else if (resp.length > entry.opts.maxResponseBytes) {
          this.log?.warn({ protocol: entry.protocol, size: resp.length, limit: entry.opts.maxResponseBytes }, 'handler response exceeds maxResponseBytes');
          frame = encodeErrorFrame(`DECODE_OVERSIZED: response of ${resp.length} bytes exceeds maxResponseBytes ${entry.opts.maxResponseBytes}`);
        } else {
          frame = encodeResponseFrame(STATUS_OK, resp);
        }
      } catch (e) {
        frame = encodeErrorFrame(isStrataError(e) ? `${e.code}: ${e.message}` : errMessage(e));
      }
      try {
        await writeAndClose(stream, frame, AbortSignal.timeout(timeoutMs));
      } catch (e) {
        stream.abort(e instanceof Error ? e : new StrataError('INTERNAL', String(e)));
      }
    } catch (e) {
      this.log?.error({ protocol: entry.protocol, peer: from, err: errMessage(e) }, 'request handling failed');
      try {
        stream.abort(new StrataError('INTERNAL', 'request handling failed'));
      } catch {
        // already closed
      }
    }
  }

  private runHandler(entry: Handler, req: Uint8Array, from: string, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StrataError('NETWORK', `handler timed out after ${timeoutMs} ms`, { timeout: true })),
        timeoutMs,
      );
      let p: Promise<Uint8Array>;
      try {
        p = Promise.resolve(entry.handler(req, from));
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  // Penalises a peer for a failed stream exchange, by cause; plain network failures cost nothing.
  private punishStreamError(peerId: string, e: unknown, what: string, timeoutMs: number): void {
    if (!isStrataError(e)) return;
    if (e.code === 'DECODE_OVERSIZED') this.penalize(peerId, PENALTY.OVERSIZED_FRAME, `oversized ${what}: ${e.message}`);
    else if (e.code === 'DECODE_INVALID') this.penalize(peerId, PENALTY.MALFORMED_FRAME, `malformed ${what}: ${e.message}`);
    else if (e.code === 'NETWORK' && e.meta.timeout === true) this.penalize(peerId, PENALTY.TIMEOUT, `${what} timed out after ${timeoutMs} ms`);
  }

  // ------------------------------------------------------- sessions

  /**
   * Serves a session protocol (`/strata/<networkId>/sess/<protocol>`): requests on one
   * long-lived stream per peer, answered by id (see session.ts). Bans, the per-peer request rate
   * and frame limits apply as for `handle`; a malformed or oversized frame penalises the peer and
   * aborts its session.
   */
  handleSession(protocol: string, handler: (req: Uint8Array, from: string) => Promise<Uint8Array>, opts: SessionOptions): void {
    const id = sessionProtocolId(this.opts.networkId, protocol);
    if (this.sessionHandlers.has(id)) throw new StrataError('CONFIG_INVALID', `a session handler for protocol ${protocol} is already registered`, { protocol });
    this.sessionHandlers.add(id);
    this.node
      .handle(
        id,
        (stream, connection) => {
          const from = connection.remotePeer.toString();
          if (this.scores.isBanned(from)) {
            stream.abort(new StrataError('NETWORK', 'peer is banned'));
            return;
          }
          serveSession(
            stream,
            opts,
            (req) => handler(req, from),
            () => {
              if (this.requestLimiter.take(from)) return true;
              this.penalize(from, PENALTY.RATE_LIMITED, `${protocol} session request beyond ${this.opts.requestRate.perSecond}/s`);
              return false;
            },
            (e) => {
              if (e.code === 'DECODE_OVERSIZED') this.penalize(from, PENALTY.OVERSIZED_FRAME, `oversized ${protocol} session frame`);
              else this.penalize(from, PENALTY.MALFORMED_FRAME, `bad ${protocol} session: ${e.message}`);
            },
          );
        },
        { maxInboundStreams: 4, maxOutboundStreams: 4 },
      )
      .catch((e: unknown) => this.log?.error({ protocol, err: errMessage(e) }, 'cannot register session handler'));
  }

  /**
   * Sends a request on the session to `peerId` (opened on first use, reopened after it breaks)
   * and resolves with the answer. Errors: NETWORK (cannot open, remote error in
   * meta.remoteError, timeout, broken session), DECODE_OVERSIZED.
   */
  async sessionRequest(peerId: string, protocol: string, req: Uint8Array, opts: SessionOptions): Promise<Uint8Array> {
    if (!this.started) throw new StrataError('NETWORK', `cannot send ${protocol} request: p2p node is not started`, { protocol, peer: peerId });
    if (this.scores.isBanned(peerId)) throw new StrataError('NETWORK', `cannot send ${protocol} request: peer ${peerId} is banned`, { protocol, peer: peerId });
    const key = `${peerId} ${protocol}`;
    for (let attempt = 0; ; attempt++) {
      let s = this.sessions.get(key);
      if (!s || s.closed) {
        const opening = this.sessionsOpening.get(key) ?? this.openSession(peerId, protocol, opts, key);
        this.sessionsOpening.set(key, opening);
        try {
          s = await opening;
        } finally {
          this.sessionsOpening.delete(key);
        }
      }
      try {
        return await s.request(req, opts.timeoutMs);
      } catch (e) {
        // the session broke (or stalled) while this request waited for a slot: it was never sent
        if (attempt === 0 && isStrataError(e) && e.meta.unsent === true) continue;
        throw e;
      }
    }
  }

  private async openSession(peerId: string, protocol: string, opts: SessionOptions, key: string): Promise<ClientSession> {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(this.parsePeerId(peerId), sessionProtocolId(this.opts.networkId, protocol), { signal });
    } catch (e) {
      throw new StrataError('NETWORK', `cannot open a ${protocol} session to ${peerId}: ${signal.aborted ? 'timed out' : errMessage(e)}`, { protocol, peer: peerId }, { cause: e });
    }
    const s = new ClientSession(stream, opts, (e) => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
      if (e.code === 'DECODE_OVERSIZED') this.penalize(peerId, PENALTY.OVERSIZED_FRAME, `oversized ${protocol} session frame`);
      else if (e.code === 'DECODE_INVALID') this.penalize(peerId, PENALTY.MALFORMED_FRAME, `bad ${protocol} session answer: ${e.message}`);
    });
    this.sessions.set(key, s);
    return s;
  }

  // ------------------------------------------------------------------ peers

  /** The peers we have open connections to, with their scores. */
  peers(): PeerInfo[] {
    const byPeer = new Map<string, Connection[]>();
    for (const c of this.node.getConnections()) {
      const id = c.remotePeer.toString();
      const list = byPeer.get(id);
      if (list === undefined) byPeer.set(id, [c]);
      else list.push(c);
    }
    const gs = this.node.services.pubsub as unknown as GossipSubInternals;
    return [...byPeer].map(([id, conns]) => ({
      id,
      addrs: conns.map((c) => c.remoteAddr.toString()),
      score: this.scores.score(id),
      gossipScore: gs.getScore?.(id) ?? 0,
      direction: (conns[0] as Connection).direction,
    }));
  }

  /** Resolves once at least `count` peers are connected; NETWORK after `timeoutMs`. */
  async waitForPeers(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.node.getPeers().length < count) {
      if (Date.now() > deadline) {
        throw new StrataError('NETWORK', `only ${this.node.getPeers().length} of ${count} peers connected after ${timeoutMs} ms; check bootnodes`, {
          count,
          timeoutMs,
        });
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Connects to a multiaddr (ideally with /p2p/<peerId>). NETWORK on failure or a banned peer. */
  async dial(addr: string): Promise<void> {
    let ma: ReturnType<typeof multiaddr>;
    try {
      ma = multiaddr(addr);
    } catch (e) {
      throw new StrataError('DECODE_INVALID', `not a valid multiaddr: ${addr}`, { addr }, { cause: e });
    }
    if (!this.started) throw new StrataError('NETWORK', `cannot dial ${addr}: p2p node is not started`, { addr });
    const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value;
    if (peer !== undefined && this.scores.isBanned(peer)) throw new StrataError('NETWORK', `cannot dial ${addr}: peer is banned`, { addr, peer });
    try {
      await this.node.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
    } catch (e) {
      throw new StrataError('NETWORK', `cannot dial ${addr}: ${errMessage(e)}`, { addr }, { cause: e });
    }
  }

  /** Closes every connection to a peer (it may reconnect unless banned). */
  async hangUp(peerId: string): Promise<void> {
    const pid = this.parsePeerId(peerId);
    try {
      await this.node.hangUp(pid);
    } catch (e) {
      throw new StrataError('NETWORK', `cannot hang up on ${peerId}: ${errMessage(e)}`, { peer: peerId }, { cause: e });
    }
  }

  /**
   * Lowers a peer's application score by `points` and logs `reason`. At or below the ban threshold
   * (default -100) the peer is disconnected and refused for `banSeconds`. Scores decay back toward 0.
   */
  penalize(peerId: string, points: number, reason: string): void {
    if (!(points > 0)) return;
    const { score, banned } = this.scores.penalize(peerId, points);
    this.log?.warn({ peer: peerId, points, score, reason }, 'peer penalised');
    if (!banned) return;
    const addrs = this.banAddressesOf(peerId, this.opts.banSeconds * 1000);
    this.log?.warn({ peer: peerId, score, seconds: this.opts.banSeconds, reason, addrs }, 'peer banned');
    if (!this.started) return;
    let pid: PeerId;
    try {
      pid = peerIdFromString(peerId);
    } catch {
      return;
    }
    this.node.hangUp(pid).catch((e: unknown) => this.log?.debug({ peer: peerId, err: errMessage(e) }, 'hang up on banned peer failed'));
  }

  /** Bans a peer now for `seconds` (default `banSeconds`) and disconnects it. */
  ban(peerId: string, reason: string, seconds = this.opts.banSeconds): void {
    this.scores.ban(peerId, seconds * 1000);
    if (seconds <= 0) {
      for (const ip of this.bannedAddrsOf.get(peerId) ?? []) this.scores.unbanAddress(ip);
      this.bannedAddrsOf.delete(peerId);
      this.log?.info({ peer: peerId, reason }, 'peer unbanned');
      return;
    }
    const addrs = this.banAddressesOf(peerId, seconds * 1000);
    this.log?.warn({ peer: peerId, seconds, reason, addrs }, 'peer banned');
    if (!this.started) return;
    try {
      this.node.hangUp(peerIdFromString(peerId)).catch(() => undefined);
    } catch {
      // not a valid peer id: nothing to disconnect
    }
  }

  // Bans the remote IPs of a peer's open connections (except the exempt ones); returns them.
  private banAddressesOf(peerId: string, ms: number): string[] {
    if (!this.started) return [];
    const exempt = new Set(this.opts.addressBanExempt);
    const ips = new Set<string>();
    for (const c of this.node.getConnections()) {
      if (c.remotePeer.toString() !== peerId) continue;
      const ip = ipOfMultiaddr(c.remoteAddr);
      if (ip !== undefined && !exempt.has(ip)) ips.add(ip);
    }
    for (const ip of ips) this.scores.banAddress(ip, ms);
    if (ips.size > 0) this.bannedAddrsOf.set(peerId, [...ips]);
    this.book.remove(peerId);
    return [...ips];
  }

  /** True while a ban on the peer is in force. */
  isBanned(peerId: string): boolean {
    return this.scores.isBanned(peerId);
  }

  /** The peer's current application score (0 when never penalised). */
  scoreOf(peerId: string): number {
    return this.scores.score(peerId);
  }

  /** Adds a listener for peers connecting (first connection) or disconnecting (last connection closed). */
  on(event: P2PEvent, fn: (peerId: string) => void): void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn);
  }

  /** Removes a listener added with `on`. */
  off(event: P2PEvent, fn: (peerId: string) => void): void {
    this.listeners.get(event)?.delete(fn);
  }

  private emit(event: P2PEvent, peerId: string): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(peerId);
      } catch (e) {
        this.log?.error({ event, err: errMessage(e) }, 'p2p event listener failed');
      }
    }
  }

  private onPeerConnect(peer: PeerId): void {
    const id = peer.toString();
    const conn = this.node.getConnections(peer)[0];
    this.log?.info({ peer: id, direction: conn?.direction, addr: conn?.remoteAddr.toString() }, 'peer connected');
    const b = this.bootnodes.find((x) => x.peerId === id);
    if (b !== undefined) b.connectedAt = Date.now();
    this.book.connected(id);
    this.emit('peer:connect', id);
  }

  private onPeerDisconnect(peer: PeerId): void {
    const id = peer.toString();
    this.log?.info({ peer: id }, 'peer disconnected');
    const b = this.bootnodes.find((x) => x.peerId === id);
    if (b !== undefined) {
      if (b.connectedAt !== undefined && Date.now() - b.connectedAt >= BOOTNODE_STABLE_MS) b.delay = BOOTNODE_MIN_BACKOFF_MS;
      b.connectedAt = undefined;
      this.scheduleBootnode(b);
    }
    this.requestLimiter.forget(id);
    this.emit('peer:disconnect', id);
  }

  // ------------------------------------------------------------- discovery

  /** Peers in the address book (known, not necessarily connected). */
  knownPeers(): KnownPeer[] {
    return this.book.all();
  }

  /** Number of peers in the address book. */
  get knownPeerCount(): number {
    return this.book.size;
  }

  private onIdentify(peer: PeerId, listenAddrs: Multiaddr[], protocols: string[]): void {
    try {
      const id = peer.toString();
      if (this.scores.isBanned(id)) return;
      // What a peer says it listens on (not the ephemeral port of its inbound connection).
      this.book.add(listenAddrs.slice(0, 8).map((a) => `${a.toString()}/p2p/${id}`));
      this.book.connected(id);
      if (this.opts.peerExchange && protocols.includes(protocolId(this.opts.networkId, PROTO_PEERS))) void this.askPeers(id);
    } catch (e) {
      this.log?.debug({ err: errMessage(e) }, 'identify bookkeeping failed');
    }
  }

  // Answers a peer-exchange request: addresses of peers we know (reached first), not the asker's.
  private async servePeers(req: Uint8Array, from: string): Promise<Uint8Array> {
    if (req.length !== 0) throw new StrataError('DECODE_INVALID', 'a peers request is empty');
    const conns = this.node.getConnections().filter((c) => c.remotePeer.toString() === from);
    // A remote peer gets no loopback addresses: they would make it dial itself.
    const remoteIsLocal = conns.length > 0 && conns.every((c) => isLoopbackAddr(c.remoteAddr.toString()));
    const addrs = this.book.sample(MAX_EXCHANGE_ADDRS, (a, id) => id !== from && !this.scores.isBanned(id) && (remoteIsLocal || !isLoopbackAddr(a)));
    return encode(PeerAddrsCodec, addrs);
  }

  /**
   * Asks a peer for the addresses it knows (at most once a minute per peer); returns how many were
   * new. A call while an exchange with that peer is in flight resolves with that exchange's result
   * (so a malformed answer has been scored by the time either call returns).
   */
  askPeers(peer: string): Promise<number> {
    const inflight = this.exchanging.get(peer);
    if (inflight) return inflight;
    const p = this.exchangePeers(peer).finally(() => this.exchanging.delete(peer));
    this.exchanging.set(peer, p);
    return p;
  }

  private async exchangePeers(peer: string): Promise<number> {
    const last = this.exchangedAt.get(peer);
    if (last !== undefined && Date.now() - last < EXCHANGE_MIN_INTERVAL_MS) return 0;
    this.exchangedAt.set(peer, Date.now());
    if (this.exchangedAt.size > 10_000) this.exchangedAt.clear();
    let body: Uint8Array;
    try {
      body = await this.request(peer, PROTO_PEERS, new Uint8Array(0), PEERS_LIMITS);
    } catch (e) {
      this.log?.debug({ peer, err: errMessage(e) }, 'peer exchange failed');
      return 0;
    }
    let addrs: string[];
    try {
      addrs = decode(PeerAddrsCodec, body, PEERS_LIMITS.maxResponseBytes);
    } catch (e) {
      this.penalize(peer, PENALTY.MALFORMED_FRAME, `malformed peers response: ${toStrataError(e).message}`);
      return 0;
    }
    const before = this.book.size;
    this.book.add(addrs, 'exchange');
    const learnt = this.book.size - before;
    if (learnt > 0) {
      this.log?.info({ peer, offered: addrs.length, learnt, known: this.book.size }, 'peers learnt by peer exchange');
      void this.discoveryRound();
    }
    return learnt;
  }

  // One discovery round: dial known peers while below targetPeers; ask a peer for more addresses.
  private async discoveryRound(): Promise<void> {
    if (!this.started || this.stopped || this.discoveryRunning) return;
    this.discoveryRunning = true;
    try {
      const connected = new Set(this.node.getPeers().map((p) => p.toString()));
      const need = Math.min(this.opts.targetPeers - connected.size - this.dialing.size, DIALS_PER_ROUND);
      if (need > 0) {
        const picks = this.book.candidates(need, (id) => connected.has(id) || this.dialing.has(id) || this.scores.isBanned(id));
        await Promise.all(picks.map((k) => this.dialKnown(k)));
      }
      if (this.opts.peerExchange && connected.size > 0 && connected.size < this.opts.targetPeers) {
        const list = [...connected];
        void this.askPeers(list[Math.floor(Math.random() * list.length)] as string);
      }
      this.saveBook();
    } catch (e) {
      this.log?.debug({ err: errMessage(e) }, 'discovery round failed');
    } finally {
      this.discoveryRunning = false;
    }
  }

  private async dialKnown(k: KnownPeer): Promise<void> {
    this.dialing.add(k.id);
    try {
      for (const addr of k.addrs) {
        if (this.stopped) return;
        try {
          await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
          this.book.connected(k.id);
          this.log?.info({ peer: k.id, addr }, 'discovered peer dialled');
          return;
        } catch (e) {
          this.log?.debug({ peer: k.id, addr, err: errMessage(e) }, 'dial of a known peer failed');
        }
      }
      this.book.failed(k.id);
    } finally {
      this.dialing.delete(k.id);
    }
  }

  private saveBook(): void {
    if (this.opts.dataDir === undefined) return;
    try {
      this.book.save(this.opts.dataDir);
    } catch (e) {
      this.log?.warn({ err: errMessage(e) }, 'cannot save known peers; discovery after a restart relies on bootnodes');
    }
  }

  private async dialBootnode(b: Bootnode): Promise<void> {
    if (this.stopped || !this.started) return;
    if (this.node.getConnections(peerIdFromString(b.peerId)).length > 0) return;
    if (this.scores.isBanned(b.peerId)) {
      this.scheduleBootnode(b, this.scores.banRemainingMs(b.peerId));
      return;
    }
    try {
      await this.node.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
    } catch (e) {
      this.log?.debug({ bootnode: b.addr, err: errMessage(e), retryMs: b.delay }, 'bootnode dial failed');
      this.scheduleBootnode(b);
    }
  }

  private scheduleBootnode(b: Bootnode, delayMs?: number): void {
    if (this.stopped || b.timer !== undefined) return;
    const wait = delayMs ?? b.delay;
    if (delayMs === undefined) b.delay = Math.min(b.delay * 2, BOOTNODE_MAX_BACKOFF_MS);
    b.timer = setTimeout(() => {
      b.timer = undefined;
      void this.dialBootnode(b);
    }, wait);
    b.timer.unref();
  }

  private parsePeerId(peerId: string): PeerId {
    try {
      return peerIdFromString(peerId);
    } catch (e) {
      throw new StrataError('DECODE_INVALID', `not a valid peer id: ${String(peerId).slice(0, 80)}`, { peer: peerId }, { cause: e });
    }
  }
}
