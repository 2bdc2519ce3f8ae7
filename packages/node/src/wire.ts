/**
 * Wire formats of the L1 peer-to-peer protocols (pure codecs, no I/O): the status handshake,
 * header and block range requests, blocks by hash, and transaction batches for gossip. Every
 * decoder is bounded; malformed or oversized input throws a DECODE_* StrataError.
 */
import { decode, encode, fixedBytes, list, struct, uint, uintBig, varBytes, type Codec } from '@strata/primitives';

/** Gossip topic of new blocks (one encoded block per message). */
export const TOPIC_BLOCKS = 'blocks';
/** Gossip topic of transaction batches (many raw transactions per message). */
export const TOPIC_TXS = 'txs';
/** Request/response protocol ids (namespaced by the p2p layer with the network id). */
export const PROTO_STATUS = 'status/1';
/** Canonical headers by height range. */
export const PROTO_HEADERS = 'headers-by-range/1';
/** Canonical blocks by height range. */
export const PROTO_BLOCKS_RANGE = 'blocks-by-range/1';
/** Any stored blocks by hash. */
export const PROTO_BLOCKS_HASH = 'blocks-by-hash/1';
/**
 * A peer's pending transactions (empty request; response: a transaction batch, highest fee
 * first), pulled once after the status handshake so a node that joins or returns learns what
 * it missed, as Bitcoin's `mempool` message (BIP 35) does.
 */
export const PROTO_MEMPOOL = 'mempool/1';
/** Response size limit of the mempool protocol (a server stops adding transactions before it). */
export const MAX_MEMPOOL_RESPONSE_BYTES = 4 * 1024 * 1024;

/** Most headers in one headers-by-range response. */
export const MAX_HEADERS_PER_REQUEST = 1024;
/** Most blocks in one blocks-by-range / blocks-by-hash response. */
export const MAX_BLOCKS_PER_REQUEST = 256;
/** Most transactions in one gossip batch. */
export const MAX_TXS_PER_BATCH = 4096;
/** Largest encoded header accepted on the wire. */
export const MAX_HEADER_BYTES = 1024;
/** Response size limit of the block protocols (a server stops adding blocks before it). */
export const MAX_BLOCKS_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Largest single encoded block carried by a response. */
export const MAX_WIRE_BLOCK_BYTES = 8 * 1024 * 1024;

/** What a node tells a peer about its chain. */
export interface Status {
  /** Genesis hash: peers on another genesis are disconnected. */
  genesis: Uint8Array;
  headHash: Uint8Array;
  headHeight: number;
  /** Cumulative proof of work of the head. */
  totalWork: bigint;
  finalizedHeight: number;
}

/** Codec of a status message. */
export const StatusCodec: Codec<Status> = struct('Status', {
  genesis: fixedBytes(32),
  headHash: fixedBytes(32),
  headHeight: uint,
  totalWork: uintBig(512),
  finalizedHeight: uint,
});

/** A canonical height range. */
export interface RangeRequest {
  start: number;
  count: number;
}

/** Codec of a range request. */
export const RangeRequestCodec: Codec<RangeRequest> = struct('RangeRequest', { start: uint, count: uint });

/** Codec of a headers-by-range response: encoded headers in height order. */
export const HeadersCodec: Codec<Uint8Array[]> = list(varBytes(MAX_HEADER_BYTES), MAX_HEADERS_PER_REQUEST);
/** Codec of a blocks response: encoded blocks. */
export const BlocksCodec: Codec<Uint8Array[]> = list(varBytes(MAX_WIRE_BLOCK_BYTES), MAX_BLOCKS_PER_REQUEST);
/** Codec of a blocks-by-hash request. */
export const HashesCodec: Codec<Uint8Array[]> = list(fixedBytes(32), MAX_BLOCKS_PER_REQUEST);

/** Codec of a gossip transaction batch. `maxTxBytes` bounds each transaction. */
export function txBatchCodec(maxTxBytes: number): Codec<Uint8Array[]> {
  return list(varBytes(maxTxBytes), MAX_TXS_PER_BATCH);
}

/** Encodes a status. */
export function encodeStatus(s: Status): Uint8Array {
  return encode(StatusCodec, s);
}

/** Decodes a status (DECODE_* on malformed input). */
export function decodeStatus(b: Uint8Array): Status {
  return decode(StatusCodec, b, 512);
}

/** Encodes a range request. */
export function encodeRange(r: RangeRequest): Uint8Array {
  return encode(RangeRequestCodec, r);
}

/** Decodes a range request. */
export function decodeRange(b: Uint8Array): RangeRequest {
  return decode(RangeRequestCodec, b, 64);
}
