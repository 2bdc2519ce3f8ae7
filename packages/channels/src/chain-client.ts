/**
 * How channel roles see their parent chain: only through its JSON-RPC (the same methods on the
 * L1 and on the optimistic L2: chain_getHead, chain_getConfig, state_getAccount, tx_sendRaw,
 * tx_getReceipt) plus `chan_getState`, which whoever composes the adjudicator into a chain
 * registers on that chain's RPC server ({@link channelChainRpcMethods}).
 */
import { decode, fromHex, fromQuantity, StrataError, toHex, uint, type KeyPair } from '@strata/primitives';
import { RpcClient, RpcError, type MethodSpec } from '@strata/rpc';
import { encodeTx, signTx } from '@strata/runtime';
import type { StateReader } from '@strata/state';
import {
  ADJUDICATOR_COMPUTE,
  ADJUDICATOR_MODULE,
  channelKeys,
  ChannelRecordCodec,
  CloseLogCodec,
  PreimageRecordCodec,
  SwapRecordCodec,
  type ChannelRecord,
  type SwapRecord,
} from './adjudicator.js';

/** A parent chain as channel roles use it. */
export interface ChainClient {
  /** Chain id, address prefix and fee schedule. */
  info(): Promise<{ chainId: number; addressPrefix: string; perByte: bigint; perCompute: bigint }>;
  /** The chain's clock: its head height, or the L1 origin an L2 serves as `l1Clock` (the adjudicator's time there). */
  height(): Promise<number>;
  /** Raw state value under a key (null when absent). */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  balance(address: Uint8Array): Promise<bigint>;
  /** Signs and submits a call to the adjudicator; resolves with the tx hash. */
  send(key: KeyPair, method: string, args: Uint8Array): Promise<Uint8Array>;
  /** Waits for inclusion; resolves with the status and error of the receipt. */
  waitReceipt(hash: Uint8Array, timeoutMs?: number): Promise<{ ok: boolean; error?: string; height: number }>;
  /** Dev chains: mine `n` blocks (no-op where unsupported). */
  mine(n: number): Promise<void>;
  readonly module: string;
}

/** ChainClient over JSON-RPC. */
export class RpcChainClient implements ChainClient {
  readonly rpc: RpcClient;
  private cached: { chainId: number; addressPrefix: string; perByte: bigint; perCompute: bigint } | undefined;
  private readonly nonces = new Map<string, number>();
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
    // An L2 whose modules count its L1 origin serves it as `l1Clock`: the adjudicator's time there.
    const h = await this.rpc.call<{ number: string; l1Clock?: string }>('chain_getHead');
    return Number(fromQuantity(typeof h.l1Clock === 'string' ? h.l1Clock : h.number));
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
    // One transaction at a time per client, so nonces never collide.
    const run = this.sendQueue.then(async () => {
      const info = await this.info();
      const acct = await this.rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
      const k = toHex(key.address);
      const nonce = Math.max(Number(fromQuantity(acct.nextNonce)), this.nonces.get(k) ?? 0);
      const base = { chainId: info.chainId, nonce, fee: 0n, computeLimit: ADJUDICATOR_COMPUTE, module: this.module, method, args };
      const probe = encodeTx(signTx(base, key.secretKey)).length + 24;
      const fee = BigInt(probe) * info.perByte + BigInt(ADJUDICATOR_COMPUTE) * info.perCompute;
      const raw = encodeTx(signTx({ ...base, fee }, key.secretKey));
      const hash = fromHex(await this.rpc.call<string>('tx_sendRaw', [toHex(raw)]), 32);
      this.nonces.set(k, nonce + 1);
      return hash;
    });
    this.sendQueue = run.catch(() => undefined);
    return run;
  }
  async waitReceipt(hash: Uint8Array, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.rpc.call<{ status: string; error: { code: string; message: string } | string | null; blockNumber: string } | null>('tx_getReceipt', [toHex(hash)]);
      if (r) {
        const err = r.error === null ? undefined : typeof r.error === 'string' ? r.error : `${r.error.code}: ${r.error.message}`;
        return { ok: r.status === '0x1', height: Number(fromQuantity(r.blockNumber)), ...(err ? { error: err } : {}) };
      }
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

/** Sends an adjudicator call and waits for it; CHANNEL_STATE with the receipt's error when it failed. */
export async function sendAndWait(chain: ChainClient, key: KeyPair, method: string, args: Uint8Array): Promise<number> {
  const h = await chain.send(key, method, args);
  const r = await chain.waitReceipt(h);
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
