/**
 * The channel state both parties sign, and the pure update rule (BOLT 2's add / fulfil / fail)
 * that turns one state into the next. Nothing here does I/O: the channel node, the adjudicator
 * and the tests run the same functions.
 *
 * A state is symmetric (both sign the same bytes) and numbered: version n+1 replaces version n.
 * The adjudicator accepts a newer version over an older one during the dispute delay, and a
 * party's signed *revocation* of version n lets the other side take the whole channel if that
 * party ever publishes version n (see ARCHITECTURE.md, "Channels: version numbers").
 */
import {
  bigintToFixed,
  blake2b256Parts,
  bytesEqual,
  encode,
  fixedBytes,
  list,
  StrataError,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';
import { sha256 } from './crypto.js';
import { FAILURE_PACKET_SIZE, ONION_PACKET_SIZE } from './onion.js';

/** Side of a channel: 0 = A (the opener), 1 = B. */
export type Side = 0 | 1;

/** A pending hash-time-locked contract inside a channel state. */
export interface Htlc {
  /** Unique per offerer within the channel. */
  id: number;
  /** Who offered it (pays it if fulfilled). */
  offerer: number;
  amount: bigint;
  /** sha256 payment hash. */
  hash: Uint8Array;
  /** Expiry height on the parent chain: claimable with the preimage revealed at or before it. */
  expiry: number;
}

/** A channel state (a commitment). */
export interface ChannelState {
  channelId: Uint8Array;
  version: number;
  balanceA: bigint;
  balanceB: bigint;
  htlcs: Htlc[];
}

export const HtlcCodec: Codec<Htlc> = struct('Htlc', { id: uint, offerer: uint, amount: uintBig(128), hash: fixedBytes(32), expiry: uint });
export const MAX_STATE_HTLCS = 966;
export const ChannelStateCodec: Codec<ChannelState> = struct('ChannelState', {
  channelId: fixedBytes(32),
  version: uint,
  balanceA: uintBig(128),
  balanceB: uintBig(128),
  htlcs: list(HtlcCodec, MAX_STATE_HTLCS),
});

/** Where a signature is valid: one chain and one adjudicator instance (rule 8: chain id and domain). */
export interface ChannelDomain {
  chainId: number;
  /** Adjudicator module name on that chain. */
  module: string;
}

const STATE_PERSONAL = utf8('strata-chan-stat');
const REVOKE_PERSONAL = utf8('strata-chan-revk');
const CLOSE_PERSONAL = utf8('strata-chan-clos');
const HASH_PERSONAL = utf8('strata-chan-hash');

const domainParts = (d: ChannelDomain) => [bigintToFixed(BigInt(d.chainId), 8), utf8(d.module), new Uint8Array([0])];

/** The digest both parties sign for a state. */
export function stateDigest(d: ChannelDomain, s: ChannelState): Uint8Array {
  return blake2b256Parts([...domainParts(d), encode(ChannelStateCodec, s)], STATE_PERSONAL);
}

/** Hash that identifies a state once published (the watchtower's breach hint derives from it). */
export function stateHash(s: ChannelState): Uint8Array {
  return blake2b256Parts([encode(ChannelStateCodec, s)], HASH_PERSONAL);
}

/** The digest of a revocation: "I will never publish any version ≤ `version` of this channel". */
export function revocationDigest(d: ChannelDomain, channelId: Uint8Array, version: number): Uint8Array {
  return blake2b256Parts([...domainParts(d), channelId, bigintToFixed(BigInt(version), 8)], REVOKE_PERSONAL);
}

/** The digest of a cooperative close (final balances, no HTLCs). */
export function closeDigest(d: ChannelDomain, channelId: Uint8Array, balanceA: bigint, balanceB: bigint): Uint8Array {
  return blake2b256Parts([...domainParts(d), channelId, bigintToFixed(balanceA, 16), bigintToFixed(balanceB, 16)], CLOSE_PERSONAL);
}

/** Total value a state holds (must equal the channel capacity: conservation). */
export function stateTotal(s: ChannelState): bigint {
  let t = s.balanceA + s.balanceB;
  for (const h of s.htlcs) t += h.amount;
  return t;
}

// ---------------------------------------------------------------- updates

/** One update inside a commitment round (BOLT 2 update_* messages). */
export type Update =
  | { kind: 'add'; id: number; amount: bigint; hash: Uint8Array; expiry: number; onion: Uint8Array }
  | { kind: 'fulfil'; id: number; preimage: Uint8Array }
  | { kind: 'fail'; id: number; reason: Uint8Array };

/** Wire codec of an update (kind 0 add, 1 fulfil, 2 fail). */
export const UpdateWire = struct('UpdateWire', { kind: uint, id: uint, amount: uintBig(128), hash: varBytes(32), expiry: uint, data: varBytes(4096) });

export function encodeUpdate(u: Update): { kind: number; id: number; amount: bigint; hash: Uint8Array; expiry: number; data: Uint8Array } {
  if (u.kind === 'add') return { kind: 0, id: u.id, amount: u.amount, hash: u.hash, expiry: u.expiry, data: u.onion };
  if (u.kind === 'fulfil') return { kind: 1, id: u.id, amount: 0n, hash: new Uint8Array(0), expiry: 0, data: u.preimage };
  return { kind: 2, id: u.id, amount: 0n, hash: new Uint8Array(0), expiry: 0, data: u.reason };
}

export function decodeUpdate(w: { kind: number; id: number; amount: bigint; hash: Uint8Array; expiry: number; data: Uint8Array }): Update {
  if (w.kind === 0) {
    if (w.hash.length !== 32) throw new StrataError('CHANNEL_INVALID', 'update_add_htlc: payment hash must be 32 bytes');
    // BOLT 2: the onion of an add is exactly one packet (a peer's larger blob would be kept per HTLC)
    if (w.data.length !== ONION_PACKET_SIZE) throw new StrataError('CHANNEL_INVALID', `update_add_htlc: onion must be ${ONION_PACKET_SIZE} bytes, got ${w.data.length}`);
    return { kind: 'add', id: w.id, amount: w.amount, hash: w.hash, expiry: w.expiry, onion: w.data };
  }
  if (w.kind === 1) {
    if (w.data.length !== 32) throw new StrataError('CHANNEL_INVALID', 'update_fulfill_htlc: preimage must be 32 bytes');
    return { kind: 'fulfil', id: w.id, preimage: w.data };
  }
  if (w.kind === 2) {
    if (w.data.length !== 0 && w.data.length !== FAILURE_PACKET_SIZE) throw new StrataError('CHANNEL_INVALID', `update_fail_htlc: reason must be ${FAILURE_PACKET_SIZE} bytes (or empty), got ${w.data.length}`);
    return { kind: 'fail', id: w.id, reason: w.data };
  }
  throw new StrataError('CHANNEL_INVALID', `unknown update kind ${w.kind}`);
}

/** Channel limits both sides enforce on the other's adds (BOLT 2 open_channel parameters). */
export interface ChannelLimits {
  /** Each side's balance must stay at or above this after its own adds (channel reserve). */
  reserve: bigint;
  /** Smallest HTLC (dust limit). */
  dust: bigint;
  /** Most HTLCs pending from one side. */
  maxHtlcs: number;
  /** Most value pending from one side. */
  maxInFlight: bigint;
}

/** Default limits (devnet scale). */
export const DEFAULT_LIMITS: ChannelLimits = { reserve: 1_000n, dust: 1n, maxHtlcs: 483, maxInFlight: 1n << 100n };

function limitErr(msg: string, meta: Record<string, unknown>): never {
  throw new StrataError('CHANNEL_LIMIT', msg, meta);
}

/**
 * Applies `updates` proposed by `proposer` to `s`, returning version+1. Throws CHANNEL_INVALID
 * (unknown HTLC, wrong preimage, duplicate id) or CHANNEL_LIMIT (reserve, dust, max HTLCs, max in
 * flight, insufficient balance) at the first update that breaks a rule. Pure; `s` is not modified.
 */
export function applyUpdates(s: ChannelState, proposer: Side, updates: Update[], limits: ChannelLimits): ChannelState {
  return applyIn(s, proposer, updates, limits, true).next;
}

/**
 * Applies as many of `updates` (proposed by `proposer`) as apply, in order, each checked as
 * {@link applyUpdates} would check it applied on its own on top of the ones taken before it: the
 * result equals applying them one at a time and dropping each one that throws, in one pass over
 * the state instead of one per update (a round takes up to `maxBatch` queued updates on top of
 * every HTLC in flight: one call per update copied, re-keyed and sorted the whole state each time).
 * Returns the next state (version + 1), the updates taken and those refused with their errors.
 */
export function applyEach(s: ChannelState, proposer: Side, updates: Update[], limits: ChannelLimits): { next: ChannelState; taken: Update[]; refused: [Update, StrataError][] } {
  return applyIn(s, proposer, updates, limits, false);
}

/**
 * Both of the above: each update is checked against the state the ones before it left, so the
 * limits on the proposer's own HTLCs (their count and value in flight, which a batch only raises:
 * its fulfils and fails remove the other side's) hold after every update, and so at the end.
 * `strict` throws the first refusal; otherwise the update is dropped and the rest go on.
 */
function applyIn(s: ChannelState, proposer: Side, updates: Update[], limits: ChannelLimits, strict: boolean): { next: ChannelState; taken: Update[]; refused: [Update, StrataError][] } {
  let balA = s.balanceA;
  let balB = s.balanceB;
  const htlcs = new Map<string, Htlc>();
  let count = 0;
  let inFlight = 0n;
  for (const h of s.htlcs) {
    htlcs.set(`${h.offerer}:${h.id}`, h);
    if (h.offerer === proposer) {
      count++;
      inFlight += h.amount;
    }
  }
  const taken: Update[] = [];
  const refused: [Update, StrataError][] = [];
  for (const u of updates) {
    try {
      if (u.kind === 'add') {
        const key = `${proposer}:${u.id}`;
        if (htlcs.has(key)) throw new StrataError('CHANNEL_INVALID', `HTLC id ${u.id} is already in use`, { id: u.id });
        if (u.amount < limits.dust) limitErr(`HTLC of ${u.amount} is below the dust limit ${limits.dust}`, { amount: u.amount.toString(), dust: limits.dust.toString() });
        const bal = proposer === 0 ? balA : balB;
        if (bal - u.amount < limits.reserve) {
          limitErr(`HTLC of ${u.amount} would take the sender's balance ${bal} below the reserve ${limits.reserve}`, { amount: u.amount.toString(), balance: bal.toString() });
        }
        if (count + 1 > limits.maxHtlcs) limitErr(`${count + 1} pending HTLCs exceed max_accepted_htlcs ${limits.maxHtlcs}`, { count: count + 1, max: limits.maxHtlcs });
        if (inFlight + u.amount > limits.maxInFlight) limitErr(`${inFlight + u.amount} in flight exceeds max_htlc_value_in_flight ${limits.maxInFlight}`, { inFlight: (inFlight + u.amount).toString() });
        if (proposer === 0) balA -= u.amount;
        else balB -= u.amount;
        count++;
        inFlight += u.amount;
        htlcs.set(key, { id: u.id, offerer: proposer, amount: u.amount, hash: u.hash, expiry: u.expiry });
      } else {
        // fulfil / fail remove an HTLC the *other* side offered
        const other = (1 - proposer) as Side;
        const key = `${other}:${u.id}`;
        const h = htlcs.get(key);
        if (!h) throw new StrataError('CHANNEL_INVALID', `no HTLC ${u.id} offered by the peer`, { id: u.id });
        if (u.kind === 'fulfil') {
          if (!bytesEqual(sha256(u.preimage), h.hash)) throw new StrataError('CHANNEL_INVALID', `preimage does not match HTLC ${u.id}'s payment hash`, { id: u.id });
          if (proposer === 0) balA += h.amount;
          else balB += h.amount;
        } else if (other === 0) balA += h.amount;
        else balB += h.amount;
        htlcs.delete(key);
      }
      taken.push(u);
    } catch (e) {
      if (strict) throw e;
      refused.push([u, e instanceof StrataError ? e : new StrataError('CHANNEL_INVALID', String(e))]);
    }
  }
  const out = taken.length > 0 ? [...htlcs.values()].sort((a, b) => a.offerer - b.offerer || a.id - b.id) : s.htlcs;
  return { next: { channelId: s.channelId, version: s.version + 1, balanceA: balA, balanceB: balB, htlcs: out }, taken, refused };
}

/** Short printable id of a channel. */
export function shortId(channelId: Uint8Array): string {
  return toHex(channelId).slice(2, 14);
}
