/**
 * kill -9 of a forwarding channel node daemon (`strata channel node`, a child process) while a
 * payment Alice → Bob → Carol is held at Carol; restart on the same data dir. Bob must neither
 * forward the incoming HTLC a second time nor fail it upstream while his outgoing HTLC is still
 * pending: when Carol settles, the payment succeeds and Bob is paid upstream what he paid down.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelNode } from '@strata/channels';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, startChannelNode, startDaemonForwarder, startTestL1, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let carol: ChannelNode;
let child: ChildProcess | undefined;
const CAP = 1_000_000n;


beforeAll(async () => {
  l1 = await startTestL1();
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!);
  carol = await startChannelNode(l1.client(), 'carol', l1.accounts[3]!);
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await alice?.stop();
  await carol?.stop();
  await l1?.stop();
  cleanupDirs();
});

describe('crash safety of a forwarding node', () => {
  it('kill -9 with a forward pending, restart: not forwarded twice, not failed upstream, paid upstream when it settles', async () => {
    const fwd = await startDaemonForwarder(l1, alice, carol, CAP, 'chan-bob-fwd-crash-');
    let bob = fwd.bob;
    const { ab, bc } = fwd;
    child = bob.proc;
    const { invoice, paymentHash } = await carol.createInvoice(30_000n, 'held', 3600, { hold: true });
    let outcome: string | undefined;
    void alice.pay(invoice).then(
      () => {
        outcome = 'ok';
      },
      (e: unknown) => {
        outcome = `failed: ${String(e)}`;
      },
    );
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === paymentHash && i.status === 'held'), 'carol holds the payment', 10_000, 20);
    bob.proc.kill('SIGKILL');
    await new Promise((r) => bob.proc.once('exit', r));
    bob = await fwd.restart();
    child = bob.proc;
    await waitUntil(async () => (await bob.rpc.call<unknown[]>('channel_peers')).length === 2, 'bob reconnects to alice and carol', 20_000, 100);
    await new Promise((r) => setTimeout(r, 2000));
    expect(outcome).toBeUndefined();
    expect(carol.channelState(bc).state.htlcs.length).toBe(1);
    await carol.settleInvoice(Buffer.from(paymentHash.slice(2), 'hex'));
    await waitUntil(() => outcome !== undefined, 'the payment resolves', 20_000, 50);
    expect(outcome).toBe('ok');
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && carol.channelState(bc).state.htlcs.length === 0, 'both hops settled', 20_000, 50);
    await waitUntil(async () => (await bob.rpc.call<{ htlcs: number }[]>('channel_list')).every((c) => c.htlcs === 0), 'bob sees both hops settled', 20_000, 50);
    const a = alice.channelState(ab).state;
    const c = carol.channelState(bc).state;
    // bob's side: B in A–B (he did not open it), A in B–C (he did)
    expect(a.balanceB + c.balanceA).toBeGreaterThanOrEqual(CAP);
    bob.proc.kill('SIGTERM');
  }, 120_000);
});
