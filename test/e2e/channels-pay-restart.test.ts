/**
 * A payment's record and links across a stop, a restart and a payee that answers its parts
 * differently (attacker review of df200db / e76ed54):
 *
 * - a paid HTLC must never leave its payment recorded 'failed' (the invoice could then be paid
 *   again): a stop with an HTLC out keeps the record pending, a permanent error on one part waits
 *   for the parts still out, a preimage learnt later upgrades a 'failed' record, and pay() refuses
 *   a hash whose preimage is kept;
 * - a link whose add was only queued in memory when the node stopped (it never left) is resolved at
 *   restart — a payment part fails, a forward fails upstream — and its HTLC id is not handed out again.
 */
import { describe, expect, it } from 'vitest';
import { ChannelStore, FAIL, type ChannelNode } from '@strata/channels';
import { sha256, toHex } from '@strata/primitives';
import { sleep, waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode, tmp } from '../helpers/channels.js';

const world = channelTestWorld();
const CAP = 1_000_000n;
/** The payee's wallet (it sends no transaction in these tests, so the payees share it). */
const PAYEE = 2;

type Node = ChannelNode;
type Update = { kind: string; id: number };
interface ChannelView {
  id: Uint8Array;
  round?: unknown;
  queue: Update[];
  nextHtlcId: number;
  onions: Record<string, Uint8Array>;
}
const channelsOf = (n: Node) => (n as unknown as { channels: Map<string, ChannelView> }).channels;
const channelOf = (n: Node, id: Uint8Array) => [...channelsOf(n).values()].find((c) => toHex(c.id) === toHex(id));
const linksOf = (n: Node) => (n as unknown as { links: Map<string, unknown> }).links;
const local = (n: Node, id: Uint8Array) => BigInt(n.list().find((c) => c.channelId === toHex(id))?.local as string);
const record = (n: Node, hash: string) => n.store.get<{ status: string }>(`pay:${hash}`)?.status;
const hashBytes = (hex: string) => Buffer.from(hex.slice(2), 'hex');

/** Makes `n` sit on every proposal it receives (a slow peer) until `release()`: the proposer's round stays in flight. */
function stallProposals(n: Node): { release(): void } {
  const p = n as unknown as { onPropose: (peer: Uint8Array, m: Uint8Array) => Promise<Uint8Array> };
  const orig = p.onPropose.bind(n);
  let stalled = true;
  p.onPropose = (peer, m) => (stalled ? new Promise<Uint8Array>(() => {}) : orig(peer, m));
  return {
    release: () => {
      stalled = false;
    },
  };
}

async function openChannel(from: Node, to: Node): Promise<Uint8Array> {
  const key = await from.connect(to.p2p.multiaddrs[0] as string);
  const id = await from.openChannel(key, CAP);
  await waitUntil(() => to.list().some((c) => c.channelId === toHex(id) && c.status === 'open'), 'the peer sees the channel open', 10_000, 20);
  return id;
}

async function openPair(tag: string, payer: number, dataDir?: string): Promise<{ alice: Node; bob: Node; ab: Uint8Array }> {
  const alice = await startChannelNode(world.l1.client(), `alice-${tag}`, world.l1.accounts[payer]!, dataDir ? { dataDir } : {});
  const bob = await startChannelNode(world.l1.client(), `bob-${tag}`, world.l1.accounts[PAYEE]!);
  world.nodes.push(alice, bob);
  return { alice, bob, ab: await openChannel(alice, bob) };
}

/** Alice pays a held invoice of Bob's and waits until its HTLC is committed at both. */
async function holdOne(alice: Node, bob: Node, ab: Uint8Array): Promise<{ invoice: string; paymentHash: string }> {
  const inv = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
  void alice.pay(inv.invoice).catch(() => undefined);
  await waitUntil(() => bob.invoices().some((i) => i.status === 'held'), 'bob holds the HTLC', 15_000, 20);
  await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the HTLC is committed at alice', 15_000, 20);
  return inv;
}

/** A payee that would take a second payment for the same hash (its invoice open again). */
async function reopenInvoice(bob: Node, paymentHash: string): Promise<void> {
  const k = `inv:${paymentHash}`;
  const { hold: _hold, held: _held, ...rest } = bob.store.get<Record<string, unknown>>(k) as Record<string, unknown>;
  await bob.store.put(k, { ...rest, status: 'open' });
}

/** pay()'s outcome as a word: refused by the payer itself ("already paid"), paid, or another error. */
async function payAgain(alice: Node, invoice: string): Promise<string> {
  return alice.pay(invoice).then(
    () => 'paid again',
    (e: unknown) => (/already paid/.test(String(e)) ? 'refused: already paid' : `failed: ${String(e).slice(0, 100)}`),
  );
}

describe('a graceful stop with an HTLC out, then the payee fulfils after the restart', () => {
  it('keeps the record pending, then records it succeeded; the invoice is not paid again', async () => {
    const dir = tmp('chan-pr-stop-');
    const pair = await openPair('st', 1, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const { invoice, paymentHash } = await holdOne(alice, bob, ab);
    const before = local(alice, ab);
    await alice.stop(); // SIGINT: the pay() call ends with NODE_STOPPED
    alice = await startChannelNode(world.l1.client(), 'alice-st', world.l1.accounts[1]!, { dataDir: dir });
    world.nodes.push(alice);
    const afterStop = record(alice, paymentHash);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await bob.settleInvoice(hashBytes(paymentHash));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the HTLC is fulfilled', 15_000, 20);
    await waitUntil(() => record(alice, paymentHash) === 'succeeded', 'the record is settled', 5_000, 20);
    await reopenInvoice(bob, paymentHash);
    const second = await payAgain(alice, invoice);
    expect({ afterStop, preimageKept: alice.store.get(`pre:${paymentHash}`) !== undefined, second, paid: before + 10_000n - local(alice, ab) }).toEqual({
      afterStop: 'pending', // was 'failed' with the HTLC still out
      preimageKept: true,
      second: 'refused: already paid',
      paid: 10_000n,
    });
  }, 90_000);
});

describe('a payee that refuses one part for good and fulfils the other', () => {
  it('the payment waits for the part still out and succeeds with its preimage', async () => {
    const alice = await startChannelNode(world.l1.client(), 'alice-sp', world.l1.accounts[3]!);
    const bob = await startChannelNode(world.l1.client(), 'bob-sp', world.l1.accounts[PAYEE]!);
    world.nodes.push(alice, bob);
    // two parallel channels: 1.5M fits in neither, so the payment is split in two parts
    const ab1 = await openChannel(alice, bob);
    const ab2 = await openChannel(alice, bob);
    const known = (id: Uint8Array) => alice.graph.channel(id)?.policies[0] !== undefined && alice.graph.channel(id)?.policies[1] !== undefined;
    await waitUntil(() => known(ab1) && known(ab2), 'alice learns both channels', 15_000, 50);
    const { invoice, paymentHash } = await bob.createInvoice(1_500_000n, 'split');
    const preimage = (bob.store.get<{ preimage: Uint8Array }>(`inv:${paymentHash}`) as { preimage: Uint8Array }).preimage;
    // hostile payee: the first part is refused as unknown (permanent), the second fulfilled later
    const b = bob as unknown as {
      receive: (ch: ChannelView, add: Update, p: unknown, fail: (code: number) => void) => Promise<void>;
      enqueue: (ch: ChannelView, u: unknown) => void;
    };
    let parts = 0;
    b.receive = async (ch, add, _p, fail) => {
      delete ch.onions[String(add.id)];
      if (parts++ === 0) return fail(FAIL.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS);
      setTimeout(() => b.enqueue(ch, { kind: 'fulfil', id: add.id, preimage }), 500);
    };
    const outcome = await alice.pay(invoice).then(
      (r) => ({ preimage: r.preimage }),
      (e: unknown) => ({ error: String(e).slice(0, 100) }),
    );
    await waitUntil(() => alice.channelState(ab1).state.htlcs.length === 0 && alice.channelState(ab2).state.htlcs.length === 0, 'both parts resolved', 15_000, 20);
    await waitUntil(() => record(alice, paymentHash) === 'succeeded', 'the record is succeeded', 5_000, 20);
    expect(parts).toBe(2);
    // before the fix the call rejected at the permanent error, with the other part still out
    expect(outcome).toEqual({ preimage: toHex(preimage) });
    expect(toHex(sha256(preimage))).toBe(paymentHash);
    expect(await payAgain(alice, invoice)).toBe('refused: already paid');
  }, 90_000);
});

describe("a record written 'failed' with its HTLC still out (by an earlier version)", () => {
  it('becomes succeeded when the HTLC is fulfilled after a restart, and the invoice is refused', async () => {
    const dir = tmp('chan-pr-old-');
    const pair = await openPair('ol', 4, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const { invoice, paymentHash } = await holdOne(alice, bob, ab);
    await alice.stop();
    const store = ChannelStore.open(dir);
    await store.put(`pay:${paymentHash}`, { status: 'failed', amount: 10_000n });
    await store.close();
    alice = await startChannelNode(world.l1.client(), 'alice-ol', world.l1.accounts[4]!, { dataDir: dir });
    world.nodes.push(alice);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await bob.settleInvoice(hashBytes(paymentHash));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the HTLC is fulfilled', 15_000, 20);
    await sleep(200);
    expect(record(alice, paymentHash)).toBe('succeeded'); // the preimage wins
    await reopenInvoice(bob, paymentHash);
    expect(await payAgain(alice, invoice)).toBe('refused: already paid');
  }, 90_000);
});

describe("an invoice whose record says 'failed' but whose preimage is kept", () => {
  it('is refused by pay(): nothing is sent', async () => {
    const { alice, bob, ab } = await openPair('pk', 5);
    const { invoice, paymentHash } = await bob.createInvoice(10_000n, 'kept');
    const preimage = (bob.store.get<{ preimage: Uint8Array }>(`inv:${paymentHash}`) as { preimage: Uint8Array }).preimage;
    await alice.store.put(`pay:${paymentHash}`, { status: 'failed', amount: 10_000n });
    await alice.store.put(`pre:${paymentHash}`, preimage);
    const before = local(alice, ab);
    expect(await payAgain(alice, invoice)).toBe('refused: already paid');
    await sleep(200);
    expect(local(alice, ab)).toBe(before);
    expect(bob.invoices().find((i) => i.paymentHash === paymentHash)?.status).toBe('open');
  }, 60_000);
});

describe("a stop while a payment's add waits behind a round in flight", () => {
  it('resolves its link at restart: the id is not handed out again and the invoice can be paid', async () => {
    const dir = tmp('chan-pr-dang-');
    const pair = await openPair('dg', 6, dir);
    let alice = pair.alice;
    const { bob, ab } = pair;
    const stall = stallProposals(bob);
    const i1 = await bob.createInvoice(10_000n, 'first');
    const i2 = await bob.createInvoice(20_000n, 'second');
    void alice.pay(i1.invoice).catch(() => undefined);
    await waitUntil(() => channelOf(alice, ab)?.round !== undefined, "alice's first round is in flight", 10_000, 5);
    void alice.pay(i2.invoice).catch(() => undefined);
    await waitUntil(() => channelOf(alice, ab)?.queue.some((u) => u.kind === 'add') === true, 'the second add is queued behind it', 10_000, 5);
    await sleep(50); // its link's writeSoon commits; the queue is in memory only
    const linksBeforeStop = linksOf(alice).size;
    await alice.stop();
    stall.release();
    alice = await startChannelNode(world.l1.client(), 'alice-dg', world.l1.accounts[6]!, { dataDir: dir });
    world.nodes.push(alice);
    // right after the restart: the dangling link is resolved and the next id is above it
    const linksAfterRestart = [...linksOf(alice).keys()];
    const nextId = channelOf(alice, ab)?.nextHtlcId as number;
    const record2 = record(alice, i2.paymentHash);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await waitUntil(
      () => bob.invoices().some((i) => i.paymentHash === i1.paymentHash && i.status === 'paid') && alice.channelState(ab).state.htlcs.length === 0 && channelOf(alice, ab)?.round === undefined,
      'the first payment resolves after the restart',
      20_000,
      20,
    );
    const retry = await alice.pay(i2.invoice).then(
      () => 'paid',
      (e: unknown) => String(e).slice(0, 120),
    );
    expect({ linksBeforeStop, linksAfterRestart: linksAfterRestart.length, nextIdAboveLinks: nextId >= 2, record2, retry, recordAfter: record(alice, i2.paymentHash) }).toEqual({
      linksBeforeStop: 2,
      linksAfterRestart: 1, // the first payment's HTLC, in the round
      nextIdAboveLinks: true, // the dangling add had id 1; the stored record said 1
      record2: 'failed',
      retry: 'paid',
      recordAfter: 'succeeded',
    });
  }, 90_000);
});

describe("a stop while a forward's add waits behind a round in flight", () => {
  it('fails the forward upstream at restart instead of leaving the upstream HTLC to its expiry', async () => {
    const dir = tmp('chan-pr-fwd-');
    const alice = await startChannelNode(world.l1.client(), 'alice-fw', world.l1.accounts[7]!);
    let bob = await startChannelNode(world.l1.client(), 'bob-fw', world.l1.accounts[8]!, { dataDir: dir });
    const carol = await startChannelNode(world.l1.client(), 'carol-fw', world.l1.accounts[PAYEE]!);
    world.nodes.push(alice, bob, carol);
    const ab = await openChannel(alice, bob);
    const bc = await openChannel(bob, carol);
    await waitUntil(() => alice.graph.channel(bc)?.policies[0] !== undefined && alice.graph.channel(bc)?.policies[1] !== undefined, 'alice learns B–C', 15_000, 50);
    const stall = stallProposals(carol);
    const i1 = await carol.createInvoice(10_000n, 'first');
    const i2 = await carol.createInvoice(20_000n, 'second');
    void alice.pay(i1.invoice).catch(() => undefined);
    await waitUntil(() => channelOf(bob, bc)?.round !== undefined, "bob's forward round on B–C is in flight", 15_000, 5);
    const second = alice.pay(i2.invoice).then(
      () => 'paid',
      (e: unknown) => `failed: ${String(e).slice(0, 100)}`,
    );
    await waitUntil(() => channelOf(bob, bc)?.queue.some((u) => u.kind === 'add') === true, 'the second forward is queued behind it', 15_000, 5);
    await sleep(50); // the forward's link commits; its add is in memory only
    await bob.stop();
    stall.release();
    bob = await startChannelNode(world.l1.client(), 'bob-fw', world.l1.accounts[8]!, { dataDir: dir });
    world.nodes.push(bob);
    await bob.connect(carol.p2p.multiaddrs[0]!);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    // the second payment's upstream HTLC fails back now (before: it hung until its expiry)
    const outcome = await Promise.race([second, sleep(20_000).then(() => 'still waiting')]);
    expect(outcome).toMatch(/^failed/);
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === i1.paymentHash && i.status === 'paid'), 'the first payment resolves', 20_000, 20);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && bob.channelState(bc).state.htlcs.length === 0, 'no HTLC left', 20_000, 20);
    expect(linksOf(bob).size).toBe(0);
    // nothing of it is left: the invoice is paid on a second attempt
    await alice.pay(i2.invoice);
    expect(carol.invoices().find((i) => i.paymentHash === i2.paymentHash)?.status).toBe('paid');
  }, 120_000);
});
