/**
 * The explorer in a real browser (Debian's chromium through playwright-core): the devnet (human
 * banner and event lines, malicious proposer) serves it; a deposit and an L2 transfer made from
 * the CLI appear live; a withdrawal is followed through its stages to finalized; the dispute
 * against the wrong root is shown move by move; search by hash finds the transfer; a chain
 * stopped mid-test is shown as down. Screenshots go to test-output/explorer/ on failure.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevnetProcess, type DevnetProcess } from '../helpers/devnet-process.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = join(process.cwd(), 'test-output', 'explorer');

interface HumanDevnet {
  child: ChildProcess;
  out: () => string;
  l1: string;
  l2: string;
  explorer: string;
}

/** `strata devnet` in its human form: parses the endpoints out of the banner. */
function startHumanDevnet(args: string[]): Promise<HumanDevnet> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/strata.js', 'devnet', '--port', '0', '--no-zk', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRATA_HOME: mkdtempSync(join(tmpdir(), 'strata-home-')) } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no banner: ${out} ${err}`)), 150_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/RPC\s+(http:\S+)[\s\S]*?RPC\s+(http:\S+)[\s\S]*?Explorer\s+(http:\S+)/);
      if (m && out.includes('Ctrl-C stops the devnet.')) {
        clearTimeout(timer);
        resolve({ child, out: () => out, l1: m[1] as string, l2: m[2] as string, explorer: m[3] as string });
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`devnet exited ${code}: ${err}`)));
  });
}

function cli(args: string[]): Promise<{ code: number; json: unknown; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/strata.js', ...args], { timeout: 60_000 }, (e, stdout, stderr) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, json, out: stdout, err: stderr });
    });
  });
}

let devnet: HumanDevnet;
let spare: DevnetProcess;
let spareStopped = false;
let browser: Browser;
let page: Page;
const bridge = (cmd: string, ...args: string[]) => cli(['bridge', cmd, '--l1-rpc', devnet.l1, '--l2-rpc', devnet.l2, '--json', ...args]);

/** Runs a step; on failure saves a screenshot of the page named after it. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    mkdirSync(SHOTS, { recursive: true });
    await page?.screenshot({ path: join(SHOTS, `${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install -y chromium (.ci/run does)');
  // The flows here are the L1's and the rollup's; the sidechain's 4 validator processes are left
  // out to keep the test fast on a loaded machine (its panels are covered by docs screenshots).
  [devnet, spare] = await Promise.all([startHumanDevnet(['--malicious-proposer', '--challenge-window', '4', '--no-sidechain', '--no-channels', '--no-zk', '--no-l3']), startDevnetProcess(['--no-rollup', '--no-explorer', '--no-sidechain', '--no-channels', '--no-zk'])]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  devnet?.child.kill('SIGINT');
  if (!spareStopped) await spare?.stop('SIGKILL');
});

describe('explorer in chromium', () => {
  it('shows deposits, transfers, a withdrawal through its stages and a dispute live; finds by hash', async () => {
    const started = Date.now();
    await step('open', async () => {
      await page.goto(devnet.explorer);
      await page.locator('[data-testid="layer-l1"][data-up="1"]').waitFor({ timeout: 15_000 });
      await page.locator('[data-testid="layer-l2"][data-up="1"]').waitFor({ timeout: 15_000 });
    });
    const loadMs = Date.now() - started;
    expect(loadMs).toBeLessThan(15_000);

    // A deposit from the CLI appears on the page as it is credited on L2.
    const dep = await bridge('deposit', '--amount', '200000000');
    expect(dep.code, dep.err).toBe(0);
    const me = (dep.json as { to: string }).to;
    await step('deposit credited', () => page.locator('[data-testid="events"] [data-kind="deposit.credited"]').first().waitFor({ timeout: 30_000 }));

    // An L2 transfer: the new L2 head shows up live, and search by its hash opens it.
    const to = spare.banner.accounts[1]?.addressHex as string;
    const sent = await cli(['send', '--rpc', devnet.l2, '--to', to, '--amount', '12345', '--json']);
    expect(sent.code, sent.err).toBe(0);
    const tx = sent.json as { hash: string; blockNumber: number };
    await step('L2 head live', () => page.locator(`[data-testid="blocks-l2"] [data-number="${tx.blockNumber}"]`).waitFor({ timeout: 15_000 }));
    await step('search by hash', async () => {
      await page.fill('[data-testid="search"]', tx.hash);
      await page.press('[data-testid="search"]', 'Enter');
      await page.locator('[data-testid="tx"]').waitFor({ timeout: 10_000 });
      await expect.poll(() => page.locator('[data-testid="tx-status"]').textContent(), { timeout: 10_000 }).toMatch(/ok/);
      expect(page.url()).toContain(`#/layer/l2/tx/${tx.hash}`);
    });

    // The account across layers: the L2 balance is the deposit minus the transfer and its fee.
    await step('account across layers', async () => {
      await page.goto(`${devnet.explorer}#/address/${me}`);
      const l2Row = page.locator('[data-testid="balance-row"][data-layer="l2"]');
      await l2Row.waitFor({ timeout: 10_000 });
      const l2Balance = BigInt((await l2Row.getAttribute('data-balance')) as string);
      expect(l2Balance).toBeLessThan(200_000_000n - 12_345n + 1n);
      expect(l2Balance).toBeGreaterThan(200_000_000n - 12_345n - 1_000_000n);
      expect(await page.locator('[data-testid="balance-row"][data-layer="l1"]').getAttribute('data-balance')).not.toBe('');
    });

    // A withdrawal followed through its stages on the rollup page.
    const wd = await bridge('withdraw', '--amount', '1000000');
    expect(wd.code, wd.err).toBe(0);
    await page.goto(`${devnet.explorer}#/layer/l2`);
    const row = page.locator('[data-testid="withdrawal-row"][data-id="0"]');
    const seen = new Set<string>();
    await step('withdrawal ready', async () => {
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        const st = await row.getAttribute('data-stage', { timeout: 5_000 }).catch(() => null);
        if (st) seen.add(st);
        if (st === 'ready') break;
        await page.waitForTimeout(300);
      }
      expect(seen).toContain('ready');
      expect(seen.has('in challenge window') || seen.has('waiting for root')).toBe(true);
      // The terminal polls stages once a second: a user reads READY there before finalizing.
      const until = Date.now() + 15_000;
      while (!/withdrawal #\d+ READY/.test(devnet.out()) && Date.now() < until) await page.waitForTimeout(200);
    });
    const fin = await bridge('finalize');
    expect(fin.code, fin.err).toBe(0);
    await step('withdrawal finalized', () => page.locator('[data-testid="withdrawal-row"][data-id="0"][data-stage="finalized"]').waitFor({ timeout: 15_000 }));
    await step('finalized event', () => page.locator('[data-testid="events"] [data-kind="withdrawal.finalized"]').first().waitFor({ timeout: 15_000 }));

    // The malicious proposer's wrong root: the game, move by move, to its resolution.
    await step('dispute resolved', async () => {
      await page.locator('[data-testid="game"]').first().waitFor({ timeout: 60_000 });
      await page.locator('[data-testid="game"]:not([data-status="open"])').first().waitFor({ timeout: 90_000 });
      const moves = await page.locator('[data-testid="game"]:not([data-status="open"]) [data-testid="move"]').allTextContents();
      expect(moves.some((m) => /opened/.test(m))).toBe(true);
      // Bisection moves or, for a range of one or two operations, straight to the one-step proof.
      expect(moves.some((m) => /move \d+: (proposer|defender|challenger)|re-executed op/.test(m))).toBe(true);
      expect(moves.some((m) => /resolved: challenger won/.test(m))).toBe(true);
      expect(await page.locator('[data-testid="output-row"][data-status="discarded"]').count()).toBeGreaterThan(0);
    });
    await step('risk panel', async () => {
      const exit = page.locator('[data-testid="risk"] tr[data-aspect="Exit window"]');
      await exit.waitFor({ timeout: 10_000 });
      expect(await exit.textContent()).toMatch(/4 l1 blocks/);
    });
    // The terminal told the same story in human lines.
    const out = devnet.out();
    expect(out).toMatch(/deposit #\d+ credited on l2/);
    expect(out).toMatch(/batch \d+ posted to l1/);
    expect(out).toMatch(/output root \d+ proposed/);
    expect(out).toMatch(/DISPUTE game \d+ opened/);
    expect(out).toMatch(/dispute game \d+ resolved: challenger won/);
    expect(out).toMatch(/withdrawal #\d+ READY/);
    expect(out).toMatch(/withdrawal #\d+ finalized/);
    expect(out).not.toMatch(/L1 block #\d+ {2}0x/);
  }, 240_000);

  it('a chain stopped mid-test is shown as down, the others stay up', async () => {
    const ex = await new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/strata.js', 'explorer', '--rpc', `l1=${devnet.l1}`, `spare=${spare.banner.layers.l1.rpc}`, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        try {
          resolve({ child, url: (JSON.parse(out) as { url: string }).url });
        } catch {
          // not complete yet
        }
      });
      child.on('exit', (c) => reject(new Error(`explorer exited ${c}`)));
    });
    try {
      await step('both up', async () => {
        await page.goto(ex.url);
        await page.locator('[data-testid="layer-spare"][data-up="1"]').waitFor({ timeout: 15_000 });
        await page.locator('[data-testid="layer-l1"][data-up="1"]').waitFor({ timeout: 15_000 });
      });
      spareStopped = true;
      await spare.stop('SIGKILL');
      await step('spare down', async () => {
        await page.locator('[data-testid="down-spare"]').waitFor({ timeout: 15_000 });
        expect(await page.locator('[data-testid="layer-spare"]').getAttribute('data-up')).toBe('0');
        expect(await page.locator('[data-testid="layer-l1"]').getAttribute('data-up')).toBe('1');
        expect(await page.locator('[data-testid="down-spare"]').textContent()).toMatch(/spare \(l1\) is down/);
      });
    } finally {
      ex.child.kill('SIGINT');
    }
  }, 60_000);
});
