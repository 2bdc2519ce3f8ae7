/**
 * @strata/rpc — a generic JSON-RPC 2.0 server and typed clients; it knows nothing about chains.
 *
 * What flows through it: JSON-RPC requests (single or batched) arrive as HTTP POST bodies or
 * WebSocket messages on one port, are validated and dispatched to the {@link MethodSpec} handlers
 * that the node registered, and their results (or errors mapped from StrataError codes to JSON-RPC
 * codes) flow back. Over WebSocket, handlers push subscription notifications through
 * {@link SubscriptionHub}. {@link RpcClient} (HTTP) and {@link WsRpcClient} (WebSocket) are the
 * other end, used by the CLI, the devnet and the layer roles.
 */
export { type BatchCall, type BatchResult, DEFAULT_CLIENT_TIMEOUT_MS, RpcClient, type RpcClientOptions } from './client.js';
export { DEFAULT_HANDLER_TIMEOUT_MS, DEFAULT_MAX_BATCH, RpcDispatcher, type RpcDispatcherOptions } from './dispatcher.js';
export { type JsonRpcErrorObject, RpcError, type RpcErrorCode, RpcErrorCodes, toRpcErrorObject } from './errors.js';
export { encodeJson } from './json.js';
export { addressBudgetKey, clientAddress, DEFAULT_MAX_BODY_BYTES, RpcServer, type RpcServerOptions } from './server.js';
export { type Subscription, SubscriptionHub } from './subscriptions.js';
export type {
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  JsonRpcSuccess,
  MethodInfo,
  MethodSpec,
  RpcContext,
  RpcHandler,
} from './types.js';
export { WsRpcClient, type WsRpcClientOptions } from './wsClient.js';
