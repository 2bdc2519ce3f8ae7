/**
 * `strata bridge deposit | withdraw | finalize | status`: move coins between the L1 and the
 * devnet's optimistic rollup, acting for dev account 0 and the devnet endpoints by default.
 */
import type { Command } from 'commander';
import { devAccounts } from '@strata/devnet';
// The rollup package (it pulls in the state store and lmdb) loads only when an action runs, so
// `strata bridge --help` stays light.
import type * as Optimistic from '@strata/optimistic';
import { DEV_MNEMONIC, encodeAddress, fromHex, fromQuantity, keyPairFromSecret, StrataError, toHex, encode, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx, parseAddress } from '@strata/runtime';
import { checkArgs } from '../args.js';
import { readToken } from './apps.js';
import { resolveRpc } from '../layers.js';
import { fail, print } from '../output.js';

let optimistic: typeof Optimistic | undefined;
async function loadOptimistic(): Promise<typeof Optimistic> {
  optimistic ??= await import('@strata/optimistic');
  return optimistic;
}

interface BridgeFlags {
  from: string;
  l1Rpc?: string;
  l2Rpc?: string;
  parentRpc?: string;
  childRpc?: string;
  layer?: string;
  json?: boolean;
  amount?: string;
  to?: string;
  token?: string;
}

/** `--token`: a 0x token id (32 bytes), or undefined for the native coin. */
function tokenOf(v: string | undefined): Uint8Array | undefined {
  if (v === undefined) return undefined;
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) throw new StrataError('CONFIG_INVALID', '--token must be a 0x token id of 32 bytes (see `strata token create` or `strata token balance`)');
  return fromHex(v, 32);
}

/**
 * The parent and child endpoints: --parent-rpc / --child-rpc (any parent and child: L1 and L2,
 * or L2 and L3), or their L1/L2 names --l1-rpc / --l2-rpc, else the running devnet's (`--layer`
 * names the child rollup; its parent is the layer below: l3 → l2).
 */
function endpoints(f: BridgeFlags): { l1: string; l2: string } {
  const parent = f.parentRpc ?? f.l1Rpc;
  const child = f.childRpc ?? f.l2Rpc;
  checkArgs((c) => {
    c.url('--parent-rpc', parent);
    c.url('--child-rpc', child);
  });
  const parentLayer = f.layer === 'l3' ? 'l2' : 'l1';
  return { l1: resolveRpc({ rpc: parent, ...(parentLayer === 'l2' ? { layer: 'l2' } : {}) }, parentLayer), l2: resolveRpc({ rpc: child, layer: f.layer }, 'l2', 'STRATA_L2_RPC') };
}

/** The child rollup as its own RPC describes it (id, chain id, address prefix): works for an L2 or an L3. */
async function childRollup(url: string): Promise<Optimistic.RollupConfig> {
  const O = await loadOptimistic();
  try {
    const c = await new RpcClient(url, { timeoutMs: 5000 }).call<{ chainId: string; rollupId?: number; addressPrefix: string }>('chain_getConfig');
    const id = c.rollupId ?? Number(fromQuantity(c.chainId));
    return O.defaultRollupConfig({ rollupId: id, l2ChainId: Number(fromQuantity(c.chainId)), l2AddressPrefix: c.addressPrefix });
  } catch {
    // The child is not reachable (a deposit can still be made): the devnet's L2.
    return O.defaultRollupConfig();
  }
}

/** The L1's address prefix (for recipients of withdrawals), falling back to the default when the L1 does not answer. */
async function l1Prefix(url: string): Promise<string> {
  try {
    return (await new RpcClient(url, { timeoutMs: 2000 }).call<{ addressPrefix: string }>('chain_getConfig')).addressPrefix;
  } catch {
    return 'st';
  }
}

/** A 0x address from the RPC as bech32m with `prefix`. */
function bech32(prefix: string, hex: string): string {
  try {
    return encodeAddress(prefix, fromHex(hex, 20));
  } catch {
    return hex;
  }
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
    .option('--parent-rpc <url>', 'JSON-RPC endpoint of the parent chain (L1 for the L2, the L2 for the L3)')
    .option('--child-rpc <url>', 'JSON-RPC endpoint of the child rollup (the L2, or the L3)')
    .option('--l1-rpc <url>', 'L1 JSON-RPC endpoint, same as --parent-rpc (default: the running devnet\'s, $STRATA_RPC, or http://127.0.0.1:8545)')
    .option('--l2-rpc <url>', 'L2 JSON-RPC endpoint, same as --child-rpc (default: the running devnet\'s --layer, $STRATA_L2_RPC, or http://127.0.0.1:8546)')
    .option('--layer <name>', 'the child rollup layer of the running devnet (l2, or l3 with the l2 as parent)', 'l2')
    .option('--token <id>', "move this token (0x id) instead of the coin: the parent's id to deposit, the child's (wrapped) id to withdraw; status/finalize then take that token's withdrawals only (the child's or the parent's id)")
    .option('--json', 'print machine-readable JSON');
}

function amountOf(v: string | undefined): bigint {
  if (!v || !/^\d+$/.test(v) || BigInt(v) === 0n) throw new StrataError('CONFIG_INVALID', '--amount must be a positive whole number of base units');
  return BigInt(v);
}

async function waitReceipt(l1: Optimistic.RpcL1Client, hash: Uint8Array) {
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
  /** Token withdrawals: the parent's token id. */
  token?: string;
}

/** A withdrawal's stage for people: what it waits for. */
function stageText(w: WdView): string {
  if (w.stage === 'in challenge window' && w.readyAtL1 != null) return `in challenge window (output ${w.outputIndex}; ready at L1 block ${w.readyAtL1})`;
  if (w.stage === 'waiting for root') return 'waiting for root (no output root on L1 covers it yet)';
  return `${w.stage}${w.outputIndex !== null ? ` (output ${w.outputIndex})` : ''}`;
}

export function registerBridgeCommands(program: Command): void {
  const bridge = program.command('bridge').description('Move coins between the L1 and the optimistic rollup (devnet defaults)');

  common(bridge.command('deposit').description('Lock coins on L1; they are credited on L2 1:1'))
    .requiredOption('--amount <units>', 'base units to deposit')
    .option('--to <address>', 'L2 recipient, sl1… or 0x (default: the same address)')
    .action(async (f: BridgeFlags) => {
      const O = await loadOptimistic();
      try {
        checkArgs((c) => {
          c.amount('--amount', f.amount);
          c.address('--to', f.to, { optional: true });
          c.signer('--from', f.from);
          c.hash('--token', f.token);
        });
        const key = signer(f.from);
        const ep = endpoints(f);
        const rollup = await childRollup(ep.l2);
        const BRIDGE_MODULE = O.rollupModuleNames(rollup.rollupId).bridge;
        const l1 = new O.RpcL1Client(ep.l1, rollup.rollupId);
        const to = f.to ? parseAddress(f.to, rollup.l2AddressPrefix) : key.address;
        const token = tokenOf(f.token);
        let h: Uint8Array;
        let wrapped: string | undefined;
        if (token) {
          // The token's identity as the parent records it (proof-checked): the child wraps it under one id.
          const t = await readToken(new RpcClient(ep.l1), token);
          const args = { rollupId: rollup.rollupId, to, token, originChainId: t.originChainId, originId: t.originId, symbol: t.symbol, decimals: t.decimals, amount: amountOf(f.amount) };
          h = await l1.send(key, BRIDGE_MODULE, 'depositToken', encode(O.DepositTokenArgs, args), 20_000);
          const A = await import('@strata/apps');
          wrapped = toHex(A.wrappedTokenId(t.originChainId, t.originId, O.BRIDGE_MINTER));
        } else {
          h = await l1.send(key, BRIDGE_MODULE, 'deposit', encode(O.DepositArgs, { rollupId: rollup.rollupId, to, amount: amountOf(f.amount) }), 5_000);
        }
        const r = await waitReceipt(l1, h);
        if (r.status !== 'ok') throw new StrataError('L2_BRIDGE', `deposit failed on the parent chain: ${r.error}`);
        const toText = encodeAddress(rollup.l2AddressPrefix, to);
        print(
          !!f.json,
          { tx: toHex(h), l1Block: r.height, to: toText, toHex: toHex(to), amount: f.amount, ...(wrapped ? { token: f.token, childToken: wrapped } : {}) },
          () => `deposited ${f.amount}${wrapped ? ` of token ${f.token}` : ''} to ${toText} on the child (parent tx ${toHex(h)}, block ${r.height}); it appears there in a moment${wrapped ? ` as token ${wrapped}` : ''}`,
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('withdraw').description('Burn wrapped coins on L2; finalize on L1 after the challenge window'))
    .requiredOption('--amount <units>', 'base units to withdraw')
    .option('--to <address>', 'L1 recipient, st1… or 0x (default: the same address)')
    .action(async (f: BridgeFlags) => {
      const O = await loadOptimistic();
      try {
        checkArgs((c) => {
          c.amount('--amount', f.amount);
          c.address('--to', f.to, { optional: true });
          c.signer('--from', f.from);
          c.hash('--token', f.token);
        });
        const key = signer(f.from);
        const ep = endpoints(f);
        const rollup = await childRollup(ep.l2);
        const l2 = new RpcClient(ep.l2);
        const prefix = await l1Prefix(ep.l1);
        const to = f.to ? parseAddress(f.to, prefix) : key.address;
        const acct = await l2.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
        const token = tokenOf(f.token);
        const nonce = Number(fromQuantity(acct.nextNonce));
        const env = O.makeL2Env(rollup);
        const tx = token ? O.signL2TokenWithdrawal(env, key.secretKey, nonce, to, token, amountOf(f.amount)) : O.signL2Withdrawal(env, key.secretKey, nonce, to, amountOf(f.amount));
        const hash = await l2.call<string>('tx_sendRaw', [toHex(encodeTx(tx))]);
        print(!!f.json, { l2Tx: hash, to: encodeAddress(prefix, to), amount: f.amount, ...(token ? { token: f.token } : {}) }, () => `withdrawal of ${f.amount}${token ? ` of token ${f.token}` : ''} to ${encodeAddress(prefix, to)} submitted on the child (tx ${hash}); track it with: strata bridge status${token ? ' --token' : ''}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('status').description("Each withdrawal's stage: waiting for root, in challenge window, ready, finalized"))
    .action(async (f: BridgeFlags) => {
      try {
        checkArgs((c) => {
          c.signer('--from', f.from);
          c.hash('--token', f.token);
        });
        const key = signer(f.from);
        const ep = endpoints(f);
        // --token filters by that token (the child's id or the parent's); the child does the filtering.
        const raw = await new RpcClient(ep.l2).call<WdView[]>(f.token !== undefined ? 'rollup_listTokenWithdrawals' : 'rollup_listWithdrawals', f.token !== undefined ? [toHex(key.address), f.token] : [toHex(key.address)]);
        const prefix = await l1Prefix(ep.l1);
        // Recipients are L1 addresses: print them as the L1 prints addresses (bech32m), hex beside in JSON.
        const list = raw.map((w) => ({ ...w, to: bech32(prefix, w.to), toHex: w.to }));
        print(!!f.json, list, () => (list.length === 0 ? 'no withdrawals' : list.map((w) => `#${w.id}  ${w.amount}${w.token ? ` of ${w.token}` : ''} → ${w.to}  ${stageText(w)}`).join('\n')));
      } catch (e) {
        fail(!!f.json, e);
      }
    });

  common(bridge.command('finalize [id]').description("Prove and finalize a withdrawal on L1 (default: all of the account's ready ones)"))
    .action(async (id: string | undefined, f: BridgeFlags) => {
      const O = await loadOptimistic();
      try {
        checkArgs((c) => {
          c.integer('[id]', id);
          c.signer('--from', f.from);
          c.hash('--token', f.token);
        });
        const key = signer(f.from);
        const ep = endpoints(f);
        const rollup = await childRollup(ep.l2);
        const BRIDGE_MODULE = O.rollupModuleNames(rollup.rollupId).bridge;
        const l2 = new RpcClient(ep.l2);
        const l1 = new O.RpcL1Client(ep.l1, rollup.rollupId);
        const isToken = f.token !== undefined;
        const list = await l2.call<WdView[]>(isToken ? 'rollup_listTokenWithdrawals' : 'rollup_listWithdrawals', isToken ? [toHex(key.address), f.token] : [toHex(key.address)]);
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
          const full = await l2.call<{ id: number; from: string; to: string; token?: string; amount: string; outputIndex: number; proof: string[] }>(isToken ? 'rollup_getTokenWithdrawal' : 'rollup_getWithdrawal', [w.id]);
          const st = isToken ? await l1.tokenWithdrawalState(w.id) : await l1.withdrawalState(w.id);
          if (st.proven?.outputIndex !== full.outputIndex) {
            const base = { id: full.id, l2Sender: fromHex(full.from, 20), l1Recipient: fromHex(full.to, 20), amount: BigInt(full.amount) };
            const proof = full.proof.map((p) => fromHex(p));
            const args = isToken
              ? encode(O.ProveTokenWithdrawalArgs, { rollupId: rollup.rollupId, outputIndex: full.outputIndex, withdrawal: { ...base, token: fromHex(full.token ?? '', 32) }, proof })
              : encode(O.ProveWithdrawalArgs, { rollupId: rollup.rollupId, outputIndex: full.outputIndex, withdrawal: base, proof });
            const r = await waitReceipt(l1, await l1.send(key, BRIDGE_MODULE, isToken ? 'proveTokenWithdrawal' : 'proveWithdrawal', args, 40_000));
            if (r.status !== 'ok') throw new StrataError('L2_WITHDRAWAL', `proving withdrawal ${w.id} failed: ${r.error}`);
          }
          const fin = encode(O.FinalizeWithdrawalArgs, { rollupId: rollup.rollupId, id: w.id });
          const r = await waitReceipt(l1, await l1.send(key, BRIDGE_MODULE, isToken ? 'finalizeTokenWithdrawal' : 'finalizeWithdrawal', fin, isToken ? 20_000 : 5_000));
          if (r.status !== 'ok') throw new StrataError('L2_WITHDRAWAL', `finalizing withdrawal ${w.id} failed: ${r.error}`);
          done.push({ id: w.id, amount: w.amount, l1Block: r.height });
        }
        print(!!f.json, done, () => done.map((d) => `finalized withdrawal #${d.id}: ${d.amount} paid on the parent chain (block ${d.l1Block})`).join('\n'));
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
