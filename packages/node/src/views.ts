/**
 * JSON views of chain objects for RPC and CLI output: hashes and bytes as 0x hex, quantities
 * as 0x hex without leading zeros (EIP-1474), addresses as bech32m with the chain's prefix.
 */
import type { BlockRef, TxLookup } from '@strata/chain';
import { bytesToBigint, encodeAddress, toHex, toQuantity } from '@strata/primitives';
import { txToJson, type ChainConfig, type Receipt, type TxInclusion, type VerifiedTx } from '@strata/runtime';

/** JSON of a block header (plus hash, total work and size). */
export function headerJson(cfg: ChainConfig, b: BlockRef): Record<string, unknown> {
  const h = b.header;
  return {
    hash: toHex(b.hash),
    number: toQuantity(h.height),
    parentHash: toHex(h.parentHash),
    timestamp: toQuantity(h.timestamp),
    txRoot: toHex(h.txRoot),
    stateRoot: toHex(h.stateRoot),
    receiptRoot: toHex(h.receiptRoot),
    target: toHex(h.target),
    difficulty: toQuantity((1n << 256n) / (bytesToBigint(h.target) + 1n)),
    totalWork: toQuantity(b.meta.totalWork),
    producer: encodeAddress(cfg.addressPrefix, h.producer),
    extra: toHex(h.extra),
    nonce: toHex(h.nonce),
  };
}

/** JSON of a transaction (see `txToJson` in @strata/runtime). */
export function txJson(cfg: ChainConfig, v: VerifiedTx, where?: TxInclusion): Record<string, unknown> {
  return txToJson(cfg.addressPrefix, v, where);
}

/** JSON of a receipt. */
export function receiptJson(r: Receipt, where: { blockHash: Uint8Array; height: number; index: number }): Record<string, unknown> {
  return {
    transactionHash: toHex(r.txHash),
    blockHash: toHex(where.blockHash),
    blockNumber: toQuantity(where.height),
    index: toQuantity(where.index),
    status: r.status === 'ok' ? '0x1' : '0x0',
    computeUsed: toQuantity(r.computeUsed),
    fee: toQuantity(r.fee),
    error: r.error ?? null,
    events: r.events,
  };
}

/** JSON of a located transaction's receipt. */
export function lookupReceiptJson(l: TxLookup): Record<string, unknown> {
  return receiptJson(l.receipt, l);
}
