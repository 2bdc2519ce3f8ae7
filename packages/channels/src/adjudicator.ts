/**
 * The on-chain half: the channel adjudicator, an ordinary runtime module that any Strata chain
 * composes into its runtime (`runtime: [bankModule, ...channelParentModules()]` on the L1, or in
 * the optimistic rollup's L2 modules). It holds channel funds in a module account and rules on:
 *
 * - `open`: the opener locks the capacity under both parties' ed25519 keys (with an optional push
 *   to the other side); version 0 is that opening split, valid without signatures.
 * - `coopClose`: one transaction signed by both pays both sides at once.
 * - `close` (unilateral): a party publishes the latest state both signed; a dispute delay of
 *   `toSelfDelay` blocks starts, during which `update` replaces it with any newer signed version,
 *   and `penalize` with the closer's own revocation of the published version hands the whole
 *   capacity to the other side (Lightning's penalty). `settle` pays out after the delay.
 * - HTLCs of a settled state: `claimHtlc` pays the receiver if the preimage was revealed on chain
 *   (`reveal`) at or before the HTLC's expiry; `refundHtlc` pays the offerer after it. Revealed
 *   preimages stay readable (`readPreimage`), so an upstream hop learns them from the chain.
 * - Swaps: a plain on-chain HTLC (`swapLock` / `swapClaim` / `swapRefund`) for atomic swaps
 *   between chains; a claim reveals its preimage in the same registry.
 *
 * Pure: state through the StateView only; every signature is verified and charged.
 */
import {
  bigintToFixed,
  bool,
  bytesEqual,
  decode,
  encode,
  fixedBytes,
  list,
  optional,
  StrataError,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  type Codec,
} from '@strata/primitives';
import { moduleAddress, transfer, type Module, type TxContext } from '@strata/runtime';
import { stateKey, type StateView } from '@strata/state';
import { edVerifyMsg, sha256 } from './crypto.js';
import {
  ChannelStateCodec,
  closeDigest,
  revocationDigest,
  stateDigest,
  stateHash,
  stateTotal,
  type ChannelDomain,
  type ChannelState,
  type Htlc,
} from './state.js';

/** Default module name of the adjudicator. */
export const ADJUDICATOR_MODULE = 'channels';

/** Channel status on chain. */
export const CH_OPEN = 0;
export const CH_CLOSING = 1;
export const CH_CLOSED = 2;

/** How a channel ended. */
export const END_NONE = 0;
export const END_COOPERATIVE = 1;
export const END_SETTLED = 2;
export const END_PENALTY = 3;

/** A channel as the adjudicator holds it. */
export interface ChannelRecord {
  keyA: Uint8Array;
  keyB: Uint8Array;
  payA: Uint8Array;
  payB: Uint8Array;
  capacity: bigint;
  push: bigint;
  toSelfDelay: number;
  openHeight: number;
  status: number;
  ending: number;
  /** 0 = A, 1 = B (valid while CLOSING or after a unilateral close). */
  closer: number;
  /** The published state (version, balances, HTLCs) and its hash. */
  state: ChannelState;
  stateHash: Uint8Array;
  disputeEnd: number;
  /** Per published HTLC: resolved yet. */
  htlcDone: boolean[];
}

export const ChannelRecordCodec: Codec<ChannelRecord> = struct('ChannelRecord', {
  keyA: fixedBytes(32),
  keyB: fixedBytes(32),
  payA: fixedBytes(20),
  payB: fixedBytes(20),
  capacity: uintBig(128),
  push: uintBig(128),
  toSelfDelay: uint,
  openHeight: uint,
  status: uint,
  ending: uint,
  closer: uint,
  state: ChannelStateCodec,
  stateHash: fixedBytes(32),
  disputeEnd: uint,
  htlcDone: list(bool, 1000),
});

/** A swap HTLC on chain. */
export interface SwapRecord {
  sender: Uint8Array;
  receiver: Uint8Array;
  amount: bigint;
  hash: Uint8Array;
  expiry: number;
  /** 0 locked, 1 claimed, 2 refunded. */
  status: number;
}
export const SwapRecordCodec: Codec<SwapRecord> = struct('SwapRecord', {
  sender: fixedBytes(20),
  receiver: fixedBytes(20),
  amount: uintBig(128),
  hash: fixedBytes(32),
  expiry: uint,
  status: uint,
});

// ---------------------------------------------------------------- argument codecs

const sig64 = fixedBytes(64);
export const OpenArgs = struct('OpenArgs', {
  channelId: fixedBytes(32),
  keyA: fixedBytes(32),
  keyB: fixedBytes(32),
  payB: fixedBytes(20),
  capacity: uintBig(128),
  push: uintBig(128),
  toSelfDelay: uint,
});
export const CoopCloseArgs = struct('CoopCloseArgs', { channelId: fixedBytes(32), balanceA: uintBig(128), balanceB: uintBig(128), sigA: sig64, sigB: sig64 });
/** `close` and `update`: a state with both signatures (none for the version-0 opening state). */
export const SignedStateArgs = struct('SignedStateArgs', { state: ChannelStateCodec, sigA: optional(sig64), sigB: optional(sig64) });
export const PenalizeArgs = struct('PenalizeArgs', { channelId: fixedBytes(32), version: uint, sig: sig64 });
export const ChannelRefArgs = struct('ChannelRefArgs', { channelId: fixedBytes(32) });
export const HtlcRefArgs = struct('HtlcRefArgs', { channelId: fixedBytes(32), index: uint });
export const RevealArgs = struct('RevealArgs', { preimage: fixedBytes(32) });
export const SwapLockArgs = struct('SwapLockArgs', { swapId: fixedBytes(32), receiver: fixedBytes(20), hash: fixedBytes(32), expiry: uint, amount: uintBig(128) });
export const SwapClaimArgs = struct('SwapClaimArgs', { swapId: fixedBytes(32), preimage: fixedBytes(32) });
export const SwapRefArgs = struct('SwapRefArgs', { swapId: fixedBytes(32) });

/** A revealed preimage: the preimage and the height it first appeared on chain. */
export const PreimageRecordCodec = struct('PreimageRecord', { preimage: fixedBytes(32), height: uint });
/** One entry of the close log (the watchtower scans it). */
export const CloseLogCodec = struct('CloseLog', { channelId: fixedBytes(32), stateHash: fixedBytes(32), height: uint });

// ---------------------------------------------------------------- state keys and readers

type Reader = Pick<StateView, 'get'>;

/** State keys of an adjudicator instance (exported so clients can read them over RPC proofs). */
export function channelKeys(module: string = ADJUDICATOR_MODULE) {
  return {
    channel: (id: Uint8Array) => stateKey(module, utf8('ch'), id),
    preimage: (hash: Uint8Array) => stateKey(module, utf8('pre'), hash),
    swap: (id: Uint8Array) => stateKey(module, utf8('swap'), id),
    closeCount: stateKey(module, utf8('closes')),
    close: (i: number) => stateKey(module, utf8('close'), bigintToFixed(BigInt(i), 8)),
  };
}

/** The module account that holds channel and swap funds. */
export function adjudicatorAddress(module: string = ADJUDICATOR_MODULE): Uint8Array {
  return moduleAddress(module);
}

export function readChannelRecord(r: Reader, id: Uint8Array, module?: string): ChannelRecord | undefined {
  const raw = r.get(channelKeys(module).channel(id));
  return raw ? decode(ChannelRecordCodec, raw) : undefined;
}
export function readPreimage(r: Reader, hash: Uint8Array, module?: string): { preimage: Uint8Array; height: number } | undefined {
  const raw = r.get(channelKeys(module).preimage(hash));
  return raw ? decode(PreimageRecordCodec, raw) : undefined;
}
export function readSwap(r: Reader, id: Uint8Array, module?: string): SwapRecord | undefined {
  const raw = r.get(channelKeys(module).swap(id));
  return raw ? decode(SwapRecordCodec, raw) : undefined;
}
export function readCloseCount(r: Reader, module?: string): number {
  const raw = r.get(channelKeys(module).closeCount);
  return raw ? Number(decode(uint, raw)) : 0;
}

/** The version-0 state of a channel: the opening split. */
export function openingState(channelId: Uint8Array, capacity: bigint, push: bigint): ChannelState {
  return { channelId, version: 0, balanceA: capacity - push, balanceB: push, htlcs: [] };
}

// ---------------------------------------------------------------- the module

/** Options of the adjudicator instance. */
export interface AdjudicatorOptions {
  /** Module name (several instances may live on one chain under different names). */
  module?: string;
  /** Smallest dispute delay a channel may choose, blocks. */
  minToSelfDelay?: number;
  /** Most HTLCs a published state may carry. */
  maxHtlcs?: number;
  /**
   * The clock dispute delays, HTLC and swap expiries count in, read from the host's state
   * (default: the block height). On an L2 pass `l1OriginClock` (@strata/optimistic): the L2
   * sequencer makes blocks at will, so a delay in L2 blocks could end before a watchtower that
   * the sequencer censors gets in; in L1 blocks it cannot be sped up. Off-chain roles read the
   * same clock (`RpcChainClient.height()` takes the head's `l1Clock` when the chain serves one).
   */
  clock?: (view: Pick<StateView, 'get'>) => number;
}

function rule(msg: string, meta: Record<string, unknown> = {}): never {
  throw new StrataError('CHANNEL_STATE', msg, meta);
}

/** How many L1 blocks a channel node or watchtower on an L2 waits for a transaction before forcing it through the L1 inbox (`ForcedInclusionChainClient`'s default). */
export const L2_FORCE_AFTER_L1_BLOCKS = 4;

/**
 * The smallest safe dispute delay (`toSelfDelay`, in L1 blocks) for channels on an L2 whose
 * adjudicator counts the L2's L1 origin: `2W + F + 1` (docs/l3.md). A close stamped at origin `o`
 * may ride in an L1 block up to `W` later; a party the sequencer censors waits `F` L1 blocks,
 * then forces its penalty through the L1 inbox, where it lands within `W` more.
 */
export function minL2ToSelfDelay(sequencingWindow: number, forceAfterL1Blocks = L2_FORCE_AFTER_L1_BLOCKS): number {
  return 2 * sequencingWindow + forceAfterL1Blocks + 1;
}

/** The adjudicator module for a parent chain's runtime. */
export function channelParentModules(opts: AdjudicatorOptions = {}): Module[] {
  const name = opts.module ?? ADJUDICATOR_MODULE;
  const minDelay = opts.minToSelfDelay ?? 1;
  const maxHtlcs = opts.maxHtlcs ?? 966;
  const keys = channelKeys(name);
  const vault = adjudicatorAddress(name);
  const clock = opts.clock;
  /** The adjudicator's time: the block height, or the host's clock (an L2's L1 origin). */
  const now = (ctx: TxContext): number => (clock ? clock(ctx.view) : ctx.block.height);
  const domain = (ctx: TxContext): ChannelDomain => ({ chainId: ctx.config.chainId, module: name });

  const load = (ctx: TxContext, id: Uint8Array): ChannelRecord => {
    const rec = readChannelRecord(ctx.view, id, name);
    if (!rec) throw new StrataError('CHANNEL_NOT_FOUND', `no channel ${toHex(id)} on this chain`, { channelId: toHex(id) });
    return rec;
  };
  const save = (ctx: TxContext, id: Uint8Array, rec: ChannelRecord) => ctx.view.put(keys.channel(id), encode(ChannelRecordCodec, rec));
  const verify = (ctx: TxContext, pub: Uint8Array, digest: Uint8Array, sig: Uint8Array | undefined, who: string) => {
    ctx.charge(ctx.config.compute.sigVerify);
    if (!sig || !edVerifyMsg(pub, digest, sig)) throw new StrataError('INVALID_SIGNATURE', `${who}'s signature does not verify`);
  };
  /** Checks a published state: right channel, conserved, signed by both (version 0: the opening split). */
  const checkState = (ctx: TxContext, rec: ChannelRecord, a: { state: ChannelState; sigA?: Uint8Array | undefined; sigB?: Uint8Array | undefined }) => {
    const s = a.state;
    if (stateTotal(s) !== rec.capacity) rule(`state holds ${stateTotal(s)}, the channel ${rec.capacity}: value is not conserved`);
    if (s.htlcs.length > maxHtlcs) rule(`state carries ${s.htlcs.length} HTLCs, at most ${maxHtlcs}`);
    if (s.version === 0) {
      const o = openingState(s.channelId, rec.capacity, rec.push);
      if (s.balanceA !== o.balanceA || s.balanceB !== o.balanceB || s.htlcs.length > 0) rule('version 0 must be the opening split');
      return;
    }
    const d = stateDigest(domain(ctx), s);
    verify(ctx, rec.keyA, d, a.sigA, 'party A');
    verify(ctx, rec.keyB, d, a.sigB, 'party B');
  };
  const publish = (ctx: TxContext, rec: ChannelRecord, s: ChannelState) => {
    rec.state = s;
    rec.stateHash = stateHash(s);
    rec.htlcDone = s.htlcs.map(() => false);
    const n = readCloseCount(ctx.view, name);
    ctx.view.put(keys.close(n), encode(CloseLogCodec, { channelId: s.channelId, stateHash: rec.stateHash, height: now(ctx) }));
    ctx.view.put(keys.closeCount, encode(uint, n + 1));
  };
  const pay = (ctx: TxContext, to: Uint8Array, amount: bigint) => {
    if (amount > 0n) transfer(ctx.view, vault, to, amount);
  };
  const partyOf = (rec: ChannelRecord, who: Uint8Array): number => (bytesEqual(who, rec.payA) ? 0 : bytesEqual(who, rec.payB) ? 1 : -1);
  const preimageOk = (ctx: TxContext, h: Htlc) => {
    const p = readPreimage(ctx.view, h.hash, name);
    return p !== undefined && p.height <= h.expiry;
  };

  const mod: Module = {
    name,
    ...(clock ? { l1Clock: true } : {}),
    methods: {
      open(ctx, args) {
        const a = decode(OpenArgs, args);
        if (ctx.view.get(keys.channel(a.channelId))) rule(`channel ${toHex(a.channelId)} already exists; pick a fresh id`);
        if (a.capacity <= 0n || a.push > a.capacity) rule('capacity must be positive and the push at most the capacity');
        if (a.toSelfDelay < minDelay) throw new StrataError('CHANNEL_LIMIT', `toSelfDelay must be at least ${minDelay} blocks on this chain`, { min: minDelay, got: a.toSelfDelay });
        if (bytesEqual(a.keyA, a.keyB)) rule('the two channel keys must differ');
        transfer(ctx.view, ctx.sender, vault, a.capacity);
        const s = openingState(a.channelId, a.capacity, a.push);
        const rec: ChannelRecord = {
          keyA: a.keyA,
          keyB: a.keyB,
          payA: ctx.sender,
          payB: a.payB,
          capacity: a.capacity,
          push: a.push,
          toSelfDelay: a.toSelfDelay,
          openHeight: now(ctx),
          status: CH_OPEN,
          ending: END_NONE,
          closer: 0,
          state: s,
          stateHash: stateHash(s),
          disputeEnd: 0,
          htlcDone: [],
        };
        save(ctx, a.channelId, rec);
        ctx.emit('channelOpened', { channelId: toHex(a.channelId), capacity: a.capacity.toString(), push: a.push.toString(), keyA: toHex(a.keyA), keyB: toHex(a.keyB) });
      },
      coopClose(ctx, args) {
        const a = decode(CoopCloseArgs, args);
        const rec = load(ctx, a.channelId);
        if (rec.status !== CH_OPEN) rule('only an open channel closes cooperatively');
        if (a.balanceA + a.balanceB !== rec.capacity) rule(`final balances must add up to the capacity ${rec.capacity}`);
        const d = closeDigest(domain(ctx), a.channelId, a.balanceA, a.balanceB);
        verify(ctx, rec.keyA, d, a.sigA, 'party A');
        verify(ctx, rec.keyB, d, a.sigB, 'party B');
        pay(ctx, rec.payA, a.balanceA);
        pay(ctx, rec.payB, a.balanceB);
        rec.status = CH_CLOSED;
        rec.ending = END_COOPERATIVE;
        rec.state = { channelId: a.channelId, version: rec.state.version, balanceA: a.balanceA, balanceB: a.balanceB, htlcs: [] };
        save(ctx, a.channelId, rec);
        ctx.emit('channelClosed', { channelId: toHex(a.channelId), how: 'cooperative', balanceA: a.balanceA.toString(), balanceB: a.balanceB.toString() });
      },
      close(ctx, args) {
        const a = decode(SignedStateArgs, args);
        const rec = load(ctx, a.state.channelId);
        if (rec.status !== CH_OPEN) rule('the channel is not open');
        const closer = partyOf(rec, ctx.sender);
        if (closer < 0) rule('only a party (its payout account) closes unilaterally');
        checkState(ctx, rec, a);
        rec.status = CH_CLOSING;
        rec.closer = closer;
        rec.disputeEnd = now(ctx) + rec.toSelfDelay;
        publish(ctx, rec, a.state);
        save(ctx, a.state.channelId, rec);
        ctx.emit('channelClosing', { channelId: toHex(a.state.channelId), closer, version: a.state.version, disputeEnd: rec.disputeEnd, stateHash: toHex(rec.stateHash) });
      },
      update(ctx, args) {
        const a = decode(SignedStateArgs, args);
        const rec = load(ctx, a.state.channelId);
        if (rec.status !== CH_CLOSING) rule('only a closing channel takes a newer state');
        if (now(ctx) >= rec.disputeEnd) rule(`the dispute delay ended at block ${rec.disputeEnd}`);
        if (a.state.version <= rec.state.version) rule(`version ${a.state.version} is not newer than the published ${rec.state.version}`);
        checkState(ctx, rec, a);
        publish(ctx, rec, a.state);
        save(ctx, a.state.channelId, rec);
        ctx.emit('channelUpdated', { channelId: toHex(a.state.channelId), version: a.state.version });
      },
      penalize(ctx, args) {
        const a = decode(PenalizeArgs, args);
        const rec = load(ctx, a.channelId);
        if (rec.status !== CH_CLOSING) rule('only a closing channel can be penalized');
        if (now(ctx) >= rec.disputeEnd) rule(`the dispute delay ended at block ${rec.disputeEnd}`);
        if (a.version < rec.state.version) rule(`a revocation of version ${a.version} does not cover the published version ${rec.state.version}`);
        const closerKey = rec.closer === 0 ? rec.keyA : rec.keyB;
        verify(ctx, closerKey, revocationDigest(domain(ctx), a.channelId, a.version), a.sig, 'the closer');
        const victim = rec.closer === 0 ? rec.payB : rec.payA;
        pay(ctx, victim, rec.capacity);
        rec.status = CH_CLOSED;
        rec.ending = END_PENALTY;
        rec.htlcDone = rec.htlcDone.map(() => true);
        save(ctx, a.channelId, rec);
        ctx.emit('channelPenalized', { channelId: toHex(a.channelId), breacher: rec.closer, revokedVersion: rec.state.version, amount: rec.capacity.toString(), by: toHex(ctx.sender) });
      },
      settle(ctx, args) {
        const a = decode(ChannelRefArgs, args);
        const rec = load(ctx, a.channelId);
        if (rec.status !== CH_CLOSING) rule('only a closing channel settles');
        if (now(ctx) < rec.disputeEnd) rule(`the dispute delay runs until block ${rec.disputeEnd}`, { disputeEnd: rec.disputeEnd });
        pay(ctx, rec.payA, rec.state.balanceA);
        pay(ctx, rec.payB, rec.state.balanceB);
        rec.status = CH_CLOSED;
        rec.ending = END_SETTLED;
        save(ctx, a.channelId, rec);
        ctx.emit('channelClosed', { channelId: toHex(a.channelId), how: 'unilateral', version: rec.state.version, balanceA: rec.state.balanceA.toString(), balanceB: rec.state.balanceB.toString(), htlcs: rec.state.htlcs.length });
      },
      reveal(ctx, args) {
        const a = decode(RevealArgs, args);
        const h = sha256(a.preimage);
        if (!ctx.view.get(keys.preimage(h))) ctx.view.put(keys.preimage(h), encode(PreimageRecordCodec, { preimage: a.preimage, height: now(ctx) }));
        ctx.emit('preimage', { hash: toHex(h), preimage: toHex(a.preimage) });
      },
      claimHtlc(ctx, args) {
        const a = decode(HtlcRefArgs, args);
        const rec = load(ctx, a.channelId);
        const h = rec.state.htlcs[a.index];
        if (rec.ending !== END_SETTLED || !h) rule('no HTLC at that index in a settled channel');
        if (rec.htlcDone[a.index]) rule('that HTLC is already resolved');
        if (!preimageOk(ctx, h)) rule(`the preimage of HTLC ${a.index} was not revealed on chain by its expiry ${h.expiry}`);
        pay(ctx, h.offerer === 0 ? rec.payB : rec.payA, h.amount);
        rec.htlcDone[a.index] = true;
        save(ctx, a.channelId, rec);
        ctx.emit('htlcClaimed', { channelId: toHex(a.channelId), index: a.index, hash: toHex(h.hash), amount: h.amount.toString() });
      },
      refundHtlc(ctx, args) {
        const a = decode(HtlcRefArgs, args);
        const rec = load(ctx, a.channelId);
        const h = rec.state.htlcs[a.index];
        if (rec.ending !== END_SETTLED || !h) rule('no HTLC at that index in a settled channel');
        if (rec.htlcDone[a.index]) rule('that HTLC is already resolved');
        if (now(ctx) <= h.expiry) rule(`HTLC ${a.index} expires at block ${h.expiry}`, { expiry: h.expiry });
        if (preimageOk(ctx, h)) rule(`HTLC ${a.index} was claimable with a preimage revealed in time; it goes to the receiver`);
        pay(ctx, h.offerer === 0 ? rec.payA : rec.payB, h.amount);
        rec.htlcDone[a.index] = true;
        save(ctx, a.channelId, rec);
        ctx.emit('htlcRefunded', { channelId: toHex(a.channelId), index: a.index, amount: h.amount.toString() });
      },
      swapLock(ctx, args) {
        const a = decode(SwapLockArgs, args);
        if (ctx.view.get(keys.swap(a.swapId))) rule('swap id already used');
        if (a.amount <= 0n) rule('swap amount must be positive');
        if (a.expiry <= now(ctx)) rule('swap expiry must be in the future');
        transfer(ctx.view, ctx.sender, vault, a.amount);
        ctx.view.put(keys.swap(a.swapId), encode(SwapRecordCodec, { sender: ctx.sender, receiver: a.receiver, amount: a.amount, hash: a.hash, expiry: a.expiry, status: 0 }));
        ctx.emit('swapLocked', { swapId: toHex(a.swapId), hash: toHex(a.hash), amount: a.amount.toString(), expiry: a.expiry });
      },
      swapClaim(ctx, args) {
        const a = decode(SwapClaimArgs, args);
        const s = readSwap(ctx.view, a.swapId, name);
        if (!s || s.status !== 0) rule('no locked swap with that id');
        if (now(ctx) > s.expiry) rule(`swap expired at block ${s.expiry}`);
        const h = sha256(a.preimage);
        if (!bytesEqual(h, s.hash)) rule('preimage does not match the swap hash');
        if (!ctx.view.get(keys.preimage(h))) ctx.view.put(keys.preimage(h), encode(PreimageRecordCodec, { preimage: a.preimage, height: now(ctx) }));
        pay(ctx, s.receiver, s.amount);
        ctx.view.put(keys.swap(a.swapId), encode(SwapRecordCodec, { ...s, status: 1 }));
        ctx.emit('swapClaimed', { swapId: toHex(a.swapId), preimage: toHex(a.preimage) });
      },
      swapRefund(ctx, args) {
        const a = decode(SwapRefArgs, args);
        const s = readSwap(ctx.view, a.swapId, name);
        if (!s || s.status !== 0) rule('no locked swap with that id');
        if (now(ctx) <= s.expiry) rule(`swap expires at block ${s.expiry}`, { expiry: s.expiry });
        pay(ctx, s.sender, s.amount);
        ctx.view.put(keys.swap(a.swapId), encode(SwapRecordCodec, { ...s, status: 2 }));
        ctx.emit('swapRefunded', { swapId: toHex(a.swapId) });
      },
    },
  };
  return [mod];
}

/** Compute limit that covers any adjudicator call (signature checks dominate). */
export const ADJUDICATOR_COMPUTE = 20_000;
