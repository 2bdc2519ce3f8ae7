import { isStrataError, StrataError } from '@strata/primitives';
import { encodeJson, RpcDispatcher, RpcError, type RpcContext, SubscriptionHub, toRpcErrorObject } from '@strata/rpc';
import { describe, expect, it } from 'vitest';

const http: RpcContext = { transport: 'http', authorized: false };

function fakeWs(): { ctx: RpcContext; sent: [string, unknown][]; close: () => void } {
  const sent: [string, unknown][] = [];
  const closers: (() => void)[] = [];
  const ctx: RpcContext = {
    transport: 'ws',
    authorized: false,
    notify: (s, r) => void sent.push([s, r]),
    onClose: (fn) => void closers.push(fn),
  };
  return {
    ctx,
    sent,
    close: () => {
      for (const f of closers.splice(0)) f();
    },
  };
}

describe('RpcDispatcher (in-process)', () => {
  it('rejects duplicate names, missing handlers and inconsistent param bounds', () => {
    const d = new RpcDispatcher();
    d.register('a', { handler: () => 1 });
    const dup = (() => {
      try {
        d.register('a', { handler: () => 2 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isStrataError(dup, 'CONFIG_INVALID')).toBe(true);
    expect(() => d.register('', { handler: () => 1 })).toThrow(StrataError);
    expect(() => d.register('b', { handler: undefined as never })).toThrow(/no handler/);
    expect(() => d.register('c', { handler: () => 1, minParams: 2, maxParams: 1 })).toThrow(/minParams <= maxParams/);
    expect(() => d.register('d', { handler: () => 1, minParams: -1 })).toThrow(StrataError);
    expect(() => new RpcDispatcher({ maxBatch: 0 })).toThrow(StrataError);
    expect(d.has('a')).toBe(true);
    expect(d.has('b')).toBe(false);
  });

  it('lists methods sorted with their bounds', () => {
    const d = new RpcDispatcher();
    d.register('z', { handler: () => 1, admin: true, description: 'last' });
    d.register('a', { handler: () => 1, minParams: 1, maxParams: 2 });
    expect(d.listMethods()).toEqual([
      { name: 'a', admin: false, minParams: 1, maxParams: 2, description: '' },
      { name: 'z', admin: true, minParams: 0, maxParams: null, description: 'last' },
    ]);
  });

  it('handles text without sockets and passes the context through', async () => {
    const d = new RpcDispatcher();
    d.register('ctx', { handler: (_p, ctx) => ctx.transport });
    expect(await d.handleText('{"jsonrpc":"2.0","id":1,"method":"ctx"}', http)).toBe('{"jsonrpc":"2.0","id":1,"result":"http"}');
    expect(await d.handleText('{"jsonrpc":"2.0","method":"ctx"}', http)).toBeUndefined();
    expect(await d.handleMessage([{ jsonrpc: '2.0', method: 'ctx' }], http)).toBeUndefined();
    expect(JSON.parse((await d.handleText('nope', http)) ?? '')).toMatchObject({ id: null, error: { code: -32700 } });
  });

  it('says how many params a method takes', async () => {
    const d = new RpcDispatcher();
    d.register('range', { handler: () => 1, minParams: 1, maxParams: 3 });
    d.register('atLeast', { handler: () => 1, minParams: 2 });
    const msg = async (m: string) => JSON.parse((await d.handleText(JSON.stringify({ jsonrpc: '2.0', id: 1, method: m }), http)) ?? '').error.message;
    expect(await msg('range')).toBe('invalid params: range takes 1 to 3 param(s), got 0');
    expect(await msg('atLeast')).toBe('invalid params: atLeast takes at least 2 param(s), got 0');
  });
});

describe('toRpcErrorObject', () => {
  it('maps codes as documented and never exposes foreign error messages', () => {
    expect(toRpcErrorObject(new StrataError('DECODE_TRUNCATED', 'short', { at: 3 }))).toEqual({
      code: -32602,
      message: 'short',
      data: { code: 'DECODE_TRUNCATED', meta: { at: 3 } },
    });
    expect(toRpcErrorObject(new StrataError('TX_FEE_TOO_LOW', 'fee')).code).toBe(-32003);
    expect(toRpcErrorObject(new StrataError('MEMPOOL_SENDER_LIMIT', 'm')).code).toBe(-32003);
    expect(toRpcErrorObject(new StrataError('NOT_FOUND', 'n')).code).toBe(-32001);
    expect(toRpcErrorObject(new StrataError('UNAUTHORIZED', 'u')).code).toBe(-32007);
    expect(toRpcErrorObject(new StrataError('INVALID_KEY', 'k')).code).toBe(-32603);
    expect(toRpcErrorObject(new RpcError(-32000, 'bad input'))).toEqual({ code: -32000, message: 'bad input' });
    const foreign = toRpcErrorObject(new Error('/secret/path'), 'm');
    expect(foreign).toEqual({ code: -32603, message: 'internal error in m; the node log has the details', data: { code: 'INTERNAL' } });
    expect(toRpcErrorObject('a string').code).toBe(-32603);
  });

  it('RpcError round-trips through its wire form and exposes the remote code', () => {
    const e = new RpcError(-32003, 'nonce too low', { code: 'TX_NONCE_TOO_LOW', meta: { expected: 3 } });
    const back = RpcError.fromErrorObject(JSON.parse(JSON.stringify(e.toErrorObject())));
    expect(back.rpcCode).toBe(-32003);
    expect(back.message).toBe('nonce too low');
    expect(back.remoteCode).toBe('TX_NONCE_TOO_LOW');
    expect(back.code).toBe('RPC_ERROR');
    expect(new RpcError(-32000, 'x').remoteCode).toBeUndefined();
    expect(RpcError.invalidParams('p').rpcCode).toBe(-32602);
    expect(RpcError.notFound('p').rpcCode).toBe(-32001);
  });
});

describe('encodeJson', () => {
  it('encodes bigint, bytes and nested values; refuses negative bigint and cycles with a StrataError', () => {
    expect(encodeJson({ a: [1n, new Uint8Array([0, 16])], b: Buffer.from('hi') })).toBe('{"a":["0x1","0x0010"],"b":"0x6869"}');
    expect(encodeJson(undefined)).toBe('null');
    expect(encodeJson(new Uint8Array())).toBe('"0x"');
    expect(() => encodeJson(-1n)).toThrow(StrataError);
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => encodeJson(cyc)).toThrow(StrataError);
  });
});

describe('SubscriptionHub', () => {
  it('adds, publishes, filters, removes per connection and cleans up on close', () => {
    const hub = new SubscriptionHub();
    const a = fakeWs();
    const b = fakeWs();
    const a1 = hub.add(a.ctx, 'heads');
    const a2 = hub.add(a.ctx, 'logs', ['x']);
    const b1 = hub.add(b.ctx, 'heads');
    expect(new Set([a1, a2, b1]).size).toBe(3);
    expect(hub.count()).toBe(3);
    expect(hub.publish('heads', 1)).toBe(2);
    expect(hub.publish('logs', 'L', (s) => s.params[0] === 'y')).toBe(0);
    expect(hub.publish('logs', 'L', (s) => s.params[0] === 'x')).toBe(1);
    expect(a.sent).toEqual([
      [a1, 1],
      [a2, 'L'],
    ]);
    expect(b.sent).toEqual([[b1, 1]]);

    expect(hub.remove(a1, b.ctx)).toBe(false); // not b's subscription
    expect(hub.remove(a1, a.ctx)).toBe(true);
    expect(hub.remove(a1, a.ctx)).toBe(false);
    expect(hub.publish('heads', 2)).toBe(1);

    a.close();
    expect(hub.count()).toBe(1);
    expect(hub.list()).toEqual([{ id: b1, kind: 'heads', params: [] }]);
    b.close();
    expect(hub.count()).toBe(0);
  });

  it('keeps publishing when one subscriber throws', () => {
    const hub = new SubscriptionHub();
    const bad = fakeWs();
    bad.ctx.notify = () => {
      throw new Error('socket gone');
    };
    const good = fakeWs();
    hub.add(bad.ctx, 'k');
    hub.add(good.ctx, 'k');
    expect(hub.publish('k', 'v')).toBe(1);
    expect(good.sent).toHaveLength(1);
  });

  it('refuses non-WebSocket contexts with -32004', () => {
    const hub = new SubscriptionHub();
    let err: unknown;
    try {
      hub.add(http, 'heads');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).rpcCode).toBe(-32004);
  });
});
