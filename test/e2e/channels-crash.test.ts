/**
 * kill -9 of a channel node daemon (`strata channel node`, a child process) in the middle of a
 * burst of payments; restart on the same data dir: every payment ends exactly once (settled or
 * failed), both sides agree on the state, value is conserved, and what the payee was paid equals
 * what the payer saw succeed — nothing lost, nothing doubled.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdjudicatorReader, type ChannelNode } from '@strata/channels';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, freePort, startChannelDaemon, startChannelNode, startTestL1, tmp, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let child: ChildProcess | undefined;
const CAP = 10_000_000n;

const startBob = (dataDir: string, p2pPort: number, rpcPort: number) => startChannelDaemon(l1.url, dataDir, 'bob', 2, p2pPort, rpcPort);

beforeAll(async () => {
  l1 = await startTestL1();
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!);
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await alice?.stop();
  await l1?.stop();
  cleanupDirs();
});

describe('crash safety of a channel node', () => {
  it('kill -9 mid-update, restart: nothing lost or doubled', async () => {
    const dir = tmp('chan-bob-crash-');
    const p2pPort = await freePort();
    const rpcPort = await freePort();
    let bob = await startBob(dir, p2pPort, rpcPort);
    child = bob.proc;
    const bobKey = await alice.connect(bob.addr);
    const id = await alice.openChannel(bobKey, CAP);
    await waitUntil(async () => (await bob.rpc.call<{ status: string }[]>('channel_list')).some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 50);
    const invoices: string[] = [];
    for (let i = 0; i < 40; i++) invoices.push((await bob.rpc.call<{ invoice: string }>('channel_invoice', ['1000'])).invoice);
    // a burst of payments; bob is killed while they are in flight
    const results: ('ok' | 'failed')[] = [];
    const pay = (inv: string) =>
      alice.pay(inv).then(
        () => results.push('ok'),
        () => results.push('failed'),
      );
    // waves of payments: the crash lands while commitments are in flight
    const running: Promise<unknown>[] = [];
    for (let w = 0; w < 4; w++) {
      for (const inv of invoices.slice(w * 10, w * 10 + 10)) running.push(pay(inv));
      if (w === 1) await waitUntil(() => alice.channelState(id).state.version >= 1, 'a first commitment', 10_000, 2);
      else await new Promise((r) => setTimeout(r, 5));
    }
    const doneAtCrash = results.length;
    bob.proc.kill('SIGKILL');
    await new Promise((r) => bob.proc.once('exit', r));
    expect(doneAtCrash).toBeLessThan(40); // payments were in flight when it died
    const versionAtCrash = alice.channelState(id).state.version;
    bob = await startBob(dir, p2pPort, rpcPort);
    child = bob.proc;
    await Promise.race([Promise.all(running), new Promise((_, rej) => setTimeout(() => rej(new Error(`payments still pending: ${results.length}/40 done`)), 40_000))]); // under the 60 s test timeout, so a hang says how far it got
    expect(results.length).toBe(40);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0, 'no HTLC left pending', 20_000, 50);
    const s = alice.channelState(id).state;
    expect(s.version).toBeGreaterThan(versionAtCrash);
    expect(s.balanceA + s.balanceB).toBe(CAP);
    const ok = results.filter((r) => r === 'ok').length;
    expect(s.balanceB).toBe(BigInt(ok) * 1000n); // bob got exactly what succeeded
    await waitUntil(async () => {
      const b = (await bob.rpc.call<{ channelId: string; local: string; version: number }[]>('channel_list'))[0];
      return b !== undefined && BigInt(b.local) === s.balanceB && b.version === s.version;
    }, 'both sides agree on the latest state', 10_000, 50);
    const paid = (await bob.rpc.call<{ status: string }[]>('channel_listInvoices')).filter((i) => i.status === 'paid').length;
    expect(paid).toBe(ok);
    bob.proc.kill('SIGTERM');
  });
});

describe('strata channel node --to-self-delay', () => {
  it('the daemon opens its channels with the dispute delay given (the devnet L2 needs 25, the default is 6)', async () => {
    const d = await startChannelDaemon(l1.url, tmp('chan-delay-'), 'dora', 3, await freePort(), await freePort(), ['--to-self-delay', '9']);
    child = d.proc;
    try {
      const { channelId } = await d.rpc.call<{ channelId: string }>('channel_open', [alice.p2p.multiaddrs[0], '1000000']);
      const rec = await new AdjudicatorReader(l1.client()).channel(Buffer.from(channelId.slice(2), 'hex'));
      expect(rec?.toSelfDelay).toBe(9);
    } finally {
      d.proc.kill('SIGTERM');
    }
  });
});
