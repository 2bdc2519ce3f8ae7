/**
 * Channels on the L1: three channel nodes (real libp2p sockets on loopback) over a real dev L1
 * node with the adjudicator. Multi-hop payments with onions, invoices, limits, closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicatorAddress, type ChannelNode, readChannelRecord, END_COOPERATIVE, END_SETTLED } from '@strata/channels';
import { fromHex, isStrataError } from '@strata/primitives';
import { getAccount } from '@strata/runtime';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, startChannelNode, startTestL1, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let bob: ChannelNode;
let carol: ChannelNode;
let ab: Uint8Array;
let bc: Uint8Array;

const CAP = 1_000_000n;

function conserved(n: ChannelNode, id: Uint8Array): void {
  const s = n.channelState(id).state;
  const total = s.balanceA + s.balanceB + s.htlcs.reduce((a, h) => a + h.amount, 0n);
  expect(total).toBe(CAP);
}

beforeAll(async () => {
  l1 = await startTestL1();
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!);
  bob = await startChannelNode(l1.client(), 'bob', l1.accounts[2]!);
  carol = await startChannelNode(l1.client(), 'carol', l1.accounts[3]!);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  const carolKey = await bob.connect(carol.p2p.multiaddrs[0]!);
  ab = await alice.openChannel(bobKey, CAP);
  bc = await bob.openChannel(carolKey, CAP);
  await waitUntil(() => alice.graph.channels.size === 2 && [...alice.graph.channels.values()].every((c) => c.policies[0] && c.policies[1]), 'alice learns both channels', 15_000, 50);
}, 60_000);

afterAll(async () => {
  for (const n of [alice, bob, carol]) await n?.stop();
  await l1?.stop();
  cleanupDirs();
});

describe('channels on the L1', () => {
  it('announcements are tied to on-chain opens; the graph holds both channels with policies', async () => {
    const rec = readChannelRecord(l1.node.chain.stateReader, ab);
    expect(rec?.capacity).toBe(CAP);
    expect(getAccount(l1.node.chain.stateReader, adjudicatorAddress()).balance).toBe(2n * CAP);
    expect(alice.graph.nodes.size).toBeGreaterThanOrEqual(1);
  });

  it('a three-hop payment Alice → Bob → Carol settles on every hop; value conserved after every update', async () => {
    const { invoice } = await carol.createInvoice(10_000n, 'coffee');
    const r = await alice.pay(invoice);
    expect(r.routes[0]?.hops).toEqual(['bob', 'carol']);
    expect(BigInt(r.fee)).toBeGreaterThan(0n);
    await waitUntil(() => carol.channelState(bc).state.htlcs.length === 0 && alice.channelState(ab).state.htlcs.length === 0, 'htlcs cleared', 5000, 20);
    for (const [n, id] of [[alice, ab], [bob, ab], [bob, bc], [carol, bc]] as const) conserved(n, id);
    expect(carol.channelState(bc).state.balanceB).toBe(10_000n);
    expect(alice.channelState(ab).state.balanceA).toBe(CAP - 10_000n - BigInt(r.fee));
  });

  it('an invoice paid twice is refused, atomically: no balance moves on any hop, the payer learns the last hop failed', async () => {
    const { invoice } = await carol.createInvoice(5_000n);
    await alice.pay(invoice);
    await waitUntil(() => bob.channelState(bc).state.htlcs.length === 0, 'settled', 5000, 20);
    // a second payment attempt (a different payer state: forget locally) must fail at Carol
    const before = [alice.channelState(ab).state, bob.channelState(bc).state];
    await expect(alice.pay(invoice)).rejects.toThrow(/already/);
    const other = await bob.pay(invoice).catch((e) => e);
    expect(isStrataError(other, 'CHANNEL_PAYMENT_FAILED')).toBe(true);
    expect((other.meta.failures as { hop: number; node: string }[])[0]?.node).toBe('carol');
    await waitUntil(() => bob.channelState(bc).state.htlcs.length === 0, 'failed htlc removed', 5000, 20);
    expect(alice.channelState(ab).state.balanceA).toBe(before[0]!.balanceA);
    expect(bob.channelState(bc).state.balanceA).toBe(before[1]!.balanceA);
  });

  it('an expired invoice is refused by the payer and by the payee', async () => {
    const { invoice } = await carol.createInvoice(1_000n, 'soon gone', 1);
    await new Promise((r) => setTimeout(r, 2100));
    await expect(alice.pay(invoice)).rejects.toThrow(/expired/);
  });

  it('limits: the receiver refuses a commitment breaking dust, reserve, max HTLCs or max in flight', async () => {
    const hash = new Uint8Array(32).fill(7);
    const onion = new Uint8Array(1366);
    const h = l1.height() + 50;
    const dust = await alice.sendRawProposal(ab, [{ kind: 'add', id: 9_000, amount: 0n, hash, expiry: h, onion }]);
    expect(dust.ok).toBe(false);
    expect(dust.reason).toMatch(/CHANNEL_LIMIT.*dust/);
    const reserve = await alice.sendRawProposal(ab, [{ kind: 'add', id: 9_001, amount: CAP, hash, expiry: h, onion }]);
    expect(reserve.reason).toMatch(/CHANNEL_LIMIT.*reserve/);
    const many = Array.from({ length: 484 }, (_, i) => ({ kind: 'add' as const, id: 10_000 + i, amount: 10n, hash, expiry: h, onion }));
    const tooMany = await alice.sendRawProposal(ab, many);
    expect(tooMany.reason).toMatch(/CHANNEL_LIMIT.*max_accepted_htlcs/);
    const soon = await alice.sendRawProposal(ab, [{ kind: 'add', id: 9_002, amount: 10n, hash, expiry: l1.height() + 1, onion }]);
    expect(soon.reason).toMatch(/too close/);
    const fake = await alice.sendRawProposal(ab, [{ kind: 'fulfil', id: 0, preimage: new Uint8Array(32) }]);
    expect(fake.reason).toMatch(/CHANNEL_INVALID/);
    // nothing changed
    conserved(bob, ab);
  });

  it('multi-path: a payment larger than any one channel is split over two parallel routes', async () => {
    const bobKey = bob.nodeKey;
    const carolKey = carol.nodeKey;
    const ab2 = await alice.openChannel(bobKey, CAP);
    const bc2 = await bob.openChannel(carolKey, CAP);
    await waitUntil(() => alice.graph.channels.size === 4 && [...alice.graph.channels.values()].every((c) => c.policies[0] && c.policies[1]), 'alice learns the new channels', 15_000, 50);
    const { invoice } = await carol.createInvoice(1_500_000n, 'big');
    const r = await alice.pay(invoice);
    expect(r.parts).toBeGreaterThanOrEqual(2);
    await waitUntil(() => carol.channelState(bc2).state.htlcs.length === 0 && carol.channelState(bc).state.htlcs.length === 0, 'settled', 5000, 20);
    const got = carol.channelState(bc).state.balanceB + carol.channelState(bc2).state.balanceB;
    expect(got).toBe(10_000n + 5_000n + 1_500_000n);
    void ab2;
  });

  it('cooperative close pays both sides in one L1 transaction', async () => {
    const rec0 = readChannelRecord(l1.node.chain.stateReader, ab)!;
    const payB0 = getAccount(l1.node.chain.stateReader, rec0.payB).balance;
    const h0 = l1.height();
    // the close first lets the multi-path payment's HTLCs settle (pay returns at the preimage)
    const r = await alice.closeChannel(ab);
    const s = alice.channelState(ab).state;
    expect(s.htlcs).toHaveLength(0);
    expect(r.how).toBe('cooperative');
    expect(r.height).toBe(h0 + 1);
    const rec = readChannelRecord(l1.node.chain.stateReader, ab)!;
    expect(rec.ending).toBe(END_COOPERATIVE);
    expect(getAccount(l1.node.chain.stateReader, rec0.payB).balance - payB0).toBe(s.balanceB);
  });

  it('a unilateral close pays out only after the dispute delay', async () => {
    const rec0 = readChannelRecord(l1.node.chain.stateReader, bc)!;
    const s = carol.channelState(bc).state;
    const payB0 = getAccount(l1.node.chain.stateReader, rec0.payB).balance;
    const r = await carol.closeChannel(bc, true);
    expect(r.how).toBe('unilateral');
    const rec = readChannelRecord(l1.node.chain.stateReader, bc)!;
    expect(rec.disputeEnd).toBe(r.height + 3);
    // before the delay: nothing paid (carol's driver tries settle only when allowed; the chain refuses earlier)
    await new Promise((res) => setTimeout(res, 400));
    expect(readChannelRecord(l1.node.chain.stateReader, bc)!.ending).not.toBe(END_SETTLED);
    expect(getAccount(l1.node.chain.stateReader, rec0.payB).balance).toBeLessThanOrEqual(payB0);
    await l1.mine(3);
    await waitUntil(() => readChannelRecord(l1.node.chain.stateReader, bc)!.ending === END_SETTLED, 'settled after the delay', 10_000, 50);
    const gained = getAccount(l1.node.chain.stateReader, rec0.payB).balance - payB0;
    expect(gained).toBeGreaterThan(s.balanceB - 1_000_000n); // minus the close/settle fees
    expect(gained).toBeLessThanOrEqual(s.balanceB);
    void fromHex;
  });
});
