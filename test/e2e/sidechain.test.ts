/**
 * A launched sidechain end to end: an in-process L1 (real lmdb, real JSON-RPC) with the
 * registry; `launchSidechain` registers and bonds 4 validators and starts them as separate
 * processes talking libp2p on loopback. Then: deposit → mint → transfer → withdraw by Merkle
 * proof against a checkpoint (a second withdrawal fails); one validator SIGKILLed (the rest
 * keep committing; it restarts and catches up); two down (the chain halts without forking,
 * and resumes when one returns); a validator SIGKILLed right after signing a precommit
 * restarts without signing a conflicting vote; conservation on both chains at every block.
 */
import { join } from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { StrataNode, startRpc } from '@strata/node';
import { bytesEqual, encode, fromHex, fromQuantity, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient, type RpcServer } from '@strata/rpc';
import { bankModule, getAccount, getSupply, TransferArgsCodec } from '@strata/runtime';
import {
  addLaunchValidator,
  BondArgs,
  isAlive,
  newValidatorKeys,
  UnbondArgs,
  validatorArgOf,
  L1Client,
  launchSidechain,
  readLaunch,
  readValidatorSet,
  SC_BRIDGE_MODULE,
  DEFAULT_FEE_BALANCE,
  SC_REGISTRY_MODULE,
  ScDepositArgs,
  ScL1WithdrawArgs,
  ScWithdrawArgs,
  sidechainBondPool,
  sidechainEscrow,
  sidechainL1RpcMethods,
  sidechainParentModules,
  spawnValidator,
  stopSidechain,
  waitForHeight,
  type LaunchedSidechain,
} from '@strata/sidechain';
import { devConfig, keys } from '../helpers/chain.js';
import { FAST_TIMEOUTS, tmp } from '../helpers/sidechain.js';

const funder = keys[1] as KeyPair;
const user = keys[2] as KeyPair;
const carol = keys[3] as KeyPair;
let l1: StrataNode;
let rpc: RpcServer;
let launch: LaunchedSidechain;
let cleanup: () => void;
const l1Violations: string[] = [];

async function head(url: string): Promise<number> {
  return Number(fromQuantity((await new RpcClient(url, { timeoutMs: 3000 }).call<{ number: string }>('chain_getHead', ['latest'])).number));
}

async function hashAt(url: string, h: number): Promise<string | undefined> {
  const b = await new RpcClient(url, { timeoutMs: 3000 }).call<{ hash: string } | null>('chain_getBlockByNumber', [toHex(new Uint8Array([h >> 8, h & 255])).replace(/^0x0+(?=.)/, '0x'), false]).catch(() => null);
  return b?.hash;
}

async function until(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

const rpcOf = (i: number) => launch.validators[i]?.rpc as string;

beforeAll(async () => {
  const t = tmp('strata-sc-e2e-');
  cleanup = t.cleanup;
  const config = devConfig({ chainId: 1, confirmations: 2 });
  l1 = await StrataNode.create({ dataDir: join(t.dir, 'l1'), config, modules: [bankModule, ...sidechainParentModules()], mining: 'dev', blockTimeMs: 150, producer: (keys[0] as KeyPair).address }, { logger: pino({ level: 'silent' }) });
  await l1.start();
  rpc = await startRpc(l1, { host: '127.0.0.1', port: 0 });
  rpc.registerAll(sidechainL1RpcMethods(l1));
  launch = await launchSidechain({
    l1Url: rpc.url,
    funder: funder,
    validators: 4,
    name: 'e2e',
    baseDir: join(t.dir, 'sidechains'),
    checkpointInterval: 4,
    spec: { timeouts: FAST_TIMEOUTS, emptyBlockIntervalMs: 250 },
  });
}, 120_000);

afterAll(async () => {
  if (launch) await stopSidechain(launch, 3000);
  await rpc?.stop();
  await l1?.stop();
  if (!process.env.SC_KEEP) cleanup?.();
  else console.log('kept', launch?.dir);
});

describe('a launched 4-validator sidechain', () => {
  it('launches (register, bond, 4 processes) with its first block in under a minute', async () => {
    expect(launch.firstBlockMs).toBeLessThan(60_000);
    expect(launch.validators.every((v) => isAlive(v.pid))).toBe(true);
    const set = readValidatorSet(l1.chain.stateReader, launch.chainId);
    expect(set.length).toBe(4);
    expect(getAccount(l1.chain.stateReader, sidechainBondPool(launch.chainId)).balance).toBe(4n * 100_000_000_000n);
    const info = await new RpcClient(rpcOf(1)).call<{ trust: Record<string, string>; chainId: number }>('sidechain_info');
    expect(info.chainId).toBe(launch.chainId);
    expect(info.trust.safety).toContain('2/3');
    expect(info.trust.bridge).toContain('only as safe as the validators');
  });

  it('deposit → mint after L1 finality → transfer → withdraw by Merkle proof; a second withdrawal fails; conservation', async () => {
    const L1 = new L1Client(rpc.url);
    const sc = new L1Client(rpcOf(0));
    // L1 conservation at every block from here on
    const l1Accounts = [...keys.map((k) => k.address), sidechainEscrow(launch.chainId), sidechainBondPool(launch.chainId), fromHex(launch.relayer, 20)];
    l1.on('head', () => {
      const r = l1.chain.stateReader;
      const sum = l1Accounts.reduce((a, x) => a + getAccount(r, x).balance, 0n);
      if (sum !== getSupply(r)) l1Violations.push(`L1 #${l1.chain.head.meta.height}: accounts ${sum} ≠ supply ${getSupply(r)}`);
    });
    const dep = await L1.sendAndWait(user, SC_REGISTRY_MODULE, 'deposit', encode(ScDepositArgs, { chainId: launch.chainId, to: user.address, amount: 5_000_000n }), 10_000);
    expect(dep.status).toBe('0x1');
    await until(async () => (await sc.balance(user.address)) === 5_000_000n, 30_000, 'deposit minted');
    const startHeight = await head(rpcOf(0)); // the mint is at or below this block
    await sc.sendAndWait(user, 'bank', 'transfer', encode(TransferArgsCodec, { to: carol.address, amount: 1_000_000n }), 2_000);
    const w = await sc.sendAndWait(carol, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: carol.address, amount: 600_000n }), 10_000);
    const id = Number(w.events?.find((e) => e.type === 'withdrawal')?.data.id);
    const burnHeight = Number(fromQuantity(w.blockNumber));
    await until(async () => ((await L1.sidechain(launch.chainId))?.lastCheckpointHeight ?? 0) >= burnHeight, 60_000, 'checkpoint covering the burn');
    const reg = (await L1.sidechain(launch.chainId))!;
    const cp = (await L1.checkpoint(launch.chainId, reg.checkpoints - 1))!;
    const wr = await new RpcClient(rpcOf(2)).call<{ id: number; l1Recipient: string; amount: string; proof: string[]; stateRoot: string }>('sidechain_withdrawal', [id, cp.height]);
    expect(wr.stateRoot).toBe(cp.stateRoot);
    const args = encode(ScL1WithdrawArgs, { chainId: launch.chainId, checkpoint: reg.checkpoints - 1, withdrawal: { id, l1Recipient: carol.address, amount: 600_000n }, proof: wr.proof.map((p) => fromHex(p)) });
    const before = getAccount(l1.chain.stateReader, carol.address).balance;
    const paid = await L1.sendAndWait(carol, SC_REGISTRY_MODULE, 'withdraw', args, 60_000);
    expect(paid.status).toBe('0x1');
    const fee = BigInt(fromQuantity((paid as unknown as { fee: string }).fee));
    expect(getAccount(l1.chain.stateReader, carol.address).balance - before + fee).toBe(600_000n);
    await expect(L1.sendAndWait(carol, SC_REGISTRY_MODULE, 'withdraw', args, 60_000)).rejects.toThrow(/already paid/);
    expect(getAccount(l1.chain.stateReader, sidechainEscrow(launch.chainId)).balance).toBe(4n * DEFAULT_FEE_BALANCE + 5_000_000n - 600_000n);
    // sidechain conservation at every block so far: sum of every account = genesis + minted − burned
    const scAccounts = [user, carol].map((k) => toHex(k.address));
    const spec = JSON.parse(readFileSync(join(launch.dir, 'spec.json'), 'utf8')) as { validators: { producer: string }[] };
    const all = [...scAccounts, ...spec.validators.map((v) => v.producer)];
    const end = await head(rpcOf(0));
    const client = new RpcClient(rpcOf(0));
    for (let h = startHeight; h <= end; h++) {
      const tag = `0x${h.toString(16)}`;
      const balances = await Promise.all(all.map((a) => client.call<{ balance: string }>('state_getAccount', [a, tag])));
      const sum = balances.reduce((s, b) => s + fromQuantity(b.balance), 0n);
      expect(sum).toBe(4n * DEFAULT_FEE_BALANCE + 5_000_000n - (h >= burnHeight ? 600_000n : 0n));
    }
    expect(l1Violations).toEqual([]);
  });

  it('liveness: one validator SIGKILLed, the other three keep committing; it restarts and catches up', async () => {
    const v3 = launch.validators[3]!;
    process.kill(v3.pid, 'SIGKILL');
    await until(async () => !isAlive(v3.pid), 5000, 'v3 dead');
    const h0 = await head(rpcOf(0));
    await until(async () => (await head(rpcOf(0))) >= h0 + 4, 30_000, 'three validators commit');
    await spawnValidator(launch, 3);
    await waitForHeight(rpcOf(3), h0 + 4, 60_000);
    const h = await head(rpcOf(1));
    await until(async () => (await head(rpcOf(3))) >= h, 30_000, 'v3 caught up');
    // v3 takes part again: blocks keep being committed with it up
    for (let x = h0; x <= h; x++) expect(await hashAt(rpcOf(3), x)).toBe(await hashAt(rpcOf(0), x));
  });

  it('two of four down: the chain halts without forking, and resumes when one returns', async () => {
    const [v2, v3] = [launch.validators[2]!, launch.validators[3]!];
    process.kill(v2.pid, 'SIGKILL');
    process.kill(v3.pid, 'SIGKILL');
    await until(async () => !isAlive(v2.pid) && !isAlive(v3.pid), 5000, 'dead');
    await new Promise((r) => setTimeout(r, 1500));
    const stalled = await head(rpcOf(0));
    await new Promise((r) => setTimeout(r, 4000));
    expect(await head(rpcOf(0))).toBe(stalled);
    expect(await head(rpcOf(1))).toBeLessThanOrEqual(stalled + 1);
    await spawnValidator(launch, 2);
    await until(async () => (await head(rpcOf(0))) >= stalled + 3, 60_000, 'resumed');
    for (let x = Math.max(1, stalled - 2); x <= stalled + 2; x++) {
      const a = await hashAt(rpcOf(0), x);
      expect(await hashAt(rpcOf(1), x)).toBe(a);
      await until(async () => (await hashAt(rpcOf(2), x)) === a, 20_000, `v2 has block ${x}`);
    }
    await spawnValidator(launch, 3);
  });

  it('a validator SIGKILLed right after signing a precommit does not sign a conflicting vote after restart', async () => {
    const v1 = launch.validators[1]!;
    process.kill(v1.pid, 'SIGTERM');
    await until(async () => !isAlive(v1.pid), 10_000, 'v1 stopped');
    const h = await head(rpcOf(0));
    await spawnValidator(launch, 1, { extraArgs: ['--crash-after-sign', 'precommit', '--crash-after-height', String(h + 2)] });
    await until(async () => existsSync(join(v1.dir, 'crashed.json')) && !isAlive(v1.pid), 60_000, 'v1 crashed after signing');
    const crashed = JSON.parse(readFileSync(join(v1.dir, 'crashed.json'), 'utf8')) as { height: number; round: number };
    await spawnValidator(launch, 1);
    const signedHeight = () => (JSON.parse(readFileSync(join(v1.dir, 'privval.json'), 'utf8')) as { height: number }).height;
    await until(async () => signedHeight() > crashed.height + 1, 60_000, 'v1 signs again after the restart');
    // No validator saw conflicting votes from v1, so the L1 registry never slashed it.
    const set = readValidatorSet(l1.chain.stateReader, launch.chainId);
    expect(set.every((v) => !v.slashed)).toBe(true);
    const logs = launch.validators.map((v) => readFileSync(v.logFile, 'utf8'));
    expect(logs.some((l) => l.includes('double-sign evidence'))).toBe(false);
    expect(readLaunch('e2e', join(launch.dir, '..')).name).toBe('e2e');
  });

  it('a bond and an unbond on the L1 switch the running chain\'s set at a checkpoint: checkpoints keep being accepted, the removed validator\'s votes no longer count, the new one\'s do', async () => {
    const L1 = new L1Client(rpc.url);
    const spec = JSON.parse(readFileSync(join(launch.dir, 'spec.json'), 'utf8')) as { validators: { edPub: string }[] };
    // every validator is up again (earlier tests stopped and restarted some)
    for (const v of launch.validators) if (!isAlive(v.pid)) await spawnValidator(launch, v.index);
    const newcomer = newValidatorKeys();
    const ni = await addLaunchValidator(launch, newcomer);
    await spawnValidator(launch, ni);
    await waitForHeight(rpcOf(ni), 1, 60_000);
    const removed = fromHex(spec.validators[3]!.edPub, 32);
    // the launcher (the sidechain's owner) bonds the newcomer and unbonds validator 3
    expect((await L1.sendAndWait(funder, SC_REGISTRY_MODULE, 'bond', encode(BondArgs, { chainId: launch.chainId, validator: validatorArgOf(newcomer, 100_000_000_000n) }), 100_000)).status).toBe('0x1');
    expect((await L1.sendAndWait(funder, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: launch.chainId, edPub: removed }), 100_000)).status).toBe('0x1');
    const cpBefore = (await L1.sidechain(launch.chainId))!.lastCheckpointHeight;
    // the sidechain includes both changes once final on the L1; the L1 applies them with the checkpoint of that block
    // (the two may be final on the L1 at different heights, so land in different checkpoint periods)
    const l1Set = () => readValidatorSet(l1.chain.stateReader, launch.chainId);
    await until(async () => l1Set().some((v) => bytesEqual(v.edPub, newcomer.ed.publicKey)) && !l1Set().some((v) => bytesEqual(v.edPub, removed)), 90_000, 'the L1 set has the newcomer and not validator 3');
    const set = l1Set();
    expect(set.length).toBe(4);
    const switched = (await L1.sidechain(launch.chainId))!.lastCheckpointHeight; // the new set signs from switched + 1
    // every validator derived the same set: sidechain_info shows it on each (including the newcomer)
    for (const v of launch.validators.filter((x) => x.index !== 3)) {
      await until(async () => {
        const info = await new RpcClient(v.rpc).call<{ validators: { edPub: string }[] }>('sidechain_info');
        return info.validators.map((x) => x.edPub).join() === set.map((x) => toHex(x.edPub)).join();
      }, 30_000, `validator ${v.index} uses the new set`);
    }
    // checkpoints keep being accepted with the new set
    await until(async () => ((await L1.sidechain(launch.chainId))?.lastCheckpointHeight ?? 0) >= switched + 8, 90_000, 'two checkpoints signed by the new set');
    expect(switched).toBeGreaterThan(cpBefore);
    // the newcomer's votes count: with validator 2 down, 0 + 1 + the newcomer (3 of 4) keep committing
    const v2 = launch.validators[2]!;
    process.kill(v2.pid, 'SIGKILL');
    await until(async () => !isAlive(v2.pid), 5000, 'v2 dead');
    const h0 = await head(rpcOf(0));
    await until(async () => (await head(rpcOf(0))) >= h0 + 3, 60_000, 'validators 0, 1 and the newcomer commit');
    const cert = await new RpcClient(rpcOf(0)).call<{ signers: string }>('sidechain_certificate', [h0 + 2]);
    expect(fromHex(cert.signers)[0]! & 0b1000).toBe(0b1000); // the newcomer is index 3 of the new set
    // the removed validator's votes do not: with the newcomer down too, validator 3 (still running) cannot help, the chain halts
    const vn = launch.validators[ni]!;
    process.kill(vn.pid, 'SIGKILL');
    await until(async () => !isAlive(vn.pid), 5000, 'newcomer dead');
    expect(isAlive(launch.validators[3]!.pid)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    const stalled = await head(rpcOf(0));
    await new Promise((r) => setTimeout(r, 4000));
    expect(await head(rpcOf(0))).toBe(stalled);
  });
});
