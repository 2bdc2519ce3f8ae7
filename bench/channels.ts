/**
 * `npm run bench -- channels`: the Bottlepay harness shape. Two channel nodes over real libp2p
 * sockets on loopback with a real dev L1 (adjudicator in its runtime); 100 concurrent senders make
 * 10,000 payments A → B, each to its own invoice: payments/s and p50/p99 latency. Then the same
 * over three hops (A → B → C → D: two forwarding nodes, onion-routed).
 *
 * Baseline, measured in the same run: the raw ed25519 sign and verify rates of this machine
 * (node:crypto, cached KeyObjects). One payment over one channel needs two commitment rounds
 * (add, fulfil), each 4 signatures (two state signatures, two revocations) and 4 verifications,
 * so unbatched one payment costs 8 signs + 8 verifies per hop; the ratio says how far batching
 * and pipelining commitments carry a payment rate past doing those signature operations one
 * payment at a time (>1 means more payments/s than that).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ChannelNode, channelChainRpcMethods, channelParentModules, edSignMsg, edVerifyMsg, randomEdKey, RpcChainClient } from '@strata/channels';
import { devAccounts, devnetChainConfig } from '@strata/devnet';
import { StrataNode, startRpc } from '@strata/node';
import { bankModule } from '@strata/runtime';

const PAYMENTS = Number(process.env.CHANNEL_BENCH_PAYMENTS ?? 10_000);
const SENDERS = Number(process.env.CHANNEL_BENCH_SENDERS ?? 100);
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

async function runPayments(payer: ChannelNode, payee: ChannelNode, count: number): Promise<{ paymentsPerSec: number; p50ms: number; p99ms: number; failed: number }> {
  const invoices: string[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => payee.createInvoice(1_000n)));
    invoices.push(...batch.map((b) => b.invoice));
  }
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      for (;;) {
        const i = next++;
        if (i >= invoices.length) return;
        const t = performance.now();
        try {
          await payer.pay(invoices[i] as string);
          lat.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0).toFixed(1));
  return { paymentsPerSec: Math.round(lat.length / secs), p50ms: q(0.5), p99ms: q(0.99), failed };
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
  const mk = async (alias: string, i: number) => {
    const n = await ChannelNode.create(
      { dataDir: tmp(`bench-chan-${alias}-`), alias, walletKey: accounts[i]!.keys.secretKey, pollMs: 300, maxAttempts: 3, limits: { maxHtlcs: 483 } },
      { chain: new RpcChainClient(rpc.url), logger },
    );
    await n.start();
    return n;
  };
  const sig = rawSigRates();
  const perPaymentSigSeconds = 8 / sig.signPerSec + 8 / sig.verifyPerSec;
  const baselineSingle = 1 / perPaymentSigSeconds;
  const cap = 10n ** 13n;
  const [a, b, c, d] = [await mk('a', 1), await mk('b', 2), await mk('c', 3), await mk('d', 4)];
  try {
    const bk = await a.connect(b.p2p.multiaddrs[0]!);
    const ab = await a.openChannel(bk, cap);
    void ab;
    const single = await runPayments(a, b, PAYMENTS);
    const ck = await b.connect(c.p2p.multiaddrs[0]!);
    const dk = await c.connect(d.p2p.multiaddrs[0]!);
    await b.openChannel(ck, cap);
    await c.openChannel(dk, cap);
    const deadline = Date.now() + 20_000;
    while (a.graph.channels.size < 3 || ![...a.graph.channels.values()].every((x) => x.policies[0] && x.policies[1])) {
      if (Date.now() > deadline) throw new Error('graph did not converge');
      await new Promise((r) => setTimeout(r, 50));
    }
    const three = await runPayments(a, d, PAYMENTS);
    const baselineThree = baselineSingle / 3;
    return {
      payments: PAYMENTS,
      senders: SENDERS,
      singleHop: single,
      threeHops: three,
      rawEd25519: sig,
      sigOnlyBaselinePaymentsPerSec: { singleHop: Math.round(baselineSingle), threeHops: Math.round(baselineThree) },
      ratioToSigBaseline: { singleHop: Number((single.paymentsPerSec / baselineSingle).toFixed(2)), threeHops: Number((three.paymentsPerSec / baselineThree).toFixed(2)) },
      published8vCpu: { eclair: 89, cln: 61, lnd: 33 },
    };
  } finally {
    for (const n of [a, b, c, d]) await n.stop().catch(() => undefined);
    await rpc.stop();
    await l1.stop();
    for (const dd of dirs) rmSync(dd, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2));
  process.exit(0);
}
