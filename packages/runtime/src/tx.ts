/**
 * The transaction envelope shared by every chain: who pays (recovered from the signature),
 * which nonce, how much fee for how much compute, and a call into one module.
 */
import {
  blake2b256,
  decode,
  encode,
  fixedBytes,
  recoverAddress,
  sign,
  str,
  struct,
  uint,
  uintBig,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';

/** A transaction before signing. */
export interface UnsignedTx {
  chainId: number;
  nonce: number;
  /** Total fee offered, in base units. */
  fee: bigint;
  /** Compute units the transaction may use (counts against the block's compute limit). */
  computeLimit: number;
  /** Module and method called. */
  module: string;
  method: string;
  /** Method arguments, encoded by the module's own codec. */
  args: Uint8Array;
}

/** A signed transaction: r ‖ s ‖ recid over `signingDigest`. */
export interface SignedTx extends UnsignedTx {
  signature: Uint8Array;
}

const MAX_ARGS = 4 * 1024 * 1024;

const UNSIGNED_FIELDS = {
  chainId: uint,
  nonce: uint,
  fee: uintBig(128),
  computeLimit: uint,
  module: str(32),
  method: str(32),
  args: varBytes(MAX_ARGS),
};

/** Codec of an unsigned transaction. */
export const UnsignedTxCodec: Codec<UnsignedTx> = struct('UnsignedTx', UNSIGNED_FIELDS);

/** Codec of a signed transaction: the unsigned fields, then the signature. */
export const SignedTxCodec: Codec<SignedTx> = struct('SignedTx', { ...UNSIGNED_FIELDS, signature: fixedBytes(65) });

const SIGN_PERSONAL = utf8('strata-tx-signed');
const HASH_PERSONAL = utf8('strata-tx-hashes');

/** The digest a sender signs (domain-separated from every other hash). */
export function signingDigest(tx: UnsignedTx): Uint8Array {
  return blake2b256(encode(UnsignedTxCodec, tx), SIGN_PERSONAL);
}

/** Signs a transaction. */
export function signTx(tx: UnsignedTx, secretKey: Uint8Array): SignedTx {
  const u: UnsignedTx = {
    chainId: tx.chainId,
    nonce: tx.nonce,
    fee: tx.fee,
    computeLimit: tx.computeLimit,
    module: tx.module,
    method: tx.method,
    args: tx.args,
  };
  return { ...u, signature: sign(signingDigest(u), secretKey) };
}

/** Canonical bytes of a signed transaction. */
export function encodeTx(tx: SignedTx): Uint8Array {
  return encode(SignedTxCodec, tx);
}

/** Decodes a signed transaction; throws DecodeError on malformed bytes. */
export function decodeTx(bytes: Uint8Array, maxBytes?: number): SignedTx {
  return decode(SignedTxCodec, bytes, maxBytes);
}

/** Hash (id) of a transaction from its canonical bytes. */
export function txHashOf(bytes: Uint8Array): Uint8Array {
  return blake2b256(bytes, HASH_PERSONAL);
}

/** Recovers the sender address; throws INVALID_SIGNATURE. */
export function recoverSender(tx: SignedTx): Uint8Array {
  return recoverAddress(signingDigest(tx), tx.signature);
}

/**
 * A transaction ready to execute: its bytes, hash and sender already established (senders
 * are recovered up front, possibly on worker threads).
 */
export interface VerifiedTx {
  tx: SignedTx;
  bytes: Uint8Array;
  hash: Uint8Array;
  sender: Uint8Array;
}

/** Decodes, hashes and recovers the sender of a raw transaction, on the calling thread. */
export function verifyRawTx(bytes: Uint8Array, maxBytes?: number): VerifiedTx {
  const tx = decodeTx(bytes, maxBytes);
  return { tx, bytes, hash: txHashOf(bytes), sender: recoverSender(tx) };
}
