/**
 * @strata/optimistic — an optimistic rollup (Godwoken / OP Stack style) on a Strata parent chain.
 *
 * What flows through it:
 * - L1 → L2: deposits (`op_bridge.deposit`) and forced transactions (`op_inbox.forceTx`) enter
 *   the L1 inbox's delayed queue; the sequencer's blocks read them, or the inbox force-includes
 *   them after the sequencing window. L2 nodes derive the L2 chain from L1 blocks alone
 *   (`Derivation`, running the same `inbox-core` rule the L1 module runs).
 * - L2 → L1: the batcher posts compressed batches of L2 blocks (`op_inbox.postBatch`); the
 *   proposer posts bonded output roots (`op_disputes.propose`); withdrawals burned on L2 are
 *   proven against an output root and finalized after its challenge window (`op_bridge`).
 * - Disputes: a challenger bisects over per-operation state roots and the L1 re-executes one
 *   operation with the L2's own state transition (`applyL2Op`) over a Merkle witness.
 *
 * Two halves: `optimisticParentModules(cfg)` for the parent chain's runtime, and the off-chain
 * roles (RollupNode, SequencerService, BatcherService, ProposerService, ChallengerService).
 */
export * from './batcher.js';
export * from './challenger.js';
export * from './config.js';
export * from './derivation.js';
export * from './driver.js';
export * from './game-tracker.js';
export * from './inbox-core.js';
export * from './l1-client.js';
export * from './l2-chain.js';
export * from './l2-store.js';
export * from './l2-parent.js';
export * from './metrics.js';
export * from './ops.js';
export * from './parent-modules.js';
export * from './proposer.js';
export * from './rollup-node.js';
export * from './sequencer.js';
export * from './stf.js';
export * from './l2-rpc.js';
export * from './withdrawal-stage.js';
