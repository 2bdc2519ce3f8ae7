/**
 * A cancellation (fail) on its way upstream survives a crash: Alice → Bob → Carol, two payments
 * held at Carol; Alice goes offline; Carol cancels the first, so Bob has a fail to pass upstream
 * that cannot leave yet. kill -9 of Bob (a `strata channel node` daemon), restart, Alice back:
 * the fail reaches Alice and her HTLC is removed off chain. Before, the fail lived only in memory
 * until the A–B channel's next write, and the forward link that could re-derive it was already
 * gone: after the restart nothing failed the HTLC, and Alice would have gone on chain at expiry.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelNode } from '@strata/channels';
import { toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, startChannelNode, startDaemonForwarder, startTestL1, tmp, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let carol: ChannelNode;
let child: ChildProcess | undefined;
const CAP = 1_000_000n;
const aliceDir = () => aliceDirPath;
let aliceDirPath = '';


beforeAll(async () => {
  l1 = await startTestL1();
  aliceDirPath = tmp('chan-alice-failcrash-');
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!, { dataDir: aliceDir() });
  carol = await startChannelNode(l1.client(), 'carol', l1.accounts[3]!);
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await alice?.stop();
  await carol?.stop();
  await l1?.stop();
  cleanupDirs();
});

describe('a fail on its way upstream', () => {
  it('kill -9 of the forwarder before the fail leaves: after restart it is sent, the upstream HTLC removed off chain', async () => {
    const fwd = await startDaemonForwarder(l1, alice, carol, CAP, 'chan-bob-failcrash-');
    let bob = fwd.bob;
    const { ab, bc } = fwd;
    child = bob.proc;
    const held = [await carol.createInvoice(30_000n, 'held 1', 3600, { hold: true }), await carol.createInvoice(20_000n, 'held 2', 3600, { hold: true })];
    for (const h of held) {
      void alice.pay(h.invoice).catch(() => undefined);
      await waitUntil(() => carol.invoices().some((i) => i.paymentHash === h.paymentHash && i.status === 'held'), 'carol holds the payment', 10_000, 20);
    }
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 2, 'both HTLCs committed on A–B', 10_000, 20);
    await alice.stop();
    await waitUntil(async () => (await bob.rpc.call<unknown[]>('channel_peers')).length === 1, 'bob sees alice gone', 10_000, 50);
    // the first payment is cancelled: carol fails it to bob, who cannot pass it on to alice yet
    await carol.cancelInvoice(Buffer.from(held[0]!.paymentHash.slice(2), 'hex'));
    await waitUntil(() => carol.channelState(bc).state.htlcs.length === 1, 'the fail is committed on B–C', 10_000, 20);
    await waitUntil(async () => (await bob.rpc.call<{ channelId: string; htlcs: number }[]>('channel_list')).find((c) => c.channelId === toHex(bc))?.htlcs === 1, 'bob has the fail on B–C', 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    bob.proc.kill('SIGKILL');
    await new Promise((r) => bob.proc.once('exit', r));
    bob = await fwd.restart();
    child = bob.proc;
    alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!, { dataDir: aliceDir() });
    await waitUntil(async () => (await bob.rpc.call<unknown[]>('channel_peers')).length === 2, 'bob reconnects to alice and carol', 20_000, 100);
    // the fail reaches alice: only the second payment's HTLC is left on A–B, on both sides
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'alice gets the fail', 15_000, 50);
    expect(alice.channelState(ab).status).toBe('open');
    expect(alice.channelState(ab).state.htlcs[0]!.amount).toBeLessThan(30_000n);
    // the second payment still settles through the restarted bob
    await carol.settleInvoice(Buffer.from(held[1]!.paymentHash.slice(2), 'hex'));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && carol.channelState(bc).state.htlcs.length === 0, 'both hops settled', 20_000, 50);
    const a = alice.channelState(ab).state;
    const c = carol.channelState(bc).state;
    expect(a.balanceA + a.balanceB).toBe(CAP);
    expect(c.balanceB).toBe(20_000n);
    expect(a.balanceB + c.balanceA).toBeGreaterThanOrEqual(CAP);
    bob.proc.kill('SIGTERM');
  }, 120_000);
});
