/**
 * Channel test actors: a real L1 node in-process (dev sealing, the adjudicator in its runtime,
 * RPC on a free loopback port) and channel nodes over real libp2p sockets on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { ChannelNode, channelChainRpcMethods, channelParentModules, RpcChainClient, type ChainClient, type ChannelNodeOptions, type TowerClient } from '@strata/channels';
import { devAccounts, devnetChainConfig, type DevAccount } from '@strata/devnet';
import { StrataNode, startRpc } from '@strata/node';
import { RpcClient, type RpcServer } from '@strata/rpc';
import { bankModule } from '@strata/runtime';
import { waitUntil } from './wait.js';

export const silentLogger = pino({ level: process.env.CHANNEL_TEST_LOG ?? 'silent' });

/** A dev L1 with the adjudicator. */
export interface TestL1 {
  node: StrataNode;
  rpc: RpcServer;
  url: string;
  accounts: DevAccount[];
  client(): ChainClient;
  mine(n: number): Promise<void>;
  height(): number;
  stop(): Promise<void>;
}

const dirs: string[] = [];
export function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function startTestL1(accountCount = 10): Promise<TestL1> {
  const accounts = devAccounts('st', accountCount);
  const config = devnetChainConfig({ accounts: accountCount });
  const node = await StrataNode.create(
    { dataDir: tmp('chan-l1-'), config, mining: 'dev', blockTimeMs: 0, producer: (accounts[0] as DevAccount).keys.address, modules: [bankModule, ...channelParentModules()] },
    { logger: silentLogger },
  );
  await node.start();
  const rpc = await startRpc(node, { host: '127.0.0.1', port: 0 });
  rpc.registerAll(channelChainRpcMethods(() => node.chain.stateReader));
  return {
    node,
    rpc,
    url: rpc.url,
    accounts,
    client: () => new RpcChainClient(rpc.url),
    mine: async (n) => {
      await node.mineBlocks(n);
    },
    height: () => node.chain.head.meta.height,
    async stop() {
      await rpc.stop();
      await node.stop();
    },
  };
}

/** Starts a channel node against `chain` with dev account `account`'s key as wallet. */
export async function startChannelNode(chain: ChainClient, alias: string, wallet: DevAccount, opts: Partial<ChannelNodeOptions> = {}, tower?: TowerClient): Promise<ChannelNode> {
  const n = await ChannelNode.create(
    { dataDir: opts.dataDir ?? tmp(`chan-${alias}-`), alias, walletKey: wallet.keys.secretKey, pollMs: 100, toSelfDelay: 3, minFinalExpiry: 12, ...opts },
    { chain, logger: silentLogger, ...(tower ? { tower } : {}) },
  );
  await n.start();
  return n;
}

/** Connects a to b and both sync graphs. */
export async function link(a: ChannelNode, b: ChannelNode): Promise<void> {
  const key = await a.connect(b.p2p.multiaddrs[0] as string);
  void key;
}

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts `strata channel node` as a child process (for kill -9 tests) on fixed ports; resolves once it serves. */
export async function startChannelDaemon(chainUrl: string, dataDir: string, alias: string, walletIndex: number, p2pPort: number, rpcPort: number, extraArgs: string[] = []): Promise<{ proc: ChildProcess; rpc: RpcClient; addr: string }> {
  const proc = spawn(process.execPath, ['packages/cli/bin/strata.js', 'channel', 'node', '--chain-rpc', chainUrl, '--data-dir', dataDir, '--alias', alias, '--port', String(rpcPort), '--listen', `/ip4/127.0.0.1/tcp/${p2pPort}`, '--wallet-key', String(walletIndex), '--log-level', process.env.CHANNEL_TEST_LOG ?? 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // CHANNEL_TEST_LOG=<level> shows the daemon's log too (on this process's stderr)
  const echo = process.env.CHANNEL_TEST_LOG !== undefined;
  proc.stdout?.on('data', (d) => {
    out += String(d);
    if (echo) process.stderr.write(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
    if (echo) process.stderr.write(d);
  });
  const re = new RegExp(`channel node ${alias}: RPC (\\S+)\\s+p2p (\\S+)`);
  const deadline = Date.now() + 30_000;
  while (!re.test(out)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${alias}'s daemon did not start (output: ${out.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = re.exec(out) as RegExpExecArray;
  return { proc, rpc: new RpcClient(m[1] as string), addr: m[2] as string };
}

/**
 * Alice → Bob → Carol with Bob as a `strata channel node` daemon (wallet 2, so it can be
 * SIGKILLed and restarted on the same ports and data dir): opens A–B from Alice and B–C from Bob
 * over Bob's RPC, and waits until Alice's graph has B–C with both policies.
 */
export async function startDaemonForwarder(l1: TestL1, alice: ChannelNode, carol: ChannelNode, capacity: bigint, dirPrefix: string) {
  const dir = tmp(dirPrefix);
  const p2pPort = await freePort();
  const rpcPort = await freePort();
  const restart = () => startChannelDaemon(l1.url, dir, 'bob', 2, p2pPort, rpcPort);
  const bob = await restart();
  const bobKey = await alice.connect(bob.addr);
  const ab = await alice.openChannel(bobKey, capacity);
  const { channelId: bcHex } = await bob.rpc.call<{ channelId: string }>('channel_open', [carol.p2p.multiaddrs[0], capacity.toString()]);
  const bc = Buffer.from(bcHex.slice(2), 'hex');
  await waitUntil(() => alice.graph.channel(bc)?.policies[0] !== undefined && alice.graph.channel(bc)?.policies[1] !== undefined, 'alice learns B–C', 15_000, 50);
  return { bob, ab, bc, restart };
}

/** The fixture most channel test files share: see {@link channelTestWorld}. */
export interface ChannelTestWorld {
  /** The file's L1 (set before its first test). */
  readonly l1: TestL1;
  /** Channel nodes a test starts: stopped after the file's tests. */
  readonly nodes: ChannelNode[];
}

/**
 * Registers the usual `beforeAll`/`afterAll` of a channel test file: one in-process L1 started
 * before its tests; after them every node in `nodes` stopped, the L1 stopped, the temp dirs removed.
 */
export function channelTestWorld(accountCount = 10): ChannelTestWorld {
  let l1: TestL1 | undefined;
  const nodes: ChannelNode[] = [];
  beforeAll(async () => {
    l1 = await startTestL1(accountCount);
  }, 30_000);
  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await l1?.stop();
    cleanupDirs();
  });
  return {
    get l1(): TestL1 {
      if (l1 === undefined) throw new Error('the test L1 is not started yet (use it inside a test or hook)');
      return l1;
    },
    nodes,
  };
}
