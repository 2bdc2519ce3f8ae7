/**
 * The channel store's durability contract (store.ts): a write is committed — readable, and in the
 * operating system's page cache where a killed process cannot lose it — when `put` returns, with
 * no fsync on the caller's path; fsyncs run in the background, many commits to one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChannelStore } from '@strata/channels';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'chan-store-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('channel store', () => {
  it('every flush waits for an fsync that covers the commits made before it was called (two waiters during one fsync)', async () => {
    const s = ChannelStore.open(tmp(), { flushMs: 1000 });
    await s.put('a', 1);
    const f1 = s.flush(); // fsync 1 starts: covers 'a' only
    await s.put('b', 2); // committed while fsync 1 runs
    const w1 = s.flush();
    let at = -1;
    const w2 = s.flush().then(() => {
      at = s.flushes;
    });
    await Promise.all([f1, w1, w2]);
    // before: the second waiter resolved with fsync 1 (the first waiter's re-check had reset the
    // shared dirty flag while starting fsync 2), so 'b' could leave in a message before its fsync
    expect(at).toBeGreaterThanOrEqual(2);
    await s.close();
  });
  it('flush covers the writes queued by writeSoon in this turn (a message waiting for it may follow them)', async () => {
    const s = ChannelStore.open(tmp(), { flushMs: 1000 });
    s.writeSoon('fwd:x', { a: 1 });
    await s.flush();
    // before: the deferred write was committed at the next microtask, after flush found nothing dirty
    expect(s.commits).toBe(1);
    expect(s.flushes).toBe(1);
    await s.close();
  });
  it('a write is committed when put is called (readable at once, before any await), and fsyncs are batched off the caller', async () => {
    const s = ChannelStore.open(tmp(), { flushMs: 20 });
    for (let i = 0; i < 50; i++) {
      void s.put(`k${i}`, { i, b: new Uint8Array([i]), n: BigInt(i) });
      // before: the write committed on lmdb's thread a turn later (and after an fsync)
      expect(s.get<{ i: number }>(`k${i}`)?.i).toBe(i);
    }
    expect(s.commits).toBe(50);
    await s.flush();
    expect(s.flushes).toBeGreaterThanOrEqual(1);
    expect(s.flushes).toBeLessThan(50);
    s.write([['a', 1], ['k0', undefined]]);
    expect(s.get('a')).toBe(1);
    expect(s.get('k0')).toBeUndefined();
    await s.close();
  });

  it('survives kill -9 of the writing process before any fsync ran', () => {
    const dir = tmp();
    // a child writes with fsyncs a minute away, then kills itself with SIGKILL
    const script = `import { ChannelStore } from '@strata/channels'; const s = ChannelStore.open(${JSON.stringify(dir)}, { flushMs: 60000 }); for (let i = 0; i < 20; i++) await s.put('x' + i, i); process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 60_000 });
    expect(r.signal).toBe('SIGKILL');
    const s = ChannelStore.open(dir);
    for (let i = 0; i < 20; i++) expect(s.get(`x${i}`)).toBe(i);
    void s.close();
  }, 60_000);

  it('writeSoon: the writes of one turn share one commit; a write before then commits them first, in order', async () => {
    const s = ChannelStore.open(tmp());
    const c0 = s.commits;
    for (let i = 0; i < 10; i++) s.writeSoon(`d${i}`, i);
    s.writeSoon('d0', undefined);
    await new Promise((r) => setImmediate(r));
    expect(s.commits - c0).toBe(1);
    expect(s.get('d0')).toBeUndefined();
    expect(s.get('d9')).toBe(9);
    s.writeSoon('o', 'first');
    s.write([['o2', 'second']]);
    expect(s.commits - c0).toBe(2);
    expect(s.get('o')).toBe('first');
    await s.close();
  });

  it('writeSoon: the writes of several callbacks in one event-loop turn share one commit, and get reads them without committing', async () => {
    const s = ChannelStore.open(tmp());
    s.write([['seed', 0]]);
    const c0 = s.commits;
    // three I/O-like callbacks of one turn (timers due together), each queueing a record and reading one back
    const seen: unknown[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 3; i++) {
        setTimeout(() => {
          s.writeSoon(`t${i}`, { i });
          seen.push(s.get<{ i: number }>(`t${i}`)?.i, s.get('seed'));
          if (i === 2) setImmediate(resolve);
        }, 0);
      }
    });
    expect(seen).toEqual([0, 0, 1, 0, 2, 0]);
    expect(s.commits - c0).toBe(1);
    // a read returns a copy: mutating it does not change what is committed
    s.writeSoon('obj', { n: 1 });
    const o = s.get<{ n: number }>('obj') as { n: number };
    o.n = 99;
    await s.flush();
    expect(s.get<{ n: number }>('obj')?.n).toBe(1);
    await s.close();
  });

  it('a commit that fails keeps the queued records (nothing committed, nothing lost): the next commit writes them', async () => {
    const s = ChannelStore.open(tmp());
    s.writeSoon('a', 1);
    s.writeSoon('b', 2);
    // a value structured serialization refuses: the commit fails before lmdb is touched
    expect(() => s.write([['bad', () => 1]])).toThrow();
    expect(s.get('a')).toBe(1);
    await s.flush();
    s.write([['c', 3]]);
    expect([s.get('a'), s.get('b'), s.get('c'), s.get('bad')]).toEqual([1, 2, 3, undefined]);
    await s.close();
  });

  it('stats: counts commits and fsyncs and reports the fsyncs\' durations; onSync sees each one', async () => {
    const s = ChannelStore.open(tmp(), { flushMs: 1000 });
    const seen: number[] = [];
    s.onSync = (sec) => seen.push(sec);
    expect(s.stats()).toMatchObject({ commits: 0, fsyncs: 0, fsyncP50Ms: 0, fsyncMaxMs: 0 });
    for (let i = 0; i < 3; i++) {
      await s.put(`k${i}`, i);
      await s.flush();
    }
    const st = s.stats();
    expect(st.commits).toBe(3);
    expect(st.fsyncs).toBe(3);
    expect(seen).toHaveLength(3);
    expect(st.fsyncMaxMs).toBeGreaterThan(0);
    expect(st.fsyncP50Ms).toBeLessThanOrEqual(st.fsyncP90Ms);
    expect(st.fsyncP90Ms).toBeLessThanOrEqual(st.fsyncMaxMs);
    await s.close();
  });

  it('an onSync observer that throws does not fail the flush or stall the next one', async () => {
    const s = ChannelStore.open(tmp(), { flushMs: 1000 });
    s.onSync = () => {
      throw new Error('observer bug');
    };
    await s.put('a', 1);
    await s.flush();
    await s.put('b', 2);
    await s.flush();
    expect(s.stats().fsyncs).toBe(2);
    await s.close();
  });

  it('flushMs must be a non-negative integer', () => {
    expect(() => ChannelStore.open(tmp(), { flushMs: -1 })).toThrow(/flushMs/);
  });
});
