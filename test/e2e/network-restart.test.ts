/**
 * Restart: a `strata node` process stopped and started again with its data dir resumes from its
 * stored head (same peer id, from the key in the data dir) and catches up with the blocks mined
 * while it was down, syncing only the missing ones.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/chain.js';
import { type NodeProcess, startNodeProcess, waitUntil, writeNetConfig } from '../helpers/node-process.js';

const procs: NodeProcess[] = [];
const dirs: (() => void)[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  for (const d of dirs) d();
});

describe('L1 network: restart', () => {
  it('a node restarted with its data dir resumes from its stored head and catches up', async () => {
    const t = tempDir('strata-restart-');
    dirs.push(t.cleanup);
    const config = writeNetConfig(t.dir);
    const a = await startNodeProcess({ name: 'a', dataDir: `${t.dir}/a`, config, mine: true });
    procs.push(a);
    let b = await startNodeProcess({ name: 'b', dataDir: `${t.dir}/b`, config, bootnodes: a.endpoints.multiaddrs });
    procs.push(b);
    await waitUntil(async () => (await b.height()) >= 6, 'b to follow a to height 6', 30_000);
    const peerId = b.endpoints.peerId;
    expect(await b.stop('SIGINT')).toBe(0);
    const stored = Number(readFileSync(`${t.dir}/b/b.log`, 'utf8').match(/"height":(\d+)[^\n]*"msg":"block imported"[^\n]*\n(?![\s\S]*block imported)/)?.[1] ?? -1);
    const aAtStop = await a.height();
    await waitUntil(async () => (await a.height()) >= aAtStop + 8, 'a to mine on while b is down', 30_000);

    b = await startNodeProcess({ name: 'b', dataDir: `${t.dir}/b`, config, bootnodes: a.endpoints.multiaddrs });
    procs.push(b);
    expect(b.endpoints.peerId).toBe(peerId);
    await a.rpc.call('admin_setMining', ['off']);
    await new Promise((r) => setTimeout(r, 1000));
    await waitUntil(async () => (await b.head()).hash === (await a.head()).hash, 'b to catch up with a', 30_000);
    // The second run started from the stored head and synced only the blocks it missed.
    const runs = readFileSync(`${t.dir}/b/b.log`, 'utf8').split('"msg":"node stopped"');
    const second = runs[runs.length - 1] as string;
    const started = JSON.parse(second.split('\n').find((l) => l.includes('"msg":"node started"')) as string);
    expect(started.height).toBeGreaterThanOrEqual(6);
    if (stored >= 0) expect(started.height).toBe(stored);
    const syncStart = second.split('\n').find((l) => l.includes('"msg":"sync started"'));
    expect(syncStart, 'the restarted node synced').toBeDefined();
    expect(JSON.parse(syncStart as string).ancestor).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
