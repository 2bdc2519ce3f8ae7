/**
 * The L2 state transition function: `applyL2Op` applies one operation to a StateView. It is the
 * ONLY definition of L2 execution: the sequencer, every verifier and the L1's one-step fraud
 * proof (over a witness-backed view) all call it. It is total: an operation that cannot apply
 * (bad signature, wrong nonce, unknown account index) is a no-op with a `skipped` result, so a
 * malformed operation can never wedge the chain or a dispute.
 */
import {
  bigintToFixed,
  bytesEqual,
  bytesToBigint,
  decode,
  encode,
  fixedBytes,
  struct,
  toHex,
  StrataError,
  toStrataError,
  uint,
  uintBig,
  utf8,
  type Codec,
} from '@strata/primitives';
import {
  applyTx,
  bankModule,
  burn,
  encodeTx,
  getAccount,
  mint,
  moduleAddress,
  ModuleRegistry,
  putAccount,
  signTx,
  TRANSFER_COMPUTE,
  TransferArgsCodec,
  verifyRawTx,
  type ChainConfig,
  type Module,
  type RuntimeEvent,
  type SignedTx,
  type TxContext,
  type VerifiedTx,
} from '@strata/runtime';
import { OverlayView, stateKey, type StateView } from '@strata/state';
import { burnToken, ensureWrappedToken, getToken, mintToken, wrappedTokenId } from '@strata/apps';
import { l2ChainConfig, type RollupConfig } from './config.js';
import { decodeOp, type L2Op } from './ops.js';

/** A withdrawal recorded in L2 state (proven on L1 against an output root). */
export interface WithdrawalRecord {
  id: number;
  l2Sender: Uint8Array;
  l1Recipient: Uint8Array;
  amount: bigint;
}

/** Codec of a withdrawal record (the value stored under `withdrawalKey(id)`). */
export const WithdrawalCodec: Codec<WithdrawalRecord> = struct('Withdrawal', {
  id: uint,
  l2Sender: fixedBytes(20),
  l1Recipient: fixedBytes(20),
  amount: uintBig(128),
});

/** Arguments of `l2bridge.withdraw`. */
export const WithdrawArgsCodec: Codec<{ l1Recipient: Uint8Array; amount: bigint }> = struct('WithdrawArgs', {
  l1Recipient: fixedBytes(20),
  amount: uintBig(128),
});

/** A token withdrawal recorded in child state: the parent releases `amount` of its token `token` from escrow. */
export interface TokenWithdrawalRecord {
  id: number;
  l2Sender: Uint8Array;
  l1Recipient: Uint8Array;
  /** The token's id on the parent (what the parent's escrow holds). */
  token: Uint8Array;
  amount: bigint;
}

/** Codec of a token withdrawal record (the value under `tokenWithdrawalKey(id)`). */
export const TokenWithdrawalCodec: Codec<TokenWithdrawalRecord> = struct('TokenWithdrawal', {
  id: uint,
  l2Sender: fixedBytes(20),
  l1Recipient: fixedBytes(20),
  token: fixedBytes(32),
  amount: uintBig(128),
});

/** Arguments of `l2bridge.withdrawToken`: the child-side (wrapped) token id. */
export const WithdrawTokenArgsCodec: Codec<{ l1Recipient: Uint8Array; token: Uint8Array; amount: bigint }> = struct('WithdrawTokenArgs', {
  l1Recipient: fixedBytes(20),
  token: fixedBytes(32),
  amount: uintBig(128),
});

const L2_BRIDGE = 'l2bridge';
/**
 * Issuer of every wrapped token on a child: the bridge. The same address on every layer, so a
 * token's wrapped id (`wrappedTokenId(origin chain, origin id, BRIDGE_MINTER)`) is one at L2 and L3.
 */
export const BRIDGE_MINTER: Uint8Array = moduleAddress(L2_BRIDGE);
const TWD_COUNT_KEY = stateKey(L2_BRIDGE, utf8('tcount'));
/** Child state key of token withdrawal `id`. */
export function tokenWithdrawalKey(id: number): Uint8Array {
  return stateKey(L2_BRIDGE, utf8('twd'), bigintToFixed(BigInt(id), 8));
}
/** Child state key: a wrapped token id → the parent token it stands for (written by deposits only). */
const parentTokenKey = (wrapped: Uint8Array) => stateKey(L2_BRIDGE, utf8('tparent'), wrapped);

/** The parent token a child token stands for, if it came over the bridge (undefined for a child-native token). */
export function parentTokenOf(view: Pick<StateView, 'get'>, childToken: Uint8Array): Uint8Array | undefined {
  return view.get(parentTokenKey(childToken));
}

/** Number of token withdrawals ever initiated on the child. */
export function tokenWithdrawalCount(view: Pick<StateView, 'get'>): number {
  return readCount(view, TWD_COUNT_KEY);
}

/** Reads a token withdrawal record. */
export function getTokenWithdrawal(view: Pick<StateView, 'get'>, id: number): TokenWithdrawalRecord | undefined {
  const raw = view.get(tokenWithdrawalKey(id));
  return raw ? decode(TokenWithdrawalCodec, raw) : undefined;
}
const ACCOUNTS = 'l2accounts';
const WD_COUNT_KEY = stateKey(L2_BRIDGE, utf8('count'));
const ACCT_COUNT_KEY = stateKey(ACCOUNTS, utf8('count'));
/** L2 state key of the L1 origin height the sequencer's `l1info` operations set. */
export const L1_ORIGIN_KEY = stateKey(L2_BRIDGE, utf8('l1origin'));

/** The L2's current L1 origin height (0 before the first `l1info` operation). */
export function readL1Origin(view: Pick<StateView, 'get'>): number {
  return readCount(view, L1_ORIGIN_KEY);
}

/**
 * The clock of settlement modules an L2 hosts for a child (pass as `parentModules(cfg, { clock:
 * l1OriginClock })`): the L2 state's L1 origin, so the child's challenge window, game clocks and
 * finality count L1 blocks, which the L2 sequencer cannot make faster (it can make L2 blocks at
 * will). On an L1 parent the clock is the block height (the default).
 */
export function l1OriginClock(view: Pick<StateView, 'get'>): number {
  return readL1Origin(view);
}

/** L2 state key of withdrawal `id`. */
export function withdrawalKey(id: number): Uint8Array {
  return stateKey(L2_BRIDGE, utf8('wd'), bigintToFixed(BigInt(id), 8));
}

function readCount(view: Pick<StateView, 'get'>, key: Uint8Array): number {
  const raw = view.get(key);
  return raw ? Number(bytesToBigint(raw)) : 0;
}

/** Number of withdrawals ever initiated on the L2. */
export function withdrawalCount(view: Pick<StateView, 'get'>): number {
  return readCount(view, WD_COUNT_KEY);
}

/** Reads a withdrawal record. */
export function getWithdrawal(view: Pick<StateView, 'get'>, id: number): WithdrawalRecord | undefined {
  const raw = view.get(withdrawalKey(id));
  return raw ? decode(WithdrawalCodec, raw) : undefined;
}

/** The L2 bridge module: `withdraw(l1Recipient, amount)` burns wrapped coin and records the withdrawal. */
export const l2BridgeModule: Module = {
  name: L2_BRIDGE,
  methods: {
    withdraw(ctx: TxContext, args: Uint8Array) {
      const { l1Recipient, amount } = decode(WithdrawArgsCodec, args);
      burn(ctx.view, ctx.sender, amount);
      const id = readCount(ctx.view, WD_COUNT_KEY);
      ctx.view.put(WD_COUNT_KEY, bigintToFixed(BigInt(id + 1), 8));
      ctx.view.put(withdrawalKey(id), encode(WithdrawalCodec, { id, l2Sender: ctx.sender, l1Recipient, amount }));
      ctx.emit('withdrawal', { id, from: toHex(ctx.sender), to: toHex(l1Recipient), amount: amount.toString() });
    },
    withdrawToken(ctx: TxContext, args: Uint8Array) {
      const { l1Recipient, token, amount } = decode(WithdrawTokenArgsCodec, args);
      // Only a token that came over this bridge goes back: a child-native token (even one its
      // issuer named like a parent token) or an id no deposit wrapped has no parent token.
      const parentToken = parentTokenOf(ctx.view, token);
      const t = getToken(ctx.view, token);
      if (!parentToken || !t || !bytesEqual(t.issuer, BRIDGE_MINTER)) {
        throw new StrataError('L2_BRIDGE', `token ${toHex(token)} did not come over the bridge: only wrapped parent tokens withdraw`, { token: toHex(token) });
      }
      burnToken(ctx.view, token, ctx.sender, amount);
      const id = readCount(ctx.view, TWD_COUNT_KEY);
      ctx.view.put(TWD_COUNT_KEY, bigintToFixed(BigInt(id + 1), 8));
      ctx.view.put(tokenWithdrawalKey(id), encode(TokenWithdrawalCodec, { id, l2Sender: ctx.sender, l1Recipient, token: parentToken, amount }));
      ctx.emit('tokenWithdrawal', { id, from: toHex(ctx.sender), to: toHex(l1Recipient), token: toHex(parentToken), childToken: toHex(token), amount: amount.toString() });
    },
  },
};

/** Signs a child token withdrawal (`token` = the child-side wrapped id). */
export function signL2TokenWithdrawal(env: L2Env, secretKey: Uint8Array, nonce: number, l1Recipient: Uint8Array, token: Uint8Array, amount: bigint): SignedTx {
  const computeLimit = TOKEN_WITHDRAW_COMPUTE;
  return signTx(
    {
      chainId: env.config.chainId,
      nonce,
      fee: BigInt(computeLimit) * env.config.fees.perCompute,
      computeLimit,
      module: L2_BRIDGE,
      method: 'withdrawToken',
      args: encode(WithdrawTokenArgsCodec, { l1Recipient, token, amount }),
    },
    secretKey,
  );
}

/** Compute a child token withdrawal declares. */
export const TOKEN_WITHDRAW_COMPUTE = 6_000;

/** Account index of an address (batches refer to known accounts by index), if it has one. */
export function accountIndexOf(view: Pick<StateView, 'get'>, address: Uint8Array): number | undefined {
  const raw = view.get(stateKey(ACCOUNTS, utf8('i'), address));
  return raw ? Number(bytesToBigint(raw)) : undefined;
}

/** Address at an account index. */
export function accountAtIndex(view: Pick<StateView, 'get'>, index: number): Uint8Array | undefined {
  return view.get(stateKey(ACCOUNTS, utf8('a'), bigintToFixed(BigInt(index), 8)));
}

function ensureIndex(view: StateView, address: Uint8Array): void {
  if (accountIndexOf(view, address) !== undefined) return;
  const n = readCount(view, ACCT_COUNT_KEY);
  view.put(stateKey(ACCOUNTS, utf8('i'), address), bigintToFixed(BigInt(n), 8));
  view.put(stateKey(ACCOUNTS, utf8('a'), bigintToFixed(BigInt(n), 8)), address);
  view.put(ACCT_COUNT_KEY, bigintToFixed(BigInt(n + 1), 8));
}

/** Everything `applyL2Op` needs besides state: fixed per rollup. */
export interface L2Env {
  rollup: RollupConfig;
  config: ChainConfig;
  registry: ModuleRegistry;
}

/** Builds the L2 execution environment of a rollup (its modules: bank + L2 bridge + the config's extra modules). */
export function makeL2Env(rollup: RollupConfig): L2Env {
  // The L2 may settle children of its own (an L3's op_bridge/op_inbox/op_disputes): never one with the L2's own chain id.
  const registry = new ModuleRegistry([...l2Modules(), ...(rollup.l2Modules ?? [])]).checkChildrenOf(rollup.l2ChainId);
  return { rollup, config: l2ChainConfig(rollup), registry };
}

/** The L2 runtime's modules. */
export function l2Modules(): Module[] {
  return [bankModule, l2BridgeModule];
}

/** Where an operation executes. */
export interface L2BlockCtx {
  number: number;
  timestamp: number;
}

/**
 * Estimated compressed size of an operation, the size its L1 data fee is charged on: non-zero
 * bytes count 1, zero bytes 1/4 (runs of zeros are what a batch compressor removes; signatures
 * and hashes do not compress). Deterministic and cheap, so the L1's one-step proof computes the
 * same value; `bench/rollup.ts` compares it with the bytes batches really take.
 */
export function l1DataSize(op: Uint8Array): number {
  let zeros = 0;
  for (const b of op) if (b === 0) zeros++;
  return op.length - zeros + Math.ceil(zeros / 4);
}

/** L1 data fee of a sequenced operation: estimated compressed size × the L1's fee per byte × scalar. */
export function l1DataFee(rollup: Pick<RollupConfig, 'l1FeePerByte' | 'l1FeeScalarBps'>, op: Uint8Array): bigint {
  const raw = BigInt(l1DataSize(op)) * rollup.l1FeePerByte * BigInt(rollup.l1FeeScalarBps);
  return (raw + 9_999n) / 10_000n;
}

/** Outcome of one operation. */
export interface L2OpResult {
  kind: L2Op['kind'] | 'invalid';
  /** ok: applied; failed: the method threw (fee paid, nonce used); skipped: no effect at all. */
  status: 'ok' | 'failed' | 'skipped';
  /** L1 data fee charged on top of the execution fee (sequenced transactions only). */
  l1Fee?: bigint;
  txHash?: Uint8Array;
  sender?: Uint8Array;
  error?: string;
  events: RuntimeEvent[];
}

/** Rebuilds the full signed transaction a compact transfer stands for. */
export function expandTransfer(env: L2Env, op: Extract<L2Op, { kind: 'transfer' }>, to: Uint8Array): SignedTx {
  return {
    chainId: env.config.chainId,
    nonce: op.nonce,
    fee: op.fee,
    computeLimit: TRANSFER_COMPUTE,
    module: 'bank',
    method: 'transfer',
    args: encode(TransferArgsCodec, { to, amount: op.amount }),
    signature: op.signature,
  };
}

/** Signs an L2 transfer (helper for clients and tests). */
export function signL2Transfer(env: L2Env, secretKey: Uint8Array, nonce: number, to: Uint8Array, amount: bigint, fee?: bigint): SignedTx {
  return signTx(
    {
      chainId: env.config.chainId,
      nonce,
      fee: fee ?? BigInt(TRANSFER_COMPUTE) * env.config.fees.perCompute,
      computeLimit: TRANSFER_COMPUTE,
      module: 'bank',
      method: 'transfer',
      args: encode(TransferArgsCodec, { to, amount }),
    },
    secretKey,
  );
}

/** Signs an L2 withdrawal. */
export function signL2Withdrawal(env: L2Env, secretKey: Uint8Array, nonce: number, l1Recipient: Uint8Array, amount: bigint): SignedTx {
  const computeLimit = TRANSFER_COMPUTE + 600;
  return signTx(
    {
      chainId: env.config.chainId,
      nonce,
      fee: BigInt(computeLimit) * env.config.fees.perCompute,
      computeLimit,
      module: L2_BRIDGE,
      method: 'withdraw',
      args: encode(WithdrawArgsCodec, { l1Recipient, amount }),
    },
    secretKey,
  );
}

/**
 * Applies one encoded operation at `block`. Pure: reads and writes `view` only. Deposits mint
 * the wrapped coin; transactions run through the shared runtime (`applyTx`) with their fee paid
 * to the rollup's fee recipient at once, so each operation is a self-contained step.
 */
export function applyL2Op(view: StateView, env: L2Env, block: L2BlockCtx, opBytes: Uint8Array): L2OpResult {
  let op: L2Op;
  try {
    op = decodeOp(opBytes);
  } catch (e) {
    return { kind: 'invalid', status: 'skipped', error: toStrataError(e).message, events: [] };
  }
  if (op.kind === 'l1info') {
    // Monotonic: a marker that does not move the origin forward has no effect.
    if (op.height <= readL1Origin(view)) return { kind: 'l1info', status: 'skipped', error: `L1 origin ${op.height} does not move forward`, events: [] };
    view.put(L1_ORIGIN_KEY, bigintToFixed(BigInt(op.height), 8));
    return { kind: 'l1info', status: 'ok', events: [] };
  }
  if (op.kind === 'tokenDeposit') {
    // The wrapped form keeps the token's identity: its id derives from the origin (chain, id)
    // and the bridge, so a token wrapped at L2 and again at L3 has one id on both.
    const child = new OverlayView(view);
    try {
      const id = wrappedTokenId(op.originChainId, op.originId, BRIDGE_MINTER);
      ensureWrappedToken(child, BRIDGE_MINTER, { originChainId: op.originChainId, originId: op.originId, symbol: op.symbol, decimals: op.decimals });
      if (!child.get(parentTokenKey(id))) child.put(parentTokenKey(id), op.parentToken);
      mintToken(child, id, BRIDGE_MINTER, op.to, op.amount);
      ensureIndex(child, op.to);
      child.commitTo(view);
      return {
        kind: 'tokenDeposit',
        status: 'ok',
        events: [{ module: 'l2bridge', type: 'tokenDeposit', data: { id: op.depositId, to: toHex(op.to), token: toHex(id), parentToken: toHex(op.parentToken), amount: op.amount.toString() } }],
      };
    } catch (e) {
      return { kind: 'tokenDeposit', status: 'failed', error: toStrataError(e).message, events: [] };
    }
  }
  if (op.kind === 'deposit') {
    mint(view, op.to, op.amount);
    ensureIndex(view, op.to);
    return {
      kind: 'deposit',
      status: 'ok',
      events: [{ module: 'l2bridge', type: 'deposit', data: { id: op.depositId, to: toHex(op.to), amount: op.amount.toString() } }],
    };
  }
  let vtx: VerifiedTx;
  try {
    if (op.kind === 'transfer') {
      const to = 'index' in op.to ? accountAtIndex(view, op.to.index) : op.to.address;
      if (!to) return { kind: op.kind, status: 'skipped', error: `unknown account index ${'index' in op.to ? op.to.index : -1}`, events: [] };
      vtx = verifyRawTx(encodeTx(expandTransfer(env, op, to)), env.config.maxTxBytes);
    } else {
      vtx = verifyRawTx(op.raw, env.config.maxTxBytes);
    }
  } catch (e) {
    return { kind: op.kind, status: 'skipped', error: toStrataError(e).message, events: [] };
  }
  const child = new OverlayView(view);
  try {
    // Sequenced transactions pay for the L1 bytes they take; a forced one already paid the L1.
    const l1Fee = op.kind === 'forced' ? 0n : l1DataFee(env.rollup, opBytes);
    if (l1Fee > 0n) {
      const s = getAccount(child, vtx.sender);
      if (s.balance < vtx.tx.fee + l1Fee) {
        throw new StrataError('TX_INSUFFICIENT_FUNDS', `balance ${s.balance} cannot pay the fee ${vtx.tx.fee} plus the L1 data fee ${l1Fee}`);
      }
      putAccount(child, vtx.sender, { ...s, balance: s.balance - l1Fee });
    }
    const r = applyTx(child, { config: env.config, registry: env.registry, block: { height: block.number, timestamp: block.timestamp, producer: env.rollup.l2FeeRecipient } }, vtx, 0);
    if (r.fee + l1Fee > 0n) {
      const p = getAccount(child, env.rollup.l2FeeRecipient);
      p.balance += r.fee + l1Fee;
      putAccount(child, env.rollup.l2FeeRecipient, p);
    }
    ensureIndex(child, vtx.sender);
    if (r.status === 'ok' && vtx.tx.module === 'bank' && vtx.tx.method === 'transfer') {
      ensureIndex(child, decode(TransferArgsCodec, vtx.tx.args).to);
    }
    child.commitTo(view);
    const out: L2OpResult = { kind: op.kind, status: r.status, txHash: vtx.hash, sender: vtx.sender, events: r.events, l1Fee };
    if (r.error) out.error = `${r.error.code}: ${r.error.message}`;
    return out;
  } catch (e) {
    // Envelope failure (nonce, fee, chain id): the operation has no effect at all.
    return { kind: op.kind, status: 'skipped', txHash: vtx.hash, sender: vtx.sender, error: toStrataError(e).message, events: [] };
  }
}

/**
 * Converts a signed L2 transaction into its cheapest operation: a compact transfer (recipient by
 * account index when it has one) or a generic transaction.
 */
export function compactOp(env: L2Env, view: Pick<StateView, 'get'>, vtx: VerifiedTx): L2Op {
  const t = vtx.tx;
  if (t.module === 'bank' && t.method === 'transfer' && t.computeLimit === TRANSFER_COMPUTE && t.chainId === env.config.chainId) {
    try {
      const a = decode(TransferArgsCodec, t.args);
      const idx = accountIndexOf(view, a.to);
      return { kind: 'transfer', nonce: t.nonce, fee: t.fee, to: idx === undefined ? { address: a.to } : { index: idx }, amount: a.amount, signature: t.signature };
    } catch {
      // not a well-formed transfer: carried generically
    }
  }
  return { kind: 'tx', raw: vtx.bytes };
}
