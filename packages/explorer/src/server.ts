/**
 * The explorer's HTTP server: serves the web app (ES modules as plain files, preact + htm from
 * node_modules: no build step), the list of layers with their status, the event feed (server-sent
 * events), and a read-only JSON-RPC proxy to every layer (`POST /rpc/<layer>`, WebSocket
 * `/ws/<layer>`), so the page reaches chains that send no CORS headers and a chain that is down
 * is reported by name.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrataError } from '@strata/primitives';
import { WebSocket, WebSocketServer } from 'ws';
import { ExplorerApi } from './api.js';
import { EventFeed, type FeedEvent } from './events.js';
import { type ExplorerLayer, LayerWatcher } from './indexer.js';

/** Settings of {@link startExplorer}. */
export interface ExplorerOptions {
  host?: string;
  /** Port (0: a free one). */
  port: number;
  layers: ExplorerLayer[];
  /** An event feed to show (the devnet's); default: one fed by a watcher of `layers`. */
  feed?: EventFeed;
  /** A watcher already following `layers` (the devnet's); default: one of our own. */
  watcher?: LayerWatcher;
  /** Dev accounts to list on the page (the devnet's). */
  accounts?: { index: number; address: string }[];
}

/** A running explorer. */
export interface Explorer {
  url: string;
  feed: EventFeed;
  watcher: LayerWatcher;
  stop(): Promise<void>;
}

/**
 * JSON-RPC methods the proxy lets through: public reads only. Not a channel node's invoices (each
 * carries its payment secret, amount and description) nor its wallet balance: private to the
 * node's owner, who asks the node itself.
 */
const READ_METHODS = /^(chain_(getHead|getBlockByNumber|getBlockByHash|getConfig|subscribe|unsubscribe)|tx_(get|getReceipt|estimateFee)|state_(getAccount|getProof)|mempool_status|net_(info|peers)|rollup_get\w+|rollup_list\w+|explorer_\w+|zk_get\w+|zk_list\w+|zk_(info|status)|zkl1_(rollup|deposit|batch)|channel_(getInfo|graph|list|peers)|sidechain_(info|consensusState|certificate|list|get|checkpoint|deposits|withdrawn|bridge)|l3_get\w+|token_get\w+)$/;

// The web app's files: next to src/ when running from source; from the CLI's compiled bundle
// (packages/cli/dist) they are in packages/explorer/web.
const HERE = dirname(fileURLToPath(import.meta.url));
const WEB_DIR = [join(HERE, '..', 'web'), join(HERE, '..', '..', 'explorer', 'web')].find((d) => existsSync(join(d, 'index.html'))) ?? join(HERE, '..', 'web');
const req = createRequire(import.meta.url);
/** Vendored browser modules, served from their npm packages. */
const VENDOR: Record<string, () => string> = {
  'preact.js': () => join(dirname(req.resolve('preact/package.json')), 'dist', 'preact.mjs'),
  'hooks.js': () => join(dirname(req.resolve('preact/package.json')), 'hooks', 'dist', 'hooks.mjs'),
  'htm.js': () => join(dirname(req.resolve('htm')), 'htm.mjs'),
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache' });
  res.end(body);
}

function readBody(r: IncomingMessage, max = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new StrataError('INVALID_ARGUMENT', 'request body too large'));
        r.destroy();
      } else chunks.push(c);
    });
    r.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    r.on('error', reject);
  });
}

/** Most messages (and bytes) a page may send through `/ws/<layer>` before the layer's socket opens. */
export const MAX_PENDING_MESSAGES = 64;
export const MAX_PENDING_BYTES = 1 << 20;
/** A page whose unread backlog from a layer passes this many bytes is disconnected (1008), and its layer socket with it. */
export const MAX_CLIENT_BACKLOG_BYTES = 16 << 20;
const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * Why a request is refused, or undefined: unless the explorer listens on every interface the
 * `Host` must be one of its names (no DNS rebinding), and an `Origin`, when a browser sends one,
 * must be this explorer's own (`http://<Host>`): another site's page reads nothing through it.
 */
export function foreignOrigin(r: IncomingMessage, own: Set<string>): string | undefined {
  const host = r.headers.host ?? '';
  if (!own.has('*') && !own.has(host)) return `host ${host.slice(0, 80)} is not this explorer's`;
  const origin = r.headers.origin;
  if (origin === undefined) return undefined;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return `origin ${JSON.stringify(origin).slice(0, 80)} refused`;
  }
  if ((o.protocol !== 'http:' && o.protocol !== 'https:') || o.host !== host) return `origin ${origin.slice(0, 80)} is another site: the explorer serves its own page only`;
  return undefined;
}

/** Checks a JSON-RPC request (or batch) against {@link READ_METHODS}; returns the offending method. */
function forbidden(body: unknown): string | undefined {
  const list = Array.isArray(body) ? body : [body];
  for (const c of list) {
    const m = (c as { method?: unknown })?.method;
    if (typeof m !== 'string' || !READ_METHODS.test(m)) return String(m);
  }
  return undefined;
}

/** Starts the explorer; resolves once it listens. */
export async function startExplorer(opts: ExplorerOptions): Promise<Explorer> {
  const feed = opts.feed ?? new EventFeed();
  const ownWatcher = !opts.watcher;
  const watcher = opts.watcher ?? new LayerWatcher(opts.layers, feed);
  if (ownWatcher) watcher.start();
  const byName = new Map(opts.layers.map((l) => [l.name, l]));
  const api = new ExplorerApi(opts.layers, watcher);
  const json = (res: ServerResponse, status: number, v: unknown) => send(res, status, TYPES['.json'] as string, JSON.stringify(v));
  const sse = new Set<ServerResponse>();
  const offFeed = feed.subscribe((e: FeedEvent) => {
    const line = `data: ${JSON.stringify(e)}\n\n`;
    for (const r of sse) r.write(line);
  });

  const handle = async (r: IncomingMessage, res: ServerResponse) => {
    const refused = foreignOrigin(r, ownHosts());
    if (refused) return send(res, 403, 'text/plain', refused);
    const url = new URL(r.url ?? '/', 'http://x');
    const path = url.pathname;
    if (r.method === 'GET' && path === '/api/layers') {
      return send(res, 200, TYPES['.json'] as string, JSON.stringify({ layers: opts.layers, status: watcher.status(), accounts: opts.accounts ?? [] }));
    }
    if (r.method === 'GET' && path === '/api/search') return json(res, 200, await api.search(url.searchParams.get('q') ?? ''));
    if (r.method === 'GET' && path === '/api/account') {
      const a = await api.account(url.searchParams.get('q') ?? '');
      return a ? json(res, 200, a) : json(res, 400, { error: 'not an address (bech32m such as st1…, or 0x and 40 hex digits)' });
    }
    const risk = path.match(/^\/api\/risk\/([a-z0-9-]+)$/);
    if (r.method === 'GET' && risk) {
      try {
        const rows = await api.risk(risk[1] as string);
        return rows ? json(res, 200, rows) : json(res, 404, { error: `no layer ${risk[1]}` });
      } catch (e) {
        return json(res, 502, { error: `layer ${risk[1]} did not answer: ${(e as Error).message}` });
      }
    }
    if (r.method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      for (const e of feed.recent(300)) res.write(`data: ${JSON.stringify(e)}\n\n`);
      sse.add(res);
      r.on('close', () => sse.delete(res));
      return;
    }
    const rpc = path.match(/^\/rpc\/([a-z0-9-]+)(?:\/([a-z0-9-]+))?$/);
    if (rpc && r.method === 'POST') {
      const base = byName.get(rpc[1] as string);
      // `/rpc/<layer>/<member>`: one node of a layer (a channel node, a validator).
      const member = rpc[2] ? base?.members?.find((m) => m.name === rpc[2]) : undefined;
      const layer = base && rpc[2] ? (member ? { ...base, name: `${base.name}/${member.name}`, rpc: member.rpc } : undefined) : base;
      if (!layer) return send(res, 404, TYPES['.json'] as string, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32601, message: `no layer ${rpc[1]}` } }));
      const text = await readBody(r);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return send(res, 400, TYPES['.json'] as string, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'body is not JSON' } }));
      }
      const bad = forbidden(body);
      if (bad !== undefined) return send(res, 403, TYPES['.json'] as string, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32601, message: `the explorer only reads: ${bad} is not allowed` } }));
      try {
        const up = await fetch(layer.rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text, signal: AbortSignal.timeout(5000) });
        return send(res, up.status, TYPES['.json'] as string, await up.text());
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        return send(res, 502, TYPES['.json'] as string, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `layer ${layer.name} is down (${layer.rpc}: ${cause})`, data: { code: 'NETWORK', layer: layer.name } } }));
      }
    }
    if (r.method !== 'GET' && r.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed');
    const vendor = path.match(/^\/vendor\/([a-z]+\.js)$/);
    if (vendor) {
      const f = VENDOR[vendor[1] as string];
      if (!f) return send(res, 404, 'text/plain', 'not found');
      return send(res, 200, TYPES['.js'] as string, await readFile(f()));
    }
    const rel = path === '/' || !extname(path) ? 'index.html' : path.slice(1);
    const file = normalize(join(WEB_DIR, rel));
    if (!file.startsWith(WEB_DIR + sep)) return send(res, 404, 'text/plain', 'not found');
    try {
      return send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file));
    } catch {
      return send(res, 404, 'text/plain', 'not found');
    }
  };

  // The host names this explorer answers to (a page on another site, or a DNS-rebound name, is refused).
  const ownHosts = (): Set<string> => {
    const a = server.address() as AddressInfo | null;
    const port = a?.port ?? 0;
    if (WILDCARD.has(opts.host ?? '127.0.0.1')) return new Set(['*']);
    const names = ['127.0.0.1', 'localhost', '[::1]', ...(opts.host ? [opts.host.includes(':') ? `[${opts.host}]` : opts.host] : [])];
    return new Set(names.flatMap((n) => (port === 80 ? [n, `${n}:80`] : [`${n}:${port}`])));
  };
  const server: Server = createServer((r, res) => {
    handle(r, res).catch((e) => {
      if (!res.headersSent) send(res, 500, 'text/plain', (e as Error).message);
      else res.end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  server.on('upgrade', (r, socket, head) => {
    const m = (r.url ?? '').match(/^\/ws\/([a-z0-9-]+)$/);
    const layer = m ? byName.get(m[1] as string) : undefined;
    if (!layer) {
      socket.destroy();
      return;
    }
    const refused = foreignOrigin(r, ownHosts());
    if (refused) {
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${refused}\n`);
      return;
    }
    wss.handleUpgrade(r, socket, head, (client) => {
      const upstream = new WebSocket(layer.ws);
      // Messages sent before the layer's socket opens wait here, bounded in count and bytes.
      const pending: string[] = [];
      let pendingBytes = 0;
      upstream.on('open', () => {
        for (const p of pending.splice(0)) upstream.send(p);
        pendingBytes = 0;
      });
      upstream.on('message', (d) => {
        if (client.readyState !== WebSocket.OPEN) return;
        // A page that stops reading (a paused tab, a hostile script) would make the explorer
        // buffer a layer's subscription stream without bound.
        if (client.bufferedAmount > MAX_CLIENT_BACKLOG_BYTES) {
          client.close(1008, `too far behind ${layer.name}'s messages`.slice(0, 120));
          client.terminate();
          upstream.terminate();
          return;
        }
        client.send(d.toString());
      });
      const down = (why: string) => {
        if (client.readyState === WebSocket.OPEN) client.close(4000, `layer ${layer.name} is down: ${why}`.slice(0, 120));
      };
      upstream.on('error', (e) => down((e as NodeJS.ErrnoException).code ?? e.message));
      upstream.on('close', () => down('connection closed'));
      client.on('message', (d) => {
        const text = d.toString();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return;
        }
        const bad = forbidden(body);
        if (bad !== undefined) {
          client.send(JSON.stringify({ jsonrpc: '2.0', id: (body as { id?: unknown })?.id ?? null, error: { code: -32601, message: `the explorer only reads: ${bad} is not allowed` } }));
          return;
        }
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else if (pending.length >= MAX_PENDING_MESSAGES || pendingBytes + text.length > MAX_PENDING_BYTES) {
          client.close(1008, `too many messages before ${layer.name} connected (at most ${MAX_PENDING_MESSAGES})`);
          upstream.terminate();
        } else {
          pending.push(text);
          pendingBytes += text.length;
        }
      });
      client.on('close', () => upstream.terminate());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    feed,
    watcher,
    async stop() {
      offFeed();
      if (ownWatcher) watcher.stop();
      for (const r of sse) r.end();
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
