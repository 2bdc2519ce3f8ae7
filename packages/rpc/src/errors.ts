import { StrataError } from '@strata/primitives';

/**
 * JSON-RPC error codes used by Strata. -32700…-32603 are JSON-RPC 2.0; -32000…-32006 follow
 * EIP-1474 (-32006: "JSON-RPC version not supported"); -32007 is our own, from the
 * implementation-defined server range EIP-1474 leaves free, and means "admin token missing or wrong".
 */
export const RpcErrorCodes = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  INVALID_INPUT: -32000,
  RESOURCE_NOT_FOUND: -32001,
  RESOURCE_UNAVAILABLE: -32002,
  TRANSACTION_REJECTED: -32003,
  METHOD_NOT_SUPPORTED: -32004,
  LIMIT_EXCEEDED: -32005,
  /** EIP-1474: the request names a `jsonrpc` version other than "2.0". */
  VERSION_NOT_SUPPORTED: -32006,
  /** Not in EIP-1474 (a free server-error code): an admin method was called without a valid admin token. */
  UNAUTHORIZED: -32007,
} as const;

/** One of the numeric codes in {@link RpcErrorCodes} (handlers may also use other numbers). */
export type RpcErrorCode = (typeof RpcErrorCodes)[keyof typeof RpcErrorCodes];

/** The `error` member of a JSON-RPC 2.0 response. */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * A JSON-RPC error. Handlers throw it to choose the code sent to the client; the clients throw it
 * when the server answers with an error. `data.code` (when the server set it) is the Strata
 * {@link StrataError} code, so callers can branch on e.g. `'TX_NONCE_TOO_LOW'`.
 */
export class RpcError extends StrataError {
  /** The JSON-RPC numeric error code (see {@link RpcErrorCodes}). */
  readonly rpcCode: number;
  /** The JSON-RPC `data` member, if any. */
  readonly data?: unknown;

  constructor(rpcCode: number, message: string, data?: unknown, options?: { cause?: unknown }) {
    super('RPC_ERROR', message, data === undefined ? { rpcCode } : { rpcCode, data }, options);
    this.name = 'RpcError';
    this.rpcCode = rpcCode;
    if (data !== undefined) this.data = data;
  }

  /** The Strata error code the server put in `data.code`, if any (e.g. `'TX_BAD_NONCE'`). */
  get remoteCode(): string | undefined {
    const d = this.data;
    if (typeof d === 'object' && d !== null && typeof (d as { code?: unknown }).code === 'string') {
      return (d as { code: string }).code;
    }
    return undefined;
  }

  /** The wire form of this error. */
  toErrorObject(): JsonRpcErrorObject {
    return this.data === undefined
      ? { code: this.rpcCode, message: this.message }
      : { code: this.rpcCode, message: this.message, data: this.data };
  }

  /** Builds an RpcError from a wire error object (used by the clients). */
  static fromErrorObject(e: JsonRpcErrorObject): RpcError {
    return new RpcError(e.code, e.message, e.data);
  }

  /** -32602: the caller passed bad parameters; say which one and what was expected. */
  static invalidParams(message: string, data?: unknown): RpcError {
    return new RpcError(RpcErrorCodes.INVALID_PARAMS, message, data);
  }

  /** -32001: the requested block, transaction, account… does not exist. */
  static notFound(message: string, data?: unknown): RpcError {
    return new RpcError(RpcErrorCodes.RESOURCE_NOT_FOUND, message, data);
  }

  /** -32005: a limit (batch size, body size, range…) was exceeded. */
  static limitExceeded(message: string, data?: unknown): RpcError {
    return new RpcError(RpcErrorCodes.LIMIT_EXCEEDED, message, data);
  }

  /** -32004: the method exists but not on this transport / node configuration. */
  static methodNotSupported(message: string, data?: unknown): RpcError {
    return new RpcError(RpcErrorCodes.METHOD_NOT_SUPPORTED, message, data);
  }
}

// StrataError codes that mean "the caller's input was malformed" → -32602.
// Not CONFIG_INVALID: at request time it is mostly the node's own state or config failing (a
// sidechain's validator set of zero power once its only validator is slashed, a data dir that
// does not match), which is no fault of the caller's params. A handler whose caller asked for a
// setting this node's config cannot take (admin_setMining "pow" on a dev chain) turns it into
// RpcError.invalidParams itself.
const INVALID_PARAM_CODES = new Set<string>(['INVALID_HEX', 'INVALID_ADDRESS', 'INVALID_SIGNATURE']);

/**
 * Maps anything a handler threw to a JSON-RPC error object:
 * RpcError → its own code; StrataError INVALID_HEX / DECODE_* / INVALID_ADDRESS /
 * INVALID_SIGNATURE → -32602; TX_* / MEMPOOL_* → -32003; NOT_FOUND → -32001;
 * UNAUTHORIZED → -32007; other StrataErrors → -32603 with their (caller-facing) message;
 * foreign errors → -32603 with a generic message (never a stack trace or internal detail).
 * StrataErrors carry `data: { code, meta }`.
 */
export function toRpcErrorObject(err: unknown, method?: string): JsonRpcErrorObject {
  if (err instanceof RpcError) return err.toErrorObject();
  if (err instanceof StrataError) {
    const data = { code: err.code, meta: err.meta };
    const c: string = err.code;
    let code: number = RpcErrorCodes.INTERNAL_ERROR;
    if (INVALID_PARAM_CODES.has(c) || c.startsWith('DECODE_')) code = RpcErrorCodes.INVALID_PARAMS;
    else if (c.startsWith('TX_') || c.startsWith('MEMPOOL_')) code = RpcErrorCodes.TRANSACTION_REJECTED;
    else if (c === 'NOT_FOUND') code = RpcErrorCodes.RESOURCE_NOT_FOUND;
    else if (c === 'UNAUTHORIZED') code = RpcErrorCodes.UNAUTHORIZED;
    return { code, message: err.message, data };
  }
  return {
    code: RpcErrorCodes.INTERNAL_ERROR,
    message: `internal error${method ? ` in ${method}` : ''}; the node log has the details`,
    data: { code: 'INTERNAL' },
  };
}
