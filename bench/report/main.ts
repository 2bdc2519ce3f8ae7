/** `npm run report [-- --transfers N] [-- --trilemma]`: runs the workload on every layer and writes report/. */
import cliProgress from 'cli-progress';
import { runReport } from './report.js';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const bar = new cliProgress.SingleBar({ format: ' {bar} {percentage}% | {phase}', hideCursor: true }, cliProgress.Presets.shades_classic);
bar.start(100, 0, { phase: 'starting' });
const weights: Record<string, [number, number]> = { devnet: [0, 5], 'l1: transfers': [5, 25], 'optimistic: transfers': [25, 45], 'optimistic: exit': [45, 60], 'l3: transfers': [60, 75], 'l3: exit': [75, 90], sidechain: [90, 95], render: [95, 100], trilemma: [0, 100] };
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
    const r = await runReport({ transfers: Number(arg('--transfers') ?? 200), outDir: arg('--out') ?? 'report', progress });
    bar.stop();
    for (const l of r.layers) process.stdout.write(`${l.layer.padEnd(4)} ${l.throughput.toFixed(1)} tx/s  ${l.l1BytesPerTx.toFixed(1)} L1 B/tx  soft ${l.softMs.median} ms  final ${l.finalMs.median} ms  exit ${l.exitMs} ms  L1 fee/tx ${l.l1FeePerTx.toFixed(0)}\n`);
    process.stdout.write(`report: ${r.files.join(', ')}\n`);
  }
  process.exit(0);
} catch (e) {
  bar.stop();
  process.stderr.write(`report failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
}
