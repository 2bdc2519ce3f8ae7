/**
 * One base error class for all of Strata. Every error carries a stable `code` (what went wrong,
 * machine-readable), a human message that says what the caller should do, and typed metadata.
 */

/** Error codes, grouped by domain. Add codes here; never throw a bare `Error` in library code. */
export type ErrorCode =
  // encoding / decoding
  | 'DECODE_TRUNCATED'
  | 'DECODE_NON_CANONICAL'
  | 'DECODE_OVERSIZED'
  | 'DECODE_INVALID'
  | 'INVALID_HEX'
  | 'INVALID_ADDRESS'
  // crypto
  | 'INVALID_SIGNATURE'
  | 'INVALID_KEY'
  // state
  | 'PROOF_INVALID'
  | 'WITNESS_INCOMPLETE'
  | 'STATE_MISSING_NODE'
  // transactions / runtime
  | 'TX_WRONG_CHAIN'
  | 'TX_BAD_NONCE'
  | 'TX_NONCE_TOO_LOW'
  | 'TX_NONCE_TOO_HIGH'
  | 'TX_INSUFFICIENT_FUNDS'
  | 'TX_FEE_TOO_LOW'
  | 'TX_UNKNOWN_MODULE'
  | 'TX_UNKNOWN_METHOD'
  | 'TX_COMPUTE_EXCEEDED'
  | 'TX_TOO_LARGE'
  | 'TX_EXECUTION_FAILED'
  | 'TX_ALREADY_KNOWN'
  // mempool
  | 'MEMPOOL_FULL'
  | 'MEMPOOL_REPLACEMENT_UNDERPRICED'
  | 'MEMPOOL_SENDER_LIMIT'
  // blocks / chain
  | 'BLOCK_INVALID'
  | 'BLOCK_UNKNOWN_PARENT'
  | 'BLOCK_BAD_POW'
  | 'BLOCK_BAD_TARGET'
  | 'BLOCK_BAD_TIMESTAMP'
  | 'BLOCK_BAD_TX_ROOT'
  | 'BLOCK_BAD_STATE_ROOT'
  | 'BLOCK_LIMIT_EXCEEDED'
  | 'BLOCK_KNOWN'
  | 'NOT_FOUND'
  // config / node / rpc
  | 'CONFIG_INVALID'
  | 'NODE_STOPPED'
  | 'UNAUTHORIZED'
  | 'RPC_ERROR'
  | 'NETWORK'
  | 'INTERNAL'
  // layer 2 (used by layer packages)
  | 'L2_INVALID_BATCH'
  | 'L2_WITHDRAWAL'
  | 'L2_DISPUTE'
  | 'L2_BRIDGE'
  // sidechain (BFT consensus, registry, checkpoints, bridge)
  | 'SC_CONSENSUS'
  | 'SC_DOUBLE_SIGN'
  | 'SC_REGISTRY'
  | 'SC_CHECKPOINT'
  | 'SC_EVIDENCE'
  | 'SC_BRIDGE';

/** Base class of every error Strata throws. */
export class StrataError<M extends Record<string, unknown> = Record<string, unknown>> extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Typed metadata about what went wrong (field names, limits, values). */
  readonly meta: M;

  constructor(code: ErrorCode, message: string, meta?: M, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrataError';
    this.code = code;
    this.meta = (meta ?? {}) as M;
  }

  /** JSON form used by RPC and CLI output. */
  toJSON(): { code: ErrorCode; message: string; meta: M } {
    return { code: this.code, message: this.message, meta: this.meta };
  }
}

/** Error raised by decoders for malformed, truncated, oversized or non-canonical input. */
export class DecodeError extends StrataError {
  constructor(
    code: 'DECODE_TRUNCATED' | 'DECODE_NON_CANONICAL' | 'DECODE_OVERSIZED' | 'DECODE_INVALID',
    message: string,
    meta?: Record<string, unknown>,
  ) {
    super(code, message, meta);
    this.name = 'DecodeError';
  }
}

/** Returns true when `e` is a StrataError (optionally with the given code). */
export function isStrataError(e: unknown, code?: ErrorCode): e is StrataError {
  return e instanceof StrataError && (code === undefined || e.code === code);
}

/** Normalises anything thrown into a StrataError (code INTERNAL for foreign errors). */
export function toStrataError(e: unknown): StrataError {
  if (e instanceof StrataError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new StrataError('INTERNAL', msg, {}, { cause: e });
}
