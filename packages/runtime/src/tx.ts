/**
 * The transaction envelope shared by every chain: who pays (recovered from the signature),
 * which nonce, how much fee for how much compute, and a call into one module.
 */
import {
  blake2b256,
  blake2b256Parts,
  bytesToBigint,
  decode,
  DecodeError,
  encode,
  fixedBytes,
  recoverAddress,
  rlpHeaderSize,
  sign,
  str,
  struct,
  uint,
  uintBig,
  utf8,
  varBytes,
  writeRlpHeader,
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
export function decodeTx(bytes: Uint8Array, maxBytes = 4 * 1024 * 1024): SignedTx {
  if (bytes instanceof Uint8Array && bytes.length <= maxBytes) {
    const tx = decodeTxFast(bytes);
    if (tx) return tx;
  }
  // Anything unusual (malformed, non-ASCII names, wide integers...) takes the generic codec,
  // which accepts or rejects it, naming the fault.
  return decode(SignedTxCodec, bytes, maxBytes);
}

// Fast path of decodeTx: reads the eight fields straight from the bytes. It returns a result
// only for input the generic codec accepts, and then the same value (a property test compares
// the two on valid, mutated and random input); on anything else it returns undefined.

/** Byte range of the string item last read by `readString`. */
let strStart = 0;
let strEnd = 0;

/** Reads one canonical RLP byte string at `pos` (not a list) into strStart/strEnd. */
function readString(b: Uint8Array, pos: number, end: number): boolean {
  if (pos >= end) return false;
  const fb = b[pos] as number;
  if (fb < 0x80) {
    strStart = pos;
    strEnd = pos + 1;
    return true;
  }
  if (fb <= 0xb7) {
    const len = fb - 0x80;
    if (pos + 1 + len > end || (len === 1 && (b[pos + 1] as number) < 0x80)) return false;
    strStart = pos + 1;
    strEnd = pos + 1 + len;
    return true;
  }
  if (fb <= 0xbf) {
    const n = fb - 0xb7;
    if (n > 4 || pos + 1 + n > end || b[pos + 1] === 0) return false;
    let len = 0;
    for (let i = 1; i <= n; i++) len = len * 256 + (b[pos + i] as number);
    if (len <= 55 || pos + 1 + n + len > end) return false;
    strStart = pos + 1 + n;
    strEnd = strStart + len;
    return true;
  }
  return false;
}

/** The minimal big-endian integer in strStart..strEnd (at most 6 bytes), or -1. */
function stringAsUint(b: Uint8Array): number {
  const len = strEnd - strStart;
  if (len > 6 || (len > 0 && b[strStart] === 0)) return -1;
  let v = 0;
  for (let i = strStart; i < strEnd; i++) v = v * 256 + (b[i] as number);
  return v;
}

/** The string item as an ASCII name of at most 32 bytes, or undefined. */
function stringAsName(b: Uint8Array): string | undefined {
  if (strEnd - strStart > 32) return undefined;
  let s = '';
  for (let i = strStart; i < strEnd; i++) {
    const c = b[i] as number;
    if (c >= 0x80) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

function decodeTxFast(b: Uint8Array): SignedTx | undefined {
  const total = b.length;
  const fb = b[0] as number;
  let p: number;
  if (fb >= 0xc0 && fb <= 0xf7) {
    if (fb - 0xc0 !== total - 1) return undefined;
    p = 1;
  } else if (fb >= 0xf8) {
    const n = fb - 0xf7;
    if (n > 4 || total < 1 + n || b[1] === 0) return undefined;
    let len = 0;
    for (let i = 1; i <= n; i++) len = len * 256 + (b[i] as number);
    if (len < 56 || 1 + n + len !== total) return undefined;
    p = 1 + n;
  } else {
    return undefined;
  }
  if (!readString(b, p, total)) return undefined;
  const chainId = stringAsUint(b);
  if (chainId < 0 || !readString(b, strEnd, total)) return undefined;
  const nonce = stringAsUint(b);
  if (nonce < 0 || !readString(b, strEnd, total)) return undefined;
  const feeLen = strEnd - strStart;
  if (feeLen > 16 || (feeLen > 0 && b[strStart] === 0)) return undefined;
  const fee = feeLen <= 6 ? BigInt(stringAsUint(b)) : bytesToBigint(b.subarray(strStart, strEnd));
  if (!readString(b, strEnd, total)) return undefined;
  const computeLimit = stringAsUint(b);
  if (computeLimit < 0 || !readString(b, strEnd, total)) return undefined;
  const module = stringAsName(b);
  if (module === undefined || !readString(b, strEnd, total)) return undefined;
  const method = stringAsName(b);
  if (method === undefined || !readString(b, strEnd, total) || strEnd - strStart > MAX_ARGS) return undefined;
  // Byte fields are copied as the generic decoder copies them (`slice`; empty is a new array).
  const args = strEnd === strStart ? new Uint8Array(0) : b.slice(strStart, strEnd);
  if (!readString(b, strEnd, total) || strEnd - strStart !== 65 || strEnd !== total) return undefined;
  const signature = b.slice(strStart, strEnd);
  return { chainId, nonce, fee, computeLimit, module, method, args, signature };
}

/**
 * The signing digest of a transaction computed from its signed bytes, without decoding or
 * re-encoding it: the unsigned encoding is the signed list minus its last item (the 65-byte
 * signature, 67 bytes encoded) under a list header for the shorter payload, and the digest is
 * taken over those two parts. When the module or method name is not plain ASCII it takes the
 * long way, `signingDigest(decodeTx(bytes))`, so that the digest is by construction the one of
 * the decoded transaction, whatever the string codec does.
 *
 * For every `bytes` that `decodeTx` accepts, equals `signingDigest(decodeTx(bytes))`. It checks
 * only the framing it relies on and throws DecodeError when that is wrong; decode the bytes too
 * before trusting anything else in them, as `TxVerifier` and `verifyRawTx` do.
 */
export function signingDigestOfRaw(bytes: Uint8Array): Uint8Array {
  const total = bytes.length;
  const fb = bytes[0] as number;
  let start = -1;
  if (fb >= 0xc0 && fb <= 0xf7) {
    if (fb - 0xc0 === total - 1) start = 1;
  } else if (fb >= 0xf8 && total > fb - 0xf7) {
    const n = fb - 0xf7;
    let len = 0;
    for (let i = 1; i <= n; i++) len = len * 256 + (bytes[i] as number);
    if (1 + n + len === total) start = 1 + n;
  }
  const sigAt = total - 67;
  if (start < 0 || sigAt < start || bytes[sigAt] !== 0xb8 || bytes[sigAt + 1] !== 65) throw notSignedTx();
  // Walk the first six fields; the names (fields 5 and 6) must be ASCII for the short way.
  let p = start;
  for (let field = 0; field < 6; field++) {
    if (p >= sigAt || (bytes[p] as number) >= 0xc0 || !readString(bytes, p, sigAt)) throw notSignedTx();
    if (field >= 4) {
      for (let i = strStart; i < strEnd; i++) if ((bytes[i] as number) >= 0x80) return signingDigest(decodeTx(bytes));
    }
    p = strEnd;
  }
  const payload = sigAt - start;
  const header = new Uint8Array(rlpHeaderSize(payload));
  writeRlpHeader(header, 0, payload, 0xc0);
  return blake2b256Parts([header, bytes.subarray(start, sigAt)], SIGN_PERSONAL);
}

function notSignedTx(): DecodeError {
  return new DecodeError('DECODE_INVALID', 'SignedTx: not a signed transaction list ending in a 65-byte signature');
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
  return { tx, bytes, hash: txHashOf(bytes), sender: recoverAddress(signingDigestOfRaw(bytes), tx.signature) };
}
