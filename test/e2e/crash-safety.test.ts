/**
 * Crash safety: a node SIGKILLed at random moments while it seals blocks, imports sync batches
 * or reorganises restarts with every block it reported committed, and its stored tree (roots
 * table, pages) and flat table both agree with the head's state root. A handful of kills per
 * mode here; `npm run soak` runs hundreds.
 */
import { describe, expect, it } from 'vitest';
import { initHashing } from '@strata/primitives';
import { tempDir } from '../helpers/chain.js';
import { checkDataDir, type CrashMode, runUntilKilled } from '../helpers/crash.js';

await initHashing();

describe('crash safety', () => {
  for (const mode of ['import', 'sync', 'reorg'] as CrashMode[]) {
    it(`SIGKILLed at random moments (${mode}): every committed block survives; flat table, roots table and tree pages match the head's root`, async () => {
      const t = tempDir(`strata-crash-${mode}-`);
      try {
        let previous = 0;
        const rounds = Number(process.env.STRATA_CRASH_ROUNDS ?? 2);
        for (let i = 0; i < rounds; i++) {
          const killAfter = 600 + Math.floor(Math.random() * 1400);
          // Odd rounds are timed from the start, even ones from the first commit (so each run
          // makes progress even on a loaded machine).
          const { lastCommitted } = await runUntilKilled(t.dir, killAfter, mode, i % 2 === 1);
          const { height, leaves } = checkDataDir(`${t.dir}/node`);
          expect(height).toBeGreaterThanOrEqual(lastCommitted);
          // A reorg may leave a node at a lower height (a shorter, heavier branch); otherwise never backwards.
          if (mode !== 'reorg') expect(height).toBeGreaterThanOrEqual(previous);
          expect(leaves).toBeGreaterThan(0);
          previous = height;
        }
        expect(previous).toBeGreaterThan(0);
      } finally {
        t.cleanup();
      }
    }, 120_000);
  }
});
