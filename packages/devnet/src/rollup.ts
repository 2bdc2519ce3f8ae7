/**
 * The devnet's optimistic rollup: its config (short windows, dev accounts as batcher, proposer
 * and challenger), the L1 modules it needs, and the orchestration of its roles (sequencer node
 * with batcher and proposer, a separate verifier node with the challenger) plus the L2 RPC.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StrataNode } from '@strata/node';
import {
  BatcherService,
  ChallengerService,
  L2Store,
  l1OriginClock,
  defaultRollupConfig,
  NodeL1Client,
  optimisticParentModules,
  ProposerService,
  rollupL1RpcMethods,
  RollupMetrics,
  RollupNode,
  SequencerService,
  startL2Rpc,
  type RollupConfig,
} from '@strata/optimistic';
import { toStrataError } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import type { Module } from '@strata/runtime';
import { appModules } from '@strata/apps';
import type { DevAccount } from './accounts.js';
import { channelChainRpcMethods, channelParentModules, minL2ToSelfDelay } from '@strata/channels';

/** Rollup settings of the devnet. */
export interface DevnetRollupOptions {
  /** Challenge window in L1 blocks (default 10). */
  challengeWindow?: number;
  /** The proposer posts a wrong root every few outputs (a fraud proof to watch). */
  maliciousProposer?: boolean;
  /** L2 RPC port (default L1 port + 1; 0 picks a free port). */
  port?: number;
  /** L2 block interval (default 250 ms). */
  blockTimeMs?: number;
  /** Seal an empty L2 block after this long without transactions (set when an L3 runs on the L2: it derives from L2 blocks). */
  heartbeatMs?: number;
  /** Keep the L2 nodes' chains here (lmdb): a restart resumes instead of re-deriving from L1 genesis. */
  dataDir?: string;
}

/** Dev account roles: batcher = last account, proposer = second to last, challenger = third to last. */
export function devnetRollupConfig(accounts: DevAccount[], opts: DevnetRollupOptions = {}, childModules: Module[] = []): RollupConfig {
  const batcher = accounts[accounts.length - 1] as DevAccount;
  // The L2 runtime: token and AMM, the channel adjudicator, plus the settlement modules of its children (the L3).
  // The adjudicator counts the L2's L1 origin (dispute delays, HTLC and swap expiries in L1 blocks): the
  // L2 sequencer makes L2 blocks at will, it cannot make L1 blocks.
  // An empty defender slot (a beaten defender) stays open 4 L1 blocks for anyone to take over.
  // Its dispute delays are at least 2W + F + 1 L1 blocks (minL2ToSelfDelay): a party the sequencer
  // censors forces its penalty through the L1 inbox in time.
  const sequencingWindow = 10;
  return defaultRollupConfig({ batcher: batcher.keys.address, challengeWindow: opts.challengeWindow ?? 10, clockBlocks: 12, takeoverBlocks: 4, sequencingWindow, l2Modules: [...appModules(), ...channelParentModules({ clock: l1OriginClock, minToSelfDelay: minL2ToSelfDelay(sequencingWindow) }), ...childModules] });
}

/** The L1 modules the rollup needs. */
export function devnetRollupModules(cfg: RollupConfig): Module[] {
  return optimisticParentModules(cfg);
}

/** A running devnet rollup. */
export interface DevnetRollup {
  config: RollupConfig;
  rpcUrl: string;
  wsUrl: string;
  sequencer: RollupNode;
  verifier: RollupNode;
  /** The L2 RPC server (children register their parent-side methods on it). */
  rpc: RpcServer;
  stop(): Promise<void>;
}

/** Starts the rollup's roles against the in-process L1 node and serves the L2 RPC. */
export async function startDevnetRollup(
  l1: { node: StrataNode; rpc: RpcServer },
  cfg: RollupConfig,
  accounts: DevAccount[],
  opts: DevnetRollupOptions & { host: string; l1Port: number },
  logger: Logger,
): Promise<DevnetRollup> {
  const node = l1.node;
  l1.rpc.registerAll(rollupL1RpcMethods(node, cfg));
  const client = new NodeL1Client(node, cfg, (a) => node.mempool.nextNonce(a, node.chain.account(a).nonce));
  const log = logger.child({ layer: 'l2' });
  const metrics = new RollupMetrics();
  const stores = opts.dataDir ? [new L2Store({ path: join(opts.dataDir, 'sequencer') }), new L2Store({ path: join(opts.dataDir, 'verifier') })] : [];
  const seqNode = new RollupNode({ rollup: cfg, sequencer: opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {} }, client, { logger: log.child({ role: 'sequencer' }), metrics, ...(stores[0] ? { store: stores[0] } : {}) });
  const verNode = new RollupNode({ rollup: cfg }, client, { logger: log.child({ role: 'verifier' }), metrics: new RollupMetrics(), ...(stores[1] ? { store: stores[1] } : {}) });
  const n = accounts.length;
  const sequencer = new SequencerService(seqNode, { blockTimeMs: opts.blockTimeMs ?? 250 }, log.child({ role: 'sequencer' }));
  const batcher = new BatcherService(seqNode, { key: (accounts[n - 1] as DevAccount).keys, intervalMs: 1000 }, log.child({ role: 'batcher' }));
  const proposer = new ProposerService(seqNode, { key: (accounts[n - 2] as DevAccount).keys, interval: 2, maxWaitL1Blocks: 3, maliciousEvery: opts.maliciousProposer ? 2 : 0, intervalMs: 1000 }, log.child({ role: 'proposer' }));
  const challenger = new ChallengerService(verNode, { key: (accounts[n - 3] as DevAccount).keys, intervalMs: 1000 }, log.child({ role: 'challenger' }));
  const rpc = await startL2Rpc(seqNode, { host: opts.host, port: opts.port ?? (opts.l1Port === 0 ? 0 : opts.l1Port + 1) }, { logger: log });
  rpc.registerAll(channelChainRpcMethods(() => seqNode.chain.reader()));
  // L1 heartbeat: challenge windows and game clocks count L1 blocks, so the L1 must keep moving.
  const heartbeat = setInterval(() => {
    if (node.blockInterval === 0) void node.mineBlocks(1).catch((e) => log.warn({ error: toStrataError(e).message }, 'L1 heartbeat failed'));
  }, 2000);
  for (const s of [sequencer, batcher, proposer, challenger]) s.start();
  log.info({ rpc: rpc.url, challengeWindow: cfg.challengeWindow, malicious: !!opts.maliciousProposer }, 'rollup started');
  return {
    config: cfg,
    rpcUrl: rpc.url,
    wsUrl: rpc.wsUrl,
    sequencer: seqNode,
    verifier: verNode,
    rpc,
    async stop() {
      clearInterval(heartbeat);
      for (const s of [challenger, proposer, batcher, sequencer]) await s.stop();
      await rpc.stop();
      for (const st of stores) await st.close();
    },
  };
}
