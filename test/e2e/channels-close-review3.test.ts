/**
 * Attacker review of the close / recover changes (closeloop, recover):
 *
 * (1) a forwarder that learns a preimage after the upstream close has settled (CH_CLOSED) reveals
 * it on chain and claims the HTLC before its expiry. Before, only the CH_CLOSING branch revealed,
 * and the settled path then counted the HTLC as the peer's: after the expiry the payer refunded it
 * and the forwarder lost the amount (paid downstream, never collected upstream).
 * (2) a refused add whose drop threw, put back in the queue, is only dropped again, never
 * re-applied. Before, the retry could accept it (what refused it had cleared) and it went out with
 * an HTLC id below one already committed: refused ("ids must increase").
 * (3) a payment link whose off-chain resolution throws is retried 1, 2, 4 … ticks apart. Before,
 * deleteLink cleared its backoff entry before the throw: retried at every tick.
 * (4) a drop that throws after a refused round loses none of the round's other updates.
 * (5) the payer's write of the early preimages (acceptEarlyFulfils) throwing does not keep
 * afterRound from handling the peer's counter-updates of the completed round. Before, the throw
 * left runProposer before afterRound: the payee's counter-add waited for a restart.
 * (6) a failed chain read (reader.preimage) on a settled close is retried at the next tick with
 * no backoff, and the other HTLCs are still handled in that tick. Before, in resolveOnchainHtlcs
 * the throw ended the tick's watch of the channel (no refund of any HTLC), and in
 * failUnfinishedLinks it counted as a resolution failure (backoff, round-handling error). In
 * revealKept a failed read (or a reveal that failed) skips only that HTLC for the tick: before, it
 * ended the look, and resolveOnchainHtlcs (claims, refunds) did not run in that tick.
 *
 * Real L1 (blocks mined on demand), real libp2p sockets, real lmdb.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AdjudicatorReader, ChannelStore, RevealArgs, sendAndWait, type ChannelNode } from '@strata/channels';
import { encode, fromHex, toHex } from '@strata/primitives';
import { sleep, waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';
import { forwardIntoSilenceAndClose, startLine, linksOf, mineUntilClosedDeep, outcomeWithin, payIntoSilence } from '../helpers/channels-unfinished.js';

const world = channelTestWorld(22);
const nodes = world.nodes;
const DEPTH = 2;
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
});
// biome-ignore lint/suspicious/noExplicitAny: internal state under test
const internals = (n: ChannelNode) => n as any;
const metric = async (n: ChannelNode, name: string) => {
  const m = await n.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
};

describe('(1) a preimage learnt after the upstream close settled', () => {
  it('the forwarder reveals it and claims the HTLC before its expiry', async () => {
    const l1 = world.l1;
    const { alice, bob, carol, ab } = await startLine(l1, nodes, 'r', [1, 2, 3], DEPTH);
    const held = await carol.createInvoice(10_000n, 'held', 3600, { hold: true });
    alice.pay(held.invoice).catch(() => undefined);
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === held.paymentHash && i.status === 'held'), 'carol holds', 10_000, 20);
    await waitUntil(() => bob.channelState(ab).state.htlcs.length === 1 && alice.channelState(ab).state.htlcs.length === 1, 'A–B HTLC committed', 10_000, 20);
    const expiry = bob.channelState(ab).state.htlcs[0]!.expiry;
    await alice.closeChannel(ab, true);
    await alice.stop();
    const reader = new AdjudicatorReader(l1.client());
    await waitUntil(async () => {
      if ((await reader.channel(ab))?.ending === 2) return true;
      await l1.mine(1);
      return false;
    }, 'A–B settled', 60_000, 150);
    expect(l1.height()).toBeLessThan(expiry - 3);
    // carol settles now: bob learns the preimage on B–C (off chain), after A–B is CH_CLOSED
    await carol.settleInvoice(fromHex(held.paymentHash));
    await waitUntil(() => bob.store.get(`pre:${held.paymentHash}`) !== undefined, 'bob learns the preimage', 10_000, 20);
    // before: never revealed (the settled path had no reveal), whatever the number of looks
    await waitUntil(async () => {
      await bob.poll();
      return (await reader.preimage(fromHex(held.paymentHash))) !== undefined;
    }, 'bob reveals the preimage on chain', 20_000, 100);
    expect((await reader.preimage(fromHex(held.paymentHash)))!.height).toBeLessThanOrEqual(expiry);
    await waitUntil(async () => {
      await bob.poll();
      if ((await reader.channel(ab))?.htlcDone[0]) return true;
      await l1.mine(1);
      return false;
    }, 'bob claims the A–B HTLC', 30_000, 150);
    await waitUntil(async () => {
      await bob.poll();
      if (bob.channelState(ab).status === 'closed') return true;
      await l1.mine(1);
      return false;
    }, "A–B 'closed' at bob", 30_000, 150);
    expect(await metric(bob, 'strata_channel_htlcs_lost_total')).toBe(0);
  }, 120_000);

  it("a preimage held but not revealed by the expiry: the channel closes with an error and the loss is counted", async () => {
    const l1 = world.l1;
    const opts = { closeConfirmations: DEPTH };
    const alice = await startChannelNode(l1.client(), 'lalice', l1.accounts[4]!, opts);
    const bob = await startChannelNode(l1.client(), 'lbob', l1.accounts[5]!, opts);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ab = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees A–B', 10_000, 20);
    const held = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    alice.pay(held.invoice).catch(() => undefined);
    await waitUntil(() => bob.invoices().some((i) => i.status === 'held') && alice.channelState(ab).state.htlcs.length === 1, 'bob holds', 10_000, 20);
    const expiry = bob.channelState(ab).state.htlcs[0]!.expiry;
    await alice.closeChannel(ab, true);
    await alice.stop();
    const reader = new AdjudicatorReader(l1.client());
    await waitUntil(async () => {
      if ((await reader.channel(ab))?.ending === 2) return true;
      await l1.mine(1);
      return false;
    }, 'A–B settled', 60_000, 150);
    // bob is down from here until past the expiry
    const preimage = (bob.store.get<{ preimage: Uint8Array }>(`inv:${held.paymentHash}`) as { preimage: Uint8Array }).preimage;
    const dir = internals(bob).opts.dataDir as string;
    await bob.stop();
    while (l1.height() <= expiry + DEPTH + 1) await l1.mine(1);
    // the preimage is kept (as a hold invoice settled meanwhile keeps it), too late for the chain
    const store = ChannelStore.open(dir);
    store.write([[`pre:${held.paymentHash}`, preimage]]);
    await store.close();
    const bob2 = await startChannelNode(l1.client(), 'lbob', l1.accounts[5]!, { ...opts, dataDir: dir });
    nodes.push(bob2);
    await waitUntil(async () => {
      await bob2.poll();
      if (bob2.channelState(ab).status === 'closed') return true;
      await l1.mine(1);
      return false;
    }, "A–B 'closed' at bob", 20_000, 100);
    expect(await metric(bob2, 'strata_channel_htlcs_lost_total')).toBe(1);
  }, 120_000);
});

describe('(2) a re-queued refused add', () => {
  it('is only dropped again, never re-applied below an HTLC id already committed', async () => {
    const l1 = world.l1;
    const alice = await startChannelNode(l1.client(), 'ialice', l1.accounts[6]!);
    const bob = await startChannelNode(l1.client(), 'ibob', l1.accounts[7]!);
    nodes.push(alice, bob);
    const key = await bob.connect(alice.p2p.multiaddrs[0]!);
    const id = await bob.openChannel(key, 1_000_000n);
    await waitUntil(() => alice.list().some((c) => c.channelId === toHex(id) && c.status === 'open'), 'open', 10_000, 20);
    const b = internals(bob);
    const ch = [...b.channels.values()].find((c: { id: Uint8Array }) => toHex(c.id) === toHex(id));
    const refusals: string[] = [];
    const realDrop = b.dropUpdate.bind(bob);
    b.dropUpdate = (c: unknown, u: { id: number }, e: { message: string }) => {
      refusals.push(`${u.id}: ${e.message}`);
      return realDrop(c, u, e);
    };
    const h = l1.height();
    const mk = (amount: bigint) => {
      const hid = ch.nextHtlcId++;
      const hash = crypto.getRandomValues(new Uint8Array(32));
      b.setLink(`${toHex(id)}:${hid}`, { kind: 'payment', paymentHash: hash, part: 0 });
      return { kind: 'add', id: hid, amount, hash, expiry: h + 30, onion: crypto.getRandomValues(new Uint8Array(1366)) };
    };
    const A = mk(2_000_000n); // refused by bob's own takeOwn (more than its balance)
    const B = mk(10_000n);
    const realOrphan = b.settleOrphanPayment.bind(bob);
    let thrown = false;
    b.settleOrphanPayment = (hk: string, r: unknown) => {
      if (!thrown && hk === toHex(A.hash)) {
        thrown = true;
        // what refused it is gone by the retry (as when a balance or an HTLC slot frees up)
        A.amount = 20_000n;
        throw new Error('disk full (test)');
      }
      return realOrphan(hk, r);
    };
    ch.queue.push(A, B);
    b.schedule(ch);
    await waitUntil(() => thrown, 'the drop threw', 5_000, 5);
    await waitUntil(() => !linksOf(bob).includes(`${toHex(id)}:${A.id}`), "A's drop retried: its link resolved", 5_000, 20);
    await sleep(500);
    // before: A went out again with an id below B's, refused ("ids must increase")
    expect(refusals.filter((r) => r.includes('ids must increase'))).toEqual([]);
    // only A was ever refused (by bob's own balance check, its drop then retried); B went out
    expect(refusals.every((r) => r.startsWith(`${A.id}: `))).toBe(true);
    expect(alice.channelState(id).status).toBe('open');
    expect(bob.channelState(id).status).toBe('open');
    expect(ch.queue).toHaveLength(0);
  }, 60_000);
});

describe('(3) a payment link whose resolution throws', () => {
  it('is retried 1, 2, 4 … ticks apart, not at every tick', async () => {
    const { a, id } = await payIntoSilence(world.l1, nodes, 'pb', [8, 9], DEPTH);
    const ap = internals(a);
    const realTick = ap.tick.bind(a);
    let ticks = 0;
    ap.tick = () => {
      ticks++;
      return realTick();
    };
    let attempts = 0;
    const realPart = ap.onPartResolved.bind(a);
    ap.onPartResolved = (pay: unknown, i: number, r: object) => {
      if (!('preimage' in r)) {
        attempts++;
        throw new Error('payment handling failed (test)');
      }
      return realPart(pay, i, r);
    };
    await a.closeChannel(id, true);
    await mineUntilClosedDeep(world.l1, id, DEPTH);
    await waitUntil(() => attempts >= 1, 'first attempt', 20_000, 20);
    const t0 = ticks;
    const a0 = attempts;
    await waitUntil(() => ticks - t0 >= 30, '30 ticks', 20_000, 20);
    // 1, 2, 4, 8, 16 ticks apart: at most 5 more in 30 ticks (before: one at every tick)
    expect(attempts - a0).toBeLessThanOrEqual(5);
    expect(attempts - a0).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

describe('(4) a drop that throws after a refused round', () => {
  it("loses none of the round's other updates: each add fails back, the one that threw at the next tick", async () => {
    const l1 = world.l1;
    // alice refuses adds expiring within 40 blocks: bob's two adds below (30 blocks) are refused by her
    const alice = await startChannelNode(l1.client(), 'dalice', l1.accounts[10]!, { expiryMargin: 40 });
    const bob = await startChannelNode(l1.client(), 'dbob', l1.accounts[11]!);
    nodes.push(alice, bob);
    const key = await bob.connect(alice.p2p.multiaddrs[0]!);
    const id = await bob.openChannel(key, 1_000_000n);
    await waitUntil(() => alice.list().some((c) => c.channelId === toHex(id) && c.status === 'open'), 'open', 10_000, 20);
    const b = internals(bob);
    const ch = [...b.channels.values()].find((c: { id: Uint8Array }) => toHex(c.id) === toHex(id));
    const h = l1.height();
    const mk = () => {
      const hid = ch.nextHtlcId++;
      const hash = crypto.getRandomValues(new Uint8Array(32));
      b.setLink(`${toHex(id)}:${hid}`, { kind: 'payment', paymentHash: hash, part: 0 });
      return { kind: 'add', id: hid, amount: 10_000n, hash, expiry: h + 30, onion: crypto.getRandomValues(new Uint8Array(1366)) };
    };
    const A = mk();
    const B = mk();
    const realOrphan = b.settleOrphanPayment.bind(bob);
    let thrown = 0;
    b.settleOrphanPayment = (hk: string, r: unknown) => {
      if (thrown === 0 && hk === toHex(A.hash)) {
        thrown++;
        throw new Error('disk full (test)');
      }
      return realOrphan(hk, r);
    };
    ch.queue.push(A, B);
    b.schedule(ch);
    await waitUntil(() => thrown === 1, "A's drop threw", 10_000, 5);
    // before: the throw ended the loop: B's link (and A's) stayed in memory until a restart
    await waitUntil(() => !linksOf(bob).includes(`${toHex(id)}:${B.id}`), "B's drop", 3_000, 20);
    await waitUntil(() => !linksOf(bob).includes(`${toHex(id)}:${A.id}`), "A's drop retried", 3_000, 20);
    expect(bob.channelState(id).status).toBe('open');
    expect(alice.channelState(id).state.htlcs).toEqual([]);
  }, 60_000);
});


describe('(5) the early preimages\' write throwing at the payer', () => {
  it("still handles the payee's counter-add of the completed round (its payment completes without a restart)", async () => {
    const l1 = world.l1;
    const alice = await startChannelNode(l1.client(), 'ealice', l1.accounts[12]!);
    const bob = await startChannelNode(l1.client(), 'ebob', l1.accounts[13]!);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob.list().some((c) => c.channelId === toHex(id) && c.status === 'open'), 'open', 10_000, 20);
    await waitUntil(() => bob.graph.channel(id)?.policies[0] !== undefined && bob.graph.channel(id)?.policies[1] !== undefined, 'bob knows A–B', 15_000, 50);
    // bob needs a balance to pay alice back
    await alice.pay((await bob.createInvoice(100_000n, 'first')).invoice);
    await waitUntil(() => bob.channelState(id).state.htlcs.length === 0 && alice.channelState(id).state.htlcs.length === 0, 'the first payment settled in the state', 10_000, 20);
    // bob's add to alice waits in his queue (his rounds held back), so it rides in his accept of alice's round
    const b = internals(bob);
    const bch = [...b.channels.values()].find((c: { id: Uint8Array }) => toHex(c.id) === toHex(id));
    const realSchedule = b.schedule.bind(bob);
    b.schedule = () => undefined;
    const bPaid = bob.pay((await alice.createInvoice(5_000n, 'back')).invoice);
    bPaid.catch(() => undefined);
    await waitUntil(() => bch.queue.some((u: { kind: string }) => u.kind === 'add'), "bob's add queued", 10_000, 5);
    // alice's write of the early preimage (bob's COMMIT reply) fails once
    const realWrite = alice.store.write.bind(alice.store);
    let thrown = 0;
    alice.store.write = (entries) => {
      if (thrown === 0 && entries.some(([k]) => k.startsWith('pre:')) && entries.every(([k]) => k.startsWith('pre:') || k.startsWith('fwd:'))) {
        thrown++;
        throw new Error('disk full (test)');
      }
      realWrite(entries);
    };
    const aPaid = alice.pay((await bob.createInvoice(20_000n, 'second')).invoice);
    aPaid.catch(() => undefined);
    await waitUntil(() => thrown === 1, "alice's early-preimage write threw", 10_000, 5);
    b.schedule = realSchedule;
    b.schedule(bch);
    // before: runProposer ended before afterRound: bob's add (in alice's state) was never processed
    expect(await outcomeWithin(bPaid, 10_000)).toBe('succeeded');
    expect(await outcomeWithin(aPaid, 10_000)).toBe('succeeded');
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.htlcs.length === 0, 'both HTLCs settled in the state', 10_000, 20);
    expect(alice.channelState(id).status).toBe('open');
  }, 60_000);
});

describe('(6) a failed chain read on a settled close', () => {
  it('resolveOnchainHtlcs: the other HTLC is refunded in that tick, the failed one at the next', async () => {
    const l1 = world.l1;
    const opts = { closeConfirmations: DEPTH };
    const aChain = l1.client();
    const sends: { method: string; tick: number }[] = [];
    let alice: ChannelNode | undefined;
    const realSend = aChain.send.bind(aChain);
    aChain.send = (k, method, args) => {
      sends.push({ method, tick: alice ? internals(alice).ticks : -1 });
      return realSend(k, method, args);
    };
    alice = await startChannelNode(aChain, 'falice', l1.accounts[14]!, opts);
    const bob = await startChannelNode(l1.client(), 'fbob', l1.accounts[15]!, opts);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ab = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees A–B', 10_000, 20);
    const h1 = await bob.createInvoice(10_000n, 'held1', 3600, { hold: true });
    const h2 = await bob.createInvoice(20_000n, 'held2', 3600, { hold: true });
    alice.pay(h1.invoice).catch(() => undefined);
    alice.pay(h2.invoice).catch(() => undefined);
    await waitUntil(() => bob.invoices().filter((i) => i.status === 'held').length === 2 && alice!.channelState(ab).state.htlcs.length === 2, 'bob holds both', 10_000, 20);
    const expiry = Math.max(...alice.channelState(ab).state.htlcs.map((x) => x.expiry));
    await alice.closeChannel(ab, true);
    await bob.stop();
    const reader = new AdjudicatorReader(l1.client());
    await waitUntil(async () => {
      if ((await reader.channel(ab))?.ending === 2) return true;
      await l1.mine(1);
      return false;
    }, 'A–B settled', 60_000, 150);
    expect(l1.height()).toBeLessThan(expiry);
    // alice's ticks held back while both HTLCs expire (final): one tick then finds both to refund
    const ap = internals(alice);
    const realTick = ap.tick.bind(alice);
    let paused = true;
    ap.tick = () => (paused ? Promise.resolve() : realTick());
    await sleep(300);
    while (l1.height() <= expiry + DEPTH + 1) await l1.mine(1);
    const realPreimage = ap.reader.preimage.bind(ap.reader);
    let failTick = -1;
    ap.reader.preimage = (hash: Uint8Array) => {
      if (failTick < 0 && toHex(hash) === h1.paymentHash) {
        failTick = ap.ticks;
        return Promise.reject(new Error('chain rpc down (test)'));
      }
      return realPreimage(hash);
    };
    const errors0 = await metric(alice, 'strata_channel_round_handling_errors_total');
    const refundsAt = (t: number) => sends.filter((s) => s.method === 'refundHtlc' && s.tick === t).length;
    expect(sends.filter((s) => s.method === 'refundHtlc')).toHaveLength(0);
    paused = false;
    await waitUntil(() => failTick >= 0 && ap.ticks > failTick + 1, 'the failed read and the next tick', 10_000, 10);
    // before: the read's throw ended the channel's watch for the tick: nothing refunded in it
    expect(refundsAt(failTick)).toBe(1);
    expect(refundsAt(failTick + 1)).toBe(1);
    expect(ap.resolveRetry.size).toBe(0);
    await waitUntil(async () => {
      if (alice!.channelState(ab).status === 'closed') return true;
      await l1.mine(1);
      return false;
    }, "A–B 'closed' at alice", 20_000, 100);
    const rec = await reader.channel(ab);
    expect(rec?.htlcDone).toEqual([true, true]);
    expect(await metric(alice, 'strata_channel_round_handling_errors_total')).toBe(errors0);
  }, 120_000);

  it('revealKept: a failed read skips only that reveal; the other HTLC is claimed in that tick', async () => {
    const l1 = world.l1;
    const opts = { closeConfirmations: DEPTH };
    const bChain = l1.client();
    const sends: { method: string; tick: number }[] = [];
    let bob: ChannelNode | undefined;
    const realSend = bChain.send.bind(bChain);
    bChain.send = (k, method, args) => {
      sends.push({ method, tick: bob ? internals(bob).ticks : -1 });
      return realSend(k, method, args);
    };
    const alice = await startChannelNode(l1.client(), 'kalice', l1.accounts[19]!, opts);
    bob = await startChannelNode(bChain, 'kbob', l1.accounts[20]!, opts);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ab = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob!.list().some((c) => c.status === 'open'), 'bob sees A–B', 10_000, 20);
    const h1 = await bob.createInvoice(10_000n, 'kept1', 3600, { hold: true });
    const h2 = await bob.createInvoice(20_000n, 'kept2', 3600, { hold: true });
    alice.pay(h1.invoice).catch(() => undefined);
    alice.pay(h2.invoice).catch(() => undefined);
    await waitUntil(() => bob!.invoices().filter((i) => i.status === 'held').length === 2 && bob!.channelState(ab).state.htlcs.length === 2, 'bob holds both', 10_000, 20);
    const expiry = Math.min(...bob.channelState(ab).state.htlcs.map((x) => x.expiry));
    await alice.closeChannel(ab, true);
    await alice.stop();
    const reader = new AdjudicatorReader(l1.client());
    await waitUntil(async () => {
      if ((await reader.channel(ab))?.ending === 2) return true;
      await l1.mine(1);
      return false;
    }, 'A–B settled', 60_000, 150);
    expect(l1.height()).toBeLessThan(expiry - 3);
    // bob's ticks held back; then both preimages kept, h2's already revealed by someone else
    const bp = internals(bob);
    const realTick = bp.tick.bind(bob);
    let paused = true;
    bp.tick = () => (paused ? Promise.resolve() : realTick());
    await sleep(300);
    const preimageOf = (hash: string) => (bob!.store.get<{ preimage: Uint8Array }>(`inv:${hash}`) as { preimage: Uint8Array }).preimage;
    bob.store.write([
      [`pre:${h1.paymentHash}`, preimageOf(h1.paymentHash)],
      [`pre:${h2.paymentHash}`, preimageOf(h2.paymentHash)],
    ]);
    await sendAndWait(l1.client(), l1.accounts[21]!.keys, 'reveal', encode(RevealArgs, { preimage: preimageOf(h2.paymentHash) }));
    const realPreimage = bp.reader.preimage.bind(bp.reader);
    let failTick = -1;
    bp.reader.preimage = (hash: Uint8Array) => {
      if (failTick < 0 && toHex(hash) === h1.paymentHash) {
        failTick = bp.ticks;
        return Promise.reject(new Error('chain rpc down (test)'));
      }
      return realPreimage(hash);
    };
    const at = (method: string, t: number) => sends.filter((s) => s.method === method && s.tick === t).length;
    expect(sends.filter((s) => s.method === 'claimHtlc' || s.method === 'reveal')).toHaveLength(0);
    paused = false;
    await waitUntil(() => failTick >= 0 && bp.ticks > failTick + 1, 'the failed read and the next tick', 10_000, 10);
    // before: the read's throw in revealKept ended the look: h2 (revealed) was not claimed in it
    expect(at('claimHtlc', failTick)).toBe(1);
    expect(at('reveal', failTick)).toBe(0);
    // h1: revealed and claimed at the next tick
    expect(at('reveal', failTick + 1)).toBe(1);
    expect(at('claimHtlc', failTick + 1)).toBe(1);
    expect((await reader.preimage(fromHex(h1.paymentHash)))!.height).toBeLessThanOrEqual(expiry);
    expect((await reader.channel(ab))?.htlcDone).toEqual([true, true]);
    expect(await metric(bob, 'strata_channel_htlcs_lost_total')).toBe(0);
  }, 120_000);

  it('failUnfinishedLinks: no backoff, no round-handling error, the link fails back at a later tick', async () => {
    const { bob, bc, inv, paid } = await forwardIntoSilenceAndClose(world.l1, nodes, 'u', [16, 17, 18], DEPTH);
    const bp = internals(bob);
    const realPreimage = bp.reader.preimage.bind(bp.reader);
    let failed = 0;
    let retrySeen = 0;
    bp.reader.preimage = (hash: Uint8Array) => {
      retrySeen = Math.max(retrySeen, bp.resolveRetry.size);
      if (failed < 3 && toHex(hash) === inv.paymentHash) {
        failed++;
        return Promise.reject(new Error('chain rpc down (test)'));
      }
      return realPreimage(hash);
    };
    const errors0 = await metric(bob, 'strata_channel_round_handling_errors_total');
    await mineUntilClosedDeep(world.l1, bc, DEPTH);
    await waitUntil(() => failed === 3, 'three failed reads', 20_000, 10);
    // before: each failed read was a resolution failure: a backoff entry and a round-handling error
    expect(await metric(bob, 'strata_channel_round_handling_errors_total')).toBe(errors0);
    expect(retrySeen).toBe(0);
    await waitUntil(() => !linksOf(bob).some((k) => k.startsWith(toHex(bc))), 'the B–C link fails back', 10_000, 20);
    expect(await outcomeWithin(paid, 10_000)).toBe('failed');
  }, 120_000);
});
