/**
 * The sidechain half of the bridge: the `sc_bridge` runtime module every sidechain runs.
 * `mint` credits an L1 deposit (only the block's producer may call it, deposit ids are
 * consumed in order, and validators prevote a block only if each mint matches a deposit that
 * is final on the L1); `withdraw` burns coins and records a withdrawal under a state key the
 * L1 later checks with a Merkle proof against a checkpointed state root.
 */
import { bigintToFixed, bytesEqual, decode, encode, fixedBytes, StrataError, struct, toHex, uint, uintBig, type Codec } from '@strata/primitives';
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

const u64 = (n: number) => bigintToFixed(BigInt(n), 8);

/** Sidechain state key of withdrawal `id` (proven on the L1). */
export function withdrawalKey(id: number): Uint8Array {
  return stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('w'), u64(id));
}

const NEXT_DEPOSIT = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('nextDeposit'));
const NEXT_WITHDRAWAL = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('nextWithdrawal'));
const MINTED = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('minted'));
const BURNED = stateKey(SC_BRIDGE_MODULE, new TextEncoder().encode('burned'));

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
