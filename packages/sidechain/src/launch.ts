/**
 * Launch in minutes: registers a sidechain on the parent (validator keys with proofs of
 * possession, stakes bonded from the funder's account), funds a checkpoint relayer, and starts
 * the validators as separate processes on loopback; then waits for the first committed block.
 * State of a launch lives in `<baseDir>/<name>/` (spec, keys, data, `launch.json`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Chain, ChainStore } from '@strata/chain';
import { nodePeerId } from '@strata/p2p';
import { encode, fromQuantity, randomKeyPair, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { initHashing } from '@strata/primitives';
import { ModuleRegistry, TransferArgsCodec, TRANSFER_COMPUTE, type GenesisAlloc } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { newValidatorKeys, saveValidatorKeys, validatorArgOf, validatorOf, type ValidatorKeys } from './keys.js';
import { L1Client } from './l1-client.js';
import { genesisRegistration, RegisterArgs, SC_REGISTRY_MODULE } from './registry.js';
import { genesisSupplyOf, makeSidechainSpec, specToJson, type SidechainSpec } from './spec.js';
import { sidechainModules } from './validator.js';

/** Default home of launched sidechains. */
export function defaultSidechainsDir(): string {
  return process.env.STRATA_SIDECHAINS_DIR ?? join(homedir(), '.strata', 'sidechains');
}

/** Options of a launch. */
export interface LaunchOptions {
  /** Parent chain JSON-RPC. */
  l1Url: string;
  /** Parent account paying the bonds and fees. */
  funder: KeyPair;
  validators?: number;
  name?: string;
  chainId?: number;
  /** Stake bonded per validator (base units; default 100 coins). */
  stake?: bigint;
  checkpointInterval?: number;
  baseDir?: string;
  host?: string;
  /** First RPC port (validator i gets rpcBasePort + i); 0 picks free ports. */
  rpcBasePort?: number;
  logLevel?: string;
  /** Overrides of the spec (timeouts, empty-block interval…). */
  spec?: Partial<Pick<SidechainSpec, 'timeouts' | 'commitTimeoutMs' | 'emptyBlockIntervalMs' | 'unbondingPeriod'>> & { alloc?: GenesisAlloc[] };
  /** Progress callback (one line per step). */
  progress?: (step: string) => void;
  /** Validators exit when this process does (devnet); default: they outlive the launcher. */
  parentPid?: number;
}

/** One validator process of a launch. */
export interface LaunchedValidator {
  index: number;
  pid: number;
  dir: string;
  rpc: string;
  rpcPort: number;
  p2pPort: number;
  p2p: string;
  logFile: string;
}

/** A launched sidechain (also the content of `launch.json`). */
export interface LaunchedSidechain {
  name: string;
  chainId: number;
  parentChainId: number;
  l1Url: string;
  dir: string;
  genesisHash: string;
  validators: LaunchedValidator[];
  relayer: string;
  launchedAt: number;
  /** Milliseconds from the start of the launch to the first committed block. */
  firstBlockMs: number;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function validatorScript(): string {
  return fileURLToPath(new URL('../bin/validator.js', import.meta.url));
}

/** Genesis hash of a sidechain spec (opens its genesis in a scratch database). */
export async function sidechainGenesisHash(spec: SidechainSpec): Promise<Uint8Array> {
  return (await sidechainGenesis(spec)).genesisHash;
}

/** Genesis hash, header and supply proof of a sidechain spec (what `register` needs). */
export async function sidechainGenesis(spec: SidechainSpec): Promise<{ genesisHash: Uint8Array; genesisHeader: Uint8Array; supplyProof: Uint8Array[] }> {
  await initHashing();
  const dir = join(tmpdir(), `strata-sc-genesis-${process.pid}-${Date.now()}`);
  const store = new ChainStore(openDatabase({ path: dir }));
  try {
    const chain = Chain.open(spec.chain, new ModuleRegistry(sidechainModules()), store);
    return { genesisHash: chain.genesisHash, ...genesisRegistration(chain) };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts (or restarts) validator `i` of a launch directory as a detached process. */
export async function spawnValidator(launch: Pick<LaunchedSidechain, 'dir' | 'l1Url' | 'validators'>, i: number, opts: { host?: string; logLevel?: string; relayer?: boolean; parentPid?: number; extraArgs?: string[] } = {}): Promise<number> {
  const v = launch.validators[i] as LaunchedValidator;
  const boots = launch.validators.filter((x) => x.index !== i).map((x) => x.p2p);
  const out = openSync(v.logFile, 'a');
  const args = [
    validatorScript(),
    '--dir', v.dir,
    '--l1', launch.l1Url,
    '--host', opts.host ?? '127.0.0.1',
    '--rpc-port', String(v.rpcPort),
    '--p2p-port', String(v.p2pPort),
    '--bootnodes', boots.join(','),
    '--log-level', opts.logLevel ?? 'info',
    '--log-file', v.logFile,
    ...((opts.relayer ?? i === 0) ? ['--relayer-key', join(launch.dir, 'relayer.key')] : []),
    ...(opts.parentPid ? ['--parent-pid', String(opts.parentPid)] : []),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { detached: !opts.parentPid, stdio: ['ignore', 'ignore', out] });
  child.unref();
  if (!child.pid) throw new StrataError('INTERNAL', `cannot start validator ${i}`);
  v.pid = child.pid;
  return child.pid;
}

/** Whether a process is alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads `launch.json` of a launched sidechain by name. */
export function readLaunch(name: string, baseDir = defaultSidechainsDir()): LaunchedSidechain {
  const f = join(baseDir, name, 'launch.json');
  if (!existsSync(f)) throw new StrataError('NOT_FOUND', `no sidechain named ${name} was launched from ${baseDir}; see strata sidechain list`);
  return JSON.parse(readFileSync(f, 'utf8')) as LaunchedSidechain;
}

/** Writes `launch.json`. */
export function writeLaunch(l: LaunchedSidechain): void {
  writeFileSync(join(l.dir, 'launch.json'), `${JSON.stringify(l, null, 2)}\n`);
}

/** Waits until `url` serves a committed block at `height` or more; returns the time it took. */
export async function waitForHeight(url: string, height: number, timeoutMs: number, alive?: () => boolean): Promise<number> {
  const rpc = new RpcClient(url, { timeoutMs: 2000 });
  const t0 = Date.now();
  for (;;) {
    if (alive && !alive()) throw new StrataError('NETWORK', 'a validator process exited during the launch; see its validator.log (a port in use?)');
    try {
      const h = await rpc.call<{ number: string }>('chain_getHead', ['latest']);
      if (Number(fromQuantity(h.number)) >= height) return Date.now() - t0;
    } catch {
      // not up yet
    }
    if (Date.now() - t0 > timeoutMs) throw new StrataError('NETWORK', `${url} did not reach height ${height} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Registers, bonds and starts a sidechain; resolves once its first block is committed. */
/**
 * The first chain id from `start` on that no child of the parent holds (sidechains, and the
 * rollups of any kind: a ZK-rollup or optimistic rollup with that id would make the
 * registration fail), nor the parent itself.
 */
export async function freeChildChainId(l1: Pick<L1Client, 'chainIdOwner'>, parentChainId: number, start: number, taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let id = start; id < start + 1000; id++) {
    if (id === parentChainId || taken.has(id)) continue;
    let owner: string | null;
    try {
      owner = await l1.chainIdOwner(id);
    } catch (e) {
      // a parent without the method (older node): only the sidechain ids are known
      if ((e as { rpcCode?: unknown }).rpcCode === -32601) return id;
      throw e;
    }
    if (owner === null) return id;
  }
  throw new StrataError('CONFIG_INVALID', `no free child chain id in ${start}…${start + 999}; pass a chain id`);
}

export async function launchSidechain(opts: LaunchOptions, log?: Logger): Promise<LaunchedSidechain> {
  const t0 = Date.now();
  const say = (s: string) => {
    opts.progress?.(s);
    log?.info({}, s);
  };
  const n = opts.validators ?? 4;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new StrataError('CONFIG_INVALID', '--validators must be 1-64');
  const host = opts.host ?? '127.0.0.1';
  const l1 = new L1Client(opts.l1Url);
  const parentChainId = await l1.chainId();
  const existing = await l1.list();
  const chainId = opts.chainId ?? (await freeChildChainId(l1, parentChainId, parentChainId + 100 + existing.length, new Set(existing.map((s) => s.chainId))));
  const name = opts.name ?? `sc-${chainId}`;
  const baseDir = opts.baseDir ?? defaultSidechainsDir();
  const dir = join(baseDir, name);
  if (existsSync(join(dir, 'launch.json'))) throw new StrataError('CONFIG_INVALID', `a sidechain named ${name} was already launched in ${dir}; pick another --name or remove that directory`);
  mkdirSync(dir, { recursive: true });

  say(`generating keys for ${n} validators`);
  const keys = Array.from({ length: n }, () => newValidatorKeys());
  const stake = opts.stake ?? 100_000_000_000n;
  const spec = makeSidechainSpec({ name, chainId, parentChainId, validators: keys.map((k) => validatorOf(k, stake)), ...(opts.checkpointInterval ? { checkpointInterval: opts.checkpointInterval } : {}), ...opts.spec });
  writeFileSync(join(dir, 'spec.json'), `${JSON.stringify(specToJson(spec), null, 2)}\n`);
  const validators: LaunchedValidator[] = [];
  for (let i = 0; i < n; i++) {
    const vdir = join(dir, `v${i}`);
    mkdirSync(vdir, { recursive: true });
    saveValidatorKeys(join(vdir, 'keys.json'), keys[i] as (typeof keys)[number]);
    const p2pPort = await freePort(host);
    const rpcPort = opts.rpcBasePort ? opts.rpcBasePort + i : await freePort(host);
    const peerId = await nodePeerId(join(vdir, 'p2p'));
    validators.push({ index: i, pid: 0, dir: vdir, rpc: `http://${host}:${rpcPort}`, rpcPort, p2pPort, p2p: `/ip4/${host}/tcp/${p2pPort}/p2p/${peerId}`, logFile: join(vdir, 'validator.log') });
  }
  const genesis = await sidechainGenesis(spec);
  const genesisHash = genesis.genesisHash;

  say(`registering ${name} (chain id ${chainId}) on the parent chain ${parentChainId}, bonding ${n} × ${stake}`);
  await l1.sendAndWait(
    opts.funder,
    SC_REGISTRY_MODULE,
    'register',
    encode(RegisterArgs, { chainId, name, genesisHash, checkpointInterval: spec.checkpointInterval, unbondingPeriod: spec.unbondingPeriod, genesisSupply: genesisSupplyOf(spec.chain), validators: keys.map((k) => validatorArgOf(k, stake)), genesisHeader: genesis.genesisHeader, supplyProof: genesis.supplyProof }),
    40_000 * n + 20_000,
  );
  const relayer = randomKeyPair();
  writeFileSync(join(dir, 'relayer.key'), `${toHex(relayer.secretKey)}\n`, { mode: 0o600 });
  await l1.sendAndWait(opts.funder, 'bank', 'transfer', encode(TransferArgsCodec, { to: relayer.address, amount: 10_000_000_000n }), TRANSFER_COMPUTE);

  say(`starting ${n} validator processes`);
  const launch: LaunchedSidechain = { name, chainId, parentChainId, l1Url: opts.l1Url, dir, genesisHash: toHex(genesisHash), validators, relayer: toHex(relayer.address), launchedAt: t0, firstBlockMs: 0 };
  for (let i = 0; i < n; i++) await spawnValidator(launch, i, { host, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}), ...(opts.parentPid ? { parentPid: opts.parentPid } : {}) });
  writeLaunch(launch);
  say('waiting for the first committed block');
  try {
    await waitForHeight((validators[0] as LaunchedValidator).rpc, 1, 180_000, () => validators.every((v) => isAlive(v.pid)));
  } catch (e) {
    await stopSidechain(launch, 2000);
    throw e;
  }
  launch.firstBlockMs = Date.now() - t0;
  writeLaunch(launch);
  say(`first block committed ${launch.firstBlockMs} ms after the launch started`);
  return launch;
}

/**
 * Adds a validator slot to a launch (keys, ports, directory; not started and not bonded):
 * `spawnValidator(launch, index)` starts it as a full node that becomes a validator once the
 * parent's bond of its keys takes effect at a checkpoint. Returns its index.
 */
export async function addLaunchValidator(launch: LaunchedSidechain, keys: ValidatorKeys, host = '127.0.0.1'): Promise<number> {
  const i = launch.validators.reduce((m, v) => Math.max(m, v.index + 1), 0);
  const vdir = join(launch.dir, `v${i}`);
  mkdirSync(vdir, { recursive: true });
  saveValidatorKeys(join(vdir, 'keys.json'), keys);
  const p2pPort = await freePort(host);
  const rpcPort = await freePort(host);
  const peerId = await nodePeerId(join(vdir, 'p2p'));
  launch.validators.push({ index: i, pid: 0, dir: vdir, rpc: `http://${host}:${rpcPort}`, rpcPort, p2pPort, p2p: `/ip4/${host}/tcp/${p2pPort}/p2p/${peerId}`, logFile: join(vdir, 'validator.log') });
  writeLaunch(launch);
  return i;
}

/** Restarts every stopped validator of a launch (same keys, data, ports); waits for a block past the old head. */
export async function resumeSidechain(l: LaunchedSidechain, opts: { host?: string; logLevel?: string; parentPid?: number } = {}): Promise<LaunchedSidechain> {
  for (const v of l.validators) if (!v.pid || !isAlive(v.pid)) await spawnValidator(l, v.index, opts);
  writeLaunch(l);
  try {
    await waitForHeight((l.validators[0] as LaunchedValidator).rpc, 1, 180_000, () => l.validators.every((v) => isAlive(v.pid)));
  } catch (e) {
    await stopSidechain(l, 2000);
    throw e;
  }
  return l;
}

/** Stops a launched sidechain's validator processes (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopSidechain(l: LaunchedSidechain, graceMs = 5000): Promise<number> {
  let stopped = 0;
  for (const v of l.validators) {
    if (v.pid && isAlive(v.pid)) {
      process.kill(v.pid, 'SIGTERM');
      stopped++;
    }
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end && l.validators.some((v) => v.pid && isAlive(v.pid))) await new Promise((r) => setTimeout(r, 50));
  for (const v of l.validators) if (v.pid && isAlive(v.pid)) process.kill(v.pid, 'SIGKILL');
  return stopped;
}
