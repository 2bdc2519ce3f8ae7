/**
 * @strata/p2p — the peer-to-peer layer of a Strata node, on libp2p v3 (TCP, noise, yamux,
 * identify, gossipsub). What flows through it:
 *
 * - gossip: opaque byte messages on application topics (`/strata/<networkId>/gossip/<topic>`),
 *   unsigned at the libp2p level (the application signs what matters), identified by a blake2b
 *   content hash, and validated by the application's validator before they are delivered or
 *   relayed;
 * - request/response: one stream per request on `/strata/<networkId>/req/<protocol>`, a varint
 *   length-prefixed request and a status-byte response, size-limited and timed out both ways;
 * - peer scores: penalties for rejected or oversized gossip, malformed, oversized or late
 *   frames and requests beyond the per-peer rate; at the ban threshold a peer is disconnected
 *   and refused for `banSeconds`, and so is its IP address (except the host's own loopback);
 * - discovery: an address book (bootnodes, identify, the `peers/1` exchange as Bitcoin's
 *   `addr`), kept in `<dataDir>/peers.json`, from which the node dials toward `targetPeers`.
 *
 * It knows nothing about blocks or transactions: the chain node registers gossip validators and
 * request handlers. Works on Node 20: the `Promise.withResolvers` polyfill below is imported
 * before libp2p loads.
 */
import './polyfill.js';

export {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type GossipValidator,
  type GossipVerdict,
  gossipTopicId,
  type P2PDeps,
  type P2PEvent,
  P2PNode,
  type PeerInfo,
  type ProtocolHandlerOptions,
  ipOfMultiaddr,
  MAX_INBOUND_STREAMS_PER_PROTOCOL,
  PEERS_LIMITS,
  PROTO_PEERS,
  protocolId,
  sessionProtocolId,
} from './p2p-node.js';
export { ClientSession, decodeSessionFrame, encodeSessionFrame, FrameSplitter, SESSION_KIND, type SessionOptions, serveSession } from './session.js';
export { AddressBook, isLoopbackAddr, type KnownPeer, MAX_BOOK_PEERS, MAX_EXCHANGE_ADDRS, PEERS_FILE, PeerAddrsCodec, parsePeerAddr } from './address-book.js';
export { type RateLimit, RateLimiter } from './rate-limiter.js';
export { batchWrites, withWriteBatching } from './write-batching.js';
export {
  DEFAULT_BAN_SECONDS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_GOSSIP_BYTES,
  MAX_GOSSIP_BYTES_LIMIT,
  type P2POptions,
  peerIdOfMultiaddr,
  type ResolvedP2POptions,
  resolveP2POptions,
} from './options.js';
export { PENALTY, type PenaltyResult, PeerScoreBook, type PeerScoreBookOptions } from './peer-score-book.js';
export { NODE_KEY_FILE, nodePeerId } from './node-key.js';
// The wire format, for tests and other implementations of the protocols.
export {
  decodeResponseFrame,
  decodeVarint,
  encodeErrorFrame,
  encodeFrame,
  encodeResponseFrame,
  encodeVarint,
  FrameReader,
  MAX_ERROR_MESSAGE_BYTES,
  maxResponseFrameBytes,
  type ResponseFrame,
  STATUS_ERROR,
  STATUS_OK,
} from './frame.js';
