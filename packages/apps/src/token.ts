/**
 * The `token` module: user-defined fungible tokens (the role of CKB's sUDT/xUDT and ERC-20) that
 * any chain includes. A token has an issuer, a symbol, decimals, a supply cap (0 = uncapped, up
 * to 2^128 - 1) and an origin: a token created here is its own origin; a token wrapped by a
 * bridge keeps the origin chain id and token id of the token it stands for, at every layer.
 * Every state access goes through the transaction's metered view, so token calls are metered
 * exactly as the bank's.
 */
import {
  bigintToFixed,
  blake2b256Parts,
  bytesEqual,
  decode,
  encode,
  fixedBytes,
  StrataError,
  str,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  type Codec,
} from '@strata/primitives';
import type { Module, TxContext } from '@strata/runtime';
import { stateKey, type StateView } from '@strata/state';

/** Module name. */
export const TOKEN_MODULE = 'token';
/** Largest balance, supply or cap (amounts are u128, as the bank's). */
export const MAX_TOKEN_AMOUNT = (1n << 128n) - 1n;
/** Most decimals a token may declare. */
export const MAX_DECIMALS = 36;

type Reader = Pick<StateView, 'get'>;

/** A token's record. */
export interface TokenInfo {
  id: Uint8Array;
  issuer: Uint8Array;
  symbol: string;
  decimals: number;
  /** Supply cap; 0 means uncapped (bounded by 2^128 - 1). */
  cap: bigint;
  supply: bigint;
  /** Chain the token was first created on (its own chain id for a native token). */
  originChainId: number;
  /** Token id on the origin chain (its own id for a native token). */
  originId: Uint8Array;
}

/** Codec of a token record (state and RPC wire form). */
export const TokenInfoCodec: Codec<TokenInfo> = struct('TokenInfo', {
  id: fixedBytes(32),
  issuer: fixedBytes(20),
  symbol: str(12),
  decimals: uint,
  cap: uintBig(128),
  supply: uintBig(128),
  originChainId: uint,
  originId: fixedBytes(32),
});

/** `token.create` */
export const CreateTokenArgs = struct('CreateTokenArgs', { symbol: str(12), decimals: uint, cap: uintBig(128) });
/** `token.mint` (issuer only) */
export const MintTokenArgs = struct('MintTokenArgs', { id: fixedBytes(32), to: fixedBytes(20), amount: uintBig(128) });
/** `token.transfer` */
export const TransferTokenArgs = struct('TransferTokenArgs', { id: fixedBytes(32), to: fixedBytes(20), amount: uintBig(128) });
/** `token.burn` (any holder, from its own balance) */
export const BurnTokenArgs = struct('BurnTokenArgs', { id: fixedBytes(32), amount: uintBig(128) });

const ID_PERSONAL = utf8('strata-token-ids');
const AMOUNT = uintBig(128);

/** State key of a token's record (for `state_getProof`). */
export const tokenInfoKey = (id: Uint8Array): Uint8Array => stateKey(TOKEN_MODULE, utf8('info'), id);
/** State key of a holder's balance in a token (for `state_getProof`). */
export const tokenBalanceKey = (id: Uint8Array, holder: Uint8Array): Uint8Array => stateKey(TOKEN_MODULE, utf8('bal'), id, holder);
/** Decodes a stored balance or share count (u128). */
export const decodeAmount = (raw: Uint8Array): bigint => decode(AMOUNT, raw);

/** Id of a token created on chain `chainId` by transaction `txHash` (unique per creation). */
export function tokenIdOf(chainId: number, txHash: Uint8Array): Uint8Array {
  return blake2b256Parts([utf8('native'), bigintToFixed(BigInt(chainId), 8), txHash], ID_PERSONAL);
}

/**
 * Id of the wrapped form of a token on a child chain: a function of the token's origin alone, so
 * the same token wrapped at L2 and again at L3 keeps one identity (origin chain + origin id), and
 * two different bridges of one child can never mint each other's wrapped tokens under one id
 * (`minter` is part of the id).
 */
export function wrappedTokenId(originChainId: number, originId: Uint8Array, minter: Uint8Array): Uint8Array {
  return blake2b256Parts([utf8('wrapped'), bigintToFixed(BigInt(originChainId), 8), originId, minter], ID_PERSONAL);
}

/** Reads a token record (undefined when no such token). */
export function getToken(r: Reader, id: Uint8Array): TokenInfo | undefined {
  const raw = r.get(tokenInfoKey(id));
  return raw ? decode(TokenInfoCodec, raw) : undefined;
}

/** Reads a token record; throws TOKEN_UNKNOWN. */
export function requireToken(r: Reader, id: Uint8Array): TokenInfo {
  const t = getToken(r, id);
  if (!t) throw new StrataError('TOKEN_UNKNOWN', `no token ${toHex(id)} on this chain; create it first or check the id`, { id: toHex(id) });
  return t;
}

/** Balance of `holder` in token `id` (0 when none). */
export function tokenBalance(r: Reader, id: Uint8Array, holder: Uint8Array): bigint {
  const raw = r.get(tokenBalanceKey(id, holder));
  return raw ? decode(AMOUNT, raw) : 0n;
}

function setBalance(v: StateView, id: Uint8Array, holder: Uint8Array, amount: bigint): void {
  if (amount === 0n) v.del(tokenBalanceKey(id, holder));
  else v.put(tokenBalanceKey(id, holder), encode(AMOUNT, amount));
}

function writeToken(v: StateView, t: TokenInfo): void {
  v.put(tokenInfoKey(t.id), encode(TokenInfoCodec, t));
}

function checkSymbol(symbol: string, decimals: number): void {
  if (!/^[A-Za-z0-9]{1,12}$/.test(symbol)) throw new StrataError('TOKEN_INVALID', `symbol must be 1–12 letters or digits, got ${JSON.stringify(symbol)}`);
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DECIMALS) throw new StrataError('TOKEN_INVALID', `decimals must be 0–${MAX_DECIMALS}, got ${decimals}`);
}

/** Creates a token record; throws TOKEN_INVALID when the id is taken or the fields are wrong. */
export function createToken(v: StateView, t: Omit<TokenInfo, 'supply'>): TokenInfo {
  checkSymbol(t.symbol, t.decimals);
  if (t.cap < 0n || t.cap > MAX_TOKEN_AMOUNT) throw new StrataError('TOKEN_INVALID', 'cap must be between 0 (uncapped) and 2^128 - 1');
  if (getToken(v, t.id)) throw new StrataError('TOKEN_INVALID', `token ${toHex(t.id)} already exists`, { id: toHex(t.id) });
  const rec: TokenInfo = { ...t, supply: 0n };
  writeToken(v, rec);
  return rec;
}

/**
 * Mints `amount` of token `id` to `to`. Only the issuer mints (a bridge is the issuer of the
 * tokens it wraps). Throws TOKEN_NOT_ISSUER, TOKEN_OVERFLOW (past 2^128 - 1) or
 * TOKEN_CAP_EXCEEDED.
 */
export function mintToken(v: StateView, id: Uint8Array, minter: Uint8Array, to: Uint8Array, amount: bigint): TokenInfo {
  const t = requireToken(v, id);
  if (!bytesEqual(minter, t.issuer)) {
    throw new StrataError('TOKEN_NOT_ISSUER', `only the issuer ${toHex(t.issuer)} mints ${t.symbol}`, { issuer: toHex(t.issuer), sender: toHex(minter) });
  }
  if (amount <= 0n) throw new StrataError('TOKEN_INVALID', 'mint amount must be positive');
  const supply = t.supply + amount;
  if (supply > MAX_TOKEN_AMOUNT) {
    throw new StrataError('TOKEN_OVERFLOW', `minting ${amount} would take the supply of ${t.symbol} past 2^128 - 1`, { supply: t.supply.toString(), amount: amount.toString() });
  }
  if (t.cap > 0n && supply > t.cap) {
    throw new StrataError('TOKEN_CAP_EXCEEDED', `minting ${amount} would take the supply of ${t.symbol} to ${supply}, past its cap ${t.cap}`, {
      cap: t.cap.toString(),
      supply: t.supply.toString(),
      amount: amount.toString(),
    });
  }
  const next = { ...t, supply };
  writeToken(v, next);
  // The balance cannot overflow: it is at most the supply, which was just checked.
  setBalance(v, id, to, tokenBalance(v, id, to) + amount);
  return next;
}

/** Moves tokens; throws TOKEN_INSUFFICIENT_BALANCE (e.g. a sender that holds none). */
export function transferToken(v: StateView, id: Uint8Array, from: Uint8Array, to: Uint8Array, amount: bigint): void {
  const t = requireToken(v, id);
  if (amount < 0n) throw new StrataError('TOKEN_INVALID', 'negative amount');
  const have = tokenBalance(v, id, from);
  if (have < amount) {
    throw new StrataError('TOKEN_INSUFFICIENT_BALANCE', `${toHex(from)} holds ${have} ${t.symbol}, less than ${amount}`, {
      holder: toHex(from),
      balance: have.toString(),
      needed: amount.toString(),
    });
  }
  if (amount === 0n || bytesEqual(from, to)) return;
  setBalance(v, id, from, have - amount);
  const got = tokenBalance(v, id, to) + amount;
  if (got > MAX_TOKEN_AMOUNT) throw new StrataError('TOKEN_OVERFLOW', 'recipient balance would pass 2^128 - 1');
  setBalance(v, id, to, got);
}

/** Destroys tokens from `from` (bridge withdrawals); throws TOKEN_INSUFFICIENT_BALANCE. */
export function burnToken(v: StateView, id: Uint8Array, from: Uint8Array, amount: bigint): TokenInfo {
  const t = requireToken(v, id);
  if (amount <= 0n) throw new StrataError('TOKEN_INVALID', 'burn amount must be positive');
  const have = tokenBalance(v, id, from);
  if (have < amount) {
    throw new StrataError('TOKEN_INSUFFICIENT_BALANCE', `${toHex(from)} holds ${have} ${t.symbol}, cannot burn ${amount}`, { holder: toHex(from), balance: have.toString() });
  }
  setBalance(v, id, from, have - amount);
  const next = { ...t, supply: t.supply - amount };
  writeToken(v, next);
  return next;
}

/**
 * The wrapped form of a parent-chain token on this chain, created on first use with the bridge
 * as issuer. The identity (origin chain id and id) is carried through: wrapping a wrapped token
 * names the root origin, not the intermediate chain's copy.
 */
export function ensureWrappedToken(
  v: StateView,
  minter: Uint8Array,
  origin: { originChainId: number; originId: Uint8Array; symbol: string; decimals: number },
): TokenInfo {
  const id = wrappedTokenId(origin.originChainId, origin.originId, minter);
  return getToken(v, id) ?? createToken(v, { id, issuer: minter, symbol: origin.symbol, decimals: origin.decimals, cap: 0n, originChainId: origin.originChainId, originId: origin.originId });
}

/** The token module: `create`, `mint`, `transfer`, `burn`. */
export const tokenModule: Module = {
  name: TOKEN_MODULE,
  methods: {
    create(ctx: TxContext, args: Uint8Array) {
      const a = decode(CreateTokenArgs, args);
      const id = tokenIdOf(ctx.config.chainId, ctx.txHash);
      const t = createToken(ctx.view, { id, issuer: ctx.sender, symbol: a.symbol, decimals: a.decimals, cap: a.cap, originChainId: ctx.config.chainId, originId: id });
      ctx.emit('created', { id: toHex(id), issuer: toHex(ctx.sender), symbol: t.symbol, decimals: t.decimals, cap: t.cap.toString() });
    },
    mint(ctx: TxContext, args: Uint8Array) {
      const a = decode(MintTokenArgs, args);
      const t = mintToken(ctx.view, a.id, ctx.sender, a.to, a.amount);
      ctx.emit('minted', { id: toHex(a.id), to: toHex(a.to), amount: a.amount.toString(), supply: t.supply.toString() });
    },
    transfer(ctx: TxContext, args: Uint8Array) {
      const a = decode(TransferTokenArgs, args);
      transferToken(ctx.view, a.id, ctx.sender, a.to, a.amount);
      ctx.emit('transfer', { id: toHex(a.id), from: toHex(ctx.sender), to: toHex(a.to), amount: a.amount.toString() });
    },
    burn(ctx: TxContext, args: Uint8Array) {
      const a = decode(BurnTokenArgs, args);
      const t = burnToken(ctx.view, a.id, ctx.sender, a.amount);
      ctx.emit('burned', { id: toHex(a.id), from: toHex(ctx.sender), amount: a.amount.toString(), supply: t.supply.toString() });
    },
  },
};
