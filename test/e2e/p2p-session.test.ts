/**
 * Sessions (request/response on one long-lived stream per peer) over real TCP on 127.0.0.1:
 * many requests answered out of order on one stream, handler errors as typed errors, a
 * hostile oversized or malformed frame penalises the sender and aborts only its session, and a
 * broken session is reopened on the next request.
 */
import { encodeSessionFrame, P2PNode, SESSION_KIND, sessionProtocolId, type SessionOptions } from '@strata/p2p';
import { isStrataError, StrataError } from '@strata/primitives';
import { afterEach, describe, expect, it } from 'vitest';

const NET = 'sesstest';
const nodes: P2PNode[] = [];
const OPTS: SessionOptions = { maxFrameBytes: 10_000, timeoutMs: 3000, maxInFlight: 64 };

async function pair(): Promise<{ server: P2PNode; client: P2PNode }> {
  const server = await P2PNode.create({ networkId: NET });
  const client = await P2PNode.create({ networkId: NET });
  nodes.push(server, client);
  await server.start();
  await client.start();
  server.handleSession(
    'echo/1',
    async (req) => {
      if (req[0] === 0xff) throw new StrataError('NOT_FOUND', 'no such thing');
      // later requests answered first: the reply order is not the request order
      await new Promise((r) => setTimeout(r, 50 - (req[0] ?? 0)));
      return req;
    },
    OPTS,
  );
  await client.dial(server.multiaddrs[0] as string);
  return { server, client };
}

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

describe('p2p sessions', () => {
  it('answers many concurrent requests on one stream, out of order, each to its own caller', async () => {
    const { server, client } = await pair();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => client.sessionRequest(server.peerId, 'echo/1', new Uint8Array([i, 1, 2]), OPTS)));
    for (const [i, a] of answers.entries()) expect([...a]).toEqual([i, 1, 2]);
    const e = await client.sessionRequest(server.peerId, 'echo/1', new Uint8Array([0xff]), OPTS).catch((x: unknown) => x);
    expect(isStrataError(e) && e.code === 'NETWORK' && String(e.meta.remoteError)).toMatch(/NOT_FOUND: no such thing/);
    // one stream carried all of them
    const conns = (client as unknown as { node: { getConnections(): { streams: { protocol?: string }[] }[] } }).node.getConnections();
    const streams = conns.flatMap((c) => c.streams).filter((s) => s.protocol === sessionProtocolId(NET, 'echo/1'));
    expect(streams).toHaveLength(1);
  });

  it('a hostile oversized frame is penalised and aborts that session only; the next request reopens one', async () => {
    const { server, client } = await pair();
    const raw = client as unknown as { node: { dialProtocol(p: unknown, id: string): Promise<{ send(b: Uint8Array): boolean; addEventListener(e: string, f: () => void): void }> } };
    const peer = (server as unknown as { node: { peerId: unknown } }).node.peerId;
    const s = await raw.node.dialProtocol(peer, sessionProtocolId(NET, 'echo/1'));
    const closed = new Promise<void>((r) => s.addEventListener('close', () => r()));
    s.send(encodeSessionFrame(SESSION_KIND.REQUEST, 1, new Uint8Array(20_000)));
    await closed;
    expect(server.scoreOf(client.peerId)).toBeLessThan(0);
    const before = server.scoreOf(client.peerId);
    // a response frame sent as a request is malformed: penalised as well
    const s2 = await raw.node.dialProtocol(peer, sessionProtocolId(NET, 'echo/1'));
    const closed2 = new Promise<void>((r) => s2.addEventListener('close', () => r()));
    s2.send(encodeSessionFrame(SESSION_KIND.OK, 1, new Uint8Array(3)));
    await closed2;
    expect(server.scoreOf(client.peerId)).toBeLessThan(before);
    // the well-behaved session still works
    expect([...(await client.sessionRequest(server.peerId, 'echo/1', new Uint8Array([5]), OPTS))]).toEqual([5]);
  });
});
