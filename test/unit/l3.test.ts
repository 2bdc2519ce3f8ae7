import { afterEach, describe, expect, it } from 'vitest';
import {
  AddLiquidityArgs,
  APP_CALL_COMPUTE,
  CreatePoolArgs,
  CreateTokenArgs,
  getPool,
  MintTokenArgs,
  NATIVE_ASSET,
  poolId,
  quoteSwap,
  SwapArgs,
  tokenBalance,
  tokenIdOf,
} from '@strata/apps';
import {
  DepositArgs,
  FinalizeWithdrawalArgs,
  GAME_CHALLENGER_WON,
  getWithdrawal,
  l2RpcMethods,
  OUTPUT_DISCARDED,
  ProveWithdrawalArgs,
  readGame,
  readL1Origin,
  readOutput,
  readOutputsMeta,
  rollupModuleNames,
  signL2Withdrawal,
  withdrawalKey,
  type RollupNode,
} from '@strata/optimistic';
import { encode, type KeyPair } from '@strata/primitives';
import { encodeTx, getAccount, signTx } from '@strata/runtime';
import { L3World } from '../helpers/l3.js';
import { keys } from '../helpers/optimistic.js';

const alice = keys[0]!;
let world: L3World | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

function l3tx(x: L3World, key: KeyPair, module: string, method: string, args: Uint8Array) {
  const cfg = x.seq.env.config;
  return signTx({ chainId: cfg.chainId, nonce: x.seq.nextNonce(key.address), fee: BigInt(APP_CALL_COMPUTE) * cfg.fees.perCompute, computeLimit: APP_CALL_COMPUTE, module, method, args }, key.secretKey);
}

/** L1 → L2 coins for the user and the L3 role keys, then L2 → L3 for the user. */
async function fund(x: L3World): Promise<void> {
  const n2 = rollupModuleNames(x.w.rollup.rollupId);
  for (const k of [keys[0]!, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
  x.w.mine();
  await x.l2Block();
  expect(x.w.seqNode.chain.account(alice.address).balance).toBe(10n ** 10n);
  const n3 = rollupModuleNames(x.l3cfg.rollupId);
  await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
  await x.l2Block();
  await x.l3Seal();
  expect(x.seq.chain.account(alice.address).balance).toBe(10n ** 9n);
}

/** Token, pool and a swap on the L3; returns the swap's global operation index. */
async function defi(x: L3World): Promise<{ token: Uint8Array; pool: Uint8Array; swapOp: number; out: bigint }> {
  const create = l3tx(x, alice, 'token', 'create', encode(CreateTokenArgs, { symbol: 'GOLD', decimals: 6, cap: 10n ** 9n }));
  await x.l3Send(create);
  const token = tokenIdOf(x.l3cfg.l2ChainId, x.seq.chain.head.results.at(-1)!.txHash!);
  x.l3Tokens.push(token);
  await x.l3Send(l3tx(x, alice, 'token', 'mint', encode(MintTokenArgs, { id: token, to: alice.address, amount: 10n ** 8n })));
  await x.l3Send(l3tx(x, alice, 'amm', 'createPool', encode(CreatePoolArgs, { assetA: NATIVE_ASSET, assetB: token, feeBps: 30 })));
  const pool = poolId(NATIVE_ASSET, token, 30);
  await x.l3Send(l3tx(x, alice, 'amm', 'addLiquidity', encode(AddLiquidityArgs, { pool, amountA: 2n * 10n ** 8n, amountB: 5n * 10n ** 7n, minShares: 0n })));
  const p = getPool(x.seq.chain.reader(), pool)!;
  const quote = quoteSwap(p.reserveA, p.reserveB, 10n ** 7n, p.feeBps);
  const before = tokenBalance(x.seq.chain.reader(), token, alice.address);
  await x.l3Send(l3tx(x, alice, 'amm', 'swap', encode(SwapArgs, { pool, assetIn: NATIVE_ASSET, amountIn: 10n ** 7n, minOut: quote })));
  const head = x.seq.chain.head;
  expect(head.results.at(-1)!.status).toBe('ok');
  const swapOp = head.firstOp + head.allOps.length - 1;
  expect(tokenBalance(x.seq.chain.reader(), token, alice.address) - before).toBe(quote);
  // A swap whose minimum is one unit above the quote fails on the L3 and changes nothing.
  const p2 = getPool(x.seq.chain.reader(), pool)!;
  await x.l3Send(l3tx(x, alice, 'amm', 'swap', encode(SwapArgs, { pool, assetIn: NATIVE_ASSET, amountIn: 10n ** 6n, minOut: quoteSwap(p2.reserveA, p2.reserveB, 10n ** 6n, 30) + 1n })));
  expect(x.seq.chain.head.results.at(-1)!.error).toMatch(/^AMM_SLIPPAGE/);
  expect(getPool(x.seq.chain.reader(), pool)).toEqual(p2);
  return { token, pool, swapOp, out: quote };
}

async function rolesUntil(x: L3World, done: () => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await x.l3Roles();
  expect(done()).toBe(true);
}

/** Proves L3 withdrawal `id` on the L2 against output `outputIndex`; returns the L2 receipt status. */
async function proveOnL2(x: L3World, node: RollupNode, id: number, outputIndex: number) {
  const n3 = rollupModuleNames(x.l3cfg.rollupId);
  const out = readOutput(x.w.seqNode.chain.reader(), x.l3cfg.rollupId, outputIndex)!;
  // The record and proof as the honest chain has them at the output's end (a wrong root has no honest proof).
  const honest = node.chain.rootAfterOps(out.opEnd)!;
  const rec = getWithdrawal(node.chain.reader(honest), id)!;
  const { proof } = node.chain.proof(withdrawalKey(id), honest);
  const h = await x.l2client.send(alice, n3.bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: x.l3cfg.rollupId, outputIndex, withdrawal: rec, proof }), 40_000);
  await x.l2Block();
  return x.l2client.receipt(h);
}

async function finalizeOnL2(x: L3World, id: number) {
  const n3 = rollupModuleNames(x.l3cfg.rollupId);
  const h = await x.l2client.send(alice, n3.bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: x.l3cfg.rollupId, id }), 5_000);
  await x.l2Block();
  return x.l2client.receipt(h);
}

describe('L3: an app chain on the optimistic L2', () => {
  it('L1 → L2 → L3 deposit, an AMM swap on the L3, withdraw L3 → L2 → L1 with every window enforced and conservation on every layer', async () => {
    world = new L3World();
    const x = world;
    await fund(x);
    await defi(x);
    // L3 → L2: burn on the L3, prove against an L3 output root on the L2, finalize after the window.
    await x.l3Send(signL2Withdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, 5n * 10n ** 8n));
    const wdBlock = x.seq.chain.head.number;
    const l2r = () => x.w.seqNode.chain.reader();
    await rolesUntil(x, () => {
      const m = readOutputsMeta(l2r(), x.l3cfg.rollupId);
      return m.count > 0 && readOutput(l2r(), x.l3cfg.rollupId, m.count - 1)!.l2Block >= wdBlock;
    });
    const outIdx = readOutputsMeta(l2r(), x.l3cfg.rollupId).count - 1;
    expect((await proveOnL2(x, x.ver, 0, outIdx))?.status).toBe('ok');
    const early = await finalizeOnL2(x, 0);
    expect(early?.status).toBe('failed');
    expect(early?.error).toMatch(/challenge window/);
    // The L2 sequencer makes L2 blocks at will: three windows' worth of them in no L1 time do
    // not end the L3's window, which counts the L2's L1 origin (L1 blocks), not L2 blocks.
    const l1At = x.w.l1.chain.head.meta.height;
    for (let i = 0; i < 3 * x.l3cfg.challengeWindow; i++) await x.l2Block();
    expect(x.w.l1.chain.head.meta.height).toBe(l1At);
    const fast = await finalizeOnL2(x, 0);
    expect(fast?.status).toBe('failed');
    expect(fast?.error).toMatch(/challenge window/);
    // A window of L1 blocks later (each L2 block after an L1 block carries its new origin) it is over.
    for (let i = 0; i < x.l3cfg.challengeWindow; i++) await x.l2Batch();
    await x.l2Block();
    const l2Before = x.w.seqNode.chain.account(alice.address).balance;
    const ok = await finalizeOnL2(x, 0);
    expect(ok?.status).toBe('ok');
    // Paid: the amount, minus the finalize transaction's execution fee and its L1 data fee.
    const l2c = x.w.seqNode.chain;
    const finResult = Array.from({ length: l2c.head.number + 1 }, (_, n) => l2c.get(n)!)
      .flatMap((b) => b.results)
      .find((r) => r.events.some((e) => e.type === 'withdrawalFinalized'))!;
    expect(finResult.l1Fee).toBeGreaterThan(0n);
    expect(l2c.account(alice.address).balance - l2Before).toBe(5n * 10n ** 8n - 5_000n - finResult.l1Fee!);
    expect((await finalizeOnL2(x, 0))?.status).toBe('failed'); // once
    x.checkL3();

    // L3 finality: its batches sit in L2 blocks whose own batches are final on the L1.
    for (let i = 0; i < 4; i++) await x.l2Batch();
    for (let i = 0; i < 4; i++) x.w.mine();
    await x.l2Batch();
    expect(x.seq.heads().finalized).toBeGreaterThan(0);
    expect(x.seq.l1Status.finalized).toBe(x.w.seqNode.heads().finalized);
    // …and the L3's RPC heads say so: its parent is the L2, with the L2's finalized head.
    const heads = (await l2RpcMethods(x.seq).rollup_getHeads!.handler([], {} as never)) as { finalized: number; parent: { height: number; finalized: number } };
    expect(heads.parent).toEqual({ height: x.w.seqNode.chain.head.number, finalized: x.w.seqNode.heads().finalized, clock: readL1Origin(x.w.seqNode.chain.reader()) });
    expect(heads.finalized).toBe(x.seq.heads().finalized);

    // L2 → L1 for the coins that came back from the L3.
    const w = x.w;
    w.l2Send(encodeTx(signL2Withdrawal(w.seqNode.env, alice.secretKey, w.seqNode.nextNonce(alice.address), alice.address, 4n * 10n ** 8n)));
    await w.sequence();
    const l2wd = w.seqNode.chain.head.number;
    for (let i = 0; i < 30; i++) {
      await w.batch();
      await w.roles();
      const m = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
      if (m.count > 0 && readOutput(w.l1.chain.stateReader, w.rollup.rollupId, m.count - 1)!.l2Block >= l2wd) break;
    }
    const n2 = rollupModuleNames(w.rollup.rollupId);
    const out = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count - 1;
    const o = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, out)!;
    const rec = getWithdrawal(w.verNode.chain.reader(o.stateRoot), 0)!;
    const prove = await w.client.send(alice, n2.bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex: out, withdrawal: rec, proof: w.verNode.chain.proof(withdrawalKey(0), o.stateRoot).proof }), 40_000);
    w.mine();
    expect((await w.client.receipt(prove))?.status).toBe('ok');
    const fin = () => w.client.send(alice, n2.bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id: 0 }), 5_000);
    const f1 = await fin();
    w.mine();
    expect((await w.client.receipt(f1))?.status).toBe('failed');
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const l1Before = getAccount(w.l1.chain.stateReader, alice.address).balance;
    const f2 = await fin();
    w.mine();
    expect((await w.client.receipt(f2))?.status).toBe('ok');
    expect(getAccount(w.l1.chain.stateReader, alice.address).balance).toBeGreaterThan(l1Before);
  }, 120_000);

  it("a malicious L3 proposer's wrong root about a swap is challenged and lost on the L2; the withdrawal against it cannot finalize", async () => {
    world = new L3World({ proposer: { maliciousEvery: 1 } });
    const x = world;
    await fund(x);
    const { swapOp } = await defi(x);
    await x.l3Send(signL2Withdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, 10n ** 8n));
    const l2r = () => x.w.seqNode.chain.reader();
    let game = readGame(l2r(), x.l3cfg.rollupId, 0);
    await rolesUntil(x, () => {
      game = readGame(l2r(), x.l3cfg.rollupId, 0);
      return !!game && game.status !== 0;
    }, 80);
    expect(game!.status).toBe(GAME_CHALLENGER_WON);
    expect(readOutput(l2r(), x.l3cfg.rollupId, 0)!.status).toBe(OUTPUT_DISCARDED);
    // The one-step proof re-executed an L3 operation on the L2: the fault the proposer injected.
    // The one-step proof (the L2's gameStep event) names the L3 operation it re-executed.
    const steps = [];
    for (let n = 1; n <= x.w.seqNode.chain.head.number; n++) {
      for (const r of x.w.seqNode.chain.get(n)!.results) for (const e of r.events) if (e.type === 'gameStep') steps.push(e);
    }
    expect(steps.length).toBeGreaterThan(0);
    const faultOp = Number(steps[0]!.data.op);
    const b = x.ver.chain.blockOfOp(faultOp)!;
    const disputed = x.ver.chain.txAt(b.number, faultOp - b.firstOp);
    // The batch holds 8 L3 operations (deposit, create, mint, createPool, addLiquidity, swap, a
    // refused swap, the withdrawal); the proposer's fault sits 2/3 in: the swap.
    expect(faultOp).toBe(swapOp);
    expect(disputed?.tx.module).toBe('amm');
    expect(disputed?.tx.method).toBe('swap');
    // Proving the withdrawal against the discarded root is refused, so it cannot finalize.
    const r = await proveOnL2(x, x.ver, 0, 0);
    expect(r?.status).toBe('failed');
    expect(r?.error).toMatch(/discarded/);
    const f = await finalizeOnL2(x, 0);
    expect(f?.status).toBe('failed');
    expect(f?.error).toMatch(/not been proven/);
  }, 120_000);
});
