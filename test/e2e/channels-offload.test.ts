/**
 * Review of the offload2 change (sendPart builds the onion on the worker thread and only then
 * enqueues the add). A cooperative close that starts while a part's onion is still on the worker
 * sees an empty queue and no HTLC, so it proceeds; the add is then queued on a 'closing' channel,
 * where propose never takes it and nothing drops it: the payment never resolves.
 * The worker is kept busy by unrelated sessions so the window is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { ChannelStore, onionSessionAsync, secpPublic, type ChannelNode } from '@strata/channels';
import { toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode, tmp } from '../helpers/channels.js';

const world = channelTestWorld();
const CAP = 1_000_000n;

/** Alice and bob (wallets `a`, `b`) connected with one channel alice funds; alice's data dir may be given (restarts). */
async function openPair(tag: string, a: number, b: number, dataDir?: string): Promise<{ alice: ChannelNode; bob: ChannelNode; ab: Uint8Array }> {
  const alice = await startChannelNode(world.l1.client(), `alice-${tag}`, world.l1.accounts[a]!, dataDir ? { dataDir } : {});
  const bob = await startChannelNode(world.l1.client(), `bob-${tag}`, world.l1.accounts[b]!);
  world.nodes.push(alice, bob);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  const ab = await alice.openChannel(bobKey, CAP);
  await waitUntil(() => bob.list().some((c) => c.channelId === toHex(ab) && c.status === 'open'), 'bob sees the channel open', 10_000, 20);
  return { alice, bob, ab };
}

describe('a cooperative close while a payment part is on the onion worker', () => {
  it('the payment resolves (fails) instead of hanging with an add queued on a closed channel', async () => {
    const { alice, bob, ab } = await openPair('oc', 1, 2);
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'race');

    // keep the (single, FIFO) onion worker busy for a few seconds
    const keys = Array.from({ length: 20 }, (_, i) => secpPublic(new Uint8Array(32).fill(i + 1)));
    const backlog = Promise.allSettled(
      Array.from({ length: 1500 }, () =>
        onionSessionAsync(keys, () => {
          throw new Error('inline');
        }),
      ),
    );

    let outcome: string | undefined;
    void alice.pay(invoice).then(
      () => (outcome = 'ok'),
      (e: unknown) => (outcome = `failed: ${String(e)}`),
    );
    const payments = (alice as unknown as { payments: Map<string, { parts: unknown[] }> }).payments;
    await waitUntil(() => (payments.get(paymentHash)?.parts.length ?? 0) > 0, 'the part is on the worker', 10_000, 1);
    expect(alice.channelState(ab).state.htlcs.length).toBe(0);

    const close = alice.closeChannel(ab);
    await waitUntil(() => alice.channelState(ab).status !== 'open', 'the close has started', 10_000, 1);
    await backlog; // the part's onion is back, its add queued
    await close.catch(() => undefined);

    await waitUntil(() => outcome !== undefined, 'the payment resolves', 10_000, 50).catch(() => undefined);
    const queued = (alice as unknown as { channels: Map<string, { id: Uint8Array; queue: { kind: string }[] }> }).channels;
    const q = [...queued.values()].find((c) => toHex(c.id) === toHex(ab))?.queue ?? [];
    expect({ outcome: outcome === undefined ? 'still pending' : outcome.slice(0, 6), queuedAdds: q.filter((u) => u.kind === 'add').length, status: alice.channelState(ab).status }).toMatchObject({
      outcome: 'failed',
      queuedAdds: 0,
    });
  }, 90_000);
});

describe('a payment a crash left pending with nothing sent', () => {
  it('is settled as failed at restart, so the invoice can be paid (it was refused forever as "being paid")', async () => {
    const dir = tmp('chan-pend-');
    const pair = await openPair('pd', 3, 4, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'pending');
    // what a crash after pay() recorded the payment, before its HTLC's link was committed, leaves
    // (the record and its entry in the index of pending records are one commit)
    await alice.stop();
    const store = ChannelStore.open(dir);
    store.write([
      [`pay:${paymentHash}`, { status: 'pending', amount: 10_000n }],
      [`payp:${paymentHash}`, true],
    ]);
    await store.close();
    alice = await startChannelNode(world.l1.client(), 'alice-pd', world.l1.accounts[3]!, { dataDir: dir });
    world.nodes.push(alice);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await waitUntil(() => alice.list().some((c) => c.channelId === toHex(ab) && c.status === 'open'), 'the channel is open again', 10_000, 20);
    const r = await alice.pay(invoice);
    expect(r.paymentHash).toBe(paymentHash);
  }, 60_000);
});

describe('an invoice whose earlier attempt still has HTLCs out', () => {
  it('is refused: the old parts would resolve the new attempt by index, and both would be paid', async () => {
    const { alice, bob, ab } = await openPair('ea', 5, 6);
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    void alice.pay(invoice).catch(() => undefined);
    await waitUntil(() => bob.invoices().some((i) => i.status === 'held'), 'bob holds the HTLC', 15_000, 20);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the HTLC is committed at alice', 15_000, 20);
    // what an attempt that failed (a permanent error on another part) leaves: no payment in
    // memory, the record 'failed', and this part's HTLC still out
    (alice as unknown as { payments: Map<string, unknown> }).payments.delete(paymentHash);
    await alice.store.put(`pay:${paymentHash}`, { status: 'failed', amount: 10_000n });
    await expect(alice.pay(invoice)).rejects.toThrow(/earlier attempt still out/);
    expect(alice.channelState(ab).state.htlcs).toHaveLength(1);
    await bob.cancelInvoice(Buffer.from(paymentHash.slice(2), 'hex'));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the held HTLC is failed back', 15_000, 20);
  }, 60_000);
});

describe('a payment from before a restart whose HTLC resolves after it', () => {
  it('has its record settled (failed here), not left pending forever', async () => {
    const dir = tmp('chan-orph-');
    const pair = await openPair('or', 7, 8, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    void alice.pay(invoice).catch(() => undefined);
    await waitUntil(() => bob.invoices().some((i) => i.status === 'held'), 'bob holds the HTLC', 15_000, 20);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the HTLC is committed at alice', 15_000, 20);
    // a crash: the record as it stood (pending), the HTLC still out
    await alice.stop();
    const store = ChannelStore.open(dir);
    await store.put(`pay:${paymentHash}`, { status: 'pending', amount: 10_000n });
    await store.close();
    alice = await startChannelNode(world.l1.client(), 'alice-or', world.l1.accounts[7]!, { dataDir: dir });
    world.nodes.push(alice);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    // recover() leaves it: its HTLC is out
    expect(alice.store.get<{ status: string }>(`pay:${paymentHash}`)?.status).toBe('pending');
    await bob.cancelInvoice(Buffer.from(paymentHash.slice(2), 'hex'));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the HTLC is failed back', 15_000, 20);
    await waitUntil(() => alice.store.get<{ status: string }>(`pay:${paymentHash}`)?.status === 'failed', 'the record is settled', 5_000, 20);
  }, 60_000);
});
