/**
 * Follows every layer over its JSON-RPC and turns what happens into {@link FeedEvent}s: the
 * settlement modules' receipt events on each chain (via {@link MODULE_EVENT_TEXT}), transfers,
 * deposits credited on a rollup, withdrawals changing stage, and a layer going down or coming
 * back. Works against any running chains (the devnet's or `strata explorer --rpc`'s); it only
 * reads. Reorgs: a block whose parent is not the block recorded below it rewinds the cursor.
 */
import { encodeAddress, fromHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { type EventFeed, MODULE_EVENT_TEXT } from './events.js';

/** A layer the explorer shows. */
export interface ExplorerLayer {
  name: string;
  kind: string;
  parent: string | null;
  rpc: string;
  ws: string;
  /** Nodes of the layer with their own RPC (channel nodes, sidechain validators); `rpc` is the first. */
  members?: { name: string; rpc: string }[];
}

/** What the watcher knows of a layer right now. */
export interface LayerStatus {
  name: string;
  up: boolean;
  head: number | null;
  error: string | null;
  prefix: string | null;
  /** The chain id it reports (a rollup's settlement modules on its parent are keyed by it). */
  chainId: number | null;
  since: number;
}

/** Settlement module name prefixes → the kind of child layer their events are about. */
export const MODULE_PREFIX_KIND: Record<string, string> = { op_: 'optimistic', sc_: 'sidechain', channels: 'channels' };

/** Kinds that are optimistic rollups (the L3 is one whose parent is the L2): same loop, same panels. */
export const OPTIMISTIC_KINDS: readonly string[] = ['optimistic', 'l3'];

/** Whether a layer of `kind` is one of `want` (an `l3` counts as `optimistic`). */
export function kindIs(kind: string, want: string): boolean {
  return kind === want || (want === 'optimistic' && OPTIMISTIC_KINDS.includes(kind));
}

const COIN = 100_000_000n;
/** Base units as coins (8 decimals). */
export function coins(units: string): string {
  let v: bigint;
  try {
    v = BigInt(units);
  } catch {
    return units;
  }
  const frac = (v % COIN).toString().padStart(8, '0').replace(/0+$/, '');
  return `${v / COIN}${frac ? `.${frac}` : ''} STRA`;
}

interface BlockJson {
  number: string;
  hash: string;
  parentHash: string;
  transactions: (string | { kind?: string; status?: string; hash?: string | null; events?: { module: string; type: string; data: Record<string, string | number | boolean> }[] })[];
}

interface ReceiptJson {
  status: string;
  events?: { module: string; type: string; data: Record<string, string | number | boolean> }[];
}

/** Options of {@link LayerWatcher}. */
export interface LayerWatcherOptions {
  /** Poll interval, ms (default 400). */
  intervalMs?: number;
  /** Blocks of history replayed at start (default 200). */
  history?: number;
}

/** Polls every layer and feeds events; {@link LayerWatcher.status} tells which layers are up. */
export class LayerWatcher {
  private readonly statuses = new Map<string, LayerStatus>();
  private readonly clients = new Map<string, RpcClient>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Layers that answered or failed at least once (their first state is no news). */
  private readonly contacted = new Set<string>();
  private readonly intervalMs: number;
  private readonly history: number;

  constructor(
    readonly layers: ExplorerLayer[],
    private readonly feed: EventFeed,
    opts: LayerWatcherOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 400;
    this.history = opts.history ?? 200;
    for (const l of layers) {
      this.statuses.set(l.name, { name: l.name, up: false, head: null, error: null, prefix: null, chainId: null, since: Date.now() });
      this.clients.set(l.name, new RpcClient(l.rpc, { timeoutMs: 3000 }));
    }
  }

  /** Every layer's status. */
  status(): LayerStatus[] {
    return this.layers.map((l) => this.statuses.get(l.name) as LayerStatus);
  }

  /** Starts one poll loop per layer. */
  start(): void {
    for (const l of this.layers) {
      const loop = kindIs(l.kind, 'optimistic') ? this.rollupLoop(l) : l.kind === 'channels' ? this.channelsLoop(l) : l.kind === 'zk' ? this.zkLoop(l) : this.chainLoop(l);
      const tick = async () => {
        if (this.stopped) return;
        try {
          await loop();
          this.mark(l, true, null);
        } catch (e) {
          this.mark(l, false, (e as Error).message);
        }
        if (!this.stopped) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            void tick();
          }, this.intervalMs);
          this.timers.add(t);
        }
      };
      void tick();
    }
  }

  /** Stops polling. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private mark(l: ExplorerLayer, up: boolean, error: string | null): void {
    const s = this.statuses.get(l.name) as LayerStatus;
    const changed = s.up !== up;
    const first = !this.contacted.has(l.name);
    this.contacted.add(l.name);
    s.error = error;
    if (!changed && !first) return;
    s.up = up;
    s.since = Date.now();
    if (first && up) return;
    this.feed.push({ layer: l.name, chain: l.name, kind: up ? 'layer.up' : 'layer.down', text: up ? `${l.name} is up again (head #${s.head})` : `${l.name} is DOWN: ${error}`, data: { error } });
  }

  private prefixOf(layer: string): string {
    return this.statuses.get(layer)?.prefix ?? 'st';
  }

  private addr(hex: string, layer: string): string {
    try {
      return encodeAddress(this.prefixOf(layer), fromHex(hex, 20));
    } catch {
      return hex;
    }
  }

  /**
   * The child layer a settlement module's event is about: modules are instances keyed by the
   * child's chain id (`op_bridge/901`), so the id names the layer; without one, the first child
   * of the module's kind.
   */
  private childOf(chain: string, module: string): string {
    const [base, id] = module.split('/');
    for (const [prefix, kind] of Object.entries(MODULE_PREFIX_KIND)) {
      if (!(base as string).startsWith(prefix)) continue;
      const children = this.layers.filter((l) => l.parent === chain && kindIs(l.kind, kind));
      const byId = id === undefined ? undefined : children.find((l) => this.statuses.get(l.name)?.chainId === Number(id));
      const c = byId ?? children[0];
      if (c) return c.name;
    }
    return chain;
  }

  /** A ZK-rollup: each batch and its proof status as it changes (proven, verified on the parent). */
  private zkLoop(l: ExplorerLayer): () => Promise<void> {
    const client = this.clients.get(l.name) as RpcClient;
    const seen = new Map<number, string>();
    let first = true;
    return async () => {
      const s = this.statuses.get(l.name) as LayerStatus;
      s.prefix ??= this.prefixOf(l.parent ?? 'l1');
      const batches = await client.call<{ index?: number; number?: string; status?: string }[]>('zk_getBatches');
      s.head = batches.length;
      this.mark(l, true, null);
      for (const [i, b] of batches.entries()) {
        const id = typeof b.index === 'number' ? b.index : i;
        const st = String(b.status ?? 'unknown');
        if (seen.get(id) === st) continue;
        seen.set(id, st);
        this.feed.push({ layer: l.name, chain: l.name, kind: 'zk.batch', text: `ZK batch ${id}: ${st}`, data: { ...b }, ...(first ? { replay: true } : {}) });
      }
      first = false;
    };
  }

  /** A payment-channel network: channels appearing in the gossiped graph, and each node's channels changing state. */
  private channelsLoop(l: ExplorerLayer): () => Promise<void> {
    const client = this.clients.get(l.name) as RpcClient;
    const members = (l.members ?? [{ name: l.name, rpc: l.rpc }]).map((m) => ({ ...m, client: new RpcClient(m.rpc, { timeoutMs: 3000 }) }));
    const known = new Set<string>();
    const versions = new Map<string, number>();
    let first = true;
    return async () => {
      const s = this.statuses.get(l.name) as LayerStatus;
      s.prefix ??= this.prefixOf(l.parent ?? 'l1');
      const graph = await client.call<{ nodes: { nodeKey: string; alias: string }[]; channels: { channelId: string; nodeA: string; nodeB: string; capacity: string }[] }>('channel_graph');
      s.head = graph.channels.length;
      this.mark(l, true, null);
      const alias = (k: string) => graph.nodes.find((n) => n.nodeKey === k)?.alias || `${k.slice(0, 10)}…`;
      for (const c of graph.channels) {
        if (known.has(c.channelId)) continue;
        known.add(c.channelId);
        this.feed.push({ layer: l.name, chain: l.name, kind: 'channel.opened', text: `channel ${c.channelId.slice(0, 12)}… open: ${alias(c.nodeA)} ↔ ${alias(c.nodeB)}, capacity ${coins(c.capacity)}`, data: c, ...(first ? { replay: true } : {}) });
      }
      for (const m of members) {
        const list = await m.client.call<{ channelId: string; peerAlias: string | null; status: string; version: number; local: string; remote: string; initiator: boolean }[]>('channel_list').catch(() => []);
        for (const ch of list) {
          // Each side sees the same update; report it from the channel's initiator only.
          if (!ch.initiator) continue;
          const before = versions.get(ch.channelId);
          versions.set(ch.channelId, ch.version);
          if (before === undefined || before === ch.version) continue;
          this.feed.push({ layer: l.name, chain: l.name, kind: 'channel.updated', text: `channel ${ch.channelId.slice(0, 12)}… ${m.name} ↔ ${ch.peerAlias ?? 'peer'} at state ${ch.version}: ${coins(ch.local)} / ${coins(ch.remote)} (${ch.status})`, data: { ...ch, node: m.name } });
        }
      }
      first = false;
    };
  }

  private async config(l: ExplorerLayer, client: RpcClient): Promise<void> {
    const s = this.statuses.get(l.name) as LayerStatus;
    if (s.prefix) return;
    const c = await client.call<{ addressPrefix: string; chainId: string }>('chain_getConfig');
    s.prefix = c.addressPrefix;
    s.chainId = Number(c.chainId);
  }

  /** A chain whose receipts carry module events (the L1, and any chain hosting settlement modules). */
  private chainLoop(l: ExplorerLayer): () => Promise<void> {
    const client = this.clients.get(l.name) as RpcClient;
    const hashes = new Map<number, string>();
    let next = -1;
    return async () => {
      await this.config(l, client);
      const head = Number((await client.call<{ number: string }>('chain_getHead')).number);
      (this.statuses.get(l.name) as LayerStatus).head = head;
      this.mark(l, true, null);
      const replayTo = next < 0 ? head : -1;
      if (next < 0) next = Math.max(1, head - this.history + 1);
      let fetched = 0;
      while (next <= head && fetched < 50 && !this.stopped) {
        const b = await client.call<BlockJson | null>('chain_getBlockByNumber', [`0x${next.toString(16)}`, false]);
        if (!b) break;
        const prev = hashes.get(next - 1);
        if (prev !== undefined && prev !== b.parentHash) {
          // Reorg: step back until the recorded chain and the node's agree.
          hashes.delete(next - 1);
          next = Math.max(1, next - 1);
          continue;
        }
        hashes.set(next, b.hash);
        hashes.delete(next - 500);
        const txs = b.transactions as string[];
        if (txs.length > 0) {
          const receipts = await client.batch(txs.map((h) => ({ method: 'tx_getReceipt', params: [h] })));
          let transfers = 0;
          let moved = 0n;
          receipts.forEach((r, i) => {
            if (!('result' in r) || !r.result) return;
            const rc = r.result as ReceiptJson;
            for (const ev of rc.events ?? []) {
              if (ev.module === 'bank' && ev.type === 'transfer') {
                transfers++;
                moved += BigInt(String(ev.data.amount ?? '0'));
                continue;
              }
              // `op_bridge/901.deposit` reads as `op_bridge.deposit` of the layer with chain id 901.
              const fmt = MODULE_EVENT_TEXT[`${ev.module.split('/')[0]}.${ev.type}`];
              const child = this.childOf(l.name, ev.module);
              const out = fmt?.(ev.data, { chain: l.name, child, coins, addr: (h, layer) => this.addr(h, layer) });
              if (!out) continue;
              this.feed.push({ layer: out.layer ?? l.name, chain: l.name, kind: out.kind, text: out.text, block: next, tx: txs[i] as string, data: { ...ev.data, module: ev.module, type: ev.type }, ...(next <= replayTo ? { replay: true } : {}) });
            }
          });
          if (transfers > 0) {
            this.feed.push({
              layer: l.name,
              chain: l.name,
              kind: 'transfers',
              text: `block #${next}: ${transfers} transfer${transfers === 1 ? '' : 's'} (${coins(moved.toString())})`,
              block: next,
              data: { transfers, amount: moved.toString(), hash: b.hash },
              ...(next <= replayTo ? { replay: true } : {}),
            });
          }
        }
        next++;
        fetched++;
      }
    };
  }

  /** An optimistic rollup: deposits credited, transfers and withdrawals started in its blocks; withdrawal stages. */
  private rollupLoop(l: ExplorerLayer): () => Promise<void> {
    const client = this.clients.get(l.name) as RpcClient;
    const stages = new Map<number, string>();
    let next = -1;
    let lastStagePoll = 0;
    return async () => {
      await this.config(l, client);
      const head = Number((await client.call<{ number: string }>('chain_getHead')).number);
      (this.statuses.get(l.name) as LayerStatus).head = head;
      this.mark(l, true, null);
      const replayTo = next < 0 ? head : -1;
      if (next < 0) next = Math.max(1, head - this.history + 1);
      const parent = l.parent ?? 'l1';
      while (next <= head && !this.stopped) {
        const upto = Math.min(head, next + 19);
        const calls = [];
        for (let n = next; n <= upto; n++) calls.push({ method: 'chain_getBlockByNumber', params: [`0x${n.toString(16)}`, true] });
        const blocks = await client.batch(calls);
        for (const [i, r] of blocks.entries()) {
          const n = next + i;
          if (!('result' in r) || !r.result) continue;
          const b = r.result as BlockJson;
          let transfers = 0;
          for (const t of b.transactions) {
            if (typeof t === 'string') continue;
            if (t.status !== 'ok') continue;
            for (const ev of t.events ?? []) {
              const replay = n <= replayTo ? { replay: true } : {};
              if (ev.module === 'l2bridge' && ev.type === 'deposit') {
                this.feed.push({ layer: l.name, chain: l.name, kind: 'deposit.credited', text: `deposit #${ev.data.id} credited on ${l.name} in block #${n}: ${coins(String(ev.data.amount))} to ${this.addr(String(ev.data.to), l.name)}`, block: n, data: ev.data, ...replay });
              } else if (ev.module === 'l2bridge' && ev.type === 'withdrawal') {
                this.feed.push({ layer: l.name, chain: l.name, kind: 'withdrawal.started', text: `withdrawal #${ev.data.id} started on ${l.name} in block #${n}: ${coins(String(ev.data.amount))} to ${this.addr(String(ev.data.to), parent)} (waits for a root and the challenge window)`, block: n, ...(t.hash ? { tx: t.hash } : {}), data: ev.data, ...replay });
              } else if (ev.module === 'bank' && ev.type === 'transfer') transfers++;
              else {
                // Settlement modules hosted by this rollup (the L3's `op_inbox/902`… on the L2).
                const fmt = MODULE_EVENT_TEXT[`${ev.module.split('/')[0]}.${ev.type}`];
                const out = fmt?.(ev.data, { chain: l.name, child: this.childOf(l.name, ev.module), coins, addr: (h, layer) => this.addr(h, layer) });
                if (out) this.feed.push({ layer: out.layer ?? l.name, chain: l.name, kind: out.kind, text: out.text, block: n, ...(t.hash ? { tx: t.hash } : {}), data: { ...ev.data, module: ev.module, type: ev.type }, ...replay });
              }
            }
          }
          if (transfers > 0) this.feed.push({ layer: l.name, chain: l.name, kind: 'transfers', text: `block #${n}: ${transfers} transfer${transfers === 1 ? '' : 's'}`, block: n, data: { transfers, hash: b.hash }, ...(n <= replayTo ? { replay: true } : {}) });
        }
        next = upto + 1;
      }
      if (Date.now() - lastStagePoll >= 1000) {
        lastStagePoll = Date.now();
        const list = await client.call<{ id: number; amount: string; to: string; stage: string; outputIndex: number | null; readyAtL1: number | null }[]>('rollup_listWithdrawals');
        for (const w of list) {
          const before = stages.get(w.id);
          if (before === w.stage) continue;
          stages.set(w.id, w.stage);
          if (w.stage === 'in challenge window' || w.stage === 'ready') {
            const text =
              w.stage === 'ready'
                ? `withdrawal #${w.id} READY to finalize on ${parent}: ${coins(w.amount)} to ${this.addr(w.to, parent)} (strata bridge finalize ${w.id})`
                : `withdrawal #${w.id} in the challenge window of output ${w.outputIndex} (ready at ${parent} block #${w.readyAtL1})`;
            this.feed.push({ layer: l.name, chain: l.name, kind: w.stage === 'ready' ? 'withdrawal.ready' : 'withdrawal.window', text, data: { ...w }, ...(before === undefined && replayTo >= 0 ? { replay: true } : {}) });
          }
        }
      }
    };
  }
}
