/**
 * Request/response over real TCP on 127.0.0.1: round trip, size limits on both directions,
 * handler errors as typed errors, and timeouts on both sides.
 */
import { P2PNode, type ProtocolHandlerOptions } from '@strata/p2p';
import { StrataError, isStrataError } from '@strata/primitives';
import { afterEach, describe, expect, it } from 'vitest';

const NET = 'reqtest';
const nodes: P2PNode[] = [];
const LIMITS: ProtocolHandlerOptions = { maxRequestBytes: 1000, maxResponseBytes: 200_000, timeoutMs: 2000 };

async function pair(): Promise<{ server: P2PNode; client: P2PNode }> {
  const server = await P2PNode.create({ networkId: NET });
  const client = await P2PNode.create({ networkId: NET });
  nodes.push(server, client);
  await server.start();
  await client.start();
  server.handle('echo/1', async (req) => req, LIMITS);
  server.handle('blob/1', async (req) => new Uint8Array(new DataView(req.buffer, req.byteOffset).getUint32(0)).fill(7), LIMITS);
  server.handle(
    'fail/1',
    async () => {
      throw new StrataError('NOT_FOUND', 'no block at height 42');
    },
    LIMITS,
  );
  server.handle('slow/1', () => new Promise((r) => setTimeout(() => r(new Uint8Array(1)), 5000)), { ...LIMITS, timeoutMs: 300 });
  await client.dial(server.multiaddrs[0] as string);
  return { server, client };
}

async function rejection(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    if (isStrataError(e)) return e;
    throw new Error(`expected a StrataError, got ${String(e)}`);
  }
  throw new Error('expected the request to fail');
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

describe('p2p request/response', () => {
  it('round-trips requests, including a large response', async () => {
    const { server, client } = await pair();
    const req = new Uint8Array(1000).map((_, i) => i % 251);
    expect(await client.request(server.peerId, 'echo/1', req, LIMITS)).toEqual(req);
    expect(await client.request(server.peerId, 'echo/1', new Uint8Array(0), LIMITS)).toEqual(new Uint8Array(0));
    const big = await client.request(server.peerId, 'blob/1', u32(200_000), LIMITS);
    expect(big.length).toBe(200_000);
    expect(big.every((x) => x === 7)).toBe(true);
    // Ten concurrent requests each on their own stream.
    const many = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.request(server.peerId, 'echo/1', Uint8Array.of(i), LIMITS)),
    );
    expect(many.map((r) => r[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(server.scoreOf(client.peerId)).toBe(0);
    expect(client.scoreOf(server.peerId)).toBe(0);
    // hangUp closes the connection and both sides see the disconnect.
    const gone: string[] = [];
    server.on('peer:disconnect', (id) => gone.push(id));
    await client.hangUp(server.peerId);
    expect(client.peers()).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(gone).toEqual([client.peerId]);
  });

  it('enforces the request limit locally and at the responder (which penalises)', async () => {
    const { server, client } = await pair();
    const local = await rejection(client.request(server.peerId, 'echo/1', new Uint8Array(1001), LIMITS));
    expect(local.code).toBe('DECODE_OVERSIZED');
    expect(server.scoreOf(client.peerId)).toBe(0);
    // A client with a looser limit than the server: the server aborts the stream and penalises.
    const remote = await rejection(client.request(server.peerId, 'echo/1', new Uint8Array(5000), { ...LIMITS, maxRequestBytes: 10_000 }));
    expect(remote.code).toBe('NETWORK');
    expect(remote.meta).toMatchObject({ protocol: 'echo/1', peer: server.peerId });
    expect(server.scoreOf(client.peerId)).toBeLessThanOrEqual(-49);
    // The connection survives; normal requests still work.
    expect(await client.request(server.peerId, 'echo/1', Uint8Array.of(1), LIMITS)).toEqual(Uint8Array.of(1));
  });

  it('enforces the response limit at the requester (which penalises) and at the responder', async () => {
    const { server, client } = await pair();
    const e = await rejection(client.request(server.peerId, 'blob/1', u32(5000), { ...LIMITS, maxResponseBytes: 1000 }));
    expect(e.code).toBe('DECODE_OVERSIZED');
    expect(e.message).toContain('blob/1');
    expect(e.message).toContain(server.peerId);
    expect(client.scoreOf(server.peerId)).toBeLessThanOrEqual(-49);
    // A handler answering beyond its own protocol limit sends an error frame instead.
    const e2 = await rejection(client.request(server.peerId, 'blob/1', u32(300_000), { ...LIMITS, maxResponseBytes: 1_000_000 }));
    expect(e2.code).toBe('NETWORK');
    expect(String(e2.meta.remoteError)).toContain('exceeds maxResponseBytes');
  });

  it('returns handler errors as typed NETWORK errors naming protocol and peer', async () => {
    const { server, client } = await pair();
    const e = await rejection(client.request(server.peerId, 'fail/1', Uint8Array.of(1), LIMITS));
    expect(e.code).toBe('NETWORK');
    expect(e.message).toContain('fail/1');
    expect(e.message).toContain(server.peerId);
    expect(e.meta).toMatchObject({ protocol: 'fail/1', peer: server.peerId, remoteError: 'NOT_FOUND: no block at height 42' });
    // An application error is not the peer misbehaving.
    expect(client.scoreOf(server.peerId)).toBe(0);
    const unknown = await rejection(client.request(server.peerId, 'nope/1', Uint8Array.of(1), LIMITS));
    expect(unknown.code).toBe('NETWORK');
    expect(unknown.message).toContain('nope/1');
    const badPeer = await rejection(client.request('not-a-peer', 'echo/1', Uint8Array.of(1), LIMITS));
    expect(badPeer.code).toBe('DECODE_INVALID');
  });

  it('times out on the requester side and on the responder side', async () => {
    const { server, client } = await pair();
    let t = Date.now();
    const e = await rejection(client.request(server.peerId, 'slow/1', Uint8Array.of(1), { ...LIMITS, timeoutMs: 150 }));
    expect(e.code).toBe('NETWORK');
    expect(e.meta.timeout).toBe(true);
    expect(e.message).toContain('timed out');
    expect(Date.now() - t).toBeLessThan(1000);
    // The responder's own 300 ms deadline answers with an error frame before our 2 s deadline.
    t = Date.now();
    const e2 = await rejection(client.request(server.peerId, 'slow/1', Uint8Array.of(1), { ...LIMITS, timeoutMs: 2000 }));
    expect(e2.code).toBe('NETWORK');
    expect(String(e2.meta.remoteError)).toContain('timed out');
    expect(Date.now() - t).toBeLessThan(1500);
  });
});
