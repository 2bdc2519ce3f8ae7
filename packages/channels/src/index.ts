/**
 * @strata/channels — payment channels (Lightning / Fiber) on any Strata chain.
 *
 * What flows through it:
 * - On chain: `channelParentModules()` is the adjudicator module a chain composes into its
 *   runtime (the L1's, or the optimistic rollup's L2 through `RollupConfig.l2Modules`). It locks
 *   channel funds, settles cooperative and unilateral closes after a dispute delay, punishes
 *   revoked states, resolves HTLCs with preimages revealed on chain, and runs swap HTLCs.
 * - Off chain: `ChannelNode` (daemon: node key, libp2p peer protocol, the commitment state
 *   machine, lmdb persistence, routing with onions, invoices, payments), `WatchtowerService`,
 *   `runAtomicSwap`. Each role has options, a service with start/stop, a driver loop and metrics.
 * - Clients: `RpcChainClient` reads the parent chain over its JSON-RPC (`chan_getState`, which
 *   `channelChainRpcMethods` adds to that chain's server); `channelNodeRpcMethods` is the node's RPC.
 */
export * from './adjudicator.js';
export * from './chain-client.js';
export * from './channel-node.js';
export * from './crypto.js';
export * from './crypto-pool.js';
export * from './driver.js';
export * from './invoice.js';
export * from './metrics.js';
export * from './node-rpc.js';
export * from './onion.js';
export * from './router.js';
export * from './state.js';
export * from './store.js';
export * from './swap.js';
export * from './watchtower.js';
export * from './wire.js';
