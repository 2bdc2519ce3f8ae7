/**
 * `strata explorer --rpc URL…` against a real L1 + L2 + L3 devnet, the URLs given child first:
 * each chain is asked what it is and which endpoint is its parent, so the L3 sits on the L2 (it
 * used to be put on the first chain given), its risk panel names the L2, and a rollup whose
 * parent is missing is refused by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevnetProcess, type DevnetProcess } from '../helpers/devnet-process.js';

let dev: DevnetProcess;
const rpcOf = (name: string) => (dev.banner.layers[name] as { rpc: string }).rpc;

/** Runs `strata explorer … --port 0 --json`; resolves with its JSON once printed (the process keeps serving). */
function explorer(args: string[]): Promise<{ child: ChildProcess; out: { url: string; layers: { name: string; kind: string; parent: string | null; rpc: string }[] } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/strata.js', 'explorer', '--port', '0', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      try {
        resolve({ child, out: JSON.parse(out) });
      } catch {
        // not complete yet
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`strata explorer exited (${code}): ${out}${err}`)));
  });
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/strata.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dev = await startDevnetProcess(['--no-sidechain', '--no-channels', '--quiet']);
}, 90_000);
afterAll(async () => {
  await dev?.stop('SIGINT');
});

describe('strata explorer --rpc discovers the layer tree from the chains', () => {
  it('L3, L2, L1 given in that order: the L3 is on the L2, the L2 on the L1', async () => {
    const { child, out } = await explorer(['--rpc', rpcOf('l3'), rpcOf('l2'), rpcOf('l1')]);
    try {
      const byRpc = new Map(out.layers.map((l) => [l.rpc, l]));
      const l1 = byRpc.get(rpcOf('l1'));
      const l2 = byRpc.get(rpcOf('l2'));
      const l3 = byRpc.get(rpcOf('l3'));
      expect(l1).toMatchObject({ name: 'l1', kind: 'l1', parent: null });
      expect(l2).toMatchObject({ name: 'l2', kind: 'optimistic', parent: 'l1' });
      expect(l3).toMatchObject({ name: 'l3', kind: 'l3', parent: 'l2' });
      // Parents come first, and the explorer serves this tree.
      expect(out.layers.map((l) => l.name)).toEqual(['l1', 'l2', 'l3']);
      const served = (await (await fetch(new URL('api/layers', out.url))).json()) as { layers: { name: string; parent: string | null }[] };
      expect(served.layers.find((l) => l.name === 'l3')?.parent).toBe('l2');
      // The L3's risk panel is about its real parent: its data is posted to the L2's inbox.
      const risk = (await (await fetch(new URL('api/risk/l3', out.url))).json()) as { aspect: string; value: string }[];
      expect(risk.find((r) => r.aspect === 'Data availability')?.value).toBe('On chain (l2 inbox)');
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('names given by the user are kept, and the parent is named by them', async () => {
    const { child, out } = await explorer(['--rpc', `app=${rpcOf('l3')}`, `base=${rpcOf('l1')}`, `mid=${rpcOf('l2')}`]);
    try {
      expect(out.layers.map((l) => [l.name, l.kind, l.parent])).toEqual([
        ['base', 'l1', null],
        ['mid', 'optimistic', 'base'],
        ['app', 'l3', 'mid'],
      ]);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('an L3 without its parent among the endpoints is refused, naming what to add', async () => {
    const r = await run(['explorer', '--port', '0', '--json', '--rpc', rpcOf('l3'), rpcOf('l1')]);
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('INVALID_ARGUMENT');
    expect(err.error.message).toMatch(/optimistic rollup \d+, but none of the other endpoints hosts it/);
  }, 60_000);
});
