/**
 * How L2 roles see the L1: only through its JSON-RPC (`RpcL1Client`) or a node's public API
 * (`NodeL1Client`, for in-process devnets and tests). Both speak `L1Client`. The L1 side of the
 * RPC (`rollupL1RpcMethods`) is registered on the L1 node's server by whoever composes it.
 */
import type { Chain } from '@strata/chain';
import { decode, encode, fromHex, fromQuantity, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient, RpcError, type MethodSpec } from '@strata/rpc';
import { encodeTx, getAccount, minimumFee, signTx, type ChainConfig } from '@strata/runtime';
import type { RollupConfig } from './config.js';
import type { L1BlockData } from './derivation.js';
import { InboxMetaCodec } from './inbox-core.js';
import {
  GameCodec,
  OutputCodec,
  OutputsMetaCodec,
  readGame,
  readInboxMeta,
  readOutput,
  readOutputsMeta,
  readTokenWithdrawalState,
  readWithdrawalState,
  rollupModuleNames,
  type GameRecord,
  type OutputRecord,
  type OutputsMeta,
  type WithdrawalL1State,
} from './parent-modules.js';
import { optional, struct, uint } from '@strata/primitives';

/** The L1 as the rollup roles use it. */
export interface L1Client {
  /**
   * The parent's head. `clock` is what its settlement modules count windows and game clocks in
   * when that is not the block height: an L2 parent's L1 origin (`l1OriginClock`).
   */
  head(): Promise<{ height: number; hash: Uint8Array; finalized: number; clock?: number }>;
  block(height: number): Promise<L1BlockData | undefined>;
  outputsMeta(): Promise<OutputsMeta>;
  output(i: number): Promise<OutputRecord | undefined>;
  game(g: number): Promise<GameRecord | undefined>;
  withdrawalState(id: number): Promise<WithdrawalL1State>;
  /** Where token withdrawal `id` stands on the parent (proven, finalized). */
  tokenWithdrawalState(id: number): Promise<WithdrawalL1State>;
  balance(address: Uint8Array): Promise<bigint>;
  /** Signs and submits a call; resolves with the tx hash once the L1 accepted it into its pool. */
  send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number): Promise<Uint8Array>;
  /** Receipt status of an included transaction. */
  receipt(hash: Uint8Array): Promise<{ status: 'ok' | 'failed'; error?: string; height: number } | undefined>;
}

/** Reads an L1 block's transactions to rollup `rollupId`'s modules (with receipt status) from a chain. */
export function l1BlockData(chain: Chain, height: number, rollupId: number): L1BlockData | undefined {
  const ref = chain.blockAt(height);
  if (!ref) return undefined;
  const n = rollupModuleNames(rollupId);
  const mine = new Set([n.bridge, n.inbox, n.disputes]);
  const body = chain.store.getBody(ref.hash) ?? [];
  const receipts = chain.receipts(ref.hash) ?? [];
  const txs = chain.verifyTxs(body).flatMap((v, i) =>
    mine.has(v.tx.module) ? [{ module: v.tx.module, method: v.tx.method, args: v.tx.args, sender: v.sender, ok: receipts[i]?.status === 'ok' }] : [],
  );
  return { height, hash: ref.hash, parentHash: ref.header.parentHash, timestamp: ref.header.timestamp, txs };
}

/** Fee for a call of `bytes` bytes: the minimum plus a little headroom for the fee field itself. */
function signCall(cfg: ChainConfig, key: KeyPair, nonce: number, module: string, method: string, args: Uint8Array, computeLimit: number): Uint8Array {
  const base = { chainId: cfg.chainId, nonce, fee: 0n, computeLimit, module, method, args };
  const probe = encodeTx(signTx(base, key.secretKey)).length + 24;
  return encodeTx(signTx({ ...base, fee: minimumFee(cfg, probe, computeLimit) }, key.secretKey));
}

/** L1Client over an in-process node (its public API: chain reads and `submitTx`). */
export class NodeL1Client implements L1Client {
  private readonly nonces = new Map<string, number>();
  constructor(
    private readonly node: { chain: Chain; submitTx(raw: Uint8Array): unknown },
    private readonly rollup: RollupConfig,
    /** Next nonce counting the node's pool (e.g. `StrataNode.mempool.nextNonce`); default: local tracking. */
    private readonly nextNonce?: (address: Uint8Array) => number,
  ) {}
  async head() {
    const c = this.node.chain;
    return { height: c.head.meta.height, hash: c.head.hash, finalized: c.finalized.meta.height };
  }
  async block(height: number) {
    return l1BlockData(this.node.chain, height, this.rollup.rollupId);
  }
  async outputsMeta() {
    return readOutputsMeta(this.node.chain.stateReader, this.rollup.rollupId);
  }
  async output(i: number) {
    return readOutput(this.node.chain.stateReader, this.rollup.rollupId, i);
  }
  async game(g: number) {
    return readGame(this.node.chain.stateReader, this.rollup.rollupId, g);
  }
  async withdrawalState(id: number) {
    return readWithdrawalState(this.node.chain.stateReader, this.rollup.rollupId, id);
  }
  async tokenWithdrawalState(id: number) {
    return readTokenWithdrawalState(this.node.chain.stateReader, this.rollup.rollupId, id);
  }
  async balance(address: Uint8Array) {
    return getAccount(this.node.chain.stateReader, address).balance;
  }
  async send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number) {
    const k = toHex(key.address);
    const chainNonce = this.node.chain.account(key.address).nonce;
    const nonce = this.nextNonce ? this.nextNonce(key.address) : Math.max(chainNonce, this.nonces.get(k) ?? 0);
    const raw = signCall(this.node.chain.config, key, nonce, module, method, args, computeLimit);
    const res = this.node.submitTx(raw) as { hash: Uint8Array };
    this.nonces.set(k, nonce + 1);
    return res.hash;
  }
  /** Forgets locally tracked nonces (after an L1 reorg dropped transactions). */
  resetNonces(): void {
    this.nonces.clear();
  }
  async receipt(hash: Uint8Array) {
    const l = this.node.chain.lookupTx(hash);
    if (!l) return undefined;
    return { status: l.receipt.status, height: l.height, ...(l.receipt.error ? { error: `${l.receipt.error.code}: ${l.receipt.error.message}` } : {}) };
  }
}

const WdWire = struct('WithdrawalL1Wire', { proven: optional(struct('P', { outputIndex: uint, l1Height: uint })), finalized: uint });

function intParam(p: unknown[], i: number, name: string): number {
  const v = p[i];
  const n = typeof v === 'number' ? v : Number(fromQuantity(v));
  if (!Number.isSafeInteger(n) || n < 0) throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer`);
  return n;
}

/**
 * L1 JSON-RPC methods the rollup roles need: rollup transactions of an L1 block and the
 * settlement modules' state. Records travel as canonical hex (`raw`) plus readable fields.
 * Several rollups on one L1: every method takes the rollup id as an optional last parameter
 * (required when more than one rollup is served).
 */
export function rollupL1RpcMethods(node: { chain: Chain }, rollups: RollupConfig | RollupConfig[]): Record<string, MethodSpec> {
  const r = () => node.chain.stateReader;
  const list = Array.isArray(rollups) ? rollups : [rollups];
  const known = new Set(list.map((c) => c.rollupId));
  const rid = (p: unknown[], i: number): number => {
    if (p.length <= i) {
      if (list.length === 1) return (list[0] as RollupConfig).rollupId;
      throw RpcError.invalidParams(`parameter ${i} (rollupId) is required: this L1 serves rollups ${[...known].join(', ')}`);
    }
    const n = intParam(p, i, 'rollupId');
    if (!known.has(n)) throw RpcError.invalidParams(`unknown rollup ${n}; this L1 serves ${[...known].join(', ')}`);
    return n;
  };
  return {
    rollup_l1Block: {
      minParams: 1,
      maxParams: 2,
      description: 'Rollup-relevant transactions of a canonical L1 block, with receipt status.',
      handler: (p) => {
        const b = l1BlockData(node.chain, intParam(p, 0, 'height'), rid(p, 1));
        if (!b) return null;
        return {
          height: b.height,
          hash: toHex(b.hash),
          parentHash: toHex(b.parentHash),
          timestamp: b.timestamp,
          txs: b.txs.map((t) => ({ module: t.module, method: t.method, args: toHex(t.args), sender: toHex(t.sender), ok: t.ok })),
        };
      },
    },
    rollup_inbox: { maxParams: 1, handler: (p) => ({ raw: toHex(encode(InboxMetaCodec, readInboxMeta(r(), rid(p, 0)))), ...readInboxMeta(r(), rid(p, 0)) }) },
    rollup_outputsMeta: { maxParams: 1, handler: (p) => ({ raw: toHex(encode(OutputsMetaCodec, readOutputsMeta(r(), rid(p, 0)))), ...readOutputsMeta(r(), rid(p, 0)) }) },
    rollup_output: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const o = readOutput(r(), rid(p, 1), intParam(p, 0, 'index'));
        return o ? { raw: toHex(encode(OutputCodec, o)), l2Block: o.l2Block, stateRoot: toHex(o.stateRoot), l1Height: o.l1Height, status: o.status, openGames: o.openGames } : null;
      },
    },
    rollup_game: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const g = readGame(r(), rid(p, 1), intParam(p, 0, 'gameId'));
        return g ? { raw: toHex(encode(GameCodec, g)), outputIndex: g.outputIndex, lo: g.lo, hi: g.hi, turn: g.turn, status: g.status, moves: g.moves } : null;
      },
    },
    rollup_withdrawalL1: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const w = readWithdrawalState(r(), rid(p, 1), intParam(p, 0, 'id'));
        return { raw: toHex(encode(WdWire, { proven: w.proven, finalized: w.finalized ? 1 : 0 })), ...w };
      },
    },
    rollup_tokenWithdrawalL1: {
      minParams: 1,
      maxParams: 2,
      description: "A token withdrawal's state on this (parent) chain: proven against which output, finalized.",
      handler: (p) => {
        const w = readTokenWithdrawalState(r(), rid(p, 1), intParam(p, 0, 'id'));
        return { raw: toHex(encode(WdWire, { proven: w.proven, finalized: w.finalized ? 1 : 0 })), ...w };
      },
    },
  };
}

/** L1Client over JSON-RPC. */
export class RpcL1Client implements L1Client {
  readonly rpc: RpcClient;
  private cfg: ChainConfig | undefined;
  /** `rollupId`: which rollup to read when the L1 serves several (default: the only one). */
  constructor(
    url: string,
    private readonly rollupId?: number,
  ) {
    this.rpc = new RpcClient(url, { timeoutMs: 15_000 });
  }
  private p(...params: unknown[]): unknown[] {
    return this.rollupId === undefined ? params : [...params, this.rollupId];
  }
  private async config(): Promise<ChainConfig> {
    if (this.cfg) return this.cfg;
    const c = await this.rpc.call<{ chainId: string; fees: { perByte: string; perCompute: string; burnBps: number } }>('chain_getConfig');
    // Only the fields signing needs; the rest is unused here.
    this.cfg = { chainId: Number(fromQuantity(c.chainId)), fees: { perByte: fromQuantity(c.fees.perByte), perCompute: fromQuantity(c.fees.perCompute), burnBps: c.fees.burnBps } } as ChainConfig;
    return this.cfg;
  }
  async head() {
    const [h, f] = await Promise.all([this.rpc.call<{ number: string; hash: string; l1Clock?: string }>('chain_getHead', ['latest']), this.rpc.call<{ number: string }>('chain_getHead', ['finalized'])]);
    const head = { height: Number(fromQuantity(h.number)), hash: fromHex(h.hash, 32), finalized: Number(fromQuantity(f.number)) };
    // An L2 hosting children serves its L1 origin, the clock their settlement modules count in.
    return typeof h.l1Clock === 'string' ? { ...head, clock: Number(fromQuantity(h.l1Clock)) } : head;
  }
  async block(height: number): Promise<L1BlockData | undefined> {
    const b = await this.rpc.call<{ height: number; hash: string; parentHash: string; timestamp: number; txs: { module: string; method: string; args: string; sender: string; ok: boolean }[] } | null>('rollup_l1Block', this.p(height));
    if (!b) return undefined;
    return {
      height: b.height,
      hash: fromHex(b.hash, 32),
      parentHash: fromHex(b.parentHash, 32),
      timestamp: b.timestamp,
      txs: b.txs.map((t) => ({ module: t.module, method: t.method, args: fromHex(t.args), sender: fromHex(t.sender, 20), ok: t.ok })),
    };
  }
  async outputsMeta() {
    return decode(OutputsMetaCodec, fromHex((await this.rpc.call<{ raw: string }>('rollup_outputsMeta', this.p())).raw));
  }
  async output(i: number) {
    const o = await this.rpc.call<{ raw: string } | null>('rollup_output', this.p(i));
    return o ? decode(OutputCodec, fromHex(o.raw)) : undefined;
  }
  async game(g: number) {
    const o = await this.rpc.call<{ raw: string } | null>('rollup_game', this.p(g));
    return o ? decode(GameCodec, fromHex(o.raw)) : undefined;
  }
  async withdrawalState(id: number): Promise<WithdrawalL1State> {
    const w = decode(WdWire, fromHex((await this.rpc.call<{ raw: string }>('rollup_withdrawalL1', this.p(id))).raw));
    return w.proven ? { proven: w.proven, finalized: w.finalized === 1 } : { finalized: w.finalized === 1 };
  }
  async tokenWithdrawalState(id: number): Promise<WithdrawalL1State> {
    const w = decode(WdWire, fromHex((await this.rpc.call<{ raw: string }>('rollup_tokenWithdrawalL1', this.p(id))).raw));
    return w.proven ? { proven: w.proven, finalized: w.finalized === 1 } : { finalized: w.finalized === 1 };
  }
  async balance(address: Uint8Array) {
    const a = await this.rpc.call<{ balance: string }>('state_getAccount', [toHex(address)]);
    return fromQuantity(a.balance);
  }
  async send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number) {
    const cfg = await this.config();
    const a = await this.rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
    const raw = signCall(cfg, key, Number(fromQuantity(a.nextNonce)), module, method, args, computeLimit);
    return fromHex(await this.rpc.call<string>('tx_sendRaw', [toHex(raw)]), 32);
  }
  async receipt(hash: Uint8Array) {
    // An L1 reports {code, message}; an L2 parent reports "CODE: message".
    const r = await this.rpc.call<{ status: string; blockNumber: string; error: { code: string; message: string } | string | null } | null>('tx_getReceipt', [toHex(hash)]);
    if (!r) return undefined;
    const error = r.error === null ? undefined : typeof r.error === 'string' ? r.error : `${r.error.code}: ${r.error.message}`;
    return { status: r.status === '0x1' ? ('ok' as const) : ('failed' as const), height: Number(fromQuantity(r.blockNumber)), ...(error ? { error } : {}) };
  }
}

/** Throws a typed error for a failed L1 call (used by CLI flows). */
export function l1CallFailed(what: string, error: string | undefined): never {
  throw new StrataError('L2_BRIDGE', `${what} failed on L1: ${error ?? 'unknown reason'}`);
}

