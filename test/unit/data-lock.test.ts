import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StrataNode } from '@strata/node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { devConfig, tempDir } from '../helpers/chain.js';

const logger = pino({ level: 'silent' });
const config = devConfig();

describe('one node per data dir', () => {
  it('refuses a second node on a data dir in use, naming the process, and frees it on stop', async () => {
    const t = tempDir('strata-lock-');
    try {
      const a = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger });
      await a.start();
      expect(readFileSync(join(t.dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
      await expect(StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(`in use by process ${process.pid}`),
      });
      await a.stop();
      const b = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger });
      await b.start();
      await b.stop();
    } finally {
      t.cleanup();
    }
  });

  it('takes over a lock left by a process that no longer runs (after kill -9)', async () => {
    const t = tempDir('strata-lock-');
    try {
      const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      writeFileSync(join(t.dir, 'LOCK'), gone.stdout);
      const n = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger });
      await n.start();
      expect(readFileSync(join(t.dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
      await n.stop();
    } finally {
      t.cleanup();
    }
  });
});
