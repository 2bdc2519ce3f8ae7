/**
 * `strata token create | mint | transfer | balance` and `strata amm pool | add | remove | swap |
 * quote`: the token and AMM modules of `@strata/apps`, on any chain that runs them (`--layer
 * l1|l2|l3` or `--rpc URL`). Writes are signed transactions that wait for their receipt; reads
 * fetch a Merkle proof of the state key (`state_getProof`) and check it before showing a value.
 */
import type { Command } from 'commander';
import {
  AddLiquidityArgs,
  APP_CALL_COMPUTE,
  CreatePoolArgs,
  CreateTokenArgs,
  decodeAmount,
  lpStateKey,
  MintTokenArgs,
  NATIVE_ASSET,
  PoolCodec,
  poolId,
  poolStateKey,
  quoteSwap,
  RemoveLiquidityArgs,
  SwapArgs,
  TokenInfoCodec,
  tokenBalanceKey,
  tokenIdOf,
  tokenInfoKey,
  TransferTokenArgs,
  type Pool,
  type TokenInfo,
} from '@strata/apps';
import { devAccounts } from '@strata/devnet';
import { DEV_MNEMONIC, decode, encode, encodeAddress, fromHex, fromQuantity, keyPairFromSecret, StrataError, toHex, type ErrorCode, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx, parseAddress, signTx } from '@strata/runtime';
import { verifyProof } from '@strata/state';
import { print } from '../output.js';
import { clientOptions } from './common.js';

interface Flags {
  rpc: string;
  json?: boolean;
  from: string;
}

interface Info {
  chainId: string;
  addressPrefix: string;
  fees: { perByte: string; perCompute: string };
}

function signerOf(from: string): KeyPair {
  if (/^\d+$/.test(from)) {
    const a = devAccounts('st', Number(from) + 1, DEV_MNEMONIC)[Number(from)];
    if (!a) throw new StrataError('INVALID_KEY', `no dev account ${from}`);
    return a.keys;
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(from)) return keyPairFromSecret(fromHex(from, 32));
  throw new StrataError('INVALID_KEY', '--from must be a dev account index (0–9) or a 0x secret key');
}

function who(text: string, prefix: string): Uint8Array {
  if (/^\d$/.test(text)) return signerOf(text).address;
  return parseAddress(text, prefix);
}

function units(name: string, v: string | undefined, allowZero = false): bigint {
  if (v === undefined || !/^\d+$/.test(v) || (!allowZero && BigInt(v) === 0n)) throw new StrataError('CONFIG_INVALID', `${name} must be a ${allowZero ? 'non-negative' : 'positive'} whole number of base units, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

function id32(name: string, v: string): Uint8Array {
  try {
    return fromHex(v, 32);
  } catch {
    throw new StrataError('INVALID_HEX', `${name} must be a 0x id of 32 bytes, got ${JSON.stringify(v)}`);
  }
}

/** `native` (or `coin`) for the chain's coin, else a token id. */
function asset(v: string): Uint8Array {
  return v === 'native' || v === 'coin' ? NATIVE_ASSET : id32('asset', v);
}

const assetText = (a: Uint8Array) => (a.every((b) => b === 0) ? 'native' : toHex(a));

/** Signs a module call, submits it and waits for its receipt; throws on a failed receipt. */
async function call(client: RpcClient, info: Info, key: KeyPair, module: string, method: string, args: Uint8Array): Promise<{ hash: string; blockNumber: number; events: { type: string; data: Record<string, unknown> }[] }> {
  const acct = await client.call<{ nextNonce: string }>('state_getAccount', [encodeAddress(info.addressPrefix, key.address)]);
  const unsigned = { chainId: Number(fromQuantity(info.chainId)), nonce: Number(fromQuantity(acct.nextNonce)), fee: 0n, computeLimit: APP_CALL_COMPUTE, module, method, args };
  const size = encodeTx(signTx({ ...unsigned, fee: 1n << 64n }, key.secretKey)).length;
  const fee = BigInt(size) * BigInt(info.fees.perByte) + BigInt(APP_CALL_COMPUTE) * BigInt(info.fees.perCompute);
  const hash = await client.call<string>('tx_sendRaw', [toHex(encodeTx(signTx({ ...unsigned, fee }, key.secretKey)))]);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await client.call<{ status: string; blockNumber: string; error: unknown; events: { type: string; data: Record<string, unknown> }[] } | null>('tx_getReceipt', [hash]);
    if (r) {
      if (r.status !== '0x1') {
        const e = r.error as { code?: string; message?: string } | string | null;
        // The receipt's code (L1: {code, message}; L2: "CODE: message") is the error's code.
        const text = typeof e === 'string' ? e : `${e?.code ?? 'TX_EXECUTION_FAILED'}: ${e?.message ?? ''}`;
        const code = (/^([A-Z0-9_]+): /.exec(text)?.[1] ?? 'TX_EXECUTION_FAILED') as ErrorCode;
        throw new StrataError(code, `${module}.${method} failed in block ${Number(fromQuantity(r.blockNumber))}: ${text}`, { hash });
      }
      return { hash, blockNumber: Number(fromQuantity(r.blockNumber)), events: r.events ?? [] };
    }
    if (Date.now() > deadline) throw new StrataError('NOT_FOUND', `transaction ${hash} was accepted but not included within 120 s`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** Reads a state key with a Merkle proof and checks the proof against the block's state root. */
async function proven(client: RpcClient, key: Uint8Array): Promise<{ value: Uint8Array | undefined; blockNumber: number }> {
  const r = await client.call<{ value: string | null; proof: string[]; stateRoot: string; blockNumber: string }>('state_getProof', [toHex(key), 'latest']);
  const v = verifyProof(fromHex(r.stateRoot, 32), key, r.proof.map((p) => fromHex(p)));
  const claimed = r.value === null ? undefined : fromHex(r.value);
  if ((v.value === undefined) !== (claimed === undefined) || (v.value && claimed && toHex(v.value) !== toHex(claimed))) {
    throw new StrataError('PROOF_INVALID', 'the node returned a value its own proof does not support');
  }
  return { value: v.value, blockNumber: Number(fromQuantity(r.blockNumber)) };
}

/** Reads a token record, Merkle-proof-checked (TOKEN_UNKNOWN when the chain has none). */
export async function readToken(client: RpcClient, id: Uint8Array): Promise<TokenInfo> {
  const { value } = await proven(client, tokenInfoKey(id));
  if (!value) throw new StrataError('TOKEN_UNKNOWN', `no token ${toHex(id)} on this chain`);
  return decode(TokenInfoCodec, value);
}

async function readPool(client: RpcClient, id: Uint8Array): Promise<Pool> {
  const { value } = await proven(client, poolStateKey(id));
  if (!value) throw new StrataError('AMM_UNKNOWN_POOL', `no pool ${toHex(id)} on this chain; create it with: strata amm pool <assetA> <assetB> --create`);
  return decode(PoolCodec, value);
}

function tokenJson(t: TokenInfo) {
  return {
    id: toHex(t.id),
    symbol: t.symbol,
    decimals: t.decimals,
    issuer: toHex(t.issuer),
    cap: t.cap.toString(),
    supply: t.supply.toString(),
    origin: { chainId: t.originChainId, id: toHex(t.originId) },
  };
}

function poolJson(id: Uint8Array, p: Pool) {
  return { id: toHex(id), assetA: assetText(p.assetA), assetB: assetText(p.assetB), reserveA: p.reserveA.toString(), reserveB: p.reserveB.toString(), shares: p.shares.toString(), feeBps: p.feeBps };
}

function cmd(c: Command): Command {
  return clientOptions(c.option('--from <account>', 'dev account index or 0x secret key', '0'));
}

export function registerAppCommands(program: Command): void {
  const token = program.command('token').description('User-defined tokens: create, mint (issuer), transfer, balance — on any layer');

  cmd(token.command('create').description('Create a token; you become its issuer'))
    .requiredOption('--symbol <text>', '1–12 letters or digits')
    .option('--decimals <n>', 'display decimals (0–36)', '8')
    .option('--cap <units>', 'supply cap in base units (0 = uncapped)', '0')
    .action(async (f: Flags & { symbol: string; decimals: string; cap: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const key = signerOf(f.from);
      const r = await call(client, info, key, 'token', 'create', encode(CreateTokenArgs, { symbol: f.symbol, decimals: Number(f.decimals), cap: units('--cap', f.cap, true) }));
      const id = tokenIdOf(Number(fromQuantity(info.chainId)), fromHex(r.hash, 32));
      print(!!f.json, { id: toHex(id), tx: r.hash, blockNumber: r.blockNumber, symbol: f.symbol }, () => `created ${f.symbol}: token id ${toHex(id)} (tx ${r.hash}, block #${r.blockNumber})`);
    });

  cmd(token.command('mint').description('Mint tokens (issuer only, up to the cap)').argument('<id>', 'token id (0x…)'))
    .requiredOption('--amount <units>', 'base units')
    .option('--to <address>', 'recipient (default: yourself)')
    .action(async (id: string, f: Flags & { amount: string; to?: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const key = signerOf(f.from);
      const to = f.to ? who(f.to, info.addressPrefix) : key.address;
      const r = await call(client, info, key, 'token', 'mint', encode(MintTokenArgs, { id: id32('<id>', id), to, amount: units('--amount', f.amount) }));
      print(!!f.json, { tx: r.hash, blockNumber: r.blockNumber, to: toHex(to), amount: f.amount }, () => `minted ${f.amount} to ${encodeAddress(info.addressPrefix, to)} (tx ${r.hash})`);
    });

  cmd(token.command('transfer').description('Send tokens').argument('<id>', 'token id (0x…)'))
    .requiredOption('--to <address>', 'recipient')
    .requiredOption('--amount <units>', 'base units')
    .action(async (id: string, f: Flags & { amount: string; to: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const to = who(f.to, info.addressPrefix);
      const r = await call(client, info, signerOf(f.from), 'token', 'transfer', encode(TransferTokenArgs, { id: id32('<id>', id), to, amount: units('--amount', f.amount) }));
      print(!!f.json, { tx: r.hash, blockNumber: r.blockNumber, to: toHex(to), amount: f.amount }, () => `sent ${f.amount} to ${encodeAddress(info.addressPrefix, to)} (tx ${r.hash}, block #${r.blockNumber})`);
    });

  clientOptions(token.command('balance').description("A holder's balance and the token's record (Merkle-proven)").argument('<id>', 'token id (0x…)').argument('[account]', 'address or dev account index', '0')).action(
    async (id: string, account: string, f: Flags) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const tid = id32('<id>', id);
      const holder = who(account, info.addressPrefix);
      const t = await readToken(client, tid);
      const b = await proven(client, tokenBalanceKey(tid, holder));
      const balance = b.value ? decodeAmount(b.value) : 0n;
      const out = { token: tokenJson(t), holder: encodeAddress(info.addressPrefix, holder), balance: balance.toString(), blockNumber: b.blockNumber };
      print(!!f.json, out, () =>
        [
          `${out.holder} holds ${balance} ${t.symbol} (base units, ${t.decimals} decimals) at block #${b.blockNumber}`,
          `token   ${out.token.id}  supply ${t.supply}${t.cap > 0n ? ` / cap ${t.cap}` : ' (uncapped)'}  issuer ${out.token.issuer}`,
          `origin  chain ${t.originChainId}  id ${out.token.origin.id}`,
        ].join('\n'),
      );
    },
  );

  const amm = program.command('amm').description('Constant-product pools: pool, add, remove, swap, quote');

  cmd(amm.command('pool').description('Show the pool of two assets (native or a token id); --create makes it').argument('<assetA>').argument('<assetB>'))
    .option('--fee <bps>', 'pool fee in basis points', '30')
    .option('--create', 'create the pool (it starts empty; then: strata amm add)')
    .action(async (a: string, b: string, f: Flags & { fee: string; create?: boolean }) => {
      const client = new RpcClient(f.rpc);
      const fee = Number(f.fee);
      const id = poolId(asset(a), asset(b), fee);
      if (f.create) {
        const info = await client.call<Info>('chain_getConfig');
        await call(client, info, signerOf(f.from), 'amm', 'createPool', encode(CreatePoolArgs, { assetA: asset(a), assetB: asset(b), feeBps: fee }));
      }
      const p = poolJson(id, await readPool(client, id));
      print(!!f.json, p, () => `pool ${p.id} (fee ${p.feeBps} bps)\n  ${p.assetA}: ${p.reserveA}\n  ${p.assetB}: ${p.reserveB}\n  LP shares: ${p.shares}`);
    });

  cmd(amm.command('add').description('Add liquidity (takes at most the amounts given, in the pool ratio)').argument('<pool>', 'pool id'))
    .requiredOption('--amount-a <units>', 'most of asset A to put in')
    .requiredOption('--amount-b <units>', 'most of asset B to put in')
    .option('--min-shares <n>', 'fewest LP shares accepted', '0')
    .action(async (pool: string, f: Flags & { amountA: string; amountB: string; minShares: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const r = await call(client, info, signerOf(f.from), 'amm', 'addLiquidity', encode(AddLiquidityArgs, { pool: id32('<pool>', pool), amountA: units('--amount-a', f.amountA), amountB: units('--amount-b', f.amountB), minShares: units('--min-shares', f.minShares, true) }));
      const ev = r.events.find((e) => e.type === 'liquidityAdded')?.data ?? {};
      print(!!f.json, { tx: r.hash, ...ev }, () => `added ${ev.amountA} / ${ev.amountB} for ${ev.shares} LP shares (tx ${r.hash})`);
    });

  cmd(amm.command('remove').description('Redeem LP shares').argument('<pool>', 'pool id'))
    .requiredOption('--shares <n>', 'LP shares to redeem')
    .option('--min-a <units>', 'least of asset A accepted', '0')
    .option('--min-b <units>', 'least of asset B accepted', '0')
    .action(async (pool: string, f: Flags & { shares: string; minA: string; minB: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const r = await call(client, info, signerOf(f.from), 'amm', 'removeLiquidity', encode(RemoveLiquidityArgs, { pool: id32('<pool>', pool), shares: units('--shares', f.shares), minA: units('--min-a', f.minA, true), minB: units('--min-b', f.minB, true) }));
      const ev = r.events.find((e) => e.type === 'liquidityRemoved')?.data ?? {};
      print(!!f.json, { tx: r.hash, ...ev }, () => `redeemed ${f.shares} shares for ${ev.amountA} / ${ev.amountB} (tx ${r.hash})`);
    });

  const quoteOf = async (client: RpcClient, pool: string, assetIn: string, amount: bigint) => {
    const id = id32('<pool>', pool);
    const p = await readPool(client, id);
    const a = asset(assetIn);
    const aIn = toHex(a) === toHex(p.assetA);
    if (!aIn && toHex(a) !== toHex(p.assetB)) throw new StrataError('AMM_INVALID', `asset ${assetIn} is not in pool ${pool}`);
    const out = aIn ? quoteSwap(p.reserveA, p.reserveB, amount, p.feeBps) : quoteSwap(p.reserveB, p.reserveA, amount, p.feeBps);
    return { id, p, a, out, assetOut: assetText(aIn ? p.assetB : p.assetA) };
  };

  clientOptions(amm.command('quote').description('Output of a swap at the current reserves (no transaction)').argument('<pool>', 'pool id'))
    .requiredOption('--in <asset>', 'asset paid in: native or a token id')
    .requiredOption('--amount <units>', 'amount paid in')
    .action(async (pool: string, f: Flags & { in: string; amount: string }) => {
      const q = await quoteOf(new RpcClient(f.rpc), pool, f.in, units('--amount', f.amount));
      print(!!f.json, { pool, in: f.in, amountIn: f.amount, out: q.assetOut, amountOut: q.out.toString() }, () => `${f.amount} ${f.in} → ${q.out} ${q.assetOut} (fee ${q.p.feeBps} bps)`);
    });

  cmd(amm.command('swap').description('Swap an exact input; fails unless at least --min-out comes back').argument('<pool>', 'pool id'))
    .requiredOption('--in <asset>', 'asset paid in: native or a token id')
    .requiredOption('--amount <units>', 'amount paid in')
    .option('--min-out <units>', 'least output accepted (default: the quote less --slippage-bps)')
    .option('--slippage-bps <n>', 'tolerance when --min-out is not given', '50')
    .action(async (pool: string, f: Flags & { in: string; amount: string; minOut?: string; slippageBps: string }) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const amount = units('--amount', f.amount);
      const q = await quoteOf(client, pool, f.in, amount);
      const minOut = f.minOut !== undefined ? units('--min-out', f.minOut, true) : (q.out * BigInt(10_000 - Number(f.slippageBps))) / 10_000n;
      const r = await call(client, info, signerOf(f.from), 'amm', 'swap', encode(SwapArgs, { pool: q.id, assetIn: q.a, amountIn: amount, minOut }));
      const ev = r.events.find((e) => e.type === 'swap')?.data ?? {};
      print(!!f.json, { tx: r.hash, blockNumber: r.blockNumber, amountIn: f.amount, amountOut: ev.amountOut, minOut: minOut.toString() }, () => `swapped ${f.amount} ${f.in} for ${ev.amountOut} ${q.assetOut} (min ${minOut}; tx ${r.hash})`);
    });

  clientOptions(amm.command('shares').description('LP shares an account holds in a pool').argument('<pool>', 'pool id').argument('[account]', 'address or dev account index', '0')).action(
    async (pool: string, account: string, f: Flags) => {
      const client = new RpcClient(f.rpc);
      const info = await client.call<Info>('chain_getConfig');
      const holder = who(account, info.addressPrefix);
      const r = await proven(client, lpStateKey(id32('<pool>', pool), holder));
      const shares = r.value ? decodeAmount(r.value) : 0n;
      print(!!f.json, { pool, holder: encodeAddress(info.addressPrefix, holder), shares: shares.toString() }, () => `${shares} LP shares`);
    },
  );
}
