/**
 * @strata/sidechain — BFT sidechains (Axon style) on a Strata parent chain.
 */
export * from './consensus.js';
export * from './crypto.js';
export * from './messages.js';
export * from './privval.js';
export * from './validator-set.js';
export * from './vote-set.js';
