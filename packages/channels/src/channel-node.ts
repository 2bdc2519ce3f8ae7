/**
 * The channel node: a long-running daemon with its own ed25519 node key and secp256k1 onion key,
 * a wallet key on the parent chain, peers over libp2p, channels persisted in lmdb, and a driver
 * loop that watches the chain (breaches, closes, HTLC expiries, preimages revealed on chain).
 *
 * The commitment protocol is in wire.ts. Rules kept here:
 * - every record a message depends on is written (awaited) before the message leaves;
 * - `lastSigned` is written before a state signature leaves, and a different state with the same
 *   version is never signed (CHANNEL_STATE instead);
 * - an incoming HTLC is acted on (forwarded, settled) only once its commitment round completed;
 *   a downstream failure is passed upstream only once the state without the HTLC is committed;
 * - an outgoing HTLC close to its expiry with the peer unresponsive takes the channel on chain.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { P2PNode, PENALTY, RateLimiter } from '@strata/p2p';
import {
  blake2b256Parts,
  bytesEqual,
  concatBytes,
  bytesKey,
  compareBytes,
  decode,
  encode,
  fromHex,
  keyPairFromSecret,
  randomKeyPair,
  StrataError,
  toHex,
  toStrataError,
  utf8,
  type KeyPair,
} from '@strata/primitives';
import type { Logger } from 'pino';
import {
  ChannelAnnouncementCodec,
  ChannelUpdateCodec,
  CloseMsg,
  CloseReply,
  CommitMsg,
  CommitReply,
  Envelope,
  GOSSIP_TOPIC,
  GossipMsg,
  GraphSyncReply,
  INIT_PERSONAL,
  InitMsg,
  MAX_MESSAGE_BYTES,
  MSG,
  NodeAnnouncementCodec,
  OpenMsg,
  AcceptMsg,
  PROTOCOL,
  ProposeMsg,
  ProposeReply,
  ReadyMsg,
  type ChannelAnnouncement,
  type ChannelUpdate,
  type NodeAnnouncement,
} from './wire.js';
import {
  CH_CLOSED,
  CH_CLOSING,
  CH_OPEN,
  ChannelRefArgs,
  CoopCloseArgs,
  END_COOPERATIVE,
  END_SETTLED,
  HtlcRefArgs,
  OpenArgs,
  openingState,
  PenalizeArgs,
  RevealArgs,
  SignedStateArgs,
  type ChannelRecord,
} from './adjudicator.js';
import { AdjudicatorReader, sendAndWait, waitIncluded, type ChainClient } from './chain-client.js';
import { edKeyFromSecret, edSignMsg, edVerifyMsg, ecdhSecret, random32, secpPublic, secpRandomSecret, sha256, type EdKey } from './crypto.js';
import { Driver } from './driver.js';
import { decodeInvoiceAsync, encodeInvoice, invoiceExpired } from './invoice.js';
import { ChannelMetrics } from './metrics.js';
import { drainOnionWorker, onOnionWorkerFailure } from './crypto-pool.js';
import { buildOnionAsync, createFailure, decryptFailure, FAIL, peelOnion, wrapFailure, type HopPayload } from './onion.js';
import { ChannelGraph, MissionControl, policyFee, type Route } from './router.js';
import {
  applyEach,
  applyUpdates,
  closeDigest,
  decodeUpdate,
  DEFAULT_LIMITS,
  encodeUpdate,
  revocationDigest,
  shortId,
  stateDigest,
  stateHash,
  ChannelStateCodec,
  type ChannelDomain,
  type ChannelLimits,
  type ChannelState,
  type Side,
  type Update,
} from './state.js';
import { ChannelStore } from './store.js';
import { towerBlobFor, type TowerClient } from './watchtower.js';

/** Forwarding policy this node advertises for its channels. */
export interface ForwardingPolicy {
  feeBase: bigint;
  feePpm: number;
  /**
   * Blocks between a forward's outgoing and incoming HTLC expiries. Default 12. It must cover
   * `closeConfirmations` + `expiryMargin` + 1: an outgoing HTLC refunded on chain fails upstream
   * only `closeConfirmations` blocks past its expiry, and the upstream peer goes on chain
   * `expiryMargin` blocks before the incoming one expires (BOLT 2's cltv_expiry_delta counts the
   * reorganisation depth too). A node with less warns at start.
   */
  cltvDelta: number;
}

/** Node settings of a channel node (checked once at start). */
export interface ChannelNodeOptions {
  /** Data directory: identity, lmdb database, p2p key. */
  dataDir: string;
  /** Human-readable name (gossiped). */
  alias?: string;
  /** libp2p listen addresses (default loopback, free port). */
  listen?: string[];
  /** Peers to dial at start (multiaddrs with /p2p/<id>). */
  bootnodes?: string[];
  /** Wallet key on the parent chain (default: one generated and kept in the data dir). */
  walletKey?: Uint8Array;
  /** Driver interval (chain polling), ms. Default 500. */
  pollMs?: number;
  /** Dispute delay this node asks for in the channels it opens, blocks. Default 6. */
  toSelfDelay?: number;
  limits?: Partial<ChannelLimits>;
  policy?: Partial<ForwardingPolicy>;
  /** Blocks a payee wants left on the final HTLC. Default 12. */
  minFinalExpiry?: number;
  /** Blocks before an outgoing HTLC expires at which an unresponsive channel goes on chain. Default 2. */
  expiryMargin?: number;
  /** Furthest an HTLC's expiry may lie ahead of the current height, in blocks (LND's max_cltv_expiry). Default 2016. */
  maxExpiryDelta?: number;
  /** Most updates per commitment round. Default 400. */
  maxBatch?: number;
  /** How long a payee holds parts of an incomplete multi-path payment, ms. Default 30 000. */
  mppTimeoutMs?: number;
  /** Payment attempts before giving up. Default 12. */
  maxAttempts?: number;
  /** Most parts a multi-path payment splits into. Default 8. */
  maxParts?: number;
  /** How long a cooperative close waits for HTLCs in flight to settle before refusing, ms. Default 10 000. */
  closeWaitMs?: number;
  /** How long a request to a peer waits for its answer, ms. Default 20 000. A commitment round's request that times out hangs up on the peer (see `roundFailed`). */
  requestTimeoutMs?: number;
  /**
   * Most time a committed write waits for its fsync when no message is waiting for it, ms (0: fsync
   * inside every commit). Default 20. Either way every commit is fsynced before any message to a
   * peer leaves (one fsync shared by all messages waiting), so neither a killed process nor a
   * power loss loses a state we signed (see docs/channels.md, "Durability").
   */
  flushMs?: number;
  /**
   * How long a round of fulfils the peer already knows (revealed in our `revoke`, see EarlyFulfil)
   * waits before we propose it ourselves, ms (0: at once). Meanwhile a proposal of the peer's takes
   * them into its accepting reply, so the channel is not busy with a round of ours when the payer's
   * next HTLCs come (LND batches commitments on a 50 ms ticker). Default 20.
   */
  fulfilBatchMs?: number;
  /**
   * Blocks a final close (CH_CLOSED) must have on top — counted from the height this node first
   * saw it — before the HTLCs we offered that its state lacks fail back off chain (to the payment
   * or the upstream hop); and blocks past an HTLC's expiry before one refunded on chain fails
   * upstream. On a parent that reorganises, a failure passed upstream at the head could be
   * undone by a branch where the peer's newer state (or the preimage) landed in time: the peer
   * then claims on chain what we already gave up upstream. On-chain actions (claims, reveals,
   * refunds) and settling upstream with a preimage never wait for it. On an L2 the blocks are its
   * L1 origin's (the clock `ChainClient.height()` reads). Default 6, the L1's `confirmations`
   * (its finality depth; the devnet's too); 0 acts at the head.
   */
  closeConfirmations?: number;
}

/** Dependencies. */
export interface ChannelNodeDeps {
  chain: ChainClient;
  logger: Logger;
  metrics?: ChannelMetrics;
  tower?: TowerClient;
}

type ChannelStatus = 'opening' | 'open' | 'closing' | 'closed';

interface Round {
  role: 'proposer' | 'receiver';
  version: number;
  /** The proposer's updates. */
  updates: Update[];
  /** The receiver's own updates added in its accepting reply (applied after the proposer's). */
  counter?: Update[];
  next: ChannelState;
  stage: 'proposed' | 'accepted';
  mySig?: Uint8Array;
  theirSig?: Uint8Array;
}

/** A channel as this node keeps it. */
interface LocalChannel {
  id: Uint8Array;
  side: Side;
  peer: Uint8Array;
  keyA: Uint8Array;
  keyB: Uint8Array;
  payA: Uint8Array;
  payB: Uint8Array;
  capacity: bigint;
  push: bigint;
  toSelfDelay: number;
  limits: ChannelLimits;
  status: ChannelStatus;
  state: ChannelState;
  sigA?: Uint8Array;
  sigB?: Uint8Array;
  theirRevocation?: { version: number; sig: Uint8Array };
  myRevocation?: { version: number; sig: Uint8Array };
  lastSigned: { version: number; hash: Uint8Array };
  round?: Round | undefined;
  queue: Update[];
  nextHtlcId: number;
  /**
   * The lowest id the peer's next add may carry (BOLT 2 next_htlc_id): one above the highest id of
   * an add of the peer's that a completed round took. Missing in records made before it (0).
   */
  peerNextHtlcId?: number;
  /** Incoming HTLC onions (by HTLC id) until processed. */
  onions: Record<string, Uint8Array>;
  announced: boolean;
  /**
   * The on-chain actions sent for this channel (settle, claim:i, refund:i, reveal:hash,
   * update:v, penalize:v; and the boolean coop-fallback): the transaction, and the height its
   * receipt landed at once included. `true` is one sent by an older version, or one whose send
   * did not return (its transaction unknown). An action is sent again when the chain lacks its
   * effect and its transaction is neither included nor pending (see watchChannel's act).
   */
  onchainActions: Record<string, boolean | OnchainAction>;
  /** Parent-chain height when a cooperative close was signed (unilateral fallback if it never lands). */
  coopSince?: number;
  /** Parent-chain height when our unilateral close was last sent (sent again if it never lands). */
  closeSentAt?: number;
  /**
   * Parent-chain height at which this node first saw the channel's close final (CH_CLOSED); reset
   * when a later look finds it no longer closed (reorganised out). Off-chain fail-backs of our
   * HTLCs wait until it is `closeConfirmations` deep.
   */
  closedSeenAt?: number;
  /** Which final close `closedSeenAt` counts for: its {@link closeIdentity} (a different one after a reorganisation counts anew). */
  closedSeenHash?: Uint8Array;
  /**
   * The chain's own head block when `closedSeenAt` was set (on an L2 the L2's block; the count
   * is in its L1 origin's clock). A look that finds another block at that number (the branch
   * the close was seen on was replaced: the same close may have landed again higher) counts
   * anew from the head. Missing in records made before it: re-anchored at the head.
   */
  closedSeenBlock?: { number: number; hash: Uint8Array };
}

/** An on-chain action sent: its transaction, and the height it landed at once included. */
interface OnchainAction {
  tx: Uint8Array;
  at?: number;
}

/** A final close as the chain records it: its state's hash and how it ended (cooperative, settled, penalty). */
function closeIdentity(rec: ChannelRecord): Uint8Array {
  return concatBytes(rec.stateHash, Uint8Array.of(rec.ending));
}

/** Gossip items a peer may push per second (and burst); beyond that they are dropped and the peer penalised. */
export const GOSSIP_RATE = { perSecond: 20, burst: 200 };
/** Node announcements kept while none of the node's channels is known yet. */
export const MAX_ORPHAN_NODES = 1000;
/** Most items taken from one graph sync reply. */
export const MAX_GRAPH_SYNC_ITEMS = 20_000;
/** A channel update or node announcement may be dated at most this far ahead, seconds (BOLT 7). */
export const MAX_GOSSIP_FUTURE_SECONDS = 600;

/** Inbound peer requests per second (and burst) a channel node serves from one peer. */
export const CHANNEL_REQUEST_RATE = { perSecond: 1000, burst: 2000 };
/** Per-peer rate of whole-graph sync requests served (a node asks every 3 s and on connect). */
export const GRAPH_SYNC_RATE = { perSecond: 1, burst: 10 };

/** The peer protocol's session limits (one long-lived stream per peer). */
const SESSION_OPTS = { maxFrameBytes: MAX_MESSAGE_BYTES + 16, timeoutMs: 20_000, maxInFlight: 256 };

/** Blocks a signed cooperative close may stay unpublished before the node closes unilaterally. */
export const COOP_CLOSE_TIMEOUT_BLOCKS = 6;
/** Blocks after which a unilateral close not yet on chain is sent again. */
export const CLOSE_RESEND_BLOCKS = 3;
/** Default `closeConfirmations`: the L1's finality depth (`ChainConfig.confirmations`, 6 by default and on the devnet). */
export const DEFAULT_CLOSE_CONFIRMATIONS = 6;
/**
 * Longest wait, in chain-watch ticks, between two tries of a closed channel's off-chain resolution
 * that keeps throwing (a link's fail-back or settlement whose commit fails): the wait doubles from
 * one tick after each failure up to this, and a success ends it.
 */
export const RESOLVE_RETRY_MAX_TICKS = 32;
/** Preimage-registry reads of one channel's chain watch in flight at once (links, HTLCs of a close). */
export const CHAIN_READ_CONCURRENCY = 8;
/** Present once the store has the index of pending payment records (`payp:`): see writePayRecord. */
const PAY_INDEX_MARKER = 'idx:payp';

/** Runs `f` over `items` with at most `limit` calls in flight; the results in the items' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Default forwarding `cltvDelta`: above the default closeConfirmations + expiryMargin + 1 (9), with room for the fail round. */
export const DEFAULT_CLTV_DELTA = 12;
/** Largest `closeConfirmations` accepted (an HTLC's expiry lies at most `maxExpiryDelta`, 2016 by default, ahead). */
export const MAX_CLOSE_CONFIRMATIONS = 2016;

/** Outgoing HTLC → where it came from (a forward) or which payment part it is. */
interface OutLink {
  kind: 'forward' | 'payment';
  inChannel?: Uint8Array;
  inId?: number;
  /** Our onion shared secret for the incoming HTLC (to wrap failures). */
  secret?: Uint8Array;
  paymentHash?: Uint8Array;
  part?: number;
  /**
   * A payment link's proof: the preimage a fulfil (in a round, or early) of this very HTLC
   * brought, stored with the link in the commit that keeps the preimage. A `pre:` record alone
   * proves nothing for a payment part: a forwarder of the same hash keeps one too.
   */
  preimage?: Uint8Array;
}

interface InvoiceRecord {
  text: string;
  preimage: Uint8Array;
  hash: Uint8Array;
  secret: Uint8Array;
  amount: bigint;
  timestamp: number;
  expiry: number;
  status: 'open' | 'held' | 'paid' | 'cancelled';
  paidAt?: number;
  /** A hold invoice: the payee keeps arrived HTLCs until `settleInvoice` (LND's hodl invoices). */
  hold?: boolean;
  held?: { ch: Uint8Array; id: number; amount: bigint }[];
}

interface PaymentPart {
  index: number;
  amount: bigint;
  route: Route;
  secrets: Uint8Array[];
  status: 'inflight' | 'ok' | 'failed';
}

interface Payment {
  hash: Uint8Array;
  total: bigint;
  secret: Uint8Array;
  payee: Uint8Array;
  finalExpiry: number;
  parts: PaymentPart[];
  attempts: number;
  status: 'pending' | 'succeeded' | 'failed';
  preimage?: Uint8Array;
  /**
   * The payee refused a part for good (unknown, expired or already paid invoice): no part is
   * sent again, and the payment fails with this once no part is left in flight (another may
   * still be fulfilled: then it succeeded).
   */
  refused?: StrataError;
  failures: { hop: number; node: string; channel: string; code: number }[];
  exclude: Set<string>;
  done: (e?: StrataError) => void;
  started: number;
}

/** The result of a payment. */
export interface PaymentResult {
  paymentHash: string;
  preimage: string;
  amount: string;
  fee: string;
  parts: number;
  attempts: number;
  routes: { hops: string[]; amount: string }[];
  failures: { hop: number; node: string; channel: string; code: number }[];
  ms: number;
}

const ANN_PERSONAL = utf8('strata-chan-anno');
const NO_ONION = new Uint8Array(0);
/** Blocks of height difference between two peers an add in a reply tolerates (see takeOwn). */
const PIGGYBACK_SLACK = 2;
const UPD_PERSONAL = utf8('strata-chan-updt');
const NODE_PERSONAL = utf8('strata-chan-node');

/** Where a gossip item is kept: one record per channel, per channel direction and per node (a newer one replaces it). */
function gossipKey(kind: number, body: Uint8Array): string {
  if (kind === 0) return `g:0:${toHex(decode(ChannelAnnouncementCodec, body).channelId)}`;
  if (kind === 1) {
    const u = decode(ChannelUpdateCodec, body);
    return `g:1:${toHex(u.channelId)}:${u.direction === 0 ? 0 : 1}`;
  }
  return `g:2:${toHex(decode(NodeAnnouncementCodec, body).nodeKey)}`;
}

function annDigest(a: ChannelAnnouncement): Uint8Array {
  return blake2b256Parts([encode(ChannelAnnouncementCodec, { ...a, sigA: new Uint8Array(64), sigB: new Uint8Array(64) })], ANN_PERSONAL);
}
function updDigest(u: ChannelUpdate): Uint8Array {
  return blake2b256Parts([encode(ChannelUpdateCodec, { ...u, sig: new Uint8Array(64) })], UPD_PERSONAL);
}
function nodeDigest(n: NodeAnnouncement): Uint8Array {
  return blake2b256Parts([encode(NodeAnnouncementCodec, { ...n, sig: new Uint8Array(64) })], NODE_PERSONAL);
}

const err = (code: 'CHANNEL_INVALID' | 'CHANNEL_STATE' | 'CHANNEL_PEER' | 'CHANNEL_NOT_FOUND', msg: string, meta: Record<string, unknown> = {}) => new StrataError(code, msg, meta);

/** A channel node. Create with {@link ChannelNode.create}, then `start()`. */
export class ChannelNode {
  readonly graph = new ChannelGraph();
  readonly mc = new MissionControl();
  readonly metrics: ChannelMetrics;
  private readonly channels = new Map<string, LocalChannel>();
  private readonly peerByNode = new Map<string, string>();
  private readonly nodeByPeer = new Map<string, { nodeKey: Uint8Array; onionKey: Uint8Array; alias: string }>();
  private readonly links = new Map<string, OutLink>();
  /** Payment links out per payment hash (hex): kept with `links` by setLink / deleteLink, so "is a part out" is O(1). */
  private readonly paymentLinksByHash = new Map<string, number>();
  private readonly payments = new Map<string, Payment>();
  private readonly settling = new Set<string>();
  private readonly gossipLimiter = new RateLimiter(GOSSIP_RATE);
  /** When each peer was last penalised for gossip beyond the rate (at most once a second, see onPeerGossip). */
  private readonly gossipPenalisedAt = new Map<string, number>();
  private readonly graphLimiter = new RateLimiter(GRAPH_SYNC_RATE);
  private readonly orphanNodes = new Map<string, Uint8Array>();
  private readonly offWorkerFailure: () => void;
  /** Per first channel (bytesKey): the amounts of payment parts whose onion is on the worker. */
  private readonly onionsBuilding = new Map<string, bigint>();
  private readonly mpp = new Map<string, { parts: { ch: Uint8Array; id: number; amount: bigint }[]; total: bigint; since: number }>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Callbacks run when a round completes (a peer's next proposal waiting for our side of it). */
  private readonly roundWaiters = new WeakMap<object, (() => void)[]>();
  private readonly scheduled = new Set<string>();
  /** Per channel: ids of the peer's HTLCs whose preimage our `revoke` revealed (EarlyFulfil), their fulfil not yet in a round. */
  private readonly revealed = new Map<string, Set<number>>();
  /** Per channel: the timer of a deferred round of revealed fulfils. */
  private readonly fulfilTimers = new Map<string, NodeJS.Timeout>();
  private readonly dialing = new Set<string>();
  /**
   * Cooperative closes this node has signed, by channel: the balances and our signature. A CLOSE
   * from the peer for the same balances while ours is on its way (both sides closing at once) is
   * answered with that same signature, without the channel's lock (which our own close holds).
   */
  private readonly coopSigned = new Map<string, { balanceA: bigint; balanceB: bigint; sig: Uint8Array }>();
  /** Channels whose unilateral close transaction is being sent. */
  private readonly closeInFlight = new Set<string>();
  /** Closes (channel, published version) logged as past their dispute delay with our newer state unpublished (logged once). */
  private readonly lateDisputes = new Set<string>();
  private lastSync = 0;
  private orphans: { body: Uint8Array; from: string | undefined }[] = [];
  private readonly driver: Driver;
  private readonly log: Logger;
  private readonly opts: Required<Omit<ChannelNodeOptions, 'walletKey' | 'limits' | 'policy' | 'alias' | 'listen' | 'bootnodes'>> & {
    limits: ChannelLimits;
    policy: ForwardingPolicy;
    alias: string;
    listen: string[];
    bootnodes: string[];
  };
  private heightCache = 0;
  /** Chain-watch ticks run so far (the clock of the resolution retries). */
  private ticks = 0;
  /**
   * Off-chain resolutions of a closed channel's links that threw, by link key: the number of
   * failures in a row and the tick of the next try (see RESOLVE_RETRY_MAX_TICKS). In memory only:
   * a restart tries at once. Cleared when the link goes (deleteLink).
   */
  private readonly resolveRetry = new Map<string, { failures: number; at: number }>();
  /**
   * Per channel (bytesKey), the updates out of the queue whose drop threw (a fail-back's commit
   * failed): only their drop is retried, at every tick (retryDrops), never a proposal (see dropAll).
   */
  private readonly pendingDrops = new Map<string, { ch: LocalChannel; u: Update; e: StrataError }[]>();
  private domainCache: ChannelDomain | undefined;
  private prefix = 'st';
  private stopped = false;
  private towerQueue: { hint: Uint8Array; blob: Uint8Array }[] = [];
  readonly reader: AdjudicatorReader;

  private constructor(
    opts: ChannelNodeOptions,
    readonly key: EdKey,
    readonly onionSecret: Uint8Array,
    readonly wallet: KeyPair,
    readonly store: ChannelStore,
    readonly p2p: P2PNode,
    private readonly deps: ChannelNodeDeps,
  ) {
    this.opts = {
      dataDir: opts.dataDir,
      alias: opts.alias ?? 'node',
      listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      bootnodes: opts.bootnodes ?? [],
      pollMs: opts.pollMs ?? 500,
      toSelfDelay: opts.toSelfDelay ?? 6,
      limits: { ...DEFAULT_LIMITS, ...opts.limits },
      policy: { feeBase: 1n, feePpm: 100, cltvDelta: DEFAULT_CLTV_DELTA, ...opts.policy },
      minFinalExpiry: opts.minFinalExpiry ?? 12,
      expiryMargin: opts.expiryMargin ?? 2,
      maxExpiryDelta: opts.maxExpiryDelta ?? 2016,
      maxBatch: opts.maxBatch ?? 400,
      mppTimeoutMs: opts.mppTimeoutMs ?? 30_000,
      maxAttempts: opts.maxAttempts ?? 12,
      maxParts: opts.maxParts ?? 8,
      closeWaitMs: opts.closeWaitMs ?? 10_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 20_000,
      flushMs: opts.flushMs ?? 20,
      fulfilBatchMs: opts.fulfilBatchMs ?? 20,
      closeConfirmations: opts.closeConfirmations ?? DEFAULT_CLOSE_CONFIRMATIONS,
    };
    this.log = deps.logger.child({ role: 'channel-node', alias: this.opts.alias });
    this.metrics = deps.metrics ?? new ChannelMetrics();
    this.reader = new AdjudicatorReader(deps.chain);
    store.onSync = (sec) => this.metrics.fsyncSeconds.observe(sec);
    this.offWorkerFailure = onOnionWorkerFailure((why) => this.log.warn({ reason: why }, 'onion worker stopped: onions are built on the main thread'));
    if (this.opts.policy.cltvDelta <= this.opts.closeConfirmations + this.opts.expiryMargin + 1) {
      this.log.warn(
        { cltvDelta: this.opts.policy.cltvDelta, closeConfirmations: this.opts.closeConfirmations, expiryMargin: this.opts.expiryMargin },
        'cltvDelta does not exceed closeConfirmations + expiryMargin + 1: a forward refunded on chain fails upstream only after the upstream peer has gone on chain (raise cltvDelta)',
      );
    }
    this.driver = new Driver('channel-node', this.opts.pollMs, () => this.tick(), this.log, () => this.metrics.loopErrors.inc({ role: 'channel-node' }));
  }

  /** Loads (or creates) the identity in `dataDir`, opens the database and configures libp2p. */
  static async create(opts: ChannelNodeOptions, deps: ChannelNodeDeps): Promise<ChannelNode> {
    const fb = opts.fulfilBatchMs;
    if (fb !== undefined && (!Number.isInteger(fb) || fb < 0 || fb > 10_000)) throw new StrataError('CONFIG_INVALID', `fulfilBatchMs must be an integer from 0 to 10000 ms, got ${fb}`);
    const cc = opts.closeConfirmations;
    if (cc !== undefined && (!Number.isInteger(cc) || cc < 0 || cc > MAX_CLOSE_CONFIRMATIONS)) throw new StrataError('CONFIG_INVALID', `closeConfirmations must be a whole number of blocks from 0 to ${MAX_CLOSE_CONFIRMATIONS}, got ${cc}`);
    if (!opts.dataDir) throw new StrataError('CONFIG_INVALID', 'channel node: dataDir is required');
    mkdirSync(opts.dataDir, { recursive: true });
    const idFile = join(opts.dataDir, 'identity.json');
    let id: { node: string; onion: string; wallet: string };
    if (existsSync(idFile)) id = JSON.parse(readFileSync(idFile, 'utf8'));
    else {
      id = { node: toHex(random32()), onion: toHex(secpRandomSecret()), wallet: toHex(opts.walletKey ?? randomKeyPair().secretKey) };
      writeFileSync(idFile, JSON.stringify(id), { mode: 0o600 });
    }
    if (opts.walletKey && id.wallet !== toHex(opts.walletKey)) {
      id.wallet = toHex(opts.walletKey);
      writeFileSync(idFile, JSON.stringify(id), { mode: 0o600 });
    }
    const info = await deps.chain.info();
    const p2p = await P2PNode.create(
      // Requests per peer: a commitment round is two requests and a busy channel runs tens of
      // rounds a second each way (p2p's default, 50/s, penalises and then bans the peer); each
      // request is bounded in size and serialised per channel by the node's locks.
      { networkId: `chan-${info.chainId}-${deps.chain.module}`, dataDir: opts.dataDir, listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'], bootnodes: opts.bootnodes ?? [], requestRate: CHANNEL_REQUEST_RATE },
      { logger: deps.logger },
    );
    const node = new ChannelNode(opts, edKeyFromSecret(fromHex(id.node, 32)), fromHex(id.onion, 32), keyPairFromSecret(fromHex(id.wallet, 32)), ChannelStore.open(opts.dataDir, opts.flushMs === undefined ? {} : { flushMs: opts.flushMs }), p2p, deps);
    node.prefix = info.addressPrefix;
    node.domainCache = { chainId: info.chainId, module: deps.chain.module };
    return node;
  }

  get nodeKey(): Uint8Array {
    return this.key.publicKey;
  }
  get onionKey(): Uint8Array {
    return secpPublic(this.onionSecret);
  }
  get alias(): string {
    return this.opts.alias;
  }
  get height(): number {
    return this.heightCache;
  }
  private get domain(): ChannelDomain {
    return this.domainCache as ChannelDomain;
  }

  /** Loads channels, starts p2p, dials peers, starts the driver. */
  async start(): Promise<void> {
    for (const [, ch] of this.store.list<LocalChannel>('ch:')) {
      this.attachOnions(ch);
      this.channels.set(bytesKey(ch.id), ch);
    }
    for (const [k, l] of this.store.list<OutLink>('fwd:')) this.setLink(k.slice(4), l);
    for (const [, g] of this.store.list<{ kind: number; body: Uint8Array }>('g:')) this.applyGossip(g.kind, g.body);
    this.heightCache = await this.deps.chain.height();
    this.p2p.handle(PROTOCOL, (req, from) => this.onRequest(req, from), { maxRequestBytes: MAX_MESSAGE_BYTES, maxResponseBytes: MAX_MESSAGE_BYTES, timeoutMs: 20_000 });
    // the same messages on one long-lived stream per peer (what the node itself sends on)
    this.p2p.handleSession(PROTOCOL, (req, from) => this.onRequest(req, from), SESSION_OPTS);
    this.p2p.subscribe(
      GOSSIP_TOPIC,
      (data, from) => this.validateGossip(data, from),
      (data, from) => {
        const g = decode(GossipMsg, data);
        void this.acceptGossip(g.kind, g.body, from);
      },
    );
    this.p2p.on('peer:connect', (peerId) => void this.onConnect(peerId).catch((e) => this.log.debug({ peerId, error: toStrataError(e).message }, 'handshake failed')));
    this.p2p.on('peer:disconnect', (peerId) => {
      const n = this.nodeByPeer.get(peerId);
      if (n) {
        this.peerByNode.delete(bytesKey(n.nodeKey));
        this.log.info({ peer: n.alias }, 'peer disconnected');
      }
      this.nodeByPeer.delete(peerId);
    });
    // Work left half done by a crash: re-derive what must be settled or failed — before the
    // peers can reach us (it needs none): a peer's round handled first could take an HTLC id
    // that recover() raises next_htlc_id above (reconcileLinks), overwriting a stored link
    this.recover();
    await this.p2p.start();
    this.driver.start();
    this.log.info({ nodeKey: toHex(this.nodeKey), peerId: this.p2p.peerId, addrs: this.p2p.multiaddrs, wallet: toHex(this.wallet.address), channels: this.channels.size }, 'channel node started');
    await this.announceNode();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offWorkerFailure();
    // no onion session may be inside the native addon on the worker when the process exits (it
    // aborts): sendPart starts none once stopped, and the ones in flight finish first
    await drainOnionWorker();
    for (const t of this.fulfilTimers.values()) clearTimeout(t);
    this.fulfilTimers.clear();
    await this.driver.stop();
    // the calls end with NODE_STOPPED; a payment with HTLCs out keeps its record pending (see pay()):
    // the payee may still fulfil them, and their outcome settles the record after the restart
    for (const p of this.payments.values()) if (p.status === 'pending') p.done(new StrataError('NODE_STOPPED', 'node stopped'));
    await Promise.allSettled([...this.locks.values()]);
    await this.p2p.stop();
    await this.store.close();
  }

  // ------------------------------------------------------------------ peers

  /** Dials a peer's multiaddr and completes the init handshake; returns its node key. */
  async connect(addr: string): Promise<Uint8Array> {
    await this.p2p.dial(addr);
    const peerId = addr.split('/p2p/')[1] ?? '';
    const deadline = Date.now() + 10_000;
    while (!this.nodeByPeer.has(peerId)) {
      if (Date.now() > deadline) throw err('CHANNEL_PEER', `no init handshake from ${addr}`);
      await this.onConnect(peerId).catch(() => undefined);
      if (!this.nodeByPeer.has(peerId)) await new Promise((r) => setTimeout(r, 50));
    }
    const n = this.nodeByPeer.get(peerId) as { nodeKey: Uint8Array };
    await this.store.put(`peer:${toHex(n.nodeKey)}`, { addr });
    return n.nodeKey;
  }

  private initMsg(): Uint8Array {
    const sig = edSignMsg(this.key, blake2b256Parts([utf8(this.p2p.peerId)], INIT_PERSONAL));
    return encode(InitMsg, { nodeKey: this.nodeKey, onionKey: this.onionKey, alias: utf8(this.opts.alias.slice(0, 32)), sig });
  }

  private acceptInit(peerId: string, body: Uint8Array): void {
    const m = decode(InitMsg, body);
    if (!edVerifyMsg(m.nodeKey, blake2b256Parts([utf8(peerId)], INIT_PERSONAL), m.sig)) throw err('CHANNEL_PEER', 'init signature does not bind the node key to this connection');
    const known = this.nodeByPeer.get(peerId);
    this.nodeByPeer.set(peerId, { nodeKey: m.nodeKey, onionKey: m.onionKey, alias: new TextDecoder().decode(m.alias) });
    this.peerByNode.set(bytesKey(m.nodeKey), peerId);
    if (!known) {
      this.log.info({ peer: new TextDecoder().decode(m.alias), nodeKey: toHex(m.nodeKey) }, 'peer connected');
      setImmediate(() => {
        this.reestablish(m.nodeKey);
        void this.syncGraph(m.nodeKey).catch(() => undefined);
      });
    }
  }

  private async onConnect(peerId: string): Promise<void> {
    const reply = await this.p2p.sessionRequest(peerId, PROTOCOL, encode(Envelope, { type: MSG.INIT, body: this.initMsg() }), { ...SESSION_OPTS, timeoutMs: 5000 });
    this.acceptInit(peerId, reply);
  }

  /** Connected peers with their node keys. */
  peers(): { nodeKey: string; alias: string; peerId: string; channels: number }[] {
    return [...this.nodeByPeer].map(([peerId, n]) => ({
      nodeKey: toHex(n.nodeKey),
      alias: n.alias,
      peerId,
      channels: [...this.channels.values()].filter((c) => bytesEqual(c.peer, n.nodeKey) && c.status !== 'closed').length,
    }));
  }

  private async send(peer: Uint8Array, type: number, body: Uint8Array, timeoutMs = this.opts.requestTimeoutMs): Promise<Uint8Array> {
    const pid = this.peerByNode.get(bytesKey(peer));
    if (!pid) throw err('CHANNEL_PEER', `peer ${toHex(peer).slice(0, 14)} is not connected`);
    // Persist before send: every commit made so far is on disk (fsynced) before a message leaves,
    // so not even a power loss can make us sign a second state for a commitment number we already
    // signed. The fsync is shared by every channel's messages waiting at that moment (group commit).
    await this.store.flush();
    return this.p2p.sessionRequest(pid, PROTOCOL, encode(Envelope, { type, body }), { ...SESSION_OPTS, timeoutMs });
  }

  private async onRequest(req: Uint8Array, from: string): Promise<Uint8Array> {
    const reply = await this.answer(req, from);
    await this.store.flush(); // persist before send, as in send(): the reply may carry our signature
    return reply;
  }

  private async answer(req: Uint8Array, from: string): Promise<Uint8Array> {
    let env: { type: number; body: Uint8Array };
    try {
      env = decode(Envelope, req, MAX_MESSAGE_BYTES + 16);
    } catch (e) {
      this.metrics.rejected.inc({ reason: 'malformed' });
      throw e;
    }
    if (env.type === MSG.INIT) {
      this.acceptInit(from, env.body);
      return this.initMsg();
    }
    const peer = this.nodeByPeer.get(from);
    if (!peer) throw err('CHANNEL_PEER', 'send init first');
    try {
      switch (env.type) {
        case MSG.OPEN:
          return await this.onOpen(peer.nodeKey, env.body);
        case MSG.READY:
          return await this.onReady(peer.nodeKey, env.body);
        case MSG.PROPOSE:
          return await this.onPropose(peer.nodeKey, env.body);
        case MSG.COMMIT:
          return await this.onCommit(peer.nodeKey, env.body);
        case MSG.CLOSE:
          return await this.onCloseRequest(peer.nodeKey, env.body);
        case MSG.GOSSIP:
          await this.onPeerGossip(env.body, from);
          return new Uint8Array(0);
        case MSG.GRAPH:
          // a tiny request answered with the whole graph: bounded per peer
          if (!this.graphLimiter.take(from)) {
            this.p2p.penalize(from, PENALTY.RATE_LIMITED, `graph sync requests beyond ${GRAPH_SYNC_RATE.perSecond}/s`);
            throw new StrataError('CHANNEL_LIMIT', `graph sync requests beyond ${GRAPH_SYNC_RATE.perSecond}/s`);
          }
          return encode(GraphSyncReply, { items: this.store.list<{ kind: number; body: Uint8Array }>('g:').map(([, g]) => g) });
        default:
          throw err('CHANNEL_INVALID', `unknown message type ${env.type}`);
      }
    } catch (e) {
      const se = toStrataError(e);
      this.metrics.rejected.inc({ reason: se.code });
      this.log.debug({ peer: peer.alias, type: env.type, code: se.code, error: se.message }, 'peer message refused');
      throw se;
    }
  }

  // ------------------------------------------------------------------ helpers

  private withLock<T>(id: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const k = bytesKey(id);
    const prev = this.locks.get(k) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return run;
  }

  private chan(id: Uint8Array): LocalChannel {
    const ch = this.channels.get(bytesKey(id));
    if (!ch) throw err('CHANNEL_NOT_FOUND', `no channel ${toHex(id)}`, { channelId: toHex(id) });
    return ch;
  }

  private async save(ch: LocalChannel): Promise<void> {
    await this.store.put(`ch:${toHex(ch.id)}`, this.rec(ch));
  }

  /**
   * The channel as stored. The peer's onions (1366 bytes per incoming HTLC) live in records of
   * their own (`on:<channel>:<id>`), written once in the commit that accepts the add and deleted
   * in the one that consumes it, instead of being serialized again with the channel at every
   * stage of every round (the payee's largest CPU cost at 100 HTLCs in flight).
   */
  private rec(ch: LocalChannel): LocalChannel {
    const strip = (us: Update[]): Update[] => us.map((u) => (u.kind === 'add' ? { ...u, onion: NO_ONION } : u));
    const r = ch.round;
    const round = !r ? undefined : r.role === 'receiver' ? { ...r, updates: strip(r.updates) } : r.counter ? { ...r, counter: strip(r.counter) } : r;
    return { ...ch, onions: {}, round };
  }
  /** Store entries of the peer's adds' onions. */
  private onionEntries(ch: LocalChannel, updates: Update[]): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const u of updates) if (u.kind === 'add') out.push([`on:${toHex(ch.id)}:${u.id}`, u.onion]);
    return out;
  }
  /** An incoming HTLC's onion is consumed (forwarded, settled or failed): dropped here and from the store. */
  private dropOnion(ch: LocalChannel, id: number): void {
    delete ch.onions[String(id)];
    this.store.writeSoon(`on:${toHex(ch.id)}:${id}`, undefined);
  }
  /** After loading: the peer's onions back into the channel (unprocessed incoming HTLCs) and into its round. */
  private attachOnions(ch: LocalChannel): void {
    const prefix = `on:${toHex(ch.id)}:`;
    const stored = new Map(this.store.list<Uint8Array>(prefix).map(([k, v]) => [k.slice(prefix.length), v]));
    if (stored.size === 0) return;
    const peerSide = this.peerSide(ch);
    for (const x of ch.state.htlcs) {
      const o = stored.get(String(x.id));
      if (x.offerer === peerSide && o && !ch.onions[String(x.id)]) ch.onions[String(x.id)] = o;
    }
    if (ch.round) {
      for (const u of this.peerUpdates(ch.round)) {
        const o = stored.get(String(u.id));
        if (u.kind === 'add' && u.onion.length === 0 && o) u.onion = o;
      }
    }
  }

  private peerSide(ch: LocalChannel): Side {
    return (1 - ch.side) as Side;
  }
  private peerKeyOf(ch: LocalChannel): Uint8Array {
    return ch.side === 0 ? ch.keyB : ch.keyA;
  }

  /** The updates of a round this node made (the proposer's, or the receiver's counter-updates). */
  private ownUpdates(r: Round): Update[] {
    return r.role === 'proposer' ? r.updates : (r.counter ?? []);
  }
  /** The updates of a round the peer made. */
  private peerUpdates(r: Round): Update[] {
    return r.role === 'proposer' ? (r.counter ?? []) : r.updates;
  }

  /**
   * Applies the peer's updates on top of `s` as the peer's side, with the checks a node makes of
   * anything its peer proposes (limits, and an added HTLC's expiry neither too close nor too far).
   */
  private applyPeerUpdates(ch: LocalChannel, s: ChannelState, updates: Update[]): ChannelState {
    const next = applyUpdates(s, this.peerSide(ch), updates, ch.limits);
    // HTLC ids increase (BOLT 2 next_htlc_id): an id the peer used before, even one whose HTLC is
    // gone, is refused, so a fulfil or fail meant for the old HTLC can never match the new one
    let floor = this.peerNextHtlcId(ch);
    for (const u of updates) {
      if (u.kind !== 'add') continue;
      if (u.id < floor) throw new StrataError('CHANNEL_INVALID', `HTLC id ${u.id} is below the peer's next id ${floor}: ids must increase`, { id: u.id, next: floor });
      floor = u.id + 1;
    }
    for (const u of updates) {
      if (u.kind === 'add' && u.expiry <= this.heightCache + this.opts.expiryMargin) throw new StrataError('CHANNEL_LIMIT', `HTLC ${u.id} expires at ${u.expiry}, too close to the current height ${this.heightCache}`);
      // an expiry far ahead locks this side's funds (and, forwarded, the next hop's) that long
      if (u.kind === 'add' && u.expiry > this.heightCache + this.opts.maxExpiryDelta) throw new StrataError('CHANNEL_LIMIT', `HTLC ${u.id} expires at ${u.expiry}, more than ${this.opts.maxExpiryDelta} blocks after the current height ${this.heightCache}`);
    }
    return next;
  }

  /**
   * The lowest id the peer's next add may carry. A record stored before the field existed has
   * none: then one above the highest id among the peer's HTLCs in the current state (the ids of
   * its HTLCs already removed are not known any more; those below a live one are refused still).
   */
  private peerNextHtlcId(ch: LocalChannel): number {
    if (ch.peerNextHtlcId !== undefined) return ch.peerNextHtlcId;
    const peerSide = this.peerSide(ch);
    let next = 0;
    for (const x of ch.state.htlcs) if (x.offerer === peerSide && x.id + 1 > next) next = x.id + 1;
    return next;
  }

  /**
   * Takes up to `max` of this node's queued updates that apply on top of `s` (the rest are dropped
   * as propose drops them). For a reply (`reply`), the updates stop before the first add whose
   * expiry is within PIGGYBACK_SLACK blocks of the window the peer checks (expiryMargin,
   * maxExpiryDelta): the peer's height may be a block or two ahead of ours, and an add it finds
   * out of its window in a reply makes it close the channel on chain, where in a proposal of our
   * own it only refuses that update (a payer picks a forward's outgoing expiry: at the lower bound,
   * any remote payer could otherwise close channels it does not own).
   */
  private takeOwn(ch: LocalChannel, s: ChannelState, max: number, reply = false): { next: ChannelState; taken: Update[] } {
    if (max <= 0 || ch.queue.length === 0) return { next: s, taken: [] };
    let n = Math.min(max, ch.queue.length);
    if (reply) {
      const lo = this.heightCache + this.opts.expiryMargin + PIGGYBACK_SLACK;
      const hi = this.heightCache + this.opts.maxExpiryDelta - PIGGYBACK_SLACK;
      const edge = ch.queue.findIndex((u, i) => i < n && u.kind === 'add' && (u.expiry <= lo || u.expiry > hi));
      if (edge >= 0) n = edge;
      if (n === 0) return { next: s, taken: [] };
    }
    const r = applyEach(s, ch.side, ch.queue.splice(0, n), ch.limits);
    // a refused update whose drop throws (its fail-back's commit failed) has only its drop retried
    // (dropAll); the others go on. Put back in the queue (as before), a retry could accept it once
    // what refused it had cleared, with an HTLC id below one committed since: the peer refuses it
    // ("ids must increase"), and closes the channel if it rode in our reply.
    this.dropAll(ch, r.refused);
    return { next: r.taken.length > 0 ? r.next : s, taken: r.taken };
  }

  /**
   * The preimages of the peer's fulfils of our HTLCs on `ch` (`updates`) as store entries, kept
   * before anything acts on them; a payment link of such an HTLC gets the preimage as its proof
   * (OutLink.preimage), in the same commit.
   */
  private preimageEntries(ch: LocalChannel, updates: readonly { kind: string; id: number; preimage?: Uint8Array }[]): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const u of updates) {
      if (u.kind !== 'fulfil' || !u.preimage) continue;
      out.push([`pre:${toHex(sha256(u.preimage))}`, u.preimage]);
      const lk = `${toHex(ch.id)}:${u.id}`;
      const link = this.links.get(lk);
      if (link?.kind === 'payment' && !link.preimage) {
        link.preimage = u.preimage;
        out.push([`fwd:${lk}`, link]);
      }
    }
    return out;
  }

  /** Signs a state, refusing to sign a second different state for the same version. */
  private signState(ch: LocalChannel, s: ChannelState): Uint8Array {
    const h = stateHash(s);
    if (s.version < ch.lastSigned.version || (s.version === ch.lastSigned.version && !bytesEqual(h, ch.lastSigned.hash))) {
      throw err('CHANNEL_STATE', `refusing to sign a second state for commitment ${s.version}`, { version: s.version });
    }
    ch.lastSigned = { version: s.version, hash: h };
    return edSignMsg(this.key, stateDigest(this.domain, s));
  }

  private myBalance(ch: LocalChannel, s: ChannelState = ch.state): bigint {
    return ch.side === 0 ? s.balanceA : s.balanceB;
  }

  /** What this side could still add now (balance minus queued adds minus reserve). */
  spendable(ch: LocalChannel): bigint {
    let b = this.myBalance(ch, ch.round ? ch.round.next : ch.state) - ch.limits.reserve;
    for (const u of ch.queue) if (u.kind === 'add') b -= u.amount;
    return b - (this.onionsBuilding.get(bytesKey(ch.id)) ?? 0n);
  }

  // ------------------------------------------------------------------ opening

  /** Opens a channel to a connected peer, funding `capacity` (pushing `push` to the peer). Returns the channel id. */
  async openChannel(peer: Uint8Array, capacity: bigint, push = 0n): Promise<Uint8Array> {
    if (capacity <= 0n || push < 0n || push > capacity) throw err('CHANNEL_INVALID', 'capacity must be positive and push between 0 and the capacity');
    const id = random32();
    const l = this.opts.limits;
    const reply = decode(AcceptMsg, await this.send(peer, MSG.OPEN, encode(OpenMsg, { channelId: id, capacity, push, toSelfDelay: this.opts.toSelfDelay, reserve: l.reserve, dust: l.dust, maxHtlcs: l.maxHtlcs, maxInFlight: l.maxInFlight })));
    const ch: LocalChannel = {
      id,
      side: 0,
      peer,
      keyA: this.nodeKey,
      keyB: peer,
      payA: this.wallet.address,
      payB: reply.payB,
      capacity,
      push,
      toSelfDelay: this.opts.toSelfDelay,
      limits: { ...l },
      status: 'opening',
      state: openingState(id, capacity, push),
      lastSigned: { version: 0, hash: stateHash(openingState(id, capacity, push)) },
      queue: [],
      nextHtlcId: 0,
      onions: {},
      announced: false,
      onchainActions: {},
    };
    this.channels.set(bytesKey(id), ch);
    await this.save(ch);
    await sendAndWait(this.deps.chain, this.wallet, 'open', encode(OpenArgs, { channelId: id, keyA: this.nodeKey, keyB: peer, payB: reply.payB, capacity, push, toSelfDelay: ch.toSelfDelay }));
    this.metrics.onchain.inc({ method: 'open' });
    ch.status = 'open';
    await this.save(ch);
    this.log.info({ channel: shortId(id), capacity: capacity.toString(), push: push.toString() }, 'channel opened on chain');
    const sigB = await this.send(peer, MSG.READY, encode(ReadyMsg, { channelId: id }));
    await this.announceChannel(ch, sigB);
    return id;
  }

  private async onOpen(peer: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
    const m = decode(OpenMsg, body);
    if (this.channels.has(bytesKey(m.channelId))) throw err('CHANNEL_INVALID', 'channel id already in use');
    if (m.toSelfDelay < 1 || m.toSelfDelay > 2016) throw err('CHANNEL_INVALID', 'toSelfDelay out of range');
    if (m.capacity < this.opts.limits.reserve * 2n) throw err('CHANNEL_INVALID', 'capacity below twice the reserve');
    const s = openingState(m.channelId, m.capacity, m.push);
    const ch: LocalChannel = {
      id: m.channelId,
      side: 1,
      peer,
      keyA: peer,
      keyB: this.nodeKey,
      payA: new Uint8Array(20),
      payB: this.wallet.address,
      capacity: m.capacity,
      push: m.push,
      toSelfDelay: m.toSelfDelay,
      limits: { reserve: m.reserve, dust: m.dust, maxHtlcs: m.maxHtlcs, maxInFlight: m.maxInFlight },
      status: 'opening',
      state: s,
      lastSigned: { version: 0, hash: stateHash(s) },
      queue: [],
      nextHtlcId: 0,
      onions: {},
      announced: false,
      onchainActions: {},
    };
    this.channels.set(bytesKey(m.channelId), ch);
    await this.save(ch);
    return encode(AcceptMsg, { payB: this.wallet.address });
  }

  private async onReady(peer: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
    const m = decode(ReadyMsg, body);
    const ch = this.chan(m.channelId);
    if (!bytesEqual(ch.peer, peer)) throw err('CHANNEL_PEER', 'not your channel');
    const rec = await this.reader.channel(m.channelId);
    if (!rec || rec.status !== CH_OPEN || !bytesEqual(rec.keyA, ch.keyA) || !bytesEqual(rec.keyB, ch.keyB) || !bytesEqual(rec.payB, ch.payB) || rec.capacity !== ch.capacity || rec.push !== ch.push || rec.toSelfDelay !== ch.toSelfDelay) {
      throw err('CHANNEL_STATE', 'the channel on chain does not match what was agreed');
    }
    ch.payA = rec.payA;
    if (ch.status === 'opening') {
      ch.status = 'open';
      await this.save(ch);
      this.log.info({ channel: shortId(ch.id), capacity: ch.capacity.toString() }, 'channel open (funded on chain by the peer)');
    }
    const ann = this.annOf(ch);
    setTimeout(() => void this.announceUpdate(ch).catch(() => undefined), 10);
    return edSignMsg(this.key, annDigest(ann));
  }

  private annOf(ch: LocalChannel): ChannelAnnouncement {
    return { chainId: this.domain.chainId, channelId: ch.id, nodeA: ch.keyA, nodeB: ch.keyB, capacity: ch.capacity, sigA: new Uint8Array(64), sigB: new Uint8Array(64) };
  }

  private async announceChannel(ch: LocalChannel, sigB: Uint8Array): Promise<void> {
    const ann = this.annOf(ch);
    ann.sigA = edSignMsg(this.key, annDigest(ann));
    ann.sigB = sigB;
    await this.gossip(0, encode(ChannelAnnouncementCodec, ann));
    ch.announced = true;
    await this.save(ch);
    await this.announceUpdate(ch);
  }

  private async announceUpdate(ch: LocalChannel): Promise<void> {
    const p = this.opts.policy;
    const u: ChannelUpdate = {
      channelId: ch.id,
      direction: ch.side,
      timestamp: Math.floor(Date.now() / 1000) + (this.graph.channel(ch.id)?.policies[ch.side]?.timestamp === Math.floor(Date.now() / 1000) ? 1 : 0),
      feeBase: p.feeBase,
      feePpm: p.feePpm,
      cltvDelta: p.cltvDelta,
      htlcMin: ch.limits.dust,
      htlcMax: ch.capacity,
      disabled: ch.status !== 'open',
      sig: new Uint8Array(64),
    };
    u.sig = edSignMsg(this.key, updDigest(u));
    await this.gossip(1, encode(ChannelUpdateCodec, u));
  }

  private async announceNode(): Promise<void> {
    const n: NodeAnnouncement = { nodeKey: this.nodeKey, onionKey: this.onionKey, alias: utf8(this.opts.alias.slice(0, 32)), addrs: this.p2p.multiaddrs.slice(0, 8).map(utf8), timestamp: Math.floor(Date.now() / 1000), sig: new Uint8Array(64) };
    n.sig = edSignMsg(this.key, nodeDigest(n));
    await this.gossip(2, encode(NodeAnnouncementCodec, n));
  }

  private async gossip(kind: number, body: Uint8Array): Promise<void> {
    await this.acceptGossip(kind, body, undefined);
    await this.p2p.publish(GOSSIP_TOPIC, encode(GossipMsg, { kind, body })).catch(() => undefined);
  }

  /** Applies a verified gossip item; if new, keeps it and floods it to the other peers (BOLT 7 relaying). */
  private async acceptGossip(kind: number, body: Uint8Array, from: string | undefined): Promise<void> {
    if (!this.applyGossip(kind, body)) {
      // an update that arrived before its channel's announcement: kept until the announcement comes
      if (kind === 1 && this.orphans.length < 1000) this.orphans.push({ body, from });
      return;
    }
    if (kind === 0) {
      const ann = decode(ChannelAnnouncementCodec, body);
      const mine = this.channels.get(bytesKey(ann.channelId));
      if (mine && !this.graph.channel(ann.channelId)?.policies[mine.side]) setImmediate(() => void this.announceUpdate(mine).catch(() => undefined));
      for (const nk of [ann.nodeA, ann.nodeB]) {
        const body2 = this.orphanNodes.get(bytesKey(nk));
        if (!body2) continue;
        this.orphanNodes.delete(bytesKey(nk));
        if (await this.verifyGossip(2, body2).catch(() => false)) setImmediate(() => void this.acceptGossip(2, body2, undefined).catch(() => undefined));
      }
      const waiting = this.orphans.filter((o) => bytesEqual(decode(ChannelUpdateCodec, o.body).channelId, ann.channelId));
      this.orphans = this.orphans.filter((o) => !waiting.includes(o));
      for (const o of waiting) if (await this.verifyGossip(1, o.body).catch(() => false)) setImmediate(() => void this.acceptGossip(1, o.body, o.from).catch(() => undefined));
    }
    await this.store.put(gossipKey(kind, body), { kind, body });
    const msg = encode(Envelope, { type: MSG.GOSSIP, body: encode(GossipMsg, { kind, body }) });
    for (const pid of this.nodeByPeer.keys()) {
      if (pid === from) continue;
      void this.p2p.sessionRequest(pid, PROTOCOL, msg, { ...SESSION_OPTS, timeoutMs: 5000 }).catch(() => undefined);
    }
  }

  private async validateGossip(data: Uint8Array, from: string): Promise<'accept' | 'reject' | 'ignore'> {
    if (!this.gossipLimiter.take(from)) {
      this.metrics.rejected.inc({ reason: 'gossip-rate' });
      return 'ignore';
    }
    try {
      const g = decode(GossipMsg, data);
      return (await this.verifyGossip(g.kind, g.body)) ? 'accept' : 'ignore';
    } catch {
      return 'reject';
    }
  }

  /** A gossip item pushed by a peer: rate-limited per peer; a forged one costs the peer score. */
  private async onPeerGossip(body: Uint8Array, from: string): Promise<void> {
    if (!this.gossipLimiter.take(from)) {
      this.metrics.rejected.inc({ reason: 'gossip-rate' });
      // Charged once a second, not per dropped item: a burst past the limit costs a few points
      // (the items are dropped either way), a flood kept up for ~20 s reaches the ban.
      const now = Date.now();
      if (now - (this.gossipPenalisedAt.get(from) ?? 0) >= 1000) {
        if (this.gossipPenalisedAt.size > 10_000) this.gossipPenalisedAt.clear();
        this.gossipPenalisedAt.set(from, now);
        this.p2p.penalize(from, PENALTY.RATE_LIMITED, `channel gossip beyond ${GOSSIP_RATE.perSecond}/s`);
      }
      throw err('CHANNEL_PEER', 'gossip rate exceeded');
    }
    const g = decode(GossipMsg, body);
    let ok: boolean;
    try {
      ok = await this.verifyGossip(g.kind, g.body);
    } catch (e) {
      this.p2p.penalize(from, PENALTY.GOSSIP_REJECTED, `invalid channel gossip: ${toStrataError(e).message}`);
      throw e;
    }
    if (ok) await this.acceptGossip(g.kind, g.body, from);
  }

  /** Verifies a gossip item: signatures, and for a channel announcement the open channel on chain. Throws on forgery. */
  async verifyGossip(kind: number, body: Uint8Array): Promise<boolean> {
    if (kind === 0) {
      const a = decode(ChannelAnnouncementCodec, body);
      if (this.graph.channel(a.channelId)) return false;
      const d = annDigest(a);
      if (a.chainId !== this.domain.chainId || !edVerifyMsg(a.nodeA, d, a.sigA) || !edVerifyMsg(a.nodeB, d, a.sigB)) throw err('CHANNEL_INVALID', 'bad announcement signature');
      const rec = await this.reader.channel(a.channelId);
      if (!rec || rec.status !== CH_OPEN || !bytesEqual(rec.keyA, a.nodeA) || !bytesEqual(rec.keyB, a.nodeB) || rec.capacity !== a.capacity) throw err('CHANNEL_INVALID', 'announced channel is not open on chain with those keys');
      return true;
    }
    const future = Math.floor(Date.now() / 1000) + MAX_GOSSIP_FUTURE_SECONDS;
    if (kind === 1) {
      const u = decode(ChannelUpdateCodec, body);
      const c = this.graph.channel(u.channelId);
      if (!c) return false;
      // not newer: nothing to do (checked before the signature, so a replayed flood costs nothing)
      if ((c.policies[u.direction === 0 ? 0 : 1]?.timestamp ?? -1) >= u.timestamp) return false;
      if (u.timestamp > future) throw err('CHANNEL_INVALID', 'channel update dated in the future');
      if (!edVerifyMsg(u.direction === 0 ? c.ann.nodeA : c.ann.nodeB, updDigest(u), u.sig)) throw err('CHANNEL_INVALID', 'bad channel update signature');
      return true;
    }
    if (kind === 2) {
      const n = decode(NodeAnnouncementCodec, body);
      if ((this.graph.nodes.get(bytesKey(n.nodeKey))?.timestamp ?? -1) >= n.timestamp) return false;
      if (n.timestamp > future) throw err('CHANNEL_INVALID', 'node announcement dated in the future');
      if (!edVerifyMsg(n.nodeKey, nodeDigest(n), n.sig)) throw err('CHANNEL_INVALID', 'bad node announcement signature');
      // BOLT 7: a node enters the graph only once one of its channels is known (no free graph
      // entries); until then its latest announcement waits in a bounded map, off the store
      if (!bytesEqual(n.nodeKey, this.nodeKey) && ![...this.graph.channels.values()].some((c) => bytesEqual(c.ann.nodeA, n.nodeKey) || bytesEqual(c.ann.nodeB, n.nodeKey))) {
        const k = bytesKey(n.nodeKey);
        if (this.orphanNodes.has(k) || this.orphanNodes.size < MAX_ORPHAN_NODES) this.orphanNodes.set(k, body);
        return false;
      }
      return true;
    }
    throw err('CHANNEL_INVALID', 'unknown gossip kind');
  }

  private applyGossip(kind: number, body: Uint8Array): boolean {
    try {
      if (kind === 0) return this.graph.addChannel(decode(ChannelAnnouncementCodec, body));
      if (kind === 1) return this.graph.applyUpdate(decode(ChannelUpdateCodec, body));
      if (kind === 2) return this.graph.addNode(decode(NodeAnnouncementCodec, body));
    } catch {
      return false;
    }
    return false;
  }

  /** Pulls a peer's whole graph (after connecting), verifying every item. */
  async syncGraph(peer: Uint8Array): Promise<number> {
    const r = decode(GraphSyncReply, await this.send(peer, MSG.GRAPH, new Uint8Array(0)));
    const pid = this.peerByNode.get(bytesKey(peer));
    if (r.items.length > MAX_GRAPH_SYNC_ITEMS) r.items.length = MAX_GRAPH_SYNC_ITEMS;
    let forged = 0;
    let n = 0;
    // announcements first, then updates and nodes
    for (const kind of [0, 1, 2]) {
      for (const g of r.items) {
        if (g.kind !== kind) continue;
        try {
          if (await this.verifyGossip(g.kind, g.body)) {
            n++;
            await this.acceptGossip(g.kind, g.body, this.peerByNode.get(bytesKey(peer)));
          }
        } catch {
          // a forged item from the peer: skipped, and the peer penalised (once per sync)
          forged++;
        }
      }
    }
    if (forged > 0 && pid) this.p2p.penalize(pid, PENALTY.GOSSIP_REJECTED, `${forged} invalid items in a graph sync`);
    return n;
  }

  // ------------------------------------------------------------------ commitment rounds

  private schedule(ch: LocalChannel): void {
    const k = bytesKey(ch.id);
    if (this.scheduled.has(k)) return;
    this.scheduled.add(k);
    // setImmediate, not a timer: updates enqueued in this turn join the round, which starts at the
    // end of the turn (after its I/O callbacks)
    setImmediate(() => {
      this.scheduled.delete(k);
      void this.propose(ch).catch((e) => this.roundFailed(ch, e, 'commitment round interrupted'));
    });
  }

  /** True when every queued update of `ch` is a fulfil the peer already knows (not worth a round of its own yet). */
  private onlyRevealedFulfils(ch: LocalChannel): boolean {
    if (this.opts.fulfilBatchMs <= 0) return false;
    const r = this.revealed.get(bytesKey(ch.id));
    if (!r || r.size === 0) return false;
    for (const u of ch.queue) if (u.kind !== 'fulfil' || !r.has(u.id)) return false;
    return true;
  }

  /** Proposes the queued revealed fulfils in `fulfilBatchMs`, unless a round takes them first. */
  private deferFulfils(ch: LocalChannel, ms: number): void {
    const k = bytesKey(ch.id);
    if (this.stopped || this.fulfilTimers.has(k)) return;
    const t = setTimeout(() => {
      this.fulfilTimers.delete(k);
      void this.propose(ch, true).catch((e) => this.roundFailed(ch, e, 'commitment round interrupted'));
    }, ms);
    t.unref();
    this.fulfilTimers.set(k, t);
  }

  private enqueue(ch: LocalChannel, u: Update): void {
    ch.queue.push(u);
    this.schedule(ch);
  }

  /** Runs one commitment round as proposer, if there is anything to propose. */
  private async propose(ch: LocalChannel, deferred = false): Promise<void> {
    if (this.stopped) return;
    const started = await this.withLock(ch.id, async () => {
      if (ch.round || ch.queue.length === 0 || ch.status !== 'open' || !this.peerByNode.has(bytesKey(ch.peer))) return undefined;
      if (!deferred && this.onlyRevealedFulfils(ch)) {
        this.deferFulfils(ch, this.opts.fulfilBatchMs);
        return undefined;
      }
      const { next: s, taken: ok } = this.takeOwn(ch, ch.state, this.opts.maxBatch);
      if (ok.length === 0) return undefined;
      const next = { ...s, version: ch.state.version + 1 };
      ch.round = { role: 'proposer', version: next.version, updates: ok, next, stage: 'proposed' };
      await this.save(ch);
      return ch.round;
    });
    if (!started) return;
    await this.runProposer(ch, started);
  }

  private async runProposer(ch: LocalChannel, round: Round): Promise<void> {
    if (round.stage === 'proposed') {
      const raw = await this.send(ch.peer, MSG.PROPOSE, encode(ProposeMsg, { channelId: ch.id, version: round.version, updates: round.updates.map(encodeUpdate) }));
      const reply = decode(ProposeReply, raw);
      const go = await this.withLock(ch.id, async () => {
        if (ch.round !== round) return false;
        if (!reply.ok || !reply.sig) {
          ch.round = undefined;
          if (reply.conflict) {
            // the peer runs a round of its own: its PROPOSE reaching us takes our queue into its
            // round, or ours goes again at once (a timer here cost the conflicting updates 50 ms
            // and more under load: the benchmark's first burst waited seconds)
            ch.queue.unshift(...round.updates);
            await this.save(ch);
            this.schedule(ch);
            return false;
          }
          const why = new TextDecoder().decode(reply.reason);
          this.log.warn({ channel: shortId(ch.id), reason: why }, 'peer refused our commitment');
          // An add is what a peer refuses (limits, expiry window); the fulfils and fails batched
          // with it go again on their own (once: a round without adds is dropped whole): dropped,
          // a fulfil's preimage would reach the peer only on chain, and a fail not at all.
          const retry: Update[] = round.updates.some((u) => u.kind === 'add') ? round.updates.filter((u) => u.kind !== 'add') : [];
          this.dropAll(ch, round.updates.filter((u) => !retry.includes(u)).map((u) => [u, new StrataError('CHANNEL_LIMIT', why)] as const));
          ch.queue.unshift(...retry);
          await this.save(ch);
          this.schedule(ch);
          return false;
        }
        // the peer's own updates ride in its reply: checked as any proposal of the peer's
        let counter: Update[];
        let next: ChannelState;
        try {
          // an honest receiver adds at most what the round has room for (onPropose's takeOwn)
          const room = this.opts.maxBatch - round.updates.length;
          if (reply.updates.length > room) throw new StrataError('CHANNEL_LIMIT', `peer added ${reply.updates.length} updates of its own to our ${round.updates.length}: at most ${room} fit in a round of ${this.opts.maxBatch}`, { counter: reply.updates.length, room });
          counter = reply.updates.map(decodeUpdate);
          next = counter.length > 0 ? { ...this.applyPeerUpdates(ch, round.next, counter), version: round.version } : round.next;
          // a signature that does not verify fails the round here too: left set, the round would
          // wait for a reconnect, and the peer's stored round would answer a resend the same way
          if (!edVerifyMsg(this.peerKeyOf(ch), stateDigest(this.domain, next), reply.sig)) throw err('CHANNEL_PEER', 'peer signature on the new state does not verify');
        } catch (e) {
          const se = toStrataError(e);
          this.metrics.rejected.inc({ reason: se.code });
          // the peer signed a state with updates no honest node makes, or sent a signature that
          // does not verify: nothing of ours is signed for this version, so the last state both
          // signed is safe to publish
          this.log.error({ channel: shortId(ch.id), code: se.code, error: se.message }, 'peer answered our commitment with an invalid reply; closing the channel');
          ch.round = undefined;
          this.dropAll(ch, round.updates.map((u) => [u, new StrataError('CHANNEL_PEER', 'peer misbehaved')] as const));
          void this.forceClose(ch, `peer sent invalid updates: ${se.message}`).catch(() => undefined);
          return false;
        }
        if (ch.status !== 'open') {
          // we closed unilaterally meanwhile, with the state before this round: signing the new
          // one and revoking the published one (our COMMIT) would hand the peer a penalty
          this.log.warn({ channel: shortId(ch.id), version: round.version, status: ch.status }, 'commitment round abandoned: the channel is closing');
          ch.round = undefined;
          this.dropAll(ch, round.updates.map((u) => [u, new StrataError('CHANNEL_STATE', `channel is ${ch.status}`)] as const));
          // a preimage in the peer's (verified) fulfils still settles: kept, and passed upstream
          this.store.write([...this.preimageEntries(ch, counter), [`ch:${toHex(ch.id)}`, this.rec(ch)]]);
          const fulfils = counter.filter((u): u is Extract<Update, { kind: 'fulfil' }> => u.kind === 'fulfil');
          if (fulfils.length > 0) setImmediate(() => this.settleFulfilled(ch, fulfils));
          return false;
        }
        round.counter = counter;
        round.next = next;
        round.theirSig = reply.sig;
        round.mySig = this.signState(ch, round.next);
        round.stage = 'accepted';
        // preimages of the peer's fulfils are kept with the round record, in one commit
        this.store.write([...this.preimageEntries(ch, counter), ...this.onionEntries(ch, counter), [`ch:${toHex(ch.id)}`, this.rec(ch)]]);
        return true;
      });
      if (!go) return;
      // settle at the verified preimage, as for a fulfil the peer proposes (see onPropose)
      this.settleFulfilled(ch, (round.counter ?? []).filter((u): u is Extract<Update, { kind: 'fulfil' }> => u.kind === 'fulfil'));
    }
    if (ch.status !== 'open') {
      // as at the 'proposed' stage above: no COMMIT once the channel is closing (the round stays
      // stored as it is: its state may be the one published, and the chain resolves its HTLCs)
      this.log.warn({ channel: shortId(ch.id), version: round.version, status: ch.status }, 'commitment round not completed: the channel is closing');
      return;
    }
    const myRev = edSignMsg(this.key, revocationDigest(this.domain, ch.id, ch.state.version));
    const raw2 = await this.send(ch.peer, MSG.COMMIT, encode(CommitMsg, { channelId: ch.id, version: round.version, sig: round.mySig as Uint8Array, revocation: myRev }));
    const r2 = decode(CommitReply, raw2);
    let early: { id: number; preimage: Uint8Array }[] = [];
    await this.withLock(ch.id, async () => {
      if (ch.round !== round) return;
      if (!edVerifyMsg(this.peerKeyOf(ch), revocationDigest(this.domain, ch.id, ch.state.version), r2.revocation)) throw err('CHANNEL_PEER', 'peer revocation does not verify');
      // No message depends on this write (a crash before it leaves the round accepted with both
      // signatures, which a reconnect resends and bestSigned publishes), and every later write of
      // this channel is committed after it: not awaited, so the next round starts at once.
      await this.completeRound(ch, round, myRev, r2.revocation, false);
      // the round is complete: a failed write of the early preimages must not keep afterRound
      // from handling the peer's updates (before, they waited for a restart); those HTLCs settle
      // in the fulfil round instead, as for an early fulfil not sent
      try {
        early = this.acceptEarlyFulfils(ch, r2.fulfils);
      } catch (e) {
        this.metrics.roundHandlingErrors.inc();
        this.log.error({ channel: shortId(ch.id), version: round.version, error: toStrataError(e).message }, 'early preimages of a completed round could not be kept; their HTLCs settle in the fulfil round');
      }
    });
    this.afterRound(ch, round);
    // a verified preimage is the proof of payment (as for a fulfil the peer proposes): settled now
    this.settleFulfilled(ch, early);
  }

  /**
   * Settles our HTLCs on `ch` that the peer fulfilled, each on its own: one whose handling throws
   * is logged and keeps its link (with its preimage), which the fulfil round, the chain watch or a
   * restart resolves again.
   */
  private settleFulfilled(ch: LocalChannel, fulfils: readonly { id: number; preimage: Uint8Array }[]): void {
    for (const f of fulfils) {
      try {
        this.resolveOutgoing(ch, f.id, { preimage: f.preimage });
      } catch (e) {
        this.roundHandlingFailed(ch, f.id, e);
      }
    }
  }

  private async completeRound(ch: LocalChannel, round: Round, myRev: Uint8Array, theirRev: Uint8Array, durable = true): Promise<void> {
    const old = ch.state;
    ch.state = round.next;
    if (ch.side === 0) {
      ch.sigA = round.mySig as Uint8Array;
      ch.sigB = round.theirSig as Uint8Array;
    } else {
      ch.sigA = round.theirSig as Uint8Array;
      ch.sigB = round.mySig as Uint8Array;
    }
    ch.myRevocation = { version: old.version, sig: myRev };
    ch.theirRevocation = { version: old.version, sig: theirRev };
    ch.round = undefined;
    const rv = this.revealed.get(bytesKey(ch.id));
    if (rv) {
      for (const u of this.ownUpdates(round)) if (u.kind === 'fulfil') rv.delete(u.id);
      // ids whose HTLC left the state otherwise (a fulfil dropped, a fail) go too: looked for only
      // when there are more ids than HTLCs (not on every round of a busy channel)
      if (rv.size > ch.state.htlcs.length) {
        const live = new Set(ch.state.htlcs.filter((x) => x.offerer !== ch.side).map((x) => x.id));
        for (const id of rv) if (!live.has(id)) rv.delete(id);
      }
      if (rv.size === 0) this.revealed.delete(bytesKey(ch.id));
    }
    for (const w of this.roundWaiters.get(round) ?? []) w();
    this.roundWaiters.delete(round);
    for (const u of this.peerUpdates(round)) {
      if (u.kind !== 'add') continue;
      ch.onions[String(u.id)] = u.onion;
      ch.peerNextHtlcId = Math.max(this.peerNextHtlcId(ch), u.id + 1);
    }
    if (durable) await this.save(ch);
    else void this.save(ch).catch((e) => this.log.error({ channel: shortId(ch.id), error: toStrataError(e).message }, 'channel write failed'));
    this.metrics.rounds.inc();
    this.metrics.updatesPerRound.observe(round.updates.length + (round.counter?.length ?? 0));
    if (this.deps.tower) this.towerQueue.push(towerBlobFor(old, { channelId: ch.id, version: old.version, sig: theirRev }));
  }

  /**
   * The fulfils queued on `ch` (each for an HTLC of the peer's that is irrevocably committed, its
   * preimage ours to reveal), to send early in a `revoke` (see EarlyFulfil), recorded as revealed
   * (see fulfilBatchMs); they stay queued for their own round.
   */
  private reveal(ch: LocalChannel): { id: number; preimage: Uint8Array }[] {
    const out: { id: number; preimage: Uint8Array }[] = [];
    for (const u of ch.queue) if (u.kind === 'fulfil' && out.length < 2000) out.push({ id: u.id, preimage: u.preimage });
    if (out.length > 0) {
      const k = bytesKey(ch.id);
      const r = this.revealed.get(k) ?? new Set<number>();
      for (const f of out) r.add(f.id);
      this.revealed.set(k, r);
    }
    return out;
  }

  /**
   * Early preimages from the peer's `revoke` (EarlyFulfil): each must open an HTLC we offered
   * that is in the state both sides just signed. The valid ones are kept (in one commit) before
   * anything acts on them, and returned; a wrong one is logged and ignored (the state is not
   * touched: the HTLC settles in the fulfil round, or on chain).
   */
  private acceptEarlyFulfils(ch: LocalChannel, fulfils: { id: number; preimage: Uint8Array }[]): { id: number; preimage: Uint8Array }[] {
    if (fulfils.length === 0) return [];
    const ok: { id: number; preimage: Uint8Array; hash: Uint8Array }[] = [];
    const seen = new Set<number>();
    const ours = new Map<number, Uint8Array>();
    for (const x of ch.state.htlcs) if (x.offerer === ch.side) ours.set(x.id, x.hash);
    let invalid = 0;
    let stale = 0;
    for (const f of fulfils) {
      if (seen.has(f.id)) continue;
      seen.add(f.id);
      const h = ours.get(f.id);
      const hash = h && sha256(f.preimage);
      if (!h || !hash || !bytesEqual(hash, h)) invalid++;
      else if (!this.links.has(`${toHex(ch.id)}:${f.id}`)) stale++;
      else ok.push({ id: f.id, preimage: f.preimage, hash });
    }
    if (ok.length > 0) this.metrics.earlyFulfils.inc({ result: 'accepted' }, ok.length);
    if (stale > 0) this.metrics.earlyFulfils.inc({ result: 'stale' }, stale);
    if (invalid > 0) {
      // one line per reply, however many entries: a hostile peer cannot turn a revoke into 2,000
      this.metrics.earlyFulfils.inc({ result: 'invalid' }, invalid);
      this.metrics.rejected.inc({ reason: 'CHANNEL_PEER' });
      this.log.warn({ channel: shortId(ch.id), invalid, of: fulfils.length }, 'peer revealed preimages that open none of our HTLCs; ignored');
    }
    if (ok.length > 0) this.store.write(this.preimageEntries(ch, ok.map((f) => ({ kind: 'fulfil', id: f.id, preimage: f.preimage }))));
    return ok.map(({ id, preimage }) => ({ id, preimage }));
  }

  /** A completed round: the peer's updates take effect here (adds processed, our HTLCs it removed resolved). */
  private afterRound(ch: LocalChannel, round: Round): void {
    try {
      for (const u of this.peerUpdates(round)) {
        // each update on its own: one that throws (a failed write) leaves the others handled
        try {
          if (u.kind === 'add') void this.processIncoming(ch, u).catch((e) => this.roundHandlingFailed(ch, u.id, e));
          else this.resolveOutgoing(ch, u.id, u.kind === 'fulfil' ? { preimage: u.preimage } : { reason: u.reason });
        } catch (e) {
          this.roundHandlingFailed(ch, u.id, e);
        }
      }
    } finally {
      this.schedule(ch);
    }
  }

  /** An update of a completed round whose handling threw: logged and counted; a restart handles it again (its onion or link is kept). */
  private roundHandlingFailed(ch: LocalChannel, htlc: number, e: unknown, retryInTicks?: number): void {
    const se = toStrataError(e);
    this.metrics.roundHandlingErrors.inc();
    this.log.error({ channel: shortId(ch.id), htlc, code: se.code, error: se.message, stack: se.stack, ...(retryInTicks !== undefined ? { retryInTicks } : {}) }, 'handling an update of a completed round failed');
  }

  private async onPropose(peer: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
    const m = decode(ProposeMsg, body);
    const ch = this.chan(m.channelId);
    if (!bytesEqual(ch.peer, peer)) throw err('CHANNEL_PEER', 'not your channel');
    // The peer proposes the version after our round's: it completed our round (its revocation
    // is on its way to us on the other stream). Refusing would cost the peer a retry; the
    // revocation completes our round within a round trip, so wait for it (bounded).
    const until = Date.now() + 2000;
    while (ch.round?.role === 'proposer' && ch.round.stage === 'accepted' && m.version === ch.round.version + 1 && Date.now() < until) {
      const r = ch.round;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        (this.roundWaiters.get(r) ?? this.roundWaiters.set(r, []).get(r))?.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.withLock(ch.id, async () => {
      const refuse = (reason: string, conflict = false) => encode(ProposeReply, { ok: false, sig: undefined, reason: utf8(reason.slice(0, 500)), conflict, updates: [] });
      if (ch.status !== 'open') return refuse(`channel is ${ch.status}`);
      const updates = m.updates.map(decodeUpdate);
      if (ch.round) {
        if (ch.round.role === 'receiver' && ch.round.version === m.version) {
          // a resend after a lost reply: same content gets the same signature
          return encode(ProposeReply, { ok: true, sig: ch.round.mySig, reason: new Uint8Array(0), conflict: false, updates: (ch.round.counter ?? []).map(encodeUpdate) });
        }
        if (ch.round.role === 'proposer' && ch.round.version === m.version && ch.round.stage === 'proposed' && compareBytes(this.nodeKey, peer) > 0) {
          // both proposed at once and the peer's key is smaller: ours is withdrawn (we signed nothing)
          ch.queue.unshift(...ch.round.updates);
          ch.round = undefined;
        } else {
          return refuse('a commitment round is already in progress', true);
        }
      }
      if (m.version !== ch.state.version + 1) return refuse(`expected version ${ch.state.version + 1}, got ${m.version}`);
      let next: ChannelState;
      try {
        next = this.applyPeerUpdates(ch, ch.state, updates);
      } catch (e) {
        const se = toStrataError(e);
        this.metrics.rejected.inc({ reason: se.code });
        this.log.warn({ channel: shortId(ch.id), code: se.code, error: se.message }, 'refused the peer\'s commitment');
        return refuse(`${se.code}: ${se.message}`);
      }
      // our own pending updates join this round (after the peer's): one commitment for both sides
      const own = this.takeOwn(ch, next, this.opts.maxBatch - updates.length, true);
      next = { ...own.next, version: m.version };
      const sig = this.signState(ch, next);
      ch.round = { role: 'receiver', version: m.version, updates, counter: own.taken, next, stage: 'accepted', mySig: sig };
      // preimages learnt from the peer's fulfils are kept before anything else happens: written
      // with the round record in one commit
      this.store.write([...this.preimageEntries(ch, updates), ...this.onionEntries(ch, updates), [`ch:${toHex(ch.id)}`, this.rec(ch)]]);
      // a verified preimage is the proof of payment (LND settles a payment, and passes a forward's
      // fulfil upstream, on update_fulfill_htlc): the state need not be committed to act on it
      const fulfils = updates.filter((u): u is Extract<Update, { kind: 'fulfil' }> => u.kind === 'fulfil');
      if (fulfils.length > 0) setImmediate(() => this.settleFulfilled(ch, fulfils));
      return encode(ProposeReply, { ok: true, sig, reason: new Uint8Array(0), conflict: false, updates: own.taken.map(encodeUpdate) });
    });
  }

  private async onCommit(peer: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
    const m = decode(CommitMsg, body);
    const ch = this.chan(m.channelId);
    if (!bytesEqual(ch.peer, peer)) throw err('CHANNEL_PEER', 'not your channel');
    return this.withLock(ch.id, async () => {
      // A resend (our reply was lost: the peer crashed or the connection dropped after its COMMIT
      // left): answered with the same revocation even when we have since proposed the next
      // version ourselves; refused, the peer's round and ours would wait on each other forever
      if (ch.state.version === m.version && ch.myRevocation && ch.myRevocation.version === m.version - 1) {
        return encode(CommitReply, { revocation: ch.myRevocation.sig, fulfils: this.reveal(ch) });
      }
      const round = ch.round;
      if (!round || round.role !== 'receiver' || round.version !== m.version) throw err('CHANNEL_STATE', `no accepted proposal for version ${m.version}`);
      // Closing unilaterally, we published the last state both signed (this round's next state has
      // only our signature): our revocation of it would let the peer take the whole channel. The
      // peer, holding both signatures of the new state, publishes that one instead.
      if (ch.status !== 'open') throw err('CHANNEL_STATE', `channel is ${ch.status}: version ${ch.state.version} is on chain, not revoked`);
      const pk = this.peerKeyOf(ch);
      if (!edVerifyMsg(pk, stateDigest(this.domain, round.next), m.sig)) throw err('CHANNEL_PEER', 'commit signature does not verify');
      if (!edVerifyMsg(pk, revocationDigest(this.domain, ch.id, ch.state.version), m.revocation)) throw err('CHANNEL_PEER', 'revocation does not verify');
      round.theirSig = m.sig;
      const myRev = edSignMsg(this.key, revocationDigest(this.domain, ch.id, ch.state.version));
      await this.completeRound(ch, round, myRev, m.revocation);
      // The peer's adds are irrevocably committed now: handled before we answer (onions peeled,
      // forwards queued, invoices settled), so that the preimages of those we are paid for go back
      // in this reply (EarlyFulfil) instead of a round later. Anything asynchronous in that handling
      // (a hold invoice's write) just finishes after the reply, as before.
      // (afterRound catches per update: the round is complete and kept, its revocation goes back
      // whatever the handling did)
      this.afterRound(ch, round);
      return encode(CommitReply, { revocation: myRev, fulfils: this.reveal(ch) });
    });
  }

  /**
   * A round of ours stopped on an error. If its request timed out while the peer stays connected,
   * the round (kept, as after a crash) would wait for a reconnect that never comes, and the peer's
   * half of it blocks the peer's rounds too: hang up (as LND does on a stalled peer); the driver
   * re-dials, and `reestablish` resumes the round, which the peer answers from its stored half.
   */
  private roundFailed(ch: LocalChannel, e: unknown, what: string): void {
    const se = toStrataError(e);
    this.log.debug({ channel: shortId(ch.id), error: se.message }, what);
    if (this.stopped || se.code !== 'NETWORK' || se.meta.timeout !== true || !ch.round) return;
    const pid = this.peerByNode.get(bytesKey(ch.peer));
    if (!pid) return;
    this.log.warn({ channel: shortId(ch.id), version: ch.round.version, stage: ch.round.stage }, 'commitment round timed out; reconnecting to the peer to resume it');
    void this.p2p.hangUp(pid).catch(() => undefined);
  }

  /** After reconnecting: resume a round we proposed. */
  private reestablish(peer: Uint8Array): void {
    for (const ch of this.channels.values()) {
      // a channel no longer open resumes no round: a node that has closed completes none (its
      // HTLCs resolve on chain), and a peer answering a resumed COMMIT would have its counter-adds
      // forwarded while the state on chain may be an older one
      if (!bytesEqual(ch.peer, peer) || ch.status !== 'open') continue;
      const r = ch.round;
      if (r && r.role === 'proposer') {
        this.log.info({ channel: shortId(ch.id), version: r.version, stage: r.stage }, 'resuming a commitment round after reconnect');
        void this.runProposer(ch, r).catch((e) => this.roundFailed(ch, e, 'resume failed'));
      } else this.schedule(ch);
    }
  }

  /** An update that could not be proposed: adds fail back, the rest is logged. */
  private dropUpdate(ch: LocalChannel, u: Update, e: StrataError): void {
    this.log.warn({ channel: shortId(ch.id), kind: u.kind, id: u.id, code: e.code, error: e.message }, 'update dropped');
    if (u.kind === 'add') this.resolveOutgoing(ch, u.id, { local: e, channel: ch.id });
  }

  /**
   * Drops each update (dropUpdate) on its own: one whose drop throws is logged and kept in
   * pendingDrops, where the next tick retries its drop only (never proposes it again), and the
   * rest are still dropped. Before, a throw in such a loop (after a refused round, an invalid
   * reply, a round abandoned on a close) lost the remaining updates from memory until a restart:
   * their adds' payments and upstream HTLCs waited for nothing.
   */
  private dropAll(ch: LocalChannel, drops: Iterable<readonly [Update, StrataError]>): void {
    for (const [u, e] of drops) {
      try {
        this.dropUpdate(ch, u, e);
      } catch (x) {
        const k = bytesKey(ch.id);
        this.pendingDrops.set(k, [...(this.pendingDrops.get(k) ?? []), { ch, u, e }]);
        this.roundHandlingFailed(ch, u.id, x);
      }
    }
  }

  /** Retries the drops that threw (dropAll), each on its own; one that throws again stays for the next tick. */
  private retryDrops(): void {
    for (const [k, list] of [...this.pendingDrops]) {
      this.pendingDrops.delete(k);
      for (const { ch, u, e } of list) {
        try {
          this.dropUpdate(ch, u, e);
        } catch (x) {
          this.pendingDrops.set(k, [...(this.pendingDrops.get(k) ?? []), { ch, u, e }]);
          this.log.debug({ channel: shortId(ch.id), id: u.id, error: toStrataError(x).message }, 'update drop failed again; retried at the next tick');
        }
      }
    }
  }

  /**
   * A channel leaving 'open' takes no new HTLC: the adds still queued (no round will take them)
   * fail back now, to their payment or upstream hop. Queued fulfils and fails stay: they settle
   * incoming HTLCs, on chain if need be.
   */
  private dropQueuedAdds(ch: LocalChannel): void {
    const adds = ch.queue.filter((u) => u.kind === 'add');
    if (adds.length === 0) return;
    ch.queue = ch.queue.filter((u) => u.kind !== 'add');
    // the channel without them is committed first: a crash between a fail-back (a forward's commits
    // at once) and the channel's next save would otherwise restart with the add still queued and
    // its link gone — proposed after restart, paid downstream, already refunded upstream
    this.store.write([[`ch:${toHex(ch.id)}`, this.rec(ch)]]);
    this.dropAll(ch, adds.map((u) => [u, new StrataError('CHANNEL_STATE', `channel is ${ch.status}`)] as const));
  }

  // ------------------------------------------------------------------ HTLC flow

  private async processIncoming(ch: LocalChannel, add: Extract<Update, { kind: 'add' }>): Promise<void> {
    // processed once: the onion is kept until then
    if (!ch.onions[String(add.id)]) return;
    let peeled: ReturnType<typeof peelOnion>;
    try {
      peeled = peelOnion(add.onion, this.onionSecret, add.hash);
    } catch {
      let secret: Uint8Array | undefined;
      try {
        secret = ecdhSecret(add.onion.subarray(1, 34), this.onionSecret);
      } catch {
        secret = undefined;
      }
      this.failIncoming(ch, add.id, secret ? createFailure(secret, { code: FAIL.INVALID_ONION_HMAC, data: new Uint8Array(0) }) : new Uint8Array(0));
      return;
    }
    const fail = (code: number, data: Uint8Array = new Uint8Array(0)) => this.failIncoming(ch, add.id, createFailure(peeled.secret, { code, data }));
    const p = peeled.payload;
    if (!peeled.next) {
      await this.receive(ch, add, p, fail);
      return;
    }
    const out = this.channels.get(bytesKey(p.next));
    const pol = this.opts.policy;
    if (!out || out.status !== 'open') return fail(FAIL.UNKNOWN_NEXT_PEER, p.next);
    if (add.amount < p.amount + policyFee(pol as never, p.amount)) return fail(FAIL.FEE_INSUFFICIENT, p.next);
    if (add.expiry < p.expiry + pol.cltvDelta) return fail(FAIL.INCORRECT_CLTV_EXPIRY, p.next);
    if (p.expiry <= this.heightCache + this.opts.expiryMargin) return fail(FAIL.EXPIRY_TOO_SOON, p.next);
    if (!this.peerByNode.has(bytesKey(out.peer)) || this.spendable(out) < p.amount) {
      this.metrics.forwarded.inc({ result: 'no-liquidity' });
      return fail(FAIL.TEMPORARY_CHANNEL_FAILURE, p.next);
    }
    const outId = out.nextHtlcId++;
    const link: OutLink = { kind: 'forward', inChannel: ch.id, inId: add.id, secret: peeled.secret };
    const lk = `${toHex(out.id)}:${outId}`;
    this.setLink(lk, link);
    // the link and the onion's delete share a commit: a restart either forwards again (neither
    // kept) or not (both). The add itself is durable only with the outgoing channel's next record
    // (its round, or its queue): a restart before that finds the link with no HTLC anywhere, and
    // recover() fails it back upstream (reconcileLinks)
    this.store.writeSoon(`fwd:${lk}`, link);
    this.dropOnion(ch, add.id);
    this.enqueue(out, { kind: 'add', id: outId, amount: p.amount, hash: add.hash, expiry: p.expiry, onion: peeled.next });
    this.metrics.forwarded.inc({ result: 'forwarded' });
  }

  private async receive(ch: LocalChannel, add: Extract<Update, { kind: 'add' }>, p: HopPayload, fail: (code: number) => void): Promise<void> {
    const hashHex = toHex(add.hash);
    const inv = this.store.get<InvoiceRecord>(`inv:${hashHex}`);
    // processed once (in memory); the stored onion goes when the payment is paid, held or failed,
    // so a part of an incomplete multi-path set is processed again after a restart
    delete ch.onions[String(add.id)];
    if (!inv || inv.status !== 'open' || this.settling.has(hashHex) || invoiceExpired(inv) || !bytesEqual(inv.secret, p.secret) || p.total < inv.amount) {
      this.log.info({ paymentHash: hashHex, reason: !inv ? 'unknown' : inv.status === 'paid' ? 'already paid' : invoiceExpired(inv) ? 'expired' : 'wrong details' }, 'payment refused');
      return fail(FAIL.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS);
    }
    if (add.amount < p.amount) return fail(FAIL.FINAL_INCORRECT_HTLC_AMOUNT);
    if (add.expiry < p.expiry || add.expiry < this.heightCache + this.opts.expiryMargin + 1) return fail(FAIL.FINAL_INCORRECT_CLTV_EXPIRY);
    let set = this.mpp.get(hashHex);
    if (!set) {
      set = { parts: [], total: p.total, since: Date.now() };
      this.mpp.set(hashHex, set);
    }
    set.parts.push({ ch: ch.id, id: add.id, amount: add.amount });
    const sum = set.parts.reduce((a, x) => a + x.amount, 0n);
    if (sum < set.total) return;
    this.mpp.delete(hashHex);
    if (inv.hold) {
      inv.status = 'held';
      inv.held = set.parts;
      // as for a paid invoice below: until "held" is committed, a read still sees "open"
      this.settling.add(hashHex);
      // the parts' onions go in the same commit as "held" (deferred writes join the next write)
      for (const part of set.parts) this.store.writeSoon(`on:${toHex(part.ch)}:${part.id}`, undefined);
      await this.store.put(`inv:${hashHex}`, inv).finally(() => this.settling.delete(hashHex));
      this.log.info({ paymentHash: hashHex, amount: sum.toString() }, 'hold invoice: payment arrived, held until settled');
      return;
    }
    inv.status = 'paid';
    inv.paidAt = Math.floor(Date.now() / 1000);
    // queued in one synchronous block for the end of this turn (with every other payment's of the
    // turn: one commit under load instead of one each), before the fulfils are queued: any write
    // or flush commits them first, so the fulfil round's own write and every message after it
    // (a preimage leaves only after a flush) follow them; a read meanwhile sees them queued (a
    // second HTLC for this hash finds the invoice paid)
    this.store.writeSoon(`inv:${hashHex}`, inv);
    this.store.writeSoon(`pre:${hashHex}`, inv.preimage);
    for (const part of set.parts) this.store.writeSoon(`on:${toHex(part.ch)}:${part.id}`, undefined);
    this.metrics.paymentsReceived.inc();
    this.log.info({ paymentHash: hashHex, amount: sum.toString(), parts: set.parts.length }, 'invoice paid');
    for (const part of set.parts) {
      const c = this.chan(part.ch);
      this.enqueue(c, { kind: 'fulfil', id: part.id, preimage: inv.preimage });
    }
  }

  private failIncoming(ch: LocalChannel, id: number, reason: Uint8Array): void {
    delete ch.onions[String(id)];
    this.enqueue(ch, { kind: 'fail', id, reason });
    // the fail is kept with the channel (its queue) in the commit that drops the onion
    this.store.write([
      [`on:${toHex(ch.id)}:${id}`, undefined],
      [`ch:${toHex(ch.id)}`, this.rec(ch)],
    ]);
  }

  /** An HTLC we offered was fulfilled, failed, or could not be sent: pass it upstream or to the payment. */
  private resolveOutgoing(ch: LocalChannel, id: number, r: { preimage: Uint8Array } | { reason: Uint8Array } | { local: StrataError; channel: Uint8Array }): void {
    const lk = `${toHex(ch.id)}:${id}`;
    // every stored link is loaded at start and every new one is set here too, so the map is the
    // whole truth (a store fallback could see a link whose delete is not committed yet: resolved twice)
    const link = this.links.get(lk);
    if (!link) return;
    if (link.kind === 'forward') {
      // A forward's link leaves the map only once its resolution is committed: anything that
      // throws before (building the update from a malformed stored link, the write itself) leaves
      // it there and stored, and the next look (chain watch, restart) resolves it, exactly once.
      const inCh = this.channels.get(bytesKey(link.inChannel as Uint8Array));
      if (!inCh) {
        this.store.write([[`fwd:${lk}`, undefined]]);
        this.deleteLink(lk, link);
        return;
      }
      const writes: [string, unknown][] = [[`fwd:${lk}`, undefined]];
      let u: Update;
      if ('preimage' in r) {
        writes.push([`pre:${toHex(sha256(r.preimage))}`, r.preimage]);
        u = { kind: 'fulfil', id: link.inId as number, preimage: r.preimage };
      } else if ('reason' in r) {
        u = { kind: 'fail', id: link.inId as number, reason: wrapFailure(link.secret as Uint8Array, r.reason) };
      } else {
        u = { kind: 'fail', id: link.inId as number, reason: createFailure(link.secret as Uint8Array, { code: FAIL.TEMPORARY_CHANNEL_FAILURE, data: r.channel }) };
      }
      // The update on its way upstream is kept with the incoming channel (its queue is part of
      // the record) in the same commit that drops the link: a crash before the upstream peer takes
      // it (offline, or a round in progress) resends it after restart. Before, the queue lived in
      // memory until that channel's next write, and with the link gone nothing failed the
      // incoming HTLC: the upstream peer went on chain at its expiry.
      inCh.queue.push(u);
      try {
        if (inCh.status === 'open') writes.push([`ch:${toHex(inCh.id)}`, this.rec(inCh)]);
        this.store.write(writes);
      } catch (e) {
        // nothing was committed: the queued update goes too, and the link stays (in the map and
        // stored), so that a retry (the chain watch's next look, or a restart, which loads the
        // link again) resolves it exactly once. Before, the link was gone from memory with its
        // `fwd:` record still stored and the update in memory only: nothing retried, a crash lost it.
        const i = inCh.queue.lastIndexOf(u);
        if (i >= 0) inCh.queue.splice(i, 1);
        throw e;
      }
      this.deleteLink(lk, link);
      this.schedule(inCh);
      this.metrics.forwarded.inc({ result: 'preimage' in r ? 'settled' : 'failed' });
      return;
    }
    // a preimage this HTLC brought (kept with its link) wins over any failure resolved later:
    // e.g. an early fulfil whose handling threw, then the HTLC refunded on chain
    const res = !('preimage' in r) && link.preimage ? { preimage: link.preimage } : r;
    const hk = toHex(link.paymentHash as Uint8Array);
    // out of the map while the payment counts its parts out; back in if handing it over throws,
    // and deleted from the store only once handed over (as a forward's: a retry resolves it).
    // Its backoff entry (resolveFailed) comes back with it: deleteLink clears it, and without it
    // the retry came at every tick instead of 1, 2, 4 … apart
    const retry = this.resolveRetry.get(lk);
    this.deleteLink(lk, link);
    try {
      const pay = this.payments.get(hk);
      if (pay) this.onPartResolved(pay, link.part as number, res);
      else this.settleOrphanPayment(hk, res);
    } catch (e) {
      this.setLink(lk, link);
      if (retry) this.resolveRetry.set(lk, retry);
      throw e;
    }
    this.store.writeSoon(`fwd:${lk}`, undefined);
  }

  /**
   * A payment's part resolved with no payment in memory (the caller is gone: a restart since it
   * left, or pay() returned with parts still out). A preimage settles the record at once
   * (succeeded: the proof of payment, whatever the other parts do); a failure settles it once it
   * was the last part out (succeeded if a preimage was kept, else failed), so that the invoice is
   * neither refused forever as "being paid" nor shown unpaid.
   */
  private settleOrphanPayment(hk: string, r: { preimage: Uint8Array } | { reason: Uint8Array } | { local: StrataError; channel: Uint8Array }): void {
    if (!('preimage' in r) && this.paymentLinksOut(hk)) return; // parts still out
    this.settlePendingRecord(hk, 'preimage' in r ? r.preimage : undefined, 'payment whose caller is gone settled');
  }

  /** True while some HTLC of the payment with this hash (hex) is out (a payment link names it). */
  private paymentLinksOut(hk: string): boolean {
    return (this.paymentLinksByHash.get(hk) ?? 0) > 0;
  }
  /** Every link goes in through here (and out through deleteLink): the per-payment count follows the map. */
  private setLink(lk: string, link: OutLink): void {
    const had = this.links.get(lk);
    if (had) {
      // an HTLC id handed out twice on one channel: never expected (ids are raised above every link at start)
      this.log.error({ link: lk, kind: had.kind }, 'an HTLC link replaced another with the same id');
      this.deleteLink(lk, had);
    }
    this.links.set(lk, link);
    if (link.kind === 'payment') {
      const hk = toHex(link.paymentHash as Uint8Array);
      this.paymentLinksByHash.set(hk, (this.paymentLinksByHash.get(hk) ?? 0) + 1);
    }
  }
  private deleteLink(lk: string, link: OutLink): void {
    this.resolveRetry.delete(lk);
    if (!this.links.delete(lk) || link.kind !== 'payment') return;
    const hk = toHex(link.paymentHash as Uint8Array);
    const n = (this.paymentLinksByHash.get(hk) ?? 0) - 1;
    if (n > 0) this.paymentLinksByHash.set(hk, n);
    else this.paymentLinksByHash.delete(hk);
  }

  /**
   * A `pay:` record still 'pending' with no HTLC out: succeeded with the preimage one of its parts
   * brought (`preimage`), else failed. A preimage always wins: a record 'failed' (by a version that
   * wrote it with parts still out) becomes 'succeeded' too when one of its parts brings the
   * preimage, so the invoice is never taken as unpaid once paid. A preimage merely kept (`pre:`)
   * counts for nothing here: a forwarder of the same hash keeps one too, and the amount of a part
   * that never left was not paid (before, a pending record took it and said succeeded).
   */
  private settlePendingRecord(hk: string, preimage: Uint8Array | undefined, why: string): void {
    const rec = this.store.get<{ status: string; amount: bigint }>(`pay:${hk}`);
    if (!rec || rec.status === 'succeeded' || (rec.status !== 'pending' && !preimage)) return;
    this.log.info({ paymentHash: hk, status: preimage ? 'succeeded' : 'failed' }, why);
    this.writePayRecord(hk, preimage ? { ...rec, status: 'succeeded', preimage } : { ...rec, status: 'failed' });
  }

  /**
   * Every `pay:` record is written through here, with its entry in the index of pending records
   * (`payp:<hash>`, set while the record is 'pending', deleted otherwise) in the same commit: a
   * restart reads only the pending ones (recover), not the node's whole payment history. `now`
   * commits at once, else with this turn's other records (writeSoon, in order).
   */
  private writePayRecord(hk: string, rec: { status: string; amount: bigint; preimage?: Uint8Array }, now = false): void {
    const entries: [string, unknown][] = [
      [`pay:${hk}`, rec],
      [`payp:${hk}`, rec.status === 'pending' ? true : undefined],
    ];
    if (now) this.store.write(entries);
    else for (const [k, v] of entries) this.store.writeSoon(k, v);
  }

  /**
   * The hashes of the `pay:` records left pending. A store an older version wrote has no index
   * (no `idx:payp` marker): it is built once here from a scan of every `pay:` record, with the
   * marker, in one commit.
   */
  private pendingPayments(): string[] {
    if (this.store.get(PAY_INDEX_MARKER) !== undefined) return this.store.list<true>('payp:').map(([k]) => k.slice('payp:'.length));
    const all = this.store.list<{ status: string }>('pay:');
    const pending = all.filter(([, r]) => r.status === 'pending').map(([k]) => k.slice('pay:'.length));
    this.store.write([...pending.map((h): [string, unknown] => [`payp:${h}`, true]), [PAY_INDEX_MARKER, 1]]);
    this.log.info({ records: all.length, pending: pending.length }, 'payment records indexed (once: the store predates the index of pending ones)');
    return pending;
  }

  // ------------------------------------------------------------------ invoices and payments

  /** Creates an invoice for `amount`; returns its bech32 text. */
  async createInvoice(amount: bigint, description = '', expirySeconds = 3600, opts: { hold?: boolean } = {}): Promise<{ invoice: string; paymentHash: string }> {
    if (amount <= 0n) throw new StrataError('CHANNEL_INVOICE', 'invoice amount must be positive');
    const preimage = random32();
    const hash = sha256(preimage);
    const secret = random32();
    const timestamp = Math.floor(Date.now() / 1000);
    const text = encodeInvoice({ chainPrefix: this.prefix, amount, timestamp, paymentHash: hash, paymentSecret: secret, expiry: expirySeconds, description, minFinalExpiry: this.opts.minFinalExpiry }, this.key);
    await this.store.put(`inv:${toHex(hash)}`, { text, preimage, hash, secret, amount, timestamp, expiry: expirySeconds, status: 'open', ...(opts.hold ? { hold: true } : {}) } satisfies InvoiceRecord);
    this.log.info({ paymentHash: toHex(hash), amount: amount.toString() }, 'invoice created');
    return { invoice: text, paymentHash: toHex(hash) };
  }

  /** Settles a held invoice: fulfils its HTLCs (with the channel offline, the chain watcher takes them on chain). */
  async settleInvoice(paymentHash: Uint8Array): Promise<void> {
    const k = `inv:${toHex(paymentHash)}`;
    const inv = this.store.get<InvoiceRecord>(k);
    if (!inv || inv.status !== 'held') throw new StrataError('CHANNEL_INVOICE', 'no held payment for that hash');
    inv.status = 'paid';
    inv.paidAt = Math.floor(Date.now() / 1000);
    await this.store.put(k, inv);
    await this.store.put(`pre:${toHex(paymentHash)}`, inv.preimage);
    this.metrics.paymentsReceived.inc();
    for (const part of inv.held ?? []) this.enqueue(this.chan(part.ch), { kind: 'fulfil', id: part.id, preimage: inv.preimage });
    this.log.info({ paymentHash: toHex(paymentHash) }, 'hold invoice settled');
  }

  /**
   * Cancels an invoice (LND's CancelInvoice): an open one refuses any later payment; a held one
   * fails its HTLCs back to the payer. The fails are kept with their channels in the same commit.
   */
  async cancelInvoice(paymentHash: Uint8Array): Promise<void> {
    const k = `inv:${toHex(paymentHash)}`;
    const inv = this.store.get<InvoiceRecord>(k);
    if (!inv || (inv.status !== 'open' && inv.status !== 'held')) throw new StrataError('CHANNEL_INVOICE', 'no open or held invoice for that hash');
    const parts = inv.status === 'held' ? (inv.held ?? []) : [];
    inv.status = 'cancelled';
    delete inv.held;
    const writes: [string, unknown][] = [[k, inv]];
    for (const part of parts) {
      const c = this.chan(part.ch);
      this.enqueue(c, { kind: 'fail', id: part.id, reason: new Uint8Array(0) });
      writes.push([`ch:${toHex(c.id)}`, this.rec(c)]);
    }
    this.store.write(writes);
    this.log.info({ paymentHash: toHex(paymentHash), failed: parts.length }, 'invoice cancelled');
  }

  /** Invoices this node issued. */
  invoices(): { paymentHash: string; amount: string; status: string; expired: boolean; invoice: string }[] {
    return this.store.list<InvoiceRecord>('inv:').map(([, i]) => ({ paymentHash: toHex(i.hash), amount: i.amount.toString(), status: i.status, expired: invoiceExpired(i), invoice: i.text }));
  }

  private localBalanceFn(): (id: Uint8Array) => bigint | undefined {
    return (id) => {
      const c = this.channels.get(bytesKey(id));
      if (!c || c.status !== 'open' || !this.peerByNode.has(bytesKey(c.peer))) return undefined;
      return this.spendable(c);
    };
  }

  /** Pays an invoice over one or several routes; resolves with the preimage or throws CHANNEL_PAYMENT_FAILED / CHANNEL_NO_ROUTE. */
  async pay(invoiceText: string, opts: { maxParts?: number } = {}): Promise<PaymentResult> {
    // the signature is checked off the event loop; everything after it runs in one turn as before
    const inv = await decodeInvoiceAsync(invoiceText, this.prefix);
    if (invoiceExpired(inv)) throw new StrataError('CHANNEL_INVOICE', 'invoice has expired');
    if (bytesEqual(inv.payee, this.nodeKey)) throw new StrataError('CHANNEL_INVOICE', 'cannot pay our own invoice');
    const hk2 = toHex(inv.paymentHash);
    const prior = this.payments.get(hk2) ?? this.store.get<{ status: string }>(`pay:${hk2}`);
    if (prior && prior.status !== 'failed') throw new StrataError('CHANNEL_PAYMENT_FAILED', `invoice ${hk2.slice(0, 18)}… is already ${prior.status === 'succeeded' ? 'paid' : 'being paid'}`);
    // a kept preimage is the proof that our earlier attempt was paid, whatever its record says (a
    // record written 'failed' with a part still out, which the payee then fulfilled): never pay it
    // twice. (Only with a record of ours: a preimage kept as a forwarder or a payee is not a
    // payment of ours, as LND's control tower tracks only its own payments.)
    if (prior && this.store.get<Uint8Array>(`pre:${hk2}`)) throw new StrataError('CHANNEL_PAYMENT_FAILED', `invoice ${hk2.slice(0, 18)}… is already paid (its preimage is known)`);
    // an earlier attempt's parts still out (a record 'failed' by an older version while others
    // were held): a new attempt would be resolved by their outcomes (links name the payment by
    // hash) and could pay the total again on top of them
    if (this.paymentLinksOut(hk2)) throw new StrataError('CHANNEL_PAYMENT_FAILED', `invoice ${hk2.slice(0, 18)}… has HTLCs of an earlier attempt still out; retry when they are resolved`);
    const started = Date.now();
    const pay: Payment = {
      hash: inv.paymentHash,
      total: inv.amount,
      secret: inv.paymentSecret,
      payee: inv.payee,
      finalExpiry: this.heightCache + inv.minFinalExpiry,
      parts: [],
      attempts: 0,
      status: 'pending',
      failures: [],
      exclude: new Set(),
      done: () => {},
      started,
    };
    const finished = new Promise<void>((resolve, reject) => {
      pay.done = (e) => (e ? reject(e) : resolve());
    });
    this.payments.set(hk2, pay);
    // in this turn's commit: the HTLC leaves only after its round's write, which commits it first
    this.writePayRecord(hk2, { status: 'pending', amount: inv.amount });
    const maxParts = opts.maxParts ?? this.opts.maxParts;
    try {
      this.launch(pay, inv.amount, maxParts);
      await finished;
    } catch (e) {
      // a preimage that arrived for one of its parts anyway (fulfilled as the payment was given
      // up: the node stopping; onPartResolved keeps it) is the proof of payment: it succeeded.
      // (Not the store's pre: record: a forwarder of the same hash keeps one too.)
      if (!pay.preimage) {
        pay.status = 'failed';
        this.payments.delete(hk2);
        this.metrics.paymentsSent.inc({ result: 'failed' });
        // never 'failed' while a part is out (a stop with HTLCs in flight): the payee may still
        // fulfil it. The record stays 'pending' and the part's outcome settles it (settleOrphanPayment)
        if (this.paymentLinksOut(hk2)) this.log.info({ paymentHash: hk2, error: toStrataError(e).message }, 'payment call ended with parts still out: its record stays pending until they resolve');
        else this.writePayRecord(hk2, { status: 'failed', amount: inv.amount }, true);
        throw e;
      }
    }
    // the preimage is already kept (pre:…, written before the fulfil was accepted): the record is not awaited
    this.writePayRecord(hk2, { status: 'succeeded', amount: inv.amount, preimage: pay.preimage as Uint8Array });
    this.metrics.paymentsSent.inc({ result: 'ok' });
    this.payments.delete(hk2);
    // every part still in flight settles too: the payee released the preimage for all of them at once
    const ok = pay.parts.filter((p) => p.status !== 'failed');
    return {
      paymentHash: hk2,
      preimage: toHex(pay.preimage as Uint8Array),
      amount: inv.amount.toString(),
      fee: ok.reduce((a, p) => a + p.route.fee, 0n).toString(),
      parts: ok.length,
      attempts: pay.attempts,
      routes: ok.map((p) => ({ hops: p.route.hops.map((h) => this.aliasOf(h.node)), amount: p.amount.toString() })),
      failures: pay.failures,
      ms: Date.now() - started,
    };
  }

  private aliasOf(nodeKey: Uint8Array): string {
    const n = this.graph.nodes.get(bytesKey(nodeKey));
    return n ? new TextDecoder().decode(n.alias) : toHex(nodeKey).slice(0, 14);
  }

  /** Finds routes for `amount` (split up to `maxParts`) and sends the parts. */
  private launch(pay: Payment, amount: bigint, maxParts: number): void {
    if (pay.attempts >= this.opts.maxAttempts) {
      throw new StrataError('CHANNEL_PAYMENT_FAILED', `payment failed after ${pay.attempts} attempts`, { failures: pay.failures });
    }
    const local = this.localBalanceFn();
    const used = new Map<string, bigint>();
    const balance = (id: Uint8Array) => {
      const b = local(id);
      return b === undefined ? undefined : b - (used.get(bytesKey(id)) ?? 0n);
    };
    for (let k = 1; k <= maxParts; k *= 2) {
      const parts: { amount: bigint; route: Route }[] = [];
      used.clear();
      const each = amount / BigInt(k);
      let okAll = true;
      for (let i = 0; i < k; i++) {
        const a = i === k - 1 ? amount - each * BigInt(k - 1) : each;
        const r = this.graph.findRoute(this.nodeKey, pay.payee, a, pay.finalExpiry, { mc: this.mc, localBalance: balance, exclude: pay.exclude });
        if (!r) {
          okAll = false;
          break;
        }
        const first = bytesKey(r.hops[0]?.channelId as Uint8Array);
        used.set(first, (used.get(first) ?? 0n) + r.amount);
        parts.push({ amount: a, route: r });
      }
      if (!okAll) continue;
      pay.attempts++;
      for (const p of parts) this.sendPart(pay, p.amount, p.route);
      return;
    }
    throw new StrataError('CHANNEL_NO_ROUTE', `no route to ${toHex(pay.payee).slice(0, 14)} for ${amount} (tried up to ${maxParts} parts)`, { failures: pay.failures });
  }

  private sendPart(pay: Payment, amount: bigint, route: Route): void {
    const hops = route.hops.map((h, i) => {
      const nextHop = route.hops[i + 1];
      const onionKey = this.onionKeyOf(h.node);
      const payload: HopPayload = nextHop
        ? { next: nextHop.channelId, amount: nextHop.amount, expiry: nextHop.expiry, secret: new Uint8Array(0), total: 0n }
        : { next: new Uint8Array(0), amount: h.amount, expiry: h.expiry, secret: pay.secret, total: pay.total };
      return { key: onionKey, payload };
    });
    if (this.stopped) throw new StrataError('NODE_STOPPED', 'the channel node stopped'); // no new worker job after stop() drained it
    const first = route.hops[0] as Route['hops'][number];
    this.chan(first.channelId); // an unknown first channel fails the payment here, before any work
    const index = pay.parts.length;
    const part: Payment['parts'][number] = { index, amount, route, secrets: [], status: 'inflight' };
    pay.parts.push(part);
    // The onion's curve work runs on a worker thread (crypto-pool.ts); the HTLC is queued when it
    // is back. Meanwhile its amount is held from the first channel's spendable balance (other
    // payments' routes see it as queued), and on return the payment, the part and the channel
    // are checked again: a payment settled or failed meanwhile sends nothing more, and a channel
    // that stopped being open fails the part locally (retried elsewhere, as a dropped update).
    const ck = bytesKey(first.channelId);
    this.onionsBuilding.set(ck, (this.onionsBuilding.get(ck) ?? 0n) + route.amount);
    const release = () => {
      const left = (this.onionsBuilding.get(ck) ?? 0n) - route.amount;
      if (left > 0n) this.onionsBuilding.set(ck, left);
      else this.onionsBuilding.delete(ck);
    };
    buildOnionAsync(hops, pay.hash)
      .then(
        ({ packet, secrets }) => {
          release();
          part.secrets = secrets;
          if (pay.status !== 'pending' || part.status !== 'inflight' || this.payments.get(toHex(pay.hash)) !== pay) {
            part.status = 'failed';
            return;
          }
          if (pay.refused) {
            // the payee refused another part for good while this onion was built: not sent
            part.status = 'failed';
            if (!pay.parts.some((p) => p.status === 'inflight')) {
              pay.status = 'failed';
              pay.done(pay.refused);
            }
            return;
          }
          const ch = this.channels.get(ck);
          if (this.stopped) {
            // the call ends with NODE_STOPPED; another part may still be out, so pay() leaves the
            // record pending then (its outcome settles it after the restart)
            part.status = 'failed';
            pay.status = 'failed';
            pay.done(new StrataError('NODE_STOPPED', 'the channel node stopped'));
            return;
          }
          if (!ch || ch.status !== 'open') {
            this.onPartResolved(pay, index, { local: err('CHANNEL_STATE', `channel ${shortId(first.channelId)} is ${this.stopped ? 'stopped' : (ch?.status ?? 'gone')}`), channel: first.channelId });
            return;
          }
          const id = ch.nextHtlcId++;
          const lk = `${toHex(ch.id)}:${id}`;
          const link: OutLink = { kind: 'payment', paymentHash: pay.hash, part: index };
          // committed (writeSoon) before any round carrying the add: see reconcileLinks for a
          // restart that finds it while the add was still only queued in memory
          this.setLink(lk, link);
          this.store.writeSoon(`fwd:${lk}`, link);
          this.enqueue(ch, { kind: 'add', id, amount: route.amount, hash: pay.hash, expiry: first.expiry, onion: packet });
        },
        (e: unknown) => {
          // an onion that cannot be built (a hop's key is not a curve point, payloads too large):
          // a local failure of this part, as a dropped update (the payment retries or fails as usual)
          release();
          const se = e instanceof StrataError ? e : new StrataError('CHANNEL_ONION', `onion: ${String(e)}`);
          this.log.warn({ paymentHash: toHex(pay.hash), code: se.code, error: se.message }, 'payment part: onion not built');
          this.onPartResolved(pay, index, { local: se, channel: first.channelId });
        },
      )
      .catch((e: unknown) => {
        // a bug in the handlers above: the part is failed (a part left 'inflight' would keep pay() waiting)
        this.log.error({ paymentHash: toHex(pay.hash), error: String(e) }, 'payment part: internal error');
        if (part.status !== 'inflight') return;
        part.status = 'failed';
        if (pay.status === 'pending' && !pay.parts.some((p) => p.status === 'inflight')) {
          pay.status = 'failed';
          pay.done(toStrataError(e));
        }
      });
  }

  private onionKeyOf(node: Uint8Array): Uint8Array {
    const n = this.graph.nodes.get(bytesKey(node));
    if (n) return n.onionKey;
    for (const p of this.nodeByPeer.values()) if (bytesEqual(p.nodeKey, node)) return p.onionKey;
    throw new StrataError('CHANNEL_NO_ROUTE', `no onion key known for node ${toHex(node).slice(0, 14)}`);
  }

  private onPartResolved(pay: Payment, index: number, r: { preimage: Uint8Array } | { reason: Uint8Array } | { local: StrataError; channel: Uint8Array }): void {
    const part = pay.parts[index];
    if (!part || part.status !== 'inflight' || pay.status !== 'pending') {
      if (part && 'preimage' in r) {
        part.status = 'ok';
        // a payment given up meanwhile (stopping) still succeeds with it: pay() reads it
        if (!pay.preimage) pay.preimage = r.preimage;
      }
      return;
    }
    if ('preimage' in r) {
      part.status = 'ok';
      for (const h of part.route.hops) this.mc.report(h.channelId, this.nodeKey, h.amount, true);
      if (!pay.preimage) pay.preimage = r.preimage;
      // all parts settle together at the payee; the payment is done at the first preimage
      pay.status = 'succeeded';
      this.log.info({ paymentHash: toHex(pay.hash), amount: pay.total.toString(), parts: pay.parts.filter((p) => p.status !== 'failed').length, ms: Date.now() - pay.started }, 'payment succeeded');
      pay.done();
      return;
    }
    part.status = 'failed';
    let failingChannel: Uint8Array | undefined;
    let permanent = false;
    if ('reason' in r) {
      const f = decryptFailure(part.secrets, r.reason);
      if (f) {
        const hop = part.route.hops[f.hop] as Route['hops'][number];
        const nextHop = part.route.hops[f.hop + 1];
        pay.failures.push({ hop: f.hop, node: this.aliasOf(hop.node), channel: nextHop ? toHex(nextHop.channelId) : '', code: f.message.code });
        this.log.info({ paymentHash: toHex(pay.hash), failingHop: f.hop, node: this.aliasOf(hop.node), code: f.message.code }, 'payment attempt failed');
        if (f.hop === part.route.hops.length - 1) permanent = (f.message.code & FAIL.PERM) !== 0 || f.message.code === FAIL.FINAL_INCORRECT_CLTV_EXPIRY;
        if (nextHop) {
          failingChannel = nextHop.channelId;
          this.mc.report(nextHop.channelId, hop.node, nextHop.amount, false);
        }
      } else pay.failures.push({ hop: -1, node: '?', channel: '', code: 0 });
    } else {
      failingChannel = r.channel;
      pay.failures.push({ hop: -1, node: this.opts.alias, channel: toHex(r.channel), code: FAIL.TEMPORARY_CHANNEL_FAILURE });
    }
    if (failingChannel) pay.exclude.add(bytesKey(failingChannel));
    if (permanent) pay.refused ??= new StrataError('CHANNEL_PAYMENT_FAILED', 'the payee refused the payment (unknown, expired or already paid invoice)', { failures: pay.failures });
    if (pay.refused) {
      // nothing more is sent; the parts still out decide (one fulfilled: the payment succeeded,
      // as the payee released the preimage). Failed at once, the payment was recorded 'failed'
      // with a part out that the payee then fulfilled, and the invoice could be paid again.
      if (pay.parts.some((p) => p.status === 'inflight')) return;
      pay.status = 'failed';
      pay.done(pay.refused);
      return;
    }
    try {
      this.launch(pay, part.amount, this.opts.maxParts);
    } catch (e) {
      if (pay.parts.some((p) => p.status === 'inflight')) return; // other parts may still be refunded; the payee times them out
      pay.status = 'failed';
      pay.done(toStrataError(e));
    }
  }

  // ------------------------------------------------------------------ closing

  /** Closes a channel: cooperatively (one transaction signed by both), or `force` (unilateral, with the latest signed state). */
  async closeChannel(id: Uint8Array, force = false): Promise<{ how: 'cooperative' | 'unilateral'; height: number }> {
    const ch = this.chan(id);
    if (ch.status !== 'open') throw err('CHANNEL_STATE', `channel is ${ch.status}`);
    if (!force) {
      // BOLT 2 shutdown: HTLCs already in flight settle first (a payment returns at the preimage,
      // a round or two before its HTLC leaves the state), for up to `closeWaitMs`
      const until = Date.now() + this.opts.closeWaitMs;
      while ((ch.round || ch.queue.length > 0 || ch.state.htlcs.length > 0) && Date.now() < until && ch.status === 'open') await new Promise((r) => setTimeout(r, 20));
      const args = await this.withLock(ch.id, async () => {
        if (ch.round || ch.queue.length > 0 || ch.state.htlcs.length > 0) throw err('CHANNEL_STATE', 'channel has HTLCs or updates in flight; wait, or close with --force');
        const s = ch.state;
        // A close signature is valid on chain for as long as the channel is open (it names no
        // version), so once it leaves this node the channel takes no further update: persist
        // 'closing' first, and if the peer does not countersign, close unilaterally with the
        // latest state (same balances) instead of going back to 'open'.
        ch.status = 'closing';
        ch.coopSince = this.heightCache;
        this.dropQueuedAdds(ch);
        await this.save(ch);
        const mine = edSignMsg(this.key, closeDigest(this.domain, ch.id, s.balanceA, s.balanceB));
        this.coopSigned.set(bytesKey(ch.id), { balanceA: s.balanceA, balanceB: s.balanceB, sig: mine });
        let reply: { sig: Uint8Array };
        try {
          reply = decode(CloseReply, await this.send(ch.peer, MSG.CLOSE, encode(CloseMsg, { channelId: ch.id, balanceA: s.balanceA, balanceB: s.balanceB, sig: mine })));
          if (!edVerifyMsg(this.peerKeyOf(ch), closeDigest(this.domain, ch.id, s.balanceA, s.balanceB), reply.sig)) throw err('CHANNEL_PEER', 'peer close signature does not verify');
        } catch (e) {
          this.log.warn({ channel: shortId(ch.id), err: (e as Error).message }, 'peer did not countersign the cooperative close; closing unilaterally');
          return undefined;
        }
        return encode(CoopCloseArgs, { channelId: ch.id, balanceA: s.balanceA, balanceB: s.balanceB, sigA: ch.side === 0 ? mine : reply.sig, sigB: ch.side === 0 ? reply.sig : mine });
      });
      if (!args) {
        const height = await this.forceClose(ch, 'cooperative close refused');
        return { how: 'unilateral', height };
      }
      let height: number;
      try {
        height = await sendAndWait(this.deps.chain, this.wallet, 'coopClose', args);
        this.metrics.onchain.inc({ method: 'coopClose' });
      } catch (e) {
        // both sides closing at once both hold both signatures and both publish: the first wins
        const rec = await this.reader.channel(ch.id).catch(() => undefined);
        if (rec?.ending !== END_COOPERATIVE) throw e;
        height = this.heightCache;
      }
      ch.status = 'closed';
      await this.save(ch);
      this.log.info({ channel: shortId(ch.id), balance: this.myBalance(ch).toString() }, 'channel closed cooperatively');
      return { how: 'cooperative', height };
    }
    const height = await this.forceClose(ch, 'requested');
    return { how: 'unilateral', height };
  }

  private async onCloseRequest(peer: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
    const m = decode(CloseMsg, body);
    const ch = this.chan(m.channelId);
    if (!bytesEqual(ch.peer, peer)) throw err('CHANNEL_PEER', 'not your channel');
    // Both sides asked at once: our own CLOSE (same balances, signed) is on its way and holds the
    // lock until the peer answers it, so the peer's would wait for ours and ours for the peer's
    // until both timed out and closed unilaterally. Answered at once with the signature we already
    // gave for exactly these balances: nothing new is signed.
    const ours = this.coopSigned.get(bytesKey(ch.id));
    if (ch.status === 'closing' && ours && ours.balanceA === m.balanceA && ours.balanceB === m.balanceB) {
      if (!edVerifyMsg(this.peerKeyOf(ch), closeDigest(this.domain, ch.id, m.balanceA, m.balanceB), m.sig)) throw err('CHANNEL_PEER', 'close signature does not verify');
      this.log.info({ channel: shortId(ch.id) }, 'peer closes cooperatively at the same time as we do');
      return encode(CloseReply, { sig: ours.sig });
    }
    // the peer saw the last round complete on its side; ours completes when its answer, which
    // travels on another stream, is handled: give it a moment
    const until = Date.now() + 2000;
    while (ch.round && ch.status === 'open' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.withLock(ch.id, async () => {
      if (ch.status !== 'open' || ch.round || ch.state.htlcs.length > 0) throw err('CHANNEL_STATE', 'cannot close now: updates in flight');
      if (m.balanceA !== ch.state.balanceA || m.balanceB !== ch.state.balanceB) throw err('CHANNEL_STATE', 'close balances do not match the latest state');
      const d = closeDigest(this.domain, ch.id, m.balanceA, m.balanceB);
      if (!edVerifyMsg(this.peerKeyOf(ch), d, m.sig)) throw err('CHANNEL_PEER', 'close signature does not verify');
      ch.status = 'closing';
      ch.coopSince = this.heightCache;
      this.dropQueuedAdds(ch);
      await this.save(ch);
      this.log.info({ channel: shortId(ch.id) }, 'peer closes cooperatively');
      return encode(CloseReply, { sig: edSignMsg(this.key, d) });
    });
  }

  /**
   * The newest state both parties signed. A round whose next state carries both signatures
   * counts even before it completes: our revocation of the current version may already have
   * left (the commit went out and its reply was lost, or we crashed), so publishing the current
   * version could hand the peer a penalty; the next one is never revoked.
   */
  private bestSigned(ch: LocalChannel): { state: ChannelState; sigA: Uint8Array | undefined; sigB: Uint8Array | undefined } {
    const r = ch.round;
    if (r && r.mySig && r.theirSig && r.next.version === ch.state.version + 1) {
      return { state: r.next, sigA: ch.side === 0 ? r.mySig : r.theirSig, sigB: ch.side === 0 ? r.theirSig : r.mySig };
    }
    return { state: ch.state, sigA: ch.sigA, sigB: ch.sigB };
  }

  private async forceClose(ch: LocalChannel, why: string): Promise<number> {
    // 'closing' before any await: from here on no round completes (onCommit, runProposer), so
    // the state picked here is never revoked by us
    const best = this.bestSigned(ch);
    const s = best.state;
    ch.status = 'closing';
    ch.closeSentAt = this.heightCache;
    this.dropQueuedAdds(ch);
    await this.save(ch);
    const args = encode(SignedStateArgs, { state: s, sigA: s.version === 0 ? undefined : best.sigA, sigB: s.version === 0 ? undefined : best.sigB });
    const k = bytesKey(ch.id);
    this.closeInFlight.add(k);
    let height: number;
    try {
      height = await sendAndWait(this.deps.chain, this.wallet, 'close', args);
    } catch (e) {
      this.log.error({ channel: shortId(ch.id), version: s.version, error: toStrataError(e).message }, 'unilateral close transaction failed; the chain watch sends it again');
      throw e;
    } finally {
      this.closeInFlight.delete(k);
    }
    this.metrics.onchain.inc({ method: 'close' });
    this.log.warn({ channel: shortId(ch.id), version: s.version, htlcs: s.htlcs.length, reason: why }, 'channel closed unilaterally; dispute delay started');
    return height;
  }

  // ------------------------------------------------------------------ the driver loop

  private async tick(): Promise<void> {
    this.ticks++;
    this.heightCache = await this.deps.chain.height();
    const h = this.heightCache;
    this.retryDrops();
    for (const ch of this.channels.values()) {
      if (ch.status === 'closed' || ch.status === 'opening') continue;
      await this.watchChannel(ch, h).catch((e) => this.log.warn({ channel: shortId(ch.id), error: toStrataError(e).message }, 'chain watch failed'));
    }
    // multi-path sets that never completed
    for (const [hash, set] of this.mpp) {
      if (Date.now() - set.since < this.opts.mppTimeoutMs) continue;
      this.mpp.delete(hash);
      for (const part of set.parts) {
        const c = this.channels.get(bytesKey(part.ch));
        if (c) this.failIncoming(c, part.id, new Uint8Array(0));
      }
    }
    // peers with channels that dropped: re-dial
    for (const ch of this.channels.values()) {
      if (ch.status === 'closed' || this.peerByNode.has(bytesKey(ch.peer))) continue;
      const p = this.store.get<{ addr: string }>(`peer:${toHex(ch.peer)}`);
      const k = toHex(ch.peer);
      // in the background: a dial to an offline peer must never hold up watching the chain
      if (p && !this.dialing.has(k)) {
        this.dialing.add(k);
        void this.connect(p.addr)
          .catch(() => undefined)
          .finally(() => this.dialing.delete(k));
      }
    }
    // anti-entropy: a missed gossip message is pulled again from the peers every few seconds
    if (Date.now() - this.lastSync > 3000) {
      this.lastSync = Date.now();
      for (const n of this.nodeByPeer.values()) void this.syncGraph(n.nodeKey).catch(() => undefined);
    }
    if (this.deps.tower && this.towerQueue.length > 0) {
      const batch = this.towerQueue.splice(0, 2000);
      await this.deps.tower.submit(batch, this.key).catch((e) => {
        this.towerQueue.unshift(...batch);
        this.log.warn({ error: toStrataError(e).message }, 'watchtower unreachable; justice blobs kept for later');
      });
    }
    this.metrics.channels.reset();
    for (const ch of this.channels.values()) this.metrics.channels.inc({ status: ch.status });
  }

  private async watchChannel(ch: LocalChannel, h: number): Promise<void> {
    // an HTLC we offered close to expiry with nothing happening: go on chain
    if (ch.status === 'open') {
      // the HTLCs of the state we would publish: a round both sides signed counts even before it
      // completes (the peer may have vanished between its signature and its revocation, with our
      // add in that state and not yet in ch.state: then nothing here saw it expire)
      const htlcs = this.bestSigned(ch).state.htlcs;
      const soon = htlcs.find((x) => x.offerer === ch.side && x.expiry <= h + this.opts.expiryMargin);
      const theirs = htlcs.find((x) => x.offerer !== ch.side && x.expiry <= h + this.opts.expiryMargin + 1 && this.store.get(`pre:${toHex(x.hash)}`));
      if (theirs && h < theirs.expiry && !(await this.reader.preimage(theirs.hash))) {
        // the preimage goes on chain first (it must land by the expiry), then the channel; its
        // record (and every other commit) is fsynced before it leaves, as for a peer message
        await this.store.flush();
        await sendAndWait(this.deps.chain, this.wallet, 'reveal', encode(RevealArgs, { preimage: this.store.get<Uint8Array>(`pre:${toHex(theirs.hash)}`) as Uint8Array }));
        this.metrics.onchain.inc({ method: 'reveal' });
        this.log.warn({ channel: shortId(ch.id), htlc: theirs.id }, 'peer unresponsive near an HTLC expiry: preimage revealed on chain');
      }
      if (soon || theirs) {
        await this.forceClose(ch, soon ? `HTLC ${soon.id} expires at ${soon.expiry}` : 'incoming HTLC with known preimage near expiry');
        return;
      }
    }
    const rec = await this.reader.channel(ch.id);
    // the final close we saw is gone from the chain, or another one (another final state or
    // ending) is there instead (a reorganisation, between two looks or while we were down): its
    // depth counts anew from when it is seen, and nothing waiting for it fails back meanwhile
    const sameClose = rec?.status === CH_CLOSED && ch.closedSeenHash !== undefined && bytesEqual(ch.closedSeenHash, closeIdentity(rec));
    if (ch.closedSeenAt !== undefined && !sameClose) {
      this.log.warn({ channel: shortId(ch.id), seenAt: ch.closedSeenAt, height: h, status: rec?.status ?? null }, 'final close no longer on chain as first seen (reorganised): off-chain fail-backs wait again');
      delete ch.closedSeenAt;
      delete ch.closedSeenHash;
      delete ch.closedSeenBlock;
      await this.save(ch);
    }
    if (ch.closedSeenAt !== undefined && sameClose) {
      // the same close, but maybe not where we saw it: a reorganisation may have dropped it and
      // landed it again higher between two looks. The block we saw it at still on the chain
      // means the close is at or below it; else (or unknown: a record of an older version) the
      // depth counts anew from the head, which only waits longer
      const anchor = ch.closedSeenBlock;
      const there = anchor ? await this.deps.chain.blockHash(anchor.number) : undefined;
      if (!anchor || !there || !bytesEqual(there, anchor.hash)) {
        const head = await this.deps.chain.head();
        const from = ch.closedSeenAt;
        ch.closedSeenAt = Math.max(h, head.clock);
        ch.closedSeenBlock = { number: head.number, hash: head.hash };
        await this.save(ch);
        if (anchor) this.log.warn({ channel: shortId(ch.id), seenAt: from, block: anchor.number, height: ch.closedSeenAt }, 'block the final close was first seen at is no longer on the chain (reorganised): its depth counts anew from the head');
        else this.log.info({ channel: shortId(ch.id), seenAt: from, height: ch.closedSeenAt }, 'final close recorded without its block (older version): its depth counts anew from the head');
      }
    }
    if (!rec) return;
    if (rec.status === CH_OPEN) {
      // we signed a cooperative close that never reached the chain (the peer vanished, or the
      // transaction failed): the funds must not stay locked, so close with the latest state
      if (ch.status === 'closing' && ch.coopSince !== undefined && h >= ch.coopSince + COOP_CLOSE_TIMEOUT_BLOCKS && !ch.onchainActions['coop-fallback']) {
        ch.onchainActions['coop-fallback'] = true;
        await this.forceClose(ch, `cooperative close not on chain after ${COOP_CLOSE_TIMEOUT_BLOCKS} blocks`).catch(async (e) => {
          ch.onchainActions['coop-fallback'] = false;
          await this.save(ch);
          throw e;
        });
        return;
      }
      // our unilateral close never reached the chain (its transaction failed or was dropped):
      // 'closing' here only, the channel would wait forever while its HTLCs expire: send it again
      if (ch.status === 'closing' && (ch.coopSince === undefined || ch.onchainActions['coop-fallback']) && h >= (ch.closeSentAt ?? 0) + CLOSE_RESEND_BLOCKS && !this.closeInFlight.has(bytesKey(ch.id))) {
        await this.forceClose(ch, `unilateral close not on chain ${h - (ch.closeSentAt ?? 0)} blocks after it was sent; sending it again`);
      }
      return;
    }
    if (ch.status === 'open') {
      ch.status = 'closing';
      this.dropQueuedAdds(ch);
      await this.save(ch);
      this.log.warn({ channel: shortId(ch.id), version: rec.state.version }, 'peer closed the channel on chain');
    }
    // Each caller acts only while this look's record lacks the action's effect (no settle on a
    // settled channel, no claim of an HTLC done, …). So an action sent before is either still on
    // its way (pending: waited for, never sent twice), or included at or above the record we
    // read (its effect shows at the next look), or gone: dropped with a block a reorganisation
    // replaced, or failed, or never arrived — then it is sent again.
    const act = async (key: string, method: string, args: Uint8Array) => {
      const prev = ch.onchainActions[key];
      if (prev) {
        const tx = typeof prev === 'object' ? prev.tx : undefined;
        const where = tx ? await this.deps.chain.txStatus(tx) : undefined;
        if (tx && where === 'pending') {
          await this.actionLanded(ch, key, method, tx);
          return;
        }
        if (where !== undefined && where !== 'pending' && where.ok) return;
        this.log.warn({ channel: shortId(ch.id), action: key, landedAt: typeof prev === 'object' ? (prev.at ?? null) : null, tx: where ? 'failed' : 'unknown' }, 'on-chain action sent before is not on the chain (reorganised out, dropped or failed): sending it again');
      }
      // persist before send: a reveal's preimage record (written by writeSoon or fsynced up to
      // flushMs later) is durable before the transaction leaves, as for a peer message
      if (method === 'reveal') await this.store.flush();
      await sendAndWait(this.deps.chain, this.wallet, method, args, async (tx) => {
        // committed before the wait: a restart finds the transaction (pending, landed or gone)
        ch.onchainActions[key] = { tx };
        await this.save(ch);
      }).then(
        (at) => this.actionSettled(ch, key, method, at),
        (e) => this.actionFailed(ch, key, e),
      );
    };
    if (rec.status === CH_CLOSING) {
      const best = this.bestSigned(ch);
      // update and penalize are refused on chain once the dispute delay has ended: sent after it,
      // each look paid for a failing transaction and returned before settling (never settled);
      // then the published state is what settles
      if (rec.closer !== ch.side && rec.state.version < best.state.version && h >= rec.disputeEnd && !this.lateDisputes.has(`${bytesKey(ch.id)}:${rec.state.version}`)) {
        this.lateDisputes.add(`${bytesKey(ch.id)}:${rec.state.version}`);
        const revoked = ch.theirRevocation !== undefined && ch.theirRevocation.version >= rec.state.version;
        this.log[revoked ? 'error' : 'warn']({ channel: shortId(ch.id), published: rec.state.version, latest: best.state.version, disputeEnd: rec.disputeEnd, height: h }, revoked ? 'BREACH seen after the dispute delay ended: too late to penalize, the revoked state settles' : "dispute delay ended before our newer state was published: the peer's older state settles");
      }
      if (rec.closer !== ch.side && rec.state.version < best.state.version && h < rec.disputeEnd) {
        if (ch.theirRevocation && ch.theirRevocation.version >= rec.state.version) {
          this.log.warn({ channel: shortId(ch.id), published: rec.state.version, latest: ch.state.version }, 'BREACH: peer published a revoked state; taking the channel');
          await act(`penalize:${rec.state.version}`, 'penalize', encode(PenalizeArgs, { channelId: ch.id, version: ch.theirRevocation.version, sig: ch.theirRevocation.sig }));
          return;
        }
        await act(`update:${best.state.version}`, 'update', encode(SignedStateArgs, { state: best.state, sigA: best.sigA, sigB: best.sigB }));
        return;
      }
      await this.revealKept(ch, rec, h, act);
      if (h >= rec.disputeEnd) await act('settle', 'settle', encode(ChannelRefArgs, { channelId: ch.id }));
      await this.resolveOnchainHtlcs(ch, rec, h, act);
      return;
    }
    if (rec.status === CH_CLOSED) {
      // final: no newer state can replace rec.state any more on this branch (see
      // failUnfinishedLinks); the height we first saw it at is committed before anything acts on
      // it, so a restart keeps counting from there
      if (ch.closedSeenAt === undefined) {
        // the head read after the record, not the tick's `h` (taken before, and this tick may
        // have waited on other channels' transactions since): the close landed at or below it,
        // so the depth counted from here is never more than the close's own
        const head = await this.deps.chain.head();
        ch.closedSeenAt = Math.max(h, head.clock);
        ch.closedSeenHash = closeIdentity(rec);
        ch.closedSeenBlock = { number: head.number, hash: head.hash };
        await this.save(ch);
      }
      const deep = h - ch.closedSeenAt >= this.opts.closeConfirmations;
      const resolvedAll = await this.failUnfinishedLinks(ch, rec, deep);
      let toPeer = 0;
      let lost: { id: number; amount: bigint }[] = [];
      if (rec.ending === END_SETTLED) {
        // a preimage learnt after the close settled (a forward's downstream fulfil came late) is
        // still ours to reveal by the expiry, and the claim follows (before, only the CH_CLOSING
        // branch revealed: the HTLC then counted as the peer's, and its refund took the amount)
        await this.revealKept(ch, rec, h, act);
        const r = await this.resolveOnchainHtlcs(ch, rec, h, act);
        if (r.left > 0) return;
        toPeer = r.toPeer;
        lost = r.lost;
      }
      // 'closed' ends the chain watch: not before the close is deep enough and every HTLC we
      // offered on it is resolved (a fail-back still waiting for its depth keeps its link; one
      // whose resolution threw is retried at the next look, so not this tick either)
      if (!deep || !resolvedAll || this.hasLinks(ch)) return;
      ch.status = 'closed';
      // every HTLC is resolved on chain: the peer's onions are of no use any more, among them
      // those of a round we accepted that never completed (written with the accepting round)
      ch.onions = {};
      this.store.write([...this.store.list(`on:${toHex(ch.id)}:`).map(([k]): [string, unknown] => [k, undefined]), [`ch:${toHex(ch.id)}`, this.rec(ch)]]);
      // toPeer: HTLCs left on chain for the peer to refund or claim (not waited for, see resolveOnchainHtlcs)
      if (lost.length > 0) {
        // ours to claim (we hold the preimage) but not revealed by the expiry: the peer refunds
        // them, an upstream fulfil we passed on is not collected here. A loss the operator must see
        this.metrics.htlcsLost.inc(lost.length);
        this.log.error({ channel: shortId(ch.id), htlcs: lost.map((l) => l.id), amount: lost.reduce((a, l) => a + l.amount, 0n).toString() }, 'channel closed on chain with HTLCs whose preimage we held but did not reveal by their expiry: their amount went to the peer');
      }
      this.log.info({ channel: shortId(ch.id), ending: ['none', 'cooperative', 'settled', 'penalty'][rec.ending], ...(toPeer > 0 ? { htlcsLeftToPeer: toPeer } : {}) }, 'channel closed on chain');
    }
  }

  /**
   * Reveals in the chain's preimage registry, before their expiry, the preimages we keep (`pre:`)
   * of the peer's HTLCs in the published state that the registry lacks: while the close waits
   * for its dispute delay (CH_CLOSING), and once it settled (CH_CLOSED, END_SETTLED) for those
   * not yet claimed, so that resolveOnchainHtlcs claims them. The registry reads run several at once.
   * Never throws: a failed read or reveal (send error, wait time-out) is logged and skips only that
   * HTLC until the next look (the reveal's flag is kept as actionFailed leaves it). Before, the
   * throw ended the look: resolveOnchainHtlcs (claims, refunds, upstream settlement) and, while
   * closing, the settle did not run in that tick.
   */
  private async revealKept(ch: LocalChannel, rec: ChannelRecord, h: number, act: (k: string, m: string, a: Uint8Array) => Promise<void>): Promise<void> {
    const settled = rec.status === CH_CLOSED;
    const toReveal: { x: ChannelRecord['state']['htlcs'][number]; pre: Uint8Array }[] = [];
    for (const [i, x] of rec.state.htlcs.entries()) {
      if (x.offerer === ch.side || h >= x.expiry || (settled && rec.htlcDone[i])) continue;
      const pre = this.store.get<Uint8Array>(`pre:${toHex(x.hash)}`);
      if (pre) toReveal.push({ x, pre });
    }
    const onChain = await mapBounded(toReveal, CHAIN_READ_CONCURRENCY, ({ x }) => this.reader.preimage(x.hash).catch((e: unknown) => ({ readError: e }) as const));
    for (const [n, { x, pre }] of toReveal.entries()) {
      const read = onChain[n];
      if (read && 'readError' in read) {
        this.log.warn({ channel: shortId(ch.id), htlc: x.id, error: toStrataError(read.readError).message }, 'chain read failed');
        continue;
      }
      if (read) continue;
      await act(`reveal:${toHex(x.hash)}`, 'reveal', encode(RevealArgs, { preimage: pre })).catch((e: unknown) =>
        this.log.warn({ channel: shortId(ch.id), htlc: x.id, error: toStrataError(e).message }, 'preimage reveal failed: retried at the next look'),
      );
    }
  }

  /** Waits for an on-chain action's pending transaction (sent at an earlier look, or before a restart). */
  private async actionLanded(ch: LocalChannel, key: string, method: string, tx: Uint8Array): Promise<void> {
    await waitIncluded(this.deps.chain, method, tx).then(
      (at) => this.actionSettled(ch, key, method, at),
      (e) => this.actionFailed(ch, key, e),
    );
  }
  /** An on-chain action's transaction landed at `at`: recorded with it. */
  private async actionSettled(ch: LocalChannel, key: string, method: string, at: number): Promise<void> {
    const a = ch.onchainActions[key];
    if (typeof a === 'object') a.at = at;
    await this.save(ch);
    this.metrics.onchain.inc({ method });
  }
  /**
   * An on-chain action's send or wait threw: its flag is kept as it is (with the transaction if
   * the chain accepted one), and the next look that still lacks the action's effect looks the
   * transaction up (pending: waited for; included: done; failed or unknown: sent again).
   * Rethrows. Before, any error but a time-out cleared the flag: an RPC error or a store write
   * failing during the wait of a transaction still pending sent a duplicate at the next look.
   */
  private async actionFailed(_ch: LocalChannel, _key: string, e: unknown): Promise<never> {
    throw e;
  }

  /**
   * The channel's close is final (CH_CLOSED: settled after the dispute delay, cooperative, or a
   * penalty; no newer state can be published any more): every HTLC we offered on it that the final
   * state lacks fails back now, to its payment or upstream hop. These are the adds of a round that
   * never completed (ours proposed with the peer gone; ours in the answer to the peer's proposal
   * when its COMMIT was refused because we were closing), or of a state older than the one both
   * signed when the peer published an old one and nobody updated it in time. The peer may have
   * signed a state with such an add, even known its preimage: with the add not in the final state
   * it can claim nothing on chain, and during the dispute delay (CH_CLOSING) this waits, because a
   * newer state holding the add could still replace the published one. HTLCs in the final state
   * resolve on chain (resolveOnchainHtlcs). A link whose preimage we know settles with it instead:
   * a fulfil kept (its link not yet resolved), or one revealed in the chain's preimage registry —
   * by the peer, which may have revealed it to claim the HTLC in a newer state that never landed,
   * or by anyone (the registry is keyed by hash: a hop further down revealing it for its own HTLC);
   * it is stored as `pre:` first, as every kept preimage. That holds for forwards; a payment part
   * settles only with its own HTLC's fulfil (linkPreimage): a part the final state lacks was not
   * paid, whatever preimage is kept or revealed. Each goes through resolveOutgoing,
   * which deletes the link (once: the map is the truth) in the commit that queues a forward's
   * update upstream, and undoes both in memory when that commit fails. Returns false when a
   * resolution threw: its link is still there (in memory and in the store), the next look at the
   * channel, or a restart, resolves it again, and the channel is not marked closed meanwhile.
   *
   * A failure waits until the close is `closeConfirmations` deep (`deep`): at the head, a
   * reorganisation could still bring back a branch where a newer state holding the add landed
   * in time, and the peer would claim on chain what we had failed upstream. A settlement with a
   * preimage does not wait (passing the preimage upstream loses nothing on any branch).
   */
  private async failUnfinishedLinks(ch: LocalChannel, rec: ChannelRecord, deep: boolean): Promise<boolean> {
    // only a settled close pays HTLCs out (claim / refund); after a penalty nobody can claim the
    // revoked state's HTLCs (the victim took the whole channel): every one of ours fails back
    const onchain = new Set<number>();
    if (rec.ending === END_SETTLED) for (const x of rec.state.htlcs) if (x.offerer === ch.side) onchain.add(x.id);
    let ok = true;
    const prefix = toHex(ch.id);
    const todo: { id: number; l: OutLink; hash: Uint8Array | undefined; pre: Uint8Array | undefined }[] = [];
    for (const [id, l] of this.linksOf(ch)) {
      if (onchain.has(id)) continue;
      // a resolution that threw waits its turn (RESOLVE_RETRY_MAX_TICKS): until then it is unresolved
      const retry = this.resolveRetry.get(`${prefix}:${id}`);
      if (retry && this.ticks < retry.at) {
        ok = false;
        continue;
      }
      try {
        todo.push({ id, l, ...this.linkPreimage(l) });
      } catch (e) {
        ok = false;
        this.resolveFailed(ch, id, e);
      }
    }
    // the registry reads first, several at once (each link's own; their order does not matter)
    const reads = await mapBounded(todo, CHAIN_READ_CONCURRENCY, async (t) => {
      if (t.pre || !t.hash || t.l.kind !== 'forward') return undefined;
      try {
        return { revealed: await this.reader.preimage(t.hash) };
      } catch (e) {
        return { error: e };
      }
    });
    for (const [n, t] of todo.entries()) {
      const { id, l, hash } = t;
      const read = reads[n];
      if (read && 'error' in read) {
        // a failed chain read is no resolution failure: no backoff, no round-handling error;
        // read again at the next tick (meanwhile the link is unresolved)
        ok = false;
        this.log.warn({ channel: shortId(ch.id), htlc: id, error: toStrataError(read.error).message }, 'chain read failed');
        continue;
      }
      try {
        let pre = t.pre;
        let onChain = false;
        // a reveal in the registry settles a forward (collected upstream), not a payment part:
        // this HTLC is not in the final state, so its amount never left and the part fails
        if (!pre && hash && l.kind === 'forward') {
          const revealed = read?.revealed;
          if (revealed && bytesEqual(sha256(revealed.preimage), hash)) {
            pre = revealed.preimage;
            onChain = true;
            this.store.write([[`pre:${toHex(hash)}`, pre]]);
          }
        }
        if (!pre && !deep) continue;
        this.log.warn({ channel: shortId(ch.id), htlc: id, kind: l.kind, settled: pre !== undefined, revealedOnChain: onChain }, 'HTLC not in the final on-chain state of a closed channel: resolved off chain');
        this.resolveOutgoing(ch, id, pre ? { preimage: pre } : { local: new StrataError('CHANNEL_STATE', `channel closed on chain without HTLC ${id} (its commitment round never completed)`), channel: ch.id });
      } catch (e) {
        // logged; retried at a later look (see above)
        ok = false;
        this.resolveFailed(ch, id, e);
      }
    }
    return ok;
  }

  /**
   * resolveOutgoing for an HTLC of a closed channel's on-chain state, unless its resolution threw
   * lately and waits its turn (resolveFailed); a throw is logged and counted there, not passed on
   * (before, it ended the tick's watch of the channel, at every tick, with a warning each time).
   */
  private tryResolve(ch: LocalChannel, id: number, r: { preimage: Uint8Array } | { local: StrataError; channel: Uint8Array }): void {
    const retry = this.resolveRetry.get(`${toHex(ch.id)}:${id}`);
    if (retry && this.ticks < retry.at) return;
    try {
      this.resolveOutgoing(ch, id, r);
    } catch (e) {
      this.resolveFailed(ch, id, e);
    }
  }

  /**
   * A closed channel's link whose off-chain resolution threw: logged and counted, and retried
   * after a wait that doubles from one tick with each failure in a row, up to
   * RESOLVE_RETRY_MAX_TICKS (before, it was retried, and logged as an error, at every tick for as
   * long as the fault lasted). The link stays (in memory and stored), so the retry, or a restart,
   * resolves it exactly once.
   */
  private resolveFailed(ch: LocalChannel, id: number, e: unknown): void {
    const lk = `${toHex(ch.id)}:${id}`;
    const failures = (this.resolveRetry.get(lk)?.failures ?? 0) + 1;
    const wait = Math.min(2 ** (failures - 1), RESOLVE_RETRY_MAX_TICKS);
    // only while the link is there: deleteLink clears the entry, and none must outlive it
    if (this.links.has(lk)) this.resolveRetry.set(lk, { failures, at: this.ticks + wait });
    this.roundHandlingFailed(ch, id, e, wait);
  }

  /** The links of the HTLCs we offered on `ch` (payment parts and forwards not yet resolved), by HTLC id. */
  private linksOf(ch: LocalChannel): [number, OutLink][] {
    const prefix = `${toHex(ch.id)}:`;
    const out: [number, OutLink][] = [];
    for (const [k, l] of this.links) if (k.startsWith(prefix)) out.push([Number(k.slice(prefix.length)), l]);
    return out;
  }
  /** True while some HTLC we offered on `ch` still has its link. */
  private hasLinks(ch: LocalChannel): boolean {
    return this.linksOf(ch).length > 0;
  }
  /**
   * A link's payment hash (a forward's from its incoming HTLC, where still known) and the preimage
   * that settles it, if any: for a forward any kept one (passing it upstream collects what we are
   * owed), for a payment part only its own proof (OutLink.preimage: a fulfil of this HTLC) — a
   * kept `pre:` may be a forwarder's of the same hash, and marking the part paid then was a false
   * proof of payment for an amount that never left.
   */
  private linkPreimage(l: OutLink): { hash: Uint8Array | undefined; pre: Uint8Array | undefined } {
    if (l.kind === 'payment') return { hash: l.paymentHash, pre: l.preimage };
    const hash = this.incomingHash(l);
    return { hash, pre: hash ? this.store.get<Uint8Array>(`pre:${toHex(hash)}`) : undefined };
  }

  /** The payment hash of a forward's incoming HTLC, where its channel still knows it. */
  private incomingHash(l: OutLink): Uint8Array | undefined {
    const inCh = l.inChannel ? this.channels.get(bytesKey(l.inChannel)) : undefined;
    if (!inCh) return undefined;
    const peerSide = this.peerSide(inCh);
    const find = (s: ChannelState) => s.htlcs.find((x) => x.offerer === peerSide && x.id === l.inId)?.hash;
    return find(inCh.state) ?? (inCh.round ? find(inCh.round.next) : undefined);
  }

  /**
   * Claims, refunds and upstream settlement of a closed channel's HTLCs; returns how many are
   * still ours to wait for on chain. Ours: a preimage revealed by the expiry settles upstream at
   * once; after the expiry the refund goes on chain at once, but the failure upstream waits until
   * the expiry is `closeConfirmations` blocks past, so that no reorganisation can still bring back
   * a reveal by the expiry (the peer would then take the HTLC on chain and we would have failed it
   * upstream). The refund's action flag and the link's delete are separate commits, each once.
   *
   * An HTLC whose funds go to the peer — its own with no reveal by the expiry (only its
   * `refundHtlc` pays it), ours revealed by the expiry (only its `claimHtlc`) — is not waited for
   * once the expiry is `closeConfirmations` blocks past: which way it goes is then as deep as the
   * close, and only the peer has a reason to send that transaction. Before, a peer that never sent
   * it kept the channel 'closing' for good, its HTLCs read on chain at every tick. We do not send
   * it ourselves (anyone may, but the fee would be ours and the funds the peer's). `toPeer` counts
   * those HTLCs.
   */
  private async resolveOnchainHtlcs(ch: LocalChannel, rec: ChannelRecord, h: number, act: (k: string, m: string, a: Uint8Array) => Promise<void>): Promise<{ left: number; toPeer: number; lost: { id: number; amount: bigint }[] }> {
    let left = 0;
    let toPeer = 0;
    const lost: { id: number; amount: bigint }[] = [];
    const settled = rec.ending === END_SETTLED;
    const htlcs = rec.state.htlcs;
    // the registry reads first, several at once; none for an HTLC resolved on chain that leaves
    // nothing to do here (the peer's, or ours with its link gone)
    const prefix = toHex(ch.id);
    // a failed read is not a resolution failure: logged on its own, its HTLC counts as left (the
    // channel stays unclosed) and is read again at the next tick; the other HTLCs go on (before,
    // the throw stopped every claim and refund of the channel for the tick)
    const reads = await mapBounded(htlcs.map((x, i) => ({ x, i })), CHAIN_READ_CONCURRENCY, ({ x, i }) =>
      settled && rec.htlcDone[i] && (x.offerer !== ch.side || !this.links.has(`${prefix}:${x.id}`))
        ? Promise.resolve(undefined)
        : this.reader.preimage(x.hash).catch((e: unknown) => ({ readError: e }) as const),
    );
    for (let i = 0; i < htlcs.length; i++) {
      const x = htlcs[i] as ChannelRecord['state']['htlcs'][number];
      const done = rec.htlcDone[i];
      const read = reads[i];
      if (read && 'readError' in read) {
        this.log.warn({ channel: shortId(ch.id), htlc: x.id, error: toStrataError(read.readError).message }, 'chain read failed');
        left++;
        continue;
      }
      const revealed = read;
      // which way the HTLC goes is final: the expiry is as deep as we wait for a close
      const final = h - x.expiry > this.opts.closeConfirmations;
      const inTime = revealed !== undefined && revealed.height <= x.expiry;
      if (x.offerer === ch.side) {
        // ours: the preimage on chain settles upstream; after expiry we take it back
        // (a resolution that throws is logged and retried with a backoff; its link stays, so the
        // channel is not closed meanwhile, and the other HTLCs are still handled this tick)
        if (revealed && revealed.height <= x.expiry) this.tryResolve(ch, x.id, { preimage: revealed.preimage });
        else if (h > x.expiry) {
          if (rec.ending === END_SETTLED && !done) await act(`refund:${i}`, 'refundHtlc', encode(HtlcRefArgs, { channelId: ch.id, index: i }));
          if (h - x.expiry > this.opts.closeConfirmations) this.tryResolve(ch, x.id, { local: new StrataError('CHANNEL_STATE', 'refunded on chain'), channel: ch.id });
        }
      } else if (rec.ending === END_SETTLED && !done && revealed && revealed.height <= x.expiry) {
        await act(`claim:${i}`, 'claimHtlc', encode(HtlcRefArgs, { channelId: ch.id, index: i }));
      }
      if (!settled || done) continue;
      // the peer's to take: its refund, or its claim with the preimage revealed by the expiry
      const peers = x.offerer === ch.side ? inTime : !inTime;
      if (peers && final) {
        toPeer++;
        // the peer's HTLC we could have claimed: the preimage kept, not revealed by the expiry
        if (x.offerer !== ch.side && this.store.get(`pre:${toHex(x.hash)}`) !== undefined) lost.push({ id: x.id, amount: x.amount });
      } else left++;
    }
    return { left, toPeer, lost };
  }

  /** After a restart: incoming HTLCs whose preimage we know get fulfilled, unprocessed onions processed. */
  private recover(): void {
    // incoming HTLCs already forwarded: their onion may still be in the stored channel record (the
    // record is not rewritten when a forward deletes it), but a second forward would pay the next
    // hop twice and fail upstream what is still owed downstream
    const forwarded = new Set<string>();
    for (const l of this.links.values()) if (l.kind === 'forward') forwarded.add(`${toHex(l.inChannel as Uint8Array)}:${l.inId}`);
    // before any onion is processed again below: a forward made there takes the channel's next
    // HTLC id, which must already be above every stored link's
    for (const ch of this.channels.values()) if (ch.status === 'open') this.reconcileLinks(ch);
    for (const ch of this.channels.values()) {
      if (ch.status === 'closed' && this.hasLinks(ch)) {
        // stored 'closed' with HTLCs of ours still unresolved (an older version closed channels
        // before every link was resolved, or with a resolution whose write failed): the chain
        // watch, which skips closed channels, takes it again and resolves them as for any final
        // close (kept or revealed preimage, else failed back once deep), then closes it again
        this.log.warn({ channel: shortId(ch.id), links: this.linksOf(ch).length }, 'channel stored closed with HTLCs unresolved: watched again until they are');
        ch.status = 'closing';
        this.store.write([[`ch:${toHex(ch.id)}`, this.rec(ch)]]);
      }
      if (ch.status !== 'open') {
        this.dropQueuedAdds(ch); // stored by an older version with adds queued: they can never leave
        continue;
      }
      const peerSide = this.peerSide(ch);
      for (const x of ch.state.htlcs) {
        if (x.offerer !== peerSide) continue;
        const pre = this.store.get<Uint8Array>(`pre:${toHex(x.hash)}`);
        if (pre) {
          if (!ch.queue.some((u) => u.kind === 'fulfil' && u.id === x.id) && !(ch.round && this.ownUpdates(ch.round).some((u) => u.kind === 'fulfil' && u.id === x.id))) ch.queue.push({ kind: 'fulfil', id: x.id, preimage: pre });
          continue;
        }
        const onion = ch.onions[String(x.id)];
        if (onion && forwarded.has(`${toHex(ch.id)}:${x.id}`)) {
          this.dropOnion(ch, x.id);
          continue;
        }
        if (onion) {
          void this.processIncoming(ch, { kind: 'add', id: x.id, amount: x.amount, hash: x.hash, expiry: x.expiry, onion }).catch(() => undefined);
        }
      }
      // outgoing HTLCs whose link is gone and are still pending stay until the peer resolves them
    }
    // A payment a crash left 'pending' with no HTLC out (no link: nothing had left yet, or every
    // part had resolved while a retry's onion was still being built) can never resolve: it is
    // recorded failed — or succeeded, where its preimage was kept — so the invoice is not refused
    // forever as "being paid". Only the pending records are read (their index), not every one.
    for (const h of this.pendingPayments()) {
      const rec = this.store.get<{ status: string }>(`pay:${h}`);
      if (rec?.status !== 'pending') this.store.writeSoon(`payp:${h}`, undefined); // never expected: the two are one commit
      else if (!this.paymentLinksOut(h)) this.settlePendingRecord(h, undefined, 'payment left pending by a restart, with no HTLC out: settled');
    }
  }

  /**
   * After a restart, the links of an open channel against what the channel holds. A link is
   * committed (writeSoon) in the turn its add is queued, but the queue is durable only with the
   * channel's next record (a round's, or a queue saved with it): a stop or crash in between
   * leaves a link whose add is in no state, round or queue — never sent, as every round carrying
   * an add is committed after its link. Such a link is resolved here, with the preimage that
   * settles it if any (linkPreimage: a forward's kept one; a payment part's only its own proof, a
   * fulfil of this HTLC kept with its link whose handling threw — not a `pre:` alone), else as
   * a local failure: a payment part fails (its record settles; the invoice can be paid again), a
   * forward fails upstream at once instead of at the incoming HTLC's expiry. The channel's next
   * HTLC id is raised above every link's, as the record may predate the increment: the id handed
   * out again would have overwritten the link.
   */
  private reconcileLinks(ch: LocalChannel): void {
    const links = this.linksOf(ch);
    if (links.length === 0) return;
    for (const [id] of links) if (id >= ch.nextHtlcId) ch.nextHtlcId = id + 1;
    const held = new Set<number>();
    const ours = (s: ChannelState) => {
      for (const x of s.htlcs) if (x.offerer === ch.side) held.add(x.id);
    };
    ours(ch.state);
    if (ch.round) {
      ours(ch.round.next);
      for (const u of this.ownUpdates(ch.round)) if (u.kind === 'add') held.add(u.id);
    }
    for (const u of ch.queue) if (u.kind === 'add') held.add(u.id);
    for (const [id, l] of links) {
      if (held.has(id)) continue;
      const { pre } = this.linkPreimage(l);
      this.log.warn({ channel: shortId(ch.id), htlc: id, kind: l.kind, settled: pre !== undefined }, 'link to an HTLC that never left (a restart while its add was queued): resolved');
      this.resolveOutgoing(ch, id, pre ? { preimage: pre } : { local: new StrataError('CHANNEL_STATE', `HTLC ${id} was never sent (the node stopped while its add was queued)`), channel: ch.id });
    }
  }

  // ------------------------------------------------------------------ views

  /** Channels as JSON. */
  list(): Record<string, unknown>[] {
    return [...this.channels.values()].map((ch) => ({
      channelId: toHex(ch.id),
      peer: toHex(ch.peer),
      peerAlias: [...this.nodeByPeer.values()].find((p) => bytesEqual(p.nodeKey, ch.peer))?.alias ?? null,
      status: ch.status,
      capacity: ch.capacity.toString(),
      local: this.myBalance(ch).toString(),
      remote: (ch.side === 0 ? ch.state.balanceB : ch.state.balanceA).toString(),
      version: ch.state.version,
      htlcs: ch.state.htlcs.length,
      inFlight: ch.state.htlcs.reduce((a, x) => a + x.amount, 0n).toString(),
      initiator: ch.side === 0,
      toSelfDelay: ch.toSelfDelay,
    }));
  }

  /** Balances: on-chain wallet and the sum of local channel balances. */
  async balance(): Promise<{ onchain: string; channels: string; pending: string; wallet: string }> {
    let local = 0n;
    let pending = 0n;
    for (const ch of this.channels.values()) {
      if (ch.status === 'closed') continue;
      local += this.myBalance(ch);
      for (const x of ch.state.htlcs) if (x.offerer === ch.side) pending += x.amount;
    }
    return { onchain: (await this.deps.chain.balance(this.wallet.address)).toString(), channels: local.toString(), pending: pending.toString(), wallet: toHex(this.wallet.address) };
  }

  /** The full state record of a channel (tests and debugging). */
  channelState(id: Uint8Array): { state: ChannelState; status: string; sigA?: Uint8Array; sigB?: Uint8Array; theirRevocation?: { version: number; sig: Uint8Array }; closedSeenAt?: number } {
    const ch = this.chan(id);
    return { state: ch.state, status: ch.status, ...(ch.sigA ? { sigA: ch.sigA } : {}), ...(ch.sigB ? { sigB: ch.sigB } : {}), ...(ch.theirRevocation ? { theirRevocation: ch.theirRevocation } : {}), ...(ch.closedSeenAt !== undefined ? { closedSeenAt: ch.closedSeenAt } : {}) };
  }

  /** Runs one driver iteration now (tests). */
  async poll(): Promise<void> {
    await this.driver.kick();
  }

  /** Sends pending watchtower blobs now (tests). */
  get towerPending(): number {
    return this.towerQueue.length;
  }

  /** Raw access for adversarial tests: sends a PROPOSE with arbitrary updates on a channel. */
  async sendRawProposal(id: Uint8Array, updates: Update[]): Promise<{ ok: boolean; reason: string }> {
    const ch = this.chan(id);
    const r = decode(ProposeReply, await this.send(ch.peer, MSG.PROPOSE, encode(ProposeMsg, { channelId: ch.id, version: ch.state.version + 1, updates: updates.map(encodeUpdate) })));
    return { ok: r.ok, reason: new TextDecoder().decode(r.reason) };
  }

  /** The info line of this node. */
  info(): Record<string, unknown> {
    return { alias: this.opts.alias, nodeKey: toHex(this.nodeKey), onionKey: toHex(this.onionKey), peerId: this.p2p.peerId, addrs: this.p2p.multiaddrs, wallet: toHex(this.wallet.address), chainId: this.domain.chainId, addressPrefix: this.prefix, height: this.heightCache, channels: this.channels.size, store: this.store.stats() };
  }

  /** Encodes a state the way the adjudicator stores it (tests). */
  static encodeState(s: ChannelState): Uint8Array {
    return encode(ChannelStateCodec, s);
  }
}

