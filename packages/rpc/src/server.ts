import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, STATUS_CODES, type ServerResponse } from 'node:http';
import { type AddressInfo, BlockList, isIP, SocketAddress } from 'node:net';
import type { Duplex } from 'node:stream';
import { StrataError } from '@strata/primitives';
import type { Logger } from 'pino';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_HANDLER_TIMEOUT_MS, DEFAULT_MAX_BATCH, RpcDispatcher } from './dispatcher.js';
import { RpcErrorCodes } from './errors.js';
import { encodeJson, rawToString } from './json.js';
import { type Subscription, SubscriptionHub } from './subscriptions.js';
import type { MethodInfo, MethodSpec, RpcContext } from './types.js';

/** Node settings of the RPC server. Every field has a default; see {@link RpcServer}. */
export interface RpcServerOptions {
  /** Interface to bind (default `127.0.0.1`; use `0.0.0.0` to serve other machines). */
  host?: string | undefined;
  /** TCP port (default 0 = an ephemeral port; read the chosen one from `url`). */
  port?: number | undefined;
  /** Token that admin methods require. Without one, admin methods are refused entirely. */
  adminToken?: string | undefined;
  /** Largest HTTP body / WebSocket message in bytes (default 5 MiB). */
  maxBodyBytes?: number | undefined;
  /** Largest batch (default 100). */
  maxBatch?: number | undefined;
  /** Send permissive CORS headers and accept WebSocket upgrades from any browser origin (default false). */
  cors?: boolean | undefined;
  /** Per-call handler timeout in ms (default 30 000). */
  handlerTimeoutMs?: number | undefined;
  /** JSON-RPC method name of subscription notifications (default `chain_subscription`). */
  notificationMethod?: string | undefined;
  /** Ping interval for WebSocket liveness in ms; a peer that misses a pong is dropped (default 30 000). */
  wsPingIntervalMs?: number | undefined;
  /** A WebSocket whose unsent backlog exceeds this many bytes is closed (1008) (default 16 MiB). */
  maxWsBufferedBytes?: number | undefined;
  /**
   * Calls (each entry of a batch counts) per second on one connection — an HTTP keep-alive socket
   * or a WebSocket — and the burst allowed above it (default 2000/s, burst 5000). Beyond it calls
   * are answered -32005 (HTTP 429) without running.
   */
  maxCallsPerSecond?: number | undefined;
  callBurst?: number | undefined;
  /**
   * Calls per second from one remote address, over all its connections together, and the burst
   * above it (default 4× the per-connection figures: 8000/s, burst 20 000): a client that opens a
   * new connection per request gets a fresh connection budget each time, not a fresh address
   * budget. Beyond it calls are answered -32005 (HTTP 429) without running.
   */
  maxCallsPerSecondPerAddress?: number | undefined;
  callBurstPerAddress?: number | undefined;
  /**
   * Remote addresses the per-address budget does not apply to (default loopback: `127.0.0.1`,
   * `::1`, `::ffff:127.0.0.1` — the devnet's own processes, as the p2p layer's address bans
   * exempt loopback). Each connection from them still has its own budget.
   */
  addressBudgetExempt?: readonly string[] | undefined;
  /**
   * Reverse proxies in front of this server, by the address they connect from (e.g. `127.0.0.1`
   * for nginx on the same host) or by CIDR range (`10.0.0.0/8`, `fd00::/8`). A call arriving from one of them is charged to the client its
   * `X-Forwarded-For` names (the right-most address there that is not itself a trusted proxy;
   * the proxy's own address when the header is missing or malformed); from anyone else the header
   * is ignored, so it cannot be spoofed. With a proxy configured, nothing is exempt from the
   * per-address budget by default, loopback included: behind a same-host proxy every client
   * would otherwise be loopback, hence exempt. (`strata node --rpc-trusted-proxy`.)
   */
  trustedProxies?: readonly string[] | undefined;
  /** Calls running at once on one WebSocket; more are answered -32005 (default 128). */
  maxInflightPerConnection?: number | undefined;
  /** Open WebSockets at once; more upgrades get 503 (default 1024). */
  maxWsConnections?: number | undefined;
  /**
   * Open WebSockets at once from one remote address (IPv6 counted per /64, as the call budget;
   * behind a trusted proxy, per forwarded client); more upgrades from it get 429 (default 64).
   * Addresses exempt from the call budget (loopback by default) are exempt here too. Without it
   * one address could take every one of the `maxWsConnections` slots.
   */
  maxWsConnectionsPerAddress?: number | undefined;
}

/** Default {@link RpcServerOptions.maxBodyBytes}: 5 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

interface Conn {
  alive: boolean;
}

/** Remote addresses whose per-address call budget is kept at once (the oldest is forgotten beyond it). */
const MAX_ADDRESS_BUDGETS = 4096;
/**
 * The key a remote address's call budget is kept under: an IPv4 address (also when written as
 * IPv4-mapped IPv6, `::ffff:1.2.3.4`) as is; an IPv6 address by its /64 prefix, since a single
 * host is routinely handed a whole /64 and could otherwise take a fresh budget per address.
 */
export function addressBudgetKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0] as string;
  const [head = '', tail] = bare.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** An address as compared with trusted proxies and exemptions: IPv4-mapped IPv6 as IPv4, lower case. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address.toLowerCase();
}

/** One `X-Forwarded-For` entry as a bare IP (`[v6]:port` and `v4:port` forms too), or undefined. */
function forwardedAddress(entry: string): string | undefined {
  let a = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1] as string;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  const family = isIP(a);
  if (family === 0) return undefined;
  // One client, one spelling (so one budget key): IPv6 in canonical form, without zone id, and
  // every IPv4-mapped form (0:0:0:0:0:ffff:a.b.c.d, ::ffff:c633:6407) as the IPv4 address.
  if (family === 4) return a;
  try {
    return plainAddress(new SocketAddress({ address: a, family: 'ipv6' }).address);
  } catch {
    return undefined; // isIP took it but libuv does not: malformed, as any other entry
  }
}

/** What {@link clientAddress} asks of the trusted proxies: whether an address is one (a `Set` of plain addresses will do). */
export interface ProxyMatcher {
  has(address: string): boolean;
}

/** Addresses whose {@link TrustedProxies.has} answer is kept. */
const TRUSTED_MEMO_SIZE = 4096;

/**
 * Trusted reverse proxies given as addresses or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`,
 * `fd00::/8`). Addresses are compared as parsed IPs, so any spelling of an IPv6 address matches
 * (`0:0:0:0:0:0:0:1` is `::1`), and an IPv4-mapped IPv6 address matches its IPv4 form.
 * Throws CONFIG_INVALID on an entry that is neither an IP address nor `ip/prefix` with a prefix
 * in range (0–32 for IPv4, 0–128 for IPv6), and on an IPv6 zone id (`fe80::1%eth0`: not
 * compared, it would trust the address on every interface). An IPv6 range that covers
 * `::ffff:0:0/96` (such as `::/0`) also covers every IPv4 address.
 */
export class TrustedProxies implements ProxyMatcher {
  private readonly list = new BlockList();
  private readonly memo = new Map<string, boolean>();
  /** The number of entries (addresses and ranges). */
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const e = raw.trim();
      const slash = e.indexOf('/');
      const ip = slash < 0 ? e : e.slice(0, slash);
      const family = isIP(ip);
      const prefixText = slash < 0 ? undefined : e.slice(slash + 1);
      const prefix = prefixText === undefined ? undefined : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
      if (family === 0 || (prefix !== undefined && !(prefix >= 0 && prefix <= (family === 4 ? 32 : 128)))) {
        throw new StrataError('CONFIG_INVALID', `rpc trusted proxy must be an IP address or a CIDR range (e.g. 10.0.0.0/8, fd00::/8), got ${raw}`, { trustedProxy: raw });
      }
      if (ip.includes('%')) {
        // BlockList ignores zone ids, so fe80::1%eth0 would trust fe80::1 on every interface.
        throw new StrataError('CONFIG_INVALID', `rpc trusted proxy ${raw}: zone ids (%eth0) are not supported (the address would match on every interface); write it without the zone`, { trustedProxy: raw });
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip) : null;
      if (mapped && (prefix === undefined || prefix >= 96)) this.list.addSubnet(mapped[1] as string, prefix === undefined ? 32 : prefix - 96, 'ipv4');
      else if (prefix === undefined) this.list.addAddress(ip, type);
      else this.list.addSubnet(ip, prefix, type);
    }
    this.size = entries.length;
  }

  /** Whether `address` (an IP in any spelling, IPv4-mapped too) is a trusted proxy; false for anything that is not an IP. */
  has(address: string): boolean {
    // asked on every call (the per-address budget): BlockList.check builds a SocketAddress each
    // time (~15-25 µs here, a sixth of a trivial call's server CPU), and the list never changes,
    // so answers are kept per address string (bounded: cleared when full)
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    const a = plainAddress(address.split('%')[0] as string);
    const family = isIP(a);
    const yes = family !== 0 && this.list.check(a, family === 4 ? 'ipv4' : 'ipv6');
    if (this.memo.size >= TRUSTED_MEMO_SIZE) this.memo.clear();
    this.memo.set(address, yes);
    return yes;
  }
}

/**
 * The client a call is charged to. From a trusted proxy: the right-most `X-Forwarded-For`
 * address that is not itself a trusted proxy (entries to its left were written by the client
 * and prove nothing); the proxy itself when the header is missing, names only proxies, or has
 * an entry that is not an IP address. From anyone else: the socket's peer address.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: ProxyMatcher): string | undefined {
  if (socketAddress === undefined || !trustedProxies.has(plainAddress(socketAddress))) return socketAddress;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '')).split(',').filter((h) => h.trim() !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const a = forwardedAddress(hops[i] as string);
    if (a === undefined) return socketAddress;
    if (!trustedProxies.has(a)) return a;
  }
  return socketAddress;
}

/** Budget key of sockets whose remote address could not be read (not an IP, so never exempt). */
const UNKNOWN_ADDRESS = '(unknown)';

/** A token bucket of calls for one connection or one remote address. */
class CallBudget {
  private tokens: number;
  private at = Date.now();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(n: number): boolean {
    const t = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * JSON-RPC 2.0 server over HTTP POST and WebSocket on one port. It knows nothing about chains: the
 * node registers methods ({@link MethodSpec}) and publishes subscription events through
 * {@link RpcServer.subscriptions}.
 *
 * - `POST /` with `Content-Type: application/json`: single requests and batches.
 * - `GET /health`: `200 {"ok":true}`.
 * - WebSocket upgrade on `/`: the same requests plus subscription notifications.
 */
export class RpcServer {
  /** Subscription registry bound to this server's connections; see {@link SubscriptionHub}. */
  readonly subscriptions = new SubscriptionHub();

  private readonly host: string;
  private readonly port0: number;
  private readonly adminHash: Buffer | undefined;
  private readonly maxBodyBytes: number;
  private readonly cors: boolean;
  private readonly notificationMethod: string;
  private readonly pingMs: number;
  private readonly maxBuffered: number;
  private readonly callsPerSecond: number;
  private readonly callBurst: number;
  private readonly maxInflight: number;
  private readonly maxWs: number;
  private readonly maxWsPerAddress: number;
  private readonly budgets = new WeakMap<object, CallBudget>();
  private readonly addressBudgets = new Map<string, CallBudget>();
  private readonly callsPerAddress: number;
  private readonly burstPerAddress: number;
  private readonly budgetExempt: ReadonlySet<string>;
  private readonly trustedProxies: TrustedProxies;
  private readonly dispatcher: RpcDispatcher;
  private readonly logger: Logger | undefined;

  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly conns = new Map<WebSocket, Conn>();
  /** Open WebSockets per address key (exempt addresses are not counted). */
  private readonly wsPerAddress = new Map<string, number>();
  private pingTimer: NodeJS.Timeout | undefined;
  private boundPort: number | undefined;
  private stopping = false;

  constructor(opts: RpcServerOptions = {}, deps: { logger?: Logger | undefined } = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port0 = opts.port ?? 0;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.cors = opts.cors ?? false;
    this.notificationMethod = opts.notificationMethod ?? 'chain_subscription';
    this.pingMs = opts.wsPingIntervalMs ?? 30_000;
    this.maxBuffered = opts.maxWsBufferedBytes ?? 16 * 1024 * 1024;
    this.callsPerSecond = opts.maxCallsPerSecond ?? 2000;
    this.callBurst = opts.callBurst ?? Math.max(5000, this.callsPerSecond);
    this.callsPerAddress = opts.maxCallsPerSecondPerAddress ?? 4 * this.callsPerSecond;
    this.burstPerAddress = opts.callBurstPerAddress ?? Math.max(4 * this.callBurst, this.callsPerAddress);
    this.trustedProxies = new TrustedProxies(opts.trustedProxies ?? []);
    // Behind a proxy every client may arrive from loopback: no default exemption then.
    this.budgetExempt = new Set(opts.addressBudgetExempt ?? (this.trustedProxies.size > 0 ? [] : ['127.0.0.1', '::1', '::ffff:127.0.0.1']));
    this.maxInflight = opts.maxInflightPerConnection ?? 128;
    this.maxWs = opts.maxWsConnections ?? 1024;
    this.maxWsPerAddress = opts.maxWsConnectionsPerAddress ?? 64;
    if (!Number.isInteger(this.port0) || this.port0 < 0 || this.port0 > 65535) {
      throw new StrataError('CONFIG_INVALID', `rpc port must be an integer in 0..65535, got ${this.port0}`, { port: this.port0 });
    }
    for (const [k, v] of [
      ['maxBodyBytes', this.maxBodyBytes],
      ['wsPingIntervalMs', this.pingMs],
      ['maxWsBufferedBytes', this.maxBuffered],
      ['maxCallsPerSecond', this.callsPerSecond],
      ['callBurst', this.callBurst],
      ['maxCallsPerSecondPerAddress', this.callsPerAddress],
      ['callBurstPerAddress', this.burstPerAddress],
      ['maxInflightPerConnection', this.maxInflight],
      ['maxWsConnections', this.maxWs],
      ['maxWsConnectionsPerAddress', this.maxWsPerAddress],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new StrataError('CONFIG_INVALID', `rpc ${k} must be a positive integer, got ${v}`, { [k]: v });
    }
    if (opts.adminToken !== undefined && opts.adminToken.length === 0) {
      throw new StrataError('CONFIG_INVALID', 'rpc adminToken must not be empty; omit it to disable admin methods');
    }
    this.adminHash = opts.adminToken === undefined ? undefined : sha256(opts.adminToken);
    this.logger = deps.logger?.child({ module: 'rpc' });
    this.dispatcher = new RpcDispatcher(
      { maxBatch: opts.maxBatch ?? DEFAULT_MAX_BATCH, handlerTimeoutMs: opts.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS },
      { logger: this.logger },
    );
  }

  /** Adds a method (before or after `start`). Throws CONFIG_INVALID on a duplicate name. */
  register(name: string, spec: MethodSpec): void {
    this.dispatcher.register(name, spec);
  }

  /** Adds several methods: `{ chain_getBlock: {...}, chain_head: {...} }`. */
  registerAll(methods: Record<string, MethodSpec>): void {
    for (const [name, spec] of Object.entries(methods)) this.register(name, spec);
  }

  /** The registered methods, sorted by name (for a `rpc_methods`-style listing). */
  listMethods(): MethodInfo[] {
    return this.dispatcher.listMethods();
  }

  /**
   * Handles a request body in-process, as if it arrived over HTTP (no sockets). Returns the response
   * text, or `undefined` for notifications.
   */
  handle(body: string, ctx: RpcContext = { transport: 'http', authorized: false }): Promise<string | undefined> {
    return this.dispatcher.handleText(body, ctx);
  }

  /**
   * Pushes a notification to every ws subscriber of `kind` (registered through
   * `subscriptions.add`). Returns how many subscribers were notified.
   */
  publish(kind: string, result: unknown, filter?: (sub: Subscription) => boolean): number {
    return this.subscriptions.publish(kind, result, filter);
  }

  /** Binds the port. Throws NETWORK when it cannot (port in use, bad host). */
  async start(): Promise<void> {
    if (this.http) return;
    this.stopping = false;
    const http = createServer((req, res) => this.onRequest(req, res));
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.maxBodyBytes, clientTracking: false });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    // Read the peer's address as soon as the socket is accepted: Node caches it then, whereas a
    // first read after the peer has reset the socket gives undefined (see takeAddress).
    http.on('connection', (socket: { remoteAddress?: string | undefined }) => void socket.remoteAddress);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new StrataError(
            'NETWORK',
            `cannot listen for RPC on ${this.host}:${this.port0} (${err.code ?? err.message}); choose another port or stop the process using it`,
            { host: this.host, port: this.port0, errno: err.code },
            { cause: err },
          ),
        );
      };
      http.once('error', onError);
      http.listen(this.port0, this.host, () => {
        http.off('error', onError);
        resolve();
      });
    });
    http.on('error', (err) => this.logger?.error({ err }, 'rpc http server error'));
    this.http = http;
    this.wss = wss;
    this.boundPort = (http.address() as AddressInfo).port;
    this.pingTimer = setInterval(() => this.heartbeat(), this.pingMs);
    this.pingTimer.unref();
    this.logger?.info({ url: this.url, ws: this.wsUrl, admin: this.adminHash !== undefined }, 'rpc server listening');
  }

  /** Closes every WebSocket (1001), stops accepting HTTP and waits for the port to be released. */
  async stop(): Promise<void> {
    const http = this.http;
    if (!http) return;
    this.stopping = true;
    clearInterval(this.pingTimer);
    for (const ws of this.conns.keys()) ws.close(1001, 'server stopping');
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    // Give in-flight requests and ws close handshakes a moment, then cut what is left.
    const force = setTimeout(() => {
      for (const ws of this.conns.keys()) ws.terminate();
      http.closeAllConnections();
    }, 1000);
    await closed;
    clearTimeout(force);
    this.wss?.close();
    this.http = undefined;
    this.wss = undefined;
    this.boundPort = undefined;
  }

  /** The bound TCP port (after `start`). */
  get port(): number {
    if (this.boundPort === undefined) throw new StrataError('NODE_STOPPED', 'the RPC server is not listening; call start() first');
    return this.boundPort;
  }

  /** `http://HOST:PORT` to reach the server (wildcard hosts are shown as loopback). */
  get url(): string {
    return `http://${this.urlHost()}:${this.port}`;
  }

  /** `ws://HOST:PORT` to reach the server over WebSocket. */
  get wsUrl(): string {
    return `ws://${this.urlHost()}:${this.port}`;
  }

  private urlHost(): string {
    if (this.host === '0.0.0.0') return '127.0.0.1';
    if (this.host === '::') return '[::1]';
    return this.host.includes(':') ? `[${this.host}]` : this.host;
  }

  // ---------------------------------------------------------------- HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    if (this.cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (!this.hostAllowed(req)) {
      sendError(res, 403, RpcErrorCodes.INVALID_REQUEST, `host ${JSON.stringify(String(req.headers.host).slice(0, 80))} is not this node's; connect by its address (start it with RPC cors enabled, or bound to 0.0.0.0, to serve other names)`);
      return;
    }
    const path = pathOf(req.url);
    if (path === '/health') {
      if (req.method === 'GET' || req.method === 'HEAD') {
        sendJson(res, 200, '{"ok":true}');
        return;
      }
      sendError(res, 405, RpcErrorCodes.INVALID_REQUEST, '/health only answers GET', { Allow: 'GET, HEAD' });
      return;
    }
    if (path !== '/') {
      sendError(res, 404, RpcErrorCodes.INVALID_REQUEST, `no such path ${JSON.stringify(path.slice(0, 100))}: POST JSON-RPC to / or GET /health`);
      return;
    }
    if (req.method === 'OPTIONS' && this.cors) {
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, RpcErrorCodes.INVALID_REQUEST, `${req.method ?? '?'} / is not supported: POST a JSON-RPC request, or open a WebSocket`, {
        Allow: 'POST',
      });
      return;
    }
    const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (ctype !== 'application/json') {
      // Also keeps browsers from firing cross-origin "simple" POSTs at the node without a preflight.
      sendError(res, 415, RpcErrorCodes.INVALID_REQUEST, 'Content-Type must be application/json (curl: -H "content-type: application/json")');
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
      this.tooLarge(req, res);
      return;
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > this.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        this.tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return;
      const ctx: RpcContext = { transport: 'http', authorized: this.checkToken(bearer(req.headers.authorization)) };
      const address = this.clientOf(req);
      // Behind a trusted proxy one keep-alive socket carries many clients' calls: each client it
      // names is bounded by its own address budget, not the socket's (one client spending that
      // refused every other client the proxy sent on the same socket). A call naming no client is
      // the proxy's own: the socket's budget applies.
      const conn = address !== req.socket.remoteAddress && this.trustedProxies.has(plainAddress(req.socket.remoteAddress ?? '')) ? undefined : req.socket;
      const limited = this.overBudget(conn, Buffer.concat(chunks).toString('utf8'), address);
      if (limited.refused) {
        sendJson(res, 429, limited.refused, { 'Retry-After': '1' });
        return;
      }
      this.dispatch(limited, ctx).then(
        (out) => {
          if (out === undefined) {
            res.writeHead(204);
            res.end();
          } else sendJson(res, 200, out);
        },
        // The dispatcher does not reject; this is a last line of defence.
        (err) => {
          this.logger?.error({ err }, 'rpc dispatcher failed');
          sendError(res, 500, RpcErrorCodes.INTERNAL_ERROR, 'internal error; the node log has the details');
        },
      );
    });
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse): void {
    sendError(
      res,
      413,
      RpcErrorCodes.LIMIT_EXCEEDED,
      `request body exceeds the limit of ${this.maxBodyBytes} bytes; send smaller requests or batches`,
      { Connection: 'close' },
      { code: 'RPC_ERROR', meta: { limit: this.maxBodyBytes } },
    );
    // Discard the rest of the upload so the client can read the 413, but do not wait forever.
    req.resume();
    const t = setTimeout(() => req.socket.destroy(), 2000);
    t.unref();
    req.once('end', () => clearTimeout(t));
  }

  /**
   * Parses a body and charges its calls to the connection's budget. Returns the parsed message
   * (or the raw text when it does not parse, for the dispatcher's parse error), or `refused`: the
   * -32005 response to send instead of running anything.
   */
  private overBudget(conn: object | undefined, text: string, address: string | undefined): { msg?: unknown; text: string; refused?: string } {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return { text };
    }
    const calls = Array.isArray(msg) ? Math.max(1, msg.length) : 1;
    let perConnection = true;
    if (conn !== undefined) {
      let budget = this.budgets.get(conn);
      if (budget === undefined) {
        budget = new CallBudget(this.callsPerSecond, this.callBurst);
        this.budgets.set(conn, budget);
      }
      perConnection = budget.take(calls);
    }
    const perAddress = perConnection && this.takeAddress(address, calls);
    if (perConnection && perAddress) return { msg, text };
    const limit = perConnection ? this.callsPerAddress : this.callsPerSecond;
    const refused = JSON.stringify({
      jsonrpc: '2.0',
      id: !Array.isArray(msg) && msg !== null && typeof msg === 'object' && 'id' in msg ? (msg as { id: unknown }).id ?? null : null,
      error: {
        code: RpcErrorCodes.LIMIT_EXCEEDED,
        message: `more than ${limit} calls per second ${perConnection ? 'from this address' : 'on this connection'}; slow down and retry`,
        data: { code: 'RPC_ERROR', meta: { limit, scope: perConnection ? 'address' : 'connection' } },
      },
    });
    return { text, refused };
  }

  /**
   * Charges `calls` to the remote address's budget (exempt addresses always pass). A socket whose
   * address cannot be read (the peer reset it before it was first read) is charged to one shared
   * budget: it used to pass free, so a client resetting each socket right after its request ran
   * every call with no per-address bound.
   */
  private takeAddress(address: string | undefined, calls: number): boolean {
    const k = this.limitKey(address);
    if (k === undefined) return true;
    let budget = this.addressBudgets.get(k);
    if (budget === undefined) {
      if (this.addressBudgets.size >= MAX_ADDRESS_BUDGETS) {
        const oldest = this.addressBudgets.keys().next().value;
        if (oldest !== undefined) this.addressBudgets.delete(oldest);
      }
      budget = new CallBudget(this.callsPerAddress, this.burstPerAddress);
      this.addressBudgets.set(k, budget);
    }
    return budget.take(calls);
  }

  /** The client address a request is charged to (see {@link clientAddress}). */
  private clientOf(req: IncomingMessage): string | undefined {
    return clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trustedProxies);
  }

  private dispatch(parsed: { msg?: unknown; text: string }, ctx: RpcContext): Promise<string | undefined> {
    return 'msg' in parsed && parsed.msg !== undefined ? this.dispatcher.handleMessage(parsed.msg, ctx) : this.dispatcher.handleText(parsed.text, ctx);
  }

  private checkToken(given: string | undefined): boolean {
    if (this.adminHash === undefined || given === undefined) return false;
    return timingSafeEqual(sha256(given), this.adminHash);
  }

  // ---------------------------------------------------------------- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const wss = this.wss;
    if (!wss || this.stopping) {
      rejectUpgrade(socket, 503, 'server stopping');
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      rejectUpgrade(socket, 400, 'bad request target');
      return;
    }
    if (url.pathname !== '/') {
      rejectUpgrade(socket, 404, 'WebSocket endpoint is /');
      return;
    }
    if (!this.hostAllowed(req)) {
      rejectUpgrade(socket, 403, 'host is not this node\'s; connect by its address');
      return;
    }
    if (!this.originAllowed(req)) {
      rejectUpgrade(socket, 403, 'browser origin not allowed; start the node with RPC cors enabled to allow it');
      return;
    }
    if (this.conns.size >= this.maxWs) {
      rejectUpgrade(socket, 503, `too many WebSocket connections (limit ${this.maxWs})`);
      return;
    }
    const address = this.clientOf(req);
    const key = this.limitKey(address);
    if (key !== undefined && (this.wsPerAddress.get(key) ?? 0) >= this.maxWsPerAddress) {
      rejectUpgrade(socket, 429, `too many WebSocket connections from this address (limit ${this.maxWsPerAddress})`);
      return;
    }
    const authorized = this.checkToken(url.searchParams.get('token') ?? bearer(req.headers.authorization));
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (key !== undefined) this.wsPerAddress.set(key, (this.wsPerAddress.get(key) ?? 0) + 1);
      ws.once('close', () => {
        if (key === undefined) return;
        const n = (this.wsPerAddress.get(key) ?? 1) - 1;
        if (n <= 0) this.wsPerAddress.delete(key);
        else this.wsPerAddress.set(key, n);
      });
      this.onConnection(ws, authorized, address);
    });
  }

  /**
   * The key a client address counts against in the per-address limits (its call budget and its
   * WebSocket count); undefined for an exempt address. A trusted proxy's own address is never
   * exempt: its calls without a client named are charged to it.
   */
  private limitKey(address: string | undefined): string | undefined {
    if (address !== undefined && this.budgetExempt.has(address) && !this.trustedProxies.has(plainAddress(address))) return undefined;
    return address === undefined ? UNKNOWN_ADDRESS : addressBudgetKey(address);
  }

  /**
   * DNS rebinding: a page on a name the attacker points at 127.0.0.1 is same-origin to the
   * browser (no preflight, Origin = Host), so a node bound to loopback or one address answers
   * only its own names: loopback ones and the bound address. Bound to every interface (0.0.0.0,
   * ::) or with cors on, it serves any name, as asked. A request without Host passes (not a browser).
   */
  private hostAllowed(req: IncomingMessage): boolean {
    if (this.cors || this.host === '0.0.0.0' || this.host === '::' || this.host === '') return true;
    const h = req.headers.host;
    if (h === undefined) return true;
    let name: string;
    try {
      name = new URL(`http://${h}`).hostname.toLowerCase();
    } catch {
      return false;
    }
    const bound = this.host.toLowerCase();
    return LOOPBACK_HOSTS.has(name) || name === bound || name === `[${bound}]`;
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (this.cors || origin === undefined) return true;
    try {
      const o = new URL(origin);
      return LOOPBACK_HOSTS.has(o.hostname) || o.host === req.headers.host;
    } catch {
      return false;
    }
  }

  private onConnection(ws: WebSocket, authorized: boolean, address: string | undefined): void {
    const conn: Conn = { alive: true };
    this.conns.set(ws, conn);
    const closers: (() => void)[] = [];
    let closed = false;
    const runSafely = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        this.logger?.warn({ err }, 'rpc ws onClose callback failed');
      }
    };
    const ctx: RpcContext = {
      transport: 'ws',
      authorized,
      notify: (subscription, result) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (ws.bufferedAmount > this.maxBuffered) {
          this.logger?.warn({ buffered: ws.bufferedAmount }, 'rpc ws subscriber too slow; closing');
          ws.close(1008, 'subscriber too slow');
          return;
        }
        const json = encodeJson(result);
        ws.send(`{"jsonrpc":"2.0","method":${JSON.stringify(this.notificationMethod)},"params":{"subscription":${JSON.stringify(subscription)},"result":${json}}}`);
      },
      onClose: (fn) => {
        if (closed) runSafely(fn);
        else closers.push(fn);
      },
    };
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => {
      // ws closes the socket itself (1009 for oversized messages, 1002 for protocol errors).
      this.logger?.debug({ err: err.message }, 'rpc ws error');
    });
    ws.on('close', () => {
      closed = true;
      this.conns.delete(ws);
      for (const fn of closers.splice(0)) runSafely(fn);
    });
    let inflight = 0;
    // Responses, like notifications, wait in the socket's send buffer for a client that reads
    // slowly (or not at all): past the limit the connection is closed instead of buffering more.
    const send = (out: string): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (ws.bufferedAmount > this.maxBuffered) {
        this.logger?.warn({ buffered: ws.bufferedAmount }, 'rpc ws client not reading its responses; closing');
        ws.close(1008, 'client too slow');
        return;
      }
      ws.send(out);
    };
    ws.on('message', (data: RawData) => {
      const limited = this.overBudget(ws, rawToString(data), address);
      if (limited.refused) {
        send(limited.refused);
        return;
      }
      if (inflight >= this.maxInflight) {
        send(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: RpcErrorCodes.LIMIT_EXCEEDED, message: `more than ${this.maxInflight} calls in flight on this connection; wait for answers first` },
          }),
        );
        return;
      }
      inflight++;
      this.dispatch(limited, ctx)
        .then(
          (out) => {
            if (out !== undefined) send(out);
          },
          (err) => this.logger?.error({ err }, 'rpc dispatcher failed'),
        )
        .finally(() => inflight--);
    });
  }

  private heartbeat(): void {
    for (const [ws, conn] of this.conns) {
      if (!conn.alive) {
        ws.terminate();
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function bearer(h: string | undefined): string | undefined {
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1];
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}, data?: unknown): void {
  const error = data === undefined ? { code, message } : { code, message, data };
  sendJson(res, status, JSON.stringify({ jsonrpc: '2.0', id: null, error }), headers);
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: RpcErrorCodes.INVALID_REQUEST, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
