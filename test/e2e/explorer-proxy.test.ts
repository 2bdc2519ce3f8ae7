/**
 * The explorer as an attacker sees it: its proxy passes reads only (single calls, batches and
 * WebSocket messages), never write or admin methods, and no URL reads a file outside its web dir.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startExplorer } from '@strata/explorer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const seen: string[] = [];
const chain = createServer((r, res) => {
  let b = '';
  r.on('data', (c) => (b += c));
  r.on('end', () => {
    const body = JSON.parse(b) as { method: string; id: number } | { method: string; id: number }[];
    for (const c of Array.isArray(body) ? body : [body]) seen.push(c.method);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { number: '0x1' } }));
  });
});
let url = '';
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  await new Promise<void>((r) => chain.listen(0, '127.0.0.1', () => r()));
  const rpc = `http://127.0.0.1:${(chain.address() as AddressInfo).port}`;
  const ex = await startExplorer({ port: 0, layers: [{ name: 'l1', kind: 'l1', parent: null, rpc, ws: rpc.replace('http', 'ws') }] as never });
  url = ex.url.replace(/\/$/, '');
  stop = () => ex.stop();
});
afterAll(async () => {
  await stop();
  chain.close();
});

const post = async (body: unknown) => {
  const r = await fetch(`${url}/rpc/l1`, { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { error?: { message: string } } };
};
/** GET with the path sent as is (fetch would normalize `..`). */
const rawGet = (path: string) =>
  new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    const q = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    q.on('error', reject);
    q.end();
  });

describe('explorer proxy', () => {
  it('refuses write and admin methods, alone or hidden in a batch; passes reads', async () => {
    for (const m of ['tx_sendRaw', 'dev_mine', 'admin_setMining', 'channel_pay', 'zk_sendTransaction', 'rollup_game', 'chain_getHeadX', '__proto__']) {
      const r = await post({ jsonrpc: '2.0', id: 1, method: m, params: [] });
      expect(r.status, m).toBe(403);
      expect(r.body.error?.message).toContain('only reads');
    }
    expect((await post([{ jsonrpc: '2.0', id: 1, method: 'chain_getHead' }, { jsonrpc: '2.0', id: 2, method: 'tx_sendRaw', params: ['0x00'] }])).status).toBe(403);
    // The explorer's own watcher reads the chain too; no write ever reached it.
    expect(seen.filter((m) => !/^chain_get/.test(m))).toEqual([]);
    expect((await post({ jsonrpc: '2.0', id: 1, method: 'chain_getHead' })).status).toBe(200);
  });

  it('serves no file outside its web directory', async () => {
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/vendor/../../../package.json', '/..\\..\\package.json', '//etc/passwd.json', '/%2F%2Fetc%2Fpasswd.json']) {
      const status = await rawGet(p);
      expect(status, p).not.toBe(200);
    }
    expect(await rawGet('/app.js')).toBe(200);
  });
});
