/**
 * The devnet as a user runs it: `strata devnet --malicious-proposer --challenge-window 4` as a
 * child process, then the `strata bridge` CLI (deposit, withdraw, status, finalize, --help,
 * --json) against its printed endpoints, and the fraud proof read from its log file.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from '@strata/rpc';
import { decode, fromHex, fromQuantity, toHex } from '@strata/primitives';
import { GameCodec } from '@strata/optimistic';
import { startDevnetProcess, type DevnetProcess } from '../helpers/devnet-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'strata-op-devnet-'));
let devnet: DevnetProcess;
let l1Rpc: string;
let l2Rpc: string;

interface Cli {
  code: number;
  out: string;
  err: string;
  json: unknown;
}

function cli(args: string[]): Promise<Cli> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/strata.js', ...args], { timeout: 30_000 }, (e, stdout, stderr) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr, json });
    });
  });
}
const bridge = (cmd: string, ...args: string[]) => cli(['bridge', cmd, '--l1-rpc', l1Rpc, '--l2-rpc', l2Rpc, '--json', ...args]);

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface LogLine {
  msg: string;
  [k: string]: unknown;
}
function logLines(): LogLine[] {
  const f = join(dataDir, 'devnet.log');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

beforeAll(async () => {
  devnet = await startDevnetProcess(['--data-dir', dataDir, '--malicious-proposer', '--challenge-window', '4', '--no-sidechain', '--no-channels', '--no-l3', '--no-explorer']);
  const l2 = devnet.banner.layers.l2 as { rpc: string; challengeWindow: number; maliciousProposer: boolean };
  expect(l2).toMatchObject({ challengeWindow: 4, maliciousProposer: true });
  l1Rpc = devnet.banner.layers.l1.rpc;
  l2Rpc = l2.rpc;
}, 60_000);

afterAll(async () => {
  await devnet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('devnet rollup from the CLI', () => {
  it('bridge --help lists the four commands and their flags', async () => {
    const top = await cli(['bridge', '--help']);
    expect(top.code).toBe(0);
    for (const c of ['deposit', 'withdraw', 'status', 'finalize']) expect(top.out).toContain(c);
    for (const c of ['deposit', 'withdraw', 'status', 'finalize']) {
      const h = await cli(['bridge', c, '--help']);
      expect(h.code).toBe(0);
      for (const flag of ['--from', '--l1-rpc', '--l2-rpc', '--json']) expect(h.out).toContain(flag);
    }
  }, 30_000);

  it('deposit → withdraw → status stages → finalize refused, then paid once; a wrong root is disputed and lost in the log', async () => {
    const dep = await bridge('deposit', '--amount', '100000000');
    expect(dep.code, dep.err).toBe(0);
    expect(dep.json).toMatchObject({ amount: '100000000' });
    // A second account keeps the L2 busy so the malicious proposer posts a wrong root.
    expect((await bridge('deposit', '--amount', '50000000', '--from', '1')).code).toBe(0);
    const me = (dep.json as { to: string }).to;
    const l2 = new RpcClient(l2Rpc);
    await until(
      'deposit on L2',
      async () => fromQuantity((await l2.call<{ balance: string }>('state_getAccount', [me])).balance) === 100_000_000n,
      20_000,
    );

    const noneYet = await bridge('finalize');
    expect(noneYet.code).not.toBe(0);
    expect(noneYet.json).toMatchObject({ error: { code: 'L2_WITHDRAWAL', message: 'nothing to finalize: this account has no withdrawals' } });

    const wd = await bridge('withdraw', '--amount', '1000000');
    expect(wd.code, wd.err).toBe(0);
    expect((wd.json as { l2Tx: string }).l2Tx).toMatch(/^0x[0-9a-f]{64}$/);
    for (let i = 0; i < 3; i++) expect((await bridge('withdraw', '--amount', String(1000 + i), '--from', '1')).code).toBe(0);

    const stages = new Set<string>();
    const status = async () => {
      const s = await bridge('status');
      expect(s.code, s.err).toBe(0);
      const list = s.json as { id: number; stage: string; amount: string }[];
      expect(list).toHaveLength(1);
      stages.add(list[0]!.stage);
      return list[0]!;
    };
    const first = await status();
    expect(first).toMatchObject({ id: 0, amount: '1000000' });
    expect(['waiting for root', 'in challenge window', 'ready']).toContain(first.stage);
    if (first.stage !== 'ready') {
      const refused = await bridge('finalize');
      expect(refused.code).not.toBe(0);
      expect((refused.json as { error: { message: string } }).error.message).toMatch(
        /^nothing to finalize: none is ready: #0 (waiting for root|in challenge window)/,
      );
    }
    await until('in challenge window', async () => (await status()).stage === 'in challenge window' || stages.has('ready'), 30_000);
    // the challenge window is counted in L1 blocks: under a full parallel test run it took over 40 s
    await until('ready', async () => (await status()).stage === 'ready', 90_000);
    if (first.stage !== 'ready') expect(stages).toContain('in challenge window');

    const fin = await bridge('finalize');
    expect(fin.code, fin.err).toBe(0);
    expect(fin.json).toEqual([expect.objectContaining({ id: 0, amount: '1000000' })]);
    expect((await status()).stage).toBe('finalized');
    const twice = await bridge('finalize');
    expect(twice.code).not.toBe(0);
    expect((twice.json as { error: { message: string } }).error.message).toMatch(/already finalized/);
    const byId = await bridge('finalize', '0');
    expect(byId.code).not.toBe(0);
    expect((byId.json as { error: { message: string } }).error.message).toMatch(/withdrawal 0 is already finalized/);

    // The fraud proof, as the devnet log tells it.
    const resolved = await until('a resolved dispute in the log', async () => logLines().find((l) => l.msg === 'dispute resolved'), 40_000);
    const lines = logLines();
    const gameId = resolved.gameId;
    expect(lines.some((l) => l.msg === 'MALICIOUS proposer: posting a wrong output root')).toBe(true);
    expect(lines.some((l) => l.msg === 'dispute game opened' && l.gameId === gameId)).toBe(true);
    const moves = lines.filter((l) => l.msg === 'dispute move' && l.gameId === gameId);
    expect(moves.length).toBeGreaterThanOrEqual(1);
    // The one-step proof beat the proposer; then the empty defender slot ran out (a timeout claim).
    expect(moves.some((m) => m.by === 'challenger' && m.kind === 'one-step proof')).toBe(true);
    expect(resolved).toMatchObject({ winner: 'challenger', loser: 'defender', outputDiscarded: true });
    // The bond figures in the log are what the L1 recorded (read back over the L1 RPC), and the
    // challenger's L1 balance shows them.
    const l1 = new RpcClient(l1Rpc);
    const rec = decode(GameCodec, fromHex((await l1.call<{ raw: string }>('rollup_game', [gameId])).raw));
    expect(rec.status).toBe(1);
    expect(rec.payout).toBeGreaterThan(0n);
    expect(resolved.bondToWinner).toBe(rec.payout.toString());
    expect(resolved.bondBurned).toBe(rec.burned.toString());
    expect(rec.defenses).toBeGreaterThanOrEqual(1);
    expect(toHex(rec.challenger)).toBe(resolved.winnerAddress);
    const games = await l2.call<{ id: number; status: string }[]>('rollup_getGames');
    expect(games.find((g) => g.id === gameId)?.status).toBe('challenger won');
  }, 180_000);
});
