/**
 * Commitment rounds carry both sides' updates (BOLT 2 lets a commitment cover every pending
 * update, whoever offered it): when both nodes have updates queued at once, the receiver of a
 * proposal adds its own to its accepting reply, and one round — one state signed by both — carries
 * the payer's adds and the payee's fulfils.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdates, ONION_PACKET_SIZE, type ChannelNode, type ChannelState, type Update } from '@strata/channels';
import { toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, startChannelNode, startTestL1, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let bob: ChannelNode;
let id: Uint8Array;

beforeAll(async () => {
  l1 = await startTestL1();
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!);
  bob = await startChannelNode(l1.client(), 'bob', l1.accounts[2]!);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  id = await alice.openChannel(bobKey, 10_000_000n);
  await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 20);
}, 60_000);

afterAll(async () => {
  for (const n of [alice, bob]) await n?.stop();
  await l1?.stop();
  cleanupDirs();
});

async function largestRound(n: ChannelNode): Promise<number> {
  const h = await n.metrics.updatesPerRound.get();
  const count = h.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  // the smallest bucket holding every observation
  const full = h.values.filter((v) => v.metricName?.endsWith('_bucket') && v.value === count && v.labels.le !== '+Inf').map((v) => Number(v.labels.le));
  return full.length ? Math.min(...full) : Number.POSITIVE_INFINITY;
}

/**
 * Holds `node`'s next `k` adds out of its channel queue (each reaches it in a turn of its own,
 * once its onion is back from the worker thread) until all `k` are built; `release` queues them
 * all in one turn.
 */
function holdAdds(node: ChannelNode, k: number): { built: Promise<void>; release: () => void } {
  const n = node as unknown as { enqueue: (ch: unknown, u: { kind: string }) => void };
  const enqueue = n.enqueue.bind(node);
  const held: [unknown, { kind: string }][] = [];
  let allBuilt: () => void = () => {};
  const built = new Promise<void>((r) => {
    allBuilt = r;
  });
  n.enqueue = (ch, u) => {
    if (u.kind !== 'add') return enqueue(ch, u);
    held.push([ch, u]);
    if (held.length === k) allBuilt();
  };
  return {
    built,
    release: () => {
      n.enqueue = enqueue;
      for (const [ch, u] of held) enqueue(ch, u);
    },
  };
}

describe('commitment rounds', () => {
  it("the payee's fulfils and the payer's new adds, queued at once, go into one round", async () => {
    const K = 6;
    const held = await Promise.all(Array.from({ length: K }, () => bob.createInvoice(1_000n, 'held', 3600, { hold: true })));
    const pays = held.map((h) => alice.pay(h.invoice));
    await waitUntil(() => bob.invoices().filter((i) => i.status === 'held').length === K, 'bob holds every payment', 15_000, 20);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === K, 'the adds are committed', 15_000, 20);
    await new Promise((r) => setTimeout(r, 200));
    const fresh = await Promise.all(Array.from({ length: K }, () => bob.createInvoice(1_000n)));
    const v0 = alice.channelState(id).state.version;
    const before = await largestRound(alice);
    expect(before).toBeLessThanOrEqual(10);
    // alice's adds reach her queue once their onions are back from the worker thread, each in a
    // turn of its own: they are held here until all K are built, then queued in the same turn as
    // bob's K fulfils, so that both propose the same version
    const adds = holdAdds(alice, K);
    const more = fresh.map((f) => alice.pay(f.invoice));
    await adds.built;
    // in one turn: bob queues K fulfils, alice queues K adds; both propose the same version
    const settles = held.map((h) => bob.settleInvoice(Buffer.from(h.paymentHash.slice(2), 'hex')));
    adds.release();
    await Promise.all([...settles, ...pays, ...more]);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.htlcs.length === 0, 'every HTLC settled', 15_000, 20);
    // one round took the 2K updates (fulfils + adds): before, the withdrawn side's updates waited
    // for a round of their own (largest round K)
    expect(await largestRound(alice)).toBeGreaterThanOrEqual(2 * K);
    // and the rounds: K+K updates, then bob's K fulfils of the new payments: 2 rounds (before: 3)
    expect(alice.channelState(id).state.version - v0).toBeLessThanOrEqual(2);
    expect(alice.channelState(id).state.balanceA + bob.channelState(id).state.balanceB).toBe(10_000_000n);
  }, 60_000);

  it("the payee's invoices paid by one round's adds share one commit (before: a commit per payment)", async () => {
    const K = 12;
    const fresh = await Promise.all(Array.from({ length: K }, () => bob.createInvoice(1_000n)));
    // alice's adds are held until all K onions are built, then queued in one turn: one round
    // carries them, and bob settles the K invoices while he handles that round's COMMIT
    const adds = holdAdds(alice, K);
    const pays = fresh.map((f) => alice.pay(f.invoice));
    await adds.built;
    const store = bob.store as unknown as { commits: number };
    const c0 = store.commits;
    const v0 = alice.channelState(id).state.version;
    adds.release();
    const results = await Promise.all(pays);
    expect(results.map((r) => r.amount)).toEqual(Array(K).fill('1000'));
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.htlcs.length === 0, 'every HTLC settled', 15_000, 20);
    const rounds = alice.channelState(id).state.version - v0;
    const commits = store.commits - c0;
    // bob's own writes: two per round (accept, then the completed round) and one for the K
    // invoices, their preimages and onions; before, each invoice was a commit of its own (K more)
    expect(rounds).toBeLessThanOrEqual(3);
    expect(commits).toBeLessThan(K);
  }, 60_000);

  it("incoming onions are stored once in records of their own, not rewritten with the channel at every round", async () => {
    const held = await Promise.all(Array.from({ length: 3 }, () => bob.createInvoice(1_000n, 'held', 3600, { hold: true })));
    const pays = held.map((h) => alice.pay(h.invoice).catch(() => undefined));
    await waitUntil(() => bob.invoices().filter((i) => i.status === 'held').length === 3, 'bob holds the payments', 15_000, 20);
    await waitUntil(() => bob.channelState(id).state.htlcs.length === 3, 'the adds are committed at bob', 15_000, 20);
    const rec = bob.store.get<{ onions: Record<string, Uint8Array>; round?: unknown }>(`ch:${toHex(id)}`);
    // before: the completed round's write kept every incoming onion (1366 bytes each) in the record
    expect(Object.keys(rec?.onions ?? {})).toHaveLength(0);
    // consumed (held) onions are gone from the store too
    expect(bob.store.list(`on:${toHex(id)}:`)).toHaveLength(0);
    for (const h of held) await bob.cancelInvoice(Buffer.from(h.paymentHash.slice(2), 'hex'));
    await Promise.all(pays);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0, 'the cancelled HTLCs are failed back', 15_000, 20);
  }, 60_000);

  it('a receiver whose own updates in its reply break the rules (an add expiring at once) gets no signature: the proposer closes on chain', async () => {
    const carol = await startChannelNode(l1.client(), 'carol', l1.accounts[3]!);
    const dave = await startChannelNode(l1.client(), 'dave', l1.accounts[4]!);
    try {
      const daveKey = await carol.connect(dave.p2p.multiaddrs[0]!);
      const cd = await carol.openChannel(daveKey, 10_000_000n, 1_000_000n);
      await waitUntil(() => dave.list().some((c) => c.status === 'open'), 'dave sees the channel', 10_000, 20);
      // dave answers carol's next proposal with an HTLC of its own that expires next block
      const bad: Update = { kind: 'add', id: 77, amount: 5_000n, hash: new Uint8Array(32).fill(9), expiry: l1.height() + 1, onion: new Uint8Array(ONION_PACKET_SIZE) };
      const d = dave as unknown as { takeOwn(ch: { side: 0 | 1; limits: never }, s: ChannelState, max: number): { next: ChannelState; taken: Update[] } };
      d.takeOwn = (ch, s) => ({ next: applyUpdates(s, ch.side, [bad], ch.limits), taken: [bad] });
      const v = carol.channelState(cd).state.version;
      const { invoice } = await dave.createInvoice(1_000n);
      await expect(carol.pay(invoice)).rejects.toThrow();
      await waitUntil(() => carol.channelState(cd).status !== 'open', 'carol takes the channel on chain', 15_000, 20);
      // carol never signed the state with dave's bad HTLC: the closing state is the last one both signed
      expect(carol.channelState(cd).state.version).toBe(v);
      expect(carol.channelState(cd).state.htlcs).toHaveLength(0);
    } finally {
      await carol.stop();
      await dave.stop();
    }
  }, 60_000);

  it("an honest receiver's add near its expiry window is not put in its reply: a peer whose height is a block ahead refuses it, it does not close the channel", async () => {
    // a payer picks a forward's outgoing expiry (the onion): at the forwarder's lower bound, the
    // next hop, one block ahead, sees it too close. Piggybacked, that closed the channel on chain.
    const carol = await startChannelNode(l1.client(), 'carol2', l1.accounts[5]!);
    const dave = await startChannelNode(l1.client(), 'dave2', l1.accounts[6]!);
    try {
      const daveKey = await carol.connect(dave.p2p.multiaddrs[0]!);
      const cd = await carol.openChannel(daveKey, 10_000_000n, 1_000_000n);
      await waitUntil(() => dave.list().some((c) => c.status === 'open'), 'dave sees the channel', 10_000, 20);
      type Priv = { tick: () => Promise<void>; heightCache: number; chan(id: Uint8Array): { queue: Update[]; nextHtlcId: number } };
      const c = carol as unknown as Priv;
      const d = dave as unknown as Priv;
      c.tick = async () => undefined;
      d.tick = async () => undefined;
      const h = l1.height();
      d.heightCache = h;
      c.heightCache = h + 1; // carol has seen the next block, dave not yet
      const dch = d.chan(cd);
      // valid in dave's view (expiry > height + margin 2), too close in carol's
      dch.queue.push({ kind: 'add', id: dch.nextHtlcId++, amount: 5_000n, hash: new Uint8Array(32).fill(7), expiry: h + 3, onion: new Uint8Array(ONION_PACKET_SIZE) });
      const { invoice } = await dave.createInvoice(1_000n);
      // the add is refused; dave's fulfil, batched after it in dave's own round, still goes
      await Promise.race([carol.pay(invoice), new Promise((_, rej) => setTimeout(() => rej(new Error('carol\'s payment never settled')), 15_000))]);
      await waitUntil(() => dave.channelState(cd).state.htlcs.length === 0 && dch.queue.length === 0, 'dave proposes its add itself and carol refuses it', 15_000, 20);
      expect(carol.channelState(cd).status).toBe('open');
      expect(dave.channelState(cd).status).toBe('open');
    } finally {
      await carol.stop();
      await dave.stop();
    }
  }, 60_000);

  it("a refused proposal fails its adds but sends its fulfils again: the payee's preimage is not lost with someone else's bad HTLC", async () => {
    const carol = await startChannelNode(l1.client(), 'carol3', l1.accounts[7]!);
    const dave = await startChannelNode(l1.client(), 'dave3', l1.accounts[8]!);
    try {
      const daveKey = await carol.connect(dave.p2p.multiaddrs[0]!);
      const cd = await carol.openChannel(daveKey, 10_000_000n, 1_000_000n);
      await waitUntil(() => dave.list().some((c) => c.status === 'open'), 'dave sees the channel', 10_000, 20);
      const held = await dave.createInvoice(1_000n, 'held', 3600, { hold: true });
      const paid = carol.pay(held.invoice);
      await waitUntil(() => dave.invoices().some((i) => i.status === 'held'), 'dave holds the payment', 15_000, 20);
      type Priv = { chan(id: Uint8Array): { queue: Update[]; nextHtlcId: number } };
      const dch = (dave as unknown as Priv).chan(cd);
      // an add carol refuses (expires next block), queued just before dave's fulfil: one proposal
      dch.queue.push({ kind: 'add', id: dch.nextHtlcId++, amount: 5_000n, hash: new Uint8Array(32).fill(8), expiry: l1.height() + 1, onion: new Uint8Array(ONION_PACKET_SIZE) });
      await dave.settleInvoice(Buffer.from(held.paymentHash.slice(2), 'hex'));
      await Promise.race([paid, new Promise((_, rej) => setTimeout(() => rej(new Error('the fulfil was dropped with the refused proposal')), 10_000))]);
      await waitUntil(() => carol.channelState(cd).state.htlcs.length === 0, 'the HTLC is settled off chain', 10_000, 20);
      expect(carol.channelState(cd).status).toBe('open');
    } finally {
      await carol.stop();
      await dave.stop();
    }
  }, 60_000);
});

describe('persist before send', () => {
  it('no request to a peer leaves while a commit of ours is not yet fsynced', async () => {
    // Each request must leave after an fsync covering every commit made before it was sent (its
    // body is built by then; the deferred writes of that turn are committed by its flush). A
    // commit made meanwhile by other work (another payment's records) is not the request's: the
    // store's shared "dirty" flag cannot tell them apart, so the commit count at send() rides
    // along in an AsyncLocalStorage to the moment the bytes leave.
    const unsynced: string[] = [];
    type Store = { commits: number; synced: number; deferred: unknown[] };
    const need = new AsyncLocalStorage<number>();
    for (const [name, n] of [['alice', alice], ['bob', bob]] as const) {
      const store = (n as unknown as { store: Store }).store;
      const node = n as unknown as { send: (...a: unknown[]) => Promise<Uint8Array> };
      const origSend = node.send.bind(n);
      node.send = (...a: unknown[]) => need.run(store.commits + (store.deferred.length > 0 ? 1 : 0), () => origSend(...a));
      const p2p = n.p2p as unknown as { sessionRequest: (...a: unknown[]) => Promise<Uint8Array> };
      const send = p2p.sessionRequest.bind(p2p);
      p2p.sessionRequest = (...a: unknown[]) => {
        const k = need.getStore();
        if (k !== undefined && store.synced < k) unsynced.push(`${name} request: ${store.synced} of ${k} commits fsynced`);
        return send(...a);
      };
      // (replies flush the same way in onRequest; checking them from outside races the writes
      // of other rounds that start right after the flush, so only requests are checked here)
    }
    // (the peer protocol's handler calls this.onRequest at each request, so the patch is seen)
    const invoices = await Promise.all(Array.from({ length: 5 }, () => bob.createInvoice(500n)));
    await Promise.all(invoices.map((i) => alice.pay(i.invoice)));
    expect(unsynced).toEqual([]);
  });
});
