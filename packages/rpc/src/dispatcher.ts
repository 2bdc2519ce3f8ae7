import { StrataError } from '@strata/primitives';
import type { Logger } from 'pino';
import { type JsonRpcErrorObject, RpcError, RpcErrorCodes, toRpcErrorObject } from './errors.js';
import { encodeJson } from './json.js';
import type { JsonRpcId, MethodInfo, MethodSpec, RpcContext } from './types.js';

/** Options of {@link RpcDispatcher}. */
export interface RpcDispatcherOptions {
  /** Largest accepted batch (default 100); bigger batches get one -32005 error. */
  maxBatch?: number;
  /** A handler running longer than this fails with -32603 (default 30 000 ms). */
  handlerTimeoutMs?: number;
}

/** Default {@link RpcDispatcherOptions.maxBatch}. */
export const DEFAULT_MAX_BATCH = 100;
/** Default {@link RpcDispatcherOptions.handlerTimeoutMs}. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

interface Registered {
  spec: MethodSpec;
  min: number;
  max: number;
}

/**
 * Transport-independent JSON-RPC 2.0 engine: method table, request validation, batches,
 * notifications, admin checks, param counts, timeouts and error mapping. {@link RpcServer} feeds it
 * HTTP bodies and WebSocket messages; it can also be used in-process (tests, embedded callers).
 * It never throws or rejects for anything a client sends.
 */
export class RpcDispatcher {
  private readonly methods = new Map<string, Registered>();
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;

  constructor(opts: RpcDispatcherOptions = {}, deps: { logger?: Logger | undefined } = {}) {
    this.maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
    this.timeoutMs = opts.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) {
      throw new StrataError('CONFIG_INVALID', `rpc maxBatch must be a positive integer, got ${this.maxBatch}`, { maxBatch: this.maxBatch });
    }
    if (!(this.timeoutMs > 0)) {
      throw new StrataError('CONFIG_INVALID', `rpc handlerTimeoutMs must be positive, got ${this.timeoutMs}`, { handlerTimeoutMs: this.timeoutMs });
    }
    this.logger = deps.logger;
  }

  /** Adds a method. Throws CONFIG_INVALID on a duplicate name or inconsistent param bounds. */
  register(name: string, spec: MethodSpec): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw new StrataError('CONFIG_INVALID', 'rpc method names must be non-empty strings', { name });
    }
    if (this.methods.has(name)) {
      throw new StrataError('CONFIG_INVALID', `rpc method ${name} is already registered; register each method once`, { name });
    }
    if (typeof spec?.handler !== 'function') {
      throw new StrataError('CONFIG_INVALID', `rpc method ${name} has no handler function`, { name });
    }
    const min = spec.minParams ?? 0;
    const max = spec.maxParams ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(min) || min < 0 || !(max >= min) || (max !== Number.POSITIVE_INFINITY && !Number.isInteger(max))) {
      throw new StrataError('CONFIG_INVALID', `rpc method ${name}: need integers 0 <= minParams <= maxParams`, {
        name,
        minParams: spec.minParams,
        maxParams: spec.maxParams,
      });
    }
    this.methods.set(name, { spec, min, max });
  }

  /** True when `name` is registered. */
  has(name: string): boolean {
    return this.methods.has(name);
  }

  /** The registered methods, sorted by name. */
  listMethods(): MethodInfo[] {
    return [...this.methods.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, r]) => ({
        name,
        admin: r.spec.admin === true,
        minParams: r.min,
        maxParams: r.max === Number.POSITIVE_INFINITY ? null : r.max,
        description: r.spec.description ?? '',
      }));
  }

  /**
   * Handles a raw request body (single request or batch). Returns the serialized response, or
   * `undefined` when nothing must be sent back (notifications only).
   */
  async handleText(text: string, ctx: RpcContext): Promise<string | undefined> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return errorResponse(null, { code: RpcErrorCodes.PARSE_ERROR, message: 'parse error: the request body is not valid JSON' });
    }
    return this.handleMessage(msg, ctx);
  }

  /** Handles an already-parsed request or batch; same contract as {@link handleText}. */
  async handleMessage(msg: unknown, ctx: RpcContext): Promise<string | undefined> {
    if (!Array.isArray(msg)) return this.handleOne(msg, ctx);
    if (msg.length === 0) {
      return errorResponse(null, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: empty batch' });
    }
    if (msg.length > this.maxBatch) {
      return errorResponse(null, {
        code: RpcErrorCodes.LIMIT_EXCEEDED,
        message: `batch of ${msg.length} requests exceeds the limit of ${this.maxBatch}; split it into smaller batches`,
        data: { code: 'RPC_ERROR', meta: { limit: this.maxBatch, got: msg.length } },
      });
    }
    const parts = await Promise.all(msg.map((m) => this.handleOne(m, ctx)));
    const present = parts.filter((p): p is string => p !== undefined);
    return present.length === 0 ? undefined : `[${present.join(',')}]`;
  }

  /** Handles one request object (never a batch). */
  private async handleOne(req: unknown, ctx: RpcContext): Promise<string | undefined> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      return errorResponse(null, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: expected a JSON-RPC request object' });
    }
    const r = req as Record<string, unknown>;
    const hasId = Object.hasOwn(r, 'id');
    const idOk = !hasId || r.id === null || typeof r.id === 'string' || (typeof r.id === 'number' && Number.isFinite(r.id));
    const id: JsonRpcId = hasId && idOk ? (r.id as JsonRpcId) : null;
    if (!idOk) return errorResponse(null, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: id must be a string, number or null' });
    if (r.jsonrpc === undefined) return errorResponse(id, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: jsonrpc must be "2.0"' });
    if (r.jsonrpc !== '2.0') {
      // EIP-1474 -32006: a request in another version of the protocol.
      return errorResponse(id, { code: RpcErrorCodes.VERSION_NOT_SUPPORTED, message: `JSON-RPC version not supported: ${truncate(String(r.jsonrpc), 20)}; this server speaks "2.0"` });
    }
    if (typeof r.method !== 'string') return errorResponse(id, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: method must be a string' });
    const method = r.method;
    const isNotification = !hasId;
    const reply = (res: string): string | undefined => (isNotification ? undefined : res);

    const p = r.params;
    if (p !== undefined && (typeof p !== 'object' || p === null)) {
      // Not a structured value at all: the request itself is malformed.
      return errorResponse(id, { code: RpcErrorCodes.INVALID_REQUEST, message: 'invalid request: params must be an array' });
    }
    if (p !== undefined && !Array.isArray(p)) {
      return reply(errorResponse(id, { code: RpcErrorCodes.INVALID_PARAMS, message: `invalid params: ${method} takes positional params (a JSON array), not an object` }));
    }
    const params = (p ?? []) as unknown[];

    const entry = this.methods.get(method);
    if (!entry) {
      return reply(errorResponse(id, { code: RpcErrorCodes.METHOD_NOT_FOUND, message: `method not found: ${truncate(method, 100)}` }));
    }
    if (entry.spec.admin && !ctx.authorized) {
      return reply(
        errorResponse(id, {
          code: RpcErrorCodes.UNAUTHORIZED,
          message: `${method} is an admin method: send the node's admin token (HTTP "Authorization: Bearer <token>", WebSocket "?token=<token>"); without a configured token admin methods are disabled`,
          data: { code: 'UNAUTHORIZED', meta: { method } },
        }),
      );
    }
    if (params.length < entry.min || params.length > entry.max) {
      const want = entry.max === entry.min ? `${entry.min}` : entry.max === Number.POSITIVE_INFINITY ? `at least ${entry.min}` : `${entry.min} to ${entry.max}`;
      return reply(
        errorResponse(id, {
          code: RpcErrorCodes.INVALID_PARAMS,
          message: `invalid params: ${method} takes ${want} param(s), got ${params.length}`,
          data: { code: 'RPC_ERROR', meta: { min: entry.min, max: entry.max === Number.POSITIVE_INFINITY ? null : entry.max, got: params.length } },
        }),
      );
    }

    const started = performance.now();
    let out: string;
    let failed: JsonRpcErrorObject | undefined;
    try {
      const result = await this.invoke(method, entry.spec, params, ctx);
      out = successResponse(id, result);
    } catch (e) {
      failed = toRpcErrorObject(e, method);
      if (failed.code === RpcErrorCodes.INTERNAL_ERROR) this.logger?.warn({ err: e, method, transport: ctx.transport }, 'rpc handler failed');
      out = errorResponse(id, failed);
    }
    this.logger?.debug(
      { method, transport: ctx.transport, ms: Math.round((performance.now() - started) * 1000) / 1000, ...(failed ? { error: failed.code } : {}) },
      'rpc request',
    );
    return reply(out);
  }

  private invoke(method: string, spec: MethodSpec, params: unknown[], ctx: RpcContext): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new RpcError(RpcErrorCodes.INTERNAL_ERROR, `${method} timed out after ${this.timeoutMs} ms; try again or ask for less data`, {
            code: 'INTERNAL',
            meta: { timeoutMs: this.timeoutMs },
          }),
        );
      }, this.timeoutMs);
      // Promise.resolve().then turns a synchronous throw into a rejection.
      Promise.resolve()
        .then(() => spec.handler(params, ctx))
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Serializes a success response; a result that cannot be encoded becomes a -32603 error. */
function successResponse(id: JsonRpcId, result: unknown): string {
  try {
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${encodeJson(result)}}`;
  } catch (e) {
    return errorResponse(id, toRpcErrorObject(e));
  }
}

/** Serializes an error response; undecodable `data` is dropped rather than failing the reply. */
function errorResponse(id: JsonRpcId, error: JsonRpcErrorObject): string {
  try {
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":${encodeJson(error)}}`;
  } catch {
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":${JSON.stringify({ code: error.code, message: error.message })}}`;
  }
}
