/**
 * Review of df200db / e76ed54 (orphan settle, pending-record settle, the pay() guard).
 *
 * 1. A graceful stop() fails every pending payment (NODE_STOPPED) and pay()'s catch records
 *    'failed' while the payment's HTLC is still out. After the restart the payee fulfils: the
 *    orphan settle only upgrades 'pending' records, so the record stays 'failed' with the
 *    preimage kept (pre:), and pay() accepts the same invoice again: a payee that takes a second
 *    payment is paid twice.
 * 2. A part's fwd: link is committed by writeSoon at the end of the turn its add is queued, but
 *    the queue is in memory until the next round record: a stop (or crash) while the add waits
 *    behind a round in flight leaves the link with no HTLC anywhere. Nothing resolves it before
 *    the channel closes: pay() refuses the invoice ("earlier attempt still out") for good.
 */
import { describe, expect, it } from 'vitest';
import { type ChannelNode } from '@strata/channels';
import { toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode, tmp } from '../helpers/channels.js';

const world = channelTestWorld();
const CAP = 1_000_000n;

async function openPair(tag: string, a: number, b: number, dataDir?: string): Promise<{ alice: ChannelNode; bob: ChannelNode; ab: Uint8Array }> {
  const alice = await startChannelNode(world.l1.client(), `alice-${tag}`, world.l1.accounts[a]!, dataDir ? { dataDir } : {});
  const bob = await startChannelNode(world.l1.client(), `bob-${tag}`, world.l1.accounts[b]!);
  world.nodes.push(alice, bob);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  const ab = await alice.openChannel(bobKey, CAP);
  await waitUntil(() => bob.list().some((c) => c.channelId === toHex(ab) && c.status === 'open'), 'bob sees the channel open', 10_000, 20);
  return { alice, bob, ab };
}

const local = (n: ChannelNode, ab: Uint8Array) => BigInt(n.list().find((c) => c.channelId === toHex(ab))?.local as string);

describe('review: a graceful restart with an HTLC out, then the payee fulfils', () => {
  it('records the payment succeeded and refuses to pay the invoice again', async () => {
    const dir = tmp('rv-stop-');
    const pair = await openPair('rs', 1, 2, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    void alice.pay(invoice).catch(() => undefined);
    await waitUntil(() => bob.invoices().some((i) => i.status === 'held'), 'bob holds the HTLC', 15_000, 20);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the HTLC is committed at alice', 15_000, 20);
    const before = local(alice, ab);
    await alice.stop(); // graceful (SIGINT): no store surgery
    alice = await startChannelNode(world.l1.client(), 'alice-rs', world.l1.accounts[1]!, { dataDir: dir });
    world.nodes.push(alice);
    const afterStop = alice.store.get<{ status: string }>(`pay:${paymentHash}`)?.status;
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await bob.settleInvoice(Buffer.from(paymentHash.slice(2), 'hex'));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the HTLC is fulfilled', 15_000, 20);
    await new Promise((r) => setTimeout(r, 200));
    const pre = alice.store.get<Uint8Array>(`pre:${paymentHash}`);
    const rec = alice.store.get<{ status: string }>(`pay:${paymentHash}`);
    // a payee that takes a second payment for the same hash (here: bob's invoice re-opened)
    const k = `inv:${paymentHash}`;
    const inv = bob.store.get<Record<string, unknown>>(k) as Record<string, unknown>;
    const { hold: _h, held: _hd, ...rest } = inv;
    await bob.store.put(k, { ...rest, status: 'open' });
    let second = 'refused locally';
    await alice.pay(invoice).then(
      () => (second = 'paid AGAIN'),
      (e: unknown) => (second = /already paid/.test(String(e)) ? 'refused locally' : `sent, then ${String(e).slice(0, 80)}`),
    );
    expect({ afterStop, preimageKept: pre !== undefined, record: rec?.status, second, paidTotal: (before + 10_000n - local(alice, ab)).toString() }).toEqual({
      afterStop: 'pending', // was 'failed' with the HTLC still out
      preimageKept: true,
      record: 'succeeded',
      second: 'refused locally',
      paidTotal: '10000',
    });
  }, 90_000);
});

describe('review: a stop while a part\'s add waits behind a round in flight', () => {
  it('does not leave a link that refuses the invoice forever', async () => {
    const dir = tmp('rv-dang-');
    const pair = await openPair('rd', 3, 4, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    // bob sits on the next proposal (a slow peer): alice's round stays in flight
    const b = bob as unknown as { onPropose: (p: Uint8Array, m: Uint8Array) => Promise<Uint8Array> };
    const orig = b.onPropose.bind(bob);
    let hang = true;
    b.onPropose = (p, m) => (hang ? new Promise<Uint8Array>(() => {}) : orig(p, m));
    const i1 = await bob.createInvoice(10_000n, 'first');
    const i2 = await bob.createInvoice(20_000n, 'second');
    void alice.pay(i1.invoice).catch(() => undefined);
    const chans = (alice as unknown as { channels: Map<string, { id: Uint8Array; round?: unknown; queue: { kind: string }[] }> }).channels;
    const ch = () => [...chans.values()].find((c) => toHex(c.id) === toHex(ab));
    await waitUntil(() => ch()?.round !== undefined, 'alice\'s first round is in flight', 10_000, 5);
    void alice.pay(i2.invoice).catch(() => undefined);
    await waitUntil(() => ch()?.queue.some((u) => u.kind === 'add') === true, 'the second add is queued behind it', 10_000, 5);
    await new Promise((r) => setTimeout(r, 50)); // its link's writeSoon commits
    const links = (alice as unknown as { links: Map<string, unknown> }).links.size;
    await alice.stop();
    hang = false;
    alice = await startChannelNode(world.l1.client(), 'alice-rd', world.l1.accounts[3]!, { dataDir: dir });
    world.nodes.push(alice);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    const chans2 = (alice as unknown as { channels: Map<string, { id: Uint8Array; round?: unknown }> }).channels;
    const ch2 = () => [...chans2.values()].find((c) => toHex(c.id) === toHex(ab));
    await waitUntil(() => bob.invoices().some((i) => i.paymentHash === i1.paymentHash && i.status === 'paid') && alice.channelState(ab).state.htlcs.length === 0 && ch2()?.round === undefined, 'the first payment resolves after the restart', 20_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    const dangling = [...(alice as unknown as { links: Map<string, unknown> }).links.keys()];
    // the channel record never saw the dangling add: its id is handed out again to the next HTLC
    const nextId = (ch2() as unknown as { nextHtlcId: number }).nextHtlcId;
    const reused = dangling.some((k) => Number(k.split(':')[1]) >= nextId);
    let retry = 'paid';
    await alice.pay(i2.invoice).catch((e: unknown) => (retry = String(e).slice(0, 120)));
    expect({ linksBeforeStop: links, danglingAfterRestart: dangling.length, idHandedOutAgain: reused, record2: alice.store.get<{ status: string }>(`pay:${i2.paymentHash}`)?.status, retry }).toEqual({
      linksBeforeStop: 2,
      danglingAfterRestart: 0,
      idHandedOutAgain: false,
      record2: 'succeeded',
      retry: 'paid',
    });
  }, 90_000);
});
