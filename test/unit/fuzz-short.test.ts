/**
 * A short run of the fuzzer inside `npm test` (the long one is `npm run fuzz`): every decoder
 * and every L1 RPC method gets seeded mutated inputs, and each must be accepted (canonically) or
 * rejected with a typed StrataError — no crash, no untyped handler error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBytes, fuzzRpc } from '../fuzz/fuzz.js';
import { runChild } from '../fuzz/split.js';
import { type ByteTarget, byteTargets, type RpcHarness, rpcHarness } from '../fuzz/targets.js';

const targets: ByteTarget[] = await byteTargets();
let rpc: RpcHarness;
beforeAll(async () => {
  rpc = await rpcHarness();
});
afterAll(async () => {
  await rpc?.close();
});

describe('fuzz (short run)', () => {
  it.each(targets.map((t, i) => [t.name, i] as const))('%s: 2,000 mutated inputs, no crash', (_name, i) => {
    const r = fuzzBytes(targets[i] as ByteTarget, 2000, 7 + i);
    expect(r.crashes).toEqual([]);
    expect(r.inputs).toBe(2000);
    // The mutations reach both outcomes: some inputs decode, most are rejected.
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('a slice run in a child process (how `npm run fuzz` splits the brotli decoder and the RPC methods) counts exactly as in-process', async () => {
    const i = targets.findIndex((t) => t.perProcess !== undefined);
    expect(targets[i]?.name).toMatch(/brotli/);
    const here = fuzzBytes(targets[i] as ByteTarget, 1500, 4242);
    const there = await runChild('bytes', i, 1500, 4242, Number.POSITIVE_INFINITY);
    expect({ ...there, ms: 0, slowestMs: 0 }).toMatchObject({ ...here, ms: 0, slowestMs: 0 });
    expect(there.inputs).toBe(1500);
  }, 60_000);

  it('every L1 RPC method: 150 mutated requests each, every answer JSON-RPC and every error typed', async () => {
    const crashes: string[] = [];
    for (const [i, t] of rpc.targets.entries()) {
      const r = await fuzzRpc(rpc, t, 150, 99 + i);
      for (const c of r.crashes) crashes.push(`${t.method}: ${c.error} <- ${c.input.slice(0, 200)}`);
    }
    expect(rpc.targets.length).toBeGreaterThanOrEqual(30);
    expect(crashes).toEqual([]);
  });

  it('every L1 RPC method over real HTTP: 10 mutated requests each, every answer JSON-RPC and every error typed', async () => {
    const http = await rpcHarness({ http: true });
    try {
      const crashes: string[] = [];
      for (const [i, t] of http.targets.entries()) {
        const r = await fuzzRpc(http, t, 10, 500 + i);
        expect(r.inputs).toBe(10);
        for (const c of r.crashes) crashes.push(`${t.method}: ${c.error} <- ${c.input.slice(0, 200)}`);
      }
      expect(crashes).toEqual([]);
    } finally {
      await http.close();
    }
  });
});
