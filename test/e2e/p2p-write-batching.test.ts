/**
 * Socket writes per session request over real TCP on 127.0.0.1: with write batching (the default)
 * a request and its answer each leave in one write — yamux's window update for the frame just
 * received rides along — instead of four (noise's length prefix and ciphertext written apart, for
 * the data frame and again for the window update). Guards against a libp2p upgrade silently
 * bypassing the batching (batchWrites leaves connections it does not recognise alone).
 */
import net from 'node:net';
import { P2PNode, type SessionOptions } from '@strata/p2p';
import { afterEach, describe, expect, it } from 'vitest';

const NET = 'wbtest';
const OPTS: SessionOptions = { maxFrameBytes: 10_000, timeoutMs: 3000, maxInFlight: 64 };
const nodes: P2PNode[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

describe('p2p write batching', () => {
  it('one socket write per session message each way', async () => {
    const server = await P2PNode.create({ networkId: NET });
    const client = await P2PNode.create({ networkId: NET });
    nodes.push(server, client);
    await server.start();
    await client.start();
    server.handleSession('echo/1', async (req) => req, OPTS);
    await client.dial(server.multiaddrs[0] as string);
    const req = new Uint8Array(200);
    for (let i = 0; i < 20; i++) await client.sessionRequest(server.peerId, 'echo/1', req, OPTS);
    // biome-ignore lint/suspicious/noExplicitAny: instrumentation of a Node internal
    const proto = net.Socket.prototype as any;
    const orig = proto._writeGeneric;
    let writes = 0;
    proto._writeGeneric = function (...args: unknown[]) {
      writes++;
      return orig.apply(this, args);
    };
    const n = 50;
    try {
      for (let i = 0; i < n; i++) expect((await client.sessionRequest(server.peerId, 'echo/1', req, OPTS)).length).toBe(200);
    } finally {
      proto._writeGeneric = orig;
    }
    // both nodes live in this process: 2 writes per request (a little slack for identify/pings)
    expect(writes).toBeGreaterThanOrEqual(2 * n);
    expect(writes).toBeLessThanOrEqual(2 * n + 5);
  });
});
