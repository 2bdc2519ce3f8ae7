import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ChainStore } from '@strata/chain';
import { initHashing, toHex } from '@strata/primitives';
import { EMPTY_ROOT, MemoryNodeStore, openDatabase, SparseMerkleTree } from '@strata/state';
import { tempDir } from '../helpers/chain.js';

await initHashing();

function runUntilKilled(dir: string, killAfterMs: number): Promise<{ lastCommitted: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-node.ts', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      const startLine = lines.find((l) => l.startsWith('start ')) as string;
      resolve({ lastCommitted: committed.length ? Math.max(...committed) : Number(startLine.split(' ')[1]), lines });
    });
  });
}

/** Opens the data dir and checks it: every canonical block present, flat state hashes to the head's root. */
function checkConsistent(dir: string): { height: number; root: string } {
  const store = new ChainStore(openDatabase({ path: dir }));
  try {
    const head = store.getHead() as Uint8Array;
    const meta = store.getMeta(head);
    const header = store.getHeader(head);
    expect(meta?.status).toBe('executed');
    for (let h = 0; h <= (meta?.height ?? 0); h++) {
      const hash = store.getCanonical(h);
      expect(hash, `canonical block ${h}`).toBeDefined();
      expect(store.getBody(hash as Uint8Array)).toBeDefined();
    }
    // Recompute the state root from the flat table alone.
    const changes = [...store.state.flat.getRange({})].map(({ key, value }) => ({ key: new Uint8Array(key as Uint8Array), value: new Uint8Array(value as Uint8Array) }));
    const root = new SparseMerkleTree(new MemoryNodeStore()).update(EMPTY_ROOT, changes).root;
    expect(toHex(root)).toBe(toHex(header?.stateRoot as Uint8Array));
    return { height: meta?.height ?? 0, root: toHex(root) };
  } finally {
    store.env.close();
  }
}

describe('crash safety', () => {
  it('a node SIGKILLed at random moments during block import restarts with every committed block and a matching state root', async () => {
    const t = tempDir('strata-crash-');
    try {
      let previous = 0;
      const rounds = Number(process.env.STRATA_CRASH_ROUNDS ?? 8);
      for (let i = 0; i < rounds; i++) {
        const killAfter = 150 + Math.floor(Math.random() * 1200);
        const { lastCommitted } = await runUntilKilled(t.dir, killAfter);
        const { height } = checkConsistent(t.dir);
        // Nothing reported as committed may be lost; the chain never goes backwards.
        expect(height).toBeGreaterThanOrEqual(lastCommitted);
        expect(height).toBeGreaterThanOrEqual(previous);
        previous = height;
      }
      expect(previous).toBeGreaterThan(0);
    } finally {
      t.cleanup();
    }
  }, 180_000);
});
