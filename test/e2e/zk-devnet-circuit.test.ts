/**
 * Review r3: a devnet resumed on its data dir with another --zk-depth / --zk-batch than its L1
 * registered the ZK-rollup with is refused at once with CONFIG_INVALID naming the flags, before
 * any key setup (before: the registration was skipped, keys for the other circuit were made —
 * minutes at full size — and an operator ran whose proofs the L1 could never accept).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevnet } from '@strata/devnet';
import { tempDir } from '../helpers/chain.js';

const t = tempDir('strata-r3-zkdev-');
const t2 = tempDir('strata-r3-zkdev2-');
afterAll(() => {
  t.cleanup();
  t2.cleanup();
});

const start = (depth: number, dataDir = t.dir) =>
  startDevnet({ dataDir, port: 0, rollup: false, l3: false, channels: false, sidechain: false, explorer: false, zk: { port: 0, provers: 0, circuit: { depth, batchSize: 2 } } }, { logger: pino({ level: 'silent' }) });

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

describe('devnet without its ZK operator (review r3)', () => {
  it('an operator that cannot start leaves the devnet up without the ZK layer (as its warning says), not failing on an empty RPC URL', async () => {
    // The operator's store cannot be opened: its directory is a file.
    mkdirSync(t2.dir, { recursive: true });
    writeFileSync(join(t2.dir, 'zk'), 'not a directory');
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const dev = await startDevnet({ dataDir: t2.dir, port: 0, rollup: false, l3: false, channels: false, sidechain: false, explorer: false, zk: { port: 0, provers: 0, circuit: { depth: 4, batchSize: 2 } } }, { logger });
    try {
      expect(dev.layers.map((l) => l.kind)).not.toContain('zk');
      expect(lines.some((l) => l.includes('zk operator not started'))).toBe(true);
    } finally {
      await dev.stop();
    }
  }, 120_000);
});
