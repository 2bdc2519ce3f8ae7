/**
 * The rollup's settlement modules in its parent chain's runtime: `op_bridge` (escrow, deposits,
 * withdrawal proofs and finalization), `op_inbox` (batches as data, the forced-inclusion queue)
 * and `op_disputes` (bonded output roots, bisection games, the one-step fraud proof that
 * re-executes one L2 operation with the L2's own `applyL2Op` over a Merkle witness).
 */
import { verifyMerkleProof } from '@strata/chain';
import {
  bigintToFixed,
  bool,
  bytesEqual,
  decode,
  encode,
  fixedBytes,
  list,
  StrataError,
  str,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';
import { burn, checkChildChainId, descendantChainIds, moduleAddress, transfer, type BlockContext, type Module, type TxContext } from '@strata/runtime';
import {
  EMPTY_ROOT,
  OverlayView,
  SparseMerkleTree,
  stateKey,
  TreeReader,
  verifyProof,
  WitnessNodeReader,
  type StateReader,
  type StateView,
} from '@strata/state';
import { carriesL1Origin, checkRollupConfig, type RollupConfig } from './config.js';
import {
  appendBatch,
  appendDelayed,
  BatchRecordCodec,
  decodeMeta,
  DelayedCodec,
  encodeMeta,
  forceInclusion,
  type BatchRecord,
  type InboxMeta,
  type InboxStore,
} from './inbox-core.js';
import { DECOMPRESS_WORD_COMPUTE, encodeOp, opHash, opLeaf } from './ops.js';
import { applyL2Op, makeL2Env, TokenWithdrawalCodec, tokenWithdrawalKey, WithdrawalCodec, withdrawalKey, type L2Env } from './stf.js';
import { requireToken, transferToken } from '@strata/apps';

/** Base names of the three settlement modules; one instance per rollup is `<base>/<rollupId>`. */
export const MODULE_BASE = { bridge: 'op_bridge', inbox: 'op_inbox', disputes: 'op_disputes' } as const;
const BRIDGE_MODULE = MODULE_BASE.bridge;
const INBOX_MODULE = MODULE_BASE.inbox;
const DISPUTES_MODULE = MODULE_BASE.disputes;

/** The module names of one rollup's instance on its parent chain. */
export interface RollupModuleNames {
  bridge: string;
  inbox: string;
  disputes: string;
}

/** Module names of rollup `rollupId` (its chain id): `op_bridge/<id>`, `op_inbox/<id>`, `op_disputes/<id>`. */
export function rollupModuleNames(rollupId: number): RollupModuleNames {
  return { bridge: `${BRIDGE_MODULE}/${rollupId}`, inbox: `${INBOX_MODULE}/${rollupId}`, disputes: `${DISPUTES_MODULE}/${rollupId}` };
}

const u64 = (n: number) => bigintToFixed(BigInt(n), 8);

/** Escrow account of a rollup's bridge. */
export function escrowAddress(rollupId: number): Uint8Array {
  return moduleAddress(`${BRIDGE_MODULE}/${rollupId}`);
}

/** Account holding a rollup's proposer and challenger bonds. */
export function bondAddress(rollupId: number): Uint8Array {
  return moduleAddress(`${DISPUTES_MODULE}/${rollupId}`);
}

// ---------------------------------------------------------------- argument codecs

/** `op_bridge.deposit` */
export const DepositArgs = struct('DepositArgs', { rollupId: uint, to: fixedBytes(20), amount: uintBig(128) });
/**
 * `op_bridge.depositToken`: escrows `amount` of the parent's token `token`; the child mints its
 * wrapped form. The token's identity (origin chain, origin id, symbol, decimals) is named in the
 * arguments so the child's derivation reads it from the transaction alone; the bridge refuses
 * arguments that differ from the parent's record.
 */
export const DepositTokenArgs = struct('DepositTokenArgs', {
  rollupId: uint,
  to: fixedBytes(20),
  token: fixedBytes(32),
  originChainId: uint,
  originId: fixedBytes(32),
  symbol: str(12),
  decimals: uint,
  amount: uintBig(128),
});
/** Decoded `op_bridge.depositToken` arguments. */
export type DepositTokenArgsT = typeof DepositTokenArgs extends Codec<infer T> ? T : never;
/** `op_bridge.proveTokenWithdrawal` */
export const ProveTokenWithdrawalArgs = struct('ProveTokenWithdrawalArgs', {
  rollupId: uint,
  outputIndex: uint,
  withdrawal: TokenWithdrawalCodec,
  proof: list(varBytes(4096), 300),
});
/** `op_bridge.proveWithdrawal` */
export const ProveWithdrawalArgs = struct('ProveWithdrawalArgs', {
  rollupId: uint,
  outputIndex: uint,
  withdrawal: WithdrawalCodec,
  proof: list(varBytes(4096), 300),
});
/** `op_bridge.finalizeWithdrawal` */
export const FinalizeWithdrawalArgs = struct('FinalizeWithdrawalArgs', { rollupId: uint, id: uint });
/** `op_inbox.postBatch` */
export const PostBatchArgsCodec = struct('PostBatchArgs', { rollupId: uint, firstBlock: uint, data: varBytes(1 << 20) });
/** `op_inbox.forceTx` */
export const ForceTxArgs = struct('ForceTxArgs', { rollupId: uint, raw: varBytes(128 * 1024) });
/** `op_inbox.includeForced`: applies the sequencing window now (a parent without end-of-block hooks). */
export const IncludeForcedArgs = struct('IncludeForcedArgs', { rollupId: uint });
/** `op_disputes.propose` */
export const ProposeArgs = struct('ProposeArgs', { rollupId: uint, batchIndex: uint, stateRoot: fixedBytes(32) });
/** `op_disputes.challenge` */
export const ChallengeArgs = struct('ChallengeArgs', { rollupId: uint, outputIndex: uint });
/**
 * `op_disputes.defend`: the defender posts the state root at the midpoint. The output's proposer
 * defends first; once a defender lost, any party may take the empty slot with a bond.
 */
export const DefendArgs = struct('DefendArgs', { rollupId: uint, gameId: uint, root: fixedBytes(32) });
/** `op_disputes.bisect`: the challenger agrees or disagrees with the midpoint root. */
export const BisectArgs = struct('BisectArgs', { rollupId: uint, gameId: uint, agree: bool });
/** `op_disputes.step`: the one-step proof. */
export const StepArgs = struct('StepArgs', {
  rollupId: uint,
  gameId: uint,
  batchIndex: uint,
  blockNumber: uint,
  timestamp: uint,
  op: varBytes(128 * 1024),
  /** Sibling hashes from the leaf up, exactly as many as `(index, count)` dictates. */
  siblings: list(fixedBytes(32), 64),
  witness: list(varBytes(4096), 20_000),
});
/** `op_disputes.timeout` and `op_disputes.reclaimBond` */
export const GameRefArgs = struct('GameRefArgs', { rollupId: uint, gameId: uint });
export const OutputRefArgs = struct('OutputRefArgs', { rollupId: uint, outputIndex: uint });

// ---------------------------------------------------------------- records

/** Output status. */
export const OUTPUT_PENDING = 0;
export const OUTPUT_DISCARDED = 1;
export const OUTPUT_BOND_RECLAIMED = 2;

/** An output root on L1. */
export interface OutputRecord {
  batchIndex: number;
  l2Block: number;
  /** Operations executed up to and including this output's last block. */
  opEnd: number;
  stateRoot: Uint8Array;
  proposer: Uint8Array;
  l1Height: number;
  /** Parent output index + 1 (0: the genesis anchor). */
  parent: number;
  status: number;
  openGames: number;
  bond: bigint;
  /** Games ever opened against this output (each costs twice the one before). */
  games: number;
}

/** Codec of an output root record (state and RPC wire form). */
export const OutputCodec: Codec<OutputRecord> = struct('Output', {
  batchIndex: uint,
  l2Block: uint,
  opEnd: uint,
  stateRoot: fixedBytes(32),
  proposer: fixedBytes(20),
  l1Height: uint,
  parent: uint,
  status: uint,
  openGames: uint,
  bond: uintBig(128),
  games: uint,
});

/**
 * Output bookkeeping: count, the last live output (index + 1; 0 = genesis anchor), and the
 * finality cursor: every output below `finalCursor` is discarded or final for good.
 */
export interface OutputsMeta {
  count: number;
  lastLive: number;
  gameCount: number;
  finalCursor: number;
}
/** Codec of the output bookkeeping (state and RPC wire form). */
export const OutputsMetaCodec: Codec<OutputsMeta> = struct('OutputsMeta', { count: uint, lastLive: uint, gameCount: uint, finalCursor: uint });

/** Game status. */
export const GAME_OPEN = 0;
export const GAME_CHALLENGER_WON = 1;
/** The defender (the proposer, or whoever took over its defence) won. */
export const GAME_PROPOSER_WON = 2;
export const GAME_VOID = 3;
/** Whose move it is. */
export const TURN_PROPOSER = 0;
export const TURN_CHALLENGER = 1;

/**
 * A bisection game over operation indices (lo, hi]: both agree on rootLo, disagree on rootHi.
 * `proposer` is the current defender: the output's proposer at first; when a defender loses,
 * its bond goes to the challenger, the game restarts over the whole output and the slot is
 * empty (zero address) until any party takes it with `defenderBond`. The challenger wins for
 * good only when the slot stays empty for a whole clock.
 */
export interface GameRecord {
  outputIndex: number;
  challenger: Uint8Array;
  proposer: Uint8Array;
  bond: bigint;
  /** Bond the current defender locked (0 for the output's proposer, whose output bond stands). */
  defenderBond: bigint;
  /** Defenders beaten so far (the next takes the slot with proposerBond × 2^defenses). */
  defenses: number;
  /** What the resolution paid the winner and burned (0 while open). */
  payout: bigint;
  burned: bigint;
  lo: number;
  hi: number;
  rootLo: Uint8Array;
  rootHi: Uint8Array;
  midRoot: Uint8Array;
  turn: number;
  proposerClock: number;
  challengerClock: number;
  lastMove: number;
  moves: number;
  status: number;
}
/** Codec of a dispute game record (state and RPC wire form). */
export const GameCodec: Codec<GameRecord> = struct('Game', {
  outputIndex: uint,
  challenger: fixedBytes(20),
  proposer: fixedBytes(20),
  bond: uintBig(128),
  defenderBond: uintBig(128),
  defenses: uint,
  payout: uintBig(128),
  burned: uintBig(128),
  lo: uint,
  hi: uint,
  rootLo: fixedBytes(32),
  rootHi: fixedBytes(32),
  midRoot: fixedBytes(32),
  turn: uint,
  proposerClock: uint,
  challengerClock: uint,
  lastMove: uint,
  moves: uint,
  status: uint,
});

const ProvenCodec = struct('ProvenWithdrawal', { outputIndex: uint, l1Height: uint });

// ---------------------------------------------------------------- state access

type Reader = Pick<StateView, 'get'>;
const k = (mod: string, rollupId: number, tag: string, n?: number) =>
  n === undefined ? stateKey(mod, u64(rollupId), utf8(tag)) : stateKey(mod, u64(rollupId), utf8(tag), u64(n));

/** The inbox rule's storage over L1 state. */
export class StateInboxStore implements InboxStore {
  constructor(
    private readonly view: StateView,
    private readonly rollupId: number,
  ) {}
  meta(): InboxMeta {
    return decodeMeta(this.view.get(k(INBOX_MODULE, this.rollupId, 'meta')));
  }
  setMeta(m: InboxMeta): void {
    this.view.put(k(INBOX_MODULE, this.rollupId, 'meta'), encodeMeta(m));
  }
  delayed(i: number) {
    const raw = this.view.get(k(INBOX_MODULE, this.rollupId, 'delayed', i));
    return raw ? decode(DelayedCodec, raw) : undefined;
  }
  setDelayed(i: number, r: { l1Height: number; opHash: Uint8Array }): void {
    this.view.put(k(INBOX_MODULE, this.rollupId, 'delayed', i), encode(DelayedCodec, r));
  }
  batch(b: number): BatchRecord | undefined {
    const raw = this.view.get(k(INBOX_MODULE, this.rollupId, 'batch', b));
    return raw ? decode(BatchRecordCodec, raw) : undefined;
  }
  setBatch(b: number, r: BatchRecord): void {
    this.view.put(k(INBOX_MODULE, this.rollupId, 'batch', b), encode(BatchRecordCodec, r));
  }
}

const readOnly = (r: Reader): StateView => ({
  get: (key) => r.get(key),
  put: () => {
    throw new StrataError('INTERNAL', 'read-only view');
  },
  del: () => {
    throw new StrataError('INTERNAL', 'read-only view');
  },
});

/** Reads a rollup's inbox counters from L1 state. */
export function readInboxMeta(r: Reader, rollupId: number): InboxMeta {
  return new StateInboxStore(readOnly(r), rollupId).meta();
}

/** Reads a batch record from L1 state. */
export function readBatch(r: Reader, rollupId: number, b: number): BatchRecord | undefined {
  return new StateInboxStore(readOnly(r), rollupId).batch(b);
}

/** Reads output bookkeeping. */
export function readOutputsMeta(r: Reader, rollupId: number): OutputsMeta {
  const raw = r.get(k(DISPUTES_MODULE, rollupId, 'meta'));
  return raw ? decode(OutputsMetaCodec, raw) : { count: 0, lastLive: 0, gameCount: 0, finalCursor: 0 };
}
function writeOutputsMeta(v: StateView, rollupId: number, m: OutputsMeta): void {
  v.put(k(DISPUTES_MODULE, rollupId, 'meta'), encode(OutputsMetaCodec, m));
}

/** Reads one output. */
export function readOutput(r: Reader, rollupId: number, i: number): OutputRecord | undefined {
  const raw = r.get(k(DISPUTES_MODULE, rollupId, 'output', i));
  return raw ? decode(OutputCodec, raw) : undefined;
}
function writeOutput(v: StateView, rollupId: number, i: number, o: OutputRecord): void {
  v.put(k(DISPUTES_MODULE, rollupId, 'output', i), encode(OutputCodec, o));
}

/** Reads one game. */
export function readGame(r: Reader, rollupId: number, g: number): GameRecord | undefined {
  const raw = r.get(k(DISPUTES_MODULE, rollupId, 'game', g));
  return raw ? decode(GameCodec, raw) : undefined;
}
function writeGame(v: StateView, rollupId: number, g: number, rec: GameRecord): void {
  v.put(k(DISPUTES_MODULE, rollupId, 'game', g), encode(GameCodec, rec));
}

/** Where a withdrawal stands on L1. */
export interface WithdrawalL1State {
  proven?: { outputIndex: number; l1Height: number };
  finalized: boolean;
}

/** Reads a token withdrawal's state on the parent. */
export function readTokenWithdrawalState(r: Reader, rollupId: number, id: number): WithdrawalL1State {
  const p = r.get(k(BRIDGE_MODULE, rollupId, 'tproven', id));
  const f = r.get(k(BRIDGE_MODULE, rollupId, 'tfinal', id));
  const out: WithdrawalL1State = { finalized: !!f };
  if (p) out.proven = decode(ProvenCodec, p);
  return out;
}

/** Reads a withdrawal's L1 state. */
export function readWithdrawalState(r: Reader, rollupId: number, id: number): WithdrawalL1State {
  const p = r.get(k(BRIDGE_MODULE, rollupId, 'proven', id));
  const f = r.get(k(BRIDGE_MODULE, rollupId, 'final', id));
  const out: WithdrawalL1State = { finalized: !!f };
  if (p) out.proven = decode(ProvenCodec, p);
  return out;
}

/** The agreed starting point of an output: its parent's (or the genesis anchor's) root and op count. */
export function outputAnchor(r: Reader, rollupId: number, out: OutputRecord): { root: Uint8Array; opEnd: number; l2Block: number } {
  if (out.parent === 0) return { root: EMPTY_ROOT, opEnd: 0, l2Block: 0 };
  const p = readOutput(r, rollupId, out.parent - 1) as OutputRecord;
  return { root: p.stateRoot, opEnd: p.opEnd, l2Block: p.l2Block };
}

/** Whether output `o` on its own is past its window with no open game (its ancestry aside). */
function ownFinal(o: OutputRecord, height: number, window: number): boolean {
  return o.status !== OUTPUT_DISCARDED && o.openGames === 0 && height >= o.l1Height + window;
}

/**
 * Moves the finality cursor over at most `maxSteps` outputs. Live outputs form one chain in index
 * order (a discard removes an output and every later one), so output j is final for good once
 * every output below it is discarded or final and j itself is past its window with no open game:
 * no game can open against it or an ancestor any more. Returns the new cursor.
 */
export function advanceFinality(view: StateView, rollupId: number, height: number, window: number, maxSteps: number): number {
  const meta = readOutputsMeta(view, rollupId);
  let c = meta.finalCursor;
  for (let n = 0; n < maxSteps && c < meta.count; n++) {
    const o = readOutput(view, rollupId, c) as OutputRecord;
    if (o.status !== OUTPUT_DISCARDED && !ownFinal(o, height, window)) break;
    c++;
  }
  if (c !== meta.finalCursor) writeOutputsMeta(view, rollupId, { ...meta, finalCursor: c });
  return c;
}

/**
 * Whether withdrawals may finalize against output `i` at L1 height `height`: not discarded and
 * below the finality cursor — O(1). Read-only callers (RPC, CLI) also count the outputs the
 * cursor would pass now, looking at most `lookahead` outputs past it.
 */
export function isOutputFinal(r: Reader, rollupId: number, i: number, height: number, window: number, lookahead = 64): boolean {
  const o = readOutput(r, rollupId, i);
  if (!o || o.status === OUTPUT_DISCARDED) return false;
  const meta = readOutputsMeta(r, rollupId);
  if (i < meta.finalCursor) return true;
  if (i - meta.finalCursor >= lookahead) return false;
  for (let j = meta.finalCursor; j <= i; j++) {
    const x = readOutput(r, rollupId, j) as OutputRecord;
    if (x.status !== OUTPUT_DISCARDED && !ownFinal(x, height, window)) return false;
  }
  return true;
}

/** Outputs the cursor may pass per L1 block (end-of-block hook) and per finalizing call. */
export const FINALITY_STEPS_PER_BLOCK = 32;
export const FINALITY_STEPS_PER_CALL = 16;

// ---------------------------------------------------------------- the modules

function checkRollup(cfg: RollupConfig, id: number): void {
  if (id !== cfg.rollupId) throw new StrataError('L2_BRIDGE', `this chain settles rollup ${cfg.rollupId}, not ${id}`, { rollupId: id });
}

function dispute(msg: string, meta: Record<string, unknown> = {}): never {
  throw new StrataError('L2_DISPUTE', msg, meta);
}

const ZERO_ADDRESS = new Uint8Array(20);
/**
 * Bonds double per repeat, up to 2^MAX_BOND_DOUBLINGS times the base. The cap is low on
 * purpose: the count grows with every game anyone opens, so a dishonest proposer can challenge
 * its own wrong root and lose on purpose (getting 80 % of each bond back as the defender) to
 * raise the price an honest challenger must lock. With a cap of 16× that price is bounded, while
 * every game past the fourth still costs its opener 16 base bonds if it loses (griefing stays
 * paid for, linearly). One game tree per output with per-depth bonds (OP's FDG) would remove the
 * trade-off.
 */
const MAX_BOND_DOUBLINGS = 4;

/** Whether a game's defender slot is empty (a defender lost and no one took over yet). */
export function defenderSlotEmpty(g: GameRecord): boolean {
  return bytesEqual(g.proposer, ZERO_ADDRESS);
}

/** Bond a challenger locks to open the next game against `out` (doubles with every game). */
export function challengeBond(cfg: RollupConfig, out: Pick<OutputRecord, 'games'>): bigint {
  return cfg.challengerBond << BigInt(Math.min(out.games, MAX_BOND_DOUBLINGS));
}

/** Bond a party locks to take over the defence of game `g` (doubles with every beaten defender). */
export function takeoverBond(cfg: RollupConfig, g: Pick<GameRecord, 'defenses'>): bigint {
  return cfg.proposerBond << BigInt(Math.min(g.defenses, MAX_BOND_DOUBLINGS));
}

/** The clock limit of the player to move: `takeoverBlocks` for an empty defender slot, else `clockBlocks`. */
export function clockLimit(cfg: RollupConfig, g: GameRecord): number {
  return defenderSlotEmpty(g) ? cfg.takeoverBlocks : cfg.clockBlocks;
}

/** Clock time the player to move has used, counting the blocks since the last move. */
export function moverClock(g: GameRecord, height: number): number {
  return (g.turn === TURN_PROPOSER ? g.proposerClock : g.challengerClock) + (height - g.lastMove);
}

/** Discards output `i` and every output after it; the next proposal builds on its parent. */
function discardFrom(view: StateView, cfg: RollupConfig, i: number): number[] {
  const meta = readOutputsMeta(view, cfg.rollupId);
  const first = readOutput(view, cfg.rollupId, i) as OutputRecord;
  const discarded: number[] = [];
  for (let j = i; j < meta.count; j++) {
    const o = readOutput(view, cfg.rollupId, j) as OutputRecord;
    if (o.status === OUTPUT_DISCARDED) continue;
    if (j !== i && o.status === OUTPUT_PENDING && o.bond > 0n) {
      // Built on a discarded root but not itself proven wrong: its bond is returned.
      transfer(view, bondAddress(cfg.rollupId), o.proposer, o.bond);
    }
    writeOutput(view, cfg.rollupId, j, { ...o, status: OUTPUT_DISCARDED, bond: 0n });
    discarded.push(j);
  }
  writeOutputsMeta(view, cfg.rollupId, { ...meta, lastLive: first.parent });
  return discarded;
}

type Ctx = { view: StateView; block: { height: number }; emit: (t: string, d: Record<string, string | number | boolean>) => void };

/** Pays `amount` minus the burned share to `to`; returns what was paid and burned. */
function payLoserBond(view: StateView, cfg: RollupConfig, to: Uint8Array, amount: bigint): { paid: bigint; burned: bigint } {
  const burned = (amount * BigInt(cfg.bondBurnBps)) / 10_000n;
  const paid = amount - burned;
  const pool = bondAddress(cfg.rollupId);
  if (paid > 0n) transfer(view, pool, to, paid);
  if (burned > 0n) burn(view, pool, burned);
  return { paid, burned };
}

/** The base of a game over output `out`: its whole range, as when it opened. */
function gameBase(view: Reader, cfg: RollupConfig, out: OutputRecord): Pick<GameRecord, 'lo' | 'hi' | 'rootLo' | 'rootHi' | 'turn'> {
  const anchor = outputAnchor(view, cfg.rollupId, out);
  return { lo: anchor.opEnd, hi: out.opEnd, rootLo: anchor.root, rootHi: out.stateRoot, turn: out.opEnd - anchor.opEnd > 1 ? TURN_PROPOSER : TURN_CHALLENGER };
}

/** Ends a game: the output is no longer disputed by it. */
function closeGame(ctx: Ctx, cfg: RollupConfig, gameId: number, g: GameRecord, status: number): void {
  const out = readOutput(ctx.view, cfg.rollupId, g.outputIndex) as OutputRecord;
  writeGame(ctx.view, cfg.rollupId, gameId, { ...g, status });
  writeOutput(ctx.view, cfg.rollupId, g.outputIndex, { ...out, openGames: Math.max(0, out.openGames - 1) });
}

/** Returns the bonds still locked in a game whose output was discarded by something else. */
function voidIfDiscarded(ctx: Ctx, cfg: RollupConfig, gameId: number, g: GameRecord, reason: string): boolean {
  const out = readOutput(ctx.view, cfg.rollupId, g.outputIndex) as OutputRecord;
  if (out.status !== OUTPUT_DISCARDED) return false;
  const pool = bondAddress(cfg.rollupId);
  transfer(ctx.view, pool, g.challenger, g.bond);
  if (g.defenderBond > 0n && !defenderSlotEmpty(g)) transfer(ctx.view, pool, g.proposer, g.defenderBond);
  closeGame(ctx, cfg, gameId, { ...g, payout: 0n, burned: 0n }, GAME_VOID);
  ctx.emit('gameResolved', { gameId, outputIndex: g.outputIndex, winner: 'none', reason: `${reason}; output already discarded`, bondMoved: '0', burned: '0' });
  return true;
}

/** The challenger lost (one-step proof or its clock): its bond goes to the defender. */
function defenderWins(ctx: Ctx, cfg: RollupConfig, gameId: number, g: GameRecord, reason: string): void {
  if (voidIfDiscarded(ctx, cfg, gameId, g, reason)) return;
  const pool = bondAddress(cfg.rollupId);
  const { paid, burned } = payLoserBond(ctx.view, cfg, g.proposer, g.bond);
  if (g.defenderBond > 0n) transfer(ctx.view, pool, g.proposer, g.defenderBond); // a takeover's own bond back
  closeGame(ctx, cfg, gameId, { ...g, payout: paid, burned }, GAME_PROPOSER_WON);
  ctx.emit('gameResolved', { gameId, outputIndex: g.outputIndex, winner: 'defender', defender: toHex(g.proposer), reason, bondMoved: paid.toString(), burned: burned.toString() });
}

/**
 * The defender lost (one-step proof or its clock). Its bond goes to the challenger; when it was
 * the output's proposer, the output's bond does. The root is not discarded yet: a wrong midpoint
 * proves the defender wrong, not the root. The game restarts over the whole output with the
 * slot empty; when no one takes it within a clock (or the slot was already empty), the
 * challenger wins and the root and every later one are discarded.
 */
function defenderLoses(ctx: Ctx, cfg: RollupConfig, gameId: number, g: GameRecord, reason: string): void {
  if (voidIfDiscarded(ctx, cfg, gameId, g, reason)) return;
  const out = readOutput(ctx.view, cfg.rollupId, g.outputIndex) as OutputRecord;
  if (defenderSlotEmpty(g)) {
    // No one defended the root within a clock: the challenger wins for good.
    transfer(ctx.view, bondAddress(cfg.rollupId), g.challenger, g.bond);
    const discarded = discardFrom(ctx.view, cfg, g.outputIndex);
    closeGame(ctx, cfg, gameId, { ...g, payout: g.payout, burned: g.burned }, GAME_CHALLENGER_WON);
    ctx.emit('gameResolved', {
      gameId,
      outputIndex: g.outputIndex,
      winner: 'challenger',
      challenger: toHex(g.challenger),
      reason,
      bondMoved: g.payout.toString(),
      burned: g.burned.toString(),
      discarded: discarded.join(','),
    });
    return;
  }
  const isProposer = g.defenderBond === 0n;
  const lost = isProposer ? out.bond : g.defenderBond;
  const { paid, burned } = payLoserBond(ctx.view, cfg, g.challenger, lost);
  if (isProposer) writeOutput(ctx.view, cfg.rollupId, g.outputIndex, { ...out, bond: 0n });
  const base = gameBase(ctx.view, cfg, out);
  const next: GameRecord = {
    ...g,
    ...base,
    proposer: ZERO_ADDRESS,
    defenderBond: 0n,
    defenses: g.defenses + 1,
    payout: g.payout + paid,
    burned: g.burned + burned,
    midRoot: new Uint8Array(32),
    turn: TURN_PROPOSER,
    proposerClock: 0,
    challengerClock: 0,
    lastMove: ctx.block.height,
  };
  writeGame(ctx.view, cfg.rollupId, gameId, next);
  ctx.emit('defenderLost', { gameId, outputIndex: g.outputIndex, defender: toHex(g.proposer), reason, bondMoved: paid.toString(), burned: burned.toString(), nextBond: takeoverBond(cfg, next).toString() });
  if (base.hi === base.lo) defenderLoses(ctx, cfg, gameId, next, `${reason}; an empty range has nothing to defend`);
}

function openGame(ctx: TxContext, cfg: RollupConfig, gameId: number): GameRecord {
  const g = readGame(ctx.view, cfg.rollupId, gameId);
  if (!g) dispute(`no game ${gameId}`, { gameId });
  if (g.status !== GAME_OPEN) dispute(`game ${gameId} is already resolved`, { gameId });
  return g;
}

/**
 * Charges the mover's clock for the time since the last move (throws when it ran out: the game
 * is decided by `timeout`), then extends the next mover's clock so it always has at least
 * `clockExtensionBlocks` left: a move in a clock's last block never wins on time.
 */
function tick(ctx: TxContext, cfg: RollupConfig, g: GameRecord, nextTurn: number, limit = clockLimit(cfg, g)): GameRecord {
  if (moverClock(g, ctx.block.height) > limit) dispute('clock ran out: the game can only be resolved by timeout now');
  const spent = ctx.block.height - g.lastMove;
  const next = { ...g, lastMove: ctx.block.height, moves: g.moves + 1, turn: nextTurn };
  if (g.turn === TURN_PROPOSER) next.proposerClock = g.proposerClock + spent;
  else next.challengerClock = g.challengerClock + spent;
  const cap = Math.max(0, cfg.clockBlocks - cfg.clockExtensionBlocks);
  if (nextTurn === TURN_PROPOSER) next.proposerClock = Math.min(next.proposerClock, cap);
  else next.challengerClock = Math.min(next.challengerClock, cap);
  return next;
}

/** Verifies a witness-backed re-execution: any node the witness lacks aborts the step (never a silent no-op). */
export function executeStepOnWitness(env: L2Env, preRoot: Uint8Array, witness: Uint8Array[], block: { number: number; timestamp: number }, op: Uint8Array): Uint8Array {
  const reader = new WitnessNodeReader(witness);
  let missing = false;
  const tree = new TreeReader(reader, preRoot, 'WITNESS_INCOMPLETE');
  const base: StateReader = {
    get(key) {
      try {
        return tree.get(key);
      } catch (e) {
        missing = true;
        throw e;
      }
    },
  };
  const view = new OverlayView(base);
  applyL2Op(view, env, block, op);
  if (missing) dispute('the witness does not cover every state the operation reads');
  return new SparseMerkleTree(reader, 'WITNESS_INCOMPLETE').update(preRoot, view.changes()).root;
}

/** How the parent hosts the modules. */
export interface ParentModuleOptions {
  /**
   * The clock windows, game clocks and finality count in, read from the parent's state (default:
   * the parent's block height). An L2 hosting an L3 passes `l1OriginClock`: its own block height
   * is the L2 sequencer's to make at will, its L1 origin is not.
   */
  clock?: (view: Pick<StateView, 'get'>) => number;
}

/**
 * The settlement modules for one rollup, to add to the parent chain's runtime:
 * `runtime: [bankModule, ...parentModules(cfgA), ...parentModules(cfgB)]`. Their names carry the
 * rollup's chain id (`rollupModuleNames`), so any number of rollups fit on one parent; the
 * parent's registry refuses two with one chain id, and `Chain.open` one with the parent's id.
 */
export function parentModules(cfgIn: RollupConfig, opts: ParentModuleOptions = {}): Module[] {
  const cfg = checkRollupConfig(cfgIn);
  const clock = opts.clock;
  /** The context with `block.height` replaced by the settlement clock (identity on an L1 parent). */
  const timed = <T extends { view: StateView; block: BlockContext['block'] }>(ctx: T): T =>
    clock ? (Object.create(ctx, { block: { value: { ...ctx.block, height: clock(ctx.view) } } }) as T) : ctx;
  /**
   * Methods on the settlement clock, except `inboxClock` ones: those queue delayed operations,
   * which the inbox (`includeForced`, batches) and every child's derivation date in parent block
   * heights — a deposit dated in the L1 origin instead would be due at another time on the
   * parent than in derivation (a forced inclusion the child's nodes do not mirror).
   */
  const timedMethods = (m: Module['methods'], inboxClock: string[] = []): Module['methods'] =>
    Object.fromEntries(Object.entries(m).map(([name, h]) => [name, inboxClock.includes(name) ? h : (ctx: TxContext, args: Uint8Array) => h(timed(ctx), args)]));
  const names = rollupModuleNames(cfg.rollupId);
  const settles = { chainId: cfg.rollupId, instance: `optimistic/${cfg.rollupId}`, descendants: descendantChainIds(cfg.l2Modules ?? []) };
  const env = makeL2Env(cfg);
  const escrow = escrowAddress(cfg.rollupId);
  const bonds = bondAddress(cfg.rollupId);
  /** Moves the finality cursor (bounded) and says whether output `i` is final. */
  const finalNow = (view: StateView, height: number, i: number): boolean => {
    const o = readOutput(view, cfg.rollupId, i);
    if (!o || o.status === OUTPUT_DISCARDED) return false;
    return i < advanceFinality(view, cfg.rollupId, height, cfg.challengeWindow, FINALITY_STEPS_PER_CALL);
  };

  const bridge: Module = {
    name: names.bridge,
    settles,
    methods: timedMethods({
      deposit(ctx, args) {
        const a = decode(DepositArgs, args);
        checkRollup(cfg, a.rollupId);
        checkChildChainId(ctx, cfg.rollupId, settles.instance, 'L2_BRIDGE'); // no other kind of child registered this id (rule 10)
        if (a.amount <= 0n) throw new StrataError('L2_BRIDGE', 'deposit amount must be positive');
        transfer(ctx.view, ctx.sender, escrow, a.amount);
        const store = new StateInboxStore(ctx.view, cfg.rollupId);
        const id = store.meta().delayedCount;
        appendDelayed(store, ctx.block, encodeOp({ kind: 'deposit', depositId: id, from: ctx.sender, to: a.to, amount: a.amount }));
        ctx.emit('deposit', { id, from: toHex(ctx.sender), to: toHex(a.to), amount: a.amount.toString() });
      },
      proveWithdrawal(ctx, args) {
        const a = decode(ProveWithdrawalArgs, args);
        checkRollup(cfg, a.rollupId);
        const out = readOutput(ctx.view, cfg.rollupId, a.outputIndex);
        if (!out) throw new StrataError('L2_WITHDRAWAL', `no output ${a.outputIndex}`);
        if (out.status === OUTPUT_DISCARDED) throw new StrataError('L2_WITHDRAWAL', `output ${a.outputIndex} was discarded by a fraud proof; prove against a live output`);
        const st = readWithdrawalState(ctx.view, cfg.rollupId, a.withdrawal.id);
        if (st.finalized) throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.withdrawal.id} is already finalized`);
        if (st.proven) {
          // A proof against a live output stands (OptimismPortal2): replacing it would restart
          // the wait, so anyone could postpone someone else's withdrawal for ever.
          const prev = readOutput(ctx.view, cfg.rollupId, st.proven.outputIndex) as OutputRecord;
          if (prev.status !== OUTPUT_DISCARDED) {
            throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.withdrawal.id} is already proven against live output ${st.proven.outputIndex}; it can be proven again only if that output is discarded`, {
              outputIndex: st.proven.outputIndex,
            });
          }
        }
        ctx.charge(a.proof.reduce((n, p) => n + Math.ceil(p.length / 32), 0) * ctx.config.compute.perWord);
        const proven = verifyProof(out.stateRoot, withdrawalKey(a.withdrawal.id), a.proof).value;
        if (!proven || !bytesEqual(proven, encode(WithdrawalCodec, a.withdrawal))) {
          throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.withdrawal.id} is not in output ${a.outputIndex}'s state`);
        }
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'proven', a.withdrawal.id), encode(ProvenCodec, { outputIndex: a.outputIndex, l1Height: ctx.block.height }));
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'wdata', a.withdrawal.id), encode(WithdrawalCodec, a.withdrawal));
        ctx.emit('withdrawalProven', { id: a.withdrawal.id, outputIndex: a.outputIndex });
      },
      finalizeWithdrawal(ctx, args) {
        const a = decode(FinalizeWithdrawalArgs, args);
        checkRollup(cfg, a.rollupId);
        const st = readWithdrawalState(ctx.view, cfg.rollupId, a.id);
        if (st.finalized) throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.id} is already finalized`);
        if (!st.proven) throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.id} has not been proven against an output root`);
        const out = readOutput(ctx.view, cfg.rollupId, st.proven.outputIndex) as OutputRecord;
        if (out.status === OUTPUT_DISCARDED) {
          throw new StrataError('L2_WITHDRAWAL', `withdrawal ${a.id} was proven against output ${st.proven.outputIndex}, which was discarded; prove it again against a live output`);
        }
        if (!finalNow(ctx.view, ctx.block.height, st.proven.outputIndex)) {
          throw new StrataError('L2_WITHDRAWAL', `output ${st.proven.outputIndex} is still in its challenge window (until L1 block ${out.l1Height + cfg.challengeWindow}) or disputed`, {
            readyAt: out.l1Height + cfg.challengeWindow,
          });
        }
        // Recipient and amount as proven against the output's state root.
        const w = decode(WithdrawalCodec, ctx.view.get(k(BRIDGE_MODULE, cfg.rollupId, 'wdata', a.id)) ?? fail(a.id));
        transfer(ctx.view, escrow, w.l1Recipient, w.amount);
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'final', a.id), new Uint8Array([1]));
        ctx.emit('withdrawalFinalized', { id: a.id, to: toHex(w.l1Recipient), amount: w.amount.toString() });
      },
      depositToken(ctx, args) {
        const a = decode(DepositTokenArgs, args);
        checkRollup(cfg, a.rollupId);
        checkChildChainId(ctx, cfg.rollupId, settles.instance, 'L2_BRIDGE'); // as the coin's deposit (rule 10)
        if (a.amount <= 0n) throw new StrataError('L2_BRIDGE', 'deposit amount must be positive');
        const t = requireToken(ctx.view, a.token);
        if (t.originChainId !== a.originChainId || !bytesEqual(t.originId, a.originId) || t.symbol !== a.symbol || t.decimals !== a.decimals) {
          throw new StrataError('L2_BRIDGE', `token ${toHex(a.token)} is ${t.symbol} (${t.decimals} decimals) from chain ${t.originChainId}: the deposit names another identity`);
        }
        transferToken(ctx.view, a.token, ctx.sender, escrow, a.amount);
        const store = new StateInboxStore(ctx.view, cfg.rollupId);
        const id = store.meta().delayedCount;
        appendDelayed(store, ctx.block, encodeOp(tokenDepositOp(id, ctx.sender, a)));
        ctx.emit('tokenDeposit', { id, from: toHex(ctx.sender), to: toHex(a.to), token: toHex(a.token), amount: a.amount.toString() });
      },
      proveTokenWithdrawal(ctx, args) {
        const a = decode(ProveTokenWithdrawalArgs, args);
        checkRollup(cfg, a.rollupId);
        const out = readOutput(ctx.view, cfg.rollupId, a.outputIndex);
        if (!out) throw new StrataError('L2_WITHDRAWAL', `no output ${a.outputIndex}`);
        if (out.status === OUTPUT_DISCARDED) throw new StrataError('L2_WITHDRAWAL', `output ${a.outputIndex} was discarded by a fraud proof; prove against a live output`);
        const st = readTokenWithdrawalState(ctx.view, cfg.rollupId, a.withdrawal.id);
        if (st.finalized) throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.withdrawal.id} is already finalized`);
        if (st.proven && (readOutput(ctx.view, cfg.rollupId, st.proven.outputIndex) as OutputRecord).status !== OUTPUT_DISCARDED) {
          throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.withdrawal.id} is already proven against live output ${st.proven.outputIndex}`, { outputIndex: st.proven.outputIndex });
        }
        ctx.charge(a.proof.reduce((n, p) => n + Math.ceil(p.length / 32), 0) * ctx.config.compute.perWord);
        const proven = verifyProof(out.stateRoot, tokenWithdrawalKey(a.withdrawal.id), a.proof).value;
        if (!proven || !bytesEqual(proven, encode(TokenWithdrawalCodec, a.withdrawal))) {
          throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.withdrawal.id} is not in output ${a.outputIndex}'s state`);
        }
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'tproven', a.withdrawal.id), encode(ProvenCodec, { outputIndex: a.outputIndex, l1Height: ctx.block.height }));
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'twdata', a.withdrawal.id), encode(TokenWithdrawalCodec, a.withdrawal));
        ctx.emit('tokenWithdrawalProven', { id: a.withdrawal.id, outputIndex: a.outputIndex });
      },
      finalizeTokenWithdrawal(ctx, args) {
        const a = decode(FinalizeWithdrawalArgs, args);
        checkRollup(cfg, a.rollupId);
        const st = readTokenWithdrawalState(ctx.view, cfg.rollupId, a.id);
        if (st.finalized) throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.id} is already finalized`);
        if (!st.proven) throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.id} has not been proven against an output root`);
        const out = readOutput(ctx.view, cfg.rollupId, st.proven.outputIndex) as OutputRecord;
        if (out.status === OUTPUT_DISCARDED) throw new StrataError('L2_WITHDRAWAL', `token withdrawal ${a.id} was proven against output ${st.proven.outputIndex}, which was discarded; prove it again`);
        if (!finalNow(ctx.view, ctx.block.height, st.proven.outputIndex)) {
          throw new StrataError('L2_WITHDRAWAL', `output ${st.proven.outputIndex} is still in its challenge window (until ${out.l1Height + cfg.challengeWindow}) or disputed`, {
            readyAt: out.l1Height + cfg.challengeWindow,
          });
        }
        const w = decode(TokenWithdrawalCodec, ctx.view.get(k(BRIDGE_MODULE, cfg.rollupId, 'twdata', a.id)) ?? fail(a.id));
        // Released from what deposits of that very token escrowed: never more than came in.
        transferToken(ctx.view, w.token, escrow, w.l1Recipient, w.amount);
        ctx.view.put(k(BRIDGE_MODULE, cfg.rollupId, 'tfinal', a.id), new Uint8Array([1]));
        ctx.emit('tokenWithdrawalFinalized', { id: a.id, to: toHex(w.l1Recipient), token: toHex(w.token), amount: w.amount.toString() });
      },
    }, ['deposit', 'depositToken']),
  };
  const inbox: Module = {
    name: names.inbox,
    settles,
    methods: {
      postBatch(ctx, args) {
        const a = decode(PostBatchArgsCodec, args);
        checkRollup(cfg, a.rollupId);
        if (!bytesEqual(ctx.sender, cfg.batcher)) throw new StrataError('L2_INVALID_BATCH', `only the batcher ${toHex(cfg.batcher)} may post batches`);
        const store = new StateInboxStore(ctx.view, cfg.rollupId);
        const perWord = ctx.config.compute.perWord;
        // Decompression stops at what the transaction's compute left pays for (32 bytes per DECOMPRESS_WORD_COMPUTE words).
        const affordable = () =>
          ctx.computeLeft === undefined ? Number.POSITIVE_INFINITY : perWord > 0 ? Math.floor((ctx.computeLeft as number) / (perWord * DECOMPRESS_WORD_COMPUTE)) * 32 : Number.POSITIVE_INFINITY;
        const b = appendBatch(store, ctx.block, { firstBlock: a.firstBlock, data: a.data }, cfg, (w) => ctx.charge(w * perWord), affordable);
        ctx.emit('batch', { index: b.index, firstBlock: b.record.firstBlock, blocks: b.record.blockCount, ops: b.record.opCount, bytes: a.data.length });
      },
      forceTx(ctx, args) {
        const a = decode(ForceTxArgs, args);
        checkRollup(cfg, a.rollupId);
        const store = new StateInboxStore(ctx.view, cfg.rollupId);
        const i = store.meta().delayedCount;
        appendDelayed(store, ctx.block, encodeOp({ kind: 'forced', queueIndex: i, from: ctx.sender, raw: a.raw }));
        ctx.emit('forcedTx', { queueIndex: i, from: toHex(ctx.sender), bytes: a.raw.length });
      },
      includeForced(ctx, args) {
        // Permissionless: once the oldest queued operation waited the sequencing window, anyone
        // makes the inbox include every queued one (the end-of-block rule, run by a call).
        const a = decode(IncludeForcedArgs, args);
        checkRollup(cfg, a.rollupId);
        const store = new StateInboxStore(ctx.view, cfg.rollupId);
        const b = forceInclusion(store, ctx.block, cfg);
        if (!b) {
          const m = store.meta();
          const oldest = m.delayedRead < m.delayedCount ? store.delayed(m.delayedRead) : undefined;
          // A rollup carrying its L1 origin: the inbox also advances it once it lags more than the window.
          const originDue = carriesL1Origin(cfg) ? m.l1Origin + cfg.sequencingWindow + 1 : undefined;
          const dueAt = Math.min(oldest ? oldest.l1Height + cfg.sequencingWindow : Infinity, originDue ?? Infinity);
          const why = oldest ? `the oldest queued operation (${m.delayedRead}) is due at block ${oldest.l1Height + cfg.sequencingWindow}` : 'no queued operation is waiting';
          throw new StrataError('L2_INVALID_BATCH', originDue === undefined ? why : `${why}; the L1 origin (${m.l1Origin}) is advanced at block ${originDue}`, {
            ...(Number.isFinite(dueAt) ? { dueAt } : {}),
          });
        }
        ctx.emit('forcedInclusion', { index: b.index, block: b.record.firstBlock, ops: b.record.opCount });
      },
    },
    ...(cfg.forcedInclusion === 'call'
      ? {}
      : {
          endBlock(ctx: BlockContext) {
            const b = forceInclusion(new StateInboxStore(ctx.view, cfg.rollupId), ctx.block, cfg);
            if (b) ctx.emit(names.inbox, 'forcedInclusion', { index: b.index, block: b.record.firstBlock, ops: b.record.opCount });
          },
        }),
  };

  const disputes: Module = {
    name: names.disputes,
    settles,
    methods: timedMethods({
      propose(ctx, args) {
        const a = decode(ProposeArgs, args);
        checkRollup(cfg, a.rollupId);
        const meta = readOutputsMeta(ctx.view, cfg.rollupId);
        const batch = readBatch(ctx.view, cfg.rollupId, a.batchIndex);
        if (!batch) dispute(`batch ${a.batchIndex} is not on L1 yet`);
        const prevBatch = meta.lastLive === 0 ? -1 : (readOutput(ctx.view, cfg.rollupId, meta.lastLive - 1) as OutputRecord).batchIndex;
        if (a.batchIndex <= prevBatch) dispute(`output must cover a batch after ${prevBatch}`, { lastBatch: prevBatch });
        transfer(ctx.view, ctx.sender, bonds, cfg.proposerBond);
        const out: OutputRecord = {
          batchIndex: a.batchIndex,
          l2Block: batch.firstBlock + batch.blockCount - 1,
          opEnd: batch.firstOp + batch.opCount,
          stateRoot: a.stateRoot,
          proposer: ctx.sender,
          l1Height: ctx.block.height,
          parent: meta.lastLive,
          status: OUTPUT_PENDING,
          openGames: 0,
          bond: cfg.proposerBond,
          games: 0,
        };
        writeOutput(ctx.view, cfg.rollupId, meta.count, out);
        writeOutputsMeta(ctx.view, cfg.rollupId, { ...meta, count: meta.count + 1, lastLive: meta.count + 1 });
        ctx.emit('outputProposed', { index: meta.count, l2Block: out.l2Block, opEnd: out.opEnd, stateRoot: toHex(a.stateRoot), proposer: toHex(ctx.sender) });
      },
      challenge(ctx, args) {
        const a = decode(ChallengeArgs, args);
        checkRollup(cfg, a.rollupId);
        const out = readOutput(ctx.view, cfg.rollupId, a.outputIndex);
        if (!out) dispute(`no output ${a.outputIndex}`);
        if (out.status === OUTPUT_DISCARDED) dispute(`output ${a.outputIndex} is already discarded`);
        if (ctx.block.height >= out.l1Height + cfg.challengeWindow) dispute(`output ${a.outputIndex}'s challenge window has closed`);
        // Every further game against one output costs twice the one before, so flooding a root
        // with games costs exponentially more, while each game pays its defender.
        const bond = challengeBond(cfg, out);
        transfer(ctx.view, ctx.sender, bonds, bond);
        const meta = readOutputsMeta(ctx.view, cfg.rollupId);
        const gameId = meta.gameCount;
        const g: GameRecord = {
          outputIndex: a.outputIndex,
          challenger: ctx.sender,
          proposer: out.proposer,
          bond,
          defenderBond: 0n,
          defenses: 0,
          payout: 0n,
          burned: 0n,
          ...gameBase(ctx.view, cfg, out),
          midRoot: new Uint8Array(32),
          proposerClock: 0,
          challengerClock: 0,
          lastMove: ctx.block.height,
          moves: 0,
          status: GAME_OPEN,
        };
        writeOutputsMeta(ctx.view, cfg.rollupId, { ...meta, gameCount: gameId + 1 });
        writeOutput(ctx.view, cfg.rollupId, a.outputIndex, { ...out, openGames: out.openGames + 1, games: out.games + 1 });
        writeGame(ctx.view, cfg.rollupId, gameId, g);
        ctx.emit('gameOpened', { gameId, outputIndex: a.outputIndex, challenger: toHex(ctx.sender), lo: g.lo, hi: g.hi, bond: bond.toString() });
        if (g.hi === g.lo) {
          // An output over no operations must repeat its parent's root: decided at once.
          if (bytesEqual(g.rootLo, g.rootHi)) defenderWins(ctx, cfg, gameId, g, 'empty range repeats its parent root');
          else defenderLoses(ctx, cfg, gameId, g, 'empty range with a different root');
        }
      },
      defend(ctx, args) {
        const a = decode(DefendArgs, args);
        checkRollup(cfg, a.rollupId);
        let g = openGame(ctx, cfg, a.gameId);
        if (g.turn !== TURN_PROPOSER) dispute("it is the challenger's move");
        // The clock that runs is the one of the slot as it stands: `takeoverBlocks` while empty.
        const limit = clockLimit(cfg, g);
        if (defenderSlotEmpty(g)) {
          // Permissionless defence: any party takes the empty slot with a (growing) bond.
          if (bytesEqual(ctx.sender, g.challenger)) dispute('the challenger cannot defend its own game');
          const bond = takeoverBond(cfg, g);
          transfer(ctx.view, ctx.sender, bonds, bond);
          g = { ...g, proposer: ctx.sender, defenderBond: bond };
          ctx.emit('defenderJoined', { gameId: a.gameId, defender: toHex(ctx.sender), bond: bond.toString() });
        } else if (!bytesEqual(ctx.sender, g.proposer)) {
          dispute(`game ${a.gameId} has a defender (${toHex(g.proposer)}); another party may take over only after it loses`);
        }
        g = tick(ctx, cfg, g, TURN_CHALLENGER, limit);
        writeGame(ctx.view, cfg.rollupId, a.gameId, { ...g, midRoot: a.root });
        ctx.emit('gameMove', { gameId: a.gameId, by: 'defender', mid: Math.floor((g.lo + g.hi) / 2), root: toHex(a.root), move: g.moves });
      },
      bisect(ctx, args) {
        const a = decode(BisectArgs, args);
        checkRollup(cfg, a.rollupId);
        const g0 = openGame(ctx, cfg, a.gameId);
        if (!bytesEqual(ctx.sender, g0.challenger)) dispute('only the challenger bisects');
        if (g0.turn !== TURN_CHALLENGER || g0.hi - g0.lo <= 1) dispute('no midpoint to answer: the defender must move, or the game is at one step');
        const mid = Math.floor((g0.lo + g0.hi) / 2);
        const range = a.agree ? { lo: mid, hi: g0.hi } : { lo: g0.lo, hi: mid };
        const g = tick(ctx, cfg, g0, range.hi - range.lo > 1 ? TURN_PROPOSER : TURN_CHALLENGER);
        const next = a.agree ? { ...g, lo: mid, rootLo: g0.midRoot } : { ...g, hi: mid, rootHi: g0.midRoot };
        writeGame(ctx.view, cfg.rollupId, a.gameId, next);
        ctx.emit('gameMove', { gameId: a.gameId, by: 'challenger', agree: a.agree, lo: next.lo, hi: next.hi, move: next.moves });
      },
      step(ctx, args) {
        const a = decode(StepArgs, args);
        checkRollup(cfg, a.rollupId);
        const g = openGame(ctx, cfg, a.gameId);
        if (g.hi - g.lo !== 1) dispute(`game ${a.gameId} is not at a single step yet (${g.hi - g.lo} operations apart)`);
        if (defenderSlotEmpty(g)) dispute(`game ${a.gameId} has no defender: its claims were withdrawn`);
        // Time first: a game already lost on the clock is decided by it, whoever calls.
        if (moverClock(g, ctx.block.height) > clockLimit(cfg, g)) {
          resolveTimeout(ctx, cfg, a.gameId, g);
          return;
        }
        const batch = readBatch(ctx.view, cfg.rollupId, a.batchIndex);
        if (!batch || g.lo < batch.firstOp || g.lo >= batch.firstOp + batch.opCount) dispute(`operation ${g.lo} is not in batch ${a.batchIndex}`);
        // The position is bound: only the operation at index g.lo of the batch verifies here.
        const leaf = opLeaf(a.blockNumber, a.timestamp, opHash(a.op));
        if (!verifyMerkleProof(batch.opsRoot, leaf, { index: g.lo - batch.firstOp, count: batch.opCount, siblings: a.siblings })) {
          dispute(`operation does not match batch ${a.batchIndex}'s commitment at position ${g.lo - batch.firstOp}`);
        }
        const words = a.witness.reduce((n, w) => n + Math.ceil(w.length / 32), 0) + Math.ceil(a.op.length / 32);
        ctx.charge(words * ctx.config.compute.perWord * 4 + ctx.config.compute.sigVerify);
        const post = executeStepOnWitness(env, g.rootLo, a.witness, { number: a.blockNumber, timestamp: a.timestamp }, a.op);
        const challengerWon = !bytesEqual(post, g.rootHi);
        ctx.emit('gameStep', { gameId: a.gameId, op: g.lo, computed: toHex(post), claimed: toHex(g.rootHi) });
        const played = { ...g, moves: g.moves + 1 };
        if (challengerWon) defenderLoses(ctx, cfg, a.gameId, played, `one-step proof of operation ${g.lo}`);
        else defenderWins(ctx, cfg, a.gameId, played, `one-step proof of operation ${g.lo}`);
      },
      timeout(ctx, args) {
        const a = decode(GameRefArgs, args);
        checkRollup(cfg, a.rollupId);
        const g = openGame(ctx, cfg, a.gameId);
        const used = moverClock(g, ctx.block.height);
        const limit = clockLimit(cfg, g);
        if (used <= limit) dispute(`the ${g.turn === TURN_PROPOSER ? 'defender' : 'challenger'} still has ${limit - used + 1} L1 blocks on its clock`);
        resolveTimeout(ctx, cfg, a.gameId, g);
      },
      advanceFinality(ctx, args) {
        // A parent without end-of-block hooks (an L2) moves the finality cursor by this call:
        // anyone may make it; it fails when the cursor cannot move (so it is never spam).
        const a = decode(OutputRefArgs, args);
        checkRollup(cfg, a.rollupId);
        const before = readOutputsMeta(ctx.view, cfg.rollupId).finalCursor;
        const after = advanceFinality(ctx.view, cfg.rollupId, ctx.block.height, cfg.challengeWindow, FINALITY_STEPS_PER_BLOCK);
        if (after === before) dispute(`the finality cursor cannot move past output ${before} yet`);
        ctx.emit('finalityAdvanced', { from: before, to: after });
      },
      reclaimBond(ctx, args) {
        const a = decode(OutputRefArgs, args);
        checkRollup(cfg, a.rollupId);
        const out = readOutput(ctx.view, cfg.rollupId, a.outputIndex);
        if (!out || out.status !== OUTPUT_PENDING || out.bond === 0n) dispute(`output ${a.outputIndex} has no bond to reclaim`);
        if (!finalNow(ctx.view, ctx.block.height, a.outputIndex)) dispute(`output ${a.outputIndex} is not final yet`);
        transfer(ctx.view, bonds, out.proposer, out.bond);
        writeOutput(ctx.view, cfg.rollupId, a.outputIndex, { ...out, status: OUTPUT_BOND_RECLAIMED, bond: 0n });
      },
    }),
    endBlock(ctx: BlockContext) {
      // Finality moves with the L1 clock, a bounded number of outputs per block.
      advanceFinality(ctx.view, cfg.rollupId, timed(ctx).block.height, cfg.challengeWindow, FINALITY_STEPS_PER_BLOCK);
    },
  };
  return [bridge, inbox, disputes];
}

/** The player to move ran out of time: it loses. */
function resolveTimeout(ctx: Ctx, cfg: RollupConfig, gameId: number, g: GameRecord): void {
  if (g.turn === TURN_PROPOSER) defenderLoses(ctx, cfg, gameId, g, defenderSlotEmpty(g) ? 'no one defended the root in time' : 'defender ran out of time');
  else defenderWins(ctx, cfg, gameId, g, 'challenger ran out of time');
}

/** Same as `parentModules` (the name the first version shipped with). */
export const optimisticParentModules = parentModules;

/** The child operation of a token deposit (the bridge and every derivation build it alike). */
export function tokenDepositOp(depositId: number, from: Uint8Array, a: DepositTokenArgsT) {
  return {
    kind: 'tokenDeposit' as const,
    depositId,
    from,
    to: a.to,
    parentToken: a.token,
    originChainId: a.originChainId,
    originId: a.originId,
    symbol: a.symbol,
    decimals: a.decimals,
    amount: a.amount,
  };
}

function fail(id: number): never {
  throw new StrataError('L2_WITHDRAWAL', `withdrawal ${id} has no proven record`);
}
