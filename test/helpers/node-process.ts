/**
 * Helpers for multi-process network tests: a shared low-difficulty PoW chain config written to a
 * file, and `strata node` child processes on loopback with their RPC clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeAddress, fromQuantity, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { keys } from './chain.js';

/** Admin token every test node gets. */
export const ADMIN_TOKEN = 'network-test-token';

/** Head as returned by chain_getHead. */
export interface Head {
  number: string;
  hash: string;
  stateRoot: string;
  parentHash: string;
}

/**
 * Writes a PoW chain config with a low fixed difficulty (~`hashesPerBlock` hashes per block, no
 * retargeting) and the test keys funded; returns the file path.
 */
export function writeNetConfig(dir: string, opts: { confirmations?: number; hashesPerBlock?: number; targetBlockTimeMs?: number } = {}): string {
  const target = (1n << 256n) / BigInt(opts.hashesPerBlock ?? 300_000);
  const cfg = {
    name: 'strata-nettest',
    chainId: 4242,
    // The shipped default (6) unless a test asks otherwise: multi-node tests run what users run.
    ...(opts.confirmations !== undefined ? { confirmations: opts.confirmations } : {}),
    targetBlockTimeMs: opts.targetBlockTimeMs ?? 1000,
    pow: {
      enabled: true,
      initialTarget: `0x${target.toString(16).padStart(64, '0')}`,
      maxTarget: `0x${'f'.repeat(64)}`,
      retargetInterval: 1_000_000_000,
      maxAdjust: 4,
    },
    genesis: { timestamp: 1_700_000_000_000, alloc: keys.map((k) => ({ address: toHex(k.address), balance: '1000000000000' })) },
  };
  const file = join(dir, 'chain.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** A running `strata node` process. */
export interface NodeProcess {
  name: string;
  child: ChildProcess;
  rpc: RpcClient;
  dataDir: string;
  endpoints: { rpc: string; peerId: string; multiaddrs: string[]; genesis: string };
  head(): Promise<Head>;
  height(): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `strata node` on loopback (ephemeral ports) and waits for its endpoints line. */
export function startNodeProcess(opts: {
  name: string;
  dataDir: string;
  config: string;
  mine?: boolean;
  bootnodes?: string[];
  /** Index of the test key credited with mined blocks (default: from the name). */
  producer?: number;
  args?: string[];
  /** Command prefix, e.g. `['ip', 'netns', 'exec', 'ns1']` (it must exec the node in place). */
  wrap?: string[];
  /** Default `/ip4/127.0.0.1/tcp/0`. */
  listen?: string;
}): Promise<NodeProcess> {
  const producer = keys[(opts.producer ?? opts.name.charCodeAt(0)) % keys.length]!.address;
  const args = [
    'bin/strata.js',
    'node',
    '--data-dir',
    opts.dataDir,
    '--config',
    opts.config,
    '--rpc-port',
    '0',
    '--metrics-port',
    '0',
    '--listen',
    opts.listen ?? '/ip4/127.0.0.1/tcp/0',
    '--admin-token',
    ADMIN_TOKEN,
    '--log-file',
    join(opts.dataDir, `${opts.name}.log`),
    '--log-level',
    'debug',
    '--print-endpoints',
    '--producer',
    encodeAddress('st', producer),
    ...(opts.mine ? ['--mine'] : []),
    ...(opts.bootnodes && opts.bootnodes.length > 0 ? ['--bootnodes', opts.bootnodes.join(',')] : []),
    ...(opts.args ?? []),
  ];
  return new Promise((resolve, reject) => {
    const cmd = [...(opts.wrap ?? []), process.execPath, ...args];
    const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${opts.name} did not report its endpoints: ${out} ${err}`));
    }, 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (done || nl < 0) return;
      done = true;
      clearTimeout(timer);
      const endpoints = JSON.parse(out.slice(0, nl));
      const rpc = new RpcClient(endpoints.rpc, { adminToken: ADMIN_TOKEN, timeoutMs: 20_000 });
      const head = () => rpc.call<Head>('chain_getHead');
      resolve({
        name: opts.name,
        child,
        rpc,
        dataDir: opts.dataDir,
        endpoints,
        head,
        height: async () => Number(fromQuantity((await head()).number)),
        stop: (signal = 'SIGINT') =>
          new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
            const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', (code) => {
              clearTimeout(t);
              res(code);
            });
            child.kill(signal);
          }),
      });
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`${opts.name} exited (${code}) before reporting endpoints: ${err}`));
      }
    });
  });
}

export { waitUntil } from './wait.js';

/** Peer ids a node is connected to. */
export async function peerIds(n: NodeProcess): Promise<string[]> {
  return (await n.rpc.call<{ id: string }[]>('net_peers')).map((p) => p.id);
}
