import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type Devnet, formatCoins, startDevnet } from '@strata/devnet';
import { DEV_MNEMONIC, DERIVATION_PREFIX, toHex } from '@strata/primitives';
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
  l1Nodes: number;
  maliciousProposer?: boolean;
  challengeWindow?: number;
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
    .option('--l1-nodes <n>', 'L1 mining nodes: above 1, real PoW miners over libp2p on loopback, the extra ones as separate processes (L1 only)', intOption('--l1-nodes'), 1)
    .option('--quiet', 'print only the banner, not a line per block')
    .option('--json', 'print the banner as JSON')
    .option('--malicious-proposer', 'the rollup proposer posts a wrong output root now and then (watch a fraud proof)')
    .option('--challenge-window <l1 blocks>', 'rollup challenge window in L1 blocks (default 10)', intOption('--challenge-window'))
    .action(async (flags: DevnetFlags) => {
      try {
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
            ...(flags.l1Nodes > 1 ? { l1Nodes: flags.l1Nodes, logLevel: flags.logLevel } : {}),
            rollup: flags.rollup
              ? { ...(flags.maliciousProposer ? { maliciousProposer: true } : {}), ...(flags.challengeWindow !== undefined ? { challengeWindow: flags.challengeWindow } : {}) }
              : false,
            channels: flags.channels,
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
        const banner = {
          layers: {
            l1: {
              name: devnet.config.name,
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
              ? { l2: { kind: 'optimistic rollup', rollupId: devnet.l2.config.rollupId, chainId: devnet.l2.config.l2ChainId, rpc: devnet.l2.rpcUrl, ws: devnet.l2.wsUrl, challengeWindow: devnet.l2.config.challengeWindow, maliciousProposer: !!flags.maliciousProposer } }
              : {}),
            ...(devnet.channels
              ? { channels: { kind: 'payment channels on the L1', nodes: devnet.channels.nodes.map((n) => ({ name: n.name, rpc: n.rpcUrl, nodeKey: n.node.info().nodeKey, p2p: n.node.p2p.multiaddrs[0] ?? null })), channels: devnet.channels.channels } }
              : {}),
          },
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
            `  L1  ${devnet.config.name}  (chain id ${devnet.config.chainId}, dev sealing: ${banner.layers.l1.sealing})`,
            `      RPC      ${devnet.l1.rpcUrl}`,
            `      WS       ${devnet.l1.wsUrl}`,
            `      Metrics  ${devnet.l1.metricsUrl}`,
            `      Genesis  ${banner.layers.l1.genesisHash}`,
            `      Head     #${head.meta.height}${banner.resumed ? ` (resumed from data dir at #${devnet.resumedFromHeight})` : ''}`,
            ...(devnet.l1Peers ? l1NodeList(devnet).flatMap((n) => [`      Node ${n.index}   RPC ${n.rpc}${n.index === 0 ? ' (default)' : `  pid ${n.pid}`}`, ...n.multiaddrs.map((m) => `              ${m}`)]) : []),
            '',
            ...(devnet.l2
              ? [
                  `  L2  optimistic rollup ${devnet.l2.config.rollupId}  (chain id ${devnet.l2.config.l2ChainId}; sequencer, batcher, proposer, challenger)`,
                  `      RPC      ${devnet.l2.rpcUrl}`,
                  `      WS       ${devnet.l2.wsUrl}`,
                  `      Window   ${devnet.l2.config.challengeWindow} L1 blocks${flags.maliciousProposer ? '  (MALICIOUS proposer: watch the log for fraud proofs)' : ''}`,
                  '',
                ]
              : []),
            ...(devnet.channels
              ? [
                  '  Channels  Alice–Bob and Bob–Carol, funded and announced on the L1 (strata channel … --node alice|bob|carol)',
                  ...devnet.channels.nodes.map((n) => `      ${n.name.padEnd(8)} RPC ${n.rpcUrl}`),
                  '      try:     strata channel pay $(strata channel invoice 1000 --node carol) --node alice',
                  '',
                ]
              : []),
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
            '',
            '  Ctrl-C stops the devnet.',
            '',
          ];
          return lines.join('\n');
        });
        if (!flags.quiet && !flags.json) {
          node.on('head', (ref) => {
            const txs = node.chain.store.getBody(ref.hash)?.length ?? 0;
            process.stdout.write(`  L1 block #${ref.meta.height}  ${toHex(ref.hash).slice(0, 18)}…  ${txs} tx${txs === 1 ? '' : 's'}\n`);
          });
        }
        let stopping = false;
        const shutdown = async (sig: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal: sig }, 'shutting down');
          if (!flags.json) process.stdout.write('\n  stopping devnet…\n');
          await devnet.stop();
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
