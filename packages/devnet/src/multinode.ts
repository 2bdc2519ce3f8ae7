/**
 * Multi-node L1 for the devnet (`strata devnet --l1-nodes N`): the devnet's own L1 node plus
 * N-1 `strata node` child processes on loopback, all real proof-of-work miners on one shared
 * chain config written to a file (low difficulty, retargeting on), so they really race, fork and
 * converge over libp2p. The children dial the devnet's node as their bootnode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { P2PNetwork } from '@strata/node';
import { encodeAddress, StrataError } from '@strata/primitives';
import { chainConfigToJson, type ChainConfig } from '@strata/runtime';
import type { DevAccount } from './accounts.js';

/** Expected hashes per block at genesis (per machine; retargeting adapts it to the block time). */
const DEVNET_HASHES_PER_BLOCK = 400_000n;

/** Chain config overrides that turn the devnet L1 into a real PoW chain all nodes can share. */
export function multiNodeChainOverrides(): Record<string, unknown> {
  const target = (1n << 256n) / DEVNET_HASHES_PER_BLOCK;
  return {
    targetBlockTimeMs: 2000,
    pow: { enabled: true, initialTarget: `0x${target.toString(16).padStart(64, '0')}`, retargetInterval: 20, maxAdjust: 4, maxTarget: `0x${'f'.repeat(64)}` },
  };
}

/** The devnet's own node's network: loopback, ephemeral port, key in its data dir. */
export function devnetMainNetwork(host: string): P2PNetwork {
  return new P2PNetwork({ listen: [`/ip4/${host === 'localhost' ? '127.0.0.1' : host}/tcp/0`], localNetwork: true });
}

/** One extra L1 node process. */
export interface PeerNodeProcess {
  index: number;
  pid: number | undefined;
  dataDir: string;
  rpcUrl: string;
  wsUrl: string;
  peerId: string;
  multiaddrs: string[];
  logFile: string;
}

/** Options of `startPeerNodes`. */
export interface PeerNodesOptions {
  /** Devnet data dir: the shared config goes to `<dataDir>/l1-chain.json`, node i to `<dataDir>/l1-node<i>`. */
  dataDir: string;
  config: ChainConfig;
  /** How many extra nodes (N-1). */
  count: number;
  host: string;
  /** First RPC port (node i gets basePort + i); 0 for ephemeral ports. */
  basePort: number;
  bootnodes: string[];
  accounts: DevAccount[];
  adminToken?: string;
  logLevel?: string;
  /** Command that runs the CLI (default: this repository's bin/strata.js under the current node). */
  command?: string[];
}

/** Writes the shared chain config file all nodes read; returns its path. */
export function writeSharedChainConfig(dataDir: string, config: ChainConfig): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'l1-chain.json');
  writeFileSync(file, `${JSON.stringify(chainConfigToJson(config), null, 2)}\n`);
  return file;
}

function defaultCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../../bin/strata.js', import.meta.url))];
}

function startOne(cmd: string[], args: string[], timeoutMs: number): Promise<{ child: ChildProcess; endpoints: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0] as string, [...cmd.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const finish = (e?: StrataError, endpoints?: Record<string, unknown>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        child.kill('SIGKILL');
        reject(e);
      } else resolve({ child, endpoints: endpoints as Record<string, unknown> });
    };
    const timer = setTimeout(() => finish(new StrataError('NETWORK', `L1 node process did not start within ${timeoutMs} ms: ${err.slice(0, 500)}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(out.slice(0, nl)));
      } catch (e) {
        finish(new StrataError('INTERNAL', `L1 node process printed an unexpected line: ${out.slice(0, 200)}`, {}, { cause: e }));
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => finish(new StrataError('NETWORK', `L1 node process exited (${code}) while starting: ${err.slice(0, 500)}`)));
  });
}

/**
 * Starts `count` mining `strata node` processes that bootstrap from `bootnodes`. Resolves once
 * each has printed its endpoints; `stop()` sends SIGINT and waits (SIGKILL after 10 s).
 */
export async function startPeerNodes(opts: PeerNodesOptions, deps: { logger: Logger }): Promise<{ nodes: PeerNodeProcess[]; stop(): Promise<void> }> {
  const file = writeSharedChainConfig(opts.dataDir, opts.config);
  // Every node of the devnet shares this host's IP: no IP-colocation penalty among them.
  const netFile = join(opts.dataDir, 'l1-network.json');
  writeFileSync(netFile, JSON.stringify({ localNetwork: true }));
  const cmd = opts.command ?? defaultCommand();
  const children: ChildProcess[] = [];
  const nodes: PeerNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((res) => {
            if (c.exitCode !== null || c.signalCode !== null) return res();
            const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(t);
              res();
            });
            c.kill('SIGINT');
          }),
      ),
    );
  };
  try {
    for (let i = 1; i <= opts.count; i++) {
      const dataDir = join(opts.dataDir, `l1-node${i}`);
      const logFile = join(opts.dataDir, `l1-node${i}.log`);
      const producer = opts.accounts[i % opts.accounts.length] as DevAccount;
      const args = [
        'node',
        '--data-dir', dataDir,
        '--config', file,
        '--network', netFile,
        '--mine',
        '--host', opts.host,
        '--rpc-port', String(opts.basePort === 0 ? 0 : opts.basePort + i),
        '--metrics-port', '0',
        '--listen', `/ip4/${opts.host === 'localhost' ? '127.0.0.1' : opts.host}/tcp/0`,
        '--bootnodes', opts.bootnodes.join(','),
        '--producer', encodeAddress(opts.config.addressPrefix, producer.keys.address),
        '--log-file', logFile,
        '--log-level', opts.logLevel ?? 'info',
        '--print-endpoints',
        '--parent-pid', String(process.pid),
        ...(opts.adminToken ? ['--admin-token', opts.adminToken] : []),
      ];
      const { child, endpoints } = await startOne(cmd, args, 30_000);
      children.push(child);
      child.on('exit', (code, signal) => deps.logger.info({ node: i, code, signal }, 'L1 node process exited'));
      const n: PeerNodeProcess = {
        index: i,
        pid: child.pid,
        dataDir,
        rpcUrl: String(endpoints.rpc),
        wsUrl: String(endpoints.ws),
        peerId: String(endpoints.peerId),
        multiaddrs: (endpoints.multiaddrs as string[]) ?? [],
        logFile,
      };
      nodes.push(n);
      deps.logger.info({ node: i, pid: child.pid, rpc: n.rpcUrl, multiaddrs: n.multiaddrs }, 'L1 node process started');
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, stop };
}
