/**
 * The devnet's ZK-rollup: its params (CI-independent, sized so the first start's key setup
 * stays around a minute or two here), registration on the in-process L1 with the dev
 * verification key, the operator with its JSON-RPC, and local prover child processes.
 */
import type { Logger } from 'pino';
import type { StrataNode } from '@strata/node';
import { encode, StrataError, toStrataError } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import {
  encodeVk,
  NodeZkL1Client,
  RegisterArgs,
  setupCircuit,
  spawnProver,
  startZkRpc,
  zkCrypto,
  zkL1RpcMethods,
  ZkOperator,
  zkParentModules,
  type CircuitArtifacts,
  type SetupProgress,
  type ZkParams,
} from '@strata/zk';
import type { Module } from '@strata/runtime';
import type { ChildProcess } from 'node:child_process';
import type { DevAccount } from './accounts.js';

/** ZK-rollup settings of the devnet. */
export interface DevnetZkOptions {
  /** The operator stops proving (watch exodus happen). */
  stall?: boolean;
  /** ZK RPC port (default L1 port + 3; 0 picks a free port). */
  port?: number;
  /** Local prover processes (default 1). */
  provers?: number;
  /** Mine an L1 block every 2 s when the L1 seals instantly (default true; off when another layer already does). */
  heartbeat?: boolean;
  /** Setup progress (the first start compiles the circuit and makes keys). */
  onSetupProgress?: SetupProgress;
  /** lmdb directory of the operator's state (a resumed devnet resumes the rollup from it). */
  dataDir?: string;
  /** Circuit size other than the devnet's depth 20 / 2 ops (tests use a CI-sized one). */
  circuit?: { depth: number; batchSize: number };
  /** Called once the rollup is registered on the L1 (the devnet starts the layers sharing its L1 account after it). */
  onRegistered?: () => void;
  /** Awaited before the operator is built (seconds of main-thread work): lets other layers spawn their processes first. */
  beforeOperator?: Promise<unknown>;
}

/** Rollup id of the devnet's ZK-rollup. */
export const DEVNET_ZK_ROLLUP_ID = 903; // 901 is the optimistic L2, 902 the L3: every devnet chain id differs
import { DEVNET_ZK_BATCH, DEVNET_ZK_DEPTH } from './zk-circuit.js';
export { DEVNET_ZK_BATCH, DEVNET_ZK_DEPTH };
/** L1 blocks a deposit may wait; and without any verified batch. */
export const DEVNET_ZK_DEADLINE = 600;
export const DEVNET_ZK_MAX_GAP = 3600;
/** Base units per L2 unit (deposits are multiples of it). */
export const DEVNET_ZK_UNIT = 1000n;

/** The devnet circuit's params. */
export function devnetZkParams(l1ChainId: number): ZkParams {
  return { l1ChainId, rollupId: DEVNET_ZK_ROLLUP_ID, depth: DEVNET_ZK_DEPTH, batchSize: DEVNET_ZK_BATCH };
}

/** The L1 modules the ZK-rollup needs. */
export function devnetZkModules(): Module[] {
  return zkParentModules();
}

/** A running devnet ZK-rollup. */
export interface DevnetZk {
  params: ZkParams;
  rpcUrl: string;
  operator?: ZkOperator;
  artifacts: CircuitArtifacts;
  stop(): Promise<void>;
}

/** Sets up keys (cached), registers the rollup, starts the operator, its RPC and provers. */
export async function startDevnetZk(
  l1: { node: StrataNode; rpc: RpcServer },
  accounts: DevAccount[],
  opts: DevnetZkOptions & { host: string; l1Port: number },
  logger: Logger,
): Promise<DevnetZk> {
  const node = l1.node;
  const log = logger.child({ layer: 'zk' });
  const params = { ...devnetZkParams(node.chain.config.chainId), ...(opts.circuit ?? {}) };
  l1.rpc.registerAll(zkL1RpcMethods(node));
  // A resumed L1 already holds the rollup: its circuit is fixed there. Say so before minutes of
  // key setup for another one (whose proofs the L1 would never accept).
  const registered = await new NodeZkL1Client(node).rollup(params.rollupId);
  if (registered && (registered.depth !== params.depth || registered.batchSize !== params.batchSize)) {
    throw new StrataError(
      'CONFIG_INVALID',
      `this devnet's L1 (its data dir) has ZK-rollup ${params.rollupId} registered with depth ${registered.depth} and batch ${registered.batchSize}, not ${params.depth} and ${params.batchSize}: start it with --zk-depth ${registered.depth} --zk-batch ${registered.batchSize}, or use a fresh --data-dir`,
      { rollupId: params.rollupId, registered: { depth: registered.depth, batchSize: registered.batchSize }, requested: { depth: params.depth, batchSize: params.batchSize } },
    );
  }
  const t = Date.now();
  const artifacts = await setupCircuit(params, opts.onSetupProgress ? { onProgress: opts.onSetupProgress } : {});
  log.info({ circuit: artifacts.hash, constraints: artifacts.constraints, cached: artifacts.cached, seconds: (Date.now() - t) / 1000, dev: artifacts.dev }, artifacts.dev ? 'zk keys ready (DEV-ONLY insecure setup)' : 'zk keys ready');
  const operatorKey = (accounts[accounts.length - 4] as DevAccount).keys;
  const client = new NodeZkL1Client(node);
  if (!(await client.rollup(params.rollupId))) {
    const args = encode(RegisterArgs, { rollupId: params.rollupId, depth: params.depth, batchSize: params.batchSize, unit: DEVNET_ZK_UNIT, priorityDeadline: DEVNET_ZK_DEADLINE, maxBatchGap: DEVNET_ZK_MAX_GAP, vk: encodeVk(artifacts.vk) });
    await client.send(operatorKey, 'register', args, 100_000);
    if (node.blockInterval === 0) await node.mineBlocks(1);
    for (let i = 0; i < 100 && !(await client.rollup(params.rollupId)); i++) await new Promise((r) => setTimeout(r, 200));
    log.info({ rollupId: params.rollupId }, 'zk-rollup registered on L1');
  }
  opts.onRegistered?.();
  await opts.beforeOperator;
  let operator: ZkOperator | undefined;
  try {
    operator = await ZkOperator.create({ rollupId: params.rollupId, key: operatorKey, vk: artifacts.vk, circuitHash: artifacts.hash, devKeys: artifacts.dev, ...(opts.stall ? { stall: true } : {}), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) }, { l1: client, crypto: await zkCrypto(), logger: log.child({ role: 'operator' }) });
  } catch (e) {
    log.warn({ error: toStrataError(e).message }, 'zk operator not started; users can still exit on L1 once it freezes (strata zk exit rebuilds the proof from L1 data)');
  }
  const rpc = operator ? await startZkRpc(operator, { host: opts.host, port: opts.port ?? (opts.l1Port === 0 ? 0 : opts.l1Port + 3) }, { logger: log }) : undefined;
  const provers: ChildProcess[] = [];
  if (operator && rpc) {
    operator.start();
    for (let i = 0; i < (opts.provers ?? 1); i++) provers.push(spawnProver(rpc.url, `local-${i}`));
  }
  // Deadlines count L1 blocks: keep the instant-seal L1 moving.
  const heartbeat =
    opts.heartbeat === false
      ? undefined
      : setInterval(() => {
          if (node.blockInterval === 0) void node.mineBlocks(1).catch(() => {});
        }, 2000);
  log.info({ rpc: rpc?.url, stall: !!opts.stall, provers: provers.length }, 'zk-rollup started');
  return {
    params,
    rpcUrl: rpc?.url ?? '',
    ...(operator ? { operator } : {}),
    artifacts,
    async stop() {
      clearInterval(heartbeat);
      for (const p of provers) p.kill('SIGTERM');
      await operator?.stop();
      await rpc?.stop();
    },
  };
}
