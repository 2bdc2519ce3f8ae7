/**
 * `npm run fuzz [-- --n 1000000] [--rpc-n 1000000] [--only <substring>] [--skip N] [--seed 1] [--max-seconds S] [--no-rpc] [--report file]`:
 * fuzzes every decoder and every L1 RPC method with seeded mutations and prints, per target, the
 * inputs run, the rate, accepted / typed-rejected counts and crashes. Exits 1 on any crash.
 */
import { writeFileSync } from 'node:fs';
import { type FuzzResult, fuzzBytes, fuzzRpc } from './fuzz.js';
import { byteTargets, rpcHarness } from './targets.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const n = Number(flag('--n') ?? 1_000_000);
const rpcN = Number(flag('--rpc-n') ?? n);
const seed = Number(flag('--seed') ?? 1);
const only = flag('--only');
const maxSeconds = Number(flag('--max-seconds') ?? Number.POSITIVE_INFINITY);
const report = flag('--report');
/** Skips the first N byte-level targets (to split a long run across processes). */
const skip = Number(flag('--skip') ?? 0);
const results: FuzzResult[] = [];
let unhandled = 0;
process.on('unhandledRejection', (e) => {
  unhandled++;
  console.error('unhandled rejection during fuzzing:', e);
});

const line = (r: FuzzResult) => {
  const rate = Math.round(r.inputs / (r.ms / 1000));
  const crashes = r.crashes.length;
  console.log(
    `${r.name.padEnd(58)} ${String(r.inputs).padStart(9)} inputs ${String(rate).padStart(8)}/s  accepted ${String(r.accepted).padStart(8)}  typed ${String(r.rejected).padStart(9)}  crashes ${crashes}  slowest ${r.slowestMs.toFixed(1)} ms`,
  );
  for (const c of r.crashes.slice(0, 3)) console.log(`    CRASH ${c.error}\n      input ${c.input.slice(0, 300)}`);
};

const t0 = Date.now();
for (const [i, t] of (await byteTargets()).entries()) {
  if (i < skip || (only && !t.name.includes(only))) continue;
  const r = fuzzBytes(t, n, seed + i, maxSeconds);
  results.push(r);
  line(r);
}
if (!args.includes('--no-rpc')) {
  const h = await rpcHarness();
  try {
    for (const [i, t] of h.targets.entries()) {
      if (only && !`rpc ${t.method}`.includes(only)) continue;
      const r = await fuzzRpc(h, t, rpcN, seed + 1000 + i, maxSeconds);
      results.push(r);
      line(r);
    }
  } finally {
    await h.close();
  }
}
const crashes = results.reduce((s, r) => s + r.crashes.length, 0);
const inputs = results.reduce((s, r) => s + r.inputs, 0);
console.log(`\n${results.length} targets, ${inputs} inputs in ${Math.round((Date.now() - t0) / 1000)} s, ${crashes} crashes, ${unhandled} unhandled rejections`);
if (report) writeFileSync(report, JSON.stringify(results.map((r) => ({ ...r, crashes: r.crashes.slice(0, 5), crashCount: r.crashes.length })), null, 2));
process.exit(crashes > 0 || unhandled > 0 ? 1 : 0);
