/**
 * `strata bridge deposit | withdraw | finalize | status`: move coins between the L1 and the
 * devnet's optimistic rollup, acting for dev account 0 and the devnet endpoints by default.
 */
import type { Command } from 'commander';
import { devAccounts } from '@strata/devnet';
import {
  rollupModuleNames,
  defaultRollupConfig,
  DepositArgs,
  FinalizeWithdrawalArgs,
  makeL2Env,
  ProveWithdrawalArgs,
  RpcL1Client,
  signL2Withdrawal,
} from '@strata/optimistic';
import { DEV_MNEMONIC, fromHex, fromQuantity, keyPairFromSecret, StrataError, toHex, encode, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx } from '@strata/runtime';
import { fail, print } from '../output.js';

interface BridgeFlags {
  from: string;
  l1Rpc: string;
  l2Rpc: string;
  json?: boolean;
  amount?: string;
  to?: string;
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

function common(cmd: Command): Command {
  return cmd
    .option('--from <account>', 'dev account index or 0x secret key', '0')
    .option('--l1-rpc <url>', 'L1 JSON-RPC endpoint', process.env.STRATA_RPC ?? 'http://127.0.0.1:8545')
    .option('--l2-rpc <url>', 'L2 JSON-RPC endpoint', process.env.STRATA_L2_RPC ?? 'http://127.0.0.1:8546')
    .option('--json', 'print machine-readable JSON');
}

function amountOf(v: string | undefined): bigint {
  if (!v || !/^\d+$/.test(v) || BigInt(v) === 0n) throw new StrataError('CONFIG_INVALID', '--amount must be a positive whole number of base units');
  return BigInt(v);
}

async function waitReceipt(l1: RpcL1Client, hash: Uint8Array) {
  for (let i = 0; i < 100; i++) {
    const r = await l1.receipt(hash);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new StrataError('NETWORK', `transaction ${toHex(hash)} was not included within 20 s`);
}

interface WdView {
  id: number;
  amount: string;
  to: string;
  stage: string;
  outputIndex: number | null;
  readyAtL1?: number | null;
}

/** A withdrawal's stage for people: what it waits for. */
function stageText(w: WdView): string {
  if (w.stage === 'in challenge window' && w.readyAtL1 != null) return `in challenge window (output ${w.outputIndex}; ready at L1 block ${w.readyAtL1})`;
  if (w.stage === 'waiting for root') return 'waiting for root (no output root on L1 covers it yet)';
  return `${w.stage}${w.outputIndex !== null ? ` (output ${w.outputIndex})` : ''}`;
}

export function registerBridgeCommands(program: Command): void {
  const bridge = program.command('bridge').description('Move coins between the L1 and the optimistic rollup (devnet defaults)');
  const rollup = defaultRollupConfig();
  const BRIDGE_MODULE = rollupModuleNames(rollup.rollupId).bridge;

  common(bridge.command('deposit').description('Lock coins on L1; they are credited on L2 1:1'))
    .requiredOption('--amount <units>', 'base units to deposit')
    .option('--to <0xaddress>', 'L2 recipient (default: the same address)')
    .action(async (f: BridgeFlags) => {
      try {
        const key = signer(f.from);
        const l1 = new RpcL1Client(f.l1Rpc);
        const to = f.to ? fromHex(f.to, 20) : key.address;
        const h = await l1.send(key, BRIDGE_MODULE, 'deposit', encode(DepositArgs, { rollupId: rollup.rollupId, to, amount: amountOf(f.amount) }), 5_000);
        const r = await waitReceipt(l1, h);
        if (r.status !== 'ok') throw new StrataError('L2_BRIDGE', `deposit failed on L1: ${r.error}`);
        print(!!f.json, { tx: toHex(h), l1Block: r.height, to: toHex(to), amount: f.amount }, () => `deposited ${f.amount} to ${toHex(to)} on L2 (L1 tx ${toHex(h)}, block ${r.height}); it appears on L2 in a moment`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('withdraw').description('Burn wrapped coins on L2; finalize on L1 after the challenge window'))
    .requiredOption('--amount <units>', 'base units to withdraw')
    .option('--to <0xaddress>', 'L1 recipient (default: the same address)')
    .action(async (f: BridgeFlags) => {
      try {
        const key = signer(f.from);
        const l2 = new RpcClient(f.l2Rpc);
        const acct = await l2.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
        const tx = signL2Withdrawal(makeL2Env(rollup), key.secretKey, Number(fromQuantity(acct.nextNonce)), f.to ? fromHex(f.to, 20) : key.address, amountOf(f.amount));
        const hash = await l2.call<string>('tx_sendRaw', [toHex(encodeTx(tx))]);
        print(!!f.json, { l2Tx: hash }, () => `withdrawal submitted on L2 (tx ${hash}); track it with: strata bridge status`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('status').description("Each withdrawal's stage: waiting for root, in challenge window, ready, finalized"))
    .action(async (f: BridgeFlags) => {
      try {
        const key = signer(f.from);
        const list = await new RpcClient(f.l2Rpc).call<WdView[]>('rollup_listWithdrawals', [toHex(key.address)]);
        print(!!f.json, list, () => (list.length === 0 ? 'no withdrawals' : list.map((w) => `#${w.id}  ${w.amount} → ${w.to}  ${stageText(w)}`).join('\n')));
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('finalize [id]').description("Prove and finalize a withdrawal on L1 (default: all of the account's ready ones)"))
    .action(async (id: string | undefined, f: BridgeFlags) => {
      try {
        const key = signer(f.from);
        const l2 = new RpcClient(f.l2Rpc);
        const l1 = new RpcL1Client(f.l1Rpc);
        const list = await l2.call<WdView[]>('rollup_listWithdrawals', [toHex(key.address)]);
        if (id !== undefined && !/^\d+$/.test(id)) throw new StrataError('CONFIG_INVALID', `withdrawal id must be a whole number, not ${JSON.stringify(id)}`);
        const targets = id === undefined ? list.filter((w) => w.stage === 'ready') : list.filter((w) => w.id === Number(id));
        if (targets.length === 0) {
          const pending = list.filter((w) => w.stage !== 'finalized');
          const why =
            id !== undefined
              ? `withdrawal ${id} not found for this account`
              : list.length === 0
                ? 'this account has no withdrawals'
                : pending.length === 0
                  ? `every withdrawal of this account is already finalized (${list.map((w) => `#${w.id}`).join(', ')})`
                  : `none is ready: ${pending.map((w) => `#${w.id} ${stageText(w)}`).join(', ')}`;
          throw new StrataError('L2_WITHDRAWAL', `nothing to finalize: ${why}`);
        }
        const done: { id: number; amount: string; l1Block: number }[] = [];
        for (const w of targets) {
          if (w.stage === 'finalized') throw new StrataError('L2_WITHDRAWAL', `withdrawal ${w.id} is already finalized; a withdrawal pays out once`);
          if (w.stage !== 'ready') throw new StrataError('L2_WITHDRAWAL', `withdrawal ${w.id} is not ready: ${stageText(w)}`);
          const full = await l2.call<{ id: number; from: string; to: string; amount: string; outputIndex: number; proof: string[] }>('rollup_getWithdrawal', [w.id]);
          const st = await l1.withdrawalState(w.id);
          if (st.proven?.outputIndex !== full.outputIndex) {
            const args = encode(ProveWithdrawalArgs, {
              rollupId: rollup.rollupId,
              outputIndex: full.outputIndex,
              withdrawal: { id: full.id, l2Sender: fromHex(full.from, 20), l1Recipient: fromHex(full.to, 20), amount: BigInt(full.amount) },
              proof: full.proof.map((p) => fromHex(p)),
            });
            const r = await waitReceipt(l1, await l1.send(key, BRIDGE_MODULE, 'proveWithdrawal', args, 40_000));
            if (r.status !== 'ok') throw new StrataError('L2_WITHDRAWAL', `proving withdrawal ${w.id} failed: ${r.error}`);
          }
          const r = await waitReceipt(l1, await l1.send(key, BRIDGE_MODULE, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: rollup.rollupId, id: w.id }), 5_000));
          if (r.status !== 'ok') throw new StrataError('L2_WITHDRAWAL', `finalizing withdrawal ${w.id} failed: ${r.error}`);
          done.push({ id: w.id, amount: w.amount, l1Block: r.height });
        }
        print(!!f.json, done, () => done.map((d) => `finalized withdrawal #${d.id}: ${d.amount} paid on L1 (block ${d.l1Block})`).join('\n'));
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
