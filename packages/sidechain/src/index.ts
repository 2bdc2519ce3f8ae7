/**
 * @strata/sidechain — BFT sidechains (Axon style) on a Strata parent chain.
 */
export * from './consensus.js';
export * from './crypto.js';
export * from './messages.js';
export * from './privval.js';
export * from './validator-set.js';
export * from './vote-set.js';
export * from './bridge.js';
export * from './registry.js';
export * from './engine.js';
export * from './metrics.js';
export * from './network.js';
export * from './spec.js';
export * from './keys.js';
export * from './l1-client.js';
export * from './l1-rpc.js';
export * from './relayer.js';
export * from './rpc.js';
export * from './validator.js';
export * from './launch.js';
export * from './status.js';
