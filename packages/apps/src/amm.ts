/**
 * The `amm` module: constant-product pools (Uniswap v2's x·y = k) of two assets, each the native
 * coin or a `token`. Liquidity providers hold per-pool LP shares; swaps pay a fee that stays in
 * the pool. All maths is exact integer arithmetic and every rounding goes against the caller:
 * a swap's output rounds down, a deposit's taken amounts round up, a withdrawal's paid amounts
 * round down — so k never decreases on a swap and the reserves per share never decrease on any
 * operation. The pools' coins and tokens sit in the module's own account (`moduleAddress('amm')`),
 * so supply audits see them.
 */
import {
  blake2b256Parts,
  bytesEqual,
  compareBytes,
  decode,
  encode,
  fixedBytes,
  StrataError,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  type Codec,
} from '@strata/primitives';
import { getAccount, moduleAddress, transfer, type Module, type TxContext } from '@strata/runtime';
import { stateKey, type StateView } from '@strata/state';
import { MAX_TOKEN_AMOUNT, requireToken, tokenBalance, transferToken } from './token.js';

/** Module name. */
export const AMM_MODULE = 'amm';
/** The asset id of the chain's native coin (a token id is never all zeros). */
export const NATIVE_ASSET = new Uint8Array(32);
/** LP shares locked forever by a pool's first deposit (Uniswap v2's MINIMUM_LIQUIDITY): makes share-price inflation attacks cost more than they can take. */
export const MINIMUM_LIQUIDITY = 1000n;
/** Highest pool fee, basis points. */
export const MAX_FEE_BPS = 1000;

/** The account holding every pool's assets. */
export const AMM_ACCOUNT = moduleAddress(AMM_MODULE);

type Reader = Pick<StateView, 'get'>;

/** A pool. `assetA` sorts before `assetB`. */
export interface Pool {
  assetA: Uint8Array;
  assetB: Uint8Array;
  reserveA: bigint;
  reserveB: bigint;
  /** LP shares outstanding (including the locked minimum). */
  shares: bigint;
  feeBps: number;
}

/** Codec of a pool record (state and RPC wire form). */
export const PoolCodec: Codec<Pool> = struct('Pool', {
  assetA: fixedBytes(32),
  assetB: fixedBytes(32),
  reserveA: uintBig(128),
  reserveB: uintBig(128),
  shares: uintBig(128),
  feeBps: uint,
});

/** `amm.createPool` */
export const CreatePoolArgs = struct('CreatePoolArgs', { assetA: fixedBytes(32), assetB: fixedBytes(32), feeBps: uint });
/** `amm.addLiquidity`: amounts offered (at most these are taken), and the fewest shares accepted. */
export const AddLiquidityArgs = struct('AddLiquidityArgs', { pool: fixedBytes(32), amountA: uintBig(128), amountB: uintBig(128), minShares: uintBig(128) });
/** `amm.removeLiquidity` */
export const RemoveLiquidityArgs = struct('RemoveLiquidityArgs', { pool: fixedBytes(32), shares: uintBig(128), minA: uintBig(128), minB: uintBig(128) });
/** `amm.swap`: exact input, with a minimum output. */
export const SwapArgs = struct('SwapArgs', { pool: fixedBytes(32), assetIn: fixedBytes(32), amountIn: uintBig(128), minOut: uintBig(128) });

const AMOUNT = uintBig(128);
const POOL_PERSONAL = utf8('strata-amm-pools');
/** State key of a pool record (for `state_getProof`). */
export const poolStateKey = (id: Uint8Array): Uint8Array => stateKey(AMM_MODULE, utf8('pool'), id);
/** State key of a provider's LP shares in a pool (for `state_getProof`). */
export const lpStateKey = (id: Uint8Array, holder: Uint8Array): Uint8Array => stateKey(AMM_MODULE, utf8('lp'), id, holder);

/** The two assets in canonical order. */
export function sortAssets(x: Uint8Array, y: Uint8Array): [Uint8Array, Uint8Array] {
  return compareBytes(x, y) <= 0 ? [x, y] : [y, x];
}

/** Id of the pool of two assets at a fee (order of the assets does not matter). */
export function poolId(x: Uint8Array, y: Uint8Array, feeBps: number): Uint8Array {
  const [a, b] = sortAssets(x, y);
  return blake2b256Parts([a, b, new Uint8Array([feeBps >> 8, feeBps & 0xff])], POOL_PERSONAL);
}

/** Reads a pool. */
export function getPool(r: Reader, id: Uint8Array): Pool | undefined {
  const raw = r.get(poolStateKey(id));
  return raw ? decode(PoolCodec, raw) : undefined;
}

function requirePool(r: Reader, id: Uint8Array): Pool {
  const p = getPool(r, id);
  if (!p) throw new StrataError('AMM_UNKNOWN_POOL', `no pool ${toHex(id)}; create it with amm.createPool`, { pool: toHex(id) });
  return p;
}

/** LP shares of `holder` in a pool. */
export function lpShares(r: Reader, id: Uint8Array, holder: Uint8Array): bigint {
  const raw = r.get(lpStateKey(id, holder));
  return raw ? decode(AMOUNT, raw) : 0n;
}

function setShares(v: StateView, id: Uint8Array, holder: Uint8Array, n: bigint): void {
  if (n === 0n) v.del(lpStateKey(id, holder));
  else v.put(lpStateKey(id, holder), encode(AMOUNT, n));
}

/** Integer square root (floor). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new StrataError('AMM_INVALID', 'square root of a negative number');
  if (n < 2n) return n;
  // Newton from a power of two above the root: decreases monotonically to the floor.
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  return x;
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** Output of an exact-input swap (rounded down), before the min-out check. */
export function quoteSwap(reserveIn: bigint, reserveOut: bigint, amountIn: bigint, feeBps: number): bigint {
  if (amountIn <= 0n || reserveIn <= 0n || reserveOut <= 0n) return 0n;
  const inWithFee = amountIn * BigInt(10_000 - feeBps);
  return (inWithFee * reserveOut) / (reserveIn * 10_000n + inWithFee);
}

/** Shares minted for a deposit and the amounts actually taken (rounded up, never above the offer). */
export function quoteAdd(p: Pick<Pool, 'reserveA' | 'reserveB' | 'shares'>, amountA: bigint, amountB: bigint): { shares: bigint; takeA: bigint; takeB: bigint } {
  if (p.shares === 0n) {
    const s = isqrt(amountA * amountB);
    return { shares: s, takeA: amountA, takeB: amountB };
  }
  const sA = (amountA * p.shares) / p.reserveA;
  const sB = (amountB * p.shares) / p.reserveB;
  let shares = sA;
  if (sB < shares) shares = sB;
  return { shares, takeA: ceilDiv(shares * p.reserveA, p.shares), takeB: ceilDiv(shares * p.reserveB, p.shares) };
}

/** Amounts paid for redeeming `shares` (rounded down). */
export function quoteRemove(p: Pick<Pool, 'reserveA' | 'reserveB' | 'shares'>, shares: bigint): { outA: bigint; outB: bigint } {
  if (p.shares === 0n) return { outA: 0n, outB: 0n };
  return { outA: (shares * p.reserveA) / p.shares, outB: (shares * p.reserveB) / p.shares };
}

function isNative(asset: Uint8Array): boolean {
  return bytesEqual(asset, NATIVE_ASSET);
}

/** Moves an asset (coin or token) between accounts. */
export function moveAsset(v: StateView, asset: Uint8Array, from: Uint8Array, to: Uint8Array, amount: bigint): void {
  if (amount === 0n) return;
  if (isNative(asset)) transfer(v, from, to, amount);
  else transferToken(v, asset, from, to, amount);
}

/** Balance of an account in an asset. */
export function assetBalance(r: Reader, asset: Uint8Array, holder: Uint8Array): bigint {
  return isNative(asset) ? getAccount(r, holder).balance : tokenBalance(r, asset, holder);
}

function invalid(msg: string, meta: Record<string, unknown> = {}): never {
  throw new StrataError('AMM_INVALID', msg, meta);
}

function writePool(v: StateView, id: Uint8Array, p: Pool): void {
  if (p.reserveA > MAX_TOKEN_AMOUNT || p.reserveB > MAX_TOKEN_AMOUNT || p.shares > MAX_TOKEN_AMOUNT) invalid('pool reserves would pass 2^128 - 1');
  v.put(poolStateKey(id), encode(PoolCodec, p));
}

/** Creates an empty pool; returns its id. */
export function createPool(v: StateView, x: Uint8Array, y: Uint8Array, feeBps: number): Uint8Array {
  if (bytesEqual(x, y)) invalid('a pool needs two different assets');
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > MAX_FEE_BPS) invalid(`fee must be 0–${MAX_FEE_BPS} basis points, got ${feeBps}`);
  const [a, b] = sortAssets(x, y);
  for (const asset of [a, b]) if (!isNative(asset)) requireToken(v, asset);
  const id = poolId(a, b, feeBps);
  if (getPool(v, id)) invalid(`pool ${toHex(id)} already exists`, { pool: toHex(id) });
  writePool(v, id, { assetA: a, assetB: b, reserveA: 0n, reserveB: 0n, shares: 0n, feeBps });
  return id;
}

/** Adds liquidity; returns the shares minted and the amounts taken. */
export function addLiquidity(v: StateView, id: Uint8Array, who: Uint8Array, amountA: bigint, amountB: bigint, minShares: bigint): { shares: bigint; takeA: bigint; takeB: bigint } {
  const p = requirePool(v, id);
  if (amountA <= 0n || amountB <= 0n) invalid('both amounts must be positive');
  const q = quoteAdd(p, amountA, amountB);
  let minted = q.shares;
  if (p.shares === 0n) {
    if (q.shares <= MINIMUM_LIQUIDITY) {
      throw new StrataError('AMM_INSUFFICIENT_LIQUIDITY', `a first deposit must be worth more than ${MINIMUM_LIQUIDITY} shares (sqrt(a·b) = ${q.shares})`);
    }
    minted = q.shares - MINIMUM_LIQUIDITY;
  }
  if (minted <= 0n) throw new StrataError('AMM_INSUFFICIENT_LIQUIDITY', 'deposit too small to mint a share');
  if (minted < minShares) throw new StrataError('AMM_SLIPPAGE', `deposit would mint ${minted} shares, fewer than the minimum ${minShares}`, { shares: minted.toString() });
  moveAsset(v, p.assetA, who, AMM_ACCOUNT, q.takeA);
  moveAsset(v, p.assetB, who, AMM_ACCOUNT, q.takeB);
  writePool(v, id, { ...p, reserveA: p.reserveA + q.takeA, reserveB: p.reserveB + q.takeB, shares: p.shares + q.shares });
  setShares(v, id, who, lpShares(v, id, who) + minted);
  return { shares: minted, takeA: q.takeA, takeB: q.takeB };
}

/** Redeems LP shares; returns the amounts paid. */
export function removeLiquidity(v: StateView, id: Uint8Array, who: Uint8Array, shares: bigint, minA: bigint, minB: bigint): { outA: bigint; outB: bigint } {
  const p = requirePool(v, id);
  if (shares <= 0n) invalid('shares must be positive');
  const have = lpShares(v, id, who);
  if (have < shares) throw new StrataError('AMM_INSUFFICIENT_LIQUIDITY', `holds ${have} LP shares, cannot redeem ${shares}`, { shares: have.toString() });
  const q = quoteRemove(p, shares);
  if (q.outA < minA || q.outB < minB) {
    throw new StrataError('AMM_SLIPPAGE', `redeeming pays ${q.outA} / ${q.outB}, below the minimum ${minA} / ${minB}`, { outA: q.outA.toString(), outB: q.outB.toString() });
  }
  setShares(v, id, who, have - shares);
  writePool(v, id, { ...p, reserveA: p.reserveA - q.outA, reserveB: p.reserveB - q.outB, shares: p.shares - shares });
  moveAsset(v, p.assetA, AMM_ACCOUNT, who, q.outA);
  moveAsset(v, p.assetB, AMM_ACCOUNT, who, q.outB);
  return q;
}

/** Exact-input swap; returns the output paid. */
export function swap(v: StateView, id: Uint8Array, who: Uint8Array, assetIn: Uint8Array, amountIn: bigint, minOut: bigint): bigint {
  const p = requirePool(v, id);
  const aIn = bytesEqual(assetIn, p.assetA);
  if (!aIn && !bytesEqual(assetIn, p.assetB)) invalid(`asset ${toHex(assetIn)} is not in pool ${toHex(id)}`);
  if (amountIn <= 0n) invalid('amount in must be positive');
  const [rIn, rOut] = aIn ? [p.reserveA, p.reserveB] : [p.reserveB, p.reserveA];
  if (rIn === 0n || rOut === 0n) throw new StrataError('AMM_INSUFFICIENT_LIQUIDITY', 'the pool has no liquidity');
  const out = quoteSwap(rIn, rOut, amountIn, p.feeBps);
  if (out === 0n) throw new StrataError('AMM_INSUFFICIENT_LIQUIDITY', `swapping ${amountIn} pays nothing at these reserves`);
  if (out < minOut) throw new StrataError('AMM_SLIPPAGE', `swap pays ${out}, below the minimum ${minOut}`, { out: out.toString(), minOut: minOut.toString() });
  const assetOut = aIn ? p.assetB : p.assetA;
  moveAsset(v, assetIn, who, AMM_ACCOUNT, amountIn);
  const next = aIn ? { ...p, reserveA: rIn + amountIn, reserveB: rOut - out } : { ...p, reserveB: rIn + amountIn, reserveA: rOut - out };
  writePool(v, id, next);
  moveAsset(v, assetOut, AMM_ACCOUNT, who, out);
  return out;
}

/** The AMM module: `createPool`, `addLiquidity`, `removeLiquidity`, `swap`. */
export const ammModule: Module = {
  name: AMM_MODULE,
  methods: {
    createPool(ctx: TxContext, args: Uint8Array) {
      const a = decode(CreatePoolArgs, args);
      const id = createPool(ctx.view, a.assetA, a.assetB, a.feeBps);
      ctx.emit('poolCreated', { pool: toHex(id), assetA: toHex(sortAssets(a.assetA, a.assetB)[0]), assetB: toHex(sortAssets(a.assetA, a.assetB)[1]), feeBps: a.feeBps });
    },
    addLiquidity(ctx: TxContext, args: Uint8Array) {
      const a = decode(AddLiquidityArgs, args);
      const r = addLiquidity(ctx.view, a.pool, ctx.sender, a.amountA, a.amountB, a.minShares);
      ctx.emit('liquidityAdded', { pool: toHex(a.pool), provider: toHex(ctx.sender), shares: r.shares.toString(), amountA: r.takeA.toString(), amountB: r.takeB.toString() });
    },
    removeLiquidity(ctx: TxContext, args: Uint8Array) {
      const a = decode(RemoveLiquidityArgs, args);
      const r = removeLiquidity(ctx.view, a.pool, ctx.sender, a.shares, a.minA, a.minB);
      ctx.emit('liquidityRemoved', { pool: toHex(a.pool), provider: toHex(ctx.sender), shares: a.shares.toString(), amountA: r.outA.toString(), amountB: r.outB.toString() });
    },
    swap(ctx: TxContext, args: Uint8Array) {
      const a = decode(SwapArgs, args);
      const out = swap(ctx.view, a.pool, ctx.sender, a.assetIn, a.amountIn, a.minOut);
      ctx.emit('swap', { pool: toHex(a.pool), trader: toHex(ctx.sender), assetIn: toHex(a.assetIn), amountIn: a.amountIn.toString(), amountOut: out.toString() });
    },
  },
};
