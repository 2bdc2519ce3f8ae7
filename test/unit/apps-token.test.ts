import { describe, expect, it } from 'vitest';
import { encode, isStrataError, keyPairFromSecret, type ErrorCode } from '@strata/primitives';
import {
  APP_CALL_COMPUTE,
  appModules,
  burnToken,
  CreateTokenArgs,
  createToken,
  ensureWrappedToken,
  getToken,
  MAX_TOKEN_AMOUNT,
  MintTokenArgs,
  mintToken,
  tokenBalance,
  tokenIdOf,
  TransferTokenArgs,
  transferToken,
  wrappedTokenId,
} from '@strata/apps';
import { applyTx, bankModule, defaultChainConfig, encodeTx, mint, ModuleRegistry, signTx, verifyRawTx } from '@strata/runtime';
import { OverlayView, type StateReader } from '@strata/state';

const empty: StateReader = { get: () => undefined };
const issuer = keyPairFromSecret(new Uint8Array(32).fill(7));
const holder = keyPairFromSecret(new Uint8Array(32).fill(8));
const stranger = keyPairFromSecret(new Uint8Array(32).fill(9));
const config = defaultChainConfig({ chainId: 77 });
const registry = new ModuleRegistry([bankModule, ...appModules()]);

function code(f: () => unknown): ErrorCode | undefined {
  try {
    f();
  } catch (e) {
    return isStrataError(e) ? e.code : undefined;
  }
  return undefined;
}

function fresh(cap = 1_000n) {
  const v = new OverlayView(empty);
  const id = new Uint8Array(32).fill(1);
  createToken(v, { id, issuer: issuer.address, symbol: 'GOLD', decimals: 6, cap, originChainId: 77, originId: id });
  return { v, id };
}

describe('token module (state functions)', () => {
  it('mints up to the cap, transfers, burns, and keeps supply = sum of balances', () => {
    const { v, id } = fresh();
    mintToken(v, id, issuer.address, holder.address, 600n);
    mintToken(v, id, issuer.address, issuer.address, 400n);
    transferToken(v, id, holder.address, stranger.address, 250n);
    burnToken(v, id, issuer.address, 100n);
    const t = getToken(v, id)!;
    expect(t.supply).toBe(900n);
    const sum = [issuer, holder, stranger].reduce((s, k) => s + tokenBalance(v, id, k.address), 0n);
    expect(sum).toBe(t.supply);
    expect(tokenBalance(v, id, stranger.address)).toBe(250n);
  });

  it('rejects minting past the cap with TOKEN_CAP_EXCEEDED, and nothing changes', () => {
    const { v, id } = fresh(1_000n);
    mintToken(v, id, issuer.address, holder.address, 999n);
    expect(code(() => mintToken(v, id, issuer.address, holder.address, 2n))).toBe('TOKEN_CAP_EXCEEDED');
    expect(getToken(v, id)!.supply).toBe(999n);
    mintToken(v, id, issuer.address, holder.address, 1n); // exactly at the cap is fine
    expect(getToken(v, id)!.supply).toBe(1_000n);
  });

  it('rejects overflow of an uncapped token with TOKEN_OVERFLOW', () => {
    const { v, id } = fresh(0n);
    mintToken(v, id, issuer.address, holder.address, MAX_TOKEN_AMOUNT);
    expect(code(() => mintToken(v, id, issuer.address, holder.address, 1n))).toBe('TOKEN_OVERFLOW');
    expect(tokenBalance(v, id, holder.address)).toBe(MAX_TOKEN_AMOUNT);
  });

  it('rejects a transfer from a non-holder, a mint by a non-issuer, an unknown token', () => {
    const { v, id } = fresh();
    mintToken(v, id, issuer.address, holder.address, 10n);
    expect(code(() => transferToken(v, id, stranger.address, holder.address, 1n))).toBe('TOKEN_INSUFFICIENT_BALANCE');
    expect(code(() => transferToken(v, id, holder.address, stranger.address, 11n))).toBe('TOKEN_INSUFFICIENT_BALANCE');
    expect(code(() => mintToken(v, id, holder.address, holder.address, 1n))).toBe('TOKEN_NOT_ISSUER');
    expect(code(() => transferToken(v, new Uint8Array(32).fill(2), holder.address, stranger.address, 1n))).toBe('TOKEN_UNKNOWN');
    expect(code(() => createToken(v, { id, issuer: issuer.address, symbol: 'X', decimals: 0, cap: 0n, originChainId: 1, originId: id }))).toBe('TOKEN_INVALID');
    expect(code(() => createToken(v, { id: new Uint8Array(32).fill(3), issuer: issuer.address, symbol: 'bad symbol!', decimals: 0, cap: 0n, originChainId: 1, originId: id }))).toBe('TOKEN_INVALID');
  });

  it('wrapped ids depend on the origin and the minter only, and keep the origin', () => {
    const v = new OverlayView(empty);
    const origin = new Uint8Array(32).fill(5);
    const bridgeA = new Uint8Array(20).fill(0xa);
    const t = ensureWrappedToken(v, bridgeA, { originChainId: 1337, originId: origin, symbol: 'GOLD', decimals: 6 });
    expect(t.id).toEqual(wrappedTokenId(1337, origin, bridgeA));
    expect(ensureWrappedToken(v, bridgeA, { originChainId: 1337, originId: origin, symbol: 'GOLD', decimals: 6 }).id).toEqual(t.id);
    expect(wrappedTokenId(1337, origin, new Uint8Array(20).fill(0xb))).not.toEqual(t.id);
    expect(t.originChainId).toBe(1337);
    expect(t.originId).toEqual(origin);
    expect(code(() => mintToken(v, t.id, issuer.address, holder.address, 1n))).toBe('TOKEN_NOT_ISSUER');
  });
});

describe('token module through signed, metered transactions', () => {
  const nonces = new Map<typeof issuer, number>();
  function run(v: OverlayView, who: typeof issuer, method: string, args: Uint8Array, computeLimit = APP_CALL_COMPUTE) {
    const n = nonces.get(who) ?? 0;
    nonces.set(who, n + 1);
    const tx = signTx({ chainId: 77, nonce: n, fee: 1_000_000n, computeLimit, module: 'token', method, args }, who.secretKey);
    return applyTx(v, { config, registry, block: { height: 1, timestamp: 0, producer: new Uint8Array(20) } }, verifyRawTx(encodeTx(tx)), 0);
  }

  it('create → mint → transfer, receipts carry typed failure codes and the failed call changes nothing', () => {
    const v = new OverlayView(empty);
    for (const k of [issuer, holder, stranger]) mint(v, k.address, 10_000_000n);
    const c = run(v, issuer, 'create', encode(CreateTokenArgs, { symbol: 'GOLD', decimals: 2, cap: 500n }));
    expect(c.status).toBe('ok');
    const id = tokenIdOf(77, c.txHash);
    expect(getToken(v, id)?.issuer).toEqual(issuer.address);
    expect(run(v, issuer, 'mint', encode(MintTokenArgs, { id, to: holder.address, amount: 500n })).status).toBe('ok');
    const past = run(v, issuer, 'mint', encode(MintTokenArgs, { id, to: holder.address, amount: 1n }));
    expect(past.status).toBe('failed');
    expect(past.error?.code).toBe('TOKEN_CAP_EXCEEDED');
    const fromNobody = run(v, stranger, 'transfer', encode(TransferTokenArgs, { id, to: issuer.address, amount: 1n }));
    expect(fromNobody.error?.code).toBe('TOKEN_INSUFFICIENT_BALANCE');
    expect(getToken(v, id)?.supply).toBe(500n);
    expect(tokenBalance(v, id, holder.address)).toBe(500n);
    // Metered like the bank: a compute limit too small for the state accesses fails the call.
    const starved = run(v, holder, 'transfer', encode(TransferTokenArgs, { id, to: stranger.address, amount: 1n }), 1_300);
    expect(starved.error?.code).toBe('TX_COMPUTE_EXCEEDED');
    expect(tokenBalance(v, id, stranger.address)).toBe(0n);
    expect(run(v, holder, 'transfer', encode(TransferTokenArgs, { id, to: stranger.address, amount: 1n })).status).toBe('ok');
    expect(tokenBalance(v, id, stranger.address)).toBe(1n);
    expect(c.computeUsed).toBeGreaterThan(1_150);
  });
});
