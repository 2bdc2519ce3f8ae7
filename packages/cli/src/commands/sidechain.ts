/**
 * `strata sidechain launch | list | status | deposit | withdraw | stop`: launch BFT sidechains
 * on the L1 (registered, bonded, validators as separate processes on loopback) and move coins
 * across their bridge. Acts for dev account 0 and the devnet L1 by default.
 */
import type { Command } from 'commander';
import { devAccounts } from '@strata/devnet';
import { DEV_MNEMONIC, encode, fromHex, fromQuantity, keyPairFromSecret, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { parseAddress } from '@strata/runtime';
import {
  defaultSidechainsDir,
  isAlive,
  L1Client,
  launchSidechain,
  readLaunch,
  SC_BRIDGE_MODULE,
  SC_REGISTRY_MODULE,
  ScDepositArgs,
  ScL1WithdrawArgs,
  ScWithdrawArgs,
  stopSidechain,
  validatorSetLines,
  type LaunchedSidechain,
  type SidechainInfoSet,
} from '@strata/sidechain';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveLayer } from '../layers.js';
import { fail, print } from '../output.js';

interface Flags {
  rpc?: string;
  layer?: string;
  json?: boolean;
  dir: string;
  from: string;
  validators?: number;
  name?: string;
  chainId?: number;
  amount?: string;
  to?: string;
  checkpointInterval?: number;
  wait?: boolean;
  timeout?: number;
}

function signer(from: string): KeyPair {
  if (/^\d+$/.test(from)) {
    const a = devAccounts('st', Number(from) + 1, DEV_MNEMONIC)[Number(from)];
    if (!a) throw new StrataError('INVALID_KEY', `no dev account ${from}`);
    return a.keys;
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(from)) return keyPairFromSecret(fromHex(from, 32));
  throw new StrataError('INVALID_KEY', '--from must be a dev account index or a 0x secret key');
}

function amountOf(v: string | undefined): bigint {
  if (!v || !/^\d+$/.test(v) || BigInt(v) === 0n) throw new StrataError('CONFIG_INVALID', '--amount must be a positive whole number of base units');
  return BigInt(v);
}

function common(cmd: Command): Command {
  return cmd
    .option('--layer <name>', 'a layer of the running devnet: a sidechain layer (its parent is the L1 used) or the chain to register on')
    .option('--rpc <url>', 'L1 JSON-RPC endpoint (overrides --layer; default $STRATA_RPC, else the devnet\'s L1)')
    .option('--dir <dir>', 'where launched sidechains live', defaultSidechainsDir())
    .option('--json', 'print machine-readable JSON');
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new StrataError('CONFIG_INVALID', `${name} must be a non-negative integer`);
  return n;
};

function progress(json: boolean): (s: string) => void {
  return (s) => {
    if (!json) process.stderr.write(`  … ${s}\n`);
  };
}

function endpointLines(l: LaunchedSidechain): string[] {
  return l.validators.map((v) => `      validator ${v.index}  RPC ${v.rpc}  pid ${v.pid}${isAlive(v.pid) ? '' : ' (stopped)'}`);
}

/** The parent chain's RPC: `--rpc`, else `--layer` (a sidechain's parent, or that chain itself), else $STRATA_RPC, else the devnet's L1. */
export function sidechainParentRpc(f: Pick<Flags, 'rpc' | 'layer'>): string {
  if (f.rpc) return f.rpc;
  if (f.layer === undefined && process.env.STRATA_RPC) return process.env.STRATA_RPC;
  const { layer, parent } = resolveLayer(f.layer, ['sidechain', 'l1', 'optimistic', 'l3'], 'sidechain');
  return layer.kind === 'sidechain' ? (parent?.rpc ?? 'http://127.0.0.1:8545') : layer.rpc;
}

function scRpc(l: LaunchedSidechain): string {
  const up = l.validators.find((v) => isAlive(v.pid)) ?? l.validators[0];
  return up?.rpc ?? '';
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Registers the sidechain commands. */
export function registerSidechainCommands(program: Command): void {
  const sc = program.command('sidechain').description('BFT sidechains (Axon style): launch, inspect, bridge coins, stop');

  common(sc.command('launch'))
    .description('Register a sidechain on the L1, bond its validators\' stakes and start them as separate processes on loopback')
    .option('--validators <n>', 'number of validators', int('--validators'), 4)
    .option('--name <name>', 'sidechain name (lowercase letters, digits, dashes)')
    .option('--chain-id <id>', 'sidechain chain id (default: the next free one)', int('--chain-id'))
    .option('--checkpoint-interval <blocks>', 'sidechain blocks between checkpoints on the L1', int('--checkpoint-interval'), 10)
    .option('--from <account>', 'dev account index or 0x secret key that pays the bonds', '0')
    .action(async (f: Flags) => {
      try {
        const l = await launchSidechain(
          {
            l1Url: sidechainParentRpc(f),
            funder: signer(f.from),
            validators: f.validators ?? 4,
            ...(f.name ? { name: f.name } : {}),
            ...(f.chainId !== undefined ? { chainId: f.chainId } : {}),
            ...(f.checkpointInterval ? { checkpointInterval: f.checkpointInterval } : {}),
            baseDir: f.dir,
            progress: progress(!!f.json),
          },
        );
        print(!!f.json, l, () =>
          [
            '',
            `  Sidechain ${l.name}  (chain id ${l.chainId}, parent ${l.parentChainId}, ${l.validators.length} BFT validators)`,
            ...endpointLines(l),
            `      Genesis   ${l.genesisHash}`,
            `      Launched  first block committed ${(l.firstBlockMs / 1000).toFixed(1)} s after the launch started`,
            `      Dir       ${l.dir}`,
            '',
            `  Try:  npx strata sidechain deposit ${l.name} --amount 100000000`,
            `        npx strata sidechain status ${l.name}`,
            `        npx strata sidechain stop ${l.name}`,
            '',
          ].join('\n'),
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(sc.command('list'))
    .description('Sidechains registered on the L1, with the local processes of the ones launched from here')
    .action(async (f: Flags) => {
      try {
        const l1 = new L1Client(sidechainParentRpc(f));
        const registered = await l1.list();
        const local = existsSync(f.dir) ? readdirSync(f.dir).filter((n) => existsSync(join(f.dir, n, 'launch.json'))).map((n) => readLaunch(n, f.dir)) : [];
        const rows = registered.map((s) => {
          const l = local.find((x) => x.chainId === s.chainId && x.name === s.name);
          return { chainId: s.chainId, name: s.name, validators: s.validators.length, stake: s.stake, checkpoints: s.checkpoints, lastCheckpointHeight: s.lastCheckpointHeight, escrow: s.escrow, local: l ? { running: l.validators.filter((v) => isAlive(v.pid)).length, rpc: l.validators.map((v) => v.rpc) } : null };
        });
        print(!!f.json, rows, () =>
          rows.length === 0
            ? 'no sidechains registered on this L1 (strata sidechain launch)'
            : rows.map((r) => `${r.name}  chain ${r.chainId}  ${r.validators} validators  stake ${r.stake}  checkpoints ${r.checkpoints} (last at #${r.lastCheckpointHeight})  escrow ${r.escrow}${r.local ? `  local: ${r.local.running}/${r.validators} running, ${r.local.rpc[0]}` : ''}`).join('\n'),
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(sc.command('status <name>'))
    .description('Head, consensus state, validators and the last checkpoint of a launched sidechain')
    .action(async (name: string, f: Flags) => {
      try {
        const l = readLaunch(name, f.dir);
        const l1 = new L1Client(sidechainParentRpc(f));
        const reg = await l1.sidechain(l.chainId);
        const validators = await Promise.all(
          l.validators.map(async (v) => {
            if (!isAlive(v.pid)) return { index: v.index, rpc: v.rpc, running: false };
            try {
              const rpc = new RpcClient(v.rpc, { timeoutMs: 2000 });
              const head = await rpc.call<{ number: string; hash: string }>('chain_getHead', ['latest']);
              const cs = await rpc.call<{ height: number; round: number; step: string }>('sidechain_consensusState');
              return { index: v.index, rpc: v.rpc, running: true, head: Number(fromQuantity(head.number)), hash: head.hash, consensus: cs };
            } catch (e) {
              return { index: v.index, rpc: v.rpc, running: true, error: (e as Error).message };
            }
          }),
        );
        const info = await new RpcClient(scRpc(l), { timeoutMs: 2000 }).call<SidechainInfoSet & { trust: Record<string, string> }>('sidechain_info').catch(() => null);
        const out = { name: l.name, chainId: l.chainId, parentChainId: l.parentChainId, registered: reg, validators, validatorSet: info?.validators ?? null, trust: info?.trust ?? null };
        print(!!f.json, out, () =>
          [
            `${l.name}  chain ${l.chainId}  (parent ${l.parentChainId})`,
            ...validators.map((v) => `  validator ${v.index}  ${v.rpc}  ${v.running ? ('head' in v ? `head #${v.head}  height ${v.consensus?.height} round ${v.consensus?.round} ${v.consensus?.step}` : `error: ${'error' in v ? v.error : ''}`) : 'stopped'}`),
            reg ? `  L1: ${reg.checkpoints} checkpoints (last at #${reg.lastCheckpointHeight}), stake ${reg.stake}, escrow ${reg.escrow}, ${reg.deposits} deposits` : '  not registered on this L1',
            ...validatorSetLines(info, reg),
            ...(info ? ['  Trust:', ...Object.entries(info.trust).map(([k, v]) => `    ${k}: ${v}`)] : []),
          ].join('\n'),
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(sc.command('deposit <name>'))
    .description('Lock coins on the L1; the validators mint them on the sidechain once the deposit is final')
    .option('--amount <units>', 'amount in base units')
    .option('--to <address>', 'sidechain recipient (default: the sender)')
    .option('--from <account>', 'dev account index or 0x secret key', '0')
    .option('--no-wait', 'return once the L1 includes the deposit')
    .option('--timeout <seconds>', 'how long to wait for the mint', int('--timeout'), 120)
    .action(async (name: string, f: Flags) => {
      try {
        const l = readLaunch(name, f.dir);
        const key = signer(f.from);
        const amount = amountOf(f.amount);
        const to = f.to ? parseAddress(f.to, 'sc') : key.address;
        const l1 = new L1Client(sidechainParentRpc(f));
        const sc = new L1Client(scRpc(l));
        const before = await sc.balance(to);
        const r = await l1.sendAndWait(key, SC_REGISTRY_MODULE, 'deposit', encode(ScDepositArgs, { chainId: l.chainId, to, amount }), 10_000);
        const id = r.events?.find((e) => e.module === SC_REGISTRY_MODULE && e.type === 'deposit')?.data.id;
        progress(!!f.json)(`deposit ${id} locked in L1 block ${Number(fromQuantity(r.blockNumber))}; waiting for L1 finality and the mint`);
        let minted = false;
        if (f.wait !== false) {
          const end = Date.now() + (f.timeout ?? 120) * 1000;
          while (Date.now() < end) {
            minted = (await sc.balance(to)) >= before + amount;
            if (minted) break;
            await sleep(250);
          }
          if (!minted) throw new StrataError('NETWORK', `deposit ${id} was not minted on ${name} within ${f.timeout} s (it is minted once final on the L1)`);
        }
        print(!!f.json, { depositId: id, l1Block: Number(fromQuantity(r.blockNumber)), to: toHex(to), amount: amount.toString(), minted }, () => `deposit ${id}: ${amount} locked on L1${minted ? `, minted on ${name} to ${toHex(to)}` : ''}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(sc.command('withdraw <name>'))
    .description('Burn coins on the sidechain, wait for a checkpoint on the L1, and withdraw there with a Merkle proof')
    .option('--amount <units>', 'amount in base units')
    .option('--to <address>', 'L1 recipient (default: the sender)')
    .option('--from <account>', 'dev account index or 0x secret key', '0')
    .option('--timeout <seconds>', 'how long to wait for the checkpoint', int('--timeout'), 180)
    .action(async (name: string, f: Flags) => {
      try {
        const l = readLaunch(name, f.dir);
        const key = signer(f.from);
        const amount = amountOf(f.amount);
        const to = f.to ? parseAddress(f.to, 'st') : key.address;
        const l1 = new L1Client(sidechainParentRpc(f));
        const scUrl = scRpc(l);
        const sc = new L1Client(scUrl);
        const say = progress(!!f.json);
        const r = await sc.sendAndWait(key, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: to, amount }), 10_000);
        const id = Number(r.events?.find((e) => e.module === SC_BRIDGE_MODULE && e.type === 'withdrawal')?.data.id);
        const height = Number(fromQuantity(r.blockNumber));
        say(`withdrawal ${id} burned in sidechain block ${height}; waiting for a checkpoint covering it`);
        const end = Date.now() + (f.timeout ?? 180) * 1000;
        let reg = await l1.sidechain(l.chainId);
        while (reg && reg.lastCheckpointHeight < height) {
          if (Date.now() > end) throw new StrataError('NETWORK', `no checkpoint covered sidechain block ${height} within ${f.timeout} s; run withdraw again later`);
          await sleep(500);
          reg = await l1.sidechain(l.chainId);
        }
        if (!reg) throw new StrataError('NOT_FOUND', `sidechain ${l.chainId} is not registered on this L1`);
        const index = reg.checkpoints - 1;
        const cp = await l1.checkpoint(l.chainId, index);
        if (!cp) throw new StrataError('NOT_FOUND', `checkpoint ${index} missing`);
        const w = await new RpcClient(scUrl).call<{ id: number; l1Recipient: string; amount: string; proof: string[]; stateRoot: string }>('sidechain_withdrawal', [id, cp.height]);
        if (w.stateRoot !== cp.stateRoot) throw new StrataError('PROOF_INVALID', `the sidechain's state root at #${cp.height} differs from the checkpoint's`);
        say(`checkpoint ${index} at sidechain #${cp.height} covers it; withdrawing on the L1 with a Merkle proof of ${w.proof.length} nodes`);
        const args = encode(ScL1WithdrawArgs, { chainId: l.chainId, checkpoint: index, withdrawal: { id, l1Recipient: fromHex(w.l1Recipient, 20), amount: BigInt(w.amount) }, proof: w.proof.map((p) => fromHex(p)) });
        const paid = await l1.sendAndWait(key, SC_REGISTRY_MODULE, 'withdraw', args, 60_000);
        print(!!f.json, { withdrawalId: id, sidechainBlock: height, checkpoint: index, l1Block: Number(fromQuantity(paid.blockNumber)), to: toHex(to), amount: amount.toString() }, () => `withdrawal ${id}: ${amount} paid on the L1 to ${toHex(to)} (checkpoint ${index})`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(sc.command('stop <name>'))
    .description('Stop the validator processes of a launched sidechain (its data stays; launch state in --dir)')
    .action(async (name: string, f: Flags) => {
      try {
        const l = readLaunch(name, f.dir);
        const n = await stopSidechain(l);
        print(!!f.json, { name, stopped: n }, () => `${name}: stopped ${n} validator process${n === 1 ? '' : 'es'}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
