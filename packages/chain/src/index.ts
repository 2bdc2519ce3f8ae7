/**
 * @strata/chain — blocks and the chain: header format, Merkle roots, proof-of-work rules,
 * the mempool, fork choice by cumulative work with reorgs, and the lmdb block store. Blocks
 * and transactions flow in; a canonical chain with executed state flows out.
 */
export * from './block.js';
export * from './chain.js';
export * from './mempool.js';
export * from './merkle.js';
export * from './miner.js';
export * from './pow.js';
export * from './store.js';
export * from './verifier.js';
