/**
 * The pure state transition: `applyTx` and `applyBlock` read and write state only through a
 * StateView and make no network, disk or clock calls, so the same code runs in a full node, in
 * a witness-backed fraud proof and in a test.
 */
import { isEngineExhaustion, isLocalFault, StrataError, toHex, toStrataError } from '@strata/primitives';
import { OverlayView, type StateView } from '@strata/state';
import { accountKey, decodeAccount, encodeAccount, settleBlockFees } from './bank.js';
import type { ChainConfig } from './config.js';
import type { BlockContext, BlockInfo, Module, ModuleRegistry, RuntimeEvent, TxContext } from './module.js';
import type { VerifiedTx } from './tx.js';

/** Outcome of one transaction. */
export interface Receipt {
  txHash: Uint8Array;
  /** `ok`, or `failed` when the method threw: the fee is still paid and the nonce used. */
  status: 'ok' | 'failed';
  computeUsed: number;
  fee: bigint;
  /**
   * Why a failed transaction failed. Only `code` (a stable {@link ErrorCode}, or `INTERNAL` for a
   * module's foreign exception) is consensus: the receipt root hashes it. `message` is this
   * node's text for people, stored beside the receipt and never hashed, so rewording an error
   * message cannot fork the chain ('' when unknown, e.g. a receipt decoded on its own).
   */
  error?: { code: string; message: string };
  events: RuntimeEvent[];
}

/** Minimum fee for a transaction of `bytes` bytes declaring `computeLimit`. */
export function minimumFee(config: ChainConfig, bytes: number, computeLimit: number): bigint {
  const { perByte, perCompute } = config.fees;
  const m = lastMinFee;
  // Transactions of a block mostly share size and compute limit: reuse the last product.
  if (m.bytes === bytes && m.computeLimit === computeLimit && m.perByte === perByte && m.perCompute === perCompute) return m.fee;
  const fee = BigInt(bytes) * perByte + BigInt(computeLimit) * perCompute;
  lastMinFee = { bytes, computeLimit, perByte, perCompute, fee };
  return fee;
}

let lastMinFee = { bytes: -1, computeLimit: -1, perByte: 0n, perCompute: 0n, fee: 0n };

/** Compute every transaction uses before its method runs (base + signature check). */
export function intrinsicCompute(config: ChainConfig): number {
  return config.compute.txBase + config.compute.sigVerify;
}

/**
 * Stateless checks of a transaction against the chain's rules (chain id, size, fee, compute,
 * module and method exist). Throws a StrataError whose code names the reason.
 */
export function checkTxStatic(config: ChainConfig, registry: ModuleRegistry, vtx: VerifiedTx): void {
  const { tx } = vtx;
  if (tx.chainId !== config.chainId) {
    throw new StrataError('TX_WRONG_CHAIN', `transaction is for chain ${tx.chainId}, this is chain ${config.chainId}`, {
      expected: config.chainId,
      got: tx.chainId,
    });
  }
  if (vtx.bytes.length > config.maxTxBytes) {
    throw new StrataError('TX_TOO_LARGE', `transaction is ${vtx.bytes.length} bytes, the limit is ${config.maxTxBytes}`, {
      size: vtx.bytes.length,
      limit: config.maxTxBytes,
    });
  }
  if (tx.computeLimit < intrinsicCompute(config) || tx.computeLimit > config.maxBlockCompute) {
    throw new StrataError(
      'TX_COMPUTE_EXCEEDED',
      `compute limit ${tx.computeLimit} must be between ${intrinsicCompute(config)} and ${config.maxBlockCompute}`,
      { computeLimit: tx.computeLimit },
    );
  }
  const min = minimumFee(config, vtx.bytes.length, tx.computeLimit);
  if (tx.fee < min) {
    throw new StrataError('TX_FEE_TOO_LOW', `fee ${tx.fee} is below the minimum ${min} (${vtx.bytes.length} bytes, ${tx.computeLimit} compute)`, {
      fee: tx.fee.toString(),
      minimum: min.toString(),
    });
  }
  const mod = registry.get(tx.module);
  if (!mod) throw new StrataError('TX_UNKNOWN_MODULE', `no module "${tx.module}" on this chain`, { module: tx.module });
  if (!Object.hasOwn(mod.methods, tx.method)) {
    throw new StrataError('TX_UNKNOWN_METHOD', `module "${tx.module}" has no method "${tx.method}"`, { module: tx.module, method: tx.method });
  }
}

/** Counts compute and charges state access. */
class Meter {
  used = 0;
  constructor(readonly limit: number) {}
  charge(units: number): void {
    this.used += units;
    if (this.used > this.limit) {
      throw new StrataError('TX_COMPUTE_EXCEEDED', `transaction used more than its compute limit of ${this.limit}`, { limit: this.limit });
    }
  }
}

class MeteredView implements StateView {
  constructor(
    private readonly inner: StateView,
    private readonly meter: Meter,
    private readonly cfg: ChainConfig,
  ) {}
  get(key: Uint8Array): Uint8Array | undefined {
    this.meter.charge(this.cfg.compute.stateRead);
    return this.inner.get(key);
  }
  put(key: Uint8Array, value: Uint8Array): void {
    this.meter.charge(this.cfg.compute.stateWrite + Math.ceil(value.length / 32) * this.cfg.compute.perWord);
    this.inner.put(key, value);
  }
  del(key: Uint8Array): void {
    this.meter.charge(this.cfg.compute.stateWrite);
    this.inner.del(key);
  }
}

/** Shared, per-block inputs of applyTx. */
export interface ExecEnv {
  config: ChainConfig;
  registry: ModuleRegistry;
  block: BlockInfo;
}

/** The context a method runs in (a class, so no closures are created per transaction). */
class MethodContext implements TxContext {
  constructor(
    readonly view: StateView,
    readonly config: ChainConfig,
    readonly block: BlockInfo,
    readonly sender: Uint8Array,
    readonly txHash: Uint8Array,
    readonly txIndex: number,
    readonly registry: ModuleRegistry,
    private readonly meter: Meter,
    private readonly module: string,
    private readonly events: RuntimeEvent[],
  ) {}
  charge(units: number): void {
    this.meter.charge(units);
  }
  get computeLeft(): number {
    return Math.max(0, this.meter.limit - this.meter.used);
  }
  emit(type: string, data: RuntimeEvent['data']): void {
    this.events.push({ module: this.module, type, data });
  }
}

/**
 * Applies one transaction. Envelope failures (wrong chain, bad nonce, fee too low, cannot pay
 * the fee, unknown method) throw: such a transaction cannot be in a valid block. A method that
 * throws yields a `failed` receipt: its state changes are dropped, the fee is kept and the
 * nonce is used, so it cannot be replayed.
 */
export function applyTx(view: StateView, env: ExecEnv, vtx: VerifiedTx, txIndex: number): Receipt {
  const { config, registry } = env;
  checkTxStatic(config, registry, vtx);
  const { tx } = vtx;
  const meter = new Meter(tx.computeLimit);
  meter.charge(intrinsicCompute(config));
  const metered = new MeteredView(view, meter, config);
  const senderKey = accountKey(vtx.sender);
  const raw = metered.get(senderKey);
  const acct = raw ? decodeAccount(raw) : { balance: 0n, nonce: 0 };
  if (tx.nonce !== acct.nonce) {
    throw new StrataError(
      tx.nonce < acct.nonce ? 'TX_NONCE_TOO_LOW' : 'TX_NONCE_TOO_HIGH',
      `nonce ${tx.nonce} does not match the account's next nonce ${acct.nonce}`,
      { expected: acct.nonce, got: tx.nonce, sender: toHex(vtx.sender) },
    );
  }
  if (acct.balance < tx.fee) {
    throw new StrataError('TX_INSUFFICIENT_FUNDS', `balance ${acct.balance} cannot pay the fee ${tx.fee}`, {
      balance: acct.balance.toString(),
      fee: tx.fee.toString(),
      sender: toHex(vtx.sender),
    });
  }
  acct.balance -= tx.fee;
  acct.nonce += 1;
  metered.put(senderKey, encodeAccount(acct));

  const events: RuntimeEvent[] = [];
  const child = new OverlayView(view);
  const childMetered = new MeteredView(child, meter, config);
  const ctx = new MethodContext(childMetered, config, env.block, vtx.sender, vtx.hash, txIndex, registry, meter, tx.module, events);
  const handler = registry.require(tx.module).methods[tx.method];
  try {
    handler?.(ctx, tx.args);
    child.commitTo(view);
    return { txHash: vtx.hash, status: 'ok', computeUsed: meter.used, fee: tx.fee, events };
  } catch (e) {
    // A local fault (the node's disk or engine) says nothing about the transaction: abort the
    // whole import (it is retried) instead of recording a failure other nodes would not see.
    if (isLocalFault(e)) throw e;
    if (isEngineExhaustion(e)) {
      throw new StrataError('ENGINE_FAULT', `engine fault in ${tx.module}.${tx.method}: ${(e as Error).message}; the import is aborted and retried`, {}, { cause: e });
    }
    const err = toStrataError(e);
    return {
      txHash: vtx.hash,
      status: 'failed',
      computeUsed: Math.min(meter.used, tx.computeLimit),
      fee: tx.fee,
      error: { code: err.code, message: err.message },
      events: [],
    };
  }
}

/** Result of applying a block's body. */
export interface BlockResult {
  receipts: Receipt[];
  /** Block-level events (hooks, fee settlement). */
  events: RuntimeEvent[];
  bytesUsed: number;
  /** Sum of the transactions' declared compute limits. */
  computeDeclared: number;
  fees: bigint;
  burned: bigint;
}

/** Checks a block's transactions against the block limits (bytes and declared compute). */
export function checkBlockLimits(config: ChainConfig, txs: readonly VerifiedTx[]): { bytes: number; compute: number } {
  let bytes = 0;
  let compute = 0;
  for (const t of txs) {
    bytes += t.bytes.length;
    compute += t.tx.computeLimit;
  }
  if (bytes > config.maxBlockBytes) {
    throw new StrataError('BLOCK_LIMIT_EXCEEDED', `block carries ${bytes} bytes of transactions, the limit is ${config.maxBlockBytes}`);
  }
  if (compute > config.maxBlockCompute) {
    throw new StrataError('BLOCK_LIMIT_EXCEEDED', `block declares ${compute} compute, the limit is ${config.maxBlockCompute}`);
  }
  return { bytes, compute };
}

/**
 * Applies a whole block: begin hooks, every transaction, end hooks, then fees and reward to
 * the producer. Throws when the block is invalid (limits, an invalid transaction).
 */
export function applyBlock(view: StateView, env: ExecEnv, txs: readonly VerifiedTx[]): BlockResult {
  const { bytes, compute } = checkBlockLimits(env.config, txs);
  const events: RuntimeEvent[] = [];
  for (const m of env.registry.all()) if (m.beginBlock) runHook(view, env, events, m, 'beginBlock');
  const receipts: Receipt[] = [];
  let fees = 0n;
  for (let i = 0; i < txs.length; i++) {
    const r = applyTx(view, env, txs[i] as VerifiedTx, i);
    receipts.push(r);
    fees += r.fee;
  }
  for (const m of env.registry.all()) if (m.endBlock) runHook(view, env, events, m, 'endBlock');
  const burned = (fees * BigInt(env.config.fees.burnBps)) / 10_000n;
  if (fees > 0n || env.config.blockReward > 0n) {
    settleBlockFees(view, env.block.producer, fees, burned, env.config.blockReward);
  }
  return { receipts, events, bytesUsed: bytes, computeDeclared: compute, fees, burned };
}

/** The block-level event a failed begin/end-block hook leaves (its `data.code` is the stable error code). */
export const HOOK_FAILED_EVENT = 'hook_failed';

/**
 * Runs one module's begin/end-block hook in its own overlay. A hook that throws (a module bug,
 * or state it did not expect) has its state changes and events dropped and the block goes on,
 * as a failed transaction's do: the outcome depends only on the state, so every node gets the
 * same state root, and a hook fault can no longer halt the chain (before, the producer could not
 * build a block and every importer refused or retried each one). A `hook_failed` event names the
 * module, the hook and the error's stable code. A local fault (storage, engine exhaustion) still
 * aborts the whole execution: it says nothing about the block and is retried.
 */
function runHook(view: StateView, env: ExecEnv, events: RuntimeEvent[], m: Module, hook: 'beginBlock' | 'endBlock'): void {
  const overlay = new OverlayView(view);
  const own: RuntimeEvent[] = [];
  try {
    m[hook]?.(blockContext(overlay, env, own));
  } catch (e) {
    if (isLocalFault(e)) throw e;
    if (isEngineExhaustion(e)) {
      throw new StrataError('ENGINE_FAULT', `engine fault in ${m.name}.${hook}: ${(e as Error).message}; the import is aborted and retried`, {}, { cause: e });
    }
    events.push({ module: m.name, type: HOOK_FAILED_EVENT, data: { hook, code: toStrataError(e).code } });
    return;
  }
  overlay.commitTo(view);
  for (const ev of own) events.push(ev);
}

/** Writes genesis state: every module's genesis hook. */
export function applyGenesis(view: StateView, env: ExecEnv): RuntimeEvent[] {
  const events: RuntimeEvent[] = [];
  const bctx = blockContext(view, env, events);
  for (const m of env.registry.all()) m.genesis?.(bctx);
  return events;
}

function blockContext(view: StateView, env: ExecEnv, events: RuntimeEvent[]): BlockContext {
  return {
    view,
    config: env.config,
    block: env.block,
    registry: env.registry,
    emit: (module, type, data) => events.push({ module, type, data }),
  };
}
