/**
 * The channel graph and pathfinding. Channels enter the graph from signed announcements that are
 * checked against the chain (the adjudicator must hold an open channel with those two keys);
 * policies from signed channel updates. `findRoute` runs Dijkstra backwards from the payee, so
 * each hop's amount includes the fees of the hops after it, on a cost of fee + expiry risk +
 * a penalty from mission control (LND's idea: success probabilities learnt from failures,
 * forgotten over time). Local channels use their real spendable balance.
 */
import { bytesKey, toHex } from '@strata/primitives';
import type { ChannelAnnouncement, ChannelUpdate, NodeAnnouncement } from './wire.js';

/** A forwarding policy (one direction of a channel). */
export interface Policy {
  feeBase: bigint;
  feePpm: number;
  cltvDelta: number;
  htlcMin: bigint;
  htlcMax: bigint;
  disabled: boolean;
  timestamp: number;
}

/** A channel in the graph. */
export interface GraphChannel {
  ann: ChannelAnnouncement;
  policies: [Policy | undefined, Policy | undefined];
  updates: [ChannelUpdate | undefined, ChannelUpdate | undefined];
}

/** One hop of a route: the channel taken and what the HTLC on it carries. */
export interface RouteHop {
  channelId: Uint8Array;
  /** Node the hop leads to. */
  node: Uint8Array;
  /** Amount of the HTLC on this channel. */
  amount: bigint;
  /** Expiry of the HTLC on this channel. */
  expiry: number;
}

/** A route from the payer: hops[0] leaves the payer. */
export interface Route {
  hops: RouteHop[];
  /** Total the payer sends (final amount + fees). */
  amount: bigint;
  fee: bigint;
}

/** Mission control: what past attempts taught about each directed channel. */
export class MissionControl {
  private readonly failures = new Map<string, { amount: bigint; at: number }>();
  constructor(private readonly halfLifeMs = 60_000) {}
  private key(channelId: Uint8Array, from: Uint8Array): string {
    return `${bytesKey(channelId)}:${bytesKey(from)}`;
  }
  /** Records that forwarding `amount` from `from` over the channel failed (or succeeded). */
  report(channelId: Uint8Array, from: Uint8Array, amount: bigint, ok: boolean, now = Date.now()): void {
    const k = this.key(channelId, from);
    if (ok) {
      const f = this.failures.get(k);
      if (f && amount >= f.amount) this.failures.delete(k);
      return;
    }
    const f = this.failures.get(k);
    this.failures.set(k, { amount: f && f.amount < amount && now - f.at < this.halfLifeMs ? f.amount : amount, at: now });
  }
  /** Estimated success probability of forwarding `amount`. */
  probability(channelId: Uint8Array, from: Uint8Array, amount: bigint, now = Date.now()): number {
    const f = this.failures.get(this.key(channelId, from));
    if (!f || amount < f.amount) return 0.95;
    const age = (now - f.at) / this.halfLifeMs;
    return Math.min(0.95, 0.01 + 0.94 * (1 - 0.5 ** age));
  }
  get size(): number {
    return this.failures.size;
  }
}

/** Fee a policy charges on `amount`. */
export function policyFee(p: Policy, amount: bigint): bigint {
  return p.feeBase + (amount * BigInt(p.feePpm)) / 1_000_000n;
}

/** The channel graph. */
export class ChannelGraph {
  readonly channels = new Map<string, GraphChannel>();
  readonly nodes = new Map<string, NodeAnnouncement>();

  addChannel(ann: ChannelAnnouncement): boolean {
    const k = bytesKey(ann.channelId);
    if (this.channels.has(k)) return false;
    this.channels.set(k, { ann, policies: [undefined, undefined], updates: [undefined, undefined] });
    return true;
  }
  removeChannel(channelId: Uint8Array): void {
    this.channels.delete(bytesKey(channelId));
  }
  /** Applies a (verified) update if newer. */
  applyUpdate(u: ChannelUpdate): boolean {
    const c = this.channels.get(bytesKey(u.channelId));
    if (!c) return false;
    const d = u.direction === 0 ? 0 : 1;
    const cur = c.policies[d];
    if (cur && cur.timestamp >= u.timestamp) return false;
    c.policies[d] = { feeBase: u.feeBase, feePpm: u.feePpm, cltvDelta: u.cltvDelta, htlcMin: u.htlcMin, htlcMax: u.htlcMax, disabled: u.disabled, timestamp: u.timestamp };
    c.updates[d] = u;
    return true;
  }
  addNode(n: NodeAnnouncement): boolean {
    const k = bytesKey(n.nodeKey);
    const cur = this.nodes.get(k);
    if (cur && cur.timestamp >= n.timestamp) return false;
    this.nodes.set(k, n);
    return true;
  }
  channel(channelId: Uint8Array): GraphChannel | undefined {
    return this.channels.get(bytesKey(channelId));
  }

  /**
   * Cheapest feasible route from `source` to `target` for `amount`, arriving with expiry
   * `finalExpiry`. `localBalance(channelId)` gives the spendable balance of the source's own
   * channels (undefined: not ours). `exclude` drops channels. Returns undefined when none.
   */
  findRoute(
    source: Uint8Array,
    target: Uint8Array,
    amount: bigint,
    finalExpiry: number,
    opts: { mc?: MissionControl; localBalance?: (channelId: Uint8Array) => bigint | undefined; exclude?: Set<string>; maxHops?: number; riskFactor?: number } = {},
  ): Route | undefined {
    const srcK = bytesKey(source);
    const maxHops = opts.maxHops ?? 20;
    const risk = opts.riskFactor ?? 1e-6;
    // adjacency: for each node, the channels that lead INTO it (we walk backwards)
    const into = new Map<string, { ch: GraphChannel; from: Uint8Array; dir: 0 | 1 }[]>();
    for (const ch of this.channels.values()) {
      for (const dir of [0, 1] as const) {
        const from = dir === 0 ? ch.ann.nodeA : ch.ann.nodeB;
        const to = dir === 0 ? ch.ann.nodeB : ch.ann.nodeA;
        const k = bytesKey(to);
        const l = into.get(k) ?? [];
        if (l.length === 0) into.set(k, l);
        l.push({ ch, from, dir });
      }
    }
    interface Label {
      cost: number;
      amount: bigint; // amount that must arrive at this node (incl. downstream fees)
      expiry: number; // expiry of the HTLC arriving at this node
      hops: RouteHop[]; // hops from this node to the target
    }
    const best = new Map<string, Label>();
    const tk = bytesKey(target);
    best.set(tk, { cost: 0, amount, expiry: finalExpiry, hops: [] });
    const queue: [string, Label][] = [[tk, best.get(tk) as Label]];
    const done = new Set<string>();
    while (queue.length > 0) {
      queue.sort((a, b) => a[1].cost - b[1].cost);
      const [nk, label] = queue.shift() as [string, Label];
      if (done.has(nk)) continue;
      done.add(nk);
      if (nk === srcK) break;
      if (label.hops.length >= maxHops) continue;
      for (const e of into.get(nk) ?? []) {
        const fk = bytesKey(e.from);
        if (done.has(fk)) continue;
        if (opts.exclude?.has(bytesKey(e.ch.ann.channelId))) continue;
        const isLocal = fk === srcK;
        // the hop from `from` to this node carries label.amount; `from` (if not the payer) charges its policy
        const pol = e.ch.policies[e.dir];
        if (!isLocal && (!pol || pol.disabled)) continue;
        if (pol && (label.amount < pol.htlcMin || label.amount > pol.htlcMax)) continue;
        if (label.amount > e.ch.ann.capacity) continue;
        if (isLocal) {
          const bal = opts.localBalance?.(e.ch.ann.channelId);
          if (bal === undefined || bal < label.amount) continue;
        }
        const hop: RouteHop = { channelId: e.ch.ann.channelId, node: nk === tk ? target : (this.nodeOf(nk) ?? target), amount: label.amount, expiry: label.expiry };
        const fee = isLocal || !pol ? 0n : policyFee(pol, label.amount);
        const delta = isLocal || !pol ? 0 : pol.cltvDelta;
        const inAmount = label.amount + fee;
        const inExpiry = label.expiry + delta;
        const p = opts.mc ? opts.mc.probability(e.ch.ann.channelId, e.from, label.amount) : 0.95;
        const cost = label.cost + Number(fee) + Number(label.amount) * delta * risk + (1 / p - 1) * 1000;
        const cur = best.get(fk);
        if (cur && cur.cost <= cost) continue;
        const l: Label = { cost, amount: inAmount, expiry: inExpiry, hops: [hop, ...label.hops] };
        best.set(fk, l);
        queue.push([fk, l]);
      }
    }
    const s = best.get(srcK);
    if (!s || s.hops.length === 0) return undefined;
    return { hops: s.hops, amount: s.amount, fee: s.amount - amount };
  }

  private readonly keyByK = new Map<string, Uint8Array>();
  private nodeOf(k: string): Uint8Array | undefined {
    let v = this.keyByK.get(k);
    if (v) return v;
    for (const ch of this.channels.values()) {
      if (bytesKey(ch.ann.nodeA) === k) v = ch.ann.nodeA;
      else if (bytesKey(ch.ann.nodeB) === k) v = ch.ann.nodeB;
      if (v) break;
    }
    if (v) this.keyByK.set(k, v);
    return v;
  }

  /** JSON view. */
  toJson(): { nodes: unknown[]; channels: unknown[] } {
    return {
      nodes: [...this.nodes.values()].map((n) => ({ nodeKey: toHex(n.nodeKey), alias: new TextDecoder().decode(n.alias), addrs: n.addrs.map((a) => new TextDecoder().decode(a)) })),
      channels: [...this.channels.values()].map((c) => ({
        channelId: toHex(c.ann.channelId),
        nodeA: toHex(c.ann.nodeA),
        nodeB: toHex(c.ann.nodeB),
        capacity: c.ann.capacity.toString(),
        policies: c.policies.map((p) => (p ? { feeBase: p.feeBase.toString(), feePpm: p.feePpm, cltvDelta: p.cltvDelta, disabled: p.disabled } : null)),
      })),
    };
  }
}
