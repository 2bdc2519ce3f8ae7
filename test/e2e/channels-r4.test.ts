/**
 * Review r4-ch (issue 10): what an honest pair of channel nodes must not end in. Real L1, real
 * libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader } from '@strata/channels';
import { StrataError } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';

const world = channelTestWorld();
const nodes = world.nodes;

describe('review r4-ch', () => {
  it('both sides asking for a cooperative close at the same moment close cooperatively (not two unilateral closes)', async () => {
    // a short request timeout: without the fix each side's CLOSE waits for it, then both close unilaterally
    const opts = { requestTimeoutMs: 3000 };
    const a = await startChannelNode(world.l1.client(), 'a', world.l1.accounts[1]!, opts);
    const b = await startChannelNode(world.l1.client(), 'b', world.l1.accounts[2]!, opts);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    await a.pay((await b.createInvoice(10_000n)).invoice);
    await waitUntil(() => a.channelState(id).state.htlcs.length === 0 && b.channelState(id).state.htlcs.length === 0, 'settled', 5000, 20);
    await waitUntil(() => a.channelState(id).state.version === b.channelState(id).state.version, 'same version', 5000, 20);

    const [ra, rb] = await Promise.all([a.closeChannel(id), b.closeChannel(id)]);
    const rec = await new AdjudicatorReader(world.l1.client()).channel(id);
    expect(rec?.ending).toBe(1); // cooperative: both paid at once, no dispute delay
    expect([ra.how, rb.how]).toEqual(['cooperative', 'cooperative']);
    expect(rec?.state.balanceB).toBe(10_000n);
  }, 60_000);

  it('a channel record from before peerNextHtlcId still refuses an add reusing an id below the peer\'s live HTLCs', async () => {
    const a = await startChannelNode(world.l1.client(), 'a2', world.l1.accounts[3]!);
    const b = await startChannelNode(world.l1.client(), 'b2', world.l1.accounts[4]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    // HTLCs 0 and 1 held at b; 0 is failed back and leaves the state, 1 stays
    const h0 = await b.createInvoice(1_000n, 'h0', 3600, { hold: true });
    const h1 = await b.createInvoice(2_000n, 'h1', 3600, { hold: true });
    const p0 = a.pay(h0.invoice).catch((e: Error) => e);
    await waitUntil(() => b.invoices().some((i) => i.paymentHash === h0.paymentHash && i.status === 'held'), 'h0 held', 10_000, 20);
    void a.pay(h1.invoice).catch(() => undefined);
    await waitUntil(() => b.invoices().some((i) => i.paymentHash === h1.paymentHash && i.status === 'held'), 'h1 held', 10_000, 20);
    await b.cancelInvoice(Buffer.from(h0.paymentHash.slice(2), 'hex'));
    await p0;
    await waitUntil(() => b.channelState(id).state.htlcs.length === 1 && a.channelState(id).state.version === b.channelState(id).state.version, 'HTLC 0 removed', 10_000, 20);
    expect(b.channelState(id).state.htlcs[0]?.id).toBe(1);
    // b's record as a node before this field stored it; a's node gives its next add id 0 again
    // biome-ignore lint/suspicious/noExplicitAny: the test plays an old record and a cheating peer
    const bch = [...((b as any).channels as Map<string, { peerNextHtlcId?: number }>).values()][0]!;
    delete bch.peerNextHtlcId;
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const ach = [...((a as any).channels as Map<string, object>).values()][0]!;
    Object.defineProperty(ach, 'nextHtlcId', { get: () => 0, set: () => undefined, enumerable: true });
    const v = b.channelState(id).state.version;
    await expect(a.pay((await b.createInvoice(3_000n)).invoice)).rejects.toThrow();
    expect(b.channelState(id).state.version).toBe(v);
    expect(b.channelState(id).state.htlcs.map((x) => x.id)).toEqual([1]);
  }, 60_000);

  it('a node that closed unilaterally does not complete a round afterwards: its revocation of the state it published would hand the peer a penalty', async () => {
    const a = await startChannelNode(world.l1.client(), 'a3', world.l1.accounts[5]!);
    const b = await startChannelNode(world.l1.client(), 'b3', world.l1.accounts[6]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n, 400_000n); // b owns 400 000
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    // a's COMMIT of its next round (an add) waits until b has closed with the state before it
    let bClosed = false;
    // biome-ignore lint/suspicious/noExplicitAny: holding back one message of a's
    const ap = a as any;
    const realSend = ap.send.bind(a);
    let commitAnswered = false;
    ap.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type !== 5) return realSend(peer, type, body, t);
      await waitUntil(() => bClosed, 'b closed', 20_000, 10);
      return realSend(peer, type, body, t).finally(() => {
        commitAnswered = true;
      });
    };
    void a.pay((await b.createInvoice(10_000n)).invoice).catch(() => undefined);
    // b accepted a's proposal (signed version 1, its half of the round stored), then closes with
    // version 0, the last state both signed
    // biome-ignore lint/suspicious/noExplicitAny: reading b's round
    await waitUntil(() => (((b as any).channels as Map<string, { round?: { version: number } }>).values().next().value?.round?.version ?? 0) === 1, 'b accepted version 1', 10_000, 5);
    await b.closeChannel(id, true);
    bClosed = true;
    await waitUntil(() => commitAnswered, "b answers a's COMMIT", 10_000, 5);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.channelState(id).theirRevocation).toBeUndefined(); // b revoked nothing
    const reader = new AdjudicatorReader(world.l1.client());
    // the dispute runs out; whatever a does meanwhile (it holds both signatures of version 1)
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await world.l1.mine(1);
    }
    await waitUntil(async () => ((await reader.channel(id))?.ending ?? 0) !== 0, 'the channel ends on chain', 20_000, 50);
    const rec = await reader.channel(id);
    expect(rec?.ending).not.toBe(3); // not a penalty: b breached nothing
    expect(rec?.ending).toBe(2);
  }, 60_000);

  it('a proposer that closed unilaterally while its proposal was out does not sign and commit the answer', async () => {
    const a = await startChannelNode(world.l1.client(), 'a4', world.l1.accounts[7]!);
    const b = await startChannelNode(world.l1.client(), 'b4', world.l1.accounts[8]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    // b's answer to a's proposal comes only after a has closed with version 0
    let aClosed = false;
    let proposed = false;
    // biome-ignore lint/suspicious/noExplicitAny: holding back one answer of b's
    const bp = b as any;
    const realPropose = bp.onPropose.bind(b);
    bp.onPropose = async (peer: Uint8Array, body: Uint8Array) => {
      const r = await realPropose(peer, body);
      proposed = true;
      await waitUntil(() => aClosed, 'a closed', 20_000, 10);
      return r;
    };
    void a.pay((await b.createInvoice(10_000n)).invoice).catch(() => undefined);
    await waitUntil(() => proposed, 'b accepted version 1', 10_000, 5);
    await a.closeChannel(id, true);
    aClosed = true;
    await new Promise((r) => setTimeout(r, 500));
    expect(b.channelState(id).theirRevocation).toBeUndefined(); // a revoked nothing
    const reader = new AdjudicatorReader(world.l1.client());
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await world.l1.mine(1);
    }
    await waitUntil(async () => ((await reader.channel(id))?.ending ?? 0) !== 0, 'the channel ends on chain', 20_000, 50);
    const rec = await reader.channel(id);
    expect(rec?.ending).not.toBe(3); // not a penalty: a breached nothing
    expect(rec?.ending).toBe(2);
  }, 60_000);

  it("a proposer abandoning its round at a close still keeps the preimage of the peer's fulfil in the answer", async () => {
    // b reveals nothing on chain: the preimage can reach a only in b's answer
    const bChain = world.l1.client();
    const realSend = bChain.send.bind(bChain);
    bChain.send = (k, method, args) => (method === 'reveal' || method === 'claimHtlc' ? Promise.reject(new StrataError('NETWORK', 'no reveal in this test')) : realSend(k, method, args));
    const a = await startChannelNode(world.l1.client(), 'a6', world.l1.accounts[2]!);
    const b = await startChannelNode(bChain, 'b6', world.l1.accounts[3]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    const held = await b.createInvoice(5_000n, 'held', 3600, { hold: true });
    const first = a.pay(held.invoice);
    await waitUntil(() => b.invoices().some((i) => i.paymentHash === held.paymentHash && i.status === 'held'), 'b holds it', 10_000, 20);
    // biome-ignore lint/suspicious/noExplicitAny: reading the rounds
    await waitUntil(() => a.channelState(id).state.version === b.channelState(id).state.version && !(a as any).channels.values().next().value.round && !(b as any).channels.values().next().value.round, 'idle', 5000, 10);
    // b's fulfil waits in its queue (b proposes nothing itself) and rides in its answer to a's
    // next proposal, which comes after a closed
    // biome-ignore lint/suspicious/noExplicitAny: b proposes nothing of its own; its answer waits
    const bp = b as any;
    bp.propose = async () => undefined;
    let aClosed = false;
    let proposed = false;
    const realPropose = bp.onPropose.bind(b);
    bp.onPropose = async (peer: Uint8Array, body: Uint8Array) => {
      const r = await realPropose(peer, body);
      proposed = true;
      await waitUntil(() => aClosed, 'a closed', 20_000, 10);
      return r;
    };
    await b.settleInvoice(Buffer.from(held.paymentHash.slice(2), 'hex'));
    void a.pay((await b.createInvoice(1_000n)).invoice).catch(() => undefined);
    await waitUntil(() => proposed, 'b answered with its fulfil', 10_000, 5);
    await a.closeChannel(id, true);
    aClosed = true;
    const r = await Promise.race([first, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('the held payment did not settle at the preimage in the answer')), 10_000))]);
    expect(r.paymentHash).toBe(held.paymentHash);
    expect(r.preimage).toMatch(/^0x[0-9a-f]{64}$/);
  }, 60_000);

  it('a unilateral close whose transaction failed is published again (the channel does not stay closing off chain only)', async () => {
    // a's chain client fails its first `close` (an RPC outage, a transaction that never lands)
    const chain = world.l1.client();
    const realSend = chain.send.bind(chain);
    let failed = 0;
    chain.send = (k, method, args) => (method === 'close' && failed++ === 0 ? Promise.reject(new StrataError('NETWORK', 'chain RPC unreachable')) : realSend(k, method, args));
    const a = await startChannelNode(chain, 'a5', world.l1.accounts[9]!);
    const b = await startChannelNode(world.l1.client(), 'b5', world.l1.accounts[1]!);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    await expect(a.closeChannel(id, true)).rejects.toThrow(/unreachable/);
    expect(a.channelState(id).status).toBe('closing');
    const reader = new AdjudicatorReader(world.l1.client());
    const closing = async () => ((await reader.channel(id))?.status ?? 0) !== 0;
    for (let i = 0; i < 40 && !(await closing()); i++) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(await closing()).toBe(true);
    expect(failed).toBe(2);
  }, 60_000);
});
