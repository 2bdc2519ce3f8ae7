/**
 * The explorer as an attacker sees it: its proxy passes reads only (single calls, batches and
 * WebSocket messages), never write or admin methods, and no URL reads a file outside its web dir.
 */
import { createServer, request } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
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
// The chain's WebSocket side: answers every message.
const chainWs = new WebSocketServer({ server: chain });
chainWs.on('connection', (c) => c.on('message', (d) => c.send(JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(d.toString()) as { id: number }).id, result: 'ok' }))));
// A layer whose WebSocket never finishes its handshake: the proxy's pre-connect queue fills.
const stuckSockets: Socket[] = [];
const stuck = createTcpServer((s) => stuckSockets.push(s));
// A layer whose WebSocket streams without end (a busy subscription): counts what it sent, and whether the proxy hung up.
const flood = createServer();
const floodWs = new WebSocketServer({ server: flood });
const floodStats = { sent: 0, closed: false };
floodWs.on('connection', (c) => {
  const chunk = 'x'.repeat(256 * 1024);
  c.on('close', () => {
    floodStats.closed = true;
  });
  const pump = () => {
    if (c.readyState !== WebSocket.OPEN || floodStats.sent > 256 << 20) return;
    c.send(chunk);
    floodStats.sent += chunk.length;
    setImmediate(pump);
  };
  pump();
});
let url = '';
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  await new Promise<void>((r) => chain.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => flood.listen(0, '127.0.0.1', () => r()));
  const rpc = `http://127.0.0.1:${(chain.address() as AddressInfo).port}`;
  const stuckWs = `ws://127.0.0.1:${(stuck.address() as AddressInfo).port}`;
  const ex = await startExplorer({
    port: 0,
    layers: [
      { name: 'l1', kind: 'l1', parent: null, rpc, ws: rpc.replace('http', 'ws') },
      { name: 'stuck', kind: 'l1', parent: null, rpc, ws: stuckWs },
      { name: 'flood', kind: 'l1', parent: null, rpc, ws: `ws://127.0.0.1:${(flood.address() as AddressInfo).port}` },
    ] as never,
  });
  url = ex.url.replace(/\/$/, '');
  stop = () => ex.stop();
});
afterAll(async () => {
  await stop();
  for (const s of stuckSockets) s.destroy();
  stuck.close();
  floodWs.close();
  flood.close();
  chainWs.close();
  chain.close();
});

/** Opens `/ws/<layer>` with the given headers; resolves with the socket once open, or the refusal's status. */
const openWs = (layer: string, headers: Record<string, string> = {}) =>
  new Promise<{ ws?: WebSocket; status?: number }>((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/${layer}`, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_q, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', reject);
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
    for (const m of ['tx_sendRaw', 'dev_mine', 'admin_setMining', 'channel_pay', 'zk_sendTransaction', 'rollup_game', 'chain_getHeadX', '__proto__', 'channel_listInvoices', 'channel_balance']) {
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

  it('the WebSocket proxy refuses another site\'s page and a DNS-rebound host; serves its own page', async () => {
    expect((await openWs('l1', { origin: 'https://evil.example' })).status).toBe(403);
    expect((await openWs('l1', { origin: 'null' })).status).toBe(403);
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, so Origin and Host agree but name another site.
    expect((await openWs('l1', { origin: 'http://rebound.example:80', host: 'rebound.example:80' })).status).toBe(403);
    const own = await openWs('l1', { origin: url });
    expect(own.ws).toBeDefined();
    const reply = new Promise<string>((r) => own.ws?.once('message', (d) => r(d.toString())));
    own.ws?.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'chain_getHead' }));
    expect(JSON.parse(await reply)).toMatchObject({ id: 7, result: 'ok' });
    own.ws?.close();
    // No Origin (curl, scripts): allowed. The HTTP proxy applies the same rule.
    const plain = await openWs('l1');
    expect(plain.ws).toBeDefined();
    plain.ws?.close();
    const r = await fetch(`${url}/rpc/l1`, { method: 'POST', headers: { origin: 'https://evil.example' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getHead' }) });
    expect(r.status).toBe(403);
  });

  it('bounds the messages queued before a layer\'s socket opens', async () => {
    const { ws } = await openWs('stuck', { origin: url });
    if (!ws) throw new Error('not opened');
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    for (let i = 0; i < 200 && ws.readyState === WebSocket.OPEN; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'chain_getHead' }));
    const c = await closed;
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(/too many messages before stuck connected/);
  }, 15_000);

  it('disconnects a page that stops reading a layer\'s stream instead of buffering it without bound', async () => {
    const { ws } = await openWs('flood', { origin: url });
    if (!ws) throw new Error('not opened');
    // The page reads nothing: its socket is paused, so the proxy's sends pile up.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const t0 = Date.now();
    while (!floodStats.closed && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    expect(floodStats.closed).toBe(true);
    // Cut near the 16 MiB backlog bound (plus what the sockets' kernel buffers hold), long before the 256 MiB the layer would send.
    expect(floodStats.sent).toBeLessThan(128 << 20);
    ws.terminate();
  }, 30_000);
});
