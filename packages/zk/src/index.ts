/**
 * @strata/zk — a ZK-rollup (zkSync Lite / Hermez style) with Groth16 validity proofs on a
 * Strata parent chain.
 *
 * What flows through it:
 * - L1 → L2: deposits (`zk_rollup.deposit`) enter the L1 priority queue; the operator must
 *   include them within `priorityDeadline` L1 blocks.
 * - L2: users sign transfers and withdrawals with BabyJubjub keys derived from their L1 keys;
 *   the operator soft-confirms them, seals batches and has provers (other processes, other
 *   machines) prove them with the batch circuit (`circuits/rollup.circom`).
 * - L2 → L1: `zk_rollup.commitBatch` posts ~10 bytes per transfer plus the proof; the L1
 *   recomputes the data commitment, verifies the proof and pays withdrawals in the same block.
 * - Exodus: a missed deadline freezes the rollup; accounts exit with Merkle proofs.
 *
 * Two halves: `zkParentModules()` for the parent chain's runtime, and the off-chain roles
 * (ZkOperator, ProverService) with their RPC, setup (keys) and clients.
 */
export * from './driver.js';
export * from './groth16.js';
export * from './keys.js';
export * from './l1-client.js';
export * from './metrics.js';
export * from './operator.js';
export * from './ops.js';
export * from './params.js';
export * from './parent-modules.js';
export * from './poseidon.js';
export * from './prover.js';
export * from './rebuild.js';
export * from './rpc.js';
export * from './setup.js';
export * from './stf.js';
export * from './store.js';
export * from './tree.js';
