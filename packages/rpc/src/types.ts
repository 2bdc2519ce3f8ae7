import type { JsonRpcErrorObject } from './errors.js';

/** A JSON-RPC 2.0 request id. */
export type JsonRpcId = string | number | null;

/** A JSON-RPC 2.0 request (positional params only). A request without `id` is a notification. */
export interface JsonRpcRequest {
  jsonrpc: '2.0';
  method: string;
  params?: unknown[];
  id?: JsonRpcId;
}

/** A successful JSON-RPC 2.0 response. */
export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: unknown;
}

/** A failed JSON-RPC 2.0 response. */
export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId;
  error: JsonRpcErrorObject;
}

/** A JSON-RPC 2.0 response. */
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

/** A server→client subscription notification (the eth_subscribe shape). */
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params: { subscription: string; result: unknown };
}

/**
 * What a handler knows about the call. On WebSocket connections there is one context object per
 * connection (so `notify` and `onClose` are stable for the connection's lifetime); on HTTP there is
 * one per request and neither `notify` nor `onClose` is set.
 */
export interface RpcContext {
  /** The transport the request arrived on. */
  transport: 'http' | 'ws';
  /** True when the caller presented the configured admin token. */
  authorized: boolean;
  /** For ws: push a subscription notification to this connection. */
  notify?: (subscription: string, result: unknown) => void;
  /** For ws: run `fn` once when the connection closes (to drop its subscriptions). */
  onClose?: (fn: () => void) => void;
}

/**
 * A method implementation. Receives the positional params (already checked against the spec's
 * min/max count, but not otherwise validated) and returns the result (or a promise of it).
 * Results are JSON-encoded; `bigint` becomes a `0x` quantity, `Uint8Array` a `0x` hex string and
 * `undefined` becomes `null`. Throw {@link RpcError} or a StrataError to fail.
 */
export type RpcHandler = (params: unknown[], ctx: RpcContext) => unknown | Promise<unknown>;

/** A registered method. */
export interface MethodSpec {
  /** The implementation. */
  handler: RpcHandler;
  /** Requires the admin token (HTTP `Authorization: Bearer …` or ws `?token=`). */
  admin?: boolean;
  /** Minimum number of positional params (default 0). */
  minParams?: number;
  /** Maximum number of positional params (default unlimited). */
  maxParams?: number;
  /** One line for method listings and docs. */
  description?: string;
}

/** One entry of {@link RpcServer.listMethods}. */
export interface MethodInfo {
  name: string;
  admin: boolean;
  minParams: number;
  maxParams: number | null;
  description: string;
}
