import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStrataError, keyPairFromSecret } from '@strata/primitives';
import {
  AMM_ACCOUNT,
  addLiquidity,
  assetBalance,
  createPool,
  createToken,
  getPool,
  isqrt,
  lpShares,
  MINIMUM_LIQUIDITY,
  mintToken,
  NATIVE_ASSET,
  quoteSwap,
  removeLiquidity,
  swap,
  type Pool,
} from '@strata/apps';
import { getSupply, mint } from '@strata/runtime';
import { OverlayView, type StateReader } from '@strata/state';

const empty: StateReader = { get: () => undefined };
const issuer = keyPairFromSecret(new Uint8Array(32).fill(3)).address;
const actors = [1, 2, 3].map((i) => keyPairFromSecret(new Uint8Array(32).fill(10 + i)).address);
const TOKEN = new Uint8Array(32).fill(0x44);
const START = 10n ** 15n;

function world(feeBps = 30) {
  const v = new OverlayView(empty);
  createToken(v, { id: TOKEN, issuer, symbol: 'GOLD', decimals: 8, cap: 0n, originChainId: 1, originId: TOKEN });
  for (const a of actors) {
    mint(v, a, START);
    mintToken(v, TOKEN, issuer, a, START);
  }
  const pool = createPool(v, NATIVE_ASSET, TOKEN, feeBps);
  return { v, pool };
}

type Op =
  | { kind: 'add'; who: number; a: bigint; b: bigint }
  | { kind: 'remove'; who: number; frac: number }
  | { kind: 'swap'; who: number; aIn: boolean; amount: bigint };

const amount = fc.bigInt({ min: 1n, max: 10n ** 13n });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), who: fc.integer({ min: 0, max: 2 }), a: amount, b: amount }),
  fc.record({ kind: fc.constant('remove' as const), who: fc.integer({ min: 0, max: 2 }), frac: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('swap' as const), who: fc.integer({ min: 0, max: 2 }), aIn: fc.boolean(), amount }),
);

/** Applies an op; AMM rejections are fine (the view is restored by running inside a child overlay). */
function apply(v: OverlayView, pool: Uint8Array, op: Op): void {
  const child = new OverlayView(v);
  const who = actors[op.who] as Uint8Array;
  try {
    if (op.kind === 'add') addLiquidity(child, pool, who, op.a, op.b, 0n);
    else if (op.kind === 'remove') {
      const s = (lpShares(child, pool, who) * BigInt(op.frac)) / 100n;
      if (s === 0n) return;
      removeLiquidity(child, pool, who, s, 0n, 0n);
    } else swap(child, pool, who, op.aIn ? NATIVE_ASSET : TOKEN, op.amount, 0n);
    child.commitTo(v);
  } catch (e) {
    if (!isStrataError(e)) throw e;
  }
}

const holdingsOf = (v: OverlayView, asset: Uint8Array) => actors.reduce((s, a) => s + assetBalance(v, asset, a), 0n);
const holdings = (v: OverlayView, asset: Uint8Array) => actors.reduce((s, a) => s + assetBalance(v, asset, a), 0n) + assetBalance(v, asset, AMM_ACCOUNT);

describe('AMM maths', () => {
  it('isqrt is the exact floor square root', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 256n }), (n) => {
        const r = isqrt(n);
        return r * r <= n && (r + 1n) * (r + 1n) > n;
      }),
    );
  });

  it('a swap rounds against the trader: output ≤ the exact real-number output', () => {
    fc.assert(
      fc.property(amount, amount, amount, fc.integer({ min: 0, max: 1000 }), (rIn, rOut, x, fee) => {
        const out = quoteSwap(rIn, rOut, x, fee);
        // exact: x(1-f) rOut / (rIn + x(1-f)); compare cross-multiplied
        const xf = x * BigInt(10_000 - fee);
        return out * (rIn * 10_000n + xf) <= xf * rOut && out < rOut;
      }),
    );
  });
});

describe('AMM properties (fast-check)', () => {
  it('k never decreases on a swap', () => {
    fc.assert(
      fc.property(amount, amount, fc.array(fc.record({ aIn: fc.boolean(), amount }), { maxLength: 25 }), fc.integer({ min: 0, max: 1000 }), (a, b, swaps, fee) => {
        const { v, pool } = world(fee);
        try {
          addLiquidity(v, pool, actors[0] as Uint8Array, a, b, 0n);
        } catch (e) {
          if (isStrataError(e, 'AMM_INSUFFICIENT_LIQUIDITY')) return true;
          throw e;
        }
        for (const s of swaps) {
          const before = getPool(v, pool) as Pool;
          apply(v, pool, { kind: 'swap', who: 1, aIn: s.aIn, amount: s.amount });
          const after = getPool(v, pool) as Pool;
          if (after.reserveA * after.reserveB < before.reserveA * before.reserveB) return false;
        }
        return true;
      }),
      { numRuns: 150 },
    );
  });

  it('LP shares redeem at most what they put in: all providers together, and each on a round trip', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ who: fc.integer({ min: 0, max: 2 }), a: amount, b: amount }), { minLength: 1, maxLength: 8 }), (adds) => {
        const { v, pool } = world();
        let putA = 0n;
        let putB = 0n;
        const a0 = holdingsOf(v, NATIVE_ASSET);
        const b0 = holdingsOf(v, TOKEN);
        for (const x of adds) {
          const who = actors[x.who] as Uint8Array;
          // round trip on the current pool: add then remove at once returns at most what went in
          const probe = new OverlayView(v);
          const pa = assetBalance(probe, NATIVE_ASSET, who);
          const pb = assetBalance(probe, TOKEN, who);
          apply(probe, pool, { kind: 'add', ...x });
          const gained = lpShares(probe, pool, who) - lpShares(v, pool, who);
          if (gained > 0n) removeLiquidity(probe, pool, who, gained, 0n, 0n);
          expect(assetBalance(probe, NATIVE_ASSET, who)).toBeLessThanOrEqual(pa);
          expect(assetBalance(probe, TOKEN, who)).toBeLessThanOrEqual(pb);
          apply(v, pool, { kind: 'add', ...x });
        }
        putA = a0 - holdingsOf(v, NATIVE_ASSET);
        putB = b0 - holdingsOf(v, TOKEN);
        for (const who of actors) {
          const s = lpShares(v, pool, who);
          if (s > 0n) removeLiquidity(v, pool, who, s, 0n, 0n);
        }
        // Rounding of later deposits accrues to earlier providers, so one provider may get a unit
        // more than it put in; all of them together never get back more than they put in.
        expect(a0 - holdingsOf(v, NATIVE_ASSET)).toBeGreaterThanOrEqual(0n);
        expect(b0 - holdingsOf(v, TOKEN)).toBeGreaterThanOrEqual(0n);
        expect(putA >= 0n && putB >= 0n).toBe(true);
        const p = getPool(v, pool) as Pool;
        expect(p.shares === 0n || p.shares === MINIMUM_LIQUIDITY).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('no sequence of operations creates value: assets are conserved, reserves per share never drop, and a lone trader never gains in both assets', () => {
    fc.assert(
      fc.property(amount, amount, fc.array(opArb, { maxLength: 30 }), (a, b, ops) => {
        const { v, pool } = world();
        const seeder = actors[0] as Uint8Array;
        try {
          addLiquidity(v, pool, seeder, a, b, 0n);
        } catch (e) {
          if (isStrataError(e, 'AMM_INSUFFICIENT_LIQUIDITY')) return true;
          throw e;
        }
        const coins0 = holdings(v, NATIVE_ASSET);
        const tokens0 = holdings(v, TOKEN);
        const supply0 = getSupply(v);
        // Traders 1 and 2 act; the seeder's LP position is the yardstick of "value".
        const t0 = actors.map((x) => [assetBalance(v, NATIVE_ASSET, x), assetBalance(v, TOKEN, x)] as const);
        let prev = getPool(v, pool) as Pool;
        for (const op0 of ops) {
          const op = { ...op0, who: op0.who === 0 ? 1 : op0.who };
          apply(v, pool, op);
          const p = getPool(v, pool) as Pool;
          // reserves per share (k / S²) never decrease: rA·rB·S0² ≥ rA0·rB0·S²
          if (p.reserveA * p.reserveB * prev.shares * prev.shares < prev.reserveA * prev.reserveB * p.shares * p.shares) return false;
          // the module account holds exactly the reserves
          if (assetBalance(v, NATIVE_ASSET, AMM_ACCOUNT) !== p.reserveA && assetBalance(v, NATIVE_ASSET, AMM_ACCOUNT) !== p.reserveB) return false;
          prev = p;
        }
        // traders exit their LP positions
        for (const i of [1, 2]) {
          const s = lpShares(v, pool, actors[i] as Uint8Array);
          if (s > 0n) removeLiquidity(v, pool, actors[i] as Uint8Array, s, 0n, 0n);
        }
        if (holdings(v, NATIVE_ASSET) !== coins0 || holdings(v, TOKEN) !== tokens0 || getSupply(v) !== supply0) return false;
        // together the traders cannot end up with at least as much of both assets and strictly more of one
        const dA = [1, 2].reduce((s, i) => s + assetBalance(v, NATIVE_ASSET, actors[i] as Uint8Array) - (t0[i] as readonly [bigint, bigint])[0], 0n);
        const dB = [1, 2].reduce((s, i) => s + assetBalance(v, TOKEN, actors[i] as Uint8Array) - (t0[i] as readonly [bigint, bigint])[1], 0n);
        return !(dA >= 0n && dB >= 0n && dA + dB > 0n);
      }),
      { numRuns: 200 },
    );
  });

  it('min-out and min-shares guards reject with AMM_SLIPPAGE and change nothing', () => {
    const { v, pool } = world();
    addLiquidity(v, pool, actors[0] as Uint8Array, 10n ** 9n, 10n ** 9n, 0n);
    const before = getPool(v, pool) as Pool;
    const q = quoteSwap(before.reserveA, before.reserveB, 10n ** 6n, before.feeBps);
    const child = new OverlayView(v);
    expect(() => swap(child, pool, actors[1] as Uint8Array, NATIVE_ASSET, 10n ** 6n, q + 1n)).toThrow(expect.objectContaining({ code: 'AMM_SLIPPAGE' }));
    expect(getPool(v, pool)).toEqual(before);
    expect(swap(v, pool, actors[1] as Uint8Array, NATIVE_ASSET, 10n ** 6n, q)).toBe(q);
    expect(() => addLiquidity(new OverlayView(v), pool, actors[2] as Uint8Array, 1000n, 1000n, 10n ** 9n)).toThrow(expect.objectContaining({ code: 'AMM_SLIPPAGE' }));
    expect(() => removeLiquidity(new OverlayView(v), pool, actors[2] as Uint8Array, 1n, 0n, 0n)).toThrow(expect.objectContaining({ code: 'AMM_INSUFFICIENT_LIQUIDITY' }));
    expect(() => createPool(new OverlayView(v), TOKEN, TOKEN, 30)).toThrow(expect.objectContaining({ code: 'AMM_INVALID' }));
    expect(() => createPool(new OverlayView(v), NATIVE_ASSET, new Uint8Array(32).fill(9), 30)).toThrow(expect.objectContaining({ code: 'TOKEN_UNKNOWN' }));
  });
});
