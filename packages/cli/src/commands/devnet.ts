import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DEFAULT_TOPOLOGY, type Devnet, formatCoins, parseTopologyText, startDevnet, type Topology } from '@strata/devnet';
import { DEV_MNEMONIC, DERIVATION_PREFIX, StrataError, toHex } from '@strata/primitives';
import { getAccount } from '@strata/runtime';
import { createLogger } from '../logger.js';
import { fail, print } from '../output.js';
import { intOption, numberOption, readChainConfig } from './common.js';

interface DevnetFlags {
  dataDir?: string;
  blockTime: number;
  host: string;
  port: number;
  metricsPort?: number;
  accounts: number;
  mnemonic: string;
  adminToken?: string;
  config?: string;
  json?: boolean;
  logLevel: string;
  quiet?: boolean;
  rollup: boolean;
  channels: boolean;
  sidechain: boolean;
  l3: boolean;
  zk: boolean;
  zkStall?: boolean;
  zkDepth?: number;
  zkBatch?: number;
  l1Nodes: number;
  maliciousProposer?: boolean;
  challengeWindow?: number;
  topology?: string;
  explorer: boolean;
  explorerPort?: number;
}

/** A progress bar on stderr for the first start's ZK key setup (silent when stderr is not a terminal). */
function zkSetupProgress(json: boolean): (stage: string, f: number) => void {
  let bar: InstanceType<typeof SingleBar> | undefined;
  return (stage, f) => {
    if (stage === 'cached') return;
    if (!process.stderr.isTTY || json) {
      if (f === 1 || stage !== 'dev keys (INSECURE known secret)') process.stderr.write(`zk setup: ${stage} ${Math.round(f * 100)}%\n`);
      return;
    }
    bar ??= new SingleBar({ format: '  zk setup  [{bar}] {percentage}%  {stage}', stream: process.stderr }, Presets.shades_classic);
    if (!bar.isActive) bar.start(100, 0, { stage });
    bar.update(Math.round(f * 100), { stage });
    if (f >= 1) bar.stop();
  };
}

/** The topology to start: the file's, or the embedded default, with the flags applied on top. */
export async function topologyOf(flags: Pick<DevnetFlags, 'topology' | 'l1Nodes' | 'blockTime' | 'rollup' | 'sidechain' | 'channels' | 'zk' | 'l3' | 'zkStall' | 'maliciousProposer' | 'challengeWindow'> & Partial<Pick<DevnetFlags, 'zkDepth' | 'zkBatch'>>): Promise<Topology> {
  let t: Topology;
  if (flags.topology) {
    let text: string;
    try {
      text = readFileSync(flags.topology, 'utf8');
    } catch (e) {
      throw new StrataError('CONFIG_INVALID', `cannot read topology file ${flags.topology}: ${(e as Error).message}`);
    }
    t = await parseTopologyText(text, flags.topology);
  } else t = structuredClone(DEFAULT_TOPOLOGY);
  const layers = t.layers.map((l) => ({ ...l, settings: { ...l.settings } }));
  const l1 = layers.find((l) => l.kind === 'l1');
  if (l1 && flags.l1Nodes > 1) l1.nodes = flags.l1Nodes;
  if (l1 && flags.blockTime > 0) l1.settings.blockTime = flags.blockTime;
  // Flags change the default topology; a file's layers stay unless a flag names them.
  const dropRollup = !flags.rollup || (!flags.topology && (l1?.nodes ?? 1) > 1);
  // With several L1 processes the devnet runs the L1 alone (the extra processes run the bank only).
  const l1Only = !flags.topology && (l1?.nodes ?? 1) > 1;
  const dropped = (l: (typeof layers)[number]): boolean =>
    (dropRollup && l.kind === 'optimistic') ||
    (l1Only && l.kind !== 'l1') ||
    (flags.sidechain === false && l.kind === 'sidechain') ||
    (flags.channels === false && l.kind === 'channels') ||
    (flags.zk === false && l.kind === 'zk') ||
    (flags.l3 === false && l.kind === 'l3');
  // A layer whose parent is dropped goes with it (`--no-rollup` drops the L3 on the L2).
  const gone = new Set(layers.filter(dropped).map((l) => l.name));
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of layers) {
      if (gone.has(l.name) || l.parent === undefined || !gone.has(l.parent)) continue;
      gone.add(l.name);
      grew = true;
    }
  }
  const kept = layers.filter((l) => !gone.has(l.name));
  for (const l of kept) {
    if (l.kind !== 'zk') continue;
    if (flags.zkStall) l.settings.stall = true;
    if (flags.zkDepth !== undefined) l.settings.depth = flags.zkDepth;
    if (flags.zkBatch !== undefined) l.settings.batchSize = flags.zkBatch;
  }
  for (const l of kept) {
    if (l.kind !== 'optimistic') continue;
    if (flags.maliciousProposer) l.settings.maliciousProposer = true;
    if (flags.challengeWindow !== undefined) l.settings.challengeWindow = flags.challengeWindow;
  }
  return { layers: kept };
}

/** Where clients (`--layer NAME`) find a devnet on fixed ports: $STRATA_HOME/devnet.json. */
function endpointsFile(): string {
  return join(process.env.STRATA_HOME ?? join(homedir(), '.strata'), 'devnet.json');
}

export function registerDevnetCommand(program: Command): void {
  program
    .command('devnet')
    .description('Run the local devnet: every Strata layer on this machine with funded dev accounts (what `npm start` runs)')
    .option('--data-dir <dir>', 'keep chain data here; restarting with the same dir resumes (default: a fresh temporary dir)')
    .option('--block-time <seconds>', 'seconds between blocks; 0 seals a block as soon as a transaction arrives', numberOption('--block-time'), 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'L1 JSON-RPC port (HTTP and WebSocket)', intOption('--port'), 8545)
    .option('--metrics-port <port>', 'Prometheus metrics port (default: RPC port + 1000)', intOption('--metrics-port'))
    .option('--accounts <n>', 'number of funded dev accounts', intOption('--accounts'), 10)
    .option('--mnemonic <words>', 'BIP39 mnemonic for the dev accounts', DEV_MNEMONIC)
    .option('--admin-token <token>', 'token for admin_* RPC methods (default: a random one, printed)')
    .option('--config <file>', 'chain config overrides (JSON or TOML)')
    .option('--log-level <level>', 'log level of <data-dir>/devnet.log', 'info')
    .option('--no-rollup', 'run the L1 alone, without the layer-2 rollup')
    .option('--no-channels', 'without the payment-channel nodes (Alice, Bob, Carol)')
    .option('--no-sidechain', 'do not launch the 4-validator BFT sidechain')
    .option('--no-zk', 'leave the ZK-rollup out')
    .option('--zk-stall', 'the ZK-rollup operator stops proving (watch exodus happen)')
    .option('--zk-depth <n>', 'ZK circuit account tree depth (default 20; a small one, e.g. 4, sets up in seconds)', intOption('--zk-depth'))
    .option('--zk-batch <n>', 'ZK circuit operations per proof (default 2)', intOption('--zk-batch'))
    .option('--no-l3', 'leave out the L3 app chain (token + AMM) that runs on the L2')
    .option('--l1-nodes <n>', 'L1 mining nodes: above 1, real PoW miners over libp2p on loopback, the extra ones as separate processes (L1 only)', intOption('--l1-nodes'), 1)
    .option('--quiet', 'print only the banner, not a line per block')
    .option('--json', 'print the banner as JSON')
    .option('--malicious-proposer', 'the rollup proposer posts a wrong output root now and then (watch a fraud proof)')
    .option('--challenge-window <l1 blocks>', 'rollup challenge window in L1 blocks (default 10)', intOption('--challenge-window'))
    .option('--topology <file>', 'which layers to run, how many nodes each, their parents (TOML or JSON; default: every layer, see docs/explorer.md)')
    .option('--explorer-port <port>', 'web explorer port (default: RPC port + 100)', intOption('--explorer-port'))
    .option('--no-explorer', 'do not serve the web explorer')
    .action(async (flags: DevnetFlags) => {
      try {
        const topology = await topologyOf(flags);
        const chainOverrides = flags.config ? (JSON.parse(JSON.stringify(readChainConfig(flags.config), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>) : undefined;
        const adminToken = flags.adminToken ?? toHex(crypto.getRandomValues(new Uint8Array(16))).slice(2);
        const fresh = flags.dataDir === undefined;
        const dataDir = flags.dataDir ?? mkdtempSync(join(tmpdir(), 'strata-devnet-'));
        const logFile = join(dataDir, 'devnet.log');
        const logger = createLogger({ level: flags.logLevel, file: logFile });
        const devnet = await startDevnet(
          {
            dataDir,
            blockTimeSeconds: flags.blockTime,
            host: flags.host,
            port: flags.port,
            ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort } : {}),
            accounts: flags.accounts,
            mnemonic: flags.mnemonic,
            adminToken,
            ...(chainOverrides ? { chain: chainOverrides } : {}),
            logLevel: flags.logLevel,
            topology,
            explorer: flags.explorer ? { ...(flags.explorerPort !== undefined ? { port: flags.explorerPort } : {}) } : false,
            ...(flags.sidechain === false ? { sidechain: false as const } : {}),
            // Which layers run (and ZK's stall, provers, the L3's settings) comes from the topology.
            zk: { onSetupProgress: zkSetupProgress(!!flags.json) },
            ...(flags.channels === false ? { channels: false } : {}),
          },
          { logger },
        );
        const node = devnet.l1.node;
        const accounts = devnet.accounts.map((a) => ({
          index: a.index,
          address: a.address,
          addressHex: a.addressHex,
          secretKey: a.secretKey,
          balance: getAccount(node.chain.stateReader, a.keys.address).balance,
        }));
        const head = node.chain.head;
        const byName = new Map(devnet.layers.map((l) => [l.name, l]));
        const l2Name = devnet.layers.find((l) => l.kind === 'optimistic')?.name ?? 'l2';
        const zkName = devnet.layers.find((l) => l.kind === 'zk')?.name ?? 'zk';
        const banner = {
          layers: {
            l1: {
              ...(byName.get('l1') as object),
              chainName: devnet.config.name,
              chainId: devnet.config.chainId,
              genesisHash: toHex(node.chain.genesisHash),
              rpc: devnet.l1.rpcUrl,
              ws: devnet.l1.wsUrl,
              metrics: devnet.l1.metricsUrl,
              head: head.meta.height,
              sealing: devnet.l1Peers ? `proof of work, ${flags.l1Nodes} mining nodes` : flags.blockTime === 0 ? 'instant (a block per transaction batch)' : `every ${flags.blockTime}s`,
              ...(devnet.l1Peers ? { nodes: l1NodeList(devnet) } : {}),
            },
            ...(devnet.l2
              ? {
                  [l2Name]: {
                    ...(byName.get(l2Name) as object),
                    rollupId: devnet.l2.config.rollupId,
                    chainId: devnet.l2.config.l2ChainId,
                    challengeWindow: devnet.l2.config.challengeWindow,
                    maliciousProposer: topology.layers.some((l) => l.kind === 'optimistic' && l.settings.maliciousProposer === true),
                  },
                }
              : {}),
            // Layers other branches start appear here with their name, kind, parent and URLs.
            ...Object.fromEntries(devnet.layers.filter((l) => l.name !== 'l1' && l.name !== l2Name && l.kind !== 'channels' && l.kind !== 'sidechain' && l.kind !== 'zk').map((l) => [l.name, l])),
            ...(devnet.channels
              ? { channels: { ...devnet.layers.find((l) => l.kind === 'channels'), description: 'payment channels on the L1', nodes: devnet.channels.nodes.map((n) => ({ name: n.name, rpc: n.rpcUrl, nodeKey: n.node.info().nodeKey, p2p: n.node.p2p.multiaddrs[0] ?? null })), channels: devnet.channels.channels } }
              : {}),
            ...(devnet.sidechain
              ? { sidechain: { ...devnet.layers.find((l) => l.kind === 'sidechain'), description: 'bft sidechain', sidechainName: devnet.sidechain.launch.name, chainId: devnet.sidechain.launch.chainId, validators: devnet.sidechain.launch.validators.map((v) => ({ index: v.index, rpc: v.rpc, pid: v.pid })), firstBlockMs: devnet.sidechain.launch.firstBlockMs, dir: devnet.sidechain.launch.dir } }
              : {}),
            ...(devnet.zk ? { [zkName]: { ...(byName.get(zkName) as object), proofSystem: 'groth16', rollupId: devnet.zk.params.rollupId, rpc: devnet.zk.rpcUrl, depth: devnet.zk.params.depth, batchSize: devnet.zk.params.batchSize, circuit: devnet.zk.artifacts.hash, devKeys: devnet.zk.artifacts.dev, stall: !!flags.zkStall } } : {}),
          },
          explorer: devnet.explorer?.url ?? null,
          dataDir: devnet.dataDir,
          logFile,
          resumed: devnet.resumedFromHeight > 0,
          adminToken,
          mnemonic: devnet.mnemonic,
          derivationPath: `${DERIVATION_PREFIX}/i`,
          accounts,
        };
        print(!!flags.json, banner, () => {
          const lines = [
            '',
            '  Strata devnet',
            '  =============',
            '',
            `  L1  ${devnet.config.name}  (kind l1, chain id ${devnet.config.chainId}, dev sealing: ${banner.layers.l1.sealing})`,
            `      RPC      ${devnet.l1.rpcUrl}`,
            `      WS       ${devnet.l1.wsUrl}`,
            `      Metrics  ${devnet.l1.metricsUrl}`,
            `      Genesis  ${banner.layers.l1.genesisHash}`,
            `      Head     #${head.meta.height}${banner.resumed ? ` (resumed from data dir at #${devnet.resumedFromHeight})` : ''}`,
            ...(devnet.l1Peers ? l1NodeList(devnet).flatMap((n) => [`      Node ${n.index}   RPC ${n.rpc}${n.index === 0 ? ' (default)' : `  pid ${n.pid}`}`, ...n.multiaddrs.map((m) => `              ${m}`)]) : []),
            '',
            ...(devnet.l2
              ? [
                  `  ${l2Name.toUpperCase().padEnd(3)} optimistic rollup ${devnet.l2.config.rollupId} on l1  (chain id ${devnet.l2.config.l2ChainId}; sequencer, batcher, proposer, challenger)`,
                  `      RPC      ${devnet.l2.rpcUrl}`,
                  `      WS       ${devnet.l2.wsUrl}`,
                  `      Window   ${devnet.l2.config.challengeWindow} L1 blocks${topology.layers.some((l) => l.kind === 'optimistic' && l.settings.maliciousProposer === true) ? '  (MALICIOUS proposer: watch the dispute lines below)' : ''}`,
                  '',
                ]
              : []),
            // Layers without a section of their own below: name, kind, parent, endpoints.
            ...devnet.layers
              .filter((l) => l.name !== 'l1' && l.name !== l2Name && l.kind !== 'channels' && l.kind !== 'sidechain' && l.kind !== 'zk')
              .flatMap((l) => [`  ${l.name.toUpperCase().padEnd(3)} ${l.kind}${l.parent ? ` on ${l.parent}` : ''}`, `      RPC      ${l.rpc}`, `      WS       ${l.ws}`, '']),
            ...(devnet.channels
              ? [
                  '  Channels  Alice–Bob and Bob–Carol, funded and announced on the L1 (strata channel … --node alice|bob|carol)',
                  ...devnet.channels.nodes.map((n) => `      ${n.name.padEnd(8)} RPC ${n.rpcUrl}`),
                  '      try:     strata channel pay $(strata channel invoice 1000 --node carol) --node alice',
                  '',
                ]
              : []),
            ...(devnet.sidechain
              ? [
                  `  SC  BFT sidechain ${devnet.sidechain.launch.name}  (chain id ${devnet.sidechain.launch.chainId}; ${devnet.sidechain.launch.validators.length} validators, checkpoints on the L1; trusts >2/3 of their stake)`,
                  ...devnet.sidechain.launch.validators.map((v) => `      RPC      ${v.rpc}  (validator ${v.index}, pid ${v.pid})`),
                  '',
                ]
              : []),
            ...(devnet.zk
              ? [
                  `  ${zkName.toUpperCase().padEnd(3)} zk-rollup ${devnet.zk.params.rollupId} on ${byName.get(zkName)?.parent ?? 'l1'}  (Groth16, depth ${devnet.zk.params.depth}, ${devnet.zk.params.batchSize} ops per proof; operator + prover)`,
                  `      RPC      ${devnet.zk.rpcUrl || 'none: the operator did not start (see the warning above)'}`,
                  `      WS       ${byName.get(zkName)?.ws ?? ''}`,
                  `      Keys     ${devnet.zk.artifacts.dev ? 'DEV-ONLY insecure setup (known toxic secret)' : 'ceremony'}  circuit ${devnet.zk.artifacts.hash}${flags.zkStall ? '  (STALLED operator: exodus after the deposit deadline)' : ''}`,
                  '',
                ]
              : []),
            ...(devnet.explorer ? [`  Explorer     ${devnet.explorer.url}   (every layer: blocks, batches, disputes, withdrawals, channels, validators)`, ''] : []),
            `  Data dir     ${devnet.dataDir}${fresh ? ' (fresh; pass --data-dir DIR to keep and resume a chain)' : ''}`,
            `  Log          ${logFile}`,
            `  Admin token  ${adminToken}`,
            '',
            '  Dev accounts',
            `  Mnemonic: ${devnet.mnemonic}`,
            `  Path:     ${DERIVATION_PREFIX}/i`,
            '',
            ...accounts.flatMap((a) => [`  (${a.index}) ${a.address}  ${formatCoins(a.balance)}`, `      key ${a.secretKey}`]),
            '',
            '  Try:  npx strata send --to <address> --amount 1000     (from account 0)',
            '        npx strata account balance <address>',
            ...(devnet.l2 ? ['        npx strata bridge deposit --amount 100000000      (L1 → L2, account 0)', '        npx strata bridge status'] : []),
            ...(devnet.sidechain ? [`        npx strata sidechain deposit ${devnet.sidechain.launch.name} --dir ${devnet.sidechain.launch.dir.replace(/\/[^/]+$/, '')} --amount 100000000`] : []),
            '',
            '  Ctrl-C stops the devnet.',
            '',
          ];
          return lines.join('\n');
        });
        // One human line per event a user cares about, on every layer (not one per empty block).
        if (!flags.quiet && !flags.json) {
          devnet.events.subscribe((e) => {
            if (e.replay) return;
            const t = new Date(e.time).toISOString().slice(11, 19);
            process.stdout.write(`  ${t}  ${e.layer.padEnd(3)}  ${e.text}\n`);
          });
        }
        // Clients find a devnet on fixed ports by its endpoints file (`--layer NAME`).
        const published = flags.port !== 0 ? endpointsFile() : undefined;
        if (published) {
          try {
            mkdirSync(dirname(published), { recursive: true });
            writeFileSync(published, JSON.stringify({ pid: process.pid, layers: devnet.layers, explorer: devnet.explorer?.url ?? null }, null, 2));
          } catch (e) {
            logger.warn({ file: published, error: (e as Error).message }, 'cannot write the endpoints file; --layer will use default ports');
          }
        }
        let stopping = false;
        const shutdown = async (sig: string) => {
          if (stopping) {
            // A second Ctrl-C while a layer hangs in stop(): leave now (the validators, provers
            // and extra nodes watch this pid and stop on their own).
            logger.warn({ signal: sig }, 'second signal while stopping: exiting now');
            if (!flags.json) process.stdout.write('  forced exit\n');
            process.exit(130);
          }
          stopping = true;
          logger.info({ signal: sig }, 'shutting down');
          if (!flags.json) process.stdout.write('\n  stopping devnet…\n');
          await devnet.stop();
          if (published) {
            try {
              if ((JSON.parse(readFileSync(published, 'utf8')) as { pid: number }).pid === process.pid) rmSync(published);
            } catch {
              // already gone
            }
          }
          process.exit(0);
        };
        process.on('SIGINT', () => void shutdown('SIGINT'));
        process.on('SIGTERM', () => void shutdown('SIGTERM'));
      } catch (e) {
        fail(!!flags.json, e);
      }
    });
}

/** Every L1 node of a multi-node devnet: index 0 is the devnet's own node (the default RPC). */
function l1NodeList(devnet: Devnet): { index: number; rpc: string; pid: number | undefined; peerId: string; multiaddrs: string[]; logFile?: string }[] {
  const own = devnet.l1.node.network?.info();
  return [
    { index: 0, rpc: devnet.l1.rpcUrl, pid: process.pid, peerId: own?.peerId ?? '', multiaddrs: own?.multiaddrs ?? [] },
    ...(devnet.l1Peers ?? []).map((p) => ({ index: p.index, rpc: p.rpcUrl, pid: p.pid, peerId: p.peerId, multiaddrs: p.multiaddrs, logFile: p.logFile })),
  ];
}
