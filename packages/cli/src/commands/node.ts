import type { Command } from 'commander';
import { P2PNetwork, StrataNode, startRpc, type NetworkOptions } from '@strata/node';
import { StrataError, toHex } from '@strata/primitives';
import { defaultChainConfig, parseAddress } from '@strata/runtime';
import { createLogger } from '../logger.js';
import { fail } from '../output.js';
import { intOption, numberOption, readChainConfig, readNetworkSettings } from './common.js';

interface NodeFlags {
  dataDir: string;
  config?: string;
  host: string;
  rpcPort: number;
  metricsPort?: number;
  mine?: boolean;
  dev?: boolean;
  blockTime: number;
  producer?: string;
  adminToken?: string;
  logLevel: string;
  logFile?: string;
  json?: boolean;
  listen?: string[];
  announce?: string[];
  bootnodes?: string[];
  p2p: boolean;
  network?: string;
  banSeconds?: number;
  printEndpoints?: boolean;
  maxReorgDepth?: number;
  parentPid?: number;
  rpcTrustedProxy?: string[];
}

/** Splits repeated and comma-separated multiaddr flags into one list. */
function multiaddrList(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...v.split(/[\s,]+/).filter((x) => x !== '')];
}

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description('Run an L1 node with a data dir and a chain config file (proof of work by default)')
    .requiredOption('--data-dir <dir>', 'where the chain is stored (lmdb); restarting with it resumes')
    .option('--config <file>', 'chain config (JSON or TOML): block interval, limits, confirmations, fees, genesis')
    .option('--host <host>', 'interface for RPC and metrics', '127.0.0.1')
    .option('--rpc-port <port>', 'JSON-RPC port (HTTP and WebSocket)', intOption('--rpc-port'), 8545)
    .option(
      '--rpc-trusted-proxy <ip...>',
      'reverse proxy in front of the RPC (its address or CIDR range, e.g. 127.0.0.1, 10.0.0.0/8, fd00::/8): calls from it are charged to the client its X-Forwarded-For names, and loopback is no longer exempt from the per-address call budget (comma-separated or repeated)',
      multiaddrList,
    )
    .option('--metrics-port <port>', 'Prometheus metrics port (default: RPC port + 1000)', intOption('--metrics-port'))
    .option('--mine', 'mine blocks with proof of work on a worker thread')
    .option('--dev', 'dev sealing instead of proof of work (needs a config with pow.enabled = false)')
    .option('--block-time <seconds>', 'with --dev: seconds between blocks (0 = on each transaction)', numberOption('--block-time'), 0)
    .option('--producer <address>', 'address credited with fees and rewards of mined blocks')
    .option('--admin-token <token>', 'enables admin_* RPC methods for callers presenting this bearer token')
    .option('--log-level <level>', 'trace | debug | info | warn | error', 'info')
    .option('--log-file <file>', 'write JSON logs here instead of stdout')
    .option('--listen <multiaddr...>', 'p2p listen addresses (default /ip4/0.0.0.0/tcp/30333)', multiaddrList)
    .option('--announce <multiaddr...>', 'p2p addresses to announce to peers instead of the listen addresses (public IP, NAT)', multiaddrList)
    .option('--bootnodes <multiaddr,...>', 'peers to dial at start, each ending in /p2p/<peerId> (comma-separated or repeated)', multiaddrList)
    .option('--network <file>', 'node network settings (JSON or TOML): listen, announce, bootnodes, banSeconds, maxConnections; flags override')
    .option('--ban-seconds <n>', 'how long a misbehaving peer is refused', intOption('--ban-seconds'))
    .option('--max-reorg-depth <n>', 'reorg brake: refuse and alarm on a heavier branch that reverts more than n blocks; release with admin_releaseReorgBrake (with proof of work off by default; without it, defaults to the chain confirmations)', intOption('--max-reorg-depth'))
    .option('--no-p2p', 'run without the peer-to-peer network')
    .option('--parent-pid <pid>', 'stop when this process is gone (set by `strata devnet` for its extra nodes)', intOption('--parent-pid'))
    .option('--print-endpoints', 'print one JSON line with the RPC URL, peer id and multiaddrs once ready')
    .option('--json', 'errors as JSON')
    .action(async (flags: NodeFlags) => {
      try {
        const base = defaultChainConfig();
        const config = readChainConfig(flags.config, { ...base, pow: { ...base.pow, enabled: !flags.dev } });
        if (flags.mine && !flags.producer) {
          throw new StrataError('CONFIG_INVALID', '--mine needs --producer ADDRESS: the account that receives block rewards and fees');
        }
        if (flags.mine && !config.pow.enabled) {
          throw new StrataError('CONFIG_INVALID', '--mine needs proof of work (pow.enabled = true in the chain config); for dev sealing use --dev');
        }
        if (flags.dev && config.pow.enabled) throw new StrataError('CONFIG_INVALID', '--dev needs a chain config with pow.enabled = false');
        const logger = createLogger({ level: flags.logLevel, ...(flags.logFile ? { file: flags.logFile } : {}) });
        const node = await StrataNode.create(
          {
            dataDir: flags.dataDir,
            config,
            mining: flags.dev ? 'dev' : flags.mine ? 'pow' : 'off',
            blockTimeMs: Math.round(flags.blockTime * 1000),
            ...(flags.maxReorgDepth !== undefined ? { maxReorgDepth: flags.maxReorgDepth } : {}),
            ...(flags.producer ? { producer: parseAddress(flags.producer, config.addressPrefix) } : {}),
          },
          { logger },
        );
        if (flags.p2p) {
          const file: NetworkOptions = flags.network ? readNetworkSettings(flags.network) : {};
          node.network = new P2PNetwork({
            ...file,
            listen: flags.listen ?? file.listen ?? ['/ip4/0.0.0.0/tcp/30333'],
            ...(flags.announce ?? file.announce ? { announce: flags.announce ?? file.announce } : {}),
            ...(flags.bootnodes ?? file.bootnodes ? { bootnodes: flags.bootnodes ?? file.bootnodes } : {}),
            ...(flags.banSeconds !== undefined ? { banSeconds: flags.banSeconds } : {}),
          });
        }
        await node.start();
        const rpc = await startRpc(node, {
          host: flags.host,
          port: flags.rpcPort,
          ...(flags.adminToken ? { adminToken: flags.adminToken } : {}),
          ...(flags.rpcTrustedProxy?.length ? { trustedProxies: flags.rpcTrustedProxy } : {}),
        });
        if (flags.rpcTrustedProxy?.length) logger.info({ trustedProxies: flags.rpcTrustedProxy }, 'RPC behind reverse proxies: clients are read from X-Forwarded-For, loopback is not exempt from the call budget');
        const metricsUrl = await node.metrics.serve(flags.host, flags.metricsPort ?? (flags.rpcPort === 0 ? 0 : flags.rpcPort + 1000));
        const net = node.network?.info();
        const endpoints = { rpc: rpc.url, ws: rpc.wsUrl, metrics: metricsUrl, genesis: toHex(node.chain.genesisHash), peerId: net?.peerId ?? null, multiaddrs: net?.multiaddrs ?? [] };
        logger.info(endpoints, 'endpoints');
        if (flags.printEndpoints) process.stdout.write(`${JSON.stringify(endpoints)}\n`);
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down');
          await rpc.stop();
          await node.metrics.stop();
          await node.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void shutdown('SIGINT'));
        process.on('SIGTERM', () => void shutdown('SIGTERM'));
        // Started by a devnet: stop with it, even if it was killed without a chance to stop us.
        const parentPid = flags.parentPid;
        if (parentPid !== undefined && parentPid > 0) {
          setInterval(() => {
            try {
              process.kill(parentPid, 0);
            } catch {
              logger.warn({ parentPid }, 'parent process is gone');
              void shutdown('parent exited');
            }
          }, 1000).unref();
        }
      } catch (e) {
        fail(!!flags.json, e);
      }
    });
}
