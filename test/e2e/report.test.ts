/**
 * `npm run report` on a tiny workload: every table figure is recomputed here from the chains' own
 * receipts and transactions (fees, sizes, blocks, counts), the recipients' balances account for
 * every transfer, and the Markdown, HTML and SVG plots are written.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Devnet, startDevnet } from '@strata/devnet';
import { decodeAddress, fromQuantity, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { runReport, workload } from '../../bench/report/report.js';
import { simulate } from '../../bench/report/trilemma.js';

let devnet: Devnet;
const out = mkdtempSync(join(tmpdir(), 'strata-report-'));

beforeAll(async () => {
  // The layers without a report driver stay off to keep the test quick.
  devnet = await startDevnet({ port: 0, explorer: false, rollup: { challengeWindow: 2 }, l3: { challengeWindow: 4 }, channels: false, sidechain: false, zk: false }, { logger: pino({ level: 'silent' }) });
}, 120_000);

afterAll(async () => {
  await devnet?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe('npm run report', () => {
  it('runs one workload on the L1, through the rollup and the L3 on it; its tables match the receipts', async () => {
    const phases = new Set<string>();
    const n = 6;
    const r = await runReport({ devnet, transfers: n, senders: 3, outDir: out, progress: (p) => phases.add(p) });
    expect([...phases]).toEqual(expect.arrayContaining(['l1: transfers', 'optimistic: transfers', 'optimistic: exit', 'l3: transfers', 'l3: exit', 'render']));
    expect(r.layers.map((l) => `${l.layer}:${l.settlesOn}`)).toEqual(['l1:l1', 'l2:l1', 'l3:l2']);
    const l1 = new RpcClient(devnet.l1.rpcUrl);
    for (const layer of r.layers) {
      const c = new RpcClient(devnet.layers.find((x) => x.name === layer.layer)?.rpc as string);
      expect(layer.records).toHaveLength(n);
      let fees = 0n;
      let bytes = 0;
      for (const rec of layer.records) {
        const [tx, rc] = await Promise.all([c.call<{ fee: string; size: string }>('tx_get', [rec.hash]), c.call<{ status: string; blockNumber: string; fee?: string }>('tx_getReceipt', [rec.hash])]);
        expect(rc.status).toBe('0x1');
        expect(Number(fromQuantity(rc.blockNumber))).toBe(rec.block);
        fees += rc.fee ? fromQuantity(rc.fee) : fromQuantity(tx.fee);
        bytes += Number(fromQuantity(tx.size));
        expect(rec.softAt).toBeGreaterThanOrEqual(rec.submittedAt);
        expect(rec.finalAt).toBeGreaterThanOrEqual(rec.softAt);
      }
      expect(layer.feePerTx).toBeCloseTo(Number(fees) / n, 6);
      if (layer.layer === 'l1') {
        // On the L1 the user's fee is the L1 fee, and the bytes are the transfers themselves.
        expect(layer.l1FeePerTx).toBeCloseTo(Number(fees) / n, 6);
        expect(layer.l1BytesPerTx).toBeCloseTo(bytes / n, 6);
        expect(layer.exitMs).toBe(0);
      } else {
        // A rollup's parent cost is its batcher's and proposer's transactions there, recomputed
        // here from the parent's own blocks and receipts; the exit took the window.
        const parent = new RpcClient(devnet.layers.find((x) => x.name === layer.settlesOn)?.rpc as string);
        const n0 = devnet.accounts.length;
        const roles = (layer.layer === 'l2' ? [1, 2] : [4, 5]).map((i) => devnet.accounts[n0 - i]?.addressHex.toLowerCase());
        let pFees = 0n;
        let pBytes = 0;
        let pTxs = 0;
        const head = Number(fromQuantity((await parent.call<{ number: string }>('chain_getHead')).number));
        for (let b = 1; b <= head; b++) {
          const blk = await parent.call<{ transactions: { hash: string | null }[] }>('chain_getBlockByNumber', [`0x${b.toString(16)}`, true]);
          for (const x of blk.transactions) {
            if (!x.hash) continue;
            const t = await parent.call<{ hash: string; from: string; size: string; fee: string }>('tx_get', [x.hash]);
            if (!roles.includes(toHex(decodeAddress(t.from)))) continue;
            const rc = await parent.call<{ fee?: string }>('tx_getReceipt', [t.hash]);
            pFees += fromQuantity(rc.fee ?? t.fee);
            pBytes += Number(fromQuantity(t.size));
            pTxs++;
          }
        }
        // The report counts the parent txs of the workload's window; the whole chain holds at least those.
        expect(pTxs).toBeGreaterThan(0);
        expect(layer.l1FeePerTx).toBeGreaterThan(0);
        expect(layer.l1BytesPerTx).toBeGreaterThan(0);
        expect(layer.l1BytesPerTx * n).toBeLessThanOrEqual(pBytes);
        expect(layer.l1FeePerTx * n).toBeLessThanOrEqual(Number(pFees));
        expect(layer.exitL1Blocks).toBeGreaterThanOrEqual(layer.layer === 'l2' ? 2 : 4);
        expect(layer.risk.find((x) => x.aspect === 'Exit window')?.value).toMatch(layer.layer === 'l2' ? /^2 l1 blocks/ : /^4 l2 blocks/);
      }
      expect(layer.throughput).toBeCloseTo(n / ((Math.max(...layer.records.map((x) => x.softAt)) - Math.min(...layer.records.map((x) => x.submittedAt))) / 1000), 6);
    }
    // Every recipient got what the workload sent it, on both layers.
    const expected = new Map<string, bigint>();
    for (const w of workload(n, 3)) expected.set(toHex(w.to), (expected.get(toHex(w.to)) ?? 0n) + w.amount);
    const l2 = new RpcClient(devnet.layers[1]?.rpc as string);
    const l3 = new RpcClient(devnet.layers.find((x) => x.kind === 'l3')?.rpc as string);
    for (const [addr, amount] of expected) {
      expect(fromQuantity((await l1.call<{ balance: string }>('state_getAccount', [addr])).balance)).toBe(amount);
      expect(fromQuantity((await l2.call<{ balance: string }>('state_getAccount', [addr])).balance)).toBe(amount);
      expect(fromQuantity((await l3.call<{ balance: string }>('state_getAccount', [addr])).balance)).toBe(amount);
    }
    // The files: the table in Markdown carries the same figures; plots are SVG.
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const tp = r.layers[0]?.throughput ?? Number.NaN;
    // The table prints 1 decimal below 100 and whole numbers from 100 up (a quiet machine passes 100 tx/s).
    expect(md).toContain(`| l1 | l1 | ${n} | ${Math.abs(tp) >= 100 ? tp.toFixed(0) : tp.toFixed(1)}`);
    expect(md).toContain('Trust assumptions');
    for (const f of ['throughput.svg', 'l1-bytes.svg', 'soft.svg', 'final.svg', 'exit.svg', 'l1-fee.svg']) expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg');
    expect(md).toContain(`| l3 | l3 on l2 | ${n} |`);
    expect(JSON.parse(readFileSync(join(out, 'data.json'), 'utf8')).layers).toHaveLength(3);
  }, 180_000);

  it('trilemma simulation: bigger or faster blocks orphan more and cost each node more', () => {
    const base = { nodes: 8, latencyMs: 100, bandwidthMbps: 20, blocks: 1500, verifyMsPerBlock: 10, seed: 7 };
    const small = simulate({ ...base, blockBytes: 250_000, intervalMs: 15_000 });
    const big = simulate({ ...base, blockBytes: 8_000_000, intervalMs: 15_000, verifyMsPerBlock: 320 });
    const fast = simulate({ ...base, blockBytes: 250_000, intervalMs: 1_000 });
    expect(big.orphanRate).toBeGreaterThan(small.orphanRate * 3);
    expect(fast.orphanRate).toBeGreaterThan(small.orphanRate * 3);
    expect(big.bandwidthPerNode).toBeGreaterThan(small.bandwidthPerNode * 20);
    expect(big.cpuPerNode).toBeGreaterThan(small.cpuPerNode * 20);
    // With no delay at all nothing is orphaned.
    expect(simulate({ ...base, latencyMs: 0, bandwidthMbps: 1e12, verifyMsPerBlock: 0, blockBytes: 1, intervalMs: 1000 }).orphanRate).toBe(0);
  });
});
