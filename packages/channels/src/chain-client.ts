/**
 * How channel roles see their parent chain: only through its JSON-RPC (the same methods on the
 * L1 and on the optimistic L2: chain_getHead, chain_getConfig, state_getAccount, tx_sendRaw,
 * tx_getReceipt, tx_get, chain_getBlockByNumber) plus `chan_getState`, which whoever composes the adjudicator into a chain
 * registers on that chain's RPC server ({@link channelChainRpcMethods}).
 */
import { decode, encode, fromHex, fromQuantity, StrataError, struct, toHex, toQuantity, uint, varBytes, type KeyPair } from '@strata/primitives';
import { RpcClient, RpcError, type MethodSpec } from '@strata/rpc';
import { encodeTx, signTx } from '@strata/runtime';
import type { StateReader } from '@strata/state';
import {
  ADJUDICATOR_COMPUTE,
  ADJUDICATOR_MODULE,
  channelKeys,
  ChannelRecordCodec,
  CloseLogCodec,
  L2_FORCE_AFTER_L1_BLOCKS,
  PreimageRecordCodec,
  SwapRecordCodec,
  type ChannelRecord,
  type SwapRecord,
} from './adjudicator.js';

/** A transaction's receipt as {@link ChainClient.waitReceipt} and {@link ChainClient.txStatus} give it. */
export interface TxReceipt {
  ok: boolean;
  error?: string;
  /** The height (block number) of the block holding it. */
  height: number;
}

/** The head of a parent chain: its clock (what {@link ChainClient.height} reads) and its own block. */
export interface ChainHead {
  /** The adjudicator's time: the head height, or on an L2 the L1 origin it serves as `l1Clock`. */
  clock: number;
  /** The chain's own block number of the head (equal to `clock` on an L1). */
  number: number;
  /** The head block's hash. */
  hash: Uint8Array;
}

/** A parent chain as channel roles use it. */
export interface ChainClient {
  /** Chain id, address prefix and fee schedule. */
  info(): Promise<{ chainId: number; addressPrefix: string; perByte: bigint; perCompute: bigint }>;
  /** The chain's clock: its head height, or the L1 origin an L2 serves as `l1Clock` (the adjudicator's time there). */
  height(): Promise<number>;
  /** The head: its clock and its own block (number and hash). */
  head(): Promise<ChainHead>;
  /**
   * The hash of the chain's own canonical block at `number` (an L2's block, not its L1
   * origin's); undefined above the head. A block that a reorganisation replaced reads as
   * another hash.
   */
  blockHash(number: number): Promise<Uint8Array | undefined>;
  /**
   * Where a transaction is: its receipt when a canonical block holds it, `'pending'` while the
   * chain's pool holds it, undefined when the chain knows it not (never arrived, evicted, or
   * dropped with a block a reorganisation replaced).
   */
  txStatus(hash: Uint8Array): Promise<TxReceipt | 'pending' | undefined>;
  /** Raw state value under a key (null when absent). */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  balance(address: Uint8Array): Promise<bigint>;
  /** Signs and submits a call to the adjudicator; resolves with the tx hash. */
  send(key: KeyPair, method: string, args: Uint8Array): Promise<Uint8Array>;
  /** Waits for inclusion; resolves with the status and error of the receipt. */
  waitReceipt(hash: Uint8Array, timeoutMs?: number): Promise<TxReceipt>;
  /** Dev chains: mine `n` blocks (no-op where unsupported). */
  mine(n: number): Promise<void>;
  readonly module: string;
}

/** ChainClient over JSON-RPC. */
export class RpcChainClient implements ChainClient {
  readonly rpc: RpcClient;
  private cached: { chainId: number; addressPrefix: string; perByte: bigint; perCompute: bigint } | undefined;
  /** Per sender: our transactions sent at nonces from the chain's next one on, by nonce (see sendWithRaw). */
  private readonly nonces = new Map<string, Map<number, Uint8Array>>();
  private sendQueue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly url: string,
    readonly module: string = ADJUDICATOR_MODULE,
  ) {
    this.rpc = new RpcClient(url, { timeoutMs: 15_000 });
  }

  async info() {
    if (!this.cached) {
      const c = await this.rpc.call<{ chainId: string; addressPrefix: string; fees: { perByte: string; perCompute: string } }>('chain_getConfig');
      this.cached = { chainId: Number(fromQuantity(c.chainId)), addressPrefix: c.addressPrefix, perByte: fromQuantity(c.fees.perByte), perCompute: fromQuantity(c.fees.perCompute) };
    }
    return this.cached;
  }
  async height() {
    return (await this.head()).clock;
  }
  async head(): Promise<ChainHead> {
    // An L2 whose modules count its L1 origin serves it as `l1Clock`: the adjudicator's time there.
    const h = await this.rpc.call<{ number: string; hash: string; l1Clock?: string }>('chain_getHead');
    const number = Number(fromQuantity(h.number));
    return { clock: typeof h.l1Clock === 'string' ? Number(fromQuantity(h.l1Clock)) : number, number, hash: fromHex(h.hash, 32) };
  }
  async blockHash(number: number): Promise<Uint8Array | undefined> {
    const b = await this.rpc.call<{ hash: string } | null>('chain_getBlockByNumber', [toQuantity(number)]);
    return b ? fromHex(b.hash, 32) : undefined;
  }
  async txStatus(hash: Uint8Array): Promise<TxReceipt | 'pending' | undefined> {
    const r = await this.receipt(hash);
    if (r) return r;
    // tx_get answers for an included transaction too: one included between the two reads is
    // reported pending, and its receipt is read by whoever waits for it
    return (await this.rpc.call<unknown>('tx_get', [toHex(hash)])) ? 'pending' : undefined;
  }
  async get(key: Uint8Array) {
    const v = await this.rpc.call<string | null>('chan_getState', [toHex(key)]);
    return v ? fromHex(v) : undefined;
  }
  async balance(address: Uint8Array) {
    const a = await this.rpc.call<{ balance: string }>('state_getAccount', [toHex(address)]);
    return fromQuantity(a.balance);
  }
  send(key: KeyPair, method: string, args: Uint8Array): Promise<Uint8Array> {
    return this.sendWithRaw(key, method, args).then((r) => r.hash);
  }
  /** As `send`, also returning the signed transaction's bytes (what a forced inclusion submits). */
  sendWithRaw(key: KeyPair, method: string, args: Uint8Array, computeLimit = ADJUDICATOR_COMPUTE): Promise<{ hash: Uint8Array; raw: Uint8Array }> {
    // One transaction at a time per client, so nonces never collide.
    const run = this.sendQueue.then(async () => {
      const info = await this.info();
      const acct = await this.rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
      const k = toHex(key.address);
      const chainNext = Number(fromQuantity(acct.nextNonce));
      // The first nonce from the chain's next at which no transaction of ours is still known.
      // The chain's count may leave out a transaction we sent (an RPC whose nextNonce does not
      // count its pool): its nonce is skipped while the chain knows it. One the chain no longer
      // knows (a reorganisation dropped it with its block, the pool evicted it) is a gap that no
      // block fills until a transaction takes its nonce: this one. (Before, our count after the
      // last one sent held whenever that last one was known: a dropped nonce n below a pending
      // n+1 was never filled, and n+1 and every later send stayed pending forever.)
      const mine = this.nonces.get(k) ?? new Map<number, Uint8Array>();
      this.nonces.set(k, mine);
      for (const n of mine.keys()) if (n < chainNext) mine.delete(n);
      let nonce = chainNext;
      for (;;) {
        const h = mine.get(nonce);
        if (!h || (await this.txStatus(h)) === undefined) break;
        nonce++;
      }
      const base = { chainId: info.chainId, nonce, fee: 0n, computeLimit, module: this.module, method, args };
      const probe = encodeTx(signTx(base, key.secretKey)).length + 24;
      const fee = BigInt(probe) * info.perByte + BigInt(computeLimit) * info.perCompute;
      const raw = encodeTx(signTx({ ...base, fee }, key.secretKey));
      const hash = fromHex(await this.rpc.call<string>('tx_sendRaw', [toHex(raw)]), 32);
      mine.set(nonce, hash);
      return { hash, raw };
    });
    this.sendQueue = run.catch(() => undefined);
    return run;
  }
  /** The receipt of a transaction, if it is included yet. */
  async receipt(hash: Uint8Array): Promise<TxReceipt | undefined> {
    const r = await this.rpc.call<{ status: string; error: { code: string; message: string } | string | null; blockNumber: string } | null>('tx_getReceipt', [toHex(hash)]);
    if (!r) return undefined;
    const err = r.error === null ? undefined : typeof r.error === 'string' ? r.error : `${r.error.code}: ${r.error.message}`;
    return { ok: r.status === '0x1', height: Number(fromQuantity(r.blockNumber)), ...(err ? { error: err } : {}) };
  }
  async waitReceipt(hash: Uint8Array, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.receipt(hash);
      if (r) return r;
      if (Date.now() > deadline) throw new StrataError('NETWORK', `transaction ${toHex(hash)} was not included within ${timeoutMs} ms`);
      await new Promise((r2) => setTimeout(r2, 50));
    }
  }
  async mine(n: number) {
    try {
      await this.rpc.call('dev_mine', [n]);
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
    }
  }
}

/** Settings of {@link ForcedInclusionChainClient}. */
export interface ForcedInclusionOptions {
  /** The L1 under the L2 (its JSON-RPC): where the forced transaction is queued. */
  l1Url: string;
  /** The L2's rollup id on that L1 (its inbox is `op_inbox/<id>`). */
  rollupId: number;
  /** L1 blocks a sent transaction may stay out of the L2 before it is forced. Default `L2_FORCE_AFTER_L1_BLOCKS` (4). */
  forceAfterL1Blocks?: number;
  /** How long `waitReceipt` waits in all (the forced path takes L1 blocks), ms. Default 180 000. */
  timeoutMs?: number;
  /** The L1 inbox module's name (default `op_inbox/<rollupId>`). */
  inboxModule?: string;
  /**
   * The L2's sequencing window (L1 blocks within which it must include a forced transaction;
   * its config's `sequencingWindow`). Default 10 (the devnet L2's). A forced transaction the L2 has not run once its
   * clock is this far past the L1 block of the forceTx counts as unknown (the L2 refused it).
   */
  sequencingWindow?: number;
}

/** The L1 inbox's forceTx arguments (the optimistic package's `ForceTxArgs`: rollup id, raw L2 transaction). */
const ForceTxWire = struct('ForceTxArgs', { rollupId: uint, raw: varBytes(128 * 1024) });
/** Compute an `op_inbox.forceTx` declares (as the optimistic package's L3 roles do). */
const FORCE_TX_COMPUTE = 20_000;

/**
 * A channel node's (or watchtower's) client of an optimistic L2 that does not depend on the L2
 * sequencer for inclusion. Its transactions go to the sequencer as usual; one the L2 has not
 * included `forceAfterL1Blocks` L1 blocks after it was sent (the sequencer censors a close, a
 * penalty, a preimage reveal, or lost it) is queued on the L1 through the L2's inbox
 * (`op_inbox.forceTx`, paid by the same key on the L1), which the L2 must include within its
 * sequencing window: a close or penalty lands in L1 time whatever the sequencer does — the path
 * the optimistic package's roles of an L3 already take (`ParentRollupClient`).
 */
export class ForcedInclusionChainClient implements ChainClient {
  readonly module: string;
  private readonly l1: RpcChainClient;
  private readonly sent = new Map<string, { raw: Uint8Array; key: KeyPair; sentAt: number; forced: boolean; forcedAt?: number; forceHash?: Uint8Array | undefined; forcing?: Promise<void> | undefined }>();
  /** Transactions forced through the L1 inbox so far. */
  forced = 0;

  constructor(
    readonly l2: RpcChainClient,
    private readonly opts: ForcedInclusionOptions,
  ) {
    if (!Number.isInteger(opts.rollupId) || opts.rollupId < 0) throw new StrataError('CONFIG_INVALID', 'forced inclusion: rollupId must be a non-negative integer');
    this.module = l2.module;
    this.l1 = new RpcChainClient(opts.l1Url, opts.inboxModule ?? `op_inbox/${opts.rollupId}`);
  }
  info() {
    return this.l2.info();
  }
  height() {
    return this.l2.height();
  }
  head() {
    return this.l2.head();
  }
  blockHash(number: number) {
    return this.l2.blockHash(number);
  }
  /**
   * The L2's answer, except for a transaction of ours it knows not that this client still
   * tracks: `'pending'` while it waits to be forced, is being forced, or was forced through the
   * L1 inbox within the sequencing window (the L2 must run it: {@link waitReceipt} forces it when
   * overdue). Before, the L2's null passed through: a sequencer that answered null for our
   * transaction made every look send a new one, each forced again on the L1 (an L1 fee per look).
   */
  async txStatus(hash: Uint8Array): Promise<TxReceipt | 'pending' | undefined> {
    const r = await this.l2.txStatus(hash);
    if (r !== undefined) return r;
    const s = this.sent.get(toHex(hash));
    if (!s) return undefined;
    if (s.forcedAt === undefined) return 'pending';
    return (await this.l2.height()) <= s.forcedAt + (this.opts.sequencingWindow ?? 10) ? 'pending' : undefined;
  }
  get(key: Uint8Array) {
    return this.l2.get(key);
  }
  balance(address: Uint8Array) {
    return this.l2.balance(address);
  }
  mine(n: number) {
    return this.l2.mine(n);
  }
  private async l1Height(): Promise<number> {
    return Number(fromQuantity((await this.l1.rpc.call<{ number: string }>('chain_getHead')).number));
  }
  async send(key: KeyPair, method: string, args: Uint8Array): Promise<Uint8Array> {
    const { hash, raw } = await this.l2.sendWithRaw(key, method, args);
    this.sent.set(toHex(hash), { raw, key, sentAt: await this.l1Height(), forced: false });
    return hash;
  }
  /**
   * Forces `hash` through the L1 inbox if it is overdue. One force per transaction: concurrent
   * waiters share it, and a forceTx already sent is waited for (across polls), not sent again —
   * only one the L1 included as failed is retried (each copy costs an L1 fee; the L2 runs the
   * transaction once, its nonce refuses the rest).
   */
  private forceIfOverdue(hash: Uint8Array): Promise<void> {
    const s = this.sent.get(toHex(hash));
    if (!s || s.forced) return Promise.resolve();
    if (!s.forcing) {
      s.forcing = this.force(s).finally(() => {
        s.forcing = undefined;
      });
    }
    return s.forcing;
  }
  private async force(s: { raw: Uint8Array; key: KeyPair; sentAt: number; forced: boolean; forcedAt?: number; forceHash?: Uint8Array | undefined }): Promise<void> {
    if (!s.forceHash) {
      if ((await this.l1Height()) < s.sentAt + (this.opts.forceAfterL1Blocks ?? L2_FORCE_AFTER_L1_BLOCKS)) return;
      s.forceHash = (await this.l1.sendWithRaw(s.key, 'forceTx', encode(ForceTxWire, { rollupId: this.opts.rollupId, raw: s.raw }), FORCE_TX_COMPUTE)).hash;
    }
    const r = await this.l1.receipt(s.forceHash);
    if (!r) return; // pending on the L1: looked at again at the next poll
    if (!r.ok) {
      s.forceHash = undefined;
      throw new StrataError('CHANNEL_STATE', `forcing a transaction through the L1 inbox failed: ${r.error ?? 'unknown error'}`);
    }
    s.forced = true;
    s.forcedAt = r.height;
    this.forced++;
  }
  async waitReceipt(hash: Uint8Array, timeoutMs = this.opts.timeoutMs ?? 180_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.l2.receipt(hash);
      if (r) {
        this.sent.delete(toHex(hash));
        return r;
      }
      // retried at the next poll until it goes out (the L1 may be unreachable for a while)
      await this.forceIfOverdue(hash).catch(() => undefined);
      if (Date.now() > deadline) throw new StrataError('NETWORK', `transaction ${toHex(hash)} was not included within ${timeoutMs} ms (forced through the L1 inbox: ${this.sent.get(toHex(hash))?.forced === true})`);
      await new Promise((r2) => setTimeout(r2, 100));
    }
  }
}

/**
 * Sends an adjudicator call and waits for it; resolves with the height of the block holding it,
 * CHANNEL_STATE with the receipt's error when it failed. `onSent` runs with the transaction's
 * hash once the chain accepted it, before the wait (a caller records what it sent).
 */
export async function sendAndWait(chain: ChainClient, key: KeyPair, method: string, args: Uint8Array, onSent?: (hash: Uint8Array) => Promise<void> | void): Promise<number> {
  const h = await chain.send(key, method, args);
  await onSent?.(h);
  return waitIncluded(chain, method, h);
}

/** Waits for a sent adjudicator call as {@link sendAndWait} does. */
export async function waitIncluded(chain: ChainClient, method: string, hash: Uint8Array): Promise<number> {
  const r = await chain.waitReceipt(hash);
  if (!r.ok) throw new StrataError('CHANNEL_STATE', `${chain.module}.${method} failed on chain: ${r.error ?? 'unknown error'}`, { method });
  return r.height;
}

/** Typed reads of adjudicator state through a ChainClient. */
export class AdjudicatorReader {
  private readonly keys;
  constructor(readonly chain: ChainClient) {
    this.keys = channelKeys(chain.module);
  }
  async channel(id: Uint8Array): Promise<ChannelRecord | undefined> {
    const raw = await this.chain.get(this.keys.channel(id));
    return raw ? decode(ChannelRecordCodec, raw) : undefined;
  }
  async preimage(hash: Uint8Array): Promise<{ preimage: Uint8Array; height: number } | undefined> {
    const raw = await this.chain.get(this.keys.preimage(hash));
    return raw ? decode(PreimageRecordCodec, raw) : undefined;
  }
  async swap(id: Uint8Array): Promise<SwapRecord | undefined> {
    const raw = await this.chain.get(this.keys.swap(id));
    return raw ? decode(SwapRecordCodec, raw) : undefined;
  }
  async closeCount(): Promise<number> {
    const raw = await this.chain.get(this.keys.closeCount);
    return raw ? decode(uint, raw) : 0;
  }
  async closeEntry(i: number): Promise<{ channelId: Uint8Array; stateHash: Uint8Array; height: number } | undefined> {
    const raw = await this.chain.get(this.keys.close(i));
    return raw ? decode(CloseLogCodec, raw) : undefined;
  }
}

/**
 * The parent-chain RPC method the channel roles need: `chan_getState(key)` reads one raw state
 * value of the chain's head. Register it on the chain's RPC server next to the adjudicator.
 */
export function channelChainRpcMethods(reader: () => StateReader): Record<string, MethodSpec> {
  return {
    chan_getState: {
      minParams: 1,
      maxParams: 1,
      description: 'Raw value of a 32-byte state key at the head (channel adjudicator records, revealed preimages, swaps).',
      handler: (p) => {
        let key: Uint8Array;
        try {
          key = fromHex(String(p[0]), 32);
        } catch (e) {
          throw RpcError.invalidParams(`invalid parameter 0 (key): ${(e as Error).message}`);
        }
        const v = reader().get(key);
        return v ? toHex(v) : null;
      },
    },
  };
}
