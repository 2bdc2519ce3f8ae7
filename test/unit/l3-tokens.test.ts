/**
 * Tokens over the bridges, L1 → L2 → L3 and back (issue 13): the parent's bridge escrows the
 * token, the child mints its wrapped form 1:1 under an id derived from the token's origin (chain,
 * id) and the bridge, so the token is the same id at L2 and L3; the child burns on withdrawal and
 * the parent releases from escrow against a proven output root after the window. Token and coin
 * conservation is checked after every block on every layer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AddLiquidityArgs,
  AMM_ACCOUNT,
  APP_CALL_COMPUTE,
  CreatePoolArgs,
  CreateTokenArgs,
  getPool,
  getToken,
  MintTokenArgs,
  NATIVE_ASSET,
  poolId,
  quoteSwap,
  SwapArgs,
  tokenBalance,
  tokenIdOf,
  wrappedTokenId,
} from '@strata/apps';
import {
  BRIDGE_MINTER,
  DepositArgs,
  DepositTokenArgs,
  escrowAddress,
  FinalizeWithdrawalArgs,
  getTokenWithdrawal,
  l2RpcMethods,
  ProveTokenWithdrawalArgs,
  readOutput,
  readOutputsMeta,
  readTokenWithdrawalState,
  rollupModuleNames,
  signL2TokenWithdrawal,
  tokenWithdrawalCount,
  tokenWithdrawalKey,
  type RollupNode,
} from '@strata/optimistic';
import { encode, toHex, type KeyPair } from '@strata/primitives';
import { encodeTx as encodeRaw, signTx } from '@strata/runtime';
import type { StateView } from '@strata/state';
import { L3World } from '../helpers/l3.js';
import { keys } from '../helpers/optimistic.js';

const [alice, , carol] = [keys[0]!, keys[1]!, keys[2]!];
let world: L3World | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

type Reader = Pick<StateView, 'get'>;
const sum = (r: Reader, id: Uint8Array, holders: Uint8Array[]) => holders.reduce((n, a) => n + tokenBalance(r, id, a), 0n);

/**
 * Token conservation on every layer for one L1 token `g` (wrapped id `w` on L2 and L3):
 * each layer's balances sum to its supply; a child's supply plus its withdrawals not yet
 * finalized on the parent plus deposits not yet executed equals the parent's escrow.
 */
function checkTokens(x: L3World, g: Uint8Array, w: Uint8Array): void {
  const l1 = x.w.l1.chain.stateReader;
  const l1Holders = [...keys.map((k) => k.address), escrowAddress(x.w.rollup.rollupId)];
  const gi = getToken(l1, g);
  if (!gi || sum(l1, g, l1Holders) !== gi.supply) throw new Error(`L1 token conservation broken: ${sum(l1, g, l1Holders)} != ${gi?.supply}`);
  const layer = (child: RollupNode, parent: Reader, parentToken: Uint8Array, holders: Uint8Array[], rollupId: number, name: string, upToDate: boolean) => {
    const r = child.chain.reader();
    const supply = getToken(r, w)?.supply ?? 0n;
    if (sum(r, w, holders) !== supply) throw new Error(`${name} token conservation broken: balances ${sum(r, w, holders)} != supply ${supply}`);
    let inFlight = 0n;
    for (let id = 0; id < tokenWithdrawalCount(r); id++) {
      const rec = getTokenWithdrawal(r, id)!;
      if (!readTokenWithdrawalState(parent, rollupId, id).finalized) inFlight += rec.amount;
    }
    let queued = 0n;
    for (const op of child.derivation.delayedOps(child.chain.delayedRead)) if (op[0] === 5) queued += 1n;
    const escrow = tokenBalance(parent, parentToken, escrowAddress(rollupId));
    if (supply + inFlight > escrow) throw new Error(`${name}: supply ${supply} + in flight ${inFlight} exceeds the parent's escrow ${escrow}`);
    if (upToDate && queued === 0n && supply + inFlight !== escrow) throw new Error(`${name}: supply ${supply} + in flight ${inFlight} != the parent's escrow ${escrow}`);
  };
  const l2 = x.w.seqNode;
  layer(l2, l1, g, [...keys.map((k) => k.address), escrowAddress(x.l3cfg.rollupId), AMM_ACCOUNT], x.w.rollup.rollupId, 'L2', l2.derivation.l1Tip?.height === x.w.l1.chain.head.meta.height);
  layer(x.seq, l2.chain.reader(), w, [...keys.map((k) => k.address), AMM_ACCOUNT], x.l3cfg.rollupId, 'L3', x.seq.derivation.l1Tip?.height === l2.chain.head.number);
}

function l3tx(x: L3World, key: KeyPair, module: string, method: string, args: Uint8Array, compute = APP_CALL_COMPUTE) {
  const cfg = x.seq.env.config;
  return signTx({ chainId: cfg.chainId, nonce: x.seq.nextNonce(key.address), fee: BigInt(compute) * cfg.fees.perCompute, computeLimit: compute, module, method, args }, key.secretKey);
}

/** Creates GOLD on the L1, funds L2 and L3 with coins; returns the L1 id and the wrapped id. */
async function setup(x: L3World): Promise<{ g: Uint8Array; w: Uint8Array }> {
  const l1Id = x.w.l1.chain.config.chainId;
  const h = await x.w.client.send(alice, 'token', 'create', encode(CreateTokenArgs, { symbol: 'GOLD', decimals: 6, cap: 10n ** 12n }), APP_CALL_COMPUTE);
  x.w.mine();
  const g = tokenIdOf(l1Id, h);
  await x.w.client.send(alice, 'token', 'mint', encode(MintTokenArgs, { id: g, to: alice.address, amount: 10n ** 9n }), APP_CALL_COMPUTE);
  x.w.mine();
  const w = wrappedTokenId(l1Id, g, BRIDGE_MINTER);
  x.w.afterBlock = () => checkTokens(x, g, w);
  const n2 = rollupModuleNames(x.w.rollup.rollupId);
  for (const k of [alice, keys[1]!, carol]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
  x.w.mine();
  await x.l2Block();
  const n3 = rollupModuleNames(x.l3cfg.rollupId);
  await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
  await x.l2Block();
  await x.l3Seal();
  return { g, w };
}

const depositArgs = (rollupId: number, token: Uint8Array, origin: { chain: number; id: Uint8Array }, amount: bigint, symbol = 'GOLD') =>
  encode(DepositTokenArgs, { rollupId, to: alice.address, token, originChainId: origin.chain, originId: origin.id, symbol, decimals: 6, amount });

async function rolesUntil(x: L3World, done: () => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await x.l3Roles();
  expect(done()).toBe(true);
}

describe('tokens over the bridges: L1 → L2 → L3 and back', () => {
  it('GOLD goes L1 → L2 → L3 (one id on L2 and L3), is swapped on the L3 AMM, and comes back L3 → L2 → L1, every finalize refused in its window and accepted once after', async () => {
    world = new L3World();
    const x = world;
    const { g, w } = await setup(x);
    const l1Id = x.w.l1.chain.config.chainId;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    // L1 → L2: escrow on the L1, the wrapped form minted on the L2.
    await x.w.client.send(alice, n2.bridge, 'depositToken', depositArgs(x.w.rollup.rollupId, g, { chain: l1Id, id: g }, 5n * 10n ** 8n), 20_000);
    x.w.mine();
    await x.l2Block();
    const l2 = () => x.w.seqNode.chain.reader();
    expect(tokenBalance(l2(), w, alice.address)).toBe(5n * 10n ** 8n);
    expect(getToken(l2(), w)).toMatchObject({ symbol: 'GOLD', decimals: 6, originChainId: l1Id, originId: g, issuer: BRIDGE_MINTER });
    // L2 → L3: the L2's wrapped GOLD is escrowed on the L2; the L3 mints the same id.
    await x.l2client.send(alice, n3.bridge, 'depositToken', depositArgs(x.l3cfg.rollupId, w, { chain: l1Id, id: g }, 3n * 10n ** 8n), 20_000);
    await x.l2Block();
    await x.l3Seal();
    expect(tokenBalance(x.seq.chain.reader(), w, alice.address)).toBe(3n * 10n ** 8n);
    expect(getToken(x.seq.chain.reader(), w)).toMatchObject({ originChainId: l1Id, originId: g });

    // The L3 app: a pool of the coin and GOLD, and a swap.
    await x.l3Send(l3tx(x, alice, 'amm', 'createPool', encode(CreatePoolArgs, { assetA: NATIVE_ASSET, assetB: w, feeBps: 30 })));
    const pool = poolId(NATIVE_ASSET, w, 30);
    await x.l3Send(l3tx(x, alice, 'amm', 'addLiquidity', encode(AddLiquidityArgs, { pool, amountA: 2n * 10n ** 8n, amountB: 10n ** 8n, minShares: 0n })));
    const p = getPool(x.seq.chain.reader(), pool)!;
    const quote = quoteSwap(p.reserveA, p.reserveB, 10n ** 7n, p.feeBps);
    const before = tokenBalance(x.seq.chain.reader(), w, alice.address);
    await x.l3Send(l3tx(x, alice, 'amm', 'swap', encode(SwapArgs, { pool, assetIn: NATIVE_ASSET, amountIn: 10n ** 7n, minOut: quote })));
    expect(tokenBalance(x.seq.chain.reader(), w, alice.address) - before).toBe(quote);

    // L3 → L2: burn on the L3, prove against an L3 output on the L2, finalize after the window.
    const back = tokenBalance(x.seq.chain.reader(), w, alice.address);
    await x.l3Send(signL2TokenWithdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, w, back));
    expect(x.seq.chain.head.results.at(-1)!.status).toBe('ok');
    const wdBlock = x.seq.chain.head.number;
    await rolesUntil(x, () => {
      const m = readOutputsMeta(l2(), x.l3cfg.rollupId);
      return m.count > 0 && readOutput(l2(), x.l3cfg.rollupId, m.count - 1)!.l2Block >= wdBlock;
    });
    const outIdx = readOutputsMeta(l2(), x.l3cfg.rollupId).count - 1;
    const out = readOutput(l2(), x.l3cfg.rollupId, outIdx)!;
    const honest = x.ver.chain.rootAfterOps(out.opEnd)!;
    const rec = getTokenWithdrawal(x.ver.chain.reader(honest), 0)!;
    expect(rec.token).toEqual(w); // the L2's id of the token
    const prove = await x.l2client.send(alice, n3.bridge, 'proveTokenWithdrawal', encode(ProveTokenWithdrawalArgs, { rollupId: x.l3cfg.rollupId, outputIndex: outIdx, withdrawal: rec, proof: x.ver.chain.proof(tokenWithdrawalKey(0), honest).proof }), 40_000);
    await x.l2Block();
    expect((await x.l2client.receipt(prove))?.status).toBe('ok');
    const fin3 = async () => {
      const h = await x.l2client.send(alice, n3.bridge, 'finalizeTokenWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: x.l3cfg.rollupId, id: 0 }), 20_000);
      await x.l2Block();
      return x.l2client.receipt(h);
    };
    // The child's RPC tracks the token withdrawal's stage (what `strata bridge status --token` prints).
    const stage = async () => ((await l2RpcMethods(x.seq).rollup_listTokenWithdrawals!.handler([toHex(alice.address)], {} as never)) as { id: number; stage: string; token: string }[])[0];
    expect(await stage()).toMatchObject({ id: 0, stage: 'in challenge window', token: toHex(w) });
    const early = await fin3();
    expect(early?.status).toBe('failed');
    expect(early?.error).toMatch(/challenge window/);
    for (let i = 0; i < x.l3cfg.challengeWindow; i++) await x.l2Batch();
    await x.l2Block();
    const l2Before = tokenBalance(l2(), w, alice.address);
    await x.seq.syncL1();
    expect((await stage())?.stage).toBe('ready');
    expect((await fin3())?.status).toBe('ok');
    await x.seq.syncL1();
    expect((await stage())?.stage).toBe('finalized');
    expect(tokenBalance(l2(), w, alice.address) - l2Before).toBe(back);
    expect((await fin3())?.status).toBe('failed'); // once

    // L2 → L1: the same, one layer down, against an L2 output root on the L1.
    const wx = x.w;
    const home = tokenBalance(l2(), w, alice.address);
    wx.l2Send(encodeRaw(signL2TokenWithdrawal(wx.seqNode.env, alice.secretKey, wx.seqNode.nextNonce(alice.address), alice.address, w, home)));
    await wx.sequence();
    expect(wx.seqNode.chain.head.results.at(-1)!.status).toBe('ok');
    const l2wd = wx.seqNode.chain.head.number;
    for (let i = 0; i < 30; i++) {
      await wx.batch();
      await wx.roles();
      const m = readOutputsMeta(wx.l1.chain.stateReader, wx.rollup.rollupId);
      if (m.count > 0 && readOutput(wx.l1.chain.stateReader, wx.rollup.rollupId, m.count - 1)!.l2Block >= l2wd) break;
    }
    const o1 = readOutputsMeta(wx.l1.chain.stateReader, wx.rollup.rollupId).count - 1;
    const o = readOutput(wx.l1.chain.stateReader, wx.rollup.rollupId, o1)!;
    const rec1 = getTokenWithdrawal(wx.verNode.chain.reader(o.stateRoot), 0)!;
    expect(rec1.token).toEqual(g); // the L1's id
    const p1 = await wx.client.send(alice, n2.bridge, 'proveTokenWithdrawal', encode(ProveTokenWithdrawalArgs, { rollupId: wx.rollup.rollupId, outputIndex: o1, withdrawal: rec1, proof: wx.verNode.chain.proof(tokenWithdrawalKey(0), o.stateRoot).proof }), 40_000);
    wx.mine();
    expect((await wx.client.receipt(p1))?.status).toBe('ok');
    const fin1 = () => wx.client.send(alice, n2.bridge, 'finalizeTokenWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: wx.rollup.rollupId, id: 0 }), 20_000);
    const f1 = await fin1();
    wx.mine();
    expect((await wx.client.receipt(f1))?.status).toBe('failed');
    for (let i = 0; i < wx.rollup.challengeWindow; i++) wx.mine();
    const l1Before = tokenBalance(wx.l1.chain.stateReader, g, alice.address);
    const f2 = await fin1();
    wx.mine();
    expect((await wx.client.receipt(f2))?.status).toBe('ok');
    expect(tokenBalance(wx.l1.chain.stateReader, g, alice.address) - l1Before).toBe(home);
    const f3 = await fin1();
    wx.mine();
    expect((await wx.client.receipt(f3))?.status).toBe('failed'); // once
    checkTokens(x, g, w);
  }, 180_000);

  it('refuses: a token never deposited, a forged wrapped id, a child-native token posing as the parent token, a deposit lying about the identity', async () => {
    world = new L3World();
    const x = world;
    const { g, w } = await setup(x);
    const l1Id = x.w.l1.chain.config.chainId;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    const last = () => x.seq.chain.head.results.at(-1)!;
    // 1. Withdrawing GOLD from the L3 before any was deposited: no such wrapped token there.
    await x.l3Send(signL2TokenWithdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, w, 1n));
    expect(last().status).toBe('failed');
    expect(last().error).toMatch(/did not come over the bridge/);
    // 2. A wrapped id forged on the child: an id of the wrapped domain for a token never bridged,
    //    and minting the real wrapped id by anyone but the bridge.
    const forged = wrappedTokenId(l1Id, new Uint8Array(32).fill(7), BRIDGE_MINTER);
    await x.l3Send(signL2TokenWithdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, forged, 1n));
    expect(last().error).toMatch(/did not come over the bridge/);
    // 3. A token Mallory (carol) issues on the child, named like the parent's, withdrawn as GOLD.
    await x.l2client.send(carol, 'token', 'create', encode(CreateTokenArgs, { symbol: 'GOLD', decimals: 6, cap: 0n }), APP_CALL_COMPUTE);
    await x.l2Block();
    const fake = x.w.seqNode.chain.head.results.find((r) => r.events.some((e) => e.type === 'created'))!;
    const fakeId = tokenIdOf(x.w.rollup.l2ChainId, fake.txHash!);
    await x.l2client.send(carol, 'token', 'mint', encode(MintTokenArgs, { id: fakeId, to: carol.address, amount: 10n ** 9n }), APP_CALL_COMPUTE);
    await x.l2Block();
    x.w.l2Send(encodeRaw(signL2TokenWithdrawal(x.w.seqNode.env, carol.secretKey, x.w.seqNode.nextNonce(carol.address), carol.address, fakeId, 10n ** 9n)));
    await x.w.sequence();
    const r3 = x.w.seqNode.chain.head.results.at(-1)!;
    expect(r3.status).toBe('failed');
    expect(r3.error).toMatch(/did not come over the bridge/);
    // …nor can she mint the real wrapped GOLD on the L2 (its issuer is the bridge).
    await x.w.client.send(alice, n2.bridge, 'depositToken', depositArgs(x.w.rollup.rollupId, g, { chain: l1Id, id: g }, 10n ** 6n), 20_000);
    x.w.mine();
    await x.l2Block();
    await x.l2client.send(carol, 'token', 'mint', encode(MintTokenArgs, { id: w, to: carol.address, amount: 10n ** 9n }), APP_CALL_COMPUTE);
    await x.l2Block();
    expect(x.w.seqNode.chain.head.results.find((r) => r.error)?.error).toMatch(/TOKEN_NOT_ISSUER/);
    expect(tokenBalance(x.w.seqNode.chain.reader(), w, carol.address)).toBe(0n);
    // 4. A deposit naming another identity than the parent's record is refused by the parent.
    const lie = await x.w.client.send(alice, n2.bridge, 'depositToken', depositArgs(x.w.rollup.rollupId, g, { chain: l1Id, id: g }, 10n ** 6n, 'USDC'), 20_000);
    x.w.mine();
    expect((await x.w.client.receipt(lie))?.status).toBe('failed');
    // 5. Finalizing a token withdrawal nobody proved, on the L1.
    const nf = await x.w.client.send(alice, n2.bridge, 'finalizeTokenWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: x.w.rollup.rollupId, id: 0 }), 20_000);
    x.w.mine();
    expect((await x.w.client.receipt(nf))?.error).toMatch(/not been proven/);
    checkTokens(x, g, w);
  }, 120_000);
});
