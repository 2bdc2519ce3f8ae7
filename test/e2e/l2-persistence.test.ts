import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chain, ChainStore } from '@strata/chain';
import { getSupply } from '@strata/runtime';
import { initHashing, isStrataError, toHex } from '@strata/primitives';
import { defaultRollupConfig, L2Store, NodeL1Client, optimisticParentModules, RollupNode } from '@strata/optimistic';
import { bankModule, ModuleRegistry } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { devConfig, tempDir } from '../helpers/chain.js';
import { persistRollup, recordHistory } from '../helpers/l2-persist.js';

await initHashing();

const BLOCKS = 150;
let t: { dir: string; cleanup: () => void };
let l1Dir: string;
let roots: string[];

beforeAll(async () => {
  t = tempDir('strata-l2persist-');
  l1Dir = join(t.dir, 'l1');
  mkdirSync(l1Dir);
  roots = await recordHistory(l1Dir, { blocks: BLOCKS, txsPerBlock: 2, blocksPerBatch: 3 });
}, 120_000);
afterAll(() => t?.cleanup());

function openL1(): { chain: Chain; client: NodeL1Client; close: () => Promise<void> } {
  const rollup = persistRollup();
  const chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry([bankModule, ...optimisticParentModules(rollup)]), new ChainStore(openDatabase({ path: l1Dir })));
  return { chain, client: new NodeL1Client({ chain, submitTx: () => undefined }, rollup), close: () => chain.store.close() };
}

function runUntilKilled(l2Dir: string, killAfterMs: number): Promise<{ lastCommitted: number; startHead: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-rollup-node.ts', l1Dir, l2Dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let started = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!started && out.includes('start ')) {
        started = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (${code}): ${err}`));
      const lines = out.trim().split('\n');
      const committed = lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.split(' ')[1]));
      const startHead = Number((lines.find((l) => l.startsWith('start ')) as string).split(' ')[1]);
      resolve({ lastCommitted: committed.length ? Math.max(...committed) : startHead, startHead });
    });
  });
}

describe('L2 node persistence (lmdb)', () => {
  it('a rollup node SIGKILLed at random moments during L2 import restarts consistent, without re-deriving from genesis', async () => {
    const l2Dir = join(t.dir, 'l2-crash');
    let previous = 0;
    for (let round = 0; round < 5; round++) {
      const { lastCommitted, startHead } = await runUntilKilled(l2Dir, 200 + Math.floor(Math.random() * 900));
      // The restarted process resumed from its data dir, not from genesis.
      expect(startHead).toBe(previous);
      const l1 = openL1();
      const store = new L2Store({ path: l2Dir });
      try {
        const node = new RollupNode({ rollup: persistRollup() }, l1.client, { store });
        const head = node.chain.head;
        // Nothing reported as committed is lost, and the stored head's state root is the one the sequencer computed.
        expect(head.number).toBeGreaterThanOrEqual(lastCommitted);
        expect(toHex(head.stateRoot)).toBe(roots[head.number]);
        expect(node.safeHead).toBeLessThanOrEqual(head.number);
        // The head's state is readable from the stored tree (supply = the deposit).
        if (head.number > 0) expect(getSupply(node.chain.reader())).toBe(10n ** 11n);
        previous = head.number;
      } finally {
        await store.close();
        await l1.close();
      }
      if (previous >= BLOCKS) break;
    }
    expect(previous).toBeGreaterThan(0);
  }, 120_000);

  it('restart resumes in a fraction of a fresh derivation, and reaches the same head', async () => {
    const l2Dir = join(t.dir, 'l2-restart');
    const l1 = openL1();
    try {
      const t0 = performance.now();
      const fresh = new RollupNode({ rollup: persistRollup() }, l1.client);
      await fresh.syncL1();
      const freshMs = performance.now() - t0;
      expect(fresh.chain.head.number).toBe(BLOCKS);

      const s1 = new L2Store({ path: l2Dir });
      const first = new RollupNode({ rollup: persistRollup() }, l1.client, { store: s1 });
      await first.syncL1();
      await s1.close();

      const t1 = performance.now();
      const s2 = new L2Store({ path: l2Dir });
      const again = new RollupNode({ rollup: persistRollup() }, l1.client, { store: s2 });
      await again.syncL1();
      const restartMs = performance.now() - t1;
      try {
        expect(again.chain.head.number).toBe(BLOCKS);
        expect(toHex(again.chain.head.stateRoot)).toBe(toHex(fresh.chain.head.stateRoot));
        expect(again.safeHead).toBe(fresh.safeHead);
        expect(again.heads()).toEqual(fresh.heads());
        expect(again.derivation.meta).toEqual(fresh.derivation.meta);
        expect(getSupply(again.chain.reader())).toBe(10n ** 11n);
        // every transfer applied: the history is not a chain of no-ops
        expect(new Set(roots).size).toBe(BLOCKS + 1);
        // Dispute material survives too: a one-step witness of an early operation.
        expect(again.chain.stepWitness(5)?.postRoot).toEqual(fresh.chain.stepWitness(5)?.postRoot);
        expect(restartMs).toBeLessThan(freshMs);
        console.log(`L2 restart ${restartMs.toFixed(0)} ms vs fresh derivation ${freshMs.toFixed(0)} ms at ${BLOCKS} L2 blocks`);
      } finally {
        await s2.close();
      }
    } finally {
      await l1.close();
    }
  }, 120_000);

  it("refuses a data dir that belongs to another rollup", async () => {
    const l2Dir = join(t.dir, 'l2-other');
    const l1 = openL1();
    try {
      const s = new L2Store({ path: l2Dir });
      new RollupNode({ rollup: persistRollup() }, l1.client, { store: s });
      await s.close();
      const s2 = new L2Store({ path: l2Dir });
      let code: string | undefined;
      try {
        new RollupNode({ rollup: defaultRollupConfig({ ...persistRollup(), rollupId: 907, l2ChainId: 907 }) }, l1.client, { store: s2 });
      } catch (e) {
        code = isStrataError(e) ? e.code : 'other';
      }
      expect(code).toBe('CONFIG_INVALID');
      await s2.close();
    } finally {
      await l1.close();
      rmSync(l2Dir, { recursive: true, force: true });
    }
  });
  it('a restarted verifier does not serve blocks past its L1 cursor (committed just before a crash, their L1 block may be gone)', async () => {
    const l2Dir = join(t.dir, 'l2-cursor');
    const l1 = openL1();
    try {
      const s1 = new L2Store({ path: l2Dir });
      const first = new RollupNode({ rollup: persistRollup() }, l1.client, { store: s1 });
      await first.syncL1();
      expect(first.safeHead).toBe(BLOCKS);
      // A block committed after the cursor's last L1 block (the crash window between the two
      // transactions), here one no L1 batch defines.
      const h = first.chain.head;
      first.chain.build({ timestamp: h.timestamp + 1, delayedFrom: h.delayedFrom + h.delayedReads, delayedOps: [], ops: [] });
      await s1.close();
      const s2 = new L2Store({ path: l2Dir });
      try {
        const again = new RollupNode({ rollup: persistRollup() }, l1.client, { store: s2 });
        expect(again.chain.head.number).toBe(BLOCKS);
        expect(again.heads().unsafe).toBe(again.safeHead);
        await again.syncL1();
        expect(again.chain.head.number).toBe(BLOCKS);
        expect(toHex(again.chain.head.stateRoot)).toBe(roots[BLOCKS]);
      } finally {
        await s2.close();
      }
    } finally {
      await l1.close();
    }
  }, 120_000);
});
