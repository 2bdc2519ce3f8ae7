/**
 * A devnet killed without a chance to clean up (SIGKILL, OOM killer, a crashed terminal) leaves
 * no child behind: the extra L1 nodes of `--l1-nodes` watch the devnet's pid and stop with it,
 * as the sidechain validators and ZK provers already do.
 */
import { describe, expect, it } from 'vitest';
import { startDevnetProcess } from '../helpers/devnet-process.js';
import { waitUntil } from '../helpers/node-process.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('strata devnet killed with SIGKILL', () => {
  it('its --l1-nodes child processes exit on their own', async () => {
    const dev = await startDevnetProcess(['--l1-nodes', '2', '--quiet']);
    const pids = (dev.banner.layers.l1 as unknown as { nodes: { pid: number }[] }).nodes.slice(1).map((n) => n.pid);
    expect(pids).toHaveLength(1);
    expect(alive(pids[0] as number)).toBe(true);
    try {
      await dev.stop('SIGKILL');
      await waitUntil(() => pids.every((pid) => !alive(pid)), 'child node processes to exit after the devnet was SIGKILLed', 15_000);
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 90_000);
});
