/**
 * @strata/node — a full node: chain + mempool + block production + JSON-RPC + metrics
 * (+ peer-to-peer network), with one lifecycle. Layers compose a node by passing their
 * settlement modules in `NodeOptions.modules`; this package never imports a layer.
 */
export * from './metrics.js';
export * from './network.js';
export * from './sync.js';
export * from './wire.js';
export * from './node.js';
export * from './rpc-methods.js';
export * from './serve.js';
export * from './views.js';
