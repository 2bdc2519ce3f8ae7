/**
 * `strata account balance` costs one JSON-RPC round trip: a dev index goes out as its 0x address
 * (no chain_getConfig first to learn the prefix; the node answers in its own). Run against a real
 * HTTP server recording what the CLI asks.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const seen: { method: string; params: unknown[] }[][] = [];
const server = createServer((r, res) => {
  let b = '';
  r.on('data', (c) => (b += c));
  r.on('end', () => {
    const body = JSON.parse(b) as { id: number; method: string; params: unknown[] } | { id: number; method: string; params: unknown[] }[];
    const calls = Array.isArray(body) ? body : [body];
    seen.push(calls.map((c) => ({ method: c.method, params: c.params })));
    const answer = (c: { id: number; method: string }) => ({
      jsonrpc: '2.0',
      id: c.id,
      result: c.method === 'state_getAccount' ? { address: 'st17404rxsnz5zk9495tycluam8dpl26l336aeknx', balance: '0x5f5e100', nonce: '0x2', nextNonce: '0x2', blockNumber: '0x7' } : { chainId: '0x539', addressPrefix: 'st', fees: { perByte: '0x1', perCompute: '0x1' } },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(Array.isArray(body) ? calls.map(answer) : answer(calls[0] as { id: number; method: string })));
  });
});
let rpc = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  rpc = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

describe('strata account balance', () => {
  it('asks state_getAccount once, a dev index as its 0x address', async () => {
    const { stdout } = await exec(process.execPath, ['bin/strata.js', 'account', 'balance', '0', '--rpc', rpc, '--json']);
    expect(JSON.parse(stdout)).toEqual({ address: 'st17404rxsnz5zk9495tycluam8dpl26l336aeknx', balance: '100000000', nonce: 2, block: 7 });
    expect(seen).toEqual([[{ method: 'state_getAccount', params: ['0xf55f519a13150562d4b45931fe7767687ead7e31', 'latest'] }]]);
  }, 60_000);
});
