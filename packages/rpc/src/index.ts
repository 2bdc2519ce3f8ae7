/**
 * @strata/rpc — a generic JSON-RPC 2.0 server and typed clients; it knows nothing about chains.
 *
 * What flows through it: JSON-RPC requests (single or batched) arrive as HTTP POST bodies or
 * WebSocket messages on one port, are validated and dispatched to the {@link MethodSpec} handlers
 * that the node registered, and their results (or errors mapped from StrataError codes to JSON-RPC
 * codes) flow back. Over WebSocket, handlers push subscription notifications through
 * {@link SubscriptionHub}. {@link RpcClient} (HTTP) and {@link WsRpcClient} (WebSocket) are the
 * other end, used by the CLI, the devnet and the layer roles.
 *
 * `export *` (as every other package), not a list of names: the CLI's bundler (esbuild, code
 * splitting) treats a barrel with named re-exports as code of its own, and then every module it
 * re-exports lands in the chunk of any command that imports one name, so `strata account
 * balance` (which needs RpcClient) loaded the server and `ws` (~80 ms).
 */
export * from './client.js';
export * from './dispatcher.js';
export * from './errors.js';
export * from './json.js';
export * from './server.js';
export * from './subscriptions.js';
export * from './types.js';
export * from './wsClient.js';
