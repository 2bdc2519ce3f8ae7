/**
 * Helpers of the tests of a close with a commitment round unfinished (channels-close-unfinished,
 * channels-close-depth): a peer that takes a proposal and never answers, mining until a close is
 * final, a bound on how long a promise may hang, and the setup where our add sits in the answer to
 * the peer's round whose COMMIT we refuse because we closed.
 */
import { expect } from 'vitest';
import { AdjudicatorReader, type ChannelNode, type ChannelNodeOptions, type ChannelRecord } from '@strata/channels';
import { StrataError } from '@strata/primitives';
import { waitUntil } from './wait.js';
import { startChannelNode, type TestL1 } from './channels.js';

/** The peer takes the PROPOSE and never answers it (a peer gone mid-round); returns "did it get one". */
export function neverAnswerProposals(n: ChannelNode): () => boolean {
  let got = false;
  // biome-ignore lint/suspicious/noExplicitAny: the peer vanishes mid-round
  (n as any).onPropose = () => {
    got = true;
    return new Promise(() => undefined);
  };
  return () => got;
}

/** Mines a block at a time until the channel's close is final (CH_CLOSED) at the head. */
export async function mineUntilClosed(l1: TestL1, id: Uint8Array): Promise<void> {
  const reader = new AdjudicatorReader(l1.client());
  for (let i = 0; i < 30; i++) {
    if ((await reader.channel(id))?.status === 2) return;
    await l1.mine(1);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the channel did not close on chain');
}

/**
 * Mines until the close is final and then `depth` blocks more, one at a time with the nodes'
 * chain watch given time between them: the off-chain fail-backs of a node whose
 * `closeConfirmations` is at most `depth` have run (or are running) afterwards.
 */
export async function mineUntilClosedDeep(l1: TestL1, id: Uint8Array, depth: number): Promise<void> {
  await mineUntilClosed(l1, id);
  await new Promise((r) => setTimeout(r, 250));
  for (let i = 0; i < depth; i++) {
    await l1.mine(1);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Settles within `ms`, or rejects saying it hung. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: still pending after ${ms} ms`)), ms))]);
}

/** The outcome of a promise after at most `ms`: 'succeeded', 'failed' or 'pending'. */
export function outcomeWithin(p: Promise<unknown>, ms: number): Promise<'succeeded' | 'failed' | 'pending'> {
  return Promise.race([p.then(() => 'succeeded' as const, () => 'failed' as const), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

/**
 * a is the receiver of b's round and puts its own add in its answer (counter); b's COMMIT
 * comes only after a has closed with version 0, and a refuses it. b holds both signatures of
 * version 1 (with a's add) and publishes it with `update` during the delay only while
 * `bMayUpdate()` says so (its chain client refuses the transaction otherwise). Both nodes get
 * `opts`. Returns once b's COMMIT was refused, with the close still in its dispute delay.
 */
export async function counterAddRefusedCommit(l1: TestL1, nodes: ChannelNode[], tag: string, accounts: [number, number], bMayUpdate: () => boolean, opts: Partial<ChannelNodeOptions> = {}) {
  const bChain = l1.client();
  const realChainSend = bChain.send.bind(bChain);
  bChain.send = (k, method, args) => (method === 'update' && !bMayUpdate() ? Promise.reject(new StrataError('NETWORK', 'b publishes no newer state in this test')) : realChainSend(k, method, args));
  const a = await startChannelNode(l1.client(), `a${tag}`, l1.accounts[accounts[0]]!, opts);
  const b = await startChannelNode(bChain, `b${tag}`, l1.accounts[accounts[1]]!, opts);
  nodes.push(a, b);
  const key = await a.connect(b.p2p.multiaddrs[0]!);
  const id = await a.openChannel(key, 1_000_000n, 400_000n);
  await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
  // biome-ignore lint/suspicious/noExplicitAny: a proposes nothing itself: its add waits for b's round
  const ap = a as any;
  ap.propose = async () => undefined;
  const aCh = () => (ap.channels as Map<string, { queue: { kind: string }[]; round?: { role: string; counter?: { kind: string }[] } }>).values().next().value!;
  const aInvoice = await b.createInvoice(10_000n);
  const aPaid = a.pay(aInvoice.invoice);
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
  // b routes its payment by its graph: it must know the channel's policies first (else its pay()
  // failed at once with CHANNEL_NO_ROUTE and its round never came: a flake under load)
  await waitUntil(() => b.graph.channel(id)?.policies[0] !== undefined && b.graph.channel(id)?.policies[1] !== undefined, 'b learns the channel', 15_000, 20);
  const bPaid = b.pay((await a.createInvoice(5_000n)).invoice);
  bPaid.catch(() => undefined);
  await waitUntil(() => aCh().round?.role === 'receiver' && (aCh().round?.counter ?? []).some((u) => u.kind === 'add'), "a accepted b's round with its add", 10_000, 5);
  await a.closeChannel(id, true);
  aClosed = true;
  await waitUntil(() => commitAnswered, "a refuses b's COMMIT", 10_000, 5);
  return { a, b, id, aPaid, bPaid, aInvoice };
}

/** Checks conservation on a closed channel's record and returns it. */
export async function closedRecord(l1: TestL1, id: Uint8Array): Promise<ChannelRecord> {
  const rec = await new AdjudicatorReader(l1.client()).channel(id);
  expect(rec?.ending).toBe(2);
  expect(rec!.state.balanceA + rec!.state.balanceB + rec!.state.htlcs.reduce((x, h) => x + h.amount, 0n)).toBe(1_000_000n);
  return rec!;
}

/**
 * Alice–Bob–Carol, nodes `alice<tag>` … on `accounts`, with `closeConfirmations: depth` (Bob with
 * `bobOpts` too), A–B and B–C opened with 1,000,000 each, and Alice's graph knowing both of B–C's
 * policies. The nodes are pushed to `nodes` (stopped by the caller's afterEach).
 */
export async function startLine(l1: TestL1, nodes: ChannelNode[], tag: string, accounts: [number, number, number], depth: number, bobOpts: Record<string, unknown> = {}) {
  const alice = await startChannelNode(l1.client(), `alice${tag}`, l1.accounts[accounts[0]]!, { closeConfirmations: depth });
  const bob = await startChannelNode(l1.client(), `bob${tag}`, l1.accounts[accounts[1]]!, { ...bobOpts, closeConfirmations: depth });
  const carol = await startChannelNode(l1.client(), `carol${tag}`, l1.accounts[accounts[2]]!, { closeConfirmations: depth });
  nodes.push(alice, bob, carol);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  const carolKey = await bob.connect(carol.p2p.multiaddrs[0]!);
  const ab = await alice.openChannel(bobKey, 1_000_000n);
  const bc = await bob.openChannel(carolKey, 1_000_000n);
  await waitUntil(() => alice.graph.channel(bc)?.policies[0] !== undefined && alice.graph.channel(bc)?.policies[1] !== undefined, 'alice learns B–C', 15_000, 50);
  return { alice, bob, carol, ab, bc };
}

/**
 * Alice → Bob → Carol with channels A–B and B–C; Alice pays an invoice of Carol's, Carol takes
 * Bob's forwarding PROPOSE and never answers, so the add is only in a proposed round downstream;
 * Bob then force-closes B–C. Nodes run with `closeConfirmations: depth` (Bob with a long request
 * timeout, so his round waits). Returns the nodes, the channels, the invoice and Alice's pay().
 */
export async function forwardIntoSilenceAndClose(l1: TestL1, nodes: ChannelNode[], tag: string, accounts: [number, number, number], depth: number) {
  const { alice, bob, carol, ab, bc } = await startLine(l1, nodes, tag, accounts, depth, { requestTimeoutMs: 60_000 });
  const inv = await carol.createInvoice(10_000n);
  const proposed = neverAnswerProposals(carol);
  const paid = alice.pay(inv.invoice);
  paid.catch(() => undefined);
  await waitUntil(proposed, "carol got bob's proposal", 10_000, 5);
  await waitUntil(() => alice.channelState(ab).state.htlcs.length === 1, 'the A–B HTLC is committed', 10_000, 20);
  await bob.closeChannel(bc, true);
  return { alice, bob, carol, ab, bc, inv, paid };
}

/**
 * A pays an invoice of b's; b takes the add's PROPOSE and never answers, so the add is only in a
 * proposed round. Nodes run with `closeConfirmations: depth` (a with a long request timeout, so
 * its round waits). Returns the nodes, the channel, the invoice, a's pay() and whether it settled.
 */
export async function payIntoSilence(l1: TestL1, nodes: ChannelNode[], tag: string, accounts: [number, number], depth: number) {
  const a = await startChannelNode(l1.client(), `a${tag}`, l1.accounts[accounts[0]]!, { requestTimeoutMs: 60_000, closeConfirmations: depth });
  const b = await startChannelNode(l1.client(), `b${tag}`, l1.accounts[accounts[1]]!, { closeConfirmations: depth });
  nodes.push(a, b);
  const key = await a.connect(b.p2p.multiaddrs[0]!);
  const id = await a.openChannel(key, 1_000_000n);
  await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
  const inv = await b.createInvoice(10_000n);
  const proposed = neverAnswerProposals(b);
  let settled = false;
  const paid = a.pay(inv.invoice).finally(() => {
    settled = true;
  });
  paid.catch(() => undefined);
  await waitUntil(proposed, 'b got the proposal', 10_000, 5);
  return { a, b, id, inv, paid, isSettled: () => settled };
}

/** The links (HTLCs it offered, not yet resolved) a node holds. */
// biome-ignore lint/suspicious/noExplicitAny: internal state under test
export const linksOf = (n: ChannelNode): string[] => [...((n as any).links as Map<string, unknown>).keys()];
