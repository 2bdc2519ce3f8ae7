/**
 * The chain watch of a closed channel (watchChannel → failUnfinishedLinks, resolveOnchainHtlcs):
 *
 * (1) an HTLC of the settled state that goes to the peer is not waited for forever. The peer's
 * HTLC to us whose preimage we never learnt is resolved on chain only by a `refundHtlc` after its
 * expiry, which only the peer has a reason to send; a peer that never does kept our channel
 * 'closing' for good (and re-read on chain at every tick). Once the expiry is `closeConfirmations`
 * blocks past with no reveal by it, the HTLC is the peer's for good and no longer counted.
 *
 * (2) a resolution that keeps failing is retried with a backoff (from one tick, doubling, up to a
 * cap) instead of at every tick with an error line each time; it is still retried, and resolves
 * once the fault is gone. The same for a resolution on the on-chain path (2c), where the throw
 * also ended the tick's watch of the channel. The registry reads run several at once (2b).
 *
 * (3) a restart reads only the payment records left pending (`payp:` index), not every `pay:`
 * record of the node's history; a store without the index (an older version's) is indexed once.
 *
 * Real L1 (blocks mined on demand), real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader, CHAIN_READ_CONCURRENCY, ChannelStore, RevealArgs, sendAndWait } from '@strata/channels';
import { encode, toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode, tmp } from '../helpers/channels.js';
import { forwardIntoSilenceAndClose, startLine, linksOf, mineUntilClosedDeep } from '../helpers/channels-unfinished.js';

const world = channelTestWorld(15);
const nodes = world.nodes;
/** The nodes' closeConfirmations here. */
const DEPTH = 2;

describe('the chain watch of a closed channel', () => {
  it("(1) the peer's HTLC we cannot claim, never refunded by the stopped peer: our channel still ends 'closed' once its expiry is deep", async () => {
    const l1 = world.l1;
    const { alice, bob, carol, ab } = await startLine(l1, nodes, '1', [1, 2, 3], DEPTH);
    // carol holds the payment: bob, the forwarder, never learns the preimage of the A–B HTLC
    const held = await carol.createInvoice(10_000n, 'held', 3600, { hold: true });
    const paid = alice.pay(held.invoice);
    paid.catch(() => undefined);
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === held.paymentHash && i.status === 'held'), 'carol holds the payment', 10_000, 20);
    await waitUntil(() => bob.channelState(ab).state.htlcs.length === 1 && alice.channelState(ab).state.htlcs.length === 1, 'the A–B HTLC is committed', 10_000, 20);
    const expiry = bob.channelState(ab).state.htlcs[0]!.expiry;
    // alice closes A–B with her HTLC in the state and stops for good: nobody refunds it
    await alice.closeChannel(ab, true);
    await alice.stop();
    const reader = new AdjudicatorReader(l1.client());
    // bob settles the close (anyone may) and watches the HTLC expire with no reveal
    const mineTo = (height: number, what: string) =>
      waitUntil(
        async () => {
          if ((await reader.channel(ab))?.ending === 2 && l1.height() >= height) return true;
          await l1.mine(1);
          return false;
        },
        what,
        60_000,
        150,
      );
    await mineTo(expiry + DEPTH, 'A–B settled and its HTLC expired');
    await bob.poll();
    await bob.poll();
    // not before the expiry is more than closeConfirmations deep: a reorganisation could still
    // bring back a reveal by the expiry, and bob would claim with the preimage learnt from it
    expect(l1.height()).toBe(expiry + DEPTH);
    expect(bob.channelState(ab).status).toBe('closing');
    await mineTo(expiry + DEPTH + 1, 'the expiry closeConfirmations deep');
    await bob.poll();
    await bob.poll();
    const rec = await reader.channel(ab);
    expect(rec?.state.htlcs.length).toBe(1);
    expect(rec?.htlcDone[0]).toBe(false); // nobody refunded it: the funds are the peer's to take
    // the HTLC is the peer's for good: nothing of ours is left on chain, the watch ends
    await waitUntil(() => bob.channelState(ab).status === 'closed', 'bob records A–B closed', 5_000, 50).catch(() => undefined);
    expect(bob.channelState(ab).status).toBe('closed');
    // bob did not spend a fee refunding the peer's HTLC for it (its own B–C refund aside)
    await l1.mine(1);
    await bob.poll();
    expect((await reader.channel(ab))?.htlcDone[0]).toBe(false);
  }, 120_000);

  it("(1b) our HTLC whose preimage was revealed in time, never claimed by the stopped peer: our payment settles and our channel ends 'closed' once the expiry is deep", async () => {
    const l1 = world.l1;
    const opts = { closeConfirmations: DEPTH };
    const alice = await startChannelNode(l1.client(), 'alice1b', l1.accounts[7]!, opts);
    const bob = await startChannelNode(l1.client(), 'bob1b', l1.accounts[8]!, opts);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 20);
    const held = await bob.createInvoice(10_000n, 'held', 3600, { hold: true });
    let result: unknown;
    const paid = alice.pay(held.invoice).then((r) => {
      result = r;
    });
    paid.catch(() => undefined);
    await waitUntil(() => bob.invoices().some((i) => i.paymentHash === held.paymentHash && i.status === 'held'), 'bob holds the payment', 10_000, 20);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 1 && bob.channelState(id).state.htlcs.length === 1, 'the HTLC is committed', 10_000, 20);
    const expiry = alice.channelState(id).state.htlcs[0]!.expiry;
    // the preimage goes on chain (anyone may reveal it), bob closes with the HTLC and stops for
    // good: the HTLC is bob's to claim, and nobody does
    // biome-ignore lint/suspicious/noExplicitAny: the payee's invoice preimage
    const preimage = (bob.store.get(`inv:${held.paymentHash}`) as any).preimage as Uint8Array;
    await sendAndWait(l1.client(), l1.accounts[9]!.keys, 'reveal', encode(RevealArgs, { preimage }));
    await bob.closeChannel(id, true);
    await bob.stop();
    const reader = new AdjudicatorReader(l1.client());
    await waitUntil(
      async () => {
        if ((await reader.channel(id))?.ending === 2 && l1.height() > expiry + DEPTH + 1) return true;
        await l1.mine(1);
        return false;
      },
      'settled and the HTLC expired, closeConfirmations deep',
      60_000,
      150,
    );
    await alice.poll();
    await alice.poll();
    // alice settled her payment with the preimage from the chain
    await waitUntil(() => result !== undefined, "alice's pay() settles", 5_000, 50);
    const rec = await reader.channel(id);
    expect(rec?.htlcDone[0]).toBe(false); // bob never claimed it
    await waitUntil(() => alice.channelState(id).status === 'closed', 'alice records the channel closed', 5_000, 50).catch(() => undefined);
    expect(alice.channelState(id).status).toBe('closed');
  }, 120_000);

  it("(2b) the registry reads of a closed channel's HTLCs run several at once, not one after another", async () => {
    const l1 = world.l1;
    const alice = await startChannelNode(l1.client(), 'alice2b', l1.accounts[10]!, { closeConfirmations: DEPTH });
    const bob = await startChannelNode(l1.client(), 'bob2b', l1.accounts[11]!, { closeConfirmations: DEPTH });
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, 1_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 20);
    // three held payments: three HTLCs of alice's in the state bob closes with
    for (let i = 0; i < 3; i++) {
      const held = await bob.createInvoice(10_000n + BigInt(i), `held ${i}`, 3600, { hold: true });
      alice.pay(held.invoice).catch(() => undefined);
      await waitUntil(() => bob.invoices().some((x) => x.paymentHash === held.paymentHash && x.status === 'held'), 'bob holds the payment', 10_000, 20);
    }
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 3 && bob.channelState(id).state.htlcs.length === 3, 'the HTLCs are committed', 10_000, 20);
    // each registry read of alice's takes 50 ms; how many are in flight at once
    const realPreimage = alice.reader.preimage.bind(alice.reader);
    let inFlight = 0;
    let most = 0;
    let reads = 0;
    alice.reader.preimage = async (hash) => {
      reads++;
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((r) => setTimeout(r, 50));
        return await realPreimage(hash);
      } finally {
        inFlight--;
      }
    };
    await bob.closeChannel(id, true);
    await bob.stop();
    // the close is in its dispute delay: alice's watch reads the registry for each of the HTLCs
    await waitUntil(() => reads >= 6, "alice's watch reads the HTLCs' preimages", 10_000, 20);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(CHAIN_READ_CONCURRENCY);
  }, 60_000);

  it("(2c) the same on chain: a forward's settlement with a preimage revealed on chain whose commit keeps failing is retried with a backoff, then settles", async () => {
    const l1 = world.l1;
    const { alice, bob, carol, ab, bc } = await startLine(l1, nodes, '2c', [12, 13, 14], DEPTH);
    const held = await carol.createInvoice(10_000n, 'held', 3600, { hold: true });
    let result: unknown;
    const paid = alice.pay(held.invoice).then((r) => {
      result = r;
    });
    paid.catch(() => undefined);
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === held.paymentHash && i.status === 'held'), 'carol holds the payment', 10_000, 20);
    await waitUntil(() => bob.channelState(bc).state.htlcs.length === 1, 'the B–C HTLC is committed', 10_000, 20);
    // the preimage goes on chain; bob's commit of the settlement upstream (the forward's link
    // delete with the fulfil queued on A–B) fails while `failing`
    // biome-ignore lint/suspicious/noExplicitAny: the payee's invoice preimage
    const preimage = (carol.store.get(`inv:${held.paymentHash}`) as any).preimage as Uint8Array;
    await sendAndWait(l1.client(), l1.accounts[9]!.keys, 'reveal', encode(RevealArgs, { preimage }));
    // biome-ignore lint/suspicious/noExplicitAny: counting the chain-watch ticks
    const bp = bob as any;
    const realTick = bp.tick.bind(bob);
    let ticks = 0;
    let failing = true;
    bp.tick = () => {
      if (failing) ticks++;
      return realTick();
    };
    const realWrite = bob.store.write.bind(bob.store);
    let attempts = 0;
    bob.store.write = (entries) => {
      if (failing && entries.some(([k, v]) => k.startsWith(`fwd:${toHex(bc)}:`) && v === undefined)) {
        attempts++;
        throw new Error('disk full (test)');
      }
      realWrite(entries);
    };
    // the close with the HTLC in it: bob's watch settles the forward with the revealed preimage at once
    await bob.closeChannel(bc, true);
    await waitUntil(() => attempts >= 1, "the settlement's commit threw", 10_000, 20);
    const startTicks = ticks;
    await waitUntil(() => ticks - startTicks >= 30, '30 ticks', 20_000, 20);
    failing = false;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThan((ticks - startTicks) / 3);
    expect(result).toBeUndefined();
    // the fault is gone: the next retry settles alice's payment with the preimage
    await waitUntil(() => result !== undefined, "alice's pay() settles", 15_000, 50);
    expect(linksOf(bob).filter((k) => k.startsWith(toHex(bc)))).toEqual([]);
    void ab;
  }, 120_000);

  it('(2) a fail-back whose commit keeps failing is retried with a backoff, not every tick, and resolves once the fault is gone', async () => {
    const l1 = world.l1;
    const { bob, bc } = await forwardIntoSilenceAndClose(l1, nodes, '2', [4, 5, 6], DEPTH);
    // biome-ignore lint/suspicious/noExplicitAny: counting the chain-watch ticks
    const bp = bob as any;
    const realTick = bp.tick.bind(bob);
    let ticks = 0;
    let failing = true;
    bp.tick = () => {
      if (failing) ticks++;
      return realTick();
    };
    // the commit that drops the forward's link (and queues the fail upstream) fails while `failing`
    const realWrite = bob.store.write.bind(bob.store);
    let attempts = 0;
    bob.store.write = (entries) => {
      if (failing && entries.some(([k, v]) => k.startsWith(`fwd:${toHex(bc)}:`) && v === undefined)) {
        attempts++;
        throw new Error('disk full (test)');
      }
      realWrite(entries);
    };
    const errors = async () => (await bob.metrics.roundHandlingErrors.get()).values[0]?.value ?? 0;
    const errorsBefore = await errors();
    await mineUntilClosedDeep(l1, bc, DEPTH);
    await waitUntil(() => attempts >= 1, "the fail-back's commit threw", 10_000, 20);
    // some 30 ticks (pollMs 100) with the fault in place
    const startTicks = ticks;
    await waitUntil(() => ticks - startTicks >= 30, '30 ticks', 20_000, 20);
    failing = false;
    const errorLines = (await errors()) - errorsBefore;
    expect(errorLines).toBe(attempts);
    // retried (more than once), but far less often than once a tick: 1, 2, 4, 8, 16 ticks apart
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThan((ticks - startTicks) / 3);
    expect(bob.channelState(bc).status).toBe('closing');
    // the fault is gone: the next retry resolves it (within the cap of 32 ticks) and the channel closes
    await waitUntil(() => bob.store.list(`fwd:${toHex(bc)}:`).length === 0, "the forward's link is resolved", 15_000, 20);
    expect(linksOf(bob)).toEqual([]);
    await waitUntil(() => bob.channelState(bc).status === 'closed', 'bob records B–C closed', 10_000, 20);
  }, 120_000);
});

/** The prefixes `ChannelStore.list` is called with while `f` runs (every store in the process). */
async function listedPrefixes(f: () => Promise<void>): Promise<string[]> {
  const real = ChannelStore.prototype.list;
  const seen: string[] = [];
  ChannelStore.prototype.list = function <T>(this: ChannelStore, prefix: string): [string, T][] {
    seen.push(prefix);
    return real.call(this, prefix) as [string, T][];
  };
  try {
    await f();
  } finally {
    ChannelStore.prototype.list = real;
  }
  return seen;
}

describe('payment records at start-up', () => {
  const paid = (i: number) => `0x${i.toString(16).padStart(64, '0')}`;

  it('(3) a restart reads the records left pending, not every payment record of the history', async () => {
    const dir = tmp('chan-payp-');
    let n = await startChannelNode(world.l1.client(), 'payp', world.l1.accounts[0]!, { dataDir: dir });
    await n.stop();
    // a long history of settled payments, and one left pending with nothing sent (a crash after
    // pay() wrote its record: the record and its index entry are one commit)
    const store = ChannelStore.open(dir);
    store.write(Array.from({ length: 500 }, (_, i): [string, unknown] => [`pay:${paid(i)}`, { status: 'succeeded', amount: 1n, preimage: new Uint8Array(32) }]));
    const pending = paid(10_000);
    store.write([
      [`pay:${pending}`, { status: 'pending', amount: 5n }],
      [`payp:${pending}`, true],
    ]);
    await store.close();
    const prefixes = await listedPrefixes(async () => {
      n = await startChannelNode(world.l1.client(), 'payp', world.l1.accounts[0]!, { dataDir: dir });
    });
    nodes.push(n);
    expect(prefixes).not.toContain('pay:');
    // the pending one, with no HTLC out, is settled (failed) as before, and leaves the index
    expect(n.store.get<{ status: string }>(`pay:${pending}`)?.status).toBe('failed');
    await n.poll();
    expect(n.store.list('payp:')).toEqual([]);
    expect(n.store.get<{ status: string }>(`pay:${paid(3)}`)?.status).toBe('succeeded');
  }, 60_000);

  it("(3b) a store without the index (an older version's) is indexed once: its pending record is settled, later starts read the index only", async () => {
    const dir = tmp('chan-payp-old-');
    const old = ChannelStore.open(dir);
    const pending = paid(20_000);
    old.write([
      [`pay:${pending}`, { status: 'pending', amount: 5n }],
      [`pay:${paid(1)}`, { status: 'failed', amount: 1n }],
    ]);
    await old.close();
    let n = await startChannelNode(world.l1.client(), 'payp-old', world.l1.accounts[0]!, { dataDir: dir });
    expect(n.store.get<{ status: string }>(`pay:${pending}`)?.status).toBe('failed');
    await n.stop();
    const prefixes = await listedPrefixes(async () => {
      n = await startChannelNode(world.l1.client(), 'payp-old', world.l1.accounts[0]!, { dataDir: dir });
    });
    nodes.push(n);
    expect(prefixes).not.toContain('pay:');
    expect(prefixes).toContain('payp:');
    expect(n.store.get<{ status: string }>(`pay:${paid(1)}`)?.status).toBe('failed');
  }, 60_000);
});
