import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { fromHex, isStrataError, StrataError, type ErrorCode } from '@strata/primitives';
import { RpcClient, RpcError, RpcErrorCodes, RpcServer, WsRpcClient } from '@strata/rpc';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { sleep } from '../helpers/wait.js';

const TOKEN = 'correct horse battery staple';
const MAX_BODY = 64 * 1024;
const MAX_BATCH = 10;


let bumps = 0;

function makeServer(extra: ConstructorParameters<typeof RpcServer>[0] = {}, logger?: pino.Logger): RpcServer {
  const server = new RpcServer({ maxBodyBytes: MAX_BODY, maxBatch: MAX_BATCH, handlerTimeoutMs: 500, ...extra }, logger ? { logger } : {});
  server.registerAll({
    add: { minParams: 2, maxParams: 2, handler: ([a, b]) => Number(a) + Number(b), description: 'adds two numbers' },
    echo: { handler: (params) => params },
    bump: { maxParams: 0, handler: () => ++bumps },
    whoami: { maxParams: 0, handler: (_p, ctx) => ({ transport: ctx.transport, authorized: ctx.authorized }) },
    encoded: { handler: () => ({ n: 255n, zero: 0n, bytes: new Uint8Array([1, 2, 0xff]), buf: Buffer.from([0xab]), nothing: undefined }) },
    nothing: { handler: () => undefined },
    sleep: {
      minParams: 1,
      maxParams: 1,
      handler: async ([ms]) => {
        await sleep(Number(ms));
        return 'slept';
      },
    },
    fail: {
      minParams: 1,
      maxParams: 1,
      handler: async ([code]) => {
        await sleep(1);
        throw new StrataError(code as ErrorCode, `failed with ${String(code)}`, { hint: 'x' });
      },
    },
    failHex: { minParams: 1, handler: ([h]) => fromHex(String(h)) },
    failRpc: {
      handler: () => {
        throw new RpcError(RpcErrorCodes.RESOURCE_UNAVAILABLE, 'busy, retry later', { retryAfter: 5 });
      },
    },
    failPlain: {
      handler: () => {
        throw new Error('secret detail /home/node/.keys');
      },
    },
    failAsyncPlain: { handler: async () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'x')")) },
    failNegative: { handler: () => -1n },
    admin_secret: { admin: true, handler: () => 'the secret' },
    chain_subscribe: {
      minParams: 1,
      handler: ([kind, ...rest], ctx) => server.subscriptions.add(ctx, String(kind), rest),
    },
    chain_unsubscribe: { minParams: 1, maxParams: 1, handler: ([id], ctx) => server.subscriptions.remove(String(id), ctx) },
  });
  return server;
}

interface Raw {
  status: number;
  text: string;
  json: unknown;
  headers: Headers;
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Raw> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary reply fields
type Any = any;
type Resp = { jsonrpc: string; id: unknown; result?: unknown; error?: { code: number; message: string; data?: Any } };

/** A raw ws connection with a message queue. */
async function rawWs(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const queue: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  ws.on('message', (d) => {
    const v = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(v);
    else queue.push(v);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (timeoutMs = 2000): Promise<Any> =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no ws message within timeout')), timeoutMs);
          waiters.push((v) => {
            clearTimeout(t);
            resolve(v);
          });
        });
  return { ws, next, closed, queue };
}

/** Deterministic garbage. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s;
  };
}
function garbage(rand: () => number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = rand() & 0xff;
  return out;
}
const JSONISH = ['{', '}', '[', ']', '"', ':', ',', 'null', '1', '"jsonrpc"', '"2.0"', '"method"', '"id"', '"params"', '\\u12', 'true', '-', 'e9'];
function jsonishGarbage(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += JSONISH[rand() % JSONISH.length];
  return s;
}

describe('RpcServer over HTTP', () => {
  let server: RpcServer;
  beforeAll(async () => {
    server = makeServer({ adminToken: TOKEN });
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('exposes http and ws urls on loopback with the bound port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.wsUrl).toBe(server.url.replace('http://', 'ws://'));
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves GET /health and answers other paths and verbs with JSON errors', async () => {
    const h = await fetch(`${server.url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ ok: true });

    const nf = await fetch(`${server.url}/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as Resp).error?.code).toBe(-32600);

    const get = await fetch(`${server.url}/`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(((await get.json()) as Resp).error?.code).toBe(-32600);

    const put = await fetch(`${server.url}/`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);

    const postHealth = await fetch(`${server.url}/health`, { method: 'POST', body: '{}' });
    expect(postHealth.status).toBe(405);
  });

  it('requires Content-Type application/json', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'add', params: [1, 2] });
    const plain = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as Resp).error?.message).toMatch(/application\/json/);
    const withCharset = await post(server.url, body, { 'content-type': 'application/json; charset=utf-8' });
    expect(withCharset.json).toEqual({ jsonrpc: '2.0', id: 1, result: 3 });
  });

  it('answers a single call with the exact JSON-RPC envelope', async () => {
    const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 'abc', method: 'add', params: [2, 40] }));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 'abc', result: 42 });
    const n = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: null, method: 'echo' }));
    expect(n.json).toEqual({ jsonrpc: '2.0', id: null, result: [] });
  });

  it('RpcClient.call returns results and ctx says http / unauthorized', async () => {
    const c = new RpcClient(server.url);
    expect(await c.call<number>('add', [1, 2])).toBe(3);
    expect(await c.call('echo', ['x', 1, null])).toEqual(['x', 1, null]);
    expect(await c.call('whoami')).toEqual({ transport: 'http', authorized: false });
  });

  it('encodes bigint as quantities, bytes as hex and undefined as null', async () => {
    const c = new RpcClient(server.url);
    expect(await c.call('encoded')).toEqual({ n: '0xff', zero: '0x0', bytes: '0x0102ff', buf: '0xab' });
    const r = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"nothing"}');
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 1, result: null });
    const neg = await post(server.url, '{"jsonrpc":"2.0","id":2,"method":"failNegative"}');
    expect((neg.json as Resp).error?.code).toBe(-32603);
  });

  it('handles a mixed batch: valid, invalid and notification entries', async () => {
    const before = bumps;
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'add', params: [1, 1] },
      { jsonrpc: '2.0', method: 'bump' }, // notification: runs, no response
      { foo: 'bar' },
      1,
      { jsonrpc: '2.0', id: 'u', method: 'nope' },
      { jsonrpc: '2.0', id: 3, method: 'add', params: [1] },
      { jsonrpc: '2.0', method: 'nope' }, // notification of an unknown method: no response
      { jsonrpc: '2.0', id: 4, method: 'fail', params: ['TX_BAD_NONCE'] },
    ];
    const r = await post(server.url, JSON.stringify(batch));
    expect(r.status).toBe(200);
    const out = r.json as Resp[];
    expect(out).toHaveLength(6);
    expect(out[0]).toEqual({ jsonrpc: '2.0', id: 1, result: 2 });
    expect(out[1]).toMatchObject({ id: null, error: { code: -32600 } });
    expect(out[2]).toMatchObject({ id: null, error: { code: -32600 } });
    expect(out[3]).toMatchObject({ id: 'u', error: { code: -32601 } });
    expect(out[4]).toMatchObject({ id: 3, error: { code: -32602 } });
    expect(out[5]).toMatchObject({ id: 4, error: { code: -32003, data: { code: 'TX_BAD_NONCE' } } });
    expect(bumps).toBe(before + 1);
  });

  it('sends nothing (204) for notifications and all-notification batches, but still runs them', async () => {
    const before = bumps;
    const one = await post(server.url, '{"jsonrpc":"2.0","method":"bump"}');
    expect(one.status).toBe(204);
    expect(one.text).toBe('');
    const many = await post(server.url, JSON.stringify([{ jsonrpc: '2.0', method: 'bump' }, { jsonrpc: '2.0', method: 'bump', params: [] }]));
    expect(many.status).toBe(204);
    expect(many.text).toBe('');
    expect(bumps).toBe(before + 3);
  });

  it('RpcClient.batch keeps call order and reports per-call errors', async () => {
    const c = new RpcClient(server.url);
    const res = await c.batch([{ method: 'add', params: [1, 2] }, { method: 'nope' }, { method: 'echo', params: ['z'] }]);
    expect(res).toEqual([{ result: 3 }, { error: { code: -32601, message: 'method not found: nope' } }, { result: ['z'] }]);
    expect(await c.batch([])).toEqual([]);
  });

  it('answers invalid JSON with -32700 and id null', async () => {
    for (const body of ['{"jsonrpc":"2.0",', '', 'not json', '[{"jsonrpc":"2.0","method":"add"']) {
      const r = await post(server.url, body);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    }
  });

  it('rejects invalid request shapes', async () => {
    const cases: [unknown, number, unknown][] = [
      [{ id: 1, method: 'add', params: [1, 2] }, -32600, 1], // missing jsonrpc
      [{ jsonrpc: '1.0', id: 2, method: 'add', params: [1, 2] }, -32006, 2], // EIP-1474: version not supported
      [{ jsonrpc: '2.0', id: 3, method: 42 }, -32600, 3], // method not a string
      [{ jsonrpc: '2.0', id: 4 }, -32600, 4], // no method
      [{ jsonrpc: '2.0', id: 5, method: 'add', params: { a: 1, b: 2 } }, -32602, 5], // named params
      [{ jsonrpc: '2.0', id: 6, method: 'add', params: 'x' }, -32600, 6],
      [{ jsonrpc: '2.0', id: { x: 1 }, method: 'add', params: [1, 2] }, -32600, null], // bad id type
      [{ jsonrpc: '2.0', id: true, method: 'add', params: [1, 2] }, -32600, null],
      ['just a string', -32600, null],
      [null, -32600, null],
      [[], -32600, null], // empty batch
    ];
    for (const [req, code, id] of cases) {
      const r = await post(server.url, JSON.stringify(req));
      expect(r.status, JSON.stringify(req)).toBe(200);
      expect(Array.isArray(r.json), JSON.stringify(req)).toBe(false);
      expect(r.json, JSON.stringify(req)).toMatchObject({ jsonrpc: '2.0', id, error: { code } });
    }
    const three = await post(server.url, '[1,2,3]');
    expect(three.json).toEqual([1, 2, 3].map(() => ({ jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32600 }) })));
  });

  it('answers unknown methods with -32601; the client throws RpcError', async () => {
    const r = await post(server.url, '{"jsonrpc":"2.0","id":9,"method":"chain_nope","params":[]}');
    expect(r.json).toMatchObject({ id: 9, error: { code: -32601, message: 'method not found: chain_nope' } });
    const c = new RpcClient(server.url);
    const err = await c.call('chain_nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toBeInstanceOf(StrataError);
    expect((err as RpcError).rpcCode).toBe(-32601);
    expect((err as RpcError).code).toBe('RPC_ERROR');
  });

  it('enforces min/max param counts with -32602', async () => {
    const c = new RpcClient(server.url);
    for (const params of [[], [1], [1, 2, 3]]) {
      const err = (await c.call('add', params).catch((e: unknown) => e)) as RpcError;
      expect(err.rpcCode, JSON.stringify(params)).toBe(-32602);
      expect(err.message).toContain('takes 2 param(s)');
      expect(err.data).toEqual({ code: 'RPC_ERROR', meta: { min: 2, max: 2, got: params.length } });
    }
    const bump = (await c.call('bump', [1]).catch((e: unknown) => e)) as RpcError;
    expect(bump.rpcCode).toBe(-32602);
  });

  it.each([
    ['INVALID_HEX', -32602],
    ['DECODE_TRUNCATED', -32602],
    ['DECODE_NON_CANONICAL', -32602],
    ['DECODE_OVERSIZED', -32602],
    ['DECODE_INVALID', -32602],
    ['INVALID_ADDRESS', -32602],
    ['INVALID_SIGNATURE', -32602],
    ['TX_BAD_NONCE', -32003],
    ['TX_INSUFFICIENT_FUNDS', -32003],
    ['MEMPOOL_FULL', -32003],
    ['MEMPOOL_REPLACEMENT_UNDERPRICED', -32003],
    ['NOT_FOUND', -32001],
    ['UNAUTHORIZED', -32007],
    ['BLOCK_INVALID', -32603],
    ['INTERNAL', -32603],
  ] as const)('maps a handler StrataError %s to %i with data {code, meta}', async (code, rpcCode) => {
    const c = new RpcClient(server.url);
    const err = (await c.call('fail', [code]).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.rpcCode).toBe(rpcCode);
    expect(err.message).toBe(`failed with ${code}`);
    expect(err.data).toEqual({ code, meta: { hint: 'x' } });
    expect(err.remoteCode).toBe(code);
  });

  it('maps a real decoder error (fromHex) to -32602', async () => {
    const r = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"failHex","params":["0xzz"]}');
    expect(r.json).toMatchObject({ id: 1, error: { code: -32602, data: { code: 'INVALID_HEX' } } });
  });

  it('passes RpcError codes and data through unchanged', async () => {
    const r = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"failRpc"}');
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32002, message: 'busy, retry later', data: { retryAfter: 5 } } });
  });

  it('maps foreign errors to -32603 without leaking messages or stacks, and keeps serving', async () => {
    for (const m of ['failPlain', 'failAsyncPlain']) {
      const r = await post(server.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: m }));
      const e = (r.json as Resp).error;
      expect(e).toBeDefined();
      expect(e?.code).toBe(-32603);
      expect(e?.data).toEqual({ code: 'INTERNAL' });
      expect(r.text).not.toContain('secret');
      expect(r.text).not.toContain('Cannot read');
      expect(r.text).not.toMatch(/\bat .*:\d+:\d+/);
    }
    expect(await new RpcClient(server.url).call('add', [5, 5])).toBe(10);
  });

  it('fails a handler that runs past the timeout with -32603', async () => {
    const t0 = Date.now();
    const err = (await new RpcClient(server.url).call('sleep', [3000]).catch((e: unknown) => e)) as RpcError;
    expect(err.rpcCode).toBe(-32603);
    expect(err.message).toMatch(/timed out after 500 ms/);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(await new RpcClient(server.url).call('sleep', [10])).toBe('slept');
  });

  it('refuses a body over maxBodyBytes with HTTP 413 and -32005 (with and without Content-Length)', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(MAX_BODY)] });
    const r = await post(server.url, big);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ id: null, error: { code: -32005, data: { meta: { limit: MAX_BODY } } } });

    // Chunked upload without Content-Length: the limit applies while streaming.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(server.url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(MAX_BODY / 4));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe(-32005);

    // Just under the limit still works.
    const ok = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: ['y'.repeat(MAX_BODY - 100)] });
    const r2 = await post(server.url, ok);
    expect(r2.status).toBe(200);
    expect((r2.json as Resp).result).toEqual(['y'.repeat(MAX_BODY - 100)]);
  });

  it('refuses a batch over maxBatch with one -32005 error; the client throws', async () => {
    const mk = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'add', params: [i, 1] }));
    const over = await post(server.url, JSON.stringify(mk(MAX_BATCH + 1)));
    expect(over.json).toMatchObject({ id: null, error: { code: -32005 } });
    const at = await post(server.url, JSON.stringify(mk(MAX_BATCH)));
    expect((at.json as Resp[]).map((x) => x.result)).toEqual(Array.from({ length: MAX_BATCH }, (_, i) => i + 1));
    const c = new RpcClient(server.url);
    const err = (await c.batch(mk(MAX_BATCH + 1).map((x) => ({ method: x.method, params: x.params }))).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.rpcCode).toBe(-32005);
  });

  it('guards admin methods with the bearer token', async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"admin_secret"}';
    const none = await post(server.url, body);
    expect(none.json).toMatchObject({ error: { code: -32007, data: { code: 'UNAUTHORIZED' } } });
    const wrong = await post(server.url, body, { authorization: 'Bearer nope' });
    expect((wrong.json as Resp).error?.code).toBe(-32007);
    const basic = await post(server.url, body, { authorization: `Basic ${TOKEN}` });
    expect((basic.json as Resp).error?.code).toBe(-32007);
    const right = await post(server.url, body, { authorization: `Bearer ${TOKEN}` });
    expect(right.json).toEqual({ jsonrpc: '2.0', id: 1, result: 'the secret' });

    expect(await new RpcClient(server.url, { adminToken: TOKEN }).call('admin_secret')).toBe('the secret');
    expect(await new RpcClient(server.url, { adminToken: TOKEN }).call('whoami')).toEqual({ transport: 'http', authorized: true });
    const err = (await new RpcClient(server.url).call('admin_secret').catch((e: unknown) => e)) as RpcError;
    expect(err.rpcCode).toBe(RpcErrorCodes.UNAUTHORIZED);
    // Non-admin methods work with or without (even a wrong) token.
    expect(await new RpcClient(server.url, { adminToken: 'wrong' }).call('add', [1, 1])).toBe(2);
  });

  it('refuses subscriptions over HTTP with -32004', async () => {
    const err = (await new RpcClient(server.url).call('chain_subscribe', ['newHeads']).catch((e: unknown) => e)) as RpcError;
    expect(err.rpcCode).toBe(-32004);
  });

  it('client: times out slow calls and reports unreachable servers as NETWORK errors naming the URL', async () => {
    const slow = await new RpcClient(server.url, { timeoutMs: 100 }).call('sleep', [400]).catch((e: unknown) => e);
    expect(isStrataError(slow, 'NETWORK')).toBe(true);
    expect((slow as Error).message).toMatch(/timed out after 100 ms/);

    const dead = new RpcServer({});
    await dead.start();
    const deadUrl = dead.url;
    await dead.stop();
    const err = await new RpcClient(deadUrl).call('add', [1, 2]).catch((e: unknown) => e);
    expect(isStrataError(err, 'NETWORK')).toBe(true);
    expect((err as Error).message).toContain(deadUrl);
    expect((err as Error).message).toMatch(/check that the node is running/);
    expect((err as Error).message).toContain('ECONNREFUSED');

    const wsErr = await WsRpcClient.connect(deadUrl.replace('http', 'ws')).catch((e: unknown) => e);
    expect(isStrataError(wsErr, 'NETWORK')).toBe(true);
    expect((wsErr as Error).message).toMatch(/check that the node is running/);

    expect(() => new RpcClient('not a url')).toThrow(StrataError);
    expect(() => new RpcClient('ws://127.0.0.1:1')).toThrow(/WsRpcClient/);
  });

  it('client: a non-JSON-RPC endpoint gives an RPC_ERROR, not a crash', async () => {
    const err = await new RpcClient(`${server.url}/health`).call('add', [1, 2]).catch((e: unknown) => e);
    // POST /health → 405 with a JSON-RPC error body → RpcError
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).rpcCode).toBe(-32600);
  });
});

describe('RpcServer without an admin token', () => {
  let server: RpcServer;
  beforeAll(async () => {
    server = makeServer({});
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('refuses admin methods whatever the caller sends', async () => {
    for (const authorization of ['', 'Bearer ', `Bearer ${TOKEN}`, 'Bearer undefined']) {
      const r = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"admin_secret"}', authorization ? { authorization } : {});
      expect((r.json as Resp).error?.code, authorization).toBe(-32007);
    }
    const ws = await rawWs(`${server.wsUrl}/?token=${encodeURIComponent(TOKEN)}`);
    ws.ws.send('{"jsonrpc":"2.0","id":1,"method":"admin_secret"}');
    expect((await ws.next()).error.code).toBe(-32007);
    ws.ws.close();
  });

  it('rejects an empty admin token in the options', () => {
    expect(() => new RpcServer({ adminToken: '' })).toThrow(StrataError);
  });
});

describe('RpcServer with the default body limit', () => {
  it('accepts 4.5 MiB and refuses 6 MiB (5 MiB default)', async () => {
    const server = new RpcServer({});
    server.register('len', { minParams: 1, maxParams: 1, handler: ([s]) => String(s).length });
    await server.start();
    try {
      const c = new RpcClient(server.url);
      const ok = 4.5 * 1024 * 1024;
      expect(await c.call('len', ['a'.repeat(ok)])).toBe(ok);
      const err = (await c.call('len', ['a'.repeat(6 * 1024 * 1024)]).catch((e: unknown) => e)) as RpcError;
      expect(err).toBeInstanceOf(RpcError);
      expect(err.rpcCode).toBe(-32005);
    } finally {
      await server.stop();
    }
  });
});

describe('RpcServer over WebSocket', () => {
  let server: RpcServer;
  beforeAll(async () => {
    server = makeServer({ adminToken: TOKEN });
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('answers single calls and batches, including errors, on a raw socket', async () => {
    const { ws, next } = await rawWs(server.wsUrl);
    ws.send('{"jsonrpc":"2.0","id":7,"method":"add","params":[3,4]}');
    expect(await next()).toEqual({ jsonrpc: '2.0', id: 7, result: 7 });
    ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'whoami' }, { jsonrpc: '2.0', method: 'bump' }, { jsonrpc: '2.0', id: 2, method: 'nope' }]));
    expect(await next()).toEqual([
      { jsonrpc: '2.0', id: 1, result: { transport: 'ws', authorized: false } },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'method not found: nope' } },
    ]);
    ws.send('{oops');
    expect(await next()).toMatchObject({ id: null, error: { code: -32700 } });
    ws.send('{"jsonrpc":"2.0","id":3,"method":"admin_secret"}');
    expect((await next()).error.code).toBe(-32007);
    ws.close();
  });

  it('WsRpcClient calls, errors and admin token via ?token=', async () => {
    const c = await WsRpcClient.connect(server.wsUrl);
    expect(await c.call('add', [1, 2])).toBe(3);
    const results = await Promise.all([c.call('sleep', [50]), c.call('add', [10, 10]), c.call('echo', [1n])]);
    expect(results).toEqual(['slept', 20, ['0x1']]);
    const err = (await c.call('fail', ['MEMPOOL_FULL']).catch((e: unknown) => e)) as RpcError;
    expect(err.rpcCode).toBe(-32003);
    expect(err.remoteCode).toBe('MEMPOOL_FULL');
    expect(((await c.call('admin_secret').catch((e: unknown) => e)) as RpcError).rpcCode).toBe(-32007);
    await c.close();
    await expect(c.call('add', [1, 2])).rejects.toMatchObject({ code: 'NETWORK' });

    const admin = await WsRpcClient.connect(server.wsUrl, { adminToken: TOKEN });
    expect(await admin.call('admin_secret')).toBe('the secret');
    expect(await admin.call('whoami')).toEqual({ transport: 'ws', authorized: true });
    await admin.close();

    const wrong = await WsRpcClient.connect(server.wsUrl, { adminToken: 'wrong' });
    expect(((await wrong.call('admin_secret').catch((e: unknown) => e)) as RpcError).rpcCode).toBe(-32007);
    await wrong.close();
  });

  it('pushes subscription notifications in the eth_subscribe shape', async () => {
    const { ws, next } = await rawWs(server.wsUrl);
    ws.send('{"jsonrpc":"2.0","id":1,"method":"chain_subscribe","params":["newHeads"]}');
    const sub = await next();
    expect(sub.result).toMatch(/^0x[0-9a-f]{32}$/);
    expect(server.subscriptions.count('newHeads')).toBe(1);
    expect(server.publish('newHeads', { number: 5n, hash: new Uint8Array([0xaa]) })).toBe(1);
    expect(server.publish('other', { x: 1 })).toBe(0);
    expect(await next()).toEqual({
      jsonrpc: '2.0',
      method: 'chain_subscription',
      params: { subscription: sub.result, result: { number: '0x5', hash: '0xaa' } },
    });
    ws.close();
    await vi.waitFor(() => expect(server.subscriptions.count()).toBe(0));
  });

  it('WsRpcClient.subscribe routes events, unsubscribe stops them, close drops the rest server-side', async () => {
    const c = await WsRpcClient.connect(server.wsUrl);
    const heads: unknown[] = [];
    const txs: unknown[] = [];
    const hid = await c.subscribe('chain_subscribe', ['newHeads'], (r) => heads.push(r));
    const tid = await c.subscribe('chain_subscribe', ['pendingTxs', 'filter-a'], (r) => txs.push(r));
    expect(hid).not.toBe(tid);
    expect(server.subscriptions.count()).toBe(2);
    expect(server.subscriptions.list().find((s) => s.id === tid)?.params).toEqual(['filter-a']);

    server.publish('newHeads', { n: 1 });
    server.publish('pendingTxs', 'tx1');
    server.publish('newHeads', { n: 2 });
    // Filtered publish: only subscribers whose params match.
    server.publish('pendingTxs', 'tx-b', (s) => s.params[0] === 'filter-b');
    await vi.waitFor(() => expect(heads).toEqual([{ n: 1 }, { n: 2 }]));
    expect(txs).toEqual(['tx1']);

    // Another connection cannot cancel our subscription.
    const other = await WsRpcClient.connect(server.wsUrl);
    expect(await other.call('chain_unsubscribe', [hid])).toBe(false);
    await other.close();
    expect(server.subscriptions.count('newHeads')).toBe(1);

    expect(await c.unsubscribe('chain_unsubscribe', hid)).toBe(true);
    expect(await c.call('chain_unsubscribe', [hid])).toBe(false);
    expect(server.subscriptions.count('newHeads')).toBe(0);
    expect(server.publish('newHeads', { n: 3 })).toBe(0);
    server.publish('pendingTxs', 'tx2');
    await vi.waitFor(() => expect(txs).toEqual(['tx1', 'tx2']));
    expect(heads).toEqual([{ n: 1 }, { n: 2 }]);

    await c.close();
    await vi.waitFor(() => expect(server.subscriptions.count()).toBe(0));
    expect(server.publish('pendingTxs', 'tx3')).toBe(0);
  });

  it('delivers notifications that overtake the subscribe response', async () => {
    // A subscribe handler that publishes before it returns: the event reaches the client first.
    const s = new RpcServer({});
    s.register('chain_subscribe', {
      handler: (_p, ctx) => {
        const id = s.subscriptions.add(ctx, 'k');
        s.publish('k', 'early');
        return id;
      },
    });
    await s.start();
    try {
      const c = await WsRpcClient.connect(s.wsUrl);
      const got: unknown[] = [];
      await c.subscribe('chain_subscribe', [], (r) => got.push(r));
      expect(got).toEqual(['early']);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('closes a socket that sends a message over maxBodyBytes with 1009, and keeps serving others', async () => {
    const { ws, closed } = await rawWs(server.wsUrl);
    ws.send('x'.repeat(MAX_BODY + 1));
    expect((await closed).code).toBe(1009);
    const c = await WsRpcClient.connect(server.wsUrl);
    expect(await c.call('add', [2, 2])).toBe(4);
    await c.close();
  });

  it('fails pending calls with NETWORK when the server goes away', async () => {
    const s = makeServer({});
    await s.start();
    const c = await WsRpcClient.connect(s.wsUrl);
    const pending = c.call('sleep', [400]).catch((e: unknown) => e);
    await sleep(20);
    await s.stop();
    const err = await pending;
    expect(isStrataError(err, 'NETWORK')).toBe(true);
    expect((err as Error).message).toContain('closed (code 1001');
    expect(c.isOpen).toBe(false);
  });

  it('refuses upgrades on other paths and from foreign browser origins (cors off)', async () => {
    await expect(rawWs(`${server.wsUrl}/other`)).rejects.toThrow(/404/);
    await expect(rawWs(server.wsUrl, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const local = await rawWs(server.wsUrl, { origin: 'http://localhost:3000' });
    local.ws.send('{"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]}');
    expect((await local.next()).result).toBe(2);
    local.ws.close();
  });

  it('refuses a DNS-rebound Host on HTTP and WebSocket while bound to loopback (a page whose own name resolves here is same-origin to the browser)', async () => {
    const port = new URL(server.url).port;
    const rawPost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const q = request({ host: '127.0.0.1', port, path: '/', method: 'POST', headers: { host, 'content-type': 'application/json', origin: `http://${host}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        q.on('error', reject);
        q.end('{"jsonrpc":"2.0","id":1,"method":"bump","params":[]}');
      });
    const before = bumps;
    expect(await rawPost(`rebound.example:${port}`)).toBe(403);
    await expect(rawWs(server.wsUrl, { host: `rebound.example:${port}`, origin: `http://rebound.example:${port}` })).rejects.toThrow(/403/);
    expect(bumps).toBe(before);
    // Its own names still work.
    for (const h of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) expect(await rawPost(h)).toBe(200);
  });
});

describe('RpcServer with cors', () => {
  it('answers preflight and accepts foreign origins', async () => {
    const server = makeServer({ cors: true });
    await server.start();
    try {
      const pre = await fetch(server.url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
      const r = await post(server.url, '{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}', { origin: 'https://app.example' });
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      const ws = await rawWs(server.wsUrl, { origin: 'https://app.example' });
      ws.ws.close();
    } finally {
      await server.stop();
    }
  });
});

describe('RpcServer under garbage', () => {
  let server: RpcServer;
  beforeAll(async () => {
    server = makeServer({ adminToken: TOKEN });
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('survives a flood of garbage over HTTP, raw TCP and WebSocket, then still serves', async () => {
    const rand = prng(12345);

    // HTTP: random bytes and JSON-ish token soup; every answer is a JSON-RPC error, never a 5xx.
    const bodies: (string | Uint8Array)[] = [];
    for (let i = 0; i < 150; i++) bodies.push(garbage(rand, 1 + (rand() % 2000)));
    for (let i = 0; i < 150; i++) bodies.push(jsonishGarbage(rand, 1 + (rand() % 60)));
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        return { status: res.status, text: await res.text() };
      }),
    );
    for (const a of answers) {
      expect([200, 204]).toContain(a.status);
      if (a.status === 200) expect(a.text).toContain('"error"');
    }

    // Raw TCP: not HTTP at all, and broken upgrades.
    const tcpJunk = [
      garbage(rand, 4096),
      new TextEncoder().encode('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      new TextEncoder().encode('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{"a":'),
      new TextEncoder().encode('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
    ];
    await Promise.all(
      tcpJunk.map(
        (bytes) =>
          new Promise<void>((resolve) => {
            const s = netConnect(server.port, '127.0.0.1', () => s.end(bytes));
            s.on('error', () => resolve());
            s.on('close', () => resolve());
            s.resume();
            setTimeout(() => {
              s.destroy();
              resolve();
            }, 3000).unref();
          }),
      ),
    );

    // WebSocket: text and binary garbage on one socket; each message gets an error back, no close.
    const { ws, next, closed } = await rawWs(server.wsUrl);
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      ws.send(jsonishGarbage(rand, 1 + (rand() % 40)));
      ws.send(garbage(rand, 1 + (rand() % 500)), { binary: true });
      sent += 2;
    }
    const replies: Any[] = [];
    // Notifications-only garbage (unlikely) would get no reply, so count errors instead of exact replies.
    for (let i = 0; i < sent; i++) {
      const r = await next(2000).catch(() => undefined);
      if (r === undefined) break;
      replies.push(r);
    }
    expect(replies.length).toBeGreaterThan(sent * 0.9);
    for (const r of replies) expect(JSON.stringify(r)).toContain('"error"');
    ws.send('{"jsonrpc":"2.0","id":"after","method":"add","params":[20,22]}');
    expect(await next()).toEqual({ jsonrpc: '2.0', id: 'after', result: 42 });
    const state = await Promise.race([closed, sleep(50).then(() => 'open')]);
    expect(state).toBe('open');
    ws.close();

    // Many sockets opened and dropped abruptly.
    for (let i = 0; i < 20; i++) {
      const s = await rawWs(server.wsUrl);
      s.ws.send('{"jsonrpc":"2.0","id":1,"method":"sleep","params":[50]}');
      s.ws.terminate();
    }

    // Still serving, on both transports.
    const c = new RpcClient(server.url);
    expect(await c.call('add', [1, 2])).toBe(3);
    const w = await WsRpcClient.connect(server.wsUrl);
    expect(await w.call('add', [3, 4])).toBe(7);
    await w.close();
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('RpcServer logging', () => {
  it('logs one debug line per request and warns on unexpected handler errors', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const server = makeServer({}, logger);
    await server.start();
    try {
      const c = new RpcClient(server.url);
      await c.call('add', [1, 2]);
      await c.call('failPlain').catch(() => undefined);
      await c.call('fail', ['TX_BAD_NONCE']).catch(() => undefined);
      const reqs = lines.filter((l) => l.msg === 'rpc request');
      expect(reqs.map((l) => l.method)).toEqual(['add', 'failPlain', 'fail']);
      for (const l of reqs) {
        expect(l.level).toBe(20);
        expect(typeof l.ms).toBe('number');
        expect(l.transport).toBe('http');
      }
      expect(reqs[2]?.error).toBe(-32003);
      const warns = lines.filter((l) => l.level === 40);
      expect(warns).toHaveLength(1);
      expect(warns[0]?.method).toBe('failPlain');
      expect(JSON.stringify(warns[0])).toContain('secret detail'); // full detail goes to the log, not the client
    } finally {
      await server.stop();
    }
  });
});
