/**
 * Review (session 2) of p2p sessions: a slow but honest peer is not punished for answering after
 * the requester gave up, a requester whose requests timed out does not overrun the server's
 * in-flight limit (and get penalised for it), and a frame trickled in tiny chunks costs linear,
 * not quadratic, work. Real TCP on 127.0.0.1. Each test failed on the code before its fix.
 */
import { FrameSplitter, encodeSessionFrame, P2PNode, SESSION_KIND, sessionProtocolId, type SessionOptions } from '@strata/p2p';
import { isStrataError } from '@strata/primitives';
import { afterEach, describe, expect, it } from 'vitest';

const NET = 'sessreview';
const nodes: P2PNode[] = [];
const SERVER: SessionOptions = { maxFrameBytes: 10_000, timeoutMs: 5000, maxInFlight: 4 };

async function pair(): Promise<{ server: P2PNode; client: P2PNode }> {
  const server = await P2PNode.create({ networkId: NET });
  const client = await P2PNode.create({ networkId: NET });
  nodes.push(server, client);
  await server.start();
  await client.start();
  // first byte = delay in tens of ms
  server.handleSession('slow/1', async (req) => {
    await new Promise((r) => setTimeout(r, (req[0] ?? 0) * 10));
    return req;
  }, SERVER);
  await client.dial(server.multiaddrs[0] as string);
  return { server, client };
}

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

const streamsOf = (n: P2PNode) =>
  (n as unknown as { node: { getConnections(): { streams: { protocol?: string }[] }[] } }).node
    .getConnections()
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === sessionProtocolId(NET, 'slow/1')).length;

describe('p2p sessions under timeouts', () => {
  it('an answer arriving after the requester timed out is dropped, not punished; the session lives on', async () => {
    const { server, client } = await pair();
    await client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([0]), SERVER); // session open (a 100 ms open could time out under load)
    const e = await client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([40]), { ...SERVER, timeoutMs: 100 }).catch((x: unknown) => x);
    expect(isStrataError(e) && [e.message, e.meta.timeout]).toEqual([expect.stringMatching(/timed out/), true]);
    await new Promise((r) => setTimeout(r, 600)); // the late answer arrives
    expect(client.scoreOf(server.peerId)).toBe(0);
    expect([...(await client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([0, 7]), SERVER))]).toEqual([0, 7]);
    expect(streamsOf(client)).toBe(1);
  });

  it('timed-out requests still count against the server in-flight limit: the requester is never penalised for them', async () => {
    const { server, client } = await pair();
    const short = { ...SERVER, timeoutMs: 100 };
    await client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([0]), SERVER);
    const timedOut = await Promise.all(Array.from({ length: 4 }, () => client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([60]), short).catch((x: unknown) => x)));
    for (const e of timedOut) expect(isStrataError(e) && e.meta.timeout).toBe(true);
    // the server still runs those 4: more requests now must wait (or use a fresh session)
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => client.sessionRequest(server.peerId, 'slow/1', new Uint8Array([0, i]), SERVER)));
    for (const [i, a] of answers.entries()) expect([...a]).toEqual([0, i]);
    expect(server.scoreOf(client.peerId)).toBe(0);
    expect(client.scoreOf(server.peerId)).toBe(0);
  });

  it('a frame trickled in small chunks is reassembled in linear time', () => {
    const frame = encodeSessionFrame(SESSION_KIND.REQUEST, 1, new Uint8Array(4 << 20).fill(3));
    const s = new FrameSplitter(5 << 20);
    const t0 = performance.now();
    const out: Uint8Array[] = [];
    for (let o = 0; o < frame.length; o += 1024) out.push(...s.push(frame.subarray(o, o + 1024)));
    const ms = performance.now() - t0;
    expect(out).toHaveLength(1);
    expect(out[0]!.length).toBe(2 + (4 << 20));
    expect(ms).toBeLessThan(1000); // quadratic re-copying took several seconds
  });
});

describe('p2p sessions: a peer that never reads', () => {
  it('an inbound session whose answers pile up unsent is aborted (unsent bytes stay bounded)', async () => {
    const server = await P2PNode.create({ networkId: NET, requestRate: { perSecond: 100_000, burst: 100_000 } });
    const client = await P2PNode.create({ networkId: NET });
    nodes.push(server, client);
    await server.start();
    await client.start();
    server.handleSession('echo/2', async (req) => req, { maxFrameBytes: 10_000, timeoutMs: 5000, maxInFlight: 64 });
    await client.dial(server.multiaddrs[0] as string);
    const raw = client as unknown as { node: { dialProtocol(p: unknown, id: string): Promise<{ send(b: Uint8Array): boolean; pause(): void; onDrain(): Promise<void>; status: string; addEventListener(e: string, f: () => void): void }> } };
    const peer = (server as unknown as { node: { peerId: unknown } }).node.peerId;
    const s = await raw.node.dialProtocol(peer, sessionProtocolId(NET, 'echo/2'));
    let closed = false;
    s.addEventListener('close', () => {
      closed = true;
    });
    s.pause(); // no more window for the server: its answers can only queue
    const req = new Uint8Array(8000).fill(1);
    for (let i = 1; i <= 600 && !closed; i++) {
      if (!s.send(encodeSessionFrame(SESSION_KIND.REQUEST, i, req))) await Promise.race([s.onDrain(), new Promise((r) => setTimeout(r, 200))]);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    const t = Date.now();
    while (!closed && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true); // 600 × 8 KB answers were all kept in the server's write buffer
  });
});
