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
  | 'INVALID_ARGUMENT'
  | 'NODE_STOPPED'
  | 'UNAUTHORIZED'
  | 'RPC_ERROR'
  | 'NETWORK'
  | 'INTERNAL'
  // local faults: the node's own disk or engine failed (see isLocalFault)
  | 'STORAGE_FAULT'
  | 'ENGINE_FAULT'
  // layer 2 (used by layer packages)
  | 'L2_INVALID_BATCH'
  | 'L2_WITHDRAWAL'
  | 'L2_DISPUTE'
  | 'L2_BRIDGE'
  // app modules (token, amm)
  | 'TOKEN_UNKNOWN'
  | 'TOKEN_INVALID'
  | 'TOKEN_NOT_ISSUER'
  | 'TOKEN_CAP_EXCEEDED'
  | 'TOKEN_OVERFLOW'
  | 'TOKEN_INSUFFICIENT_BALANCE'
  | 'AMM_UNKNOWN_POOL'
  | 'AMM_INVALID'
  | 'AMM_SLIPPAGE'
  | 'AMM_INSUFFICIENT_LIQUIDITY'
  // payment channels (packages/channels)
  | 'CHANNEL_INVALID'
  | 'CHANNEL_STATE'
  | 'CHANNEL_LIMIT'
  | 'CHANNEL_NOT_FOUND'
  | 'CHANNEL_PEER'
  | 'CHANNEL_NO_ROUTE'
  | 'CHANNEL_PAYMENT_FAILED'
  | 'CHANNEL_INVOICE'
  | 'CHANNEL_ONION'
  | 'SWAP_FAILED'
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

/**
 * Codes of local faults: the node's own storage or engine failed, so the input being processed
 * may well be valid. Consensus code never turns one into a verdict (a failed receipt, an invalid
 * block, a peer penalty): the import is aborted and retried (DESIGN rule 9).
 */
export const LOCAL_FAULT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['STORAGE_FAULT', 'ENGINE_FAULT', 'STATE_MISSING_NODE']);

/** Whether `e` is a local fault (a StrataError with one of {@link LOCAL_FAULT_CODES}). */
export function isLocalFault(e: unknown): boolean {
  return e instanceof StrataError && LOCAL_FAULT_CODES.has(e.code);
}

/**
 * This engine's own messages for running out of a local resource, probed once, on first use
 * (not at load: the failed allocation costs V8 four full collections, ~45 ms, which every
 * process importing this module paid, the CLI's one-line client commands included): a stack
 * overflow (a few thousand frames) and an ArrayBuffer no machine can allocate (2^53 - 1 bytes:
 * refused, nothing is reserved). Compared by equality, so a V8 that rewords them still agrees
 * with itself.
 */
let exhaustionMessages: ReadonlySet<string> | undefined;
function probeExhaustionMessages(): ReadonlySet<string> {
  const out = new Set<string>();
  const dive = (n: number): number => dive(n + 1) + 1;
  try {
    dive(0);
  } catch (e) {
    if (e instanceof RangeError) out.add(e.message);
  }
  try {
    void new ArrayBuffer(Number.MAX_SAFE_INTEGER);
  } catch (e) {
    if (e instanceof RangeError) out.add(e.message);
  }
  return out;
}

/**
 * Whether a foreign (non-Strata) error is the JavaScript engine running out of stack or of
 * memory for a buffer: how far code gets before that happens differs between machines and
 * engine builds, so it is a local fault, never a deterministic outcome. Recognised as a
 * `RangeError` carrying exactly the message this engine gives a real stack overflow or a failed
 * ArrayBuffer allocation (probed on the first call, never a hard-coded text). Every other RangeError —
 * division by zero, `BigInt(1.5)`, an invalid array length or radix, a DataView or Buffer read
 * out of range — is decided by the input alone and is the same on every node, so it must be a
 * failed receipt: treating it as a local fault let a block producer put such a call in a block
 * that no node would ever judge (each import aborted and was retried for ever). Running out of
 * heap is fatal in V8 (the process dies), never a catchable error.
 */
export function isEngineExhaustion(e: unknown): boolean {
  if (!(e instanceof RangeError)) return false;
  exhaustionMessages ??= probeExhaustionMessages();
  return exhaustionMessages.has(e.message);
}
