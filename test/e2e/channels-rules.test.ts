/**
 * Rules of the commitment round (issue 10, review r3-ch "found, not fixed"), each with the peer
 * who breaks it: HTLC ids increase (BOLT 2 next_htlc_id); a receiver adds no more updates to its
 * reply than the round has room for; a reply whose signature does not verify fails the round
 * (typed) instead of leaving it set; the onion records of a round that never completed go when
 * the channel closes. Real L1, real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { applyUpdates, ONION_PACKET_SIZE, ProposeReply, type ChannelNode, type ChannelState, type Update } from '@strata/channels';
import { decode, encode, toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';

const world = channelTestWorld();
const nodes = world.nodes;

let wallet = 1;
async function pair(opts: { maxBatch?: number } = {}, push = 0n): Promise<{ a: ChannelNode; b: ChannelNode; id: Uint8Array }> {
  const a = await startChannelNode(world.l1.client(), `a${wallet}`, world.l1.accounts[wallet++]!, opts);
  const b = await startChannelNode(world.l1.client(), `b${wallet}`, world.l1.accounts[wallet++]!);
  nodes.push(a, b);
  const key = await a.connect(b.p2p.multiaddrs[0]!);
  const id = await a.openChannel(key, 10_000_000n, push);
  await waitUntil(() => b.list().some((c) => c.status === 'open'), 'the peer sees the channel', 10_000, 20);
  return { a, b, id };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests play the attacker on private members
const priv = (n: ChannelNode) => n as any;
const roundOf = (n: ChannelNode): { version: number } | undefined => (priv(n).channels as Map<string, { round?: { version: number } }>).values().next().value?.round;
const timeout = (ms: number, what: () => string) => new Promise<never>((_, rej) => setTimeout(() => rej(new Error(what())), ms));

describe('commitment round rules', () => {
  it('an add reusing an HTLC id the peer used before is refused: the proposal gets no signature', async () => {
    const { a, b, id } = await pair();
    await a.pay((await b.createInvoice(1_000n)).invoice); // HTLC 0, settled and removed
    await waitUntil(() => a.channelState(id).state.htlcs.length === 0 && b.channelState(id).state.htlcs.length === 0, 'settled', 5000, 20);
    const v = b.channelState(id).state.version;
    // the payer's node gives every new add id 0 again
    const ch = [...(priv(a).channels as Map<string, object>).values()][0]!;
    Object.defineProperty(ch, 'nextHtlcId', { get: () => 0, set: () => undefined, enumerable: true });
    await expect(a.pay((await b.createInvoice(2_000n)).invoice)).rejects.toThrow();
    expect(b.channelState(id).state.version).toBe(v);
    expect(b.channelState(id).state.balanceB).toBe(1_000n);
    expect(b.channelState(id).status).toBe('open'); // refused, not a reason to close
  }, 60_000);

  it('a receiver that adds more updates to its reply than the round has room for gets no signature: the proposer closes', async () => {
    const { a, b, id } = await pair({ maxBatch: 2 }, 1_000_000n);
    // b answers a's next proposal (1 add: room for 1 more) with 3 valid adds of its own
    const h = world.l1.height();
    const extra: Update[] = [0, 1, 2].map((i) => ({ kind: 'add', id: 100 + i, amount: 5_000n, hash: new Uint8Array(32).fill(i + 1), expiry: h + 60, onion: new Uint8Array(ONION_PACKET_SIZE) }));
    priv(b).takeOwn = (c: { side: 0 | 1; limits: never }, s: ChannelState) => ({ next: applyUpdates(s, c.side, extra, c.limits), taken: extra });
    const v = a.channelState(id).state.version;
    const paid = a.pay((await b.createInvoice(1_000n)).invoice).then(() => 'paid', () => 'failed');
    expect(await Promise.race([paid, timeout(15_000, () => `payment still pending at version ${a.channelState(id).state.version}`)])).toBe('failed');
    await waitUntil(() => a.channelState(id).status !== 'open', 'the proposer takes the channel on chain', 15_000, 20);
    expect(a.channelState(id).state.version).toBe(v); // it never signed the state with b's 3 adds
    expect(a.channelState(id).state.htlcs).toHaveLength(0);
  }, 60_000);

  it('a reply whose signature does not verify fails the round cleanly (typed) instead of leaving it set', async () => {
    const { a, b, id } = await pair();
    const real = priv(b).onPropose.bind(b);
    priv(b).onPropose = async (peer: Uint8Array, body: Uint8Array) => {
      const r = decode(ProposeReply, await real(peer, body));
      if (r.ok && r.sig) {
        r.sig = r.sig.slice();
        r.sig[0] = (r.sig[0] as number) ^ 1;
      }
      return encode(ProposeReply, r);
    };
    const v = a.channelState(id).state.version;
    const paid = a.pay((await b.createInvoice(1_000n)).invoice).then(
      () => 'paid',
      (e: { code?: string }) => `failed ${e.code}`,
    );
    expect(await Promise.race([paid, timeout(10_000, () => `payment still pending, the payer's round at version ${roundOf(a)?.version}`)])).toMatch(/^failed CHANNEL_/);
    expect(roundOf(a)).toBeUndefined();
    expect(a.channelState(id).state.version).toBe(v);
    await waitUntil(() => a.channelState(id).status !== 'open', 'the proposer closes with the last state both signed', 15_000, 20);
  }, 60_000);

  it("the onion records of a round the receiver accepted but that never completed are removed when the channel closes", async () => {
    const { a, b, id } = await pair();
    // a's COMMIT never leaves: a dies after b accepted its add (and wrote the add's onion)
    const realSend = priv(a).send.bind(a);
    priv(a).send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type === 5) throw new Error('crashed');
      return realSend(peer, type, body, t);
    };
    void a.pay((await b.createInvoice(1_000n)).invoice).catch(() => undefined);
    await waitUntil(() => b.store.list(`on:${toHex(id)}:`).length === 1 && roundOf(b)?.version === 1, 'b accepted the add', 10_000, 20);
    await a.stop();
    await b.closeChannel(id, true); // the last state both signed: version 0
    for (let i = 0; i < 40 && b.channelState(id).status !== 'closed'; i++) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(b.channelState(id).status).toBe('closed');
    expect(b.store.list(`on:${toHex(id)}:`)).toHaveLength(0);
  }, 60_000);
});
