/**
 * The explorer's own read API over the layers' JSON-RPC: search (hash, height or address on
 * every layer), an account on every layer side by side, and each layer's risk panel.
 */
import { decodeAddress, encodeAddress, fromHex, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { type ExplorerLayer, kindIs, type LayerWatcher } from './indexer.js';
import { type ChainConfigJson, channelsRisk, l1Risk, optimisticRisk, type RiskRow, type RollupConfigJson, type SidechainInfoJson, sidechainRisk, type ZkRollupJson, zkRisk } from './risk.js';

/** One search result. */
export interface SearchHit {
  layer: string;
  type: 'block' | 'tx' | 'address';
  /** Block number, tx hash or 0x address. */
  id: string;
  /** Hash link of the page to open. */
  link: string;
  summary: string;
}

/** The read API; one instance per explorer. */
export class ExplorerApi {
  private readonly clients = new Map<string, RpcClient>();

  constructor(
    private readonly layers: ExplorerLayer[],
    private readonly watcher: LayerWatcher,
  ) {
    for (const l of layers) this.clients.set(l.name, new RpcClient(l.rpc, { timeoutMs: 3000 }));
  }

  /** The layers that are chains (blocks, transactions, accounts): all but the channel network. */
  private chains(): ExplorerLayer[] {
    return this.layers.filter((l) => l.kind !== 'channels' && l.kind !== 'zk');
  }

  private client(name: string): RpcClient {
    return this.clients.get(name) as RpcClient;
  }

  private prefix(name: string): string {
    return this.watcher.status().find((s) => s.name === name)?.prefix ?? (name === 'l1' ? 'st' : 'sl');
  }

  /** Parses an address in any layer's form (bech32m with any prefix, or 0x hex) to 0x hex; undefined if it is none. */
  static addressHex(q: string): string | undefined {
    if (/^0x[0-9a-fA-F]{40}$/.test(q)) return q.toLowerCase();
    try {
      return toHex(decodeAddress(q));
    } catch {
      return undefined;
    }
  }

  /** Search on every layer at once. */
  async search(qRaw: string): Promise<SearchHit[]> {
    const q = qRaw.trim();
    const hits: SearchHit[] = [];
    const addr = ExplorerApi.addressHex(q);
    if (addr) return [{ layer: '*', type: 'address', id: addr, link: `#/address/${addr}`, summary: 'account on every layer' }];
    if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
      await Promise.all(
        this.chains().map(async (l) => {
          const c = this.client(l.name);
          const [tx, block] = await Promise.all([
            c.call<{ hash: string; blockNumber: string | null; module: string; method: string } | null>('tx_get', [q]).catch(() => null),
            c.call<{ number: string } | null>('chain_getBlockByHash', [q, false]).catch(() => null),
          ]);
          if (tx) hits.push({ layer: l.name, type: 'tx', id: q, link: `#/layer/${l.name}/tx/${q}`, summary: `${tx.module}.${tx.method}${tx.blockNumber ? ` in block #${Number(tx.blockNumber)}` : ' (pending)'}` });
          if (block) hits.push({ layer: l.name, type: 'block', id: String(Number(block.number)), link: `#/layer/${l.name}/block/${Number(block.number)}`, summary: `block #${Number(block.number)}` });
        }),
      );
    } else if (/^\d+$/.test(q)) {
      await Promise.all(
        this.chains().map(async (l) => {
          const b = await this.client(l.name)
            .call<{ number: string; hash: string; transactions: unknown[] } | null>('chain_getBlockByNumber', [`0x${Number(q).toString(16)}`, false])
            .catch(() => null);
          if (b) hits.push({ layer: l.name, type: 'block', id: q, link: `#/layer/${l.name}/block/${q}`, summary: `block #${q} ${b.hash.slice(0, 18)}… ${b.transactions.length} txs` });
        }),
      );
    }
    return hits.sort((a, b) => this.layers.findIndex((l) => l.name === a.layer) - this.layers.findIndex((l) => l.name === b.layer));
  }

  /** One account on every layer: its address in each layer's form, balance and nonce (or the layer's error). */
  async account(q: string): Promise<{ hex: string; layers: { layer: string; address: string; balance: string | null; nonce: number | null; error: string | null }[] } | undefined> {
    const hex = ExplorerApi.addressHex(q);
    if (!hex) return undefined;
    const bytes = fromHex(hex, 20);
    const layers = await Promise.all(
      this.chains().map(async (l) => {
        const address = encodeAddress(this.prefix(l.name), bytes);
        try {
          const a = await this.client(l.name).call<{ balance: string; nonce: string }>('state_getAccount', [hex]);
          return { layer: l.name, address, balance: BigInt(a.balance).toString(), nonce: Number(a.nonce), error: null };
        } catch (e) {
          return { layer: l.name, address, balance: null, nonce: null, error: (e as Error).message };
        }
      }),
    );
    return { hex, layers };
  }

  /** The risk panel of a layer, from the configs its chain and its parent report. */
  async risk(name: string): Promise<RiskRow[] | undefined> {
    const l = this.layers.find((x) => x.name === name);
    if (!l) return undefined;
    if (l.kind === 'l1') return l1Risk(await this.client(name).call<ChainConfigJson>('chain_getConfig'), await this.observedBlockMs(name));
    if (kindIs(l.kind, 'optimistic') && l.parent) {
      const rc = await this.client(name).call<RollupConfigJson>('rollup_getConfig');
      try {
        rc.batcher = encodeAddress(this.prefix(l.parent), fromHex(rc.batcher, 20));
      } catch {
        // keep the hex
      }
      const pc = await this.client(l.parent).call<ChainConfigJson>('chain_getConfig');
      return optimisticRisk(rc, { name: l.parent, blockMs: (await this.observedBlockMs(l.parent)) ?? pc.targetBlockTimeMs ?? 0, confirmations: pc.confirmations ?? 0 });
    }
    if (l.kind === 'sidechain' && l.parent) {
      const info = await this.client(name).call<SidechainInfoJson>('sidechain_info');
      return sidechainRisk(info, { name: l.parent, blockMs: (await this.observedBlockMs(l.parent)) ?? 0 });
    }
    if (l.kind === 'channels' && l.parent) {
      const list = await this.client(name).call<{ toSelfDelay: number }[]>('channel_list');
      const graph = await this.client(name).call<{ channels: unknown[] }>('channel_graph');
      return channelsRisk({ toSelfDelay: list[0]?.toSelfDelay ?? null, channels: graph.channels.length }, { name: l.parent, blockMs: (await this.observedBlockMs(l.parent)) ?? 0 });
    }
    if (l.kind === 'zk' && l.parent) {
      const info = await this.client(name).call<{ rollupId: number; circuitHash?: string; devKeys?: boolean }>('zk_info');
      const rec = await this.client(l.parent).call<Omit<ZkRollupJson, 'rollupId'> | null>('zkl1_rollup', [info.rollupId]);
      if (!rec) return [];
      // devKeys and circuitHash are the operator's word; the key hash is the parent's record.
      return zkRisk(
        { ...rec, rollupId: info.rollupId, ...(info.circuitHash ? { circuitHash: info.circuitHash } : {}), ...(info.devKeys !== undefined ? { devKeys: info.devKeys } : {}) },
        { name: l.parent, blockMs: (await this.observedBlockMs(l.parent)) ?? 0 },
      );
    }
    return [];
  }

  /** Mean block interval over the last 20 blocks (what a user actually waits), if there are enough. */
  private async observedBlockMs(name: string): Promise<number | undefined> {
    const c = this.client(name);
    const head = await c.call<{ number: string; timestamp: string }>('chain_getHead');
    const n = Number(head.number);
    if (n < 3) return undefined;
    const back = Math.max(1, n - 20);
    const old = await c.call<{ timestamp: string } | null>('chain_getBlockByNumber', [`0x${back.toString(16)}`, false]);
    if (!old) return undefined;
    return (Number(head.timestamp) - Number(old.timestamp)) / (n - back);
  }
}
