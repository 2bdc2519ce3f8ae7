/**
 * Review r3: a devnet resumed on its data dir with another --zk-depth / --zk-batch than its L1
 * registered the ZK-rollup with is refused at once with CONFIG_INVALID naming the flags, before
 * any key setup (before: the registration was skipped, keys for the other circuit were made —
 * minutes at full size — and an operator ran whose proofs the L1 could never accept).
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevnet } from '@strata/devnet';
import { tempDir } from '../helpers/chain.js';

const t = tempDir('strata-r3-zkdev-');
afterAll(() => t.cleanup());

const start = (depth: number) =>
  startDevnet({ dataDir: t.dir, port: 0, rollup: false, l3: false, channels: false, sidechain: false, explorer: false, zk: { port: 0, provers: 0, circuit: { depth, batchSize: 2 } } }, { logger: pino({ level: 'silent' }) });

describe('devnet ZK circuit flags against a resumed L1 (review r3)', () => {
  it('refuses another depth than the registered one, fast and by name; the registered one resumes', async () => {
    const first = await start(4);
    await first.stop();
    const t0 = Date.now();
    await expect(start(5)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('--zk-depth 4 --zk-batch 2') });
    expect(Date.now() - t0).toBeLessThan(30_000);
    const again = await start(4);
    await again.stop();
  }, 180_000);
});
