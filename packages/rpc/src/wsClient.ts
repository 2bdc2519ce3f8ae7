import { StrataError } from '@strata/primitives';
import { type RawData, WebSocket } from 'ws';
import { DEFAULT_CLIENT_TIMEOUT_MS, asErrorObject, networkError } from './client.js';
import { RpcError } from './errors.js';
import { encodeJson, rawToString } from './json.js';

/** Options of {@link WsRpcClient.connect}. */
export interface WsRpcClientOptions {
  /** Connect and per-call timeout in ms (default 35 000). */
  timeoutMs?: number | undefined;
  /** Admin token, appended to the URL as `?token=`. */
  adminToken?: string | undefined;
  /** Largest message accepted from the server (default 64 MiB). */
  maxPayloadBytes?: number | undefined;
  /** Called once when the connection drops (also after `close()`). */
  onDisconnect?: ((code: number, reason: string) => void) | undefined;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

// Notifications can overtake the response to the subscribe call that created them; keep a few.
const MAX_EARLY_NOTIFICATIONS = 1000;

/**
 * JSON-RPC 2.0 client over one WebSocket: calls plus subscriptions (eth_subscribe-style
 * notifications `{method, params: {subscription, result}}`, whatever the method name).
 * Errors as {@link RpcClient}: RpcError for JSON-RPC errors, StrataError('NETWORK') for
 * connection problems; pending calls fail with NETWORK when the socket closes.
 */
export class WsRpcClient {
  /** The endpoint as given (without the admin token). */
  readonly url: string;
  private readonly ws: WebSocket;
  private readonly timeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<string, (result: unknown) => void>();
  private readonly early = new Map<string, unknown[]>();
  private earlyCount = 0;
  private subscribing = 0;
  private nextId = 1;
  private closedInfo: { code: number; reason: string } | undefined;
  private readonly closedPromise: Promise<void>;

  private constructor(ws: WebSocket, url: string, opts: WsRpcClientOptions) {
    this.ws = ws;
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    ws.on('message', (data: RawData) => this.onMessage(data));
    this.closedPromise = new Promise<void>((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closedInfo = { code, reason: reason.toString('utf8') };
        const err = new StrataError(
          'NETWORK',
          `WebSocket to ${this.url} closed (code ${code}${this.closedInfo.reason ? `: ${this.closedInfo.reason}` : ''}); reconnect when the node is back`,
          { url: this.url, code },
        );
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
        this.subs.clear();
        this.early.clear();
        try {
          opts.onDisconnect?.(code, this.closedInfo.reason);
        } catch {
          // A user callback must not break the close path.
        }
        resolve();
      });
    });
  }

  /** Opens a connection. Throws StrataError('NETWORK') when the server cannot be reached. */
  static async connect(url: string, opts: WsRpcClientOptions = {}): Promise<WsRpcClient> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new StrataError('CONFIG_INVALID', `not a valid WebSocket URL: ${JSON.stringify(url)}; expected e.g. ws://127.0.0.1:8545`, { url });
    }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
      throw new StrataError('CONFIG_INVALID', `WsRpcClient needs a ws(s):// URL, got ${u.protocol}//; use RpcClient for http://`, { url });
    }
    if (opts.adminToken !== undefined) u.searchParams.set('token', opts.adminToken);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const ws = new WebSocket(u, { handshakeTimeout: timeoutMs, maxPayload: opts.maxPayloadBytes ?? 64 * 1024 * 1024 });
    // Always have an error listener: ws emits 'error' before 'close', and an unhandled one would crash.
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        ws.off('open', onOpen);
        reject(networkError(url, 'WebSocket connect', e, timeoutMs));
      };
      const onOpen = () => {
        ws.off('error', onError);
        resolve();
      };
      ws.once('error', onError);
      ws.once('open', onOpen);
    });
    return new WsRpcClient(ws, url, opts);
  }

  /** True until the socket closes. */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Calls `method` and returns its result (cast to `T`, not checked). */
  call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    if (this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new StrataError('NETWORK', `WebSocket to ${this.url} is not open; connect again`, { url: this.url }));
    }
    const id = this.nextId++;
    let text: string;
    try {
      text = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${encodeJson(params)}}`;
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StrataError('NETWORK', `${method} over ${this.url} timed out after ${this.timeoutMs} ms; the node may be overloaded or stuck`, { url: this.url, timeoutMs: this.timeoutMs }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(text, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        reject(networkError(this.url, method, err, this.timeoutMs));
      });
    });
  }

  /**
   * Calls a subscribe method (e.g. `chain_subscribe`, `['newHeads']`) and routes its notifications to
   * `onEvent`. Returns the subscription id. Exceptions thrown by `onEvent` are swallowed.
   */
  async subscribe(method: string, params: unknown[], onEvent: (result: unknown) => void): Promise<string> {
    this.subscribing++;
    let id: unknown;
    try {
      id = await this.call(method, params);
    } finally {
      this.subscribing--;
    }
    if (typeof id !== 'string') {
      throw new StrataError('RPC_ERROR', `${method} returned ${JSON.stringify(id)}, not a subscription id string; is it a subscribe method?`, { method });
    }
    this.subs.set(id, onEvent);
    const early = this.early.get(id);
    if (early) {
      this.early.delete(id);
      this.earlyCount -= early.length;
      for (const r of early) deliver(onEvent, r);
    }
    if (this.subscribing === 0) {
      this.early.clear();
      this.earlyCount = 0;
    }
    return id;
  }

  /** Stops routing `id` locally and calls the unsubscribe method (e.g. `chain_unsubscribe`) with `[id]`. */
  async unsubscribe(method: string, id: string): Promise<unknown> {
    this.subs.delete(id);
    return this.call(method, [id]);
  }

  /** Closes the connection (code 1000); pending calls fail with NETWORK. */
  async close(): Promise<void> {
    if (this.closedInfo) return;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'client closing');
    const t = setTimeout(() => this.ws.terminate(), 2000);
    await this.closedPromise;
    clearTimeout(t);
  }

  private onMessage(data: RawData): void {
    let msg: unknown;
    try {
      msg = JSON.parse(rawToString(data));
    } catch {
      return; // Not JSON: nothing to route it to.
    }
    for (const item of Array.isArray(msg) ? msg : [msg]) {
      if (typeof item !== 'object' || item === null) continue;
      const m = item as Record<string, unknown>;
      if (typeof m.method === 'string') {
        const p = m.params as { subscription?: unknown; result?: unknown } | undefined;
        if (typeof p?.subscription !== 'string') continue;
        const handler = this.subs.get(p.subscription);
        if (handler) deliver(handler, p.result);
        else if (this.subscribing > 0 && this.earlyCount < MAX_EARLY_NOTIFICATIONS) {
          const list = this.early.get(p.subscription) ?? [];
          list.push(p.result);
          this.early.set(p.subscription, list);
          this.earlyCount++;
        }
        continue;
      }
      if (typeof m.id !== 'number') continue;
      const pend = this.pending.get(m.id);
      if (!pend) continue;
      this.pending.delete(m.id);
      clearTimeout(pend.timer);
      if (m.error !== undefined) pend.reject(RpcError.fromErrorObject(asErrorObject(m.error)));
      else pend.resolve(m.result ?? null);
    }
  }
}

function deliver(fn: (result: unknown) => void, result: unknown): void {
  try {
    fn(result);
  } catch {
    // See subscribe(): subscriber exceptions are the subscriber's business.
  }
}
