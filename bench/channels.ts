/**
 * `npm run bench -- channels`: the Bottlepay harness shape. Four channel node daemons (`strata
 * channel node`, one process each: no two nodes share an event loop) over real libp2p sockets on
 * loopback, a real dev L1 (adjudicator in its runtime) in this process; 100 concurrent senders
 * make 10,000 payments A → B over A's JSON-RPC (`channel_pay`), each to its own invoice:
 * payments/s and p50/p99 latency. Then the same over three hops (A → B → C → D: two forwarding
 * nodes, onion-routed). Also one sender alone (the latency of a payment on an idle channel).
 *
 * Baseline, measured in the same run: the raw ed25519 sign and verify rates of this machine on
 * one core (node:crypto, cached KeyObjects). One payment over one channel done one at a time needs
 * two commitment rounds (add, fulfil), each 4 signatures (two state signatures, two revocations)
 * and 4 verifications: 8 signs + 8 verifies per hop. The ratio says how far batching many HTLCs
 * into each round carries the payment rate past doing those operations once per payment (> 1: more
 * payments/s than that). The rounds actually run are read from the channels' version numbers.
 *
 * CHANNEL_BENCH_PAYMENTS (default 10,000) and CHANNEL_BENCH_SENDERS (default 100) resize it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { channelChainRpcMethods, channelParentModules, edSignMsg, edVerifyMsg, randomEdKey } from '@strata/channels';
import { devAccounts, devnetChainConfig } from '@strata/devnet';
import { StrataNode, startRpc } from '@strata/node';
import { RpcClient } from '@strata/rpc';
import { bankModule } from '@strata/runtime';

const PAYMENTS = Number(process.env.CHANNEL_BENCH_PAYMENTS ?? 10_000);
const SENDERS = Number(process.env.CHANNEL_BENCH_SENDERS ?? 100);
const SOLO = Math.min(200, Math.max(20, Math.floor(PAYMENTS / 50)));
const logger = pino({ level: 'silent' });

function rawSigRates(): { signPerSec: number; verifyPerSec: number } {
  const k = randomEdKey();
  const msg = new Uint8Array(32).fill(3);
  const n = 20_000;
  let t = performance.now();
  let sig: Uint8Array = new Uint8Array(64);
  for (let i = 0; i < n; i++) {
    msg[0] = i & 0xff;
    sig = edSignMsg(k, msg);
  }
  const signPerSec = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) edVerifyMsg(k.publicKey, msg, sig);
  const verifyPerSec = n / ((performance.now() - t) / 1000);
  return { signPerSec: Math.round(signPerSec), verifyPerSec: Math.round(verifyPerSec) };
}

interface Daemon {
  proc: ChildProcess;
  rpc: RpcClient;
  addr: string;
  out: () => string;
}

function startDaemon(chainRpc: string, dataDir: string, alias: string, walletIndex: number): Promise<Daemon> {
  const prof = process.env.CHANNEL_BENCH_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.CHANNEL_BENCH_PROFILE_DIR] : [];
  const proc = spawn(process.execPath, [...prof, 'packages/cli/bin/strata.js', 'channel', 'node', '--chain-rpc', chainRpc, '--data-dir', dataDir, '--alias', alias, '--port', '0', '--wallet-key', String(walletIndex), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const take = (d: unknown) => {
    out = (out + String(d)).slice(-20_000);
  };
  proc.stdout?.on('data', take);
  proc.stderr?.on('data', take);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      const m = new RegExp(`channel node ${alias}: RPC (\\S+)\\s+p2p (\\S+)`).exec(out);
      if (m) {
        clearInterval(iv);
        resolve({ proc, rpc: new RpcClient(m[1] as string, { timeoutMs: 120_000 }), addr: m[2] as string, out: () => out });
      } else if (proc.exitCode !== null || Date.now() - t0 > 120_000) {
        clearInterval(iv);
        reject(new Error(`channel node ${alias} did not start: ${out.slice(-500)}`));
      }
    }, 50);
  });
}

async function invoices(payee: Daemon, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => payee.rpc.call<{ invoice: string }>('channel_invoice', ['1000'])));
    out.push(...batch.map((b) => b.invoice));
  }
  return out;
}

const q = (lat: number[], p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0).toFixed(1));

async function runPayments(payer: Daemon, payee: Daemon, count: number, senders: number): Promise<{ payments: number; paymentsPerSec: number; p50ms: number; p99ms: number; failed: number; firstError?: string }> {
  const list = await invoices(payee, count);
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (;;) {
        const i = next++;
        if (i >= list.length) return;
        const t = performance.now();
        try {
          await payer.rpc.call('channel_pay', [list[i]]);
          lat.push(performance.now() - t);
        } catch (e) {
          failed++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { payments: count, paymentsPerSec: Math.round(lat.length / secs), p50ms: q(lat, 0.5), p99ms: q(lat, 0.99), failed, ...(firstError ? { firstError } : {}) };
}

async function versionOf(d: Daemon, channelId: string): Promise<number> {
  const l = await d.rpc.call<{ channelId: string; version: number }[]>('channel_list');
  return l.find((c) => c.channelId === channelId)?.version ?? 0;
}

export async function run(): Promise<Record<string, unknown>> {
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const accounts = devAccounts('st', 10);
  const l1 = await StrataNode.create(
    { dataDir: tmp('bench-chan-l1-'), config: devnetChainConfig({ accounts: 10 }), mining: 'dev', blockTimeMs: 0, producer: accounts[0]!.keys.address, modules: [bankModule, ...channelParentModules()] },
    { logger },
  );
  await l1.start();
  const rpc = await startRpc(l1, { host: '127.0.0.1', port: 0 });
  rpc.registerAll(channelChainRpcMethods(() => l1.chain.stateReader));
  const sig = rawSigRates();
  const perPaymentSigSeconds = 8 / sig.signPerSec + 8 / sig.verifyPerSec;
  const baselineSingle = 1 / perPaymentSigSeconds;
  const cap = (10n ** 13n).toString();
  const daemons: Daemon[] = [];
  try {
    for (const [alias, i] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) daemons.push(await startDaemon(rpc.url, tmp(`bench-chan-${alias}-`), alias, i));
    const [a, b, c, d] = daemons as [Daemon, Daemon, Daemon, Daemon];
    const ab = (await a.rpc.call<{ channelId: string }>('channel_open', [b.addr, cap])).channelId;
    const loadBefore = loadavg()[0];
    const soloSingle = await runPayments(a, b, SOLO, 1);
    const v0 = await versionOf(a, ab);
    const single = await runPayments(a, b, PAYMENTS, SENDERS);
    const roundsSingle = (await versionOf(a, ab)) - v0;
    const bc = (await b.rpc.call<{ channelId: string }>('channel_open', [c.addr, cap])).channelId;
    await c.rpc.call('channel_open', [d.addr, cap]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const g = await a.rpc.call<{ channels: { policies: unknown[] }[] }>('channel_graph');
      if (g.channels.length >= 3 && g.channels.every((x) => x.policies.filter(Boolean).length === 2)) break;
      if (Date.now() > deadline) throw new Error('graph did not converge');
      await new Promise((r) => setTimeout(r, 100));
    }
    const soloThree = await runPayments(a, d, SOLO, 1);
    const vb0 = await versionOf(b, bc);
    const three = await runPayments(a, d, PAYMENTS, SENDERS);
    const roundsThree = (await versionOf(b, bc)) - vb0;
    const baselineThree = baselineSingle / 3;
    return {
      payments: PAYMENTS,
      senders: SENDERS,
      processes: 'one per channel node (4) + this one (L1, senders)',
      loadAverage1m: { start: Number(loadBefore?.toFixed(1)), end: Number(loadavg()[0]?.toFixed(1)) },
      singleHop: { ...single, commitmentRounds: roundsSingle, htlcUpdatesPerRound: Number(((2 * PAYMENTS) / Math.max(1, roundsSingle)).toFixed(1)) },
      singleHopOneSender: soloSingle,
      threeHops: { ...three, commitmentRoundsPerChannel: roundsThree, htlcUpdatesPerRound: Number(((2 * PAYMENTS) / Math.max(1, roundsThree)).toFixed(1)) },
      threeHopsOneSender: soloThree,
      rawEd25519OneCore: sig,
      sigOnlyBaselinePaymentsPerSec: { singleHop: Math.round(baselineSingle), threeHops: Math.round(baselineThree) },
      ratioToSigBaseline: { singleHop: Number((single.paymentsPerSec / baselineSingle).toFixed(2)), threeHops: Number((three.paymentsPerSec / baselineThree).toFixed(2)) },
      goal: { singleHopPerSec: 1000, singleHopP50ms: 10, threeHopsPerSec: 300 },
      published8vCpu: { eclair: 89, cln: 61, lnd: 33 },
    };
  } finally {
    for (const dm of daemons) dm.proc.kill('SIGTERM');
    await Promise.all(daemons.map((dm) => (dm.proc.exitCode !== null ? undefined : new Promise((r) => dm.proc.once('exit', r)))));
    await rpc.stop();
    await l1.stop();
    for (const dd of dirs) rmSync(dd, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2));
  process.exit(0);
}
