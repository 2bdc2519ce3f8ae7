/**
 * The sidechain roles' view of the parent chain, over its JSON-RPC: registry state, deposits
 * with finality, and sending signed transactions (registration, bonds, checkpoints, evidence,
 * deposits, withdrawals). Also the deposit watcher: a driver loop that keeps the L1-final
 * deposits a validator may mint.
 */
import type { Logger } from 'pino';
import { fromHex, fromQuantity, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx, signTx } from '@strata/runtime';
import type { DepositSource } from './engine.js';
import type { SidechainMetrics } from './metrics.js';
import type { DepositRecord } from './registry.js';
import type { SetChange } from './validator-set.js';

/** A registration as `sidechain_get` returns it. */
export interface SidechainSummary {
  chainId: number;
  name: string;
  genesisHash: string;
  checkpointInterval: number;
  checkpoints: number;
  lastCheckpointHeight: number;
  deposits: number;
  /** Unbonding entries created so far. */
  unbondings?: number;
  epoch: number;
  validators: { index: number; edPub: string; stake: string; votingPower?: string; slashed: boolean; owner: string }[];
  /** Recorded set changes not yet applied at a checkpoint. */
  pendingChanges?: { id: number; kind: string; edPub: string; amount: string; l1Height: number }[];
  stake: string;
  escrow: string;
  bondPool: string;
}

/** A receipt as the parent's `tx_getReceipt` returns it. */
export interface L1Receipt {
  status: string;
  blockNumber: string;
  error: { code: string; message: string } | null;
  events?: { module: string; type: string; data: Record<string, unknown> }[];
}

/** JSON-RPC client of a parent chain's registry. */
export class L1Client {
  readonly rpc: RpcClient;
  private cfg: { chainId: number; perByte: bigint; perCompute: bigint; maxBlockCompute: number } | undefined;

  constructor(readonly url: string) {
    this.rpc = new RpcClient(url, { timeoutMs: 10_000 });
  }

  async chainId(): Promise<number> {
    return (await this.config()).chainId;
  }

  private async config() {
    if (!this.cfg) {
      const c = await this.rpc.call<{ chainId: string | number; fees: { perByte: string; perCompute: string }; maxBlockCompute?: number | string }>('chain_getConfig');
      this.cfg = { chainId: Number(fromQuantity(c.chainId)), perByte: BigInt(c.fees.perByte), perCompute: BigInt(c.fees.perCompute), maxBlockCompute: c.maxBlockCompute === undefined ? Number.MAX_SAFE_INTEGER : Number(c.maxBlockCompute) };
    }
    return this.cfg;
  }

  /** Most compute one parent block holds (no transaction may declare more). */
  async maxBlockCompute(): Promise<number> {
    return (await this.config()).maxBlockCompute;
  }

  async sidechain(chainId: number): Promise<SidechainSummary | null> {
    return this.rpc.call<SidechainSummary | null>('sidechain_get', [chainId]);
  }

  async list(): Promise<SidechainSummary[]> {
    return this.rpc.call<SidechainSummary[]>('sidechain_list');
  }

  async deposits(chainId: number, from: number): Promise<{ finalizedHeight: number; deposits: (Omit<DepositRecord, 'from' | 'to' | 'amount'> & { from: string; to: string; amount: string; final: boolean })[] }> {
    return this.rpc.call('sidechain_deposits', [chainId, from]);
  }

  async setChanges(chainId: number, from: number): Promise<{ finalizedHeight: number; recorded: number; applied: number; changes: { id: number; kind: number; edPub: string; blsPub: string; producer: string; amount: string; l1Height: number; final: boolean }[] }> {
    return this.rpc.call('sidechain_setChanges', [chainId, from]);
  }

  /** The child chain holding `chainId` on the parent (any kind: sidechain, ZK, optimistic), or null. */
  async chainIdOwner(chainId: number): Promise<string | null> {
    return this.rpc.call<string | null>('sidechain_chainIdOwner', [chainId]);
  }

  async checkpoint(chainId: number, index: number): Promise<{ height: number; blockHash: string; stateRoot: string } | null> {
    return this.rpc.call('sidechain_checkpoint', [chainId, index]);
  }

  async balance(address: Uint8Array): Promise<bigint> {
    return fromQuantity((await this.rpc.call<{ balance: string }>('state_getAccount', [toHex(address)])).balance);
  }

  /** Signs and sends a transaction; returns its hash. */
  async send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number): Promise<Uint8Array> {
    const c = await this.config();
    const a = await this.rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
    const probe = encodeTx(signTx({ chainId: c.chainId, nonce: Number(fromQuantity(a.nextNonce)), fee: 0n, computeLimit, module, method, args }, key.secretKey));
    const fee = BigInt(probe.length + 16) * c.perByte + BigInt(computeLimit) * c.perCompute;
    const raw = encodeTx(signTx({ chainId: c.chainId, nonce: Number(fromQuantity(a.nextNonce)), fee, computeLimit, module, method, args }, key.secretKey));
    return fromHex(await this.rpc.call<string>('tx_sendRaw', [toHex(raw)]), 32);
  }

  /** Waits for a transaction's receipt; throws its error as a StrataError if it failed. */
  async waitReceipt(hash: Uint8Array, timeoutMs = 30_000): Promise<L1Receipt> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.rpc.call<L1Receipt | null>('tx_getReceipt', [toHex(hash)]);
      if (r) {
        if (r.status === '0x0') throw new StrataError('TX_EXECUTION_FAILED', `${r.error?.code ?? 'failed'}: ${r.error?.message ?? ''}`, { code: r.error?.code });
        return r;
      }
      if (Date.now() > end) throw new StrataError('NETWORK', `transaction ${toHex(hash)} was not included within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** Sends and waits for inclusion. */
  async sendAndWait(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number): Promise<L1Receipt> {
    return this.waitReceipt(await this.send(key, module, method, args, computeLimit));
  }
}


/** Options of the deposit watcher. */
export interface DepositWatcherOptions {
  chainId: number;
  /** Poll interval (default 500 ms). */
  intervalMs?: number;
}

/** Driver loop keeping the parent-final deposits of one sidechain. */
export class DepositWatcher implements DepositSource {
  private readonly final = new Map<number, DepositRecord>();
  private readonly finalChanges = new Map<number, SetChange>();
  private nextChange = 0;
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private running = false;

  constructor(
    readonly opts: DepositWatcherOptions,
    private readonly l1: L1Client,
    private readonly log: Logger,
    private readonly metrics?: SidechainMetrics,
  ) {}

  finalDeposit(id: number): DepositRecord | undefined {
    return this.final.get(id);
  }

  finalSetChange(id: number): SetChange | undefined {
    return this.finalChanges.get(id);
  }

  start(): void {
    this.running = true;
    const tick = async () => {
      try {
        await this.poll();
      } catch (e) {
        this.metrics?.roleErrors.inc({ role: 'deposit-watcher' });
        this.log.debug({ err: (e as Error).message }, 'deposit watcher: parent unreachable');
      }
      if (this.running) this.timer = setTimeout(tick, this.opts.intervalMs ?? 500);
    };
    void tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One poll of the parent. */
  async poll(): Promise<void> {
    await this.pollSetChanges();
    for (;;) {
      const res = await this.l1.deposits(this.opts.chainId, this.next);
      let advanced = false;
      for (const d of res.deposits) {
        if (!d.final) return;
        this.final.set(d.id, { id: d.id, from: fromHex(d.from, 20), to: fromHex(d.to, 20), amount: BigInt(d.amount), l1Height: d.l1Height });
        this.log.info({ id: d.id, amount: d.amount, to: d.to, l1Height: d.l1Height }, 'deposit final on the parent');
        this.next = d.id + 1;
        advanced = true;
      }
      if (!advanced || res.deposits.length < 100) return;
    }
  }

  private async pollSetChanges(): Promise<void> {
    for (;;) {
      const res = await this.l1.setChanges(this.opts.chainId, this.nextChange);
      let advanced = false;
      for (const c of res.changes) {
        if (!c.final) return;
        this.finalChanges.set(c.id, { kind: c.kind, edPub: fromHex(c.edPub, 32), blsPub: fromHex(c.blsPub, 48), producer: fromHex(c.producer, 20), amount: BigInt(c.amount) });
        this.log.info({ id: c.id, kind: c.kind, edPub: c.edPub, amount: c.amount, l1Height: c.l1Height }, 'validator-set change final on the parent');
        this.nextChange = c.id + 1;
        advanced = true;
      }
      if (!advanced || res.changes.length < 100) return;
    }
  }
}
