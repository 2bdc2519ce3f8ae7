/**
 * The peer protocol between channel nodes (BOLT 1/2/7 in spirit), carried as request/response
 * exchanges over the project's libp2p stack (noise-encrypted, one stream per exchange):
 *
 * - `init`: binds the node's ed25519 key (and its onion key) to the libp2p peer id of the
 *   connection, signed, so every later message is authenticated by node key.
 * - `open_channel` → `accept_channel`; `channel_ready` once the open is on chain.
 * - A commitment round: `propose` (updates: add / fulfil / fail) → `accept` (the receiver's
 *   signature on version n+1), then `commit` (the proposer's signature on n+1 and its revocation
 *   of n) → `revoke` (the receiver's revocation of n, with the preimages of the proposer's HTLCs
 *   it pays at once: `EarlyFulfil`). Either side may propose; when both propose
 *   the same version at once, the smaller node key wins and the other withdraws (it had signed
 *   nothing yet), so no node ever signs two states with one number.
 * - `close_request` → the peer's signature on the final split (cooperative close).
 * - `graph_sync` → every announcement the peer holds.
 */
import { bool, fixedBytes, list, optional, struct, uint, uintBig, utf8, varBytes, type Codec } from '@strata/primitives';
import { UpdateWire } from './state.js';

/**
 * The peer protocol's id. chan/2 (session 6): `revoke` (CommitReply) carries EarlyFulfil
 * preimages; a chan/1 node cannot decode it (nor a chan/2 node chan/1's), so the two do not
 * talk: the protocol negotiation refuses the stream instead of a round failing mid-way.
 */
export const PROTOCOL = 'chan/2';
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export const MSG = {
  INIT: 1,
  OPEN: 2,
  READY: 3,
  PROPOSE: 4,
  COMMIT: 5,
  CLOSE: 6,
  GRAPH: 7,
  REESTABLISH: 8,
  GOSSIP: 9,
} as const;

export const Envelope = struct('Envelope', { type: uint, body: varBytes(MAX_MESSAGE_BYTES) });

export const InitMsg = struct('Init', { nodeKey: fixedBytes(32), onionKey: fixedBytes(33), alias: varBytes(32), sig: fixedBytes(64) });
export const INIT_PERSONAL = utf8('strata-chan-init');

export const OpenMsg = struct('OpenChannel', {
  channelId: fixedBytes(32),
  capacity: uintBig(128),
  push: uintBig(128),
  toSelfDelay: uint,
  reserve: uintBig(128),
  dust: uintBig(128),
  maxHtlcs: uint,
  maxInFlight: uintBig(128),
});
export const AcceptMsg = struct('AcceptChannel', { payB: fixedBytes(20) });
export const ReadyMsg = struct('ChannelReady', { channelId: fixedBytes(32) });

export const ProposeMsg = struct('Propose', { channelId: fixedBytes(32), version: uint, updates: list(UpdateWire, 2000) });
/**
 * Answer to a propose: accepted with a signature, or refused (conflict, limit, invalid). An
 * accepting receiver adds its own pending updates (`updates`, applied after the proposer's): the
 * state it signs covers both sides' updates, so one round carries the payer's adds and the payee's
 * fulfils (BOLT 2 lets both sides' updates into one commitment).
 */
export const ProposeReply = struct('ProposeReply', { ok: bool, sig: optional(fixedBytes(64)), reason: varBytes(512), conflict: bool, updates: list(UpdateWire, 2000) });
export const CommitMsg = struct('Commit', { channelId: fixedBytes(32), version: uint, sig: fixedBytes(64), revocation: fixedBytes(64) });
/**
 * A preimage the receiver of a `commit` reveals in its `revoke`: an HTLC the proposer offered, just
 * irrevocably committed (the receiver holds the proposer's signature on the new state and its
 * revocation of the old one), paid at once. The fulfil itself still goes in a commitment round of
 * its own; this only tells the payer the preimage one message sooner (as a Lightning node sends
 * `update_fulfill_htlc` right after its `revoke_and_ack`, in the same flight).
 */
export const EarlyFulfil = struct('EarlyFulfil', { id: uint, preimage: fixedBytes(32) });
export const CommitReply = struct('CommitReply', { revocation: fixedBytes(64), fulfils: list(EarlyFulfil, 2000) });

export const CloseMsg = struct('CloseRequest', { channelId: fixedBytes(32), balanceA: uintBig(128), balanceB: uintBig(128), sig: fixedBytes(64) });
export const CloseReply = struct('CloseReply', { sig: fixedBytes(64) });

export const ReestablishMsg = struct('Reestablish', { channelId: fixedBytes(32), version: uint });

/** A channel announcement: both node keys sign that they share an on-chain channel. */
export interface ChannelAnnouncement {
  chainId: number;
  channelId: Uint8Array;
  nodeA: Uint8Array;
  nodeB: Uint8Array;
  capacity: bigint;
  sigA: Uint8Array;
  sigB: Uint8Array;
}
export const ChannelAnnouncementCodec: Codec<ChannelAnnouncement> = struct('ChannelAnnouncement', {
  chainId: uint,
  channelId: fixedBytes(32),
  nodeA: fixedBytes(32),
  nodeB: fixedBytes(32),
  capacity: uintBig(128),
  sigA: fixedBytes(64),
  sigB: fixedBytes(64),
});

/** A channel update: one direction's forwarding policy, signed by the node it leaves from. */
export interface ChannelUpdate {
  channelId: Uint8Array;
  /** 0: from nodeA, 1: from nodeB. */
  direction: number;
  timestamp: number;
  feeBase: bigint;
  feePpm: number;
  cltvDelta: number;
  htlcMin: bigint;
  htlcMax: bigint;
  disabled: boolean;
  sig: Uint8Array;
}
export const ChannelUpdateCodec: Codec<ChannelUpdate> = struct('ChannelUpdate', {
  channelId: fixedBytes(32),
  direction: uint,
  timestamp: uint,
  feeBase: uintBig(128),
  feePpm: uint,
  cltvDelta: uint,
  htlcMin: uintBig(128),
  htlcMax: uintBig(128),
  disabled: bool,
  sig: fixedBytes(64),
});

/** A node announcement: how to reach a node and its onion key. */
export interface NodeAnnouncement {
  nodeKey: Uint8Array;
  onionKey: Uint8Array;
  alias: Uint8Array;
  addrs: Uint8Array[];
  timestamp: number;
  sig: Uint8Array;
}
export const NodeAnnouncementCodec: Codec<NodeAnnouncement> = struct('NodeAnnouncement', {
  nodeKey: fixedBytes(32),
  onionKey: fixedBytes(33),
  alias: varBytes(32),
  addrs: list(varBytes(256), 8),
  timestamp: uint,
  sig: fixedBytes(64),
});

/** One gossip message (kind 0 channel announcement, 1 channel update, 2 node announcement). */
export const GossipMsg = struct('Gossip', { kind: uint, body: varBytes(4096) });
export const GraphSyncReply = struct('GraphSync', { items: list(GossipMsg, 100_000) });

export const GOSSIP_TOPIC = 'chan-gossip';
