/**
 * The sidechain half of the bridge: the `sc_bridge` runtime module every sidechain runs.
 * `mint` credits an L1 deposit (only the block's producer may call it, deposit ids are
 * consumed in order, and validators prevote a block only if each mint matches a deposit that
 * is final on the L1); `withdraw` burns coins and records a withdrawal under a state key the
 * L1 later checks with a Merkle proof against a checkpointed state root.
 */
import { bigintToFixed, bytesEqual, decode, encode, fixedBytes, StrataError, struct, toHex, uint, uintBig, type Codec } from '@strata/primitives';
import { BLS_PUBKEY_LENGTH, ED_PUBKEY_LENGTH } from './crypto.js';
import { applySetChange, type SetChange, type Validator } from './validator-set.js';
import { burn, mint, type Module } from '@strata/runtime';
import { stateKey, type StateView } from '@strata/state';

/** Module name on the sidechain. */
export const SC_BRIDGE_MODULE = 'sc_bridge';

/** A withdrawal recorded on the sidechain (the value the L1's Merkle proof must show). */
export interface WithdrawalRecord {
  id: number;
  l1Recipient: Uint8Array;
  amount: bigint;
}

export const WithdrawalRecordCodec: Codec<WithdrawalRecord> = struct('ScWithdrawal', { id: uint, l1Recipient: fixedBytes(20), amount: uintBig(128) });

/** `sc_bridge.mint` */
export const MintArgs = struct('ScMintArgs', { depositId: uint, to: fixedBytes(20), amount: uintBig(128) });
/** `sc_bridge.withdraw` */
export const ScWithdrawArgs = struct('ScWithdrawArgs', { l1Recipient: fixedBytes(20), amount: uintBig(128) });

/** `sc_bridge.setChange`: parent set change `changeId`, included once final on the parent. */
export const SetChangeArgs = struct('ScSetChangeArgs', {
  changeId: uint,
  kind: uint,
  edPub: fixedBytes(ED_PUBKEY_LENGTH),
  blsPub: fixedBytes(BLS_PUBKEY_LENGTH),
  producer: fixedBytes(20),
  amount: uintBig(128),
});

/** A set change as the sidechain records it: the change and the sidechain height that included it. */
export interface IncludedSetChange extends SetChange {
  height: number;
}
const IncludedSetChangeCodec: Codec<IncludedSetChange> = struct('ScIncludedSetChange', {
  kind: uint,
  edPub: fixedBytes(ED_PUBKEY_LENGTH),
  blsPub: fixedBytes(BLS_PUBKEY_LENGTH),
  producer: fixedBytes(20),
  amount: uintBig(128),
  height: uint,
});

const u64 = (n: number) => bigintToFixed(BigInt(n), 8);

/**
 * Sidechain state key of the number of parent set changes included so far. A checkpoint
 * proves it against the checkpointed state root, so the parent applies exactly the changes
 * the sidechain included up to that block.
 */
export const SET_CHANGES_KEY = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('setChanges'));
const setChangeKey = (id: number) => stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('c'), u64(id));

/** Number of parent set changes included in a sidechain state. */
export function setChangeCount(v: Pick<StateView, 'get'>): number {
  return readNum(v, SET_CHANGES_KEY);
}

/** Included set change `id`. */
export function readSetChange(v: Pick<StateView, 'get'>, id: number): IncludedSetChange | undefined {
  const raw = v.get(setChangeKey(id));
  return raw ? decode(IncludedSetChangeCodec, raw) : undefined;
}

/** Sidechain state key of withdrawal `id` (proven on the L1). */
export function withdrawalKey(id: number): Uint8Array {
  return stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('w'), u64(id));
}

const NEXT_DEPOSIT = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('nextDeposit'));
const NEXT_WITHDRAWAL = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('nextWithdrawal'));
const MINTED = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('minted'));
const BURNED = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('burned'));

/**
 * The validator set of every sidechain height after `boundary` (a checkpoint height) up to the
 * next checkpoint: the genesis set with every parent set change included at a height ≤
 * `boundary` applied in order. `v` is any sidechain state at or after `boundary` (change
 * records never change once written). The parent applies the same changes when it accepts the
 * checkpoint at `boundary`.
 */
export function deriveValidators(genesis: readonly Validator[], v: Pick<StateView, 'get'>, boundary: number): Validator[] {
  let set = genesis.map((x) => ({ ...x }));
  const n = setChangeCount(v);
  for (let id = 0; id < n; id++) {
    const c = readSetChange(v, id) as IncludedSetChange;
    if (c.height > boundary) break;
    set = applySetChange(set, c, (x) => ({ edPub: x.edPub, blsPub: x.blsPub, producer: x.producer, power: x.amount })).set;
  }
  return set;
}

function readNum(v: Pick<StateView, 'get'>, k: Uint8Array): number {
  const raw = v.get(k);
  return raw ? decode(uint, raw) : 0;
}
function readBig(v: Pick<StateView, 'get'>, k: Uint8Array): bigint {
  const raw = v.get(k);
  return raw ? decode(uintBig(256), raw) : 0n;
}

/** The bridge counters of a sidechain state (for conservation checks and RPC). */
export function bridgeTotals(v: Pick<StateView, 'get'>): { nextDeposit: number; nextWithdrawal: number; minted: bigint; burned: bigint } {
  return { nextDeposit: readNum(v, NEXT_DEPOSIT), nextWithdrawal: readNum(v, NEXT_WITHDRAWAL), minted: readBig(v, MINTED), burned: readBig(v, BURNED) };
}

/** Reads a withdrawal record. */
export function readWithdrawal(v: Pick<StateView, 'get'>, id: number): WithdrawalRecord | undefined {
  const raw = v.get(withdrawalKey(id));
  return raw ? decode(WithdrawalRecordCodec, raw) : undefined;
}

/** The `sc_bridge` module. */
export const sidechainBridgeModule: Module = {
  name: SC_BRIDGE_MODULE,
  methods: {
    mint(ctx, args) {
      const a = decode(MintArgs, args);
      if (!bytesEqual(ctx.sender, ctx.block.producer)) throw new StrataError('SC_BRIDGE', 'only the block producer may mint deposits');
      const next = readNum(ctx.view, NEXT_DEPOSIT);
      if (a.depositId !== next) throw new StrataError('SC_BRIDGE', `deposit ${a.depositId} is out of order: next is ${next}`, { expected: next });
      if (a.amount <= 0n) throw new StrataError('SC_BRIDGE', 'deposit amount must be positive');
      mint(ctx.view, a.to, a.amount);
      ctx.view.put(NEXT_DEPOSIT, encode(uint, next + 1));
      ctx.view.put(MINTED, encode(uintBig(256), readBig(ctx.view, MINTED) + a.amount));
      ctx.emit('minted', { depositId: a.depositId, to: toHex(a.to), amount: a.amount.toString() });
    },
    setChange(ctx, args) {
      const a = decode(SetChangeArgs, args);
      if (!bytesEqual(ctx.sender, ctx.block.producer)) throw new StrataError('SC_BRIDGE', 'only the block producer may include validator-set changes');
      const next = readNum(ctx.view, SET_CHANGES_KEY);
      if (a.changeId !== next) throw new StrataError('SC_BRIDGE', `set change ${a.changeId} is out of order: next is ${next}`, { expected: next });
      const rec: IncludedSetChange = { kind: a.kind, edPub: a.edPub, blsPub: a.blsPub, producer: a.producer, amount: a.amount, height: ctx.block.height };
      ctx.view.put(setChangeKey(next), encode(IncludedSetChangeCodec, rec));
      ctx.view.put(SET_CHANGES_KEY, encode(uint, next + 1));
      ctx.emit('setChangeIncluded', { changeId: next, kind: a.kind, edPub: toHex(a.edPub), amount: a.amount.toString(), height: ctx.block.height });
    },
    withdraw(ctx, args) {
      const a = decode(ScWithdrawArgs, args);
      if (a.amount <= 0n) throw new StrataError('SC_BRIDGE', 'withdrawal amount must be positive');
      burn(ctx.view, ctx.sender, a.amount);
      const id = readNum(ctx.view, NEXT_WITHDRAWAL);
      ctx.view.put(withdrawalKey(id), encode(WithdrawalRecordCodec, { id, l1Recipient: a.l1Recipient, amount: a.amount }));
      ctx.view.put(NEXT_WITHDRAWAL, encode(uint, id + 1));
      ctx.view.put(BURNED, encode(uintBig(256), readBig(ctx.view, BURNED) + a.amount));
      ctx.emit('withdrawal', { id, l1Recipient: toHex(a.l1Recipient), amount: a.amount.toString() });
    },
  },
};
