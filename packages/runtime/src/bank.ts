/**
 * The bank module: the chain's native coin. Accounts hold a balance and a nonce; the runtime
 * core uses the bank to check nonces and take fees, and other modules (bridge, disputes) move
 * coins through its functions. Module-owned coins sit in module accounts whose address is
 * `moduleAddress(name)`, so every coin is always in some account and supply is auditable.
 */
import { blake160, bytesKey, decode, decodeAddress, DecodeError, encode, fixedBytes, fromHex, StrataError, struct, toHex, uintBig, utf8, type Codec } from '@strata/primitives';
import { stateKey, type StateView } from '@strata/state';
import type { Module, TxContext } from './module.js';

/** An account record. */
export interface Account {
  balance: bigint;
  nonce: number;
}

/**
 * Account records are a fixed 24-byte layout (balance u128 big-endian ‖ nonce u64
 * big-endian): canonical by construction and decoded without allocation-heavy parsing, since
 * every transaction reads and writes two of them.
 */
const ACCOUNT_BYTES = 24;
const MAX_U128 = (1n << 128n) - 1n;

/** Encodes an account record. */
export function encodeAccount(a: Account): Uint8Array {
  if (a.balance < 0n || a.balance > MAX_U128) throw new StrataError('TX_EXECUTION_FAILED', 'balance out of range');
  const out = new Uint8Array(ACCOUNT_BYTES);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, a.balance >> 64n);
  dv.setBigUint64(8, a.balance & 0xffffffffffffffffn);
  dv.setBigUint64(16, BigInt(a.nonce));
  return out;
}

/** Decodes an account record; throws DECODE_INVALID on a wrong length. */
export function decodeAccount(b: Uint8Array): Account {
  if (b.length !== ACCOUNT_BYTES) throw new DecodeError('DECODE_INVALID', `account record must be ${ACCOUNT_BYTES} bytes, got ${b.length}`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { balance: (dv.getBigUint64(0) << 64n) | dv.getBigUint64(8), nonce: Number(dv.getBigUint64(16)) };
}

/** Arguments of `bank.transfer`. */
export interface TransferArgs {
  to: Uint8Array;
  amount: bigint;
}

/** Codec of `bank.transfer` arguments. */
export const TransferArgsCodec: Codec<TransferArgs> = struct('TransferArgs', { to: fixedBytes(20), amount: uintBig(128) });

const ACCOUNT_TAG = utf8('acct');
const SUPPLY_KEY = stateKey('bank', utf8('supply'));

/** State key of an account. */
export function accountKey(address: Uint8Array): Uint8Array {
  const k = bytesKey(address);
  let key = accountKeyCache.get(k);
  if (!key) {
    key = stateKey('bank', ACCOUNT_TAG, address);
    // Hot accounts repeat within and across blocks; the cache saves a hash per access.
    if (accountKeyCache.size >= 200_000) accountKeyCache.clear();
    accountKeyCache.set(k, key);
  }
  return key;
}

const accountKeyCache = new Map<string, Uint8Array>();

/** The address of a module's own account (escrow, bonds). No key can sign for it. */
export function moduleAddress(name: string): Uint8Array {
  return blake160(utf8(`strata-module:${name}`));
}

/** Reads an account (zero balance and nonce when absent). */
export function getAccount(view: Pick<StateView, 'get'>, address: Uint8Array): Account {
  const raw = view.get(accountKey(address));
  return raw ? decodeAccount(raw) : { balance: 0n, nonce: 0 };
}

/** Writes an account. */
export function putAccount(view: StateView, address: Uint8Array, acct: Account): void {
  view.put(accountKey(address), encodeAccount(acct));
}

/** Total coins in existence (minted at genesis and by block rewards and bridges, less burns). */
export function getSupply(view: Pick<StateView, 'get'>): bigint {
  const raw = view.get(SUPPLY_KEY);
  return raw ? decode(uintBig(256), raw) : 0n;
}

function setSupply(view: StateView, v: bigint): void {
  view.put(SUPPLY_KEY, encode(uintBig(256), v));
}

/** Moves coins between accounts; throws TX_INSUFFICIENT_FUNDS. */
export function transfer(view: StateView, from: Uint8Array, to: Uint8Array, amount: bigint): void {
  if (amount < 0n) throw new StrataError('TX_EXECUTION_FAILED', 'negative amount');
  const a = getAccount(view, from);
  if (a.balance < amount) {
    throw new StrataError('TX_INSUFFICIENT_FUNDS', `balance ${a.balance} is less than ${amount}`, {
      address: toHex(from),
      balance: a.balance.toString(),
      needed: amount.toString(),
    });
  }
  if (toHex(from) === toHex(to)) return;
  a.balance -= amount;
  putAccount(view, from, a);
  const b = getAccount(view, to);
  b.balance += amount;
  putAccount(view, to, b);
}

/** Creates coins in an account (genesis, block reward, wrapped deposits on an L2). */
export function mint(view: StateView, to: Uint8Array, amount: bigint): void {
  const b = getAccount(view, to);
  b.balance += amount;
  putAccount(view, to, b);
  setSupply(view, getSupply(view) + amount);
}

/** Destroys coins from an account (burned fees, L2 withdrawals); throws TX_INSUFFICIENT_FUNDS. */
export function burn(view: StateView, from: Uint8Array, amount: bigint): void {
  const a = getAccount(view, from);
  if (a.balance < amount) {
    throw new StrataError('TX_INSUFFICIENT_FUNDS', `cannot burn ${amount}: balance ${a.balance}`, { address: toHex(from) });
  }
  a.balance -= amount;
  putAccount(view, from, a);
  setSupply(view, getSupply(view) - amount);
}

/** The bank module: `transfer(to, amount)`. */
export const bankModule: Module = {
  name: 'bank',
  genesis(ctx) {
    for (const a of ctx.config.genesis.alloc) {
      const addr = parseAddress(a.address, ctx.config.addressPrefix);
      mint(ctx.view, addr, BigInt(a.balance));
    }
  },
  methods: {
    transfer(ctx: TxContext, args: Uint8Array) {
      const { to, amount } = decode(TransferArgsCodec, args);
      transfer(ctx.view, ctx.sender, to, amount);
      ctx.emit('transfer', { from: toHex(ctx.sender), to: toHex(to), amount: amount.toString() });
    },
  },
};

/**
 * Pays a block's fees and reward: `reward` is minted, `burned` (a share of the fees) leaves
 * the supply, the rest of the fees goes to the producer. Fees were already taken from senders.
 */
export function settleBlockFees(view: StateView, producer: Uint8Array, fees: bigint, burned: bigint, reward: bigint): void {
  const p = getAccount(view, producer);
  p.balance += fees - burned + reward;
  putAccount(view, producer, p);
  if (reward !== burned) setSupply(view, getSupply(view) + reward - burned);
}

/** Parses an address given as bech32m (with this chain's prefix) or as 0x hex of 20 bytes. */
export function parseAddress(text: string, prefix: string): Uint8Array {
  if (typeof text === 'string' && text.startsWith('0x')) {
    try {
      return fromHex(text, 20);
    } catch {
      throw new StrataError('INVALID_ADDRESS', `expected a 20-byte 0x address, got ${JSON.stringify(text.slice(0, 60))}`);
    }
  }
  return decodeAddress(text, prefix);
}
