/**
 * The off-chain resolution of an HTLC a closed channel's final state lacks (failUnfinishedLinks),
 * two findings of the attacker review:
 *
 * (3) a resolution that throws is retried. A forward's fail-back commits the link's delete with
 * the fail queued upstream; when that commit failed, the link was already gone from memory: the
 * channel was written 'closed' in the same tick (its chain watch ended), the `fwd:` record stayed
 * in the store, and the fail upstream sat in memory only. A restart before the upstream round
 * lost it and nothing resolved the link again: the upstream HTLC hung until its expiry.
 *
 * (4) a preimage revealed in the chain's registry settles such an HTLC. The registry is keyed by
 * hash, so a reveal does not need the HTLC in the final state: the next hop may reveal it to
 * claim in a newer state that never landed, or a hop further down for its own HTLC. The forwarder
 * failed upstream regardless and gave up the upstream amount it could collect with the preimage.
 *
 * Real L1 (blocks mined on demand), real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader, RevealArgs, sendAndWait } from '@strata/channels';
import { encode, fromHex, StrataError, toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';
import { forwardIntoSilenceAndClose, linksOf, mineUntilClosed, mineUntilClosedDeep, within } from '../helpers/channels-unfinished.js';

const world = channelTestWorld();
const nodes = world.nodes;
/** The nodes' closeConfirmations here. */
const DEPTH = 2;

const links = linksOf;


describe("a closed channel's unfinished HTLCs: retried after an error, settled with a preimage revealed on chain", () => {
  it("(3) the forward's fail-back commit throws once: the channel is not marked closed, the fail-back is retried and committed, and survives a restart of the forwarder", async () => {
    const { alice, bob, ab, bc, paid } = await forwardIntoSilenceAndClose(world.l1, nodes, '3', [1, 2, 3], DEPTH);
    // the upstream round does not run before bob restarts (alice unreachable, or a crash first):
    // only what bob committed can fail the A–B HTLC back
    // biome-ignore lint/suspicious/noExplicitAny: holding back bob's rounds
    const bp = bob as any;
    const realPropose = bp.propose.bind(bob);
    bp.propose = async () => undefined;
    // the commit that drops the forward's link (and queues the fail upstream) fails once
    const realWrite = bob.store.write.bind(bob.store);
    let thrown = 0;
    let closedWithLink = false;
    bob.store.write = (entries) => {
      if (thrown === 0 && entries.some(([k, v]) => k.startsWith(`fwd:${toHex(bc)}:`) && v === undefined)) {
        thrown++;
        throw new Error('disk full (test)');
      }
      realWrite(entries);
      // the channel's 'closed' record never goes out while the forward's link is still stored
      if (entries.some(([k, v]) => k === `ch:${toHex(bc)}` && (v as { status?: string } | undefined)?.status === 'closed') && bob.store.list(`fwd:${toHex(bc)}:`).length > 0) closedWithLink = true;
    };
    await mineUntilClosedDeep(world.l1, bc, DEPTH);
    await waitUntil(() => thrown === 1, "the fail-back's commit threw", 10_000, 20);
    await bob.poll();
    await bob.poll();
    expect(closedWithLink).toBe(false);
    // retried at a later look: the link's delete and the queued fail are committed, then closed
    await waitUntil(() => bob.store.list(`fwd:${toHex(bc)}:`).length === 0, "the forward's link is resolved (its record deleted)", 10_000, 20);
    expect(links(bob)).toEqual([]);
    await waitUntil(() => bob.channelState(bc).status === 'closed', 'bob records B–C closed', 10_000, 20);
    // the fail upstream was queued once (no double resolution)
    const abQueue = (bp.channels as Map<string, { id: Uint8Array; queue: { kind: string }[] }>).values();
    const inCh = [...abQueue].find((c) => toHex(c.id) === toHex(ab))!;
    expect(inCh.queue.filter((u) => u.kind === 'fail').length).toBe(1);
    expect((bob.store.get(`ch:${toHex(ab)}`) as { queue: { kind: string }[] }).queue.filter((u) => u.kind === 'fail').length).toBe(1);

    // bob restarts before the upstream round: the fail is in the stored A–B record and goes out
    // biome-ignore lint/suspicious/noExplicitAny: the data dir of the node to restart
    const dataDir = (bob as any).opts.dataDir as string;
    bp.propose = realPropose;
    await bob.stop();
    const bob2 = await startChannelNode(world.l1.client(), 'bob3b', world.l1.accounts[2]!, { requestTimeoutMs: 60_000, closeConfirmations: DEPTH, dataDir });
    nodes.push(bob2);
    await alice.connect(bob2.p2p.multiaddrs[0]!);
    const e = await within(paid, 15_000, "alice's pay()").then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toMatch(/^CHANNEL_/);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && bob2.channelState(ab).state.htlcs.length === 0, 'the A–B HTLC is failed back', 15_000, 20);
    expect(alice.channelState(ab).status).toBe('open');
    expect(alice.channelState(ab).state.balanceA).toBe(1_000_000n);
    expect(bob2.channelState(bc).status).toBe('closed');
    expect(links(bob2)).toEqual([]);
  }, 90_000);

  it('(4) the next hop reveals the preimage on chain for the add the final state lacks: the forwarder settles upstream with it instead of failing', async () => {
    const { alice, bob, carol, ab, bc, inv, paid } = await forwardIntoSilenceAndClose(world.l1, nodes, '4', [4, 5, 6], DEPTH);
    const reader = new AdjudicatorReader(world.l1.client());
    expect((await reader.channel(bc))?.status).toBe(1);
    // during the dispute delay the preimage goes on chain (carol, the payee, knows it; the
    // registry is keyed by hash and takes it whatever state the channel ends with)
    // biome-ignore lint/suspicious/noExplicitAny: the payee's invoice preimage
    const preimage = (carol.store.get(`inv:${inv.paymentHash}`) as any).preimage as Uint8Array;
    await sendAndWait(world.l1.client(), world.l1.accounts[7]!.keys, 'reveal', encode(RevealArgs, { preimage }));
    expect(await reader.preimage(fromHex(inv.paymentHash))).toBeDefined();
    await mineUntilClosed(world.l1, bc);
    const rec = await reader.channel(bc);
    expect(rec?.state.version).toBe(0);
    expect(rec?.state.htlcs).toEqual([]);
    // a settlement with a preimage does not wait for the close's depth
    await bob.poll();
    const r = await within(paid, 10_000, "alice's pay()");
    expect(r).toBeDefined();
    expect(bob.store.get(`pre:${inv.paymentHash}`)).toEqual(preimage);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && bob.channelState(ab).state.htlcs.length === 0, 'the A–B HTLC is settled', 10_000, 20);
    // settled off chain: bob collected the forwarded amount (and fee) from alice
    expect(alice.channelState(ab).state.balanceB).toBeGreaterThanOrEqual(10_000n);
    expect(alice.channelState(ab).state.balanceA + alice.channelState(ab).state.balanceB).toBe(1_000_000n);
    await mineUntilClosedDeep(world.l1, bc, DEPTH);
    await waitUntil(() => bob.channelState(bc).status === 'closed', 'bob records B–C closed', 10_000, 20);
    expect(links(bob)).toEqual([]);
  }, 90_000);
});
