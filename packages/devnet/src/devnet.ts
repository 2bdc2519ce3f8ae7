/**
 * The devnet orchestrator: starts every layer built so far on one machine with embedded
 * defaults (today: the L1 in dev mode), funds dev accounts from the known mnemonic, and
 * returns the endpoints. `strata devnet` and `npm start` run this.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StrataNode, startRpc } from '@strata/node';
import { DEV_MNEMONIC } from '@strata/primitives';
import { defaultChainConfig, parseChainConfig, type ChainConfig } from '@strata/runtime';
import type { RpcServer } from '@strata/rpc';
import { COIN, devAccounts, type DevAccount } from './accounts.js';
import { devnetMainNetwork, multiNodeChainOverrides, startPeerNodes, type PeerNodeProcess } from './multinode.js';
import { bankModule } from '@strata/runtime';
import { appModules } from '@strata/apps';
import { l1OriginClock, parentModules } from '@strata/optimistic';
import { devnetL3Config, startDevnetL3, type DevnetL3, type DevnetL3Options } from './l3.js';
import { devnetRollupConfig, devnetRollupModules, startDevnetRollup, type DevnetRollup, type DevnetRollupOptions } from './rollup.js';
import { EventFeed, type ExplorerLayer, LayerWatcher, startExplorer } from '@strata/explorer';
import { applyTopology, type Topology } from './topology.js';
import { channelChainRpcMethods, channelParentModules } from '@strata/channels';
import { startDevnetChannels, type DevnetChannels } from './channels.js';
import { sidechainL1RpcMethods } from '@strata/sidechain';
import { devnetSidechainModules, startDevnetSidechain, type DevnetSidechain, type DevnetSidechainOptions } from './sidechain.js';
import { devnetZkModules, startDevnetZk, type DevnetZk, type DevnetZkOptions } from './zk.js';

/** Devnet settings. */
export interface DevnetOptions {
  /** Data directory; default a fresh temporary one (as anvil). Reusing one resumes its chain. */
  dataDir?: string;
  /** Seconds between blocks; 0 (default) seals a block as soon as a transaction arrives. */
  blockTimeSeconds?: number;
  host?: string;
  /** L1 RPC port; default 8545. 0 picks a free port. */
  port?: number;
  /** Metrics port; default port + 1000; 0 picks a free port. */
  metricsPort?: number;
  accounts?: number;
  mnemonic?: string;
  /** Coins per dev account. */
  balance?: bigint;
  adminToken?: string;
  /** Chain config overrides (JSON shape of ChainConfig). */
  chain?: Record<string, unknown>;
  /** L1 mining nodes; above 1 the L1 runs real PoW miners, the extra ones as separate processes (multinode.ts). */
  l1Nodes?: number;
  /** Log level of the extra L1 node processes. */
  logLevel?: string;
  /** The optimistic rollup on top (default: on); `false` runs the L1 alone. */
  rollup?: DevnetRollupOptions | false;
  /** The L3 app chain on the rollup (default: on with the rollup); `false` leaves it out (`--no-l3`). */
  l3?: DevnetL3Options | false;
  /** The ZK-rollup on top (default: on); `false` leaves it out. */
  zk?: DevnetZkOptions | false;
  /** Which layers run (default: every layer built); overrides `l1Nodes`, `blockTimeSeconds` and `rollup`. */
  topology?: Topology;
  /** The web explorer (default: on, port + 100; 0 picks a free port); `false` runs none. */
  explorer?: { port?: number } | false;
  /** The payment-channel network (Alice, Bob, Carol on the L1; default: on). */
  channels?: boolean;
  /** The BFT sidechain (default: one with 4 validators); `false` runs without it. */
  sidechain?: DevnetSidechainOptions | false;
}

/** One layer of a running devnet, as the banner, `--json`, the explorer and `--layer` name it. */
export type DevnetLayer = ExplorerLayer & { info?: Record<string, unknown> };

/** A running devnet. */
export interface Devnet {
  dataDir: string;
  freshDataDir: boolean;
  /** L1 head height found in the data dir at start (0 for a new chain). */
  resumedFromHeight: number;
  config: ChainConfig;
  accounts: DevAccount[];
  mnemonic: string;
  l1: { node: StrataNode; rpc: RpcServer; rpcUrl: string; wsUrl: string; metricsUrl: string };
  /** With `l1Nodes` > 1: the extra L1 node processes. */
  l1Peers?: PeerNodeProcess[];
  /** The optimistic rollup, unless disabled. */
  l2?: DevnetRollup;
  /** The L3 on the L2, unless disabled. */
  l3?: DevnetL3;
  /** The ZK-rollup, unless disabled. */
  zk?: DevnetZk;
  /** Every layer running, parents first. */
  layers: DevnetLayer[];
  /** What happens on every layer (deposits, batches, roots, disputes, withdrawals…). */
  events: EventFeed;
  /** The web explorer, unless disabled. */
  explorer?: { url: string };
  /** The channel nodes, unless disabled. */
  channels?: DevnetChannels;
  /** The BFT sidechain, unless disabled. */
  sidechain?: DevnetSidechain;
  stop(): Promise<void>;
}

/** The devnet's L1 chain config: CKB-shaped limits, dev sealing, funded accounts. */
export function devnetChainConfig(opts: DevnetOptions = {}): ChainConfig {
  const mnemonic = opts.mnemonic ?? DEV_MNEMONIC;
  const accounts = devAccounts('st', opts.accounts ?? 10, mnemonic);
  const balance = (opts.balance ?? 1_000_000n) * COIN;
  return parseChainConfig(
    {
      name: 'strata-devnet-l1',
      chainId: 1337,
      confirmations: 6,
      blockReward: '0',
      targetBlockTimeMs: Math.max(1000, (opts.blockTimeSeconds ?? 0) * 1000),
      pow: { enabled: false },
      genesis: { timestamp: 1_735_689_600_000, alloc: accounts.map((a) => ({ address: a.address, balance: balance.toString() })) },
      ...opts.chain,
    },
    defaultChainConfig(),
  );
}

/** Resolves once some sidechain is registered on the L1 (read in-process), or after `maxMs`. */
async function untilSidechainListed(node: StrataNode, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  const list = sidechainL1RpcMethods(node).sidechain_list;
  while (Date.now() < end) {
    if (((await list?.handler([], {} as never)) as unknown[] | undefined)?.length) {
      // The validators spawn right after registration: give the launcher a moment to fork them.
      await new Promise((r) => setTimeout(r, 700));
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the devnet. */
export async function startDevnet(optsIn: DevnetOptions, deps: { logger: Logger }): Promise<Devnet> {
  const opts = optsIn.topology ? applyTopology(optsIn, optsIn.topology) : optsIn;
  const fresh = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'strata-devnet-'));
  const multi = (opts.l1Nodes ?? 1) > 1;
  const config = devnetChainConfig(multi ? { ...opts, chain: { ...multiNodeChainOverrides(), ...opts.chain } } : opts);
  const mnemonic = opts.mnemonic ?? DEV_MNEMONIC;
  const accounts = devAccounts(config.addressPrefix, opts.accounts ?? 10, mnemonic);
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8545;
  // The extra L1 processes run the bank module only, so a multi-node L1 runs without the rollup.
  const l3Cfg = opts.rollup === false || multi || opts.l3 === false ? undefined : devnetL3Config(accounts, opts.l3 ?? {});
  const rollupCfg = opts.rollup === false || multi ? undefined : devnetRollupConfig(accounts, opts.rollup ?? {}, l3Cfg ? parentModules(l3Cfg, { clock: l1OriginClock }) : []);
  const zkOn = opts.zk !== false && !multi;
  const node = await StrataNode.create(
    {
      dataDir: join(dataDir, 'l1'),
      config,
      mining: multi ? 'pow' : 'dev',
      blockTimeMs: Math.round((opts.blockTimeSeconds ?? 0) * 1000),
      producer: (accounts[0] as DevAccount).keys.address,
      ...(multi ? {} : { modules: [bankModule, ...appModules(), ...(rollupCfg ? devnetRollupModules(rollupCfg) : []), ...channelParentModules(), ...devnetSidechainModules(), ...(zkOn ? devnetZkModules() : [])] }),
    },
    { logger: deps.logger.child({ layer: 'l1' }) },
  );
  if (multi) node.network = devnetMainNetwork(host);
  const resumedFromHeight = node.chain.head.meta.height;
  await node.start();
  const rpc = await startRpc(node, { host, port, ...(opts.adminToken ? { adminToken: opts.adminToken } : {}) });
  if (!multi) rpc.registerAll(channelChainRpcMethods(() => node.chain.stateReader));
  const metricsUrl = await node.metrics.serve(host, opts.metricsPort ?? (port === 0 ? 0 : port + 1000));
  const peers = multi
    ? await startPeerNodes(
        { dataDir, config, count: (opts.l1Nodes as number) - 1, host, basePort: port, bootnodes: node.network?.info().multiaddrs ?? [], accounts, ...(opts.adminToken ? { adminToken: opts.adminToken } : {}), ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) },
        deps,
      )
    : undefined;
  // With an L3 on top, the L2 seals a block at least every second (the L3 derives from L2 blocks; its clocks count their L1 origin).
  const l2 = rollupCfg
    ? await startDevnetRollup({ node, rpc }, rollupCfg, accounts, { ...(opts.rollup || {}), host, l1Port: port, dataDir: join(dataDir, 'l2'), ...(l3Cfg ? { heartbeatMs: 1000 } : {}) }, deps.logger)
    : undefined;
  const l3 = l2 && l3Cfg ? await startDevnetL3(node, l2, l3Cfg, accounts, { ...(opts.l3 || {}), host, l1Port: port, dataDir: join(dataDir, 'l3') }, deps.logger) : undefined;
  // The channel network starts first (in-process libp2p dials time out if the main thread is
  // busy); then the sidechain and the ZK-rollup side by side: the sidechain's validator processes
  // and the ZK operator's set-up dominate a warm start. The sidechain's funder and the ZK operator
  // share an L1 account, so the sidechain registers only after the ZK-rollup has (no two
  // transactions racing for one nonce), and the operator (seconds of main-thread work) is built
  // once the sidechain is registered, i.e. about to spawn its validators.
  const channelsP = !multi && opts.channels !== false ? startDevnetChannels(rpc.url, accounts, { dataDir, host, l1Port: port }, deps.logger) : undefined;
  await channelsP?.catch(() => {});
  let zkRegistered: () => void = () => {};
  const registered = new Promise<void>((r) => {
    zkRegistered = r;
  });
  const scOn = opts.sidechain !== false && !multi;
  const sidechainRegistered = scOn ? untilSidechainListed(node, 20_000) : Promise.resolve();
  const zkP = zkOn ? startDevnetZk({ node, rpc }, accounts, { heartbeat: !l2, ...(opts.zk || {}), host, l1Port: port, dataDir: join(dataDir, 'zk'), onRegistered: zkRegistered, beforeOperator: sidechainRegistered }, deps.logger) : undefined;
  if (!zkP) zkRegistered();
  const sidechainP = !scOn
    ? undefined
    : Promise.race([registered, zkP?.then(() => {}) ?? registered]).then(() =>
        startDevnetSidechain({ node, rpc }, accounts, { ...(opts.sidechain || {}), host, l1Port: port, dataDir, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) }, deps.logger),
      );
  const started = await Promise.allSettled([channelsP, sidechainP, zkP]);
  const failed = started.find((x) => x.status === 'rejected');
  if (failed) {
    // Stop what did start before reporting the first failure.
    for (const x of started) if (x.status === 'fulfilled') await x.value?.stop().catch(() => {});
    await l3?.stop().catch(() => {});
    await l2?.stop().catch(() => {});
    await peers?.stop().catch(() => {});
    await rpc.stop().catch(() => {});
    await node.metrics.stop().catch(() => {});
    await node.stop().catch(() => {});
    throw (failed as PromiseRejectedResult).reason;
  }
  const value = <T,>(x: PromiseSettledResult<T>): T | undefined => (x.status === 'fulfilled' ? x.value : undefined);
  const channels = value(started[0] as PromiseSettledResult<DevnetChannels | undefined>);
  const sidechain = value(started[1] as PromiseSettledResult<DevnetSidechain | undefined>);
  const zk = value(started[2] as PromiseSettledResult<DevnetZk | undefined>);
  // Every layer, parents first (other layers append theirs here as they start).
  const nameOf = (kind: string, fallback: string) => opts.topology?.layers.find((x) => x.kind === kind)?.name ?? fallback;
  const ws = (url: string) => url.replace(/^http/, 'ws');
  const layers: DevnetLayer[] = [{ name: nameOf('l1', 'l1'), kind: 'l1', parent: null, rpc: rpc.url, ws: rpc.wsUrl }];
  const l2Name = nameOf('optimistic', 'l2');
  if (l2) layers.push({ name: l2Name, kind: 'optimistic', parent: layers[0]?.name ?? 'l1', rpc: l2.rpcUrl, ws: l2.wsUrl });
  // The L3 is an optimistic rollup whose parent is the L2 (kind `l3`: batches, roots, disputes on the L2).
  if (l3) layers.push({ name: nameOf('l3', 'l3'), kind: 'l3', parent: l2Name, rpc: l3.rpcUrl, ws: l3.wsUrl });
  // No RPC when its operator could not start (logged): the devnet runs on without the layer.
  if (zk?.rpcUrl) layers.push({ name: nameOf('zk', 'zk'), kind: 'zk', parent: layers[0]?.name ?? 'l1', rpc: zk.rpcUrl, ws: ws(zk.rpcUrl) });
  if (channels) {
    const first = channels.nodes[0] as (typeof channels.nodes)[number];
    layers.push({ name: nameOf('channels', 'channels'), kind: 'channels', parent: layers[0]?.name ?? 'l1', rpc: first.rpcUrl, ws: ws(first.rpcUrl), members: channels.nodes.map((n) => ({ name: n.name, rpc: n.rpcUrl })) });
  }
  if (sidechain) {
    const v0 = sidechain.launch.validators[0];
    if (v0) layers.push({ name: nameOf('sidechain', 'sidechain'), kind: 'sidechain', parent: layers[0]?.name ?? 'l1', rpc: v0.rpc, ws: ws(v0.rpc), members: sidechain.launch.validators.map((v) => ({ name: `v${v.index}`, rpc: v.rpc })) });
  }
  const events = new EventFeed();
  const watcher = new LayerWatcher(layers, events, { history: 0 });
  watcher.start();
  const explorer =
    opts.explorer === false
      ? undefined
      : await startExplorer({ host, port: opts.explorer?.port ?? (port === 0 ? 0 : port + 100), layers, feed: events, watcher, accounts: accounts.map((a) => ({ index: a.index, address: a.address })) });
  return {
    dataDir,
    freshDataDir: fresh,
    resumedFromHeight,
    config,
    accounts,
    mnemonic,
    l1: { node, rpc, rpcUrl: rpc.url, wsUrl: rpc.wsUrl, metricsUrl },
    ...(l2 ? { l2 } : {}),
    ...(channels ? { channels } : {}),
    ...(sidechain ? { sidechain } : {}),
    ...(zk ? { zk } : {}),
    ...(l3 ? { l3 } : {}),
    ...(peers ? { l1Peers: peers.nodes } : {}),
    layers,
    events,
    ...(explorer ? { explorer: { url: explorer.url } } : {}),
    async stop() {
      watcher.stop();
      await explorer?.stop();
      await channels?.stop();
      await sidechain?.stop();
      await peers?.stop();
      await l3?.stop();
      await zk?.stop();
      await l2?.stop();
      await rpc.stop();
      await node.metrics.stop();
      await node.stop();
    },
  };
}
