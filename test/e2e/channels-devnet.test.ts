/**
 * The devnet's channel network from a user's seat: `strata devnet` prints the three channel
 * nodes' RPC endpoints, and right after start a payment from Alice to Carol works from the CLI.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { RpcClient } from '@strata/rpc';
import { startDevnetProcess, type DevnetProcess } from '../helpers/devnet-process.js';

const run = promisify(execFile);
let dev: DevnetProcess | undefined;

afterAll(async () => {
  await dev?.stop();
});

describe('devnet channels', () => {
  it('npm start brings up Alice, Bob, Carol with channels; Alice pays Carol from the CLI', async () => {
    dev = await startDevnetProcess(['--no-rollup', '--no-zk', '--no-sidechain', '--no-explorer']);
    const ch = dev.banner.layers.channels as { nodes: { name: string; rpc: string }[]; channels: string[] };
    expect(ch.nodes.map((n) => n.name)).toEqual(['alice', 'bob', 'carol']);
    expect(ch.channels.length).toBe(2);
    const url = (n: string) => ch.nodes.find((x) => x.name === n)!.rpc;
    const cli = (...args: string[]) => run(process.execPath, ['bin/strata.js', ...args], { timeout: 120_000 });
    const inv = (await cli('channel', 'invoice', '1500', '--description', 'cli test', '--node-rpc', url('carol'))).stdout.trim();
    expect(inv.startsWith('lnst1500')).toBe(true);
    const paid = JSON.parse((await cli('channel', 'pay', inv, '--node-rpc', url('alice'), '--json')).stdout);
    expect(paid.amount).toBe('1500');
    expect(paid.routes[0].hops).toEqual(['bob', 'carol']);
    // the payee's balance moves when its fulfil's round completes: within fulfilBatchMs (20 ms) of
    // the payment, or sooner if the payer proposes again first
    const t0 = Date.now();
    let local = '';
    while (Date.now() - t0 < 5_000) {
      local = (await new RpcClient(url('carol')).call<{ local: string }[]>('channel_list'))[0]?.local ?? '';
      if (local === '1500') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(local).toBe('1500');
    // a second payment of the same invoice is refused with a clear error and a non-zero exit
    await expect(new RpcClient(url('alice')).call('channel_pay', [inv])).rejects.toThrow(/already/);
    const graph = await new RpcClient(url('alice')).call<{ channels: unknown[] }>('channel_graph');
    expect(graph.channels.length).toBe(2);
  }, 240_000);
});
