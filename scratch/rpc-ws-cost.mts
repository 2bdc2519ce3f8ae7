// Server CPU per JSON-RPC call over WebSocket (docs/channels.md, session 9): a trivial method answering in
// bursts every RB_ROUND ms (default 10), 8 connections, 10,000 calls at the given rate. Run: npx tsx scratch/rpc-ws-cost.mts 1000
import { RpcServer } from '../packages/rpc/src/index.ts';
import { fork } from 'node:child_process';
if (process.argv[2] === 'client') {
  const { default: WebSocket } = await import('ws');
  const url = process.argv[3]!; const N = 10000; const rate = Number(process.argv[4] ?? 1000);
  const socks = await Promise.all(Array.from({ length: 8 }, () => new Promise<any>((r) => { const w = new WebSocket(url); w.on('open', () => r(w)); })));
  let got = 0; const inv = 'lnst10001' + 'q'.repeat(290);
  for (const w of socks) w.on('message', () => { if (++got === N) { process.send!('done'); } });
  const t0 = Date.now(); let i = 0;
  const iv = setInterval(() => { const due = Math.floor((Date.now() - t0) * rate / 1000); while (i < Math.min(due, N)) { socks[i % 8].send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'x_pay', params: [inv] })); i++; } if (i >= N) clearInterval(iv); }, 1);
} else {
  let waiters: (() => void)[] = [];
  const round = () => new Promise<void>((r) => waiters.push(r));
  setInterval(() => { const w = waiters; waiters = []; for (const f of w) f(); }, Number(process.env.RB_ROUND ?? 10));
  const srv = new RpcServer({ port: 0 });
  srv.register('x_pay', { minParams: 1, maxParams: 1, description: 'x', handler: async (p) => (await round(), { paymentHash: '0x' + 'ab'.repeat(32), preimage: '0x' + 'cd'.repeat(32), amount: '1000', fee: '0', parts: 1, attempts: 1, routes: [{ hops: ['b'], amount: '1000' }], failures: [], ms: 5 }) } as never);
  await srv.start();
  const url = (srv as any).url ?? `ws://127.0.0.1:${(srv as any).port}`;
  console.log('url', url);
  const c0 = process.cpuUsage(); const t0 = Date.now();
  const child = fork(new URL(import.meta.url).pathname, ['client', url.replace(/^http/, 'ws'), process.argv[2] ?? '1000'], { execArgv: ['--import', 'tsx'] });
  child.on('message', async () => { const c = process.cpuUsage(c0); console.log(`server cpu per call ${((c.user + c.system) / 10000).toFixed(1)} us, wall ${Date.now() - t0} ms`); child.kill(); await srv.stop(); process.exit(0); });
}
