/**
 * `npm run report`: the seed's question "L1 or L2?" answered by measurement. One workload (a
 * fixed set of transfers between many accounts: first-time recipients, mixed amounts) runs on
 * the L1 directly and through every layer of the devnet that has a driver here (today: the
 * optimistic rollup), all over the layers' JSON-RPC as a user's wallet would. Every figure in
 * the report comes from that run: throughput, L1 bytes per transaction, time to soft and to
 * final confirmation, exit delay back to L1, cost in L1 fees per transaction, and each layer's
 * trust assumptions (the explorer's risk panel, computed from the chains' configs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Devnet, startDevnet } from '@strata/devnet';
import { ExplorerApi, type RiskRow } from '@strata/explorer';
import {
  DepositArgs,
  FinalizeWithdrawalArgs,
  makeL2Env,
  ProveWithdrawalArgs,
  type RollupConfig,
  rollupModuleNames,
  RpcL1Client,
  signL2Transfer,
  signL2Withdrawal,
} from '@strata/optimistic';
import { blake2b256, decodeAddress, DEV_MNEMONIC, deriveKeyPairs, encode, fromHex, fromQuantity, type KeyPair, keyPairFromSecret, toHex, utf8 } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec } from '@strata/runtime';
import pino from 'pino';
import { type DriverResult, runChannels, runSidechain, runZk } from './drivers.js';
import { renderReport } from './render.js';

/** Settings of {@link runReport}. */
export interface ReportOptions {
  /** Transfers in the workload (default 200). */
  transfers?: number;
  /** Sending accounts (default 5: dev accounts 0–4; 7–9 run the rollup). */
  senders?: number;
  /** Output directory (default report/). */
  outDir?: string;
  /** Progress callback: a phase name and the share done (0–1). */
  progress?: (phase: string, done: number) => void;
  /** Only these layers (by name) besides the L1; default every layer of the devnet. */
  layers?: string[];
  /** `false` skips the ZK-rollup (its Groth16 proofs take the longest); it is then listed as not measured. */
  zk?: boolean;
  /** Run against this devnet instead of starting one (it is left running). */
  devnet?: Devnet;
}

/** One transfer of the workload as it happened on one layer. */
export interface TxRecord {
  layer: string;
  hash: string;
  block: number;
  fee: string;
  bytes: number;
  submittedAt: number;
  softAt: number;
  finalAt: number;
}

/** The measured row of one layer. */
export interface LayerResult {
  layer: string;
  kind: string;
  /** The chain its "L1" figures are on: itself for the L1, the parent for a rollup (the L3's are L2 bytes and fees). */
  settlesOn: string;
  transfers: number;
  /** Transfers per second, first submission to last soft confirmation. */
  throughput: number;
  /** Bytes the L1 stores per transfer (the transfer itself on L1; the batch txs carrying it for a rollup). */
  l1BytesPerTx: number;
  softMs: { median: number; max: number };
  finalMs: { median: number; max: number };
  /** The L1 blocks (from, to] whose txs make the L1 figures, when they are counted over a window (the sidechain's checkpoints). */
  l1Range?: [number, number];
  /** Withdrawal back to L1: submit → paid on L1 (0 on the L1 itself). */
  exitMs: number;
  /** The same in L1 blocks. */
  exitL1Blocks: number;
  /** L1 fees per transfer, base units (the user's fee on L1; the batcher's and proposer's L1 fees shared out for a rollup). */
  l1FeePerTx: number;
  /** The layer's own fee per transfer, base units. */
  feePerTx: number;
  risk: RiskRow[];
  records: TxRecord[];
}

/** What the report found. */
export interface Report {
  startedAt: string;
  workload: { transfers: number; senders: number; recipients: number; totalAmount: string };
  layers: LayerResult[];
  notMeasured: { layer: string; kind: string; why: string }[];
  /** How each non-rollup layer's L1 figures were counted (from the run). */
  notes: { layer: string; note: string }[];
  files: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** The workload: `n` transfers from `senders` accounts to first-time recipients, mixed amounts. */
export function workload(n: number, senders: number): { from: number; to: Uint8Array; amount: bigint }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    // Recipients are fresh keys derived from a fixed seed, each used once or twice.
    const to = keyPairFromSecret(blake2b256(utf8(`strata-report-recipient-${Math.floor(i / 2)}`))).address;
    out.push({ from: i % senders, to, amount: BigInt(1_000 + ((i * 7919) % 900_000)) });
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`report: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs the workload on the L1 directly. */
async function runL1(l1: RpcClient, keys: KeyPair[], work: ReturnType<typeof workload>, progress: (d: number) => void): Promise<TxRecord[]> {
  return runChain(l1, 'l1', keys, work, progress);
}

/** Runs the workload as bank transfers on a chain of the Strata runtime (the L1, the sidechain): soft = receipt, final = its finalized head. */
async function runChain(l1: RpcClient, layer: string, keys: KeyPair[], work: ReturnType<typeof workload>, progress: (d: number) => void): Promise<TxRecord[]> {
  const cfg = await l1.call<{ chainId: string; fees: { perByte: string; perCompute: string }; addressPrefix: string }>('chain_getConfig');
  const chainId = Number(fromQuantity(cfg.chainId));
  const nonces = await Promise.all(keys.map(async (k) => Number(fromQuantity((await l1.call<{ nextNonce: string }>('state_getAccount', [toHex(k.address)])).nextNonce))));
  const sent: { hash: string; at: number; bytes: number }[] = [];
  for (const w of work) {
    const key = keys[w.from] as KeyPair;
    const unsigned = { chainId, nonce: nonces[w.from] as number, fee: 0n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: w.to, amount: w.amount }) };
    const size = encodeTx(signTx({ ...unsigned, fee: 1n << 64n }, key.secretKey)).length;
    const fee = BigInt(size) * BigInt(cfg.fees.perByte) + BigInt(TRANSFER_COMPUTE) * BigInt(cfg.fees.perCompute);
    const raw = encodeTx(signTx({ ...unsigned, fee }, key.secretKey));
    nonces[w.from] = (nonces[w.from] as number) + 1;
    sent.push({ hash: await l1.call<string>('tx_sendRaw', [toHex(raw)]), at: Date.now(), bytes: raw.length });
  }
  return follow(l1, layer, sent, progress, async (block) => Number((await l1.call<{ number: string }>('chain_getHead', ['finalized'])).number) >= block);
}

/** Waits for every sent transaction's receipt (soft) and finality; records both times. */
async function follow(
  c: RpcClient,
  layer: string,
  sent: { hash: string; at: number; bytes: number }[],
  progress: (d: number) => void,
  isFinal: (block: number, receipt: Record<string, unknown>) => Promise<boolean>,
): Promise<TxRecord[]> {
  const recs = new Map<string, TxRecord>();
  const receipts = new Map<string, Record<string, unknown>>();
  await until(
    `${layer} receipts`,
    async () => {
      const missing = sent.filter((s) => !recs.has(s.hash));
      for (let i = 0; i < missing.length; i += 100) {
        const chunk = missing.slice(i, i + 100);
        const res = await c.batch(chunk.map((s) => ({ method: 'tx_getReceipt', params: [s.hash] })));
        res.forEach((r, j) => {
          const s = chunk[j] as (typeof chunk)[number];
          if (!('result' in r) || !r.result) return;
          const rc = r.result as { status: string; blockNumber: string; fee?: string };
          if (rc.status !== '0x1') throw new Error(`report: ${layer} transfer ${s.hash} failed: ${JSON.stringify(rc)}`);
          receipts.set(s.hash, rc as unknown as Record<string, unknown>);
          recs.set(s.hash, { layer, hash: s.hash, block: Number(fromQuantity(rc.blockNumber)), fee: rc.fee ? fromQuantity(rc.fee).toString() : '', bytes: s.bytes, submittedAt: s.at, softAt: Date.now(), finalAt: 0 });
        });
        // A receipt without a fee (the rollup's): the fee is the transaction's own.
        for (const s of chunk) {
          const r = recs.get(s.hash);
          if (r && r.fee === '') r.fee = fromQuantity((await c.call<{ fee: string }>('tx_get', [s.hash])).fee).toString();
        }
      }
      progress((recs.size / sent.length) * 0.5);
      return recs.size === sent.length;
    },
    300_000,
    50,
  );
  await until(
    `${layer} finality`,
    async () => {
      let done = 0;
      for (const r of recs.values()) {
        if (r.finalAt === 0) {
          const rc = r.block >= 0 ? ((await c.call('tx_getReceipt', [r.hash])) as Record<string, unknown>) : (receipts.get(r.hash) as Record<string, unknown>);
          if (await isFinal(r.block, rc)) r.finalAt = Date.now();
        }
        if (r.finalAt) done++;
      }
      progress(0.5 + (done / recs.size) * 0.5);
      return done === recs.size;
    },
    600_000,
    200,
  );
  return [...recs.values()];
}

/** An address as lower-case 0x hex, whatever the chain's bech32 prefix. */
function hexOf(a: string): string {
  return a.startsWith('0x') ? a.toLowerCase() : toHex(decodeAddress(a));
}

/** L1 transactions sent by `senders` (0x hex) in L1 blocks (from, to]: their fees and sizes. */
async function l1TxsBy(l1: RpcClient, senders: Set<string>, from: number, to: number): Promise<{ fee: bigint; bytes: number; count: number }> {
  let fee = 0n;
  let bytes = 0;
  let count = 0;
  for (let n = from + 1; n <= to; n++) {
    const b = await l1.call<{ transactions: { hash: string | null; from?: string; size?: string; fee?: string }[] } | null>('chain_getBlockByNumber', [`0x${n.toString(16)}`, true]);
    for (const raw of b?.transactions ?? []) {
      // An L2's full blocks (the L3's parent) list results only: read each signed tx by its hash.
      if (typeof raw !== 'object' || !raw.hash) continue;
      const t = typeof raw.from === 'string' ? (raw as { hash: string; from: string; size: string; fee: string }) : await l1.call<{ hash: string; from: string; size: string; fee: string }>('tx_get', [raw.hash]);
      if (!t || !senders.has(hexOf(t.from))) continue;
      const r = await l1.call<{ fee?: string }>('tx_getReceipt', [t.hash]);
      // An L1 receipt states the fee paid; an L2's (the L3's parent) does not: the tx's own fee.
      fee += fromQuantity(r.fee ?? t.fee);
      bytes += Number(fromQuantity(t.size));
      count++;
    }
  }
  return { fee, bytes, count };
}

/** One optimistic rollup as the report drives it: its config, its parent's RPC, and which parent accounts carry its data. */
interface RollupTarget {
  /** Layer name (`l2`, `l3`). */
  name: string;
  /** The parent's layer name (`l1` for the L2, `l2` for the L3). */
  parent: string;
  rollup: RollupConfig;
  parentUrl: string;
  childUrl: string;
  /** The parent accounts whose transactions carry this rollup (batcher and proposer). */
  roles: Set<string>;
  /** Progress phase prefix (`optimistic`, `l3`). */
  phase: string;
}

/** Deposits `need` per sender from the parent into the rollup and waits until credited. */
async function fundRollup(t: RollupTarget, keys: KeyPair[], need: Map<number, bigint>): Promise<void> {
  const parent = new RpcL1Client(t.parentUrl);
  const child = new RpcClient(t.childUrl);
  const names = rollupModuleNames(t.rollup.rollupId);
  const before = new Map<number, bigint>();
  for (const [i] of need) before.set(i, fromQuantity((await child.call<{ balance: string }>('state_getAccount', [toHex((keys[i] as KeyPair).address)])).balance));
  for (const [i, amount] of need) await parent.send(keys[i] as KeyPair, names.bridge, 'deposit', encode(DepositArgs, { rollupId: t.rollup.rollupId, to: (keys[i] as KeyPair).address, amount }), 5_000);
  await until(
    `deposits on ${t.name}`,
    async () => {
      for (const [i, amount] of need) {
        const a = await child.call<{ balance: string }>('state_getAccount', [toHex((keys[i] as KeyPair).address)]);
        if (fromQuantity(a.balance) < (before.get(i) ?? 0n) + amount) return false;
      }
      return true;
    },
    120_000,
    200,
  );
}

/** Runs the workload through an optimistic rollup (the L2 on the L1, the L3 on the L2): deposits, transfers, one withdrawal back to its parent. */
async function runOptimistic(
  t: RollupTarget,
  keys: KeyPair[],
  work: ReturnType<typeof workload>,
  progress: (phase: string, d: number) => void,
): Promise<{ records: TxRecord[]; l1Bytes: number; l1Fees: bigint; exitMs: number; exitL1Blocks: number }> {
  const rollup = t.rollup;
  const env = makeL2Env(rollup);
  const l1 = new RpcClient(t.parentUrl);
  const l2 = new RpcClient(t.childUrl);
  const l1c = new RpcL1Client(t.parentUrl);
  const names = rollupModuleNames(rollup.rollupId);
  // Fund every sender on the rollup by a deposit (what the workload moves, plus fees).
  const need = new Map<number, bigint>();
  for (const w of work) need.set(w.from, (need.get(w.from) ?? 0n) + w.amount + 10_000_000n);
  await fundRollup(t, keys, need);
  progress(`${t.phase}: transfers`, 0);
  const l1Start = Number((await l1.call<{ number: string }>('chain_getHead')).number);
  const nonces = await Promise.all(keys.map(async (k) => Number(fromQuantity((await l2.call<{ nextNonce: string }>('state_getAccount', [toHex(k.address)])).nextNonce))));
  const sent: { hash: string; at: number; bytes: number }[] = [];
  for (const w of work) {
    const tx = encodeTx(signL2Transfer(env, (keys[w.from] as KeyPair).secretKey, nonces[w.from] as number, w.to, w.amount));
    nonces[w.from] = (nonces[w.from] as number) + 1;
    sent.push({ hash: await l2.call<string>('tx_sendRaw', [toHex(tx)]), at: Date.now(), bytes: tx.length });
  }
  const records = await follow(l2, t.name, sent, (d) => progress(`${t.phase}: transfers`, d), async (_b, rc) => rc.safety === 'finalized');
  const l1End = Number((await l1.call<{ number: string }>('chain_getHead')).number);
  // What the parent carried for these transfers: the batcher's and the proposer's transactions.
  const carried = await l1TxsBy(l1, t.roles, l1Start, l1End);
  // One withdrawal back to the parent, timed from submission to the coins paid there.
  progress(`${t.phase}: exit`, 0);
  const key = keys[0] as KeyPair;
  const wNonce = Number(fromQuantity((await l2.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)])).nextNonce));
  const t0 = Date.now();
  const h0 = Number((await l1.call<{ number: string }>('chain_getHead')).number);
  const wHash = await l2.call<string>('tx_sendRaw', [toHex(encodeTx(signL2Withdrawal(env, key.secretKey, wNonce, key.address, 1_000_000n)))]);
  await until(`withdrawal on ${t.name}`, () => l2.call<{ blockNumber: string } | null>('tx_getReceipt', [wHash]), 30_000);
  const list = await until(
    'withdrawal ready',
    async () => {
      const ws = await l2.call<{ id: number; stage: string }[]>('rollup_listWithdrawals', [toHex(key.address)]);
      const mine = ws.sort((a, b) => b.id - a.id)[0];
      progress(`${t.phase}: exit`, mine?.stage === 'in challenge window' ? 0.5 : mine?.stage === 'ready' ? 0.9 : 0.2);
      return mine?.stage === 'ready' ? mine : undefined;
    },
    300_000,
    250,
  );
  const full = await l2.call<{ id: number; from: string; to: string; amount: string; outputIndex: number; proof: string[] }>('rollup_getWithdrawal', [list.id]);
  const proveArgs = encode(ProveWithdrawalArgs, {
    rollupId: rollup.rollupId,
    outputIndex: full.outputIndex,
    withdrawal: { id: full.id, l2Sender: fromHex(full.from, 20), l1Recipient: fromHex(full.to, 20), amount: BigInt(full.amount) },
    proof: full.proof.map((p) => fromHex(p)),
  });
  const receipt = async (h: Uint8Array) => until(`${t.parent} receipt`, () => l1c.receipt(h), 30_000);
  const pr = await receipt(await l1c.send(key, names.bridge, 'proveWithdrawal', proveArgs, 40_000));
  if (pr.status !== 'ok') throw new Error(`report: proving the ${t.name} withdrawal failed: ${pr.error}`);
  // The rollup node calls a withdrawal ready from its own view of the parent; the parent may need
  // a block or two more before its window has passed there: retry while it says so (timed too).
  let fr = await receipt(await l1c.send(key, names.bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: rollup.rollupId, id: full.id }), 5_000));
  for (let i = 0; fr.status !== 'ok' && /challenge window/.test(fr.error ?? '') && i < 60; i++) {
    await sleep(1000);
    fr = await receipt(await l1c.send(key, names.bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: rollup.rollupId, id: full.id }), 5_000));
  }
  if (fr.status !== 'ok') throw new Error(`report: finalizing the ${t.name} withdrawal failed: ${fr.error}`);
  progress(`${t.phase}: exit`, 1);
  return { records, l1Bytes: carried.bytes, l1Fees: carried.fee, exitMs: Date.now() - t0, exitL1Blocks: fr.height - h0 };
}

function summarize(layer: string, kind: string, recs: TxRecord[], extra: { l1BytesPerTx: number; l1FeePerTx: number; exitMs: number; exitL1Blocks: number; risk: RiskRow[]; settlesOn?: string; l1Range?: [number, number] }): LayerResult {
  const first = Math.min(...recs.map((r) => r.submittedAt));
  const last = Math.max(...recs.map((r) => r.softAt));
  return {
    layer,
    kind,
    settlesOn: extra.settlesOn ?? layer,
    transfers: recs.length,
    throughput: recs.length / Math.max(0.001, (last - first) / 1000),
    l1BytesPerTx: extra.l1BytesPerTx,
    softMs: { median: median(recs.map((r) => r.softAt - r.submittedAt)), max: Math.max(...recs.map((r) => r.softAt - r.submittedAt)) },
    finalMs: { median: median(recs.map((r) => r.finalAt - r.submittedAt)), max: Math.max(...recs.map((r) => r.finalAt - r.submittedAt)) },
    ...(extra.l1Range ? { l1Range: extra.l1Range } : {}),
    exitMs: extra.exitMs,
    exitL1Blocks: extra.exitL1Blocks,
    l1FeePerTx: extra.l1FeePerTx,
    feePerTx: recs.reduce((s, r) => s + Number(r.fee), 0) / recs.length,
    risk: extra.risk,
    records: recs,
  };
}

/** Runs the workload everywhere and writes report/ (Markdown, HTML, SVG plots, data.json). */
export async function runReport(opts: ReportOptions = {}): Promise<Report> {
  const n = opts.transfers ?? 200;
  const senders = Math.min(opts.senders ?? 5, 7);
  const outDir = opts.outDir ?? 'report';
  const progress = opts.progress ?? (() => {});
  const startedAt = new Date().toISOString();
  progress('devnet', 0);
  const devnet = opts.devnet ?? (await startDevnet({ port: 0, explorer: false }, { logger: pino({ level: 'silent' }) }));
  try {
    const keys = deriveKeyPairs(DEV_MNEMONIC, senders);
    const work = workload(n, senders);
    const l1 = new RpcClient(devnet.l1.rpcUrl);
    const api = new ExplorerApi(devnet.layers, { status: () => [] } as never);
    progress('l1: transfers', 0);
    const l1Recs = await runL1(l1, keys, work, (d) => progress('l1: transfers', d));
    const layers: LayerResult[] = [
      summarize('l1', 'l1', l1Recs, {
        l1BytesPerTx: l1Recs.reduce((s, r) => s + r.bytes, 0) / l1Recs.length,
        l1FeePerTx: l1Recs.reduce((s, r) => s + Number(r.fee), 0) / l1Recs.length,
        exitMs: 0,
        exitL1Blocks: 0,
        risk: (await api.risk('l1')) ?? [],
      }),
    ];
    const notMeasured: Report['notMeasured'] = [];
    const notes: Report['notes'] = [];
    const n0 = devnet.accounts.length;
    const addr = (i: number) => devnet.accounts[n0 - i]?.addressHex.toLowerCase();
    const roleSet = (...i: number[]) => new Set(i.map(addr).filter((x): x is string => !!x));
    for (const l of devnet.layers.filter((x) => x.name !== 'l1' && (!opts.layers || opts.layers.includes(x.name)))) {
      if (l.kind === 'optimistic' && devnet.l2) {
        // The L2's batcher and proposer are the last two dev accounts.
        const t: RollupTarget = { name: l.name, parent: l.parent ?? 'l1', rollup: devnet.l2.config, parentUrl: devnet.l1.rpcUrl, childUrl: l.rpc, roles: roleSet(1, 2), phase: 'optimistic' };
        const r = await runOptimistic(t, keys, work, progress);
        layers.push(summarize(l.name, l.kind, r.records, { l1BytesPerTx: r.l1Bytes / n, l1FeePerTx: Number(r.l1Fees) / n, exitMs: r.exitMs, exitL1Blocks: r.exitL1Blocks, risk: (await api.risk(l.name)) ?? [], settlesOn: t.parent }));
        continue;
      }
      if (l.kind === 'l3' && devnet.l3 && devnet.l2) {
        // The L3 settles on the L2: its senders need L2 coins first (an L1 → L2 deposit), then L2 → L3.
        const need = new Map<number, bigint>();
        for (const w of work) need.set(w.from, (need.get(w.from) ?? 0n) + 2n * (w.amount + 10_000_000n));
        const l2Layer = devnet.layers.find((x) => x.name === l.parent) ?? devnet.layers[1];
        await fundRollup({ name: l.parent ?? 'l2', parent: 'l1', rollup: devnet.l2.config, parentUrl: devnet.l1.rpcUrl, childUrl: l2Layer?.rpc ?? devnet.l2.rpcUrl, roles: new Set(), phase: 'l3' }, keys, need);
        // The L3's batcher and proposer are the 4th and 5th dev accounts from the end (devnet/l3.ts).
        const t: RollupTarget = { name: l.name, parent: l.parent ?? 'l2', rollup: devnet.l3.config, parentUrl: l2Layer?.rpc ?? devnet.l2.rpcUrl, childUrl: l.rpc, roles: roleSet(4, 5), phase: 'l3' };
        const r = await runOptimistic(t, keys, work, progress);
        layers.push(summarize(l.name, l.kind, r.records, { l1BytesPerTx: r.l1Bytes / n, l1FeePerTx: Number(r.l1Fees) / n, exitMs: r.exitMs, exitL1Blocks: r.exitL1Blocks, risk: (await api.risk(l.name)) ?? [], settlesOn: t.parent }));
        continue;
      }
      const push = async (r: DriverResult) => {
        notes.push({ layer: l.name, note: r.note });
        layers.push(summarize(l.name, l.kind, r.records, { l1BytesPerTx: r.l1Bytes / n, l1FeePerTx: Number(r.l1Fees) / n, exitMs: r.exitMs, exitL1Blocks: r.exitL1Blocks, risk: (await api.risk(l.name)) ?? [], settlesOn: l.parent ?? 'l1', ...(r.l1Range ? { l1Range: r.l1Range } : {}) }));
      };
      // A driver that fails leaves its layer under "Not measured" with the error; the others still run.
      const attempt = async (run: () => Promise<DriverResult>) => {
        try {
          await push(await run());
        } catch (e) {
          notMeasured.push({ layer: l.name, kind: l.kind, why: `the run failed: ${(e as Error).message}` });
        }
      };
      const zkUrl = devnet.zk?.rpcUrl;
      if (l.kind === 'zk' && zkUrl && opts.zk !== false) {
        await attempt(() => runZk(devnet.l1.rpcUrl, zkUrl, keys, work, progress));
        continue;
      }
      const sc = devnet.sidechain;
      if (l.kind === 'sidechain' && sc) {
        await attempt(() => runSidechain(devnet.l1.rpcUrl, l.rpc, sc.launch.chainId, keys, work, progress, runChain));
        continue;
      }
      const members = l.members;
      if (l.kind === 'channels' && members) {
        await attempt(() => runChannels(devnet.l1.rpcUrl, members, work, progress));
        continue;
      }
      notMeasured.push({ layer: l.name, kind: l.kind, why: l.kind === 'zk' ? (opts.zk === false ? 'skipped by this run (--no-zk)' : 'the ZK operator is not running') : `no workload driver for kind ${l.kind} in bench/report yet` });
    }
    const report: Report = {
      startedAt,
      workload: { transfers: n, senders, recipients: new Set(work.map((w) => toHex(w.to))).size, totalAmount: work.reduce((s, w) => s + w.amount, 0n).toString() },
      layers,
      notMeasured,
      notes,
      files: [],
    };
    progress('render', 0);
    mkdirSync(outDir, { recursive: true });
    const files = await renderReport(report);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(outDir, name), text);
    report.files = Object.keys(files).map((f) => join(outDir, f));
    writeFileSync(join(outDir, 'data.json'), JSON.stringify(report, null, 2));
    report.files.push(join(outDir, 'data.json'));
    progress('render', 1);
    return report;
  } finally {
    if (!opts.devnet) await devnet.stop();
  }
}
