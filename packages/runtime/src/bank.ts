/**
 * The bank module: the chain's native coin. Accounts hold a balance and a nonce; the runtime
 * core uses the bank to check nonces and take fees, and other modules (bridge, disputes) move
 * coins through its functions. Module-owned coins sit in module accounts whose address is
 * `moduleAddress(name)`, so every coin is always in some account and supply is auditable.
 */
import {
  blake160,
  blake2b256Parts,
  bytesEqual,
  bytesKey,
  decode,
  decodeAddress,
  DecodeError,
  encode,
  fixedBytes,
  fromHex,
  pairKey,
  StrataError,
  struct,
  toHex,
  uintBig,
  utf8,
  type Codec,
} from '@strata/primitives';
import { STATE_KEY_PERSONAL, stateKey, type StateView } from '@strata/state';
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

/** Largest balance or nonce written and read through exact `number` arithmetic (2^53 - 1). */
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 0x1_0000_0000;

/** Writes a safe non-negative integer as a u64 big-endian at `o`. */
function writeU64(out: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  const lo = v % TWO_32;
  out[o] = hi >>> 24;
  out[o + 1] = (hi >>> 16) & 0xff;
  out[o + 2] = (hi >>> 8) & 0xff;
  out[o + 3] = hi & 0xff;
  out[o + 4] = lo >>> 24;
  out[o + 5] = (lo >>> 16) & 0xff;
  out[o + 6] = (lo >>> 8) & 0xff;
  out[o + 7] = lo & 0xff;
}

/** Reads a u64 big-endian at `o` whose top 11 bits are zero (callers check) as a number. */
function readU53(b: Uint8Array, o: number): number {
  const hi = (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
  const lo = (((b[o + 4] as number) << 24) | ((b[o + 5] as number) << 16) | ((b[o + 6] as number) << 8) | (b[o + 7] as number)) >>> 0;
  return hi * TWO_32 + lo;
}

/** Encodes an account record. */
export function encodeAccount(a: Account): Uint8Array {
  if (a.balance < 0n || a.balance > MAX_U128) throw new StrataError('TX_EXECUTION_FAILED', 'balance out of range');
  const out = new Uint8Array(ACCOUNT_BYTES);
  if (a.balance <= MAX_SAFE_BIG && Number.isSafeInteger(a.nonce) && a.nonce >= 0) {
    // Every real balance and nonce: number arithmetic, no BigInt temporaries.
    writeU64(out, 8, Number(a.balance));
    writeU64(out, 16, a.nonce);
    return out;
  }
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, a.balance >> 64n);
  dv.setBigUint64(8, a.balance & 0xffffffffffffffffn);
  dv.setBigUint64(16, BigInt(a.nonce));
  return out;
}

/** True when the u64 big-endian at `o` is below 2^53 (its top 11 bits are zero). */
function fitsU53(b: Uint8Array, o: number): boolean {
  return b[o] === 0 && ((b[o + 1] as number) & 0xe0) === 0;
}

/** Decodes an account record; throws DECODE_INVALID on a wrong length. */
export function decodeAccount(b: Uint8Array): Account {
  if (b.length !== ACCOUNT_BYTES) throw new DecodeError('DECODE_INVALID', `account record must be ${ACCOUNT_BYTES} bytes, got ${b.length}`);
  const highZero = b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0;
  if (highZero && fitsU53(b, 8) && fitsU53(b, 16)) return { balance: BigInt(readU53(b, 8)), nonce: readU53(b, 16) };
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
/** What `stateKey('bank', ACCOUNT_TAG, address)` hashes before the address: 'bank' ‖ 0x00 ‖ 'acct'. */
const ACCOUNT_KEY_PREFIX = new Uint8Array([...utf8('bank'), 0, ...ACCOUNT_TAG]);
/** State key of the native coin's total supply (proven against a genesis state root by the sidechain registry). */
export const SUPPLY_KEY = stateKey('bank', utf8('supply'));

/** State key of an account. */
export function accountKey(address: Uint8Array): Uint8Array {
  // Hot accounts repeat within and across blocks; the cache saves a hash per access. 20-byte
  // addresses (all real ones) are looked up by a 10-char string of their byte pairs, anything
  // else by its one-char-per-byte key, in separate maps so the two forms never meet.
  const isAddress = address instanceof Uint8Array && address.length === 20;
  const cache = isAddress ? addressKeyCache : otherKeyCache;
  const k = isAddress ? pairKey(address) : bytesKey(address);
  let key = cache.get(k);
  if (!key) {
    // stateKey('bank', ACCOUNT_TAG, address): the same bytes hashed, its prefix built once.
    key = blake2b256Parts([ACCOUNT_KEY_PREFIX, address], STATE_KEY_PERSONAL);
    if (addressKeyCache.size + otherKeyCache.size >= 200_000) {
      addressKeyCache.clear();
      otherKeyCache.clear();
    }
    cache.set(k, key);
  }
  return key;
}

const addressKeyCache = new Map<string, Uint8Array>();
const otherKeyCache = new Map<string, Uint8Array>();

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
  const fromKey = accountKey(from);
  const rawFrom = view.get(fromKey);
  const a = rawFrom ? decodeAccount(rawFrom) : { balance: 0n, nonce: 0 };
  if (a.balance < amount) {
    throw new StrataError('TX_INSUFFICIENT_FUNDS', `balance ${a.balance} is less than ${amount}`, {
      address: toHex(from),
      balance: a.balance.toString(),
      needed: amount.toString(),
    });
  }
  if (bytesEqual(from, to)) return;
  a.balance -= amount;
  view.put(fromKey, encodeAccount(a));
  const toKey = accountKey(to);
  const rawTo = view.get(toKey);
  const b = rawTo ? decodeAccount(rawTo) : { balance: 0n, nonce: 0 };
  b.balance += amount;
  view.put(toKey, encodeAccount(b));
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
