/**
 * Block and header format. The header commits to its parent, the transactions (tx root), the
 * post-state (state root) and the receipts (receipt root); proof of work is a header hash at or
 * below `target`. The nonce is the header's last field, so a miner only rewrites the final
 * 8 bytes of the encoding.
 */
import {
  blake2b256,
  bytesToBigint,
  decode,
  encode,
  fixedBytes,
  list,
  struct,
  uint,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';

/** A block header. */
export interface BlockHeader {
  version: number;
  chainId: number;
  parentHash: Uint8Array;
  height: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  txRoot: Uint8Array;
  stateRoot: Uint8Array;
  receiptRoot: Uint8Array;
  /** Proof-of-work target, 32 bytes big-endian: the header hash must be ≤ target. */
  target: Uint8Array;
  /** 20-byte address that receives fees and reward. */
  producer: Uint8Array;
  /** Free bytes for the producer (≤ 64). */
  extra: Uint8Array;
  /** 8 bytes, rewritten by the miner. Last field on purpose. */
  nonce: Uint8Array;
}

/** A block: header and raw transactions. */
export interface Block {
  header: BlockHeader;
  txs: Uint8Array[];
}

/** Codec of a header. */
export const HeaderCodec: Codec<BlockHeader> = struct('BlockHeader', {
  version: uint,
  chainId: uint,
  parentHash: fixedBytes(32),
  height: uint,
  timestamp: uint,
  txRoot: fixedBytes(32),
  stateRoot: fixedBytes(32),
  receiptRoot: fixedBytes(32),
  target: fixedBytes(32),
  producer: fixedBytes(20),
  extra: varBytes(64),
  nonce: fixedBytes(8),
});

/** Most transactions in one block (the byte and compute limits bind long before). */
export const MAX_BLOCK_TXS = 100_000;

/** Codec of a block. */
export const BlockCodec: Codec<Block> = struct('Block', {
  header: HeaderCodec,
  txs: list(varBytes(4 * 1024 * 1024), MAX_BLOCK_TXS),
});

/** Codec of a block body (the transactions alone). */
export const BodyCodec: Codec<Uint8Array[]> = list(varBytes(4 * 1024 * 1024), MAX_BLOCK_TXS);

const HEADER_PERSONAL = utf8('strata-block-hdr');

/** Hash of an encoded header. */
export function hashHeaderBytes(encoded: Uint8Array): Uint8Array {
  return blake2b256(encoded, HEADER_PERSONAL);
}

/** Block hash (the hash of its header). */
export function blockHash(header: BlockHeader): Uint8Array {
  return hashHeaderBytes(encode(HeaderCodec, header));
}

/** Encodes a header. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  return encode(HeaderCodec, h);
}

/** Decodes a header. */
export function decodeHeader(b: Uint8Array): BlockHeader {
  return decode(HeaderCodec, b, 4096);
}

/** Encodes a block. */
export function encodeBlock(b: Block): Uint8Array {
  return encode(BlockCodec, b);
}

/** Decodes a block (bounded by `maxBytes`). */
export function decodeBlock(b: Uint8Array, maxBytes = 8 * 1024 * 1024): Block {
  return decode(BlockCodec, b, maxBytes);
}

const TWO_256 = 1n << 256n;

/** Work represented by a target: 2^256 / (target + 1). */
export function workOf(target: Uint8Array): bigint {
  return TWO_256 / (bytesToBigint(target) + 1n);
}

/** Whether a header hash meets its target. */
export function meetsTarget(hash: Uint8Array, target: Uint8Array): boolean {
  return Buffer.compare(hash, target) <= 0;
}
