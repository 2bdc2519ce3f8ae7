/**
 * Adds of a commitment round that never completed, on a channel that then closes on chain: the
 * final on-chain state lacks them, so nobody can claim them there; once the close is final they
 * fail back off chain (a payment rejects, a forward fails its upstream HTLC). Before the fix only
 * the HTLCs of the published state were looked at: the payment hung forever and the upstream
 * peer went on chain at the expiry. Real L1 (blocks mined on demand), real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader, type ChannelNode } from '@strata/channels';
import { StrataError } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';

const world = channelTestWorld();
const nodes = world.nodes;

/** The peer takes the PROPOSE and never answers it (a peer gone mid-round). */
function neverAnswerProposals(n: ChannelNode): () => boolean {
  let got = false;
  // biome-ignore lint/suspicious/noExplicitAny: the peer vanishes mid-round
  (n as any).onPropose = () => {
    got = true;
    return new Promise(() => undefined);
  };
  return () => got;
}

/** Mines a block at a time until the channel's close is final (CH_CLOSED). */
async function mineUntilClosed(id: Uint8Array): Promise<void> {
  const reader = new AdjudicatorReader(world.l1.client());
  for (let i = 0; i < 30; i++) {
    if ((await reader.channel(id))?.status === 2) return;
    await world.l1.mine(1);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the channel did not close on chain');
}

/** Settles within `ms`, or rejects saying it hung. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: still pending after ${ms} ms`)), ms))]);
}

describe('a close with a commitment round unfinished', () => {
  it('our add only in a proposed round, the peer gone, force close: pay() rejects once the close is final', async () => {
    const a = await startChannelNode(world.l1.client(), 'a', world.l1.accounts[1]!, { requestTimeoutMs: 60_000 });
    const b = await startChannelNode(world.l1.client(), 'b', world.l1.accounts[2]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    const inv = await b.createInvoice(10_000n);
    const proposed = neverAnswerProposals(b);
    let settled = false;
    const paid = a.pay(inv.invoice).then(
      (r) => {
        settled = true;
        return r;
      },
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    paid.catch(() => undefined);
    await waitUntil(proposed, 'b got the proposal', 10_000, 5);
    await a.closeChannel(id, true);
    // during the dispute delay nothing fails yet (a newer state could still replace the published one)
    expect(settled).toBe(false);
    await mineUntilClosed(id);
    const e = await within(paid, 10_000, 'pay()').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toMatch(/^CHANNEL_/);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(id);
    expect(rec?.ending).toBe(2);
    expect(rec?.state.version).toBe(0);
    expect(rec?.state.htlcs).toEqual([]);
    // conserved: the whole capacity paid out, all of it to a (nothing reached b)
    expect(rec?.state.balanceA).toBe(1_000_000n);
    expect(rec?.state.balanceB).toBe(0n);
    await waitUntil(() => a.channelState(id).status === 'closed', 'a records the channel closed', 10_000, 50);
    // biome-ignore lint/suspicious/noExplicitAny: no link left behind
    expect([...((a as any).links as Map<string, unknown>).keys()]).toEqual([]);
  }, 60_000);

  it("a forward's add only in a proposed round downstream, the next hop gone, the forwarder force closes: the upstream HTLC fails off chain", async () => {
    const alice = await startChannelNode(world.l1.client(), 'alice', world.l1.accounts[3]!);
    const bob = await startChannelNode(world.l1.client(), 'bob', world.l1.accounts[4]!, { requestTimeoutMs: 60_000 });
    const carol = await startChannelNode(world.l1.client(), 'carol', world.l1.accounts[5]!);
    nodes.push(alice, bob, carol);
    const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
    const carolKey = await bob.connect(carol.p2p.multiaddrs[0]!);
    const ab = await alice.openChannel(bobKey, 1_000_000n);
    const bc = await bob.openChannel(carolKey, 1_000_000n);
    await waitUntil(() => alice.graph.channel(bc)?.policies[0] !== undefined && alice.graph.channel(bc)?.policies[1] !== undefined, 'alice learns B–C', 15_000, 50);
    const inv = await carol.createInvoice(10_000n);
    const proposed = neverAnswerProposals(carol);
    const paid = alice.pay(inv.invoice);
    paid.catch(() => undefined);
    await waitUntil(proposed, "carol got bob's proposal", 10_000, 5);
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the A–B HTLC is committed', 10_000, 20);
    await bob.closeChannel(bc, true);
    await mineUntilClosed(bc);
    const e = await within(paid, 10_000, "alice's pay()").then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toMatch(/^CHANNEL_/);
    // failed off chain: A–B is still open, its HTLC gone on both sides, nothing moved
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0 && bob.channelState(ab).state.htlcs.length === 0 && alice.channelState(ab).state.version === bob.channelState(ab).state.version, 'the A–B HTLC is failed back', 10_000, 20);
    expect(alice.channelState(ab).status).toBe('open');
    expect(alice.channelState(ab).state.balanceA + alice.channelState(ab).state.balanceB).toBe(1_000_000n);
    expect(alice.channelState(ab).state.balanceB).toBe(0n);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(bc);
    expect(rec?.state.htlcs).toEqual([]);
    expect((rec?.state.balanceA ?? 0n) + (rec?.state.balanceB ?? 0n)).toBe(1_000_000n);
  }, 60_000);

  /**
   * a is the receiver of b's round and puts its own add in its answer (counter); b's COMMIT
   * comes only after a has closed with version 0, and a refuses it. b holds both signatures of
   * version 1 (with a's add): if b publishes it during the delay the add is in the final state and
   * settles on chain; if not, the add fails back once the close is final.
   */
  async function counterAddRefusedCommit(tag: string, accounts: [number, number], bUpdates: boolean) {
    const bChain = world.l1.client();
    if (!bUpdates) {
      const realSend = bChain.send.bind(bChain);
      bChain.send = (k, method, args) => (method === 'update' ? Promise.reject(new StrataError('NETWORK', 'b publishes no newer state in this test')) : realSend(k, method, args));
    }
    const a = await startChannelNode(world.l1.client(), `a${tag}`, world.l1.accounts[accounts[0]]!);
    const b = await startChannelNode(bChain, `b${tag}`, world.l1.accounts[accounts[1]]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n, 400_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    // biome-ignore lint/suspicious/noExplicitAny: a proposes nothing itself: its add waits for b's round
    const ap = a as any;
    ap.propose = async () => undefined;
    const aCh = () => (ap.channels as Map<string, { queue: { kind: string }[]; round?: { role: string; counter?: { kind: string }[] } }>).values().next().value!;
    const aPaid = a.pay((await b.createInvoice(10_000n)).invoice);
    aPaid.catch(() => undefined);
    await waitUntil(() => aCh().queue.some((u) => u.kind === 'add'), "a's add is queued", 10_000, 5);
    // b's COMMIT waits until a has closed
    let aClosed = false;
    let commitAnswered = false;
    // biome-ignore lint/suspicious/noExplicitAny: holding back b's COMMIT
    const bp = b as any;
    const realSend = bp.send.bind(b);
    bp.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type !== 5) return realSend(peer, type, body, t);
      await waitUntil(() => aClosed, 'a closed', 20_000, 10);
      return realSend(peer, type, body, t).finally(() => {
        commitAnswered = true;
      });
    };
    const bPaid = b.pay((await a.createInvoice(5_000n)).invoice);
    bPaid.catch(() => undefined);
    await waitUntil(() => aCh().round?.role === 'receiver' && (aCh().round?.counter ?? []).some((u) => u.kind === 'add'), "a accepted b's round with its add", 10_000, 5);
    await a.closeChannel(id, true);
    aClosed = true;
    await waitUntil(() => commitAnswered, "a refuses b's COMMIT", 10_000, 5);
    await mineUntilClosed(id);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(id);
    expect(rec?.ending).toBe(2);
    expect(rec!.state.balanceA + rec!.state.balanceB + rec!.state.htlcs.reduce((x, h) => x + h.amount, 0n)).toBe(1_000_000n);
    return { a, b, id, rec: rec!, aPaid, bPaid };
  }

  it("our add in the answer to the peer's round, its COMMIT refused as we close, the peer publishes nothing newer: both adds fail back at the final close", async () => {
    const { aPaid, bPaid, rec } = await counterAddRefusedCommit('3', [6, 7], false);
    expect(rec.state.version).toBe(0);
    expect(rec.state.htlcs).toEqual([]);
    for (const [p, who] of [[aPaid, 'a'], [bPaid, 'b']] as const) {
      const e = await within(p as Promise<unknown>, 10_000, `${who}'s pay()`).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(StrataError);
      expect((e as StrataError).code).toMatch(/^CHANNEL_/);
    }
  }, 60_000);

  it("the same, but the peer publishes the round's state during the delay: our add is in the final state and settles on chain, not failed back", async () => {
    const { aPaid, rec } = await counterAddRefusedCommit('4', [8, 9], true);
    expect(rec.state.version).toBe(1);
    expect(rec.state.htlcs.length).toBe(2);
    // the add is in the final state: it resolves on chain (b's preimage, or a's refund at its
    // expiry), never failed back off chain — b could still claim it
    const outcome = await Promise.race([aPaid.then(() => 'succeeded', () => 'failed'), new Promise((r) => setTimeout(() => r('pending'), 1500))]);
    expect(outcome).not.toBe('failed');
  }, 60_000);
});
