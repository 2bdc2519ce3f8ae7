/**
 * `npm run soak`: the crash test at length, outside `npm test`. SIGKILLs the crash fixture
 * STRATA_SOAK_KILLS times (default 120), cycling through its modes (sealing blocks, sync
 * batches, reorgs), each at a random moment, and after every kill checks the data dir: every
 * block reported committed is there, and the flat table, roots table and stored tree pages all
 * agree with the head's state root. Exits non-zero at the first inconsistency.
 */
import { initHashing } from '@strata/primitives';
import { tempDir } from '../helpers/chain.js';
import { checkDataDir, type CrashMode, runUntilKilled } from '../helpers/crash.js';

await initHashing();
const kills = Number(process.env.STRATA_SOAK_KILLS ?? 120);
const modes: CrashMode[] = ['import', 'sync', 'reorg'];
const dirs = Object.fromEntries(modes.map((m) => [m, tempDir(`strata-soak-${m}-`)])) as Record<CrashMode, { dir: string; cleanup: () => void }>;
const started = Date.now();
let failed = false;
try {
  for (let i = 0; i < kills; i++) {
    const mode = modes[i % modes.length] as CrashMode;
    const killAfter = 400 + Math.floor(Math.random() * 2500);
    const { lastCommitted } = await runUntilKilled(dirs[mode].dir, killAfter, mode, i % 2 === 1);
    const { height, leaves } = checkDataDir(`${dirs[mode].dir}/node`);
    if (height < lastCommitted) throw new Error(`kill ${i + 1} (${mode}): height ${height} is below the last committed ${lastCommitted}`);
    process.stdout.write(`kill ${i + 1}/${kills} ${mode.padEnd(6)} after ${killAfter} ms: head ${height} (committed ${lastCommitted}), ${leaves} leaves consistent\n`);
  }
  process.stdout.write(`soak: ${kills} kills, every data dir consistent (${Math.round((Date.now() - started) / 1000)} s)\n`);
} catch (e) {
  failed = true;
  process.stderr.write(`soak FAILED: ${e instanceof Error ? e.message : String(e)}\n(data dirs kept: ${modes.map((m) => dirs[m].dir).join(', ')})\n`);
} finally {
  if (!failed) for (const m of modes) dirs[m].cleanup();
}
process.exit(failed ? 1 : 0);
