/**
 * How the ZK roles see the L1: its JSON-RPC (`RpcZkL1Client`) or an in-process node's public
 * API (`NodeZkL1Client`). The L1 side of the RPC (`zkL1RpcMethods`: the `zk_rollup` module's
 * state as canonical hex) is registered on the L1 node's server by whoever composes it.
 */
import type { Chain } from '@strata/chain';
import { decode, encode, fromHex, fromQuantity, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient, RpcError, type MethodSpec } from '@strata/rpc';
import { createHash } from 'node:crypto';
import { decodeTx, encodeTx, getAccount, minimumFee, signTx, type ChainConfig } from '@strata/runtime';
import {
  CommitBatchArgs,
  hasExited,
  readZkBatch,
  readZkDeposit,
  readZkRollup,
  ZK_MODULE,
  ZkBatchCodec,
  ZkDepositCodec,
  ZkRollupCodec,
  zkEscrowAddress,
  type ZkBatchRecord,
  type ZkDeposit,
  type ZkRollupRecord,
} from './parent-modules.js';

/** The L1 as the ZK roles use it. */
export interface ZkL1Client {
  chainId(): Promise<number>;
  head(): Promise<number>;
  rollup(id: number): Promise<ZkRollupRecord | undefined>;
  deposit(id: number, i: number): Promise<ZkDeposit | undefined>;
  batch(id: number, b: number): Promise<ZkBatchRecord | undefined>;
  exited(id: number, index: number): Promise<boolean>;
  balance(address: Uint8Array): Promise<bigint>;
  /** Signs and submits a `zk_rollup` call; resolves with the tx hash once the L1 pooled it. */
  send(key: KeyPair, method: string, args: Uint8Array, computeLimit: number): Promise<Uint8Array>;
  receipt(hash: Uint8Array): Promise<{ status: 'ok' | 'failed'; error?: string; height: number } | undefined>;
  /**
   * The posted bytes of verified batch `b`, read back from the L1 block that verified it (the
   * `commitBatch` transaction whose data hashes to the batch record's `dataHash`).
   */
  batchData(id: number, b: number): Promise<Uint8Array | undefined>;
}

/**
 * Finds a verified batch's posted data in the L1 block that verified it: L1 data alone (the
 * module keeps only the data's hash; the bytes are in the block body).
 */
export function findBatchData(chain: Chain, id: number, b: number): Uint8Array | undefined {
  const rec = readZkBatch(chain.stateReader, id, b);
  if (!rec) return undefined;
  const ref = chain.blockAt(rec.height);
  if (!ref) return undefined;
  for (const raw of chain.store.getBody(ref.hash) ?? []) {
    let tx: ReturnType<typeof decodeTx>;
    try {
      tx = decodeTx(raw);
    } catch {
      continue;
    }
    if (tx.module !== ZK_MODULE || tx.method !== 'commitBatch') continue;
    const a = (() => {
      try {
        return decode(CommitBatchArgs, tx.args);
      } catch {
        return undefined;
      }
    })();
    if (!a || a.rollupId !== id) continue;
    const h = createHash('sha256').update(a.data).digest();
    if (toHex(h) === toHex(rec.dataHash) && toHex(a.newRoot) === toHex(rec.root)) return a.data;
  }
  return undefined;
}

function signCall(cfg: Pick<ChainConfig, 'chainId' | 'fees'>, key: KeyPair, nonce: number, method: string, args: Uint8Array, computeLimit: number): Uint8Array {
  const base = { chainId: cfg.chainId, nonce, fee: 0n, computeLimit, module: ZK_MODULE, method, args };
  const probe = encodeTx(signTx(base, key.secretKey)).length + 24;
  return encodeTx(signTx({ ...base, fee: minimumFee(cfg as ChainConfig, probe, computeLimit) }, key.secretKey));
}

/** ZkL1Client over an in-process node. */
export class NodeZkL1Client implements ZkL1Client {
  private readonly nonces = new Map<string, number>();
  constructor(
    private readonly node: { chain: Chain; submitTx(raw: Uint8Array): unknown; mempool?: { nextNonce(a: Uint8Array, chainNonce: number): number } },
  ) {}
  private get r() {
    return this.node.chain.stateReader;
  }
  async chainId() {
    return this.node.chain.config.chainId;
  }
  async head() {
    return this.node.chain.head.meta.height;
  }
  async rollup(id: number) {
    return readZkRollup(this.r, id);
  }
  async deposit(id: number, i: number) {
    return readZkDeposit(this.r, id, i);
  }
  async batch(id: number, b: number) {
    return readZkBatch(this.r, id, b);
  }
  async exited(id: number, index: number) {
    return hasExited(this.r, id, index);
  }
  async batchData(id: number, b: number) {
    return findBatchData(this.node.chain, id, b);
  }
  async balance(address: Uint8Array) {
    return getAccount(this.r, address).balance;
  }
  async send(key: KeyPair, method: string, args: Uint8Array, computeLimit: number) {
    const chainNonce = this.node.chain.account(key.address).nonce;
    const k = toHex(key.address);
    const nonce = this.node.mempool ? this.node.mempool.nextNonce(key.address, chainNonce) : Math.max(chainNonce, this.nonces.get(k) ?? 0);
    const res = this.node.submitTx(signCall(this.node.chain.config, key, nonce, method, args, computeLimit)) as { hash: Uint8Array };
    this.nonces.set(k, nonce + 1);
    return res.hash;
  }
  async receipt(hash: Uint8Array) {
    const l = this.node.chain.lookupTx(hash);
    if (!l) return undefined;
    return { status: l.receipt.status, height: l.height, ...(l.receipt.error ? { error: `${l.receipt.error.code}: ${l.receipt.error.message}` } : {}) };
  }
}

function intParam(p: unknown[], i: number, name: string): number {
  const v = p[i];
  const n = typeof v === 'number' ? v : (() => {
    try {
      return Number(fromQuantity(v));
    } catch {
      return Number.NaN;
    }
  })();
  if (!Number.isSafeInteger(n) || n < 0) throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer`);
  return n;
}

/** L1 JSON-RPC methods of the `zk_rollup` module's state (records as canonical hex `raw`). */
export function zkL1RpcMethods(node: { chain: Chain }): Record<string, MethodSpec> {
  const r = () => node.chain.stateReader;
  return {
    zkl1_rollup: {
      minParams: 1,
      maxParams: 1,
      description: 'A registered ZK-rollup: root, queue, batches, exodus flag, escrow balance.',
      handler: (p) => {
        const id = intParam(p, 0, 'rollupId');
        const rec = readZkRollup(r(), id);
        if (!rec) return null;
        return {
          raw: toHex(encode(ZkRollupCodec, rec)),
          root: toHex(rec.root),
          batchCount: rec.batchCount,
          queueHead: rec.queueHead,
          queueTail: rec.queueTail,
          frozen: rec.frozen,
          depth: rec.depth,
          batchSize: rec.batchSize,
          priorityDeadline: rec.priorityDeadline,
          maxBatchGap: rec.maxBatchGap,
          vkHash: toHex(rec.vkHash),
          escrow: `0x${getAccount(r(), zkEscrowAddress(id)).balance.toString(16)}`,
        };
      },
    },
    zkl1_deposit: {
      minParams: 2,
      maxParams: 2,
      handler: (p) => {
        const d = readZkDeposit(r(), intParam(p, 0, 'rollupId'), intParam(p, 1, 'index'));
        return d ? { raw: toHex(encode(ZkDepositCodec, d)), height: d.height } : null;
      },
    },
    zkl1_batch: {
      minParams: 2,
      maxParams: 2,
      handler: (p) => {
        const b = readZkBatch(r(), intParam(p, 0, 'rollupId'), intParam(p, 1, 'index'));
        return b ? { raw: toHex(encode(ZkBatchCodec, b)), height: b.height } : null;
      },
    },
    zkl1_batchData: {
      minParams: 2,
      maxParams: 2,
      description: 'The posted bytes of a verified batch, read from the L1 block that verified it.',
      handler: (p) => {
        const d = findBatchData(node.chain, intParam(p, 0, 'rollupId'), intParam(p, 1, 'index'));
        return d ? toHex(d) : null;
      },
    },
    zkl1_exited: { minParams: 2, maxParams: 2, handler: (p) => hasExited(r(), intParam(p, 0, 'rollupId'), intParam(p, 1, 'index')) },
  };
}

/** ZkL1Client over JSON-RPC. */
export class RpcZkL1Client implements ZkL1Client {
  readonly rpc: RpcClient;
  private cfg: Pick<ChainConfig, 'chainId' | 'fees'> | undefined;
  constructor(url: string) {
    this.rpc = new RpcClient(url, { timeoutMs: 15_000 });
  }
  private async config() {
    if (this.cfg) return this.cfg;
    const c = await this.rpc.call<{ chainId: string; fees: { perByte: string; perCompute: string; burnBps: number } }>('chain_getConfig');
    this.cfg = { chainId: Number(fromQuantity(c.chainId)), fees: { perByte: fromQuantity(c.fees.perByte), perCompute: fromQuantity(c.fees.perCompute), burnBps: c.fees.burnBps } };
    return this.cfg;
  }
  async chainId() {
    return (await this.config()).chainId;
  }
  async head() {
    return Number(fromQuantity((await this.rpc.call<{ number: string }>('chain_getHead', ['latest'])).number));
  }
  async rollup(id: number) {
    const o = await this.rpc.call<{ raw: string } | null>('zkl1_rollup', [id]);
    return o ? decode(ZkRollupCodec, fromHex(o.raw)) : undefined;
  }
  async deposit(id: number, i: number) {
    const o = await this.rpc.call<{ raw: string } | null>('zkl1_deposit', [id, i]);
    return o ? decode(ZkDepositCodec, fromHex(o.raw)) : undefined;
  }
  async batch(id: number, b: number) {
    const o = await this.rpc.call<{ raw: string } | null>('zkl1_batch', [id, b]);
    return o ? decode(ZkBatchCodec, fromHex(o.raw)) : undefined;
  }
  async exited(id: number, index: number) {
    return this.rpc.call<boolean>('zkl1_exited', [id, index]);
  }
  async batchData(id: number, b: number) {
    const h = await this.rpc.call<string | null>('zkl1_batchData', [id, b]);
    return h ? fromHex(h) : undefined;
  }
  async balance(address: Uint8Array) {
    return fromQuantity((await this.rpc.call<{ balance: string }>('state_getAccount', [toHex(address)])).balance);
  }
  async send(key: KeyPair, method: string, args: Uint8Array, computeLimit: number) {
    const cfg = await this.config();
    const a = await this.rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
    return fromHex(await this.rpc.call<string>('tx_sendRaw', [toHex(signCall(cfg, key, Number(fromQuantity(a.nextNonce)), method, args, computeLimit))]), 32);
  }
  async receipt(hash: Uint8Array) {
    const r = await this.rpc.call<{ status: string; blockNumber: string; error: { code: string; message: string } | null } | null>('tx_getReceipt', [toHex(hash)]);
    if (!r) return undefined;
    return { status: r.status === '0x1' ? ('ok' as const) : ('failed' as const), height: Number(fromQuantity(r.blockNumber)), ...(r.error ? { error: `${r.error.code}: ${r.error.message}` } : {}) };
  }
}
