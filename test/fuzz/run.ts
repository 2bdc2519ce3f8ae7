/**
 * `npm run fuzz [-- --n 1000000] [--rpc-n 1000000] [--http-n 2000] [--only <substring>] [--methods a,b] [--skip N] [--seed 1] [--max-seconds S] [--rpc-per-process 250000] [--jobs 1] [--no-rpc] [--report file] [--markdown file]`:
 * fuzzes every decoder and every L1 RPC method with seeded mutations — the RPC methods through
 * the dispatcher in-process (`--rpc-n` each), then a smaller run over real HTTP (`--http-n`
 * each) — and prints, per target, the
 * inputs run, the rate, accepted / typed-rejected counts and crashes. Exits 1 on any crash.
 * Targets that must not share one heap or one node for a million inputs run as slices in fresh
 * child processes (test/fuzz/child.ts): a byte target with `perProcess` (the brotli decoder), and
 * every RPC method in-process (`--rpc-per-process` calls per fresh node and store).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type FuzzResult, fuzzBytes, fuzzRpc } from './fuzz.js';
import { runChild } from './split.js';
import { byteTargets, rpcHarness } from './targets.js';

// Rejections are thrown errors: with tsx's source maps, capturing and formatting a stack costs more
// than most decoders. The oracle reads only `code` and `message`, so the long run captures none.
if (!process.argv.includes('--stacks')) Error.stackTraceLimit = 0;

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const n = Number(flag('--n') ?? 1_000_000);
const rpcN = Number(flag('--rpc-n') ?? n);
/** Mutated requests per RPC method over real HTTP as well (after the in-process run; 0 skips it). */
const httpN = Number(flag('--http-n') ?? Math.min(2000, rpcN));
const seed = Number(flag('--seed') ?? 1);
const only = flag('--only');
const maxSeconds = Number(flag('--max-seconds') ?? Number.POSITIVE_INFINITY);
const report = flag('--report');
/** A Markdown table of the run, rewritten after every target (so a cut-short run keeps its rows). */
const markdown = flag('--markdown');
/** Skips the first N byte-level targets (to split a long run across processes). */
const skip = Number(flag('--skip') ?? 0);
/**
 * In-process RPC calls per child process (each a fresh dev node on a fresh temp store, so state
 * that `dev_mine`, `net_importBlock`, `dev_revert`… pile up stays bounded); 0 runs every RPC
 * method in this process on one node, as before.
 */
const rpcPerProcess = Number(flag('--rpc-per-process') ?? 250_000);
/** Child processes run at once for a split target (1: one after the other). */
const jobs = Math.max(1, Number(flag('--jobs') ?? 1));
/** Only these RPC methods (comma-separated), in-process and over HTTP. */
const methods = flag('--methods')?.split(',');
const results: FuzzResult[] = [];
let unhandled = 0;
process.on('unhandledRejection', (e) => {
  unhandled++;
  console.error('unhandled rejection during fuzzing:', e);
});

const startedAt = new Date().toISOString();
const mdRow = (r: FuzzResult) => {
  const codes = Object.entries(r.codes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, k]) => `${c} ${k.toLocaleString('en-US')}`)
    .join(', ');
  const fmt = (x: number) => x.toLocaleString('en-US');
  return `| ${r.name} | ${fmt(r.inputs)} | ${fmt(Math.round(r.inputs / (r.ms / 1000)))} | ${fmt(r.accepted)} | ${fmt(r.rejected)} | ${r.crashes.length} | ${r.slowestMs.toFixed(1)} | ${codes} |`;
};
const writeMarkdown = (done: boolean) => {
  if (!markdown) return;
  const crashes = results.reduce((s, r) => s + r.crashes.length, 0);
  const inputs = results.reduce((s, r) => s + r.inputs, 0);
  const head = [
    `Command: \`npm run fuzz -- ${args.join(' ')}\` (seed ${seed}), started ${startedAt}, ${done ? `finished ${new Date().toISOString()}` : 'still running'}; load average at start ${loadAtStart}.`,
    '',
    `${results.length} targets, ${inputs.toLocaleString('en-US')} inputs in ${Math.round((Date.now() - t0) / 1000)} s, ${crashes} crashes, ${unhandled} unhandled rejections.`,
    '',
    '| target | inputs | inputs/s | accepted | typed rejections | crashes | slowest ms | rejection codes (typed StrataError codes; JSON-RPC codes for rpc) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  writeFileSync(markdown, `${[...head, ...results.map(mdRow)].join('\n')}\n`);
};

const line = (r: FuzzResult) => {
  writeMarkdown(false);
  const rate = Math.round(r.inputs / (r.ms / 1000));
  const crashes = r.crashes.length;
  console.log(
    `${r.name.padEnd(58)} ${String(r.inputs).padStart(9)} inputs ${String(rate).padStart(8)}/s  accepted ${String(r.accepted).padStart(8)}  typed ${String(r.rejected).padStart(9)}  crashes ${crashes}  slowest ${r.slowestMs.toFixed(1)} ms`,
  );
  for (const c of r.crashes.slice(0, 3)) console.log(`    CRASH ${c.error}\n      input ${c.input.slice(0, 300)}`);
};

/**
 * Runs `total` inputs of one target as slices of `perProcess` inputs, each in a fresh process
 * (`jobs` at a time), each slice with its own seed derived from `baseSeed`, and merges the counts.
 */
async function runSplit(kind: 'bytes' | 'rpc', index: number, name: string, total: number, perProcess: number, baseSeed: number): Promise<FuzzResult> {
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const slices = Math.ceil(total / perProcess);
  const merged: FuzzResult = { name, inputs: 0, accepted: 0, rejected: 0, crashes: [], ms: 0, slowestMs: 0, codes: {} };
  let next = 0;
  let processes = 0;
  let lastProgress = 0;
  const worker = async () => {
    while (next < slices) {
      const k = next++;
      const left = (deadline - performance.now()) / 1000;
      if (left <= 0) return;
      const count = Math.min(perProcess, total - k * perProcess);
      const r = await runChild(kind, index, count, baseSeed * 1_000_000 + k, left);
      processes++;
      merged.inputs += r.inputs;
      merged.accepted += r.accepted;
      merged.rejected += r.rejected;
      merged.crashes.push(...r.crashes);
      merged.slowestMs = Math.max(merged.slowestMs, r.slowestMs);
      for (const [c, v] of Object.entries(r.codes)) merged.codes[c] = (merged.codes[c] ?? 0) + v;
      unhandled += r.unhandled ?? 0;
      if (performance.now() - lastProgress > 30_000) {
        lastProgress = performance.now();
        console.log(`  … ${name}: ${merged.inputs.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} (${processes} processes)`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, slices) }, worker));
  merged.ms = performance.now() - started;
  merged.name = `${name} [${processes} processes]`;
  return merged;
}

const t0 = Date.now();
const loadAtStart = loadavg()
  .map((x) => x.toFixed(2))
  .join(', ');
for (const [i, t] of (await byteTargets()).entries()) {
  if (i < skip || (only && !t.name.includes(only))) continue;
  const r = t.perProcess && n > t.perProcess ? await runSplit('bytes', i, t.name, n, t.perProcess, seed + i) : fuzzBytes(t, n, seed + i, maxSeconds);
  results.push(r);
  line(r);
}
if (!args.includes('--no-rpc')) {
  const wanted = (method: string, alias: string) => (!only || `rpc ${method}`.includes(only) || alias.includes(only)) && (!methods || methods.includes(method));
  const h = await rpcHarness();
  try {
    for (const [i, t] of h.targets.entries()) {
      if (!wanted(t.method, `rpc ${t.method}`) || rpcN <= 0) continue;
      const r = rpcPerProcess > 0 ? await runSplit('rpc', i, `rpc ${t.method}`, rpcN, rpcPerProcess, seed + 1000 + i) : await fuzzRpc(h, t, rpcN, seed + 1000 + i, maxSeconds);
      results.push(r);
      line(r);
    }
  } finally {
    await h.close();
  }
  if (httpN > 0) {
    const hh = await rpcHarness({ http: true });
    try {
      for (const [i, t] of hh.targets.entries()) {
        if (!wanted(t.method, `http ${t.method}`)) continue;
        const r = await fuzzRpc(hh, t, httpN, seed + 2000 + i, maxSeconds);
        r.name = `rpc over HTTP ${t.method}`;
        results.push(r);
        line(r);
      }
    } finally {
      await hh.close();
    }
  }
}
const crashes = results.reduce((s, r) => s + r.crashes.length, 0);
const inputs = results.reduce((s, r) => s + r.inputs, 0);
console.log(`\n${results.length} targets, ${inputs} inputs in ${Math.round((Date.now() - t0) / 1000)} s, ${crashes} crashes, ${unhandled} unhandled rejections`);
writeMarkdown(true);
if (report) writeFileSync(report, JSON.stringify(results.map((r) => ({ ...r, crashes: r.crashes.slice(0, 5), crashCount: r.crashes.length })), null, 2));
process.exit(crashes > 0 || unhandled > 0 ? 1 : 0);
