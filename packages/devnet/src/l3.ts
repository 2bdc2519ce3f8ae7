/**
 * The devnet's L3: an app chain (token + AMM) that is an optimistic rollup whose parent is the
 * devnet's L2. Its settlement modules (`op_bridge/902`, `op_inbox/902`, `op_disputes/902`) are
 * in the L2 runtime; its sequencer, batcher, proposer and challenger post to the L2 through
 * `ParentRollupClient`, exactly as the L2's roles post to the L1. The L2's RPC also serves the
 * parent-side methods for it (`rollup_l1Block`…), so `RpcL1Client` works against the L2 too.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { appModules } from '@strata/apps';
import type { StrataNode } from '@strata/node';
import {
  BatcherService,
  ChallengerService,
  DepositArgs,
  defaultRollupConfig,
  L2Store,
  NodeL1Client,
  ParentRollupClient,
  ProposerService,
  RollupMetrics,
  RollupNode,
  rollupModuleNames,
  rollupParentRpcMethods,
  SequencerService,
  startL2Rpc,
  type RollupConfig,
} from '@strata/optimistic';
import { encode, toStrataError } from '@strata/primitives';
import type { DevAccount } from './accounts.js';
import type { DevnetRollup } from './rollup.js';

/** L3 settings of the devnet. */
export interface DevnetL3Options {
  /**
   * Challenge window in L1 blocks (default 30): the L3 clocks count the L2's L1 origin, not L2
   * blocks. It must exceed 2 × the L2's sequencing window (10) + the roles' forced-inclusion
   * delay (4): see docs/l3.md ("The L2's L1 origin is bounded").
   */
  challengeWindow?: number;
  /** L3 RPC port (default L1 port + 2; 0 picks a free port). */
  port?: number;
  /** L3 block interval (default 500 ms). */
  blockTimeMs?: number;
}

/** L3 role keys: batcher = 4th from last, proposer = 5th, challenger = 6th (the L2 uses the last three). */
function roles(accounts: DevAccount[]): { batcher: DevAccount; proposer: DevAccount; challenger: DevAccount } {
  const n = accounts.length;
  return { batcher: accounts[n - 4] as DevAccount, proposer: accounts[n - 5] as DevAccount, challenger: accounts[n - 6] as DevAccount };
}

/** The L3's rollup config: chain id 902, address prefix `sx`, token and AMM in its runtime. */
export function devnetL3Config(accounts: DevAccount[], opts: DevnetL3Options = {}): RollupConfig {
  return defaultRollupConfig({
    rollupId: 902,
    l2AddressPrefix: 'sx',
    batcher: roles(accounts).batcher.keys.address,
    // Windows on the L2's L1 origin: an L2 sequencer may stamp a move up to its sequencing window
    // (10) late and put the answer's L2 block at the newest origin, and a censored role waits 4
    // L1 blocks before forcing its tx through the L2's inbox on the L1 (in within 10 more):
    // every window a party must act in is ≥ 2 × 10 + 4 + 1 = 25 L1 blocks.
    challengeWindow: opts.challengeWindow ?? 30,
    clockBlocks: 30,
    clockExtensionBlocks: 25,
    takeoverBlocks: 25,
    // The L2 runs no end-of-block hooks: forced inclusion is a call (`op_inbox/902.includeForced`)
    // anyone makes once the oldest queued operation waited this many L2 blocks.
    sequencingWindow: 120,
    forcedInclusion: 'call',
    l2Modules: appModules(),
  });
}

/** L1 blocks after which an L3 role the L2 sequencer censors forces its tx through the L2's inbox on the L1. */
export const L3_FORCE_AFTER_L1_BLOCKS = 4;

/**
 * The shortest L3 window (in the L2's L1-origin clock) in which a party the L2 sequencer censors
 * still acts on time: the sequencer may stamp the other side's move up to its sequencing window
 * `W` late and put the answer's L2 block at the newest origin, and the party forces its tx through
 * the L1 after `L3_FORCE_AFTER_L1_BLOCKS`, in within `W` more: 2W + F + 1 (docs/l3.md).
 */
export function safeL3Window(l2: RollupConfig): number {
  return 2 * l2.sequencingWindow + L3_FORCE_AFTER_L1_BLOCKS + 1;
}

/** The L3 windows shorter than `safeL3Window` (the devnet logs a warning naming them). */
export function shortL3Windows(l3: RollupConfig, l2: RollupConfig): string[] {
  return (['challengeWindow', 'clockBlocks', 'clockExtensionBlocks', 'takeoverBlocks'] as const).filter((f) => l3[f] < safeL3Window(l2));
}

/** A running devnet L3. */
export interface DevnetL3 {
  config: RollupConfig;
  rpcUrl: string;
  wsUrl: string;
  sequencer: RollupNode;
  verifier: RollupNode;
  stop(): Promise<void>;
}

/** Funds the L3 role keys on the L2 (from their own L1 coins) and starts the L3 roles and RPC. */
export async function startDevnetL3(
  l1: StrataNode,
  l2: DevnetRollup,
  cfg: RollupConfig,
  accounts: DevAccount[],
  opts: DevnetL3Options & { host: string; l1Port: number; dataDir?: string },
  logger: Logger,
): Promise<DevnetL3> {
  const log = logger.child({ layer: 'l3' });
  const r = roles(accounts);
  // The L3 roles pay L2 fees: deposit L1 → L2 for each (dev sealing mines them at once).
  const l1client = new NodeL1Client(l1, l2.config, (a) => l1.mempool.nextNonce(a, l1.chain.account(a).nonce));
  const bridge = rollupModuleNames(l2.config.rollupId).bridge;
  for (const k of [r.batcher, r.proposer, r.challenger]) {
    if (l2.sequencer.chain.account(k.keys.address).balance > 0n) continue;
    await l1client.send(k.keys, bridge, 'deposit', encode(DepositArgs, { rollupId: l2.config.rollupId, to: k.keys.address, amount: 10_000n * 100_000_000n }), 5_000);
  }
  l2.rpc.registerAll(rollupParentRpcMethods(l2.sequencer, [cfg]));
  const stores = opts.dataDir ? [new L2Store({ path: join(opts.dataDir, 'sequencer') }), new L2Store({ path: join(opts.dataDir, 'verifier') })] : [];
  const metrics = new RollupMetrics();
  // A block at least every 2 s, so the L3's heads (and the explorer) move on an idle devnet.
  const seqNode = new RollupNode({ rollup: cfg, sequencer: { heartbeatMs: 2000 } }, new ParentRollupClient(l2.sequencer, cfg, l2.sequencer, { forceAfterL1Blocks: L3_FORCE_AFTER_L1_BLOCKS }), { logger: log.child({ role: 'sequencer' }), metrics, ...(stores[0] ? { store: stores[0] } : {}) });
  // The L3 verifier reads the L2 as the L2's own verifier derived it from L1 data; it sends to the L2 sequencer.
  // A role's tx the L2 has not included 4 L1 blocks later is forced through the L2's inbox on the L1
  // (then in within the L2's sequencing window, 10): see the windows in devnetL3Config.
  const verNode = new RollupNode({ rollup: cfg }, new ParentRollupClient(l2.verifier, cfg, l2.sequencer, { forceAfterL1Blocks: L3_FORCE_AFTER_L1_BLOCKS }), { logger: log.child({ role: 'verifier' }), metrics: new RollupMetrics(), ...(stores[1] ? { store: stores[1] } : {}) });
  const sequencer = new SequencerService(seqNode, { blockTimeMs: opts.blockTimeMs ?? 500 }, log.child({ role: 'sequencer' }));
  // L3 batches ride in L2 transactions, which carry at most 128 KiB.
  const batcher = new BatcherService(seqNode, { key: r.batcher.keys, intervalMs: 2000, maxBatchBytes: 100_000 }, log.child({ role: 'batcher' }));
  const proposer = new ProposerService(seqNode, { key: r.proposer.keys, interval: 2, maxWaitL1Blocks: 6, intervalMs: 1000 }, log.child({ role: 'proposer' }));
  const challenger = new ChallengerService(verNode, { key: r.challenger.keys, intervalMs: 1000 }, log.child({ role: 'challenger' }));
  const rpc = await startL2Rpc(seqNode, { host: opts.host, port: opts.port ?? (opts.l1Port === 0 ? 0 : opts.l1Port + 2) }, { logger: log });
  for (const s of [sequencer, batcher, proposer, challenger]) s.start();
  log.info({ rpc: rpc.url, parent: 'l2', challengeWindow: cfg.challengeWindow }, 'L3 started on the L2');
  const short = shortL3Windows(cfg, l2.config);
  if (short.length > 0) log.warn({ fields: short, safeWindow: safeL3Window(l2.config) }, 'L3 windows shorter than a hostile L2 sequencer plus forced inclusion may need: a censored L3 party may not get in on time');
  return {
    config: cfg,
    rpcUrl: rpc.url,
    wsUrl: rpc.wsUrl,
    sequencer: seqNode,
    verifier: verNode,
    async stop() {
      for (const s of [challenger, proposer, batcher, sequencer]) {
        try {
          await s.stop();
        } catch (e) {
          log.warn({ error: toStrataError(e).message }, 'L3 role did not stop cleanly');
        }
      }
      await rpc.stop();
      for (const st of stores) await st.close();
    },
  };
}
