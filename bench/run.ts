/**
 * `npm run bench`: runs every benchmark and prints its figures. Each figure that has a goal is
 * a ratio against a baseline measured in the same run on the same machine (raw signature
 * verify rate, direct L1 throughput, …), so results carry across machines. Benchmarks are
 * never part of `npm test`.
 */
import { existsSync } from 'node:fs';

const suites: { name: string; file: string }[] = [
  { name: 'l1-import', file: './import.ts' },
  { name: 'l1-storage', file: './storage.ts' },
  { name: 'l1-sync', file: './sync.ts' },
  { name: 'rollup', file: './rollup.ts' },
  { name: 'l3', file: './l3.ts' },
  { name: 'zk', file: './zk.ts' },
  { name: 'channels', file: './channels.ts' },
  { name: 'explorer', file: './explorer.ts' },
  { name: 'sidechain', file: './sidechain.ts' },
];

/** Short names for the L1 suites (`npm run bench -- import`, `-- sync`, `-- storage`). */
const aliases: Record<string, string> = { import: 'l1-import', sync: 'l1-sync', storage: 'l1-storage' };
// Suite names; `--name=value` arguments are options the suites read themselves (e.g. explorer's --zk-depth=4).
const only = process.argv.slice(2).filter((a) => !a.startsWith('--')).map((n) => aliases[n] ?? n);
const results: Record<string, unknown> = {};
for (const s of suites) {
  if (only.length && !only.includes(s.name)) continue;
  if (!existsSync(new URL(s.file, import.meta.url))) continue;
  process.stderr.write(`bench ${s.name}…\n`);
  const t = performance.now();
  const mod = (await import(s.file)) as { run: () => Promise<Record<string, unknown>> };
  results[s.name] = { ...(await mod.run()), seconds: Number(((performance.now() - t) / 1000).toFixed(1)) };
  process.stderr.write(`${JSON.stringify(results[s.name])}\n`);
}
console.log(JSON.stringify(results, null, 2));
process.exit(0);
