/**
 * @strata/state — authenticated key-value state. A path-compressed sparse Merkle tree gives
 * every block a state root and every key an inclusion or exclusion proof; `StateView` is the one
 * interface the runtime uses, backed by the lmdb database in a full node or by a Merkle witness
 * in a fraud proof.
 */
export * from './smt.js';
export * from './store.js';
export * from './view.js';
export * from './witness.js';
