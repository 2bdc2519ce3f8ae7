/**
 * Node settings of the p2p layer: the `P2POptions` a node passes in, their defaults, and the
 * one-time validation at creation (CONFIG_INVALID naming the bad field).
 */
import { StrataError } from '@strata/primitives';
import { multiaddr } from '@multiformats/multiaddr';

/** Settings of a P2PNode. Only `networkId` is required. */
export interface P2POptions {
  /**
   * Network identifier, e.g. the first 8 bytes of the genesis hash in hex. Namespaces every gossip
   * topic and protocol id (`/strata/<networkId>/...`), so nodes of different networks never mix.
   * Letters, digits, `.`, `_` and `-` only.
   */
  networkId: string;
  /** Directory for the persistent ed25519 node key (`<dataDir>/p2p.key`); without it a fresh key per run. */
  dataDir?: string;
  /** Multiaddrs to listen on (default `['/ip4/127.0.0.1/tcp/0']`). */
  listen?: string[];
  /** Multiaddrs announced to peers instead of the listen addresses (for NAT or other hosts). */
  announce?: string[];
  /** Multiaddrs ending in `/p2p/<peerId>`; dialled at start and re-dialled with backoff while disconnected. */
  bootnodes?: string[];
  /** Largest gossip message data in bytes (default 2 MiB, at most 3 MiB); larger ones are dropped and the sender penalised. */
  maxGossipBytes?: number;
  /** How long a peer stays banned after its score reaches the ban threshold, in seconds (default 300). */
  banSeconds?: number;
  /** Score at or below which a peer is disconnected and banned (default -100, must be negative). */
  banThreshold?: number;
  /** Half-life of application-level penalties, in seconds (default 600). */
  scoreHalfLifeSeconds?: number;
  /** Most simultaneous connections (default 64). */
  maxConnections?: number;
  /**
   * Connections the node keeps: below it, peers from the address book (bootnodes, peer exchange,
   * `<dataDir>/peers.json`) are dialled (default 8; 0 turns discovery dialling off).
   */
  targetPeers?: number;
  /** Period of the discovery round (dial toward `targetPeers`, ask a peer for addresses), ms (default 5000). */
  discoveryIntervalMs?: number;
  /** Serve and ask for peer addresses (`peers/1`, as Bitcoin's `addr`; default true). */
  peerExchange?: boolean;
  /**
   * A network on one host (a devnet): gossipsub's IP-colocation penalty is off. Elsewhere it stays
   * on (gossipsub's default: beyond 10 peers on one IP their router score drops).
   */
  localNetwork?: boolean;
  /** Inbound requests per peer, all protocols together: tokens per second and burst (default 50/s, burst 200). */
  requestRate?: { perSecond: number; burst: number };
  /**
   * Remote IPs never banned by address (default `127.0.0.1` and `::1`: every node of a devnet
   * shares them, as Bitcoin Core never discourages local peers). Other addresses of a banned peer
   * are refused for the length of the ban, whatever peer id they present.
   */
  addressBanExempt?: string[];
  /**
   * Coalesce each connection's socket writes per event-loop turn into one `writev` (default true;
   * see write-batching.ts). Off writes every buffer libp2p hands over with its own syscall.
   */
  batchWrites?: boolean;
}

/** P2POptions with every default filled in. */
export interface ResolvedP2POptions {
  networkId: string;
  dataDir: string | undefined;
  listen: string[];
  announce: string[];
  bootnodes: { addr: string; peerId: string }[];
  maxGossipBytes: number;
  banSeconds: number;
  banThreshold: number;
  scoreHalfLifeSeconds: number;
  maxConnections: number;
  targetPeers: number;
  discoveryIntervalMs: number;
  peerExchange: boolean;
  localNetwork: boolean;
  requestRate: { perSecond: number; burst: number };
  addressBanExempt: string[];
  batchWrites: boolean;
}

/** Default listen address: loopback, ephemeral port. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];
/** Default `maxGossipBytes`: 2 MiB. */
export const DEFAULT_MAX_GOSSIP_BYTES = 2 * 1024 * 1024;
/**
 * Upper bound of `maxGossipBytes`. gossipsub's length-prefixed encoder refuses RPC frames over
 * 4 MiB, and a frame carries the data plus topic, control messages and protobuf overhead.
 */
export const MAX_GOSSIP_BYTES_LIMIT = 3 * 1024 * 1024;
/** Default ban length in seconds. */
export const DEFAULT_BAN_SECONDS = 300;

const NETWORK_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

function invalid(field: string, message: string, value?: unknown): StrataError {
  return new StrataError('CONFIG_INVALID', `p2p option ${field}: ${message}`, { field, value });
}

function checkMultiaddrs(field: string, list: unknown): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalid(field, 'expected an array of multiaddr strings', list);
  return list.map((a, i) => {
    if (typeof a !== 'string') throw invalid(`${field}[${i}]`, 'expected a multiaddr string', a);
    try {
      multiaddr(a);
    } catch (e) {
      throw invalid(`${field}[${i}]`, `not a valid multiaddr (${(e as Error).message}); e.g. /ip4/127.0.0.1/tcp/30333`, a);
    }
    return a;
  });
}

/** Returns the `/p2p/<peerId>` component of a multiaddr, or undefined when there is none. */
export function peerIdOfMultiaddr(addr: string): string | undefined {
  const comps = multiaddr(addr).getComponents();
  for (let i = comps.length - 1; i >= 0; i--) {
    const c = comps[i];
    if (c !== undefined && c.name === 'p2p' && c.value !== undefined) return c.value;
  }
  return undefined;
}

function checkNumber(field: string, v: unknown, def: number, ok: (n: number) => boolean, hint: string): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(field, hint, v);
  return v;
}

/** Validates options once at creation and fills in defaults; throws CONFIG_INVALID naming the field. */
export function resolveP2POptions(opts: P2POptions): ResolvedP2POptions {
  if (opts === null || typeof opts !== 'object') throw invalid('(options)', 'expected an object');
  if (typeof opts.networkId !== 'string' || !NETWORK_ID_RE.test(opts.networkId)) {
    throw invalid('networkId', 'expected 1-64 characters of [A-Za-z0-9._-], e.g. the first 8 bytes of the genesis hash in hex', opts.networkId);
  }
  if (opts.dataDir !== undefined && (typeof opts.dataDir !== 'string' || opts.dataDir === '')) {
    throw invalid('dataDir', 'expected a directory path', opts.dataDir);
  }
  const listen = opts.listen === undefined ? [...DEFAULT_LISTEN] : checkMultiaddrs('listen', opts.listen);
  const announce = checkMultiaddrs('announce', opts.announce);
  const bootnodes = checkMultiaddrs('bootnodes', opts.bootnodes).map((addr, i) => {
    const peerId = peerIdOfMultiaddr(addr);
    if (peerId === undefined) throw invalid(`bootnodes[${i}]`, 'must end in /p2p/<peerId> so the node can be authenticated', addr);
    return { addr, peerId };
  });
  const maxGossipBytes = checkNumber(
    'maxGossipBytes',
    opts.maxGossipBytes,
    DEFAULT_MAX_GOSSIP_BYTES,
    (n) => Number.isInteger(n) && n > 0 && n <= MAX_GOSSIP_BYTES_LIMIT,
    `expected an integer in 1..${MAX_GOSSIP_BYTES_LIMIT}`,
  );
  const banSeconds = checkNumber('banSeconds', opts.banSeconds, DEFAULT_BAN_SECONDS, (n) => n >= 0, 'expected a non-negative number of seconds');
  const banThreshold = checkNumber('banThreshold', opts.banThreshold, -100, (n) => n < 0, 'expected a negative score');
  const scoreHalfLifeSeconds = checkNumber('scoreHalfLifeSeconds', opts.scoreHalfLifeSeconds, 600, (n) => n > 0, 'expected a positive number of seconds');
  const maxConnections = checkNumber('maxConnections', opts.maxConnections, 64, (n) => Number.isInteger(n) && n > 0, 'expected a positive integer');
  const targetPeers = checkNumber('targetPeers', opts.targetPeers, 8, (n) => Number.isInteger(n) && n >= 0, 'expected a non-negative integer');
  const discoveryIntervalMs = checkNumber('discoveryIntervalMs', opts.discoveryIntervalMs, 5000, (n) => n >= 50, 'expected at least 50 ms');
  const rate = opts.requestRate ?? { perSecond: 50, burst: 200 };
  if (rate === null || typeof rate !== 'object' || !(rate.perSecond > 0) || !(rate.burst >= 1)) {
    throw invalid('requestRate', 'expected { perSecond > 0, burst >= 1 }', rate);
  }
  const exempt = opts.addressBanExempt ?? ['127.0.0.1', '::1'];
  if (!Array.isArray(exempt) || exempt.some((a) => typeof a !== 'string')) throw invalid('addressBanExempt', 'expected an array of IP strings', exempt);
  return {
    networkId: opts.networkId,
    dataDir: opts.dataDir,
    listen,
    announce,
    bootnodes,
    maxGossipBytes,
    banSeconds,
    banThreshold,
    scoreHalfLifeSeconds,
    maxConnections,
    targetPeers,
    discoveryIntervalMs,
    peerExchange: opts.peerExchange !== false,
    localNetwork: opts.localNetwork === true,
    requestRate: { perSecond: rate.perSecond, burst: rate.burst },
    addressBanExempt: [...exempt],
    batchWrites: opts.batchWrites !== false,
  };
}
