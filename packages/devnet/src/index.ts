/**
 * @strata/devnet — one command, every layer: starts the local multi-layer network with
 * embedded defaults and funded dev accounts, and hands back its endpoints.
 */
export * from './accounts.js';
export * from './channels.js';
export * from './devnet.js';
export * from './multinode.js';
export * from './l3.js';
export * from './rollup.js';
export * from './topology.js';
export * from './sidechain.js';
export * from './zk.js';
