/**
 * Restart and forwarding links (attacker review of the recover/link code):
 *
 * (1) a payment part is settled only by a preimage of its own HTLC. A `pre:` record is kept for
 * every preimage the node learns, also as a forwarder of the same hash; reconcileLinks (a part
 * never sent) and failUnfinishedLinks (a part the final close state lacks) settled the part with
 * any kept or chain-revealed preimage, and a pending record with no part out took a kept one too:
 * the payment was recorded succeeded though its amount never left.
 * (2) takeOwn took the queue's batch out before dropping the refused updates: a drop that threw
 * (a failing write) lost the batch from memory, and the refused add's fail-back was never retried.
 * (3) a payment link left the map before its outcome was handed to the payment: when that threw,
 * the outcome was lost (the record later said failed though the part was paid).
 * (4) a preimage went on chain (reveal) before the commit that keeps it was fsynced.
 *
 * Real L1 (blocks mined on demand), real libp2p sockets, real lmdb.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AdjudicatorReader, ChannelStore, RevealArgs, sendAndWait, type ChannelNode } from '@strata/channels';
import { encode, fromHex, StrataError, toHex } from '@strata/primitives';
import { sleep, waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode, tmp } from '../helpers/channels.js';
import { linksOf, mineUntilClosedDeep, outcomeWithin, payIntoSilence, within } from '../helpers/channels-unfinished.js';

const world = channelTestWorld(24);
const nodes = world.nodes;
const CAP = 1_000_000n;
// each test's nodes stop after it: a node left running sends transactions (each mines a block on
// the dev chain) and would move the heights the next test waits for
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
});

type Node = ChannelNode;
interface ChannelView {
  id: Uint8Array;
  round?: unknown;
  queue: { kind: string; id: number }[];
}
// biome-ignore lint/suspicious/noExplicitAny: internal state under test
const internals = (n: Node) => n as any;
const channelOf = (n: Node, id: Uint8Array): ChannelView | undefined => [...(internals(n).channels as Map<string, ChannelView>).values()].find((c) => toHex(c.id) === toHex(id));
const record = (n: Node, hash: string) => n.store.get<{ status: string }>(`pay:${hash}`)?.status;
const preimageOf = (payee: Node, hash: string) => (payee.store.get<{ preimage: Uint8Array }>(`inv:${hash}`) as { preimage: Uint8Array }).preimage;

async function openChannel(from: Node, to: Node, opts: { capacity?: bigint } = {}): Promise<Uint8Array> {
  const key = await from.connect(to.p2p.multiaddrs[0] as string);
  const id = await from.openChannel(key, opts.capacity ?? CAP);
  await waitUntil(() => to.list().some((c) => c.channelId === toHex(id) && c.status === 'open'), 'the peer sees the channel open', 10_000, 20);
  return id;
}
const knows = (n: Node, id: Uint8Array) => n.graph.channel(id)?.policies[0] !== undefined && n.graph.channel(id)?.policies[1] !== undefined;

/** Makes `n` sit on every proposal it receives until `release()`. */
function stallProposals(n: Node): { release(): void } {
  const p = internals(n);
  const orig = p.onPropose.bind(n);
  let stalled = true;
  p.onPropose = (peer: Uint8Array, m: Uint8Array) => (stalled ? new Promise<Uint8Array>(() => {}) : orig(peer, m));
  return {
    release: () => {
      stalled = false;
    },
  };
}

describe('(1) a payment part is settled only by a preimage of its own HTLC', () => {
  it('a part never sent fails at restart though the node kept the preimage as a forwarder of the same hash', async () => {
    const dir = tmp('chan-rl-fwdpre-');
    const xavier = await startChannelNode(world.l1.client(), 'xavier-1', world.l1.accounts[1]!);
    let alice = await startChannelNode(world.l1.client(), 'alice-1', world.l1.accounts[2]!, { dataDir: dir });
    const bob = await startChannelNode(world.l1.client(), 'bob-1', world.l1.accounts[3]!);
    nodes.push(xavier, alice, bob);
    await openChannel(xavier, alice);
    const ab = await openChannel(alice, bob);
    await waitUntil(() => knows(xavier, ab), 'xavier learns A–B', 15_000, 50);
    const i1 = await bob.createInvoice(10_000n, 'first');
    const i2 = await bob.createInvoice(20_000n, 'second');
    // someone else pays i2 through alice: alice forwards it and keeps its preimage (pre:)
    await xavier.pay(i2.invoice);
    expect(alice.store.get(`pre:${i2.paymentHash}`)).toBeDefined();
    expect(record(alice, i2.paymentHash)).toBeUndefined();
    // the forward's rounds on A–B are over (bob's fulfil round may still run after pay() returned)
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && bob.channelState(ab).state.htlcs.length === 0 && !channelOf(alice, ab)?.round && !channelOf(bob, ab)?.round && channelOf(bob, ab)?.queue.length === 0, 'A–B is quiet', 10_000, 20);
    // alice's own attempt at i2: its add waits behind a round in flight when she stops
    const stall = stallProposals(bob);
    void alice.pay(i1.invoice).catch(() => undefined);
    await waitUntil(() => (channelOf(alice, ab)?.round as { role?: string } | undefined)?.role === 'proposer', "alice's first round is in flight", 10_000, 5);
    void alice.pay(i2.invoice).catch(() => undefined);
    await waitUntil(() => channelOf(alice, ab)?.queue.some((u) => u.kind === 'add') === true, 'the second add is queued behind it', 10_000, 5);
    await sleep(50); // its link's writeSoon commits; the queue is in memory only
    await alice.stop();
    stall.release();
    alice = await startChannelNode(world.l1.client(), 'alice-1', world.l1.accounts[2]!, { dataDir: dir });
    nodes.push(alice);
    // the part never left: failed (before: 'succeeded', with the forwarder's preimage as "proof")
    expect(record(alice, i2.paymentHash)).toBe('failed');
  }, 90_000);

  it("a part the final close state lacks fails though its preimage was revealed on chain (the amount never left)", async () => {
    const DEPTH = 2;
    const { a, b, id, inv, paid } = await payIntoSilence(world.l1, nodes, 'rv', [4, 5], DEPTH);
    await a.closeChannel(id, true);
    // the payee reveals the preimage on chain for an HTLC it never got
    await sendAndWait(world.l1.client(), world.l1.accounts[6]!.keys, 'reveal', encode(RevealArgs, { preimage: preimageOf(b, inv.paymentHash) }));
    expect(await new AdjudicatorReader(world.l1.client()).preimage(fromHex(inv.paymentHash))).toBeDefined();
    await mineUntilClosedDeep(world.l1, id, DEPTH);
    // before: pay() resolved with the revealed preimage and the record said succeeded
    const e = await within(paid, 15_000, "a's pay()").then(
      () => 'succeeded',
      (x: unknown) => (x instanceof StrataError ? x.code : String(x)),
    );
    expect(e).toMatch(/^CHANNEL_/);
    await waitUntil(() => record(a, inv.paymentHash) === 'failed', 'the record is failed', 5_000, 20);
    expect(linksOf(a)).toEqual([]);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(id);
    expect(rec?.state.balanceA).toBe(CAP); // a's amount never left
  }, 90_000);
});

describe("(3) a payment part whose outcome could not be handed to the payment keeps its link", () => {
  /** Alice pays a fresh invoice of Bob's with alice's onPartResolved throwing while `broken()`. */
  async function payWithBrokenResolution(tag: string, accounts: [number, number], broken: () => boolean, dataDir?: string) {
    const alice = await startChannelNode(world.l1.client(), `alice-${tag}`, world.l1.accounts[accounts[0]]!, dataDir ? { dataDir } : {});
    const bob = await startChannelNode(world.l1.client(), `bob-${tag}`, world.l1.accounts[accounts[1]]!);
    nodes.push(alice, bob);
    const ab = await openChannel(alice, bob);
    const ap = internals(alice);
    const real = ap.onPartResolved.bind(alice);
    let threw = 0;
    ap.onPartResolved = (pay: unknown, index: number, r: object) => {
      if ('preimage' in r && broken()) {
        threw++;
        throw new Error('payment handling failed (test)');
      }
      return real(pay, index, r);
    };
    const inv = await bob.createInvoice(10_000n);
    const paid = alice.pay(inv.invoice);
    paid.catch(() => undefined);
    await waitUntil(() => threw > 0, "alice's handling of the preimage threw", 15_000, 5);
    return { alice, bob, ab, inv, paid, threw: () => threw };
  }

  it('the early fulfil throws once: the fulfil round settles the payment', async () => {
    let once = true;
    const { paid, threw } = await payWithBrokenResolution('3a', [7, 8], () => {
      const b = once;
      once = false;
      return b;
    });
    // before: the link was gone after the throw, the fulfil round found nothing and pay() hung
    expect(await outcomeWithin(paid, 10_000)).toBe('succeeded');
    expect(threw()).toBe(1);
  }, 60_000);

  it('every attempt throws until a restart: the record stays pending, and the restart settles it succeeded', async () => {
    const dir = tmp('chan-rl-broken-');
    let broken = true;
    const { alice, bob, ab, inv } = await payWithBrokenResolution('3b', [9, 10], () => broken, dir);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the fulfil round completes', 15_000, 20);
    await sleep(100);
    await alice.stop();
    broken = false;
    // before: the link was deleted after the throw, the stop recorded the payment 'failed'
    const stored = ChannelStore.open(dir);
    const afterStop = stored.get<{ status: string }>(`pay:${inv.paymentHash}`)?.status;
    await stored.close();
    expect(afterStop).toBe('pending');
    const alice2 = await startChannelNode(world.l1.client(), 'alice-3b', world.l1.accounts[9]!, { dataDir: dir });
    nodes.push(alice2);
    expect(record(alice2, inv.paymentHash)).toBe('succeeded');
    expect(linksOf(alice2)).toEqual([]);
    expect(bob.invoices().find((i) => i.paymentHash === inv.paymentHash)?.status).toBe('paid');
  }, 60_000);
});

describe('(2) a refused add whose drop throws', () => {
  it('stays queued, and its fail-back is retried: the upstream payment fails instead of hanging', async () => {
    const alice = await startChannelNode(world.l1.client(), 'alice-2', world.l1.accounts[11]!);
    // bob's adds on B–C: at most one HTLC at a time
    const bob = await startChannelNode(world.l1.client(), 'bob-2', world.l1.accounts[12]!, { limits: { maxHtlcs: 1 } });
    const carol = await startChannelNode(world.l1.client(), 'carol-2', world.l1.accounts[13]!);
    nodes.push(alice, bob, carol);
    await openChannel(alice, bob);
    const bc = await openChannel(bob, carol);
    await waitUntil(() => knows(alice, bc), 'alice learns B–C', 15_000, 50);
    // the first payment holds the only HTLC slot on B–C
    const held = await carol.createInvoice(10_000n, 'held', 3600, { hold: true });
    void alice.pay(held.invoice).catch(() => undefined);
    await waitUntil(() => carol.invoices().some((i) => i.status === 'held'), 'carol holds the first HTLC', 15_000, 20);
    // the second forward is refused by bob's own takeOwn (max HTLCs); its fail-back's commit fails once
    const realWrite = bob.store.write.bind(bob.store);
    let thrown = 0;
    bob.store.write = (entries) => {
      if (thrown === 0 && entries.some(([k, v]) => k.startsWith(`fwd:${toHex(bc)}:`) && v === undefined)) {
        thrown++;
        throw new Error('disk full (test)');
      }
      realWrite(entries);
    };
    const second = alice.pay((await carol.createInvoice(20_000n, 'second')).invoice);
    await waitUntil(() => thrown === 1, "the fail-back's commit threw", 15_000, 5);
    // before: the add was out of the queue and its link in memory only: pay() hung until expiry
    expect(await outcomeWithin(second, 10_000)).toBe('failed');
    expect(linksOf(bob).filter((k) => k.startsWith(toHex(bc)))).toHaveLength(1); // the held one
    expect(bob.store.list(`fwd:${toHex(bc)}:`)).toHaveLength(1);
  }, 90_000);
});

describe('(4) a preimage goes on chain only once its record is durable', () => {
  /** Bob holds alice's HTLC; bob's chain client reports, for each reveal, whether every commit before it was fsynced. */
  async function heldPayment(tag: string, accounts: [number, number]) {
    const bChain = world.l1.client();
    const reveals: boolean[] = [];
    let bob: Node | undefined;
    const realSend = bChain.send.bind(bChain);
    bChain.send = (k, method, args) => {
      if (method === 'reveal' && bob) reveals.push((bob.store as unknown as { synced: number }).synced >= (target ?? Number.POSITIVE_INFINITY));
      return realSend(k, method, args);
    };
    let target: number | undefined;
    const alice = await startChannelNode(world.l1.client(), `alice-${tag}`, world.l1.accounts[accounts[0]]!);
    // a long fsync delay: nothing but an explicit flush makes a commit durable during the test
    bob = await startChannelNode(bChain, `bob-${tag}`, world.l1.accounts[accounts[1]]!, { flushMs: 600_000 });
    nodes.push(alice, bob);
    const ab = await openChannel(alice, bob);
    const inv = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    void alice.pay(inv.invoice).catch(() => undefined);
    await waitUntil(() => bob!.invoices().some((i) => i.status === 'held'), 'bob holds the HTLC', 15_000, 20);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1 && bob!.channelState(ab).state.htlcs.length === 1, 'the HTLC is committed at both', 15_000, 20);
    const settle = async () => {
      await bob!.settleInvoice(fromHex(inv.paymentHash));
      target = bob!.store.commits; // the preimage's commit is among these
    };
    return { alice, bob, ab, inv, reveals, settle };
  }

  it('on a channel the peer closed: the reveal waits for the fsync', async () => {
    const { alice, bob, ab, reveals, settle } = await heldPayment('4a', [14, 15]);
    await alice.closeChannel(ab, true);
    await alice.stop(); // bob sends no message to a peer (which would flush) meanwhile
    await waitUntil(() => bob.channelState(ab).status === 'closing', 'bob sees the close', 15_000, 20);
    await settle();
    await waitUntil(() => reveals.length > 0, 'bob reveals the preimage on chain', 15_000, 20);
    expect(reveals).toEqual([true]); // before: [false]
  }, 60_000);

  it('on an open channel with the peer gone near the expiry: the reveal waits for the fsync', async () => {
    const { alice, bob, ab, reveals, settle } = await heldPayment('4b', [16, 17]);
    const expiry = bob.channelState(ab).state.htlcs[0]!.expiry;
    await alice.stop();
    await settle();
    // bob reveals at expiry − expiryMargin (2) − 1, a block at a time
    while (reveals.length === 0 && world.l1.height() < expiry - 1) {
      await world.l1.mine(1);
      await bob.poll();
    }
    await waitUntil(() => reveals.length > 0, 'bob reveals the preimage on chain', 15_000, 20);
    expect(reveals).toEqual([true]); // before: [false]
  }, 60_000);
});
