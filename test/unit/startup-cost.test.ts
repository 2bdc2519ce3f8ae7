/**
 * What a process pays for importing @strata/primitives' errors at load. The engine-exhaustion
 * probe (a failed 2^53-byte ArrayBuffer) made V8 run four full collections, ~45 ms, in every
 * process that imported it — the CLI's one-line client commands too (issue 14, item 7). It now
 * runs on the first isEngineExhaustion call; the answer stays the same.
 */
import { execFileSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isEngineExhaustion } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';

describe('start-up cost of @strata/primitives', () => {
  it('importing the errors module triggers no external-memory garbage collection', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--trace-gc', '--input-type=module', '-e', "await import('./packages/primitives/src/errors.ts'); console.log('loaded')"], { encoding: 'utf8' });
    expect(out).toContain('loaded');
    expect(out.split('\n').filter((l) => l.includes('external memory pressure'))).toEqual([]);
  }, 30_000);

  it('the lazily probed messages still tell a real stack overflow and allocation failure from other RangeErrors', () => {
    const dive = (n: number): number => dive(n + 1) + 1;
    let overflow: unknown;
    try {
      dive(0);
    } catch (e) {
      overflow = e;
    }
    let alloc: unknown;
    try {
      void new ArrayBuffer(Number.MAX_SAFE_INTEGER);
    } catch (e) {
      alloc = e;
    }
    expect(isEngineExhaustion(overflow)).toBe(true);
    expect(isEngineExhaustion(alloc)).toBe(true);
    let div: unknown;
    try {
      void (1n / 0n);
    } catch (e) {
      div = e;
    }
    expect(isEngineExhaustion(div)).toBe(false);
    expect(isEngineExhaustion(new Error('Maximum call stack size exceeded'))).toBe(false);
  });
});

describe('RpcClient loads node:https on demand', () => {
  it('an https URL still speaks TLS (a ClientHello reaches the socket), an http URL plain HTTP', async () => {
    const first: Buffer[] = [];
    const server = createServer((s) => {
      s.once('data', (d: Buffer) => {
        first.push(d);
        s.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      await expect(new RpcClient(`https://127.0.0.1:${port}`, { timeoutMs: 5000 }).call('x')).rejects.toMatchObject({ code: 'NETWORK' });
      await expect(new RpcClient(`http://127.0.0.1:${port}`, { timeoutMs: 5000 }).call('x')).rejects.toMatchObject({ code: 'NETWORK' });
    } finally {
      server.close();
    }
    expect(first[0]?.[0]).toBe(0x16); // TLS handshake record
    expect(first[1]?.subarray(0, 4).toString()).toBe('POST');
  });
});
