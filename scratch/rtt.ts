// Two-process echo over p2p sessions: RTT percentiles, CPU per request (both processes, timed
// loop only) and socket writes per request (net.Socket._writeGeneric calls: one libuv write
// request, i.e. one write/writev syscall on an idle loopback socket).
//   npx tsx scratch/rtt.ts            (SIZE=100000, N=1000 to change; NO_BATCH=1: batchWrites off)
import net from 'node:net';
import { fork } from 'node:child_process';
import { P2PNode } from '@strata/p2p';
const OPTS = { maxFrameBytes: 200_000, timeoutMs: 3000, maxInFlight: 64 };
const size = Number(process.env.SIZE ?? 200);
const n = Number(process.env.N ?? 1000);
const batchWrites = !process.env.NO_BATCH;

let writes = 0;
let writtenBytes = 0;
// biome-ignore lint/suspicious/noExplicitAny: instrumentation of a Node internal
const proto = net.Socket.prototype as any;
const orig = proto._writeGeneric;
proto._writeGeneric = function (writev: boolean, data: unknown, encoding: string, cb: unknown) {
  writes++;
  if (writev) for (const c of data as { chunk: Uint8Array }[]) writtenBytes += c.chunk.length;
  else writtenBytes += (data as Uint8Array).length;
  return orig.call(this, writev, data, encoding, cb);
};
// reads: chunks the socket hands up (one per successful read syscall)
let reads = 0;
const origPush = proto.push;
proto.push = function (chunk: unknown, encoding?: string) {
  if (chunk !== null) reads++;
  return origPush.call(this, chunk, encoding);
};
const stats = () => ({ cpu: process.cpuUsage(), writes, writtenBytes, reads });
const delta = (a: ReturnType<typeof stats>, b: ReturnType<typeof stats>) => ({
  cpuMs: (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000,
  writes: b.writes - a.writes,
  bytes: b.writtenBytes - a.writtenBytes,
  reads: b.reads - a.reads,
});

if (process.argv[2] === 'server') {
  const s = await P2PNode.create({ networkId: 'rtt', requestRate: { perSecond: 1e6, burst: 1e6 }, batchWrites });
  await s.start();
  s.handleSession('echo/1', async (req) => req.subarray(0, 100), OPTS);
  let mark = stats();
  process.on('message', (m: string) => {
    if (m === 'mark') mark = stats();
    else if (m === 'report') process.send?.(delta(mark, stats()));
    process.send?.('ack');
  });
  process.send?.({ addr: s.multiaddrs[0], id: s.peerId });
} else {
  const child = fork(process.argv[1] as string, ['server'], { execArgv: ['--import', 'tsx'] });
  const next = <T>() => new Promise<T>((r) => child.once('message', r as never));
  const { addr, id } = await next<{ addr: string; id: string }>();
  const ask = async <T>(m: string): Promise<T> => {
    const p = new Promise<T>((r) => {
      const got: unknown[] = [];
      const on = (x: unknown) => {
        got.push(x);
        if (x === 'ack') {
          child.off('message', on);
          r(got[0] as T);
        }
      };
      child.on('message', on);
    });
    child.send(m);
    return p;
  };
  const c = await P2PNode.create({ networkId: 'rtt', batchWrites });
  await c.start();
  await c.dial(addr);
  const req = new Uint8Array(size);
  for (let i = 0; i < 300; i++) await c.sessionRequest(id, 'echo/1', req, OPTS);
  await ask('mark');
  const t0 = stats();
  const lat: number[] = [];
  const w0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await c.sessionRequest(id, 'echo/1', req, OPTS);
    lat.push(performance.now() - t);
  }
  const wall = performance.now() - w0;
  const cd = delta(t0, stats());
  const sd = await ask<ReturnType<typeof delta>>('report');
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat[Math.floor(n * p)] as number).toFixed(3);
  const f = (x: number) => (x / n).toFixed(3);
  console.log(
    `size ${size} RTT p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} ms (mean ${f(wall)}); ` +
      `cpu/req client ${f(cd.cpuMs)} server ${f(sd.cpuMs)} ms; ` +
      `writes/req client ${f(cd.writes)} server ${f(sd.writes)} (bytes ${f(cd.bytes)}/${f(sd.bytes)}); reads/req ${f(cd.reads)}/${f(sd.reads)}`,
  );
  child.kill();
  await c.stop();
  process.exit(0);
}
