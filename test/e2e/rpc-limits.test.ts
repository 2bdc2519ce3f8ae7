/**
 * Bounds of the JSON-RPC server per connection, over real HTTP and WebSocket sockets: calls per
 * second on one keep-alive socket or WebSocket, calls in flight on one WebSocket, the number of
 * WebSockets, a client that stops reading its responses, and the full-block sender cache.
 */
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { StrataNode, startRpc } from '@strata/node';
import { initHashing, toQuantity } from '@strata/primitives';
import { addressBudgetKey, clientAddress, RpcClient, RpcServer, TrustedProxies } from '@strata/rpc';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { devConfig, keys, tempDir, transferTx } from '../helpers/chain.js';
import { sleep } from '../helpers/wait.js';

await initHashing();
const stops: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

async function server(opts: ConstructorParameters<typeof RpcServer>[0]): Promise<RpcServer> {
  const s = new RpcServer({ port: 0, ...opts });
  s.registerAll({
    ping: { handler: () => 'pong' },
    sleep: {
      handler: async ([ms]) => {
        await sleep(Number(ms));
        return 'slept';
      },
    },
    big: { handler: () => 'x'.repeat(1024 * 1024) },
  });
  await s.start();
  stops.push(() => s.stop());
  return s;
}

function post(url: string, body: string, agent: Agent, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function openWs(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    stops.push(() => ws.terminate());
  });
}

/** `n` calls from this host, each on a fresh connection, with the given headers: the HTTP statuses. */
async function freshCalls(url: string, n: number, headers: (i: number) => Record<string, string>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const agent = new Agent({ keepAlive: false });
    statuses.push((await post(url, `{"jsonrpc":"2.0","id":${i},"method":"ping"}`, agent, headers(i))).status);
    agent.destroy();
  }
  return statuses;
}
const served = (statuses: number[]) => statuses.filter((x) => x === 200).length;
const wsPing = async (url: string, headers: Record<string, string>) => {
  const ws = await openWs(url, headers);
  const answer = await new Promise<{ result?: string; error?: { code: number } }>((resolve) => {
    ws.once('message', (d) => resolve(JSON.parse(String(d))));
    ws.send('{"jsonrpc":"2.0","id":1,"method":"ping"}');
  });
  ws.terminate();
  return answer;
};

describe('rpc behind a reverse proxy (trustedProxies, strata node --rpc-trusted-proxy)', () => {
  // A slow refill (1 call/s) so that the few ms between two checks give no fresh call.
  const budget = { maxCallsPerSecond: 1000, callBurst: 1000, maxCallsPerSecondPerAddress: 1, callBurstPerAddress: 10 };

  it('charges each client a trusted proxy names in X-Forwarded-For; loopback is not exempt once a proxy is configured', async () => {
    // Before, a same-host proxy made every client loopback, and loopback was exempt: 30 of 30.
    const s = await server({ ...budget, trustedProxies: ['127.0.0.1'] });
    const a = await freshCalls(s.url, 30, () => ({ 'x-forwarded-for': '198.51.100.7' }));
    expect(served(a)).toBeLessThanOrEqual(12);
    // Another client behind the same proxy has its own budget; what a client writes to the left
    // of the proxy's own entry proves nothing (the right-most untrusted hop counts).
    expect(await freshCalls(s.url, 1, () => ({ 'x-forwarded-for': '198.51.100.7, 198.51.100.8' }))).toEqual([200]);
    expect((await freshCalls(s.url, 1, () => ({ 'x-forwarded-for': '198.51.100.8, 198.51.100.7' })))[0]).toBe(429);
    // WebSockets through the proxy too.
    expect((await wsPing(s.wsUrl, { 'x-forwarded-for': '198.51.100.7' })).error?.code).toBe(-32005);
    expect((await wsPing(s.wsUrl, { 'x-forwarded-for': '198.51.100.9' })).result).toBe('pong');
    // Calls from the proxy that name no client are charged to the proxy itself, not exempt.
    expect(served(await freshCalls(s.url, 30, () => ({})))).toBeLessThanOrEqual(12);
    // A malformed header is the proxy's own call too: its budget, already spent (a few refill meanwhile).
    expect(served(await freshCalls(s.url, 30, () => ({ 'x-forwarded-for': 'not-an-ip' })))).toBeLessThanOrEqual(2);
  });

  it("one client cannot spend a pooled proxy connection's budget for the other clients on it", async () => {
    // A proxy keeps one keep-alive socket to the node and sends every client's calls on it. The
    // socket's own budget (10) is tighter here than a client's (20): before, client A spending it
    // got client B refused on the same socket; each named client is bounded by its own budget.
    const s = await server({ maxCallsPerSecond: 1, callBurst: 10, maxCallsPerSecondPerAddress: 1, callBurstPerAddress: 20, trustedProxies: ['127.0.0.1'] });
    const pooled = new Agent({ keepAlive: true, maxSockets: 1 });
    stops.push(() => pooled.destroy());
    const ping = (i: number, client: string) => post(s.url, `{"jsonrpc":"2.0","id":${i},"method":"ping"}`, pooled, { 'x-forwarded-for': client });
    const a: number[] = [];
    for (let i = 0; i < 30; i++) a.push((await ping(i, '198.51.100.7')).status);
    expect(served(a)).toBeGreaterThanOrEqual(18); // its own budget, not the socket's 10
    expect(served(a)).toBeLessThanOrEqual(22);
    expect((await ping(99, '198.51.100.8')).status).toBe(200);
  });

  it('ignores X-Forwarded-For from an address that is not a trusted proxy (a client rotating the header gets no fresh budgets)', async () => {
    const s = await server({ ...budget, trustedProxies: ['192.0.2.1'] });
    const rotated = await freshCalls(s.url, 30, (i) => ({ 'x-forwarded-for': `203.0.113.${i + 1}` }));
    expect(served(rotated)).toBeLessThanOrEqual(12);
  });

  it('without a proxy configured, loopback stays exempt and the header is never read', async () => {
    const s = await server(budget);
    expect(served(await freshCalls(s.url, 30, () => ({ 'x-forwarded-for': '198.51.100.7' })))).toBe(30);
  });

  it('trusted proxies as CIDR ranges (10.0.0.0/8, fd00::/8, 127.0.0.0/8): any spelling of an address matches; bad ranges are refused', async () => {
    const p = new TrustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.1', '::1']);
    expect(p.has('10.200.3.4')).toBe(true);
    expect(p.has('::ffff:10.0.0.1')).toBe(true);
    expect(p.has('11.0.0.1')).toBe(false);
    expect(p.has('fd12:3456::1')).toBe(true);
    expect(p.has('FD00:0:0:0:0:0:0:9')).toBe(true);
    expect(p.has('fe80::1')).toBe(false);
    expect(p.has('192.0.2.1')).toBe(true);
    expect(p.has('192.0.2.2')).toBe(false);
    expect(p.has('0:0:0:0:0:0:0:1')).toBe(true);
    expect(p.has('not-an-ip')).toBe(false);
    expect(clientAddress('10.9.8.7', '198.51.100.1, 10.1.1.1', p)).toBe('198.51.100.1');
    expect(clientAddress('fd00::5', '[2001:db8::5]:443', p)).toBe('2001:db8::5');
    expect(new TrustedProxies(['::ffff:10.0.0.0/104']).has('10.1.2.3')).toBe(true);
    expect(new TrustedProxies(['0.0.0.0/0']).has('203.0.113.9')).toBe(true);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/8x', 'proxy.example/8', '10.0.0.0/-1']) {
      expect(() => new RpcServer({ trustedProxies: [bad] }), bad).toThrow(/must be an IP address or a CIDR range/);
    }
    // A zone id is not compared (fe80::1 on every interface would be trusted): refused, not silently widened.
    for (const zoned of ['fe80::1%eth0', 'fe80::%eth0/10', '::ffff:10.0.0.1%1']) {
      expect(() => new RpcServer({ trustedProxies: [zoned] }), zoned).toThrow(/zone id/);
    }
    // Over real sockets: a proxy trusted by range (the loopback /8) has its X-Forwarded-For read.
    const s = await server({ ...budget, trustedProxies: ['127.0.0.0/8'] });
    expect(served(await freshCalls(s.url, 30, () => ({ 'x-forwarded-for': '198.51.100.7' })))).toBeLessThanOrEqual(12);
    expect(await freshCalls(s.url, 1, () => ({ 'x-forwarded-for': '198.51.100.8' }))).toEqual([200]);
  });

  it('strata node --rpc-trusted-proxy reaches the RPC server: an address that is not an IP stops the node at start', async () => {
    const t = tempDir('strata-proxy-flag-');
    stops.push(() => t.cleanup());
    const bin = new URL('../../packages/cli/bin/strata.js', import.meta.url).pathname;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const args = [bin, 'node', '--data-dir', t.dir, '--dev', '--no-p2p', '--rpc-port', '0', '--metrics-port', '0', '--rpc-trusted-proxy', '127.0.0.1,proxy.example', '--json'];
      const child = execFile(process.execPath, args, { env: { ...process.env, STRATA_CLI_FROM_SOURCE: '1' }, timeout: 60_000 }, (_e, stdout) => resolve({ code: child.exitCode, stdout }));
    });
    expect(out.code).toBe(1);
    // The node's log lines come first; the error is printed last.
    expect(out.stdout).toMatch(/"code": "CONFIG_INVALID",\s*"message": "rpc trusted proxy must be an IP address or a CIDR range \(e\.g\. 10\.0\.0\.0\/8, fd00::\/8\), got proxy\.example"/);
  }, 60_000);

  it('clientAddress: the right-most hop that is not a trusted proxy; ports, brackets and IPv4-mapped forms; anything malformed is the proxy', () => {
    const proxies = new Set(['127.0.0.1', '10.0.0.2']);
    expect(clientAddress('127.0.0.1', '198.51.100.1', proxies)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', proxies)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.1, 10.0.0.2', proxies)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', ['6.6.6.6', '198.51.100.1:4711'], proxies)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', '[2001:db8::5]:443', proxies)).toBe('2001:db8::5');
    expect(clientAddress('127.0.0.1', '10.0.0.2', proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', undefined, proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1, garbage', proxies)).toBe('127.0.0.1');
    expect(clientAddress('203.0.113.5', '198.51.100.1', proxies)).toBe('203.0.113.5');
    expect(() => new RpcServer({ trustedProxies: ['proxy.example'] })).toThrow(/must be an IP address or a CIDR range/);
    // Any spelling of one client is one budget: IPv4-mapped forms other than ::ffff:a.b.c.d used
    // to be keyed as the shared 0:0:0:0::/64 (every such client in one budget), and other IPv6
    // spellings kept their case and zeros.
    for (const spelled of ['0:0:0:0:0:ffff:198.51.100.7', '::ffff:c633:6407', '::FFFF:198.51.100.7']) {
      expect(addressBudgetKey(clientAddress('127.0.0.1', spelled, proxies) as string), spelled).toBe('198.51.100.7');
    }
    expect(clientAddress('127.0.0.1', '2001:DB8:0:0:0:0:0:5', proxies)).toBe('2001:db8::5');
  });
});

describe('rpc limits per connection', () => {
  it('refuses calls beyond the per-connection rate with -32005 (HTTP 429); another connection is served', async () => {
    const s = await server({ maxCallsPerSecond: 5, callBurst: 10 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    stops.push(() => agent.destroy());
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await post(s.url, `{"jsonrpc":"2.0","id":${i},"method":"ping"}`, agent)).status);
    expect(statuses.filter((x) => x === 200).length).toBeLessThanOrEqual(12);
    const refused = await post(s.url, '{"jsonrpc":"2.0","id":"r","method":"ping"}', agent);
    expect(refused.status).toBe(429);
    expect((refused.json as { id: string; error: { code: number } }).error.code).toBe(-32005);
    expect((refused.json as { id: string }).id).toBe('r');
    // A batch counts each of its calls.
    const fresh = new Agent({ keepAlive: true, maxSockets: 1 });
    stops.push(() => fresh.destroy());
    const batch = JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));
    expect((await post(s.url, batch, fresh)).status).toBe(429);
    expect((await post(s.url, '{"jsonrpc":"2.0","id":1,"method":"ping"}', fresh)).status).toBe(200);
  });

  it('budgets calls per remote address too: a client opening a new connection per request is refused past the address budget', async () => {
    // Loopback is exempt by default (the devnet's processes); a remote address is not: drop the
    // exemption to play one over loopback.
    const s = await server({ maxCallsPerSecond: 5, callBurst: 10, maxCallsPerSecondPerAddress: 5, callBurstPerAddress: 10, addressBudgetExempt: [] });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      // A fresh socket per request: every one starts with a full per-connection budget.
      const agent = new Agent({ keepAlive: false });
      statuses.push((await post(s.url, `{"jsonrpc":"2.0","id":${i},"method":"ping"}`, agent)).status);
      agent.destroy();
    }
    expect(statuses.filter((x) => x === 200).length).toBeLessThanOrEqual(12);
    const once = new Agent({ keepAlive: false });
    stops.push(() => once.destroy());
    const refused = await post(s.url, '{"jsonrpc":"2.0","id":"r","method":"ping"}', once);
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ id: 'r', error: { code: -32005, data: { meta: { scope: 'address' } } } });
    // WebSockets opened one per call share the address budget as well.
    const answers: { error?: { code: number } }[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = await openWs(s.wsUrl);
      answers.push(
        await new Promise((resolve) => {
          ws.once('message', (d) => resolve(JSON.parse(String(d))));
          ws.send(`{"jsonrpc":"2.0","id":${i},"method":"ping"}`);
        }),
      );
      ws.terminate();
    }
    expect(answers.every((a) => a.error?.code === -32005)).toBe(true);
  });

  it('a client that resets its connection right after sending a request is still charged to its address', async () => {
    // Once the peer has reset the socket, Node's socket.remoteAddress reads undefined, and an
    // undefined address was exempt: sending each call on a fresh socket and resetting it at once
    // ran every call (the node still does the work) with no per-address budget at all.
    let ran = 0;
    const s = new RpcServer({ port: 0, maxCallsPerSecond: 5, callBurst: 10, maxCallsPerSecondPerAddress: 5, callBurstPerAddress: 10, addressBudgetExempt: [] });
    s.registerAll({ work: { handler: () => ++ran } });
    await s.start();
    stops.push(() => s.stop());
    const { port } = new URL(s.url);
    const body = '{"jsonrpc":"2.0","id":1,"method":"work"}';
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve) => {
        const sock = connect(Number(port), '127.0.0.1', () => {
          sock.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
          sock.resetAndDestroy();
          resolve();
        });
        sock.on('error', () => resolve());
      });
    }
    await sleep(300);
    expect(ran).toBeGreaterThan(0);
    expect(ran).toBeLessThanOrEqual(12);
  });

  it('keys an IPv6 client by its /64 (one host gets a whole /64), IPv4-mapped IPv6 as the IPv4 address', () => {
    // Keyed by the full address, a host rotating through its /64 took a fresh budget per call.
    expect(addressBudgetKey('2001:db8:1:2:aaaa::1')).toBe(addressBudgetKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(addressBudgetKey('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64');
    expect(addressBudgetKey('2001:0db8:0001:0002:0000:0000:0000:0007')).toBe('2001:db8:1:2::/64');
    expect(addressBudgetKey('2001:db8:1:3::1')).not.toBe(addressBudgetKey('2001:db8:1:2::1'));
    expect(addressBudgetKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressBudgetKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressBudgetKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressBudgetKey('203.0.113.9')).not.toBe(addressBudgetKey('203.0.113.10'));
  });

  it('exempts loopback from the per-address budget by default (the devnet): fresh connections are served', async () => {
    const s = await server({ maxCallsPerSecond: 5, callBurst: 10, maxCallsPerSecondPerAddress: 5, callBurstPerAddress: 10 });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const agent = new Agent({ keepAlive: false });
      statuses.push((await post(s.url, `{"jsonrpc":"2.0","id":${i},"method":"ping"}`, agent)).status);
      agent.destroy();
    }
    expect(statuses.every((x) => x === 200)).toBe(true);
  });

  it('bounds calls in flight on one WebSocket and the number of WebSockets', async () => {
    const s = await server({ maxInflightPerConnection: 4, maxWsConnections: 2 });
    const ws = await openWs(s.wsUrl);
    const answers: { result?: string; error?: { code: number } }[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d))));
    for (let i = 0; i < 10; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'sleep', params: [300] }));
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (answers.length < 10) return;
        clearInterval(t);
        r();
      }, 20);
    });
    expect(answers.filter((a) => a.result === 'slept')).toHaveLength(4);
    expect(answers.filter((a) => a.error?.code === -32005)).toHaveLength(6);
    await openWs(s.wsUrl);
    await expect(openWs(s.wsUrl)).rejects.toThrow(/503/);
  });

  it('bounds the WebSockets one address may hold (a freed slot can be reused; loopback exempt by default)', async () => {
    // Clients named by a trusted proxy on loopback: each forwarded address is its own client.
    const s = await server({ trustedProxies: ['127.0.0.1'], maxWsConnections: 10, maxWsConnectionsPerAddress: 2 });
    const alice = { 'x-forwarded-for': '203.0.113.5' };
    const first = await openWs(s.wsUrl, alice);
    await openWs(s.wsUrl, alice);
    await expect(openWs(s.wsUrl, alice)).rejects.toThrow(/429/);
    // Another client still gets in: one address cannot take every slot.
    await openWs(s.wsUrl, { 'x-forwarded-for': '198.51.100.7' });
    // Same /64 is the same client, as for the call budget.
    await openWs(s.wsUrl, { 'x-forwarded-for': '2001:db8::1' });
    await openWs(s.wsUrl, { 'x-forwarded-for': '2001:db8::2' });
    await expect(openWs(s.wsUrl, { 'x-forwarded-for': '2001:db8::3' })).rejects.toThrow(/429/);
    const closed = new Promise((r) => first.once('close', r));
    first.close();
    await closed;
    await sleep(50);
    await openWs(s.wsUrl, alice);
    // Without a proxy, loopback (the devnet's own processes) is exempt.
    const local = await server({ maxWsConnections: 10, maxWsConnectionsPerAddress: 1 });
    for (let i = 0; i < 3; i++) await openWs(local.wsUrl);
    await expect(server({ maxWsConnectionsPerAddress: 0 })).rejects.toThrow(/maxWsConnectionsPerAddress/);
  });

  it('bounds the subscriptions one WebSocket may hold', async () => {
    const s = await server({ maxInflightPerConnection: 1000 });
    s.register('sub', { handler: (_p, ctx) => s.subscriptions.add(ctx, 'newHeads') });
    const ws = await openWs(s.wsUrl);
    const answers: { result?: string; error?: { code: number } }[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d))));
    for (let i = 0; i < 300; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'sub' }));
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (answers.length < 300) return;
        clearInterval(t);
        r();
      }, 20);
    });
    expect(answers.filter((a) => typeof a.result === 'string')).toHaveLength(s.subscriptions.maxPerConnection);
    expect(answers.filter((a) => a.error?.code === -32005)).toHaveLength(300 - s.subscriptions.maxPerConnection);
  });

  it('closes a WebSocket whose client stops reading its responses instead of buffering them', async () => {
    const s = await server({ maxWsBufferedBytes: 256 * 1024 });
    const ws = await openWs(s.wsUrl);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    for (let i = 0; i < 64; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'big' }));
    await sleep(1500);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1008);
  });

  it('chain_getBlockByNumber with full transactions recovers each sender once, however often it is asked', async () => {
    const t = tempDir('strata-rpc-limits-');
    const cfg = devConfig({ pow: { enabled: false } });
    const node = await StrataNode.create({ dataDir: t.dir, config: cfg, mining: 'dev', blockTimeMs: 0, verifierThreads: 0 }, { logger: pino({ level: 'silent' }) });
    await node.start();
    const rpc = await startRpc(node, { port: 0 });
    stops.push(async () => {
      await rpc.stop();
      await node.stop();
      t.cleanup();
    });
    for (let i = 0; i < 5; i++) node.submitTx(transferTx(cfg, keys[0]!, keys[1]!.address, 1n, i).bytes);
    await sleep(200);
    const height = node.chain.head.meta.height;
    const spy = vi.spyOn(node.chain, 'verifyTxs');
    const client = new RpcClient(rpc.url);
    for (let i = 0; i < 20; i++) {
      const b = await client.call<{ transactions: { from: string }[] }>('chain_getBlockByNumber', [toQuantity(height), true]);
      expect(b.transactions.length).toBeGreaterThan(0);
    }
    expect(spy).toHaveBeenCalledTimes(1);
  });
});
