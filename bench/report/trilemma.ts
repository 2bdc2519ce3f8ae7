/**
 * `npm run report -- --trilemma`: the seed's claim that scaling on-chain costs decentralization,
 * measured on a simulated clock. N proof-of-work nodes (equal hash power, heaviest = longest chain,
 * first seen wins a tie) on a full mesh of shaped links (latency, bandwidth); a block reaches a peer
 * after latency + size / bandwidth + the time the peer needs to verify it. That verification time
 * is not assumed: it is measured in the same run, by decoding and recovering the signers of real
 * signed Strata transfers (the node's import hot path), so bigger blocks cost what they cost here.
 * The sweep raises the block size at a fixed interval and lowers the interval at a fixed size, and
 * reports the orphan (stale) rate, the bandwidth and the CPU each node needs — the quantities that
 * decide who can afford to run a node (Bitcoin's block-size debate; CKB's NC-Max adapts its
 * interval to the observed orphan rate).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_MNEMONIC, deriveKeyPairs, encode, initHashing } from '@strata/primitives';
import { encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec, verifyRawTx } from '@strata/runtime';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** Settings of {@link runTrilemma}. */
export interface TrilemmaOptions {
  nodes?: number;
  /** One-way link latency, ms (default 100). */
  latencyMs?: number;
  /** Link bandwidth, Mbit/s (default 20). */
  bandwidthMbps?: number;
  /** Blocks simulated per point (default 2000). */
  blocks?: number;
  /** Block sizes (bytes) of the size sweep, at `baseIntervalMs`. */
  sizes?: number[];
  /** Block intervals (ms) of the interval sweep, at `baseSize`. */
  intervals?: number[];
  baseIntervalMs?: number;
  baseSize?: number;
  outDir?: string;
  progress?: (done: number) => void;
  seed?: number;
}

/** One simulated point. */
export interface TrilemmaPoint {
  sweep: 'size' | 'interval';
  blockBytes: number;
  intervalMs: number;
  orphanRate: number;
  /** Bytes per second each node receives. */
  bandwidthPerNode: number;
  /** Share of one core each node spends verifying blocks. */
  cpuPerNode: number;
  /** Transfers per second the chain carries (main chain only). */
  tps: number;
}

/** A seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Measures the verification cost of one signed transfer on this machine (µs) and its size (bytes). */
export async function measureVerify(count = 2000): Promise<{ usPerTx: number; txBytes: number }> {
  await initHashing();
  const keys = deriveKeyPairs(DEV_MNEMONIC, 8);
  const raws = [];
  for (let i = 0; i < count; i++) {
    const k = keys[i % keys.length];
    if (!k) continue;
    raws.push(encodeTx(signTx({ chainId: 1337, nonce: i, fee: 2000n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: (keys[(i + 1) % keys.length] ?? k).address, amount: BigInt(1000 + i) }) }, k.secretKey)));
  }
  for (const r of raws.slice(0, 200)) verifyRawTx(r); // warm up (JIT, native addon)
  const t0 = performance.now();
  for (const r of raws) verifyRawTx(r);
  const us = ((performance.now() - t0) * 1000) / raws.length;
  return { usPerTx: us, txBytes: raws.reduce((s, r) => s + r.length, 0) / raws.length };
}

/** Simulates one point: returns orphan rate, bandwidth and CPU per node. */
export function simulate(p: { nodes: number; latencyMs: number; bandwidthMbps: number; blocks: number; blockBytes: number; intervalMs: number; verifyMsPerBlock: number; seed: number }): Omit<TrilemmaPoint, 'sweep' | 'tps'> & { mainBlocks: number; durationMs: number } {
  const rand = rng(p.seed);
  // Block i: parent, height, miner, time found.
  const parent: number[] = [-1];
  const height: number[] = [0];
  const tip = new Array<number>(p.nodes).fill(0);
  const seen: Set<number>[] = Array.from({ length: p.nodes }, () => new Set([0]));
  // Events: arrival of block b at node n at time t (a min-heap by time would be faster; blocks are few).
  const arrivals: { t: number; node: number; block: number }[] = [];
  const hopMs = p.latencyMs + (p.blockBytes * 8) / (p.bandwidthMbps * 1000) + p.verifyMsPerBlock;
  let t = 0;
  let found = 0;
  const deliver = (until: number) => {
    arrivals.sort((a, b) => a.t - b.t);
    while (arrivals.length > 0 && (arrivals[0] as { t: number }).t <= until) {
      const a = arrivals.shift() as { t: number; node: number; block: number };
      seen[a.node]?.add(a.block);
      if ((height[a.block] as number) > (height[tip[a.node] as number] as number)) tip[a.node] = a.block;
    }
  };
  while (found < p.blocks) {
    t += -Math.log(1 - rand()) * p.intervalMs;
    deliver(t);
    const miner = Math.floor(rand() * p.nodes);
    const b = parent.length;
    parent.push(tip[miner] as number);
    height.push((height[tip[miner] as number] as number) + 1);
    tip[miner] = b;
    seen[miner]?.add(b);
    for (let n = 0; n < p.nodes; n++) if (n !== miner) arrivals.push({ t: t + hopMs, node: n, block: b });
    found++;
  }
  deliver(Number.POSITIVE_INFINITY);
  // The main chain: the highest block (lowest id on a tie: found first), walked back.
  let best = 0;
  for (let b = 1; b < height.length; b++) if ((height[b] as number) > (height[best] as number)) best = b;
  const main = new Set<number>();
  for (let b = best; b >= 0; b = parent[b] as number) main.add(b);
  const mainBlocks = main.size - 1;
  return {
    blockBytes: p.blockBytes,
    intervalMs: p.intervalMs,
    orphanRate: 1 - mainBlocks / found,
    // Every node receives (and verifies) every block once, orphans included.
    bandwidthPerNode: (found * p.blockBytes) / (t / 1000),
    cpuPerNode: (found * p.verifyMsPerBlock) / t,
    mainBlocks,
    durationMs: t,
  };
}

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const s = await view.toSVG();
  view.finalize();
  return s;
}

/** Runs both sweeps and writes trilemma.md, trilemma.json and SVG plots into `outDir`. */
export async function runTrilemma(opts: TrilemmaOptions = {}): Promise<{ points: TrilemmaPoint[]; verify: { usPerTx: number; txBytes: number }; files: string[] }> {
  const nodes = opts.nodes ?? 8;
  const latencyMs = opts.latencyMs ?? 100;
  const bandwidthMbps = opts.bandwidthMbps ?? 20;
  const blocks = opts.blocks ?? 2000;
  const sizes = opts.sizes ?? [125_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000];
  const intervals = opts.intervals ?? [60_000, 30_000, 15_000, 8_000, 4_000, 2_000, 1_000];
  const baseIntervalMs = opts.baseIntervalMs ?? 15_000;
  const baseSize = opts.baseSize ?? 1_000_000;
  const outDir = opts.outDir ?? 'report';
  const verify = await measureVerify();
  const points: TrilemmaPoint[] = [];
  const total = sizes.length + intervals.length;
  const point = (sweep: 'size' | 'interval', blockBytes: number, intervalMs: number, seed: number) => {
    const txs = blockBytes / verify.txBytes;
    const r = simulate({ nodes, latencyMs, bandwidthMbps, blocks, blockBytes, intervalMs, verifyMsPerBlock: (txs * verify.usPerTx) / 1000, seed });
    points.push({ sweep, blockBytes, intervalMs, orphanRate: r.orphanRate, bandwidthPerNode: r.bandwidthPerNode, cpuPerNode: r.cpuPerNode, tps: (r.mainBlocks * txs) / (r.durationMs / 1000) });
    opts.progress?.(points.length / total);
  };
  for (const [i, s] of sizes.entries()) point('size', s, baseIntervalMs, (opts.seed ?? 1) + i);
  for (const [i, iv] of intervals.entries()) point('interval', baseSize, iv, (opts.seed ?? 1) + 100 + i);
  mkdirSync(outDir, { recursive: true });
  const rows = points.map((p) => ({ ...p, orphanPct: p.orphanRate * 100, mbps: (p.bandwidthPerNode * 8) / 1e6, cpuPct: p.cpuPerNode * 100, mb: p.blockBytes / 1e6, seconds: p.intervalMs / 1000 }));
  const panel = (sweep: 'size' | 'interval', x: string, xTitle: string, y: string, yTitle: string): vl.TopLevelSpec => ({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 300,
    height: 170,
    data: { values: rows.filter((r) => r.sweep === sweep) },
    mark: { type: 'line', point: true },
    encoding: { x: { field: x, type: 'quantitative', title: xTitle, scale: { type: 'log' } }, y: { field: y, type: 'quantitative', title: yTitle } },
  });
  const files: Record<string, string> = {
    'trilemma-size.svg': await svg({
      title: `Raising the block size (interval ${baseIntervalMs / 1000} s, ${nodes} nodes, ${latencyMs} ms, ${bandwidthMbps} Mbit/s)`,
      hconcat: [panel('size', 'mb', 'block size (MB)', 'orphanPct', 'orphan rate (%)'), panel('size', 'mb', 'block size (MB)', 'mbps', 'bandwidth per node (Mbit/s)'), panel('size', 'mb', 'block size (MB)', 'cpuPct', 'CPU per node (% of a core)')],
    } as vl.TopLevelSpec),
    'trilemma-interval.svg': await svg({
      title: `Lowering the block interval (${baseSize / 1e6} MB blocks)`,
      hconcat: [panel('interval', 'seconds', 'block interval (s)', 'orphanPct', 'orphan rate (%)'), panel('interval', 'seconds', 'block interval (s)', 'mbps', 'bandwidth per node (Mbit/s)'), panel('interval', 'seconds', 'block interval (s)', 'cpuPct', 'CPU per node (% of a core)')],
    } as vl.TopLevelSpec),
  };
  const table = (sweep: 'size' | 'interval') =>
    [
      '| block size | interval | transfers/s carried | orphan rate | bandwidth per node | CPU per node |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.filter((r) => r.sweep === sweep).map((r) => `| ${r.mb} MB | ${r.seconds} s | ${r.tps.toFixed(0)} | ${r.orphanPct.toFixed(1)} % | ${r.mbps.toFixed(2)} Mbit/s | ${r.cpuPct.toFixed(2)} % |`),
    ].join('\n');
  files['trilemma.md'] = [
    '# The trilemma, measured (simulated clock)',
    '',
    `${nodes} proof-of-work nodes with equal hash power on a full mesh; each link ${latencyMs} ms one way and ${bandwidthMbps} Mbit/s; ${blocks} blocks per point. A block reaches a peer after latency + size/bandwidth + verification; verification costs ${verify.usPerTx.toFixed(1)} µs per ${verify.txBytes.toFixed(0)}-byte signed transfer, measured in this run (decode + signer recovery, one core).`,
    '',
    '## Raising the block size',
    '',
    table('size'),
    '',
    '![size sweep](trilemma-size.svg)',
    '',
    '## Lowering the block interval',
    '',
    table('interval'),
    '',
    '![interval sweep](trilemma-interval.svg)',
    '',
    'Reading: throughput grows with size and with frequency, but so does the share of work wasted on orphans (which favours the best-connected, largest miners) and the bandwidth and CPU a node must afford to keep up — the cost of on-chain scaling that the layers above the L1 avoid.',
    '',
  ].join('\n');
  files['trilemma.json'] = JSON.stringify({ nodes, latencyMs, bandwidthMbps, blocks, verify, points }, null, 2);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(outDir, f), text);
  return { points, verify, files: Object.keys(files).map((f) => join(outDir, f)) };
}
