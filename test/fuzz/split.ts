/** Running a slice of a fuzz target in a child process of its own (see child.ts). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FuzzResult } from './fuzz.js';

const childPath = fileURLToPath(new URL('./child.ts', import.meta.url));

/**
 * Runs one slice of a target in a fresh process (test/fuzz/child.ts) and returns its result; a
 * child that dies or prints no result is one crash (named by its seed).
 */
export function runChild(kind: 'bytes' | 'rpc', index: number, count: number, childSeed: number, seconds: number): Promise<FuzzResult & { unhandled?: number }> {
  return new Promise((resolve) => {
    const argv = ['--import', 'tsx', childPath, '--kind', kind, '--index', String(index), '--n', String(count), '--seed', String(childSeed)];
    if (Number.isFinite(seconds)) argv.push('--max-seconds', String(Math.max(1, Math.round(seconds))));
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error('no result');
        resolve(JSON.parse(last) as FuzzResult & { unhandled?: number });
      } catch {
        const error = `fuzz child process ${kind} #${index} (seed ${childSeed}) exited with ${signal ?? `code ${code}`}`;
        resolve({ name: '', inputs: 0, accepted: 0, rejected: 0, crashes: [{ input: `seed ${childSeed}`, error }], ms: 0, slowestMs: 0, codes: {} });
      }
    });
  });
}

