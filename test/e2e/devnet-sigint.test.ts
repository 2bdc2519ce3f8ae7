/**
 * Ctrl-C on the whole stack leaves no process behind: every descendant of `strata devnet` (the
 * sidechain's validator processes, the ZK prover, any other child a layer starts) is gone after
 * SIGINT, and the devnet exits 0. Descendants are read from /proc, so a child started detached
 * or by a grandchild counts too. Also prints the start-to-banner time of the full stack (warm:
 * the ZK keys come from .cache/zk).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startDevnetProcess } from '../helpers/devnet-process.js';
import { waitUntil } from '../helpers/node-process.js';

/** Every process whose ancestry reaches `root` (Linux /proc). */
function descendants(root: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
      cmd.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // exited meanwhile
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  for (const pid of parent.keys()) {
    let p = parent.get(pid);
    for (let hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
      if (p === root) {
        out.push({ pid, cmd: cmd.get(pid) ?? '' });
        break;
      }
      p = parent.get(p);
    }
  }
  return out;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Ctrl-C on the whole stack', () => {
  it('stops every layer and every child process (validators, prover): none is left', async () => {
    const t0 = Date.now();
    const dev = await startDevnetProcess(['--zk', '--zk-depth', '4', '--quiet']);
    const startMs = Date.now() - t0;
    const layers = Object.keys(dev.banner.layers);
    process.stdout.write(`whole stack (${layers.join(', ')}) start to banner: ${startMs} ms\n`);
    expect(layers).toEqual(expect.arrayContaining(['l1', 'l2', 'l3', 'zk', 'channels', 'sidechain']));
    const root = dev.child.pid as number;
    const kids = descendants(root);
    try {
      // The sidechain's 4 validators and the ZK prover run as processes of their own.
      expect(kids.filter((k) => /validator/.test(k.cmd)).length, JSON.stringify(kids)).toBe(4);
      expect(kids.filter((k) => /prover/.test(k.cmd)).length, JSON.stringify(kids)).toBeGreaterThanOrEqual(1);
      expect(await dev.stop('SIGINT')).toBe(0);
      await waitUntil(() => kids.every((k) => !alive(k.pid)), `every child of the devnet to exit after SIGINT: ${JSON.stringify(kids.filter((k) => alive(k.pid)))}`, 15_000);
    } finally {
      for (const k of kids) if (alive(k.pid)) process.kill(k.pid, 'SIGKILL');
      if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    }
  }, 180_000);
});
