/** `npm run report [-- --transfers N] [-- --no-zk] [-- --trilemma]`: runs the workload on every layer and writes report/. */
import cliProgress from 'cli-progress';
import { runReport } from './report.js';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const bar = new cliProgress.SingleBar({ format: ' {bar} {percentage}% | {phase}', hideCursor: true }, cliProgress.Presets.shades_classic);
bar.start(100, 0, { phase: 'starting' });
const weights: Record<string, [number, number]> = {
  devnet: [0, 3],
  'l1: transfers': [3, 12],
  'optimistic: transfers': [12, 22],
  'optimistic: exit': [22, 30],
  'l3: transfers': [30, 38],
  'l3: exit': [38, 46],
  'zk: deposits': [46, 55],
  'zk: transfers': [55, 70],
  'zk: exit': [70, 76],
  'channels: payments': [76, 82],
  'channels: exit': [82, 85],
  'sidechain: transfers': [85, 92],
  'sidechain: exit': [92, 97],
  render: [97, 100],
  trilemma: [0, 100],
};
const progress = (phase: string, done: number) => {
  const [a, b] = weights[phase] ?? [0, 100];
  bar.update(Math.round(a + (b - a) * done), { phase });
};
try {
  if (args.includes('--trilemma')) {
    const { runTrilemma } = await import('./trilemma.js');
    const r = await runTrilemma({ outDir: arg('--out') ?? 'report', progress: (d) => progress('trilemma', d) });
    bar.stop();
    process.stdout.write(`trilemma: ${r.files.join(', ')}\n`);
  } else {
    const r = await runReport({ transfers: Number(arg('--transfers') ?? 200), outDir: arg('--out') ?? 'report', progress, ...(args.includes('--no-zk') ? { zk: false } : {}) });
    bar.stop();
    for (const l of r.layers) process.stdout.write(`${l.layer.padEnd(9)} ${l.throughput.toFixed(1)} tx/s  ${l.l1BytesPerTx.toFixed(1)} L1 B/tx  soft ${l.softMs.median} ms  final ${l.finalMs.median} ms  exit ${l.exitMs} ms  L1 fee/tx ${l.l1FeePerTx.toFixed(0)}\n`);
    process.stdout.write(`report: ${r.files.join(', ')}\n`);
  }
  process.exit(0);
} catch (e) {
  bar.stop();
  process.stderr.write(`report failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
}
