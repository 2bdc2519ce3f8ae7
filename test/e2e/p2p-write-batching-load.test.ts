/**
 * Write batching under event-loop load. A background task keeps the loop
 * busy (each turn runs BUSY_MS of synchronous work from a setImmediate chain, as the channel
 * node's scheduled rounds do); we time (a) a bulk answer of 3 MB and (b) small request RTT, with
 * batchWrites on and off. Two nodes in one process, over loopback TCP.
 */
import { P2PNode, type SessionOptions } from '@strata/p2p';
import { afterEach, describe, expect, it } from 'vitest';

const OPTS: SessionOptions = { maxFrameBytes: 4_000_000, timeoutMs: 30_000, maxInFlight: 64 };
const BUSY_MS = Number(process.env.BUSY_MS ?? 10);
const nodes: P2PNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

function busyLoop(): () => void {
  let on = true;
  const spin = () => {
    if (!on) return;
    const t = performance.now();
    while (performance.now() - t < BUSY_MS) {
      /* busy */
    }
    setImmediate(spin);
  };
  setImmediate(spin);
  return () => {
    on = false;
  };
}

async function run(batchWrites: boolean): Promise<{ bulkMs: number; rttP50: number }> {
  const server = await P2PNode.create({ networkId: 'corkprobe', batchWrites, requestRate: { perSecond: 1e6, burst: 1e6 } });
  const client = await P2PNode.create({ networkId: 'corkprobe', batchWrites, requestRate: { perSecond: 1e6, burst: 1e6 } });
  nodes.push(server, client);
  await server.start();
  await client.start();
  const big = new Uint8Array(3_000_000);
  server.handleSession('bulk/1', async (req) => (req[0] === 1 ? big : req), OPTS);
  await client.dial(server.multiaddrs[0] as string);
  for (let i = 0; i < 20; i++) await client.sessionRequest(server.peerId, 'bulk/1', Uint8Array.of(0), OPTS);
  const stop = busyLoop();
  try {
    let t = performance.now();
    const r = await client.sessionRequest(server.peerId, 'bulk/1', Uint8Array.of(1), OPTS);
    const bulkMs = performance.now() - t;
    expect(r.length).toBe(big.length);
    const lat: number[] = [];
    for (let i = 0; i < 40; i++) {
      t = performance.now();
      await client.sessionRequest(server.peerId, 'bulk/1', Uint8Array.of(0), OPTS);
      lat.push(performance.now() - t);
    }
    lat.sort((a, b) => a - b);
    return { bulkMs, rttP50: lat[20] as number };
  } finally {
    stop();
    for (const n of nodes.splice(0)) await n.stop();
  }
}

describe('review probe: write batching under a busy event loop', () => {
  it('bulk answer and RTT, batching on vs off', async () => {
    const off = await run(false);
    const on = await run(true);
    console.log(`BUSY_MS=${BUSY_MS} off: bulk ${off.bulkMs.toFixed(0)} ms, rtt p50 ${off.rttP50.toFixed(2)} ms | on: bulk ${on.bulkMs.toFixed(0)} ms, rtt p50 ${on.rttP50.toFixed(2)} ms`);
    // batching must not make a bulk answer much slower under load
    expect(on.bulkMs).toBeLessThan(2 * off.bulkMs + 50);
  });
});
