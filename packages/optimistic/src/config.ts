/**
 * RollupConfig: the protocol parameters of one optimistic rollup. The L1 settlement modules and
 * every L2 role must use the same values (they decide what the derivation rule accepts).
 */
import { StrataError } from '@strata/primitives';
import { defaultChainConfig, type ChainConfig, type Module } from '@strata/runtime';

/** Protocol parameters of one optimistic rollup. */
export interface RollupConfig {
  /**
   * Identifies the rollup on its parent: module names (`op_bridge/<id>`…), arguments and state
   * keys. It is the rollup's own chain id (equal to `l2ChainId`), so it differs from the parent's
   * and every sibling's (the parent's module registry checks both).
   */
  rollupId: number;
  /** Chain id of the L2 (its transactions sign over it); equals `rollupId`. */
  l2ChainId: number;
  /** bech32m prefix of L2 addresses. */
  l2AddressPrefix: string;
  /** The only L1 account allowed to post batches (OP: the batcher address of the system config). */
  batcher: Uint8Array;
  /** L2 address credited with L2 transaction fees (fixed, so every node derives the same state). */
  l2FeeRecipient: Uint8Array;
  /** L1 blocks an output root must wait, unchallenged, before withdrawals against it finalize. */
  challengeWindow: number;
  /** L1 blocks each player of a dispute may spend in total on its moves (a chess clock). */
  clockBlocks: number;
  /** After every move the next mover has at least this many L1 blocks left (OP's clock extension). */
  clockExtensionBlocks: number;
  /**
   * L1 blocks an empty defender slot stays open after a defender lost: any bonded party may take
   * over the defence of the root in that time; after it the challenger wins and the root goes.
   */
  takeoverBlocks: number;
  /** Bond the proposer locks with each output root. */
  proposerBond: bigint;
  /** Bond a challenger locks when it opens a game. */
  challengerBond: bigint;
  /** Share of a loser's bond burned instead of paid to the winner, basis points. */
  bondBurnBps: number;
  /**
   * Sequencing window: a deposit or forced transaction queued on L1 at height h is included by
   * the inbox itself at the end of L1 block h + window if the batcher has not included it. On an
   * L2 that carries its L1 origin (`carriesL1Origin`) it also bounds the origin's lag: every L2
   * block's origin is at least (the L1 block carrying its batch − window), and when none is, the
   * inbox appends a block that advances the origin by itself (see `inbox-core`).
   */
  sequencingWindow: number;
  /**
   * How the sequencing window is applied. `endBlock` (default): the parent's inbox end-of-block
   * hook includes overdue operations by itself (an L1 parent). `call`: the parent runs no
   * end-of-block hooks (an L2 parent, whose state transition applies operations only), so anyone
   * calls `op_inbox.includeForced` once the oldest queued operation has waited the window, and
   * derivation mirrors that call. Either way `includeForced` is accepted. Under `call` the
   * proposer also moves the parent's finality cursor by `op_disputes.advanceFinality` calls.
   */
  forcedInclusion?: 'endBlock' | 'call';
  /**
   * The parent chain's fee per byte of transaction data (its `fees.perByte`). Every sequenced L2
   * transaction pays an L1 data fee of its estimated compressed size × this × `l1FeeScalarBps`,
   * so the sequencer is paid back for the bytes its batcher posts (OP's L1 fee).
   */
  l1FeePerByte: bigint;
  /** Multiplier of the L1 data fee, basis points (10,000 = 1×; headroom for the batch tx envelope). */
  l1FeeScalarBps: number;
  /** Cap on a batch's decompressed size (zip-bomb guard), bytes. */
  maxBatchBytes: number;
  /** Most operations in one batch. */
  maxBatchOps: number;
  /** How far (ms) an L2 block timestamp may run ahead of the L1 block that carries it. */
  maxTimestampDriftMs: number;
  /**
   * Extra L2 runtime modules after bank and l2bridge (composed at the top, e.g. the token and
   * AMM modules of `@strata/apps`). Part of the protocol: the parent's one-step proof executes
   * with exactly these modules, so every party must pass the same list.
   */
  l2Modules?: readonly Module[];
}

/** Defaults for a devnet rollup (short windows). */
export function defaultRollupConfig(overrides: Partial<RollupConfig> = {}): RollupConfig {
  const id = overrides.l2ChainId ?? overrides.rollupId ?? 901;
  return {
    rollupId: id,
    l2ChainId: id,
    l2AddressPrefix: 'sl',
    batcher: new Uint8Array(20),
    l2FeeRecipient: new Uint8Array(20).fill(0xfe),
    challengeWindow: 10,
    clockBlocks: 20,
    clockExtensionBlocks: 3,
    takeoverBlocks: overrides.clockBlocks ?? 20,
    proposerBond: 1_000_000_000n,
    challengerBond: 1_000_000_000n,
    bondBurnBps: 2_000,
    sequencingWindow: 8,
    l1FeePerByte: 1n,
    l1FeeScalarBps: 10_000,
    maxBatchBytes: 4 * 1024 * 1024,
    maxBatchOps: 20_000,
    maxTimestampDriftMs: 60_000,
    ...overrides,
  };
}

/**
 * Whether the rollup's L2 blocks carry their L1 origin (the sequencer's `l1info` operations): it
 * hosts a child's settlement modules, or a module counting the L1 origin (`Module.l1Clock`, e.g.
 * the channel adjudicator). A pure function of the config, so the parent's inbox and every L2
 * node agree on whether the origin rule (`inbox-core`'s `blockOrigin`) binds the rollup.
 */
export function carriesL1Origin(cfg: Pick<RollupConfig, 'l2Modules'>): boolean {
  return (cfg.l2Modules ?? []).some((m) => m.settles !== undefined || m.l1Clock === true);
}

/** Checks a rollup config once at start; throws CONFIG_INVALID naming the field. */
export function checkRollupConfig(cfg: RollupConfig): RollupConfig {
  const bad = (f: string, why: string): never => {
    throw new StrataError('CONFIG_INVALID', `rollup config: ${f} ${why}`, { field: f });
  };
  if (!Number.isSafeInteger(cfg.rollupId) || cfg.rollupId < 0) bad('rollupId', 'must be a non-negative integer');
  if (cfg.l2ChainId !== cfg.rollupId) bad('rollupId', `must equal l2ChainId (${cfg.l2ChainId}): a rollup is known on its parent by its own chain id`);
  if (cfg.batcher.length !== 20) bad('batcher', 'must be a 20-byte address');
  if (cfg.l2FeeRecipient.length !== 20) bad('l2FeeRecipient', 'must be a 20-byte address');
  if (cfg.challengeWindow < 1) bad('challengeWindow', 'must be at least 1 L1 block');
  if (cfg.clockBlocks < 1) bad('clockBlocks', 'must be at least 1 L1 block');
  if (!Number.isSafeInteger(cfg.clockExtensionBlocks) || cfg.clockExtensionBlocks < 1 || cfg.clockExtensionBlocks > cfg.clockBlocks) {
    bad('clockExtensionBlocks', 'must be between 1 and clockBlocks');
  }
  if (!Number.isSafeInteger(cfg.takeoverBlocks) || cfg.takeoverBlocks < 1) bad('takeoverBlocks', 'must be at least 1 L1 block');
  if (cfg.bondBurnBps < 0 || cfg.bondBurnBps > 10_000) bad('bondBurnBps', 'must be between 0 and 10000');
  if (cfg.sequencingWindow < 1) bad('sequencingWindow', 'must be at least 1 L1 block');
  if (cfg.forcedInclusion !== undefined && cfg.forcedInclusion !== 'endBlock' && cfg.forcedInclusion !== 'call') bad('forcedInclusion', "must be 'endBlock' or 'call'");
  if (cfg.l1FeePerByte < 0n) bad('l1FeePerByte', 'must not be negative');
  if (!Number.isSafeInteger(cfg.l1FeeScalarBps) || cfg.l1FeeScalarBps < 0) bad('l1FeeScalarBps', 'must be a non-negative integer');
  return cfg;
}

/** The L2's own chain config (fees are paid in the wrapped coin; nothing is burned). */
export function l2ChainConfig(cfg: RollupConfig): ChainConfig {
  return Object.freeze(
    defaultChainConfig({
      chainId: cfg.l2ChainId,
      name: `strata-l2-${cfg.rollupId}`,
      addressPrefix: cfg.l2AddressPrefix,
      targetBlockTimeMs: 250,
      confirmations: 0,
      fees: { perByte: 0n, perCompute: 1n, burnBps: 0 },
      genesis: { timestamp: 0, alloc: [] },
    }),
  );
}
