/**
 * The devnet's BFT sidechain: the L1 hosts the `sc_registry` module and its `sidechain_*` RPC
 * methods; at start one 4-validator sidechain is launched against the devnet's L1 exactly as
 * `strata sidechain launch` does (registered and bonded by a dev account, validators as
 * separate processes on loopback), under `<dataDir>/sidechains/`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StrataNode } from '@strata/node';
import type { RpcServer } from '@strata/rpc';
import type { Module } from '@strata/runtime';
import { launchSidechain, readLaunch, resumeSidechain, sidechainL1RpcMethods, sidechainParentModules, stopSidechain, type LaunchedSidechain } from '@strata/sidechain';
import type { DevAccount } from './accounts.js';

/** Sidechain settings of the devnet. */
export interface DevnetSidechainOptions {
  /** Validators of the devnet's sidechain (default 4). */
  validators?: number;
  /** Name (default `axon`). */
  name?: string;
  /** First validator RPC port (default L1 port + 30; 0 picks free ports). */
  port?: number;
}

/** The L1 modules of the sidechain layer. */
export function devnetSidechainModules(): Module[] {
  return sidechainParentModules();
}

/** A running devnet sidechain. */
export interface DevnetSidechain {
  launch: LaunchedSidechain;
  stop(): Promise<void>;
}

/** The dev account that registers and bonds the devnet's sidechain (fourth from the end). */
export function sidechainFunder(accounts: DevAccount[]): DevAccount {
  return accounts[Math.max(0, accounts.length - 4)] as DevAccount;
}

/** Registers the L1 RPC methods and launches the sidechain. */
export async function startDevnetSidechain(
  l1: { node: StrataNode; rpc: RpcServer },
  accounts: DevAccount[],
  opts: DevnetSidechainOptions & { host: string; l1Port: number; dataDir: string; logLevel?: string },
  logger: Logger,
): Promise<DevnetSidechain> {
  l1.rpc.registerAll(sidechainL1RpcMethods(l1.node));
  const log = logger.child({ layer: 'sidechain' });
  const name = opts.name ?? 'axon';
  const baseDir = join(opts.dataDir, 'sidechains');
  const launch = existsSync(join(baseDir, name, 'launch.json'))
    ? await resumeSidechain({ ...readLaunch(name, baseDir), l1Url: l1.rpc.url }, { host: opts.host, parentPid: process.pid, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) })
    : await launchSidechain(
    {
      l1Url: l1.rpc.url,
      funder: sidechainFunder(accounts).keys,
      validators: opts.validators ?? 4,
      name,
      baseDir,
      parentPid: process.pid,
      host: opts.host,
      rpcBasePort: opts.port ?? (opts.l1Port === 0 ? 0 : opts.l1Port + 30),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    },
    log,
  );
  return {
    launch,
    async stop() {
      await stopSidechain(launch);
      log.info({ name: launch.name }, 'sidechain validators stopped');
    },
  };
}
