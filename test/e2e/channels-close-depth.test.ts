/**
 * The confirmation depth of a close's off-chain fail-backs (`closeConfirmations`). An HTLC we
 * offered that the final on-chain state of a closed channel lacks fails back off chain (to its
 * payment or upstream hop) only once the close (CH_CLOSED) is N blocks deeper than the height we
 * first saw it at: at the head, a reorganisation could bring back a branch where the peer's newer
 * state holding the add landed in time, and the peer would claim on chain what was already failed
 * upstream (a forwarder loses the amount, a payer retries and pays twice). The height is kept in
 * the channel record (a restart keeps waiting from it) and reset when the close is reorganised
 * out. The refund path waits the same way past the HTLC's expiry (channels-disputes). Before the
 * fix every fail-back ran at the first poll that saw CH_CLOSED. Real L1 (blocks mined on demand,
 * `rewindTo` for the reorganisation), real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader, ChannelNode, ChannelRefArgs, ChannelStore, RevealArgs, sendAndWait } from '@strata/channels';
import { bytesEqual, encode, StrataError, toHex } from '@strata/primitives';
import { RpcError } from '@strata/rpc';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, silentLogger, startChannelNode, tmp } from '../helpers/channels.js';
import { counterAddRefusedCommit, linksOf, mineUntilClosed, outcomeWithin, payIntoSilence, within } from '../helpers/channels-unfinished.js';

const world = channelTestWorld(32);
const nodes = world.nodes;

/** payIntoSilence, then a closes unilaterally with version 0 and sees the close final. */
async function payIntoSilenceAndClose(tag: string, accounts: [number, number], depth: number) {
  const { a, b, id, inv, paid, isSettled } = await payIntoSilence(world.l1, nodes, tag, accounts, depth);
  await a.closeChannel(id, true);
  await mineUntilClosed(world.l1, id);
  // a's chain watch has seen the final close (and committed the height it saw it at)
  await a.poll();
  const seenAt = a.channelState(id).closedSeenAt;
  expect(seenAt).toBe(world.l1.height());
  return { a, b, id, inv, paid, isSettled, seenAt: seenAt as number };
}

const links = linksOf;

describe('closeConfirmations: the off-chain fail-backs of a closed channel wait for depth', () => {
  it('is checked at start: a whole number of blocks from 0 to 2016', async () => {
    for (const bad of [-1, 1.5, Number.NaN, 2017]) {
      await expect(ChannelNode.create({ dataDir: tmp('chan-cc-'), closeConfirmations: bad }, { chain: world.l1.client(), logger: silentLogger })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    }
  });

  it('with N = 3, the unfinished add is not failed back until the close is 3 blocks deep, then it is (and only then is the channel closed)', async () => {
    const N = 3;
    const { a, id, paid, isSettled, seenAt } = await payIntoSilenceAndClose('1', [1, 2], N);
    for (let i = 1; i < N; i++) {
      await world.l1.mine(1);
      await a.poll();
      expect(world.l1.height()).toBe(seenAt + i);
      expect(isSettled()).toBe(false);
      expect(links(a).length).toBe(1);
      // the chain watch goes on: a reorganisation could still undo the close
      expect(a.channelState(id).status).toBe('closing');
    }
    await world.l1.mine(1);
    await a.poll();
    const e = await within(paid, 10_000, 'pay()').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toMatch(/^CHANNEL_/);
    expect(links(a)).toEqual([]);
    await waitUntil(() => a.channelState(id).status === 'closed', 'a records the channel closed', 10_000, 50);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(id);
    expect(rec?.state.htlcs).toEqual([]);
    expect(rec?.state.balanceA).toBe(1_000_000n);
  }, 60_000);

  it('a restart between the first sight of the close and N blocks keeps the height it was first seen at, and fails back once N deep', async () => {
    const N = 4;
    const { a, id, seenAt } = await payIntoSilenceAndClose('2', [3, 4], N);
    const opts = { requestTimeoutMs: 60_000, closeConfirmations: N };
    // biome-ignore lint/suspicious/noExplicitAny: the data dir of the node to restart
    const dataDir = (a as any).opts.dataDir as string;
    await world.l1.mine(2);
    await a.poll();
    expect(links(a).length).toBe(1);
    await a.stop();
    await world.l1.mine(1); // seenAt + 3, while a is down
    const a2 = await startChannelNode(world.l1.client(), 'a2', world.l1.accounts[3]!, { ...opts, dataDir });
    nodes.push(a2);
    await a2.poll();
    expect(a2.channelState(id).closedSeenAt).toBe(seenAt);
    expect(world.l1.height()).toBe(seenAt + 3);
    // (the payment's own record says 'failed' already: stop() ends a pending pay() call; its HTLC's
    // link is what the fail-back resolves)
    expect(links(a2).length).toBe(1);
    expect(a2.channelState(id).status).toBe('closing');
    await world.l1.mine(1); // seenAt + 4: N deep counted from the first sight, before the restart
    await a2.poll();
    await waitUntil(() => links(a2).length === 0, 'the HTLC is failed back off chain (its link resolved)', 10_000, 20);
    await waitUntil(() => a2.channelState(id).status === 'closed', 'a records the channel closed', 10_000, 50);
  }, 60_000);

  it('a channel stored closed with an HTLC of ours unresolved (as an older version left it) is watched again after a restart, and the HTLC fails back once deep', async () => {
    const N = 2;
    const { a, id } = await payIntoSilenceAndClose('5', [10, 11], N);
    // biome-ignore lint/suspicious/noExplicitAny: the data dir of the node to restart
    const dataDir = (a as any).opts.dataDir as string;
    expect(links(a).length).toBe(1);
    await a.stop();
    // what an older version stored: the channel 'closed' (its chain watch over) with the link still out
    const store = ChannelStore.open(dataDir);
    const key = `ch:${toHex(id)}`;
    const rec = store.get<Record<string, unknown>>(key);
    await store.put(key, { ...rec, status: 'closed' });
    await store.close();
    const a2 = await startChannelNode(world.l1.client(), 'a5b', world.l1.accounts[10]!, { requestTimeoutMs: 60_000, closeConfirmations: N, dataDir });
    nodes.push(a2);
    expect(links(a2).length).toBe(1);
    expect(a2.channelState(id).status).toBe('closing');
    await world.l1.mine(N);
    await a2.poll();
    await waitUntil(() => links(a2).length === 0, 'the HTLC is failed back off chain (its link resolved)', 10_000, 20);
    await waitUntil(() => a2.channelState(id).status === 'closed', 'a records the channel closed again', 10_000, 50);
  }, 60_000);

  it('a channel that is closing resumes no commitment round after a reconnect: its accepted round sends no COMMIT', async () => {
    const a = await startChannelNode(world.l1.client(), 'a6', world.l1.accounts[12]!, { requestTimeoutMs: 60_000, closeConfirmations: 2 });
    const b = await startChannelNode(world.l1.client(), 'b6', world.l1.accounts[13]!, { closeConfirmations: 2 });
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    // a's COMMIT never leaves: its round stays accepted (both signatures of the new state held)
    // biome-ignore lint/suspicious/noExplicitAny: holding back a's COMMIT
    const ap = a as any;
    const realSend = ap.send.bind(a);
    let commits = 0;
    ap.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type === 5) {
        commits++;
        throw new StrataError('NETWORK', 'COMMIT held back in this test');
      }
      return realSend(peer, type, body, t);
    };
    const inv = await b.createInvoice(10_000n);
    a.pay(inv.invoice).catch(() => undefined);
    await waitUntil(() => commits === 1, 'a tried to send its COMMIT', 10_000, 5);
    await waitUntil(() => [...ap.channels.values()][0]?.round?.stage === 'accepted', 'a holds an accepted round', 10_000, 5);
    await a.closeChannel(id, true);
    expect(a.channelState(id).status).toBe('closing');
    // the peer reconnects: the closing channel resumes nothing
    ap.reestablish(key);
    await new Promise((r) => setTimeout(r, 300));
    expect(commits).toBe(1);
    // stopped here: their chain watch (settle, …) would mine blocks under the next tests' feet
    await a.stop();
    await b.stop();
  }, 60_000);

  /**
   * The finding itself: a closes with version 0 while b holds both signatures of version 1 with
   * a's add (a refused b's COMMIT); b's `update` does not land on the first branch, so that close
   * settles with version 0 and the add is in no final state. A reorganisation then brings back a
   * branch where b's update lands in time and the add's preimage is revealed by its expiry: b can
   * claim a's HTLC on chain. With the depth, a did not fail its payment back at the first sight of
   * CH_CLOSED, resets the height when the close is gone, and settles the payment with the revealed
   * preimage; without it the payment was failed (a payer then retries and pays twice).
   */
  it('a reorganisation that undoes the close and lands the peer\'s newer state with the add: the payment was not failed back, it settles with the preimage revealed on chain', async () => {
    const N = 4;
    let bMayUpdate = false;
    const { a, b, id, aPaid, aInvoice } = await counterAddRefusedCommit(world.l1, nodes, '3', [5, 6], () => bMayUpdate, { closeConfirmations: N });
    const reader = new AdjudicatorReader(world.l1.client());
    const closing = await reader.channel(id);
    expect(closing?.status).toBe(1);
    const disputeEnd = closing!.disputeEnd;
    // the fork point: b's update must still land on the new branch (before disputeEnd)
    while (world.l1.height() < disputeEnd - 2) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(world.l1.height()).toBe(disputeEnd - 2);
    const fork = world.l1.node.chain.blockAt(disputeEnd - 2)!.hash;
    await mineUntilClosed(world.l1, id);
    await a.poll();
    await b.poll();
    const seenAt = a.channelState(id).closedSeenAt;
    expect(seenAt).toBeDefined();
    expect((await reader.channel(id))?.state.version).toBe(0);
    expect(await outcomeWithin(aPaid, 300)).toBe('pending');
    expect(b.channelState(id).status).toBe('closing');

    // the reorganisation: the blocks from disputeEnd - 1 on (the settle among them) are gone
    await world.l1.node.rewindTo(fork);
    expect(world.l1.height()).toBe(disputeEnd - 2);
    await a.poll();
    expect(a.channelState(id).closedSeenAt).toBeUndefined();
    expect((await reader.channel(id))?.status).toBe(1);
    // on this branch b's newer state lands in the delay (b's chain watch sends it) …
    bMayUpdate = true;
    await waitUntil(async () => (await reader.channel(id))?.state.version === 1, "b's newer state lands", 10_000, 50);
    const rec = await reader.channel(id);
    expect(rec?.status).toBe(1);
    const ours = rec!.state.htlcs.find((x) => x.offerer === 0);
    expect(ours).toBeDefined();
    // … and the add's preimage is revealed by its expiry (b, the payee, knows it): b can claim it
    // biome-ignore lint/suspicious/noExplicitAny: the payee's invoice preimage
    const preimage = (b.store.get(`inv:${aInvoice.paymentHash}`) as any).preimage as Uint8Array;
    await sendAndWait(world.l1.client(), world.l1.accounts[7]!.keys, 'reveal', encode(RevealArgs, { preimage }));
    await a.poll();
    expect(await within(aPaid, 10_000, "a's pay()")).toBeDefined();
    expect(a.channelState(id).closedSeenAt).toBeUndefined();
  }, 90_000);

  it('a reorganisation that replaces the close with another one between two looks (while the node is not watching): the depth counts anew from the new close, not from the first', async () => {
    const N = 4;
    let bMayUpdate = false;
    const { a, b, id } = await counterAddRefusedCommit(world.l1, nodes, '4', [8, 9], () => bMayUpdate, { closeConfirmations: N });
    const reader = new AdjudicatorReader(world.l1.client());
    const disputeEnd = (await reader.channel(id))!.disputeEnd;
    while (world.l1.height() < disputeEnd - 2) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    const fork = world.l1.node.chain.blockAt(disputeEnd - 2)!.hash;
    await mineUntilClosed(world.l1, id);
    await a.poll();
    const seenAt = a.channelState(id).closedSeenAt as number;
    expect(seenAt).toBeDefined();
    expect((await reader.channel(id))?.state.version).toBe(0);
    // a looks away (down, or between two polls): the close it saw is replaced by another
    // biome-ignore lint/suspicious/noExplicitAny: pausing the chain watch under test
    const ap = a as any;
    const watch = ap.watchChannel;
    ap.watchChannel = async () => undefined;
    await world.l1.node.rewindTo(fork);
    bMayUpdate = true;
    await waitUntil(async () => (await reader.channel(id))?.state.version === 1, "b's newer state lands", 10_000, 50);
    await mineUntilClosed(world.l1, id);
    // b (which now also settles after the delay, and sends again its settle the rewind dropped,
    // instead of a refused update at every look) sends nothing more: a transaction of its own
    // would seal a block between a's look and the height read below
    await b.stop();
    await world.l1.mine(1);
    expect((await reader.channel(id))?.state.version).toBe(1);
    while (world.l1.height() < seenAt + N) await world.l1.mine(1);
    // counted from the first close, this one would pass for N deep already
    ap.watchChannel = watch;
    await a.poll();
    const now = world.l1.height();
    expect(a.channelState(id).closedSeenAt).toBe(now);
    expect(now - seenAt).toBeGreaterThanOrEqual(N);
  }, 90_000);

  /**
   * Review finding (reorganisations, 1): the same close lands again, higher, on a new branch
   * while the node is not looking. Its identity (final state, ending) is the one first seen, so
   * before the fix the node kept the first sight's height and, at a head N above it, failed the
   * add back while the close on this branch was only N - 2 deep. Now the node keeps the block it
   * first saw the close at and, that block gone from the chain, counts again from the head.
   */
  it('the same close landing again higher after a reorganisation between two looks: the depth counts anew (the block it was first seen at is gone)', async () => {
    const N = 4;
    const { a, b, id, seenAt } = await payIntoSilenceAndClose('7', [14, 15], N);
    // b's chain watch would send the settle on the new branch at once; a's is paused below
    await b.stop();
    const reader = new AdjudicatorReader(world.l1.client());
    const disputeEnd = (await reader.channel(id))!.disputeEnd;
    expect(seenAt).toBeGreaterThanOrEqual(disputeEnd);
    // biome-ignore lint/suspicious/noExplicitAny: pausing the chain watch under test
    const ap = a as any;
    const watch = ap.watchChannel;
    ap.watchChannel = async () => undefined;
    // the settle (at disputeEnd or above) is dropped; the same settle, sent by anyone, lands two
    // blocks above the first sight on the new branch
    await world.l1.node.rewindTo(world.l1.node.chain.blockAt(disputeEnd - 1)!.hash);
    expect((await reader.channel(id))?.status).toBe(1);
    while (world.l1.height() < seenAt + 1) await world.l1.mine(1);
    await sendAndWait(world.l1.client(), world.l1.accounts[16]!.keys, 'settle', encode(ChannelRefArgs, { channelId: id }));
    const landed = world.l1.height();
    expect(landed).toBe(seenAt + 2);
    while (world.l1.height() < seenAt + N) await world.l1.mine(1);
    ap.watchChannel = watch;
    await a.poll();
    // counted from the first sight, the close would pass for N deep and the add be failed back
    expect(links(a).length).toBe(1);
    expect(a.channelState(id).closedSeenAt).toBe(seenAt + N);
    expect(a.channelState(id).status).toBe('closing');
    for (let i = 1; i < N; i++) {
      await world.l1.mine(1);
      await a.poll();
      expect(links(a).length).toBe(1);
    }
    await world.l1.mine(1);
    await a.poll();
    await waitUntil(() => links(a).length === 0, 'the HTLC is failed back once the new landing is N deep', 10_000, 20);
    await waitUntil(() => a.channelState(id).status === 'closed', 'a records the channel closed', 10_000, 50);
  }, 60_000);

  /**
   * Review finding (reorganisations, 2): an on-chain action the node sent (here its settle)
   * lands, and a reorganisation drops the block holding it. Before the fix its flag in the
   * channel record stayed set and the node never sent it again: the channel stayed closing
   * forever on the new branch. Now the flag holds the transaction: an action whose effect the
   * chain lacks, with its transaction neither included nor pending, is sent again.
   */
  it('a settle the node sent that a reorganisation drops is sent again on the new branch', async () => {
    const N = 2;
    const { a, b, id } = await payIntoSilence(world.l1, nodes, '8', [17, 18], N);
    // only a sends the settle
    await b.stop();
    await a.closeChannel(id, true);
    await mineUntilClosed(world.l1, id);
    const reader = new AdjudicatorReader(world.l1.client());
    const disputeEnd = (await reader.channel(id))!.disputeEnd;
    await world.l1.node.rewindTo(world.l1.node.chain.blockAt(disputeEnd - 1)!.hash);
    expect((await reader.channel(id))?.status).toBe(1);
    // blocks come on the new branch: a's chain watch must settle the channel again
    for (let i = 0; i < 8 && (await reader.channel(id))?.status !== 2; i++) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect((await reader.channel(id))?.status).toBe(2);
    expect((await reader.channel(id))?.ending).toBe(2);
  }, 60_000);

  it('a close first seen by an older version (no block recorded with it) counts anew from the head after a restart: it only waits longer', async () => {
    const N = 2;
    const { a, id, seenAt } = await payIntoSilenceAndClose('9', [19, 20], N);
    // biome-ignore lint/suspicious/noExplicitAny: the data dir of the node to restart
    const dataDir = (a as any).opts.dataDir as string;
    await world.l1.mine(1);
    await a.stop();
    // what an older version stored: the first sight without the block it was seen at
    const store = ChannelStore.open(dataDir);
    const key = `ch:${toHex(id)}`;
    const { closedSeenBlock: _, ...older } = store.get<Record<string, unknown>>(key)!;
    expect(older.closedSeenAt).toBe(seenAt);
    await store.put(key, older);
    await store.close();
    const a2 = await startChannelNode(world.l1.client(), 'a9b', world.l1.accounts[19]!, { requestTimeoutMs: 60_000, closeConfirmations: N, dataDir });
    nodes.push(a2);
    await a2.poll();
    expect(a2.channelState(id).closedSeenAt).toBe(seenAt + 1);
    await world.l1.mine(1); // seenAt + N: deep counted from the first sight, not from the head it re-anchored at
    await a2.poll();
    expect(links(a2).length).toBe(1);
    await world.l1.mine(1);
    await a2.poll();
    await waitUntil(() => links(a2).length === 0, 'the HTLC is failed back off chain', 10_000, 20);
  }, 60_000);

  /**
   * An action whose transaction is still pending is waited for, never sent twice: a tick that
   * gave up waiting (here after 500 ms, the chain sealing no blocks) finds it pending at the
   * next look. Before, a wait that timed out cleared the flag and every later look sent another
   * settle (each but one then failing on chain).
   */
  it('a settle still pending when the wait for it gives up is not sent again while it is pending', async () => {
    const chain = world.l1.client();
    const realWait = chain.waitReceipt.bind(chain);
    chain.waitReceipt = (h) => realWait(h, 500);
    const aAcct = world.l1.accounts[21]!;
    const a = await startChannelNode(chain, 'a10', aAcct, { requestTimeoutMs: 60_000, closeConfirmations: 2 });
    const b = await startChannelNode(world.l1.client(), 'b10', world.l1.accounts[22]!, { closeConfirmations: 2 });
    nodes.push(a, b);
    const id = await a.openChannel(await a.connect(b.p2p.multiaddrs[0]!), 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    await b.stop();
    await a.closeChannel(id, true);
    const reader = new AdjudicatorReader(world.l1.client());
    const disputeEnd = (await reader.channel(id))!.disputeEnd;
    const pendingSettles = () => world.l1.node.mempool.all().filter((v) => bytesEqual(v.sender, aAcct.keys.address) && v.tx.method === 'settle').length;
    world.l1.node.setBlockInterval(3_600_000);
    try {
      while (world.l1.height() < disputeEnd) await world.l1.mine(1);
      await waitUntil(() => pendingSettles() > 0, "a's settle is pending", 10_000, 20);
      // several looks, each of whose waits gives up after 500 ms
      await new Promise((r) => setTimeout(r, 2500));
      expect(pendingSettles()).toBe(1);
    } finally {
      world.l1.node.setBlockInterval(0);
    }
    await world.l1.mine(1);
    expect((await reader.channel(id))?.status).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(pendingSettles()).toBe(0);
    await a.stop();
  }, 60_000);
  /**
   * Review finding H1 (nonce gap): our transaction A (nonce n) lands, B (n+1) is pending, and a
   * reorganisation drops A's block (A gone, not re-pooled). The chain's next nonce is n again
   * (its pool holds n+1), but RpcChainClient's own count (n+2, its last transaction B still
   * known) overrode it: the resend of A's action got n+2, and A's nonce n stayed a gap no block
   * fills — B and the resend pending forever. Now the next nonce is the first from the chain's at
   * which we hold no transaction the chain still knows: n, and all three land.
   */
  it('a resend after a reorganisation dropped our nonce-n transaction while n+1 is pending fills nonce n (no gap)', async () => {
    const c = world.l1.client();
    const acc = world.l1.accounts[23]!;
    const args = encode(ChannelRefArgs, { channelId: new Uint8Array(32).fill(7) });
    world.l1.node.setBlockInterval(3_600_000);
    try {
      const base = world.l1.node.chain.blockAt(world.l1.height())!.hash;
      const a = await c.send(acc.keys, 'settle', args); // nonce n
      await world.l1.mine(1);
      const b = await c.send(acc.keys, 'settle', args); // nonce n+1, pending
      expect(await c.txStatus(a)).toMatchObject({ height: world.l1.height() });
      expect(await c.txStatus(b)).toBe('pending');
      await world.l1.node.rewindTo(base); // drops A; B stays pooled behind the gap
      expect(await c.txStatus(a)).toBeUndefined();
      const d = await c.send(acc.keys, 'settle', args); // the resend of A's action
      const nonceOf = (h: Uint8Array) => world.l1.node.mempool.all().find((v) => bytesEqual(v.hash, h))?.tx.nonce;
      expect(nonceOf(d)).toBe(nonceOf(b)! - 1); // no gap: d took A's nonce n
      await world.l1.mine(2);
      expect(await c.txStatus(b)).toMatchObject({ height: expect.any(Number) });
      expect(await c.txStatus(d)).toMatchObject({ height: expect.any(Number) });
    } finally {
      world.l1.node.setBlockInterval(0);
    }
  }, 30_000);
  /**
   * Review finding M1: the adjudicator refuses `update` and `penalize` once the dispute delay has
   * ended. A node that was down past `disputeEnd` while the peer's older state was published
   * sent its newer state (a transaction failing on chain, its fee spent) at every look and
   * returned before `settle`: it never settled. Now it publishes only while the delay runs and,
   * after it, settles the published state.
   */
  it('a node back after the dispute delay ended does not publish its newer state (refused on chain): it settles', async () => {
    let bMayUpdate = false;
    const { a, b, id } = await counterAddRefusedCommit(world.l1, nodes, '11', [24, 25], () => bMayUpdate, { closeConfirmations: 2 });
    const reader = new AdjudicatorReader(world.l1.client());
    const rec = (await reader.channel(id))!;
    expect(rec.state.version).toBe(0);
    // biome-ignore lint/suspicious/noExplicitAny: the data dir of the node to restart
    const bDir = (b as any).opts.dataDir as string;
    await a.stop(); // the closer settles nothing: only b can
    await b.stop();
    while (world.l1.height() < rec.disputeEnd + 1) await world.l1.mine(1);
    bMayUpdate = true;
    const bChain = world.l1.client();
    const sent: string[] = [];
    const realSend = bChain.send.bind(bChain);
    bChain.send = (k, method, args) => {
      sent.push(method);
      return realSend(k, method, args);
    };
    const b2 = await startChannelNode(bChain, 'b11b', world.l1.accounts[25]!, { closeConfirmations: 2, dataDir: bDir });
    nodes.push(b2);
    for (let i = 0; i < 10 && (await reader.channel(id))?.status !== 2; i++) {
      await b2.poll().catch(() => undefined);
      await world.l1.mine(1);
    }
    expect(sent).not.toContain('update');
    expect((await reader.channel(id))?.status).toBe(2);
    expect((await reader.channel(id))?.ending).toBe(2);
  }, 90_000);
  /**
   * Review finding L1: a wait for an action's receipt that ends in an error other than a time-out
   * (here the RPC answering tx_getReceipt with an internal error) cleared the action's flag while
   * its transaction was still pending: the next look sent a duplicate. Now a flag holding a
   * transaction is never cleared: the next look's lookup decides (pending: waited for).
   */
  it('a settle whose receipt wait fails with an RPC error is not sent again while it is pending', async () => {
    const chain = world.l1.client();
    const realWait = chain.waitReceipt.bind(chain);
    chain.waitReceipt = (h) =>
      realWait(h, 300).catch(() => {
        throw new RpcError(-32603, 'internal error');
      });
    const aAcct = world.l1.accounts[26]!;
    const a = await startChannelNode(chain, 'a12', aAcct, { requestTimeoutMs: 60_000, closeConfirmations: 2 });
    const b = await startChannelNode(world.l1.client(), 'b12', world.l1.accounts[27]!, { closeConfirmations: 2 });
    nodes.push(a, b);
    const id = await a.openChannel(await a.connect(b.p2p.multiaddrs[0]!), 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    await b.stop();
    await a.closeChannel(id, true);
    const reader = new AdjudicatorReader(world.l1.client());
    const disputeEnd = (await reader.channel(id))!.disputeEnd;
    const pendingSettles = () => world.l1.node.mempool.all().filter((v) => bytesEqual(v.sender, aAcct.keys.address) && v.tx.method === 'settle').length;
    world.l1.node.setBlockInterval(3_600_000);
    try {
      while (world.l1.height() < disputeEnd) await world.l1.mine(1);
      await waitUntil(() => pendingSettles() > 0, "a's settle is pending", 10_000, 20);
      await new Promise((r) => setTimeout(r, 2000));
      expect(pendingSettles()).toBe(1);
    } finally {
      world.l1.node.setBlockInterval(0);
    }
    await world.l1.mine(1);
    expect((await reader.channel(id))?.status).toBe(2);
    await a.stop();
  }, 60_000);
});
