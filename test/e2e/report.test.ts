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
import { fromQuantity, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { runReport, workload } from '../../bench/report/report.js';
import { simulate } from '../../bench/report/trilemma.js';

let devnet: Devnet;
const out = mkdtempSync(join(tmpdir(), 'strata-report-'));

beforeAll(async () => {
  // The layers without a report driver stay off to keep the test quick.
  devnet = await startDevnet({ port: 0, explorer: false, rollup: { challengeWindow: 2 }, channels: false, sidechain: false, zk: false, l3: false }, { logger: pino({ level: 'silent' }) });
}, 120_000);

afterAll(async () => {
  await devnet?.stop();
  rmSync(out, { recursive: true, force: true });
});

describe('npm run report', () => {
  it('runs one workload on the L1 and through the rollup; its tables match the receipts', async () => {
    const phases = new Set<string>();
    const n = 6;
    const r = await runReport({ devnet, transfers: n, senders: 3, outDir: out, progress: (p) => phases.add(p) });
    expect([...phases]).toEqual(expect.arrayContaining(['l1: transfers', 'optimistic: transfers', 'optimistic: exit', 'render']));
    expect(r.layers.map((l) => l.layer)).toEqual(['l1', 'l2']);
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
        // A rollup's L1 cost is its batcher's and proposer's: positive, and the exit took the window.
        expect(layer.l1FeePerTx).toBeGreaterThan(0);
        expect(layer.l1BytesPerTx).toBeGreaterThan(0);
        expect(layer.exitL1Blocks).toBeGreaterThanOrEqual(2);
        expect(layer.risk.find((x) => x.aspect === 'Exit window')?.value).toMatch(/^2 l1 blocks/);
      }
      expect(layer.throughput).toBeCloseTo(n / ((Math.max(...layer.records.map((x) => x.softAt)) - Math.min(...layer.records.map((x) => x.submittedAt))) / 1000), 6);
    }
    // Every recipient got what the workload sent it, on both layers.
    const expected = new Map<string, bigint>();
    for (const w of workload(n, 3)) expected.set(toHex(w.to), (expected.get(toHex(w.to)) ?? 0n) + w.amount);
    const l2 = new RpcClient(devnet.layers[1]?.rpc as string);
    for (const [addr, amount] of expected) {
      expect(fromQuantity((await l1.call<{ balance: string }>('state_getAccount', [addr])).balance)).toBe(amount);
      expect(fromQuantity((await l2.call<{ balance: string }>('state_getAccount', [addr])).balance)).toBe(amount);
    }
    // The files: the table in Markdown carries the same figures; plots are SVG.
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const tp = r.layers[0]?.throughput ?? Number.NaN;
    // The table prints 1 decimal below 100 and whole numbers from 100 up (a quiet machine passes 100 tx/s).
    expect(md).toContain(`| l1 | l1 | ${n} | ${Math.abs(tp) >= 100 ? tp.toFixed(0) : tp.toFixed(1)}`);
    expect(md).toContain('Trust assumptions');
    for (const f of ['throughput.svg', 'l1-bytes.svg', 'soft.svg', 'final.svg', 'exit.svg', 'l1-fee.svg']) expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg');
    expect(JSON.parse(readFileSync(join(out, 'data.json'), 'utf8')).layers).toHaveLength(2);
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
