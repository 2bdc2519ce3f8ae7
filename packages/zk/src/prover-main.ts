/** Entry of a prover child process (bin/prover.js): parses flags, runs ProverService until signalled. */
import { ProverService } from './prover.js';

/** Runs a prover from argv (`--operator URL --id NAME --cache-dir DIR`). */
export async function runProverMain(argv: string[]): Promise<void> {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const url = flag('--operator');
  if (!url) {
    process.stderr.write('usage: prover.js --operator URL [--id NAME] [--cache-dir DIR]\n');
    process.exit(2);
  }
  const log = {
    info: (o: Record<string, unknown>, m: string) => process.stdout.write(`${JSON.stringify({ level: 'info', msg: m, ...o })}\n`),
    warn: (o: Record<string, unknown>, m: string) => process.stdout.write(`${JSON.stringify({ level: 'warn', msg: m, ...o })}\n`),
  };
  const cacheDir = flag('--cache-dir');
  const id = flag('--id');
  const svc = new ProverService({ operatorUrl: url, ...(id ? { id } : {}), ...(cacheDir ? { cacheDir } : {}) }, { logger: log });
  for (;;) {
    try {
      await svc.start();
      break;
    } catch (e) {
      log.warn({ error: (e as Error).message }, 'prover could not start; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  // A local prover ends with the operator process that spawned it.
  const parent = Number(flag('--parent-pid') ?? 0);
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        process.exit(0);
      }
    }, 2000).unref();
  }
  const stop = async () => {
    await svc.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
