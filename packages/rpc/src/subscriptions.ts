import { randomBytes } from 'node:crypto';
import { toHex } from '@strata/primitives';
import { RpcError } from './errors.js';
import type { RpcContext } from './types.js';

/** A live subscription held by a {@link SubscriptionHub}. */
export interface Subscription {
  /** Random `0x` id (16 bytes) returned to the client. */
  readonly id: string;
  /** What the client subscribed to (e.g. `'newHeads'`). */
  readonly kind: string;
  /** Extra subscription params the handler chose to keep (filters), as given to `add`. */
  readonly params: readonly unknown[];
}

interface Entry extends Subscription {
  readonly notify: (subscription: string, result: unknown) => void;
}

/**
 * Tracks WebSocket subscriptions so that a node can implement `chain_subscribe` /
 * `chain_unsubscribe` in a few lines:
 *
 * ```ts
 * const hub = new SubscriptionHub();
 * server.register('chain_subscribe', { minParams: 1, handler: ([kind], ctx) => hub.add(ctx, String(kind)) });
 * server.register('chain_unsubscribe', { minParams: 1, maxParams: 1, handler: ([id], ctx) => hub.remove(String(id), ctx) });
 * chain.on('block', (b) => hub.publish('newHeads', headerJson(b)));
 * ```
 *
 * Subscriptions of a connection are dropped automatically when it closes.
 */
export class SubscriptionHub {
  /** Most subscriptions one connection may hold; more are refused with -32005 (each is notified on every event). */
  readonly maxPerConnection: number;
  private readonly subs = new Map<string, Entry>();
  // One entry per connection (keyed by its stable `notify` function) → its subscription ids.
  private readonly byConn = new Map<(subscription: string, result: unknown) => void, Set<string>>();

  /**
   * Registers a subscription for the connection behind `ctx` and returns its id (the handler's
   * result). Throws RpcError -32004 when the request did not arrive over WebSocket.
   */
  constructor(opts: { maxPerConnection?: number } = {}) {
    this.maxPerConnection = opts.maxPerConnection ?? 256;
  }

  add(ctx: RpcContext, kind: string, params: readonly unknown[] = []): string {
    const notify = ctx.notify;
    if (!notify || !ctx.onClose) {
      throw RpcError.methodNotSupported('subscriptions need a WebSocket connection: connect to the node\'s ws:// URL instead of http://', {
        code: 'RPC_ERROR',
        meta: { transport: ctx.transport },
      });
    }
    if ((this.byConn.get(notify)?.size ?? 0) >= this.maxPerConnection) {
      throw RpcError.limitExceeded(`this connection already holds ${this.maxPerConnection} subscriptions; unsubscribe some first`, {
        code: 'RPC_ERROR',
        meta: { limit: this.maxPerConnection },
      });
    }
    const id = toHex(randomBytes(16));
    this.subs.set(id, { id, kind, params, notify });
    let ids = this.byConn.get(notify);
    if (!ids) {
      ids = new Set();
      this.byConn.set(notify, ids);
      const connIds = ids;
      ctx.onClose(() => {
        for (const sid of connIds) this.subs.delete(sid);
        this.byConn.delete(notify);
      });
    }
    ids.add(id);
    return id;
  }

  /**
   * Removes a subscription; returns false when it does not exist. With `ctx`, only a subscription
   * created on the same connection can be removed (a client cannot cancel another's).
   */
  remove(id: string, ctx?: RpcContext): boolean {
    const e = this.subs.get(id);
    if (!e) return false;
    if (ctx && ctx.notify !== e.notify) return false;
    this.subs.delete(id);
    this.byConn.get(e.notify)?.delete(id);
    return true;
  }

  /**
   * Sends `result` to every subscriber of `kind` (optionally only those `filter` accepts).
   * Returns how many subscribers were notified. A failing subscriber does not stop the others.
   */
  publish(kind: string, result: unknown, filter?: (sub: Subscription) => boolean): number {
    let n = 0;
    for (const e of this.subs.values()) {
      if (e.kind !== kind) continue;
      if (filter && !filter(e)) continue;
      try {
        e.notify(e.id, result);
        n++;
      } catch {
        // A dead or misbehaving connection is cleaned up by its close handler.
      }
    }
    return n;
  }

  /** The number of live subscriptions (of one kind, or in total). */
  count(kind?: string): number {
    if (kind === undefined) return this.subs.size;
    let n = 0;
    for (const e of this.subs.values()) if (e.kind === kind) n++;
    return n;
  }

  /** A snapshot of the live subscriptions. */
  list(): Subscription[] {
    return [...this.subs.values()].map(({ id, kind, params }) => ({ id, kind, params }));
  }
}
