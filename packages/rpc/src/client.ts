import { request as httpRequest } from 'node:http';
import { StrataError } from '@strata/primitives';
import { type JsonRpcErrorObject, RpcError } from './errors.js';
import { encodeJson } from './json.js';

/**
 * Default client timeout: a little over the server's 30 s handler timeout, so that a slow handler
 * reports the server's -32603 timeout instead of a client-side one.
 */
export const DEFAULT_CLIENT_TIMEOUT_MS = 35_000;

/** Options of {@link RpcClient}. */
export interface RpcClientOptions {
  /** Per-request timeout in ms (default 35 000). */
  timeoutMs?: number | undefined;
  /** Admin token, sent as `Authorization: Bearer <token>`. */
  adminToken?: string | undefined;
}

/** One call of {@link RpcClient.batch}. */
export interface BatchCall {
  method: string;
  params?: unknown[] | undefined;
}

/** One result of {@link RpcClient.batch}, in the order of the calls. */
export type BatchResult = { result: unknown } | { error: JsonRpcErrorObject };

/**
 * JSON-RPC 2.0 client over HTTP (`node:http`: the global `fetch` costs a CLI run ~50 ms to load). Throws {@link RpcError} when the server answers
 * with an error (branch on `rpcCode` or `remoteCode`), StrataError('NETWORK') when the server
 * cannot be reached or times out, and StrataError('RPC_ERROR') when the reply is not JSON-RPC.
 * Params are JSON-encoded like server results: `bigint` → `0x` quantity, `Uint8Array` → `0x` hex.
 */
export class RpcClient {
  /** The endpoint, e.g. `http://127.0.0.1:8545`. */
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly adminToken: string | undefined;
  private nextId = 1;

  constructor(url: string, opts: RpcClientOptions = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new StrataError('CONFIG_INVALID', `not a valid RPC URL: ${JSON.stringify(url)}; expected e.g. http://127.0.0.1:8545`, { url });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new StrataError('CONFIG_INVALID', `RpcClient needs an http(s):// URL, got ${u.protocol}//; use WsRpcClient for ws://`, { url });
    }
    this.url = url;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    this.adminToken = opts.adminToken;
  }

  /**
   * Calls `method` and returns its result (cast to `T`, not checked). Throws RpcError on a
   * JSON-RPC error.
   */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const id = this.nextId++;
    const reply = await this.post(`{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${encodeJson(params)}}`, method);
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) throw this.malformed(method, reply);
    const r = reply as Record<string, unknown>;
    if (r.error !== undefined) throw RpcError.fromErrorObject(asErrorObject(r.error));
    if (r.id !== id || !Object.hasOwn(r, 'result')) throw this.malformed(method, reply);
    return r.result as T;
  }

  /**
   * Sends several calls in one request. Results come back in the order of `calls`; a failed call
   * is an `{error}` entry, not a throw. Throws RpcError when the server rejects the whole batch
   * (e.g. -32005 batch too large).
   */
  async batch(calls: BatchCall[]): Promise<BatchResult[]> {
    if (calls.length === 0) return [];
    const first = this.nextId;
    this.nextId += calls.length;
    const body = `[${calls
      .map((c, i) => `{"jsonrpc":"2.0","id":${first + i},"method":${JSON.stringify(c.method)},"params":${encodeJson(c.params ?? [])}}`)
      .join(',')}]`;
    const label = `batch of ${calls.length}`;
    const reply = await this.post(body, label);
    if (!Array.isArray(reply)) {
      if (typeof reply === 'object' && reply !== null && (reply as { error?: unknown }).error !== undefined) {
        throw RpcError.fromErrorObject(asErrorObject((reply as { error: unknown }).error));
      }
      throw this.malformed(label, reply);
    }
    const byId = new Map<unknown, Record<string, unknown>>();
    for (const r of reply) if (typeof r === 'object' && r !== null) byId.set((r as { id?: unknown }).id, r as Record<string, unknown>);
    return calls.map((c, i): BatchResult => {
      const r = byId.get(first + i);
      if (!r) return { error: { code: -32603, message: `the server sent no response for ${c.method} in the batch` } };
      if (r.error !== undefined) return { error: asErrorObject(r.error) };
      return { result: r.result ?? null };
    });
  }

  private async post(body: string, what: string): Promise<unknown> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.adminToken !== undefined) headers.authorization = `Bearer ${this.adminToken}`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await postText(this.url, headers, body, this.timeoutMs));
    } catch (e) {
      throw networkError(this.url, what, e, this.timeoutMs);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StrataError(
        'RPC_ERROR',
        `${this.url} answered ${what} with HTTP ${status} and a non-JSON body; check that the URL points at a Strata node's RPC port`,
        { url: this.url, status, body: text.slice(0, 200) },
      );
    }
    return json;
  }

  private malformed(what: string, reply: unknown): StrataError {
    return new StrataError('RPC_ERROR', `${this.url} sent a reply to ${what} that is not a JSON-RPC 2.0 response`, {
      url: this.url,
      reply: JSON.stringify(reply)?.slice(0, 200),
    });
  }
}

/** POSTs `body` and resolves with the status and the whole response text; rejects on a socket error or after `timeoutMs` (an error named TimeoutError). */
async function postText(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  // node:https (and tls under it) is loaded only for an https URL: it costs a CLI run as much as node:http.
  const send = url.startsWith('https:') ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(body, 'utf8');
    const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(payload.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      const e = new Error(`timed out after ${timeoutMs} ms`);
      e.name = 'TimeoutError';
      req.destroy(e);
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(payload);
  });
}

/** Coerces a wire `error` member into a well-formed error object. */
export function asErrorObject(e: unknown): JsonRpcErrorObject {
  if (typeof e === 'object' && e !== null) {
    const o = e as Record<string, unknown>;
    const code = typeof o.code === 'number' ? o.code : -32603;
    const message = typeof o.message === 'string' ? o.message : 'unknown error';
    return o.data === undefined ? { code, message } : { code, message, data: o.data };
  }
  return { code: -32603, message: String(e) };
}

/** A StrataError('NETWORK') that names the URL and tells the user what to check. */
export function networkError(url: string, what: string, e: unknown, timeoutMs: number): StrataError {
  const name = (e as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new StrataError('NETWORK', `${what} to ${url} timed out after ${timeoutMs} ms; the node may be overloaded or stuck`, { url, timeoutMs }, { cause: e });
  }
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail =
    typeof cause?.code === 'string' ? cause.code : typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : e instanceof Error ? e.message : String(e);
  return new StrataError('NETWORK', `cannot reach the RPC server at ${url} (${detail}); check that the node is running and the URL and port are right`, { url, detail }, { cause: e });
}
