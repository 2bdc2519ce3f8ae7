/**
 * The explorer's pages for the layers beyond the L1 and the L2, in a real browser (Debian's
 * chromium through playwright-core), against ONE devnet running every layer: a ZK batch shown
 * proven (after a deposit from the CLI) with the exodus state, the channel graph with its
 * capacities, the sidechain's validators and an accepted checkpoint, and the L3's head. Also
 * saves the screenshots committed under docs/img/ when STRATA_SHOTS=docs. Screenshots of a
 * failing step go to test-output/explorer/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevnetProcess, type DevnetProcess } from '../helpers/devnet-process.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = join(process.cwd(), 'test-output', 'explorer');
const DOCS = process.env.STRATA_SHOTS === 'docs' ? join(process.cwd(), 'docs', 'img') : undefined;

let dev: DevnetProcess;
let browser: Browser;
let page: Page;
const layer = (name: string) => dev.banner.layers[name] as { rpc: string; ws: string; parent: string | null; kind: string };

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    const r = await fn();
    if (DOCS) await page.screenshot({ path: join(DOCS, `explorer-${name}.png`), fullPage: true });
    return r;
  } catch (e) {
    mkdirSync(SHOTS, { recursive: true });
    await page?.screenshot({ path: join(SHOTS, `layers-${name}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/strata.js', ...args], { timeout: 120_000 }, (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }));
  });
}

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install -y chromium (.ci/run does)');
  dev = await startDevnetProcess(['--zk', '--zk-depth', '4', '--quiet']);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dev?.stop('SIGINT');
});

describe('explorer in chromium: every layer of one devnet', () => {
  it('ZK batch proven with exodus state, channel graph with capacities, sidechain validators and a checkpoint, the L3 head', async () => {
    const explorer = (dev.banner as unknown as { explorer: string }).explorer;
    expect(Object.keys(dev.banner.layers)).toEqual(expect.arrayContaining(['l1', 'l2', 'l3', 'zk', 'channels', 'sidechain']));
    expect(layer('l3')).toMatchObject({ kind: 'l3', parent: 'l2' });
    expect(layer('zk')).toMatchObject({ kind: 'zk', parent: 'l1' });
    // A ZK deposit from the CLI (through --layer-free URLs from the banner) makes a batch to prove.
    const dep = cli(['zk', 'deposit', '--amount', '5', '--from', '1', '--l1-rpc', layer('l1').rpc, '--zk-rpc', layer('zk').rpc, '--json']);

    await step('l3', async () => {
      await page.goto(explorer);
      await page.locator('[data-testid="layer-l3"][data-up="1"]').waitFor({ timeout: 20_000 });
      await page.goto(`${explorer}#/layer/l3`);
      // The L3 reads like the L2: its heads (unsafe / safe / finalized on the L2) and its blocks.
      await page.locator('[data-testid="heads"]').getByText(/unsafe #\d+/).waitFor({ timeout: 20_000 });
      await page.locator('[data-testid="heads"]').getByText(/l2 #\d+/).waitFor({ timeout: 20_000 });
    });

    await step('channels', async () => {
      await page.goto(`${explorer}#/layer/channels`);
      const rows = page.locator('[data-testid="channel-row"]');
      await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(2);
      const text = (await page.locator('[data-testid="channel-graph"]').textContent()) ?? '';
      expect(text).toMatch(/alice ↔ bob|bob ↔ alice/i);
      expect(text).toMatch(/\d+(\.\d+)? STRA/);
    });

    await step('sidechain', async () => {
      await page.goto(`${explorer}#/layer/sidechain`);
      await expect.poll(() => page.locator('[data-testid="validator-row"]').count(), { timeout: 20_000 }).toBe(4);
      expect(await page.locator('[data-testid="validators"]').textContent()).toMatch(/25\.00 %/);
      // Checkpoints every 10 sidechain blocks, accepted on the L1 by > 2/3 of the stake.
      await page.locator('[data-testid="checkpoint-row"]').first().waitFor({ timeout: 90_000 });
    });

    const d = await dep;
    expect(d.code, d.err).toBe(0);
    await step('zk', async () => {
      await page.goto(`${explorer}#/layer/zk`);
      await page.locator('[data-testid="zk-exodus"][data-frozen="false"]').waitFor({ timeout: 20_000 });
      // The risk panel, from the rollup's L1 record: dev keys named, exodus deadlines shown.
      await page.locator('[data-testid="risk"] tr[data-aspect="State validation"]').getByText('DEV-ONLY').waitFor({ timeout: 20_000 });
      await page.locator('[data-testid="risk"] tr[data-aspect="Sequencer failure"]').getByText(/Exodus after \d+ l1 blocks/).waitFor({ timeout: 5_000 });
      // The deposit's batch: pending → proving → proven (and then verified on the L1).
      await page.locator('[data-testid="zk-batch-row"][data-proof="proven"]').first().waitFor({ timeout: 150_000 });
      await page.locator('[data-testid="zk-account-input"]').fill('0');
      await page.locator('[data-testid="zk-account"] button').click();
      await page.locator('[data-testid="zk-account-result"]').getByText(/balance/).waitFor({ timeout: 10_000 });
    });
  }, 420_000);
});
