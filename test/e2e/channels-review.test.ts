/**
 * Review findings (issue 10): attacks on the cooperative close. Real L1, real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { CloseMsg, CoopCloseArgs, END_PENALTY, closeDigest, edSignMsg, readChannelRecord, sendAndWait } from '@strata/channels';
import { decode, encode, keyPairFromSecret } from '@strata/primitives';
import { getAccount } from '@strata/runtime';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';

const world = channelTestWorld();
const nodes = world.nodes;
const CAP = 1_000_000n;

describe('cooperative close', () => {
  it('a peer that keeps our close signature and refuses cannot later use it on older balances', async () => {
    const alice = await startChannelNode(world.l1.client(), 'ra', world.l1.accounts[1]!);
    const bob = await startChannelNode(world.l1.client(), 'rb', world.l1.accounts[2]!);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, CAP);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel open', 10_000, 20);
    const { invoice } = await bob.createInvoice(300_000n);
    await alice.pay(invoice);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.htlcs.length === 0, 'settled', 5000, 20);

    // malicious bob: keeps alice's close signature and refuses
    let stolen: { balanceA: bigint; balanceB: bigint; sig: Uint8Array } | undefined;
    // biome-ignore lint/suspicious/noExplicitAny: patching a private handler to play the attacker
    (bob as any).onCloseRequest = async (_peer: Uint8Array, body: Uint8Array) => {
      const m = decode(CloseMsg, body);
      stolen = { balanceA: m.balanceA, balanceB: m.balanceB, sig: m.sig };
      throw new Error('not now');
    };
    const res = await alice.closeChannel(id);
    expect(res.how).toBe('unilateral'); // the refused cooperative close falls back to the latest state
    expect(stolen).toBeDefined();

    // bob now pays alice back 200k over the channel; alice must not accept it on a channel whose close she signed
    const back = await alice.createInvoice(200_000n);
    await bob.pay(back.invoice).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));

    // bob publishes the cooperative close with alice's old signature
    const bobKey = keyPairFromSecret(bob.wallet.secretKey);
    const domain = { chainId: world.l1.node.chain.config.chainId, module: 'channels' };
    const mine = edSignMsg(bob.key, closeDigest(domain, id, stolen!.balanceA, stolen!.balanceB));
    const rec = readChannelRecord(world.l1.node.chain.stateReader, id)!;
    const aliceBefore = getAccount(world.l1.node.chain.stateReader, rec.payA).balance;
    await sendAndWait(world.l1.client(), bobKey, 'coopClose', encode(CoopCloseArgs, { channelId: id, balanceA: stolen!.balanceA, balanceB: stolen!.balanceB, sigA: stolen!.sig, sigB: mine })).catch(() => undefined);
    // alice's latest state must be what she can claim: her balance never below the latest she agreed to
    const latest = alice.channelState(id).state;
    expect(latest.balanceA).toBeLessThanOrEqual(stolen!.balanceA);
    const ended = readChannelRecord(world.l1.node.chain.stateReader, id)!;
    if (ended.ending === 1) expect(getAccount(world.l1.node.chain.stateReader, rec.payA).balance - aliceBefore).toBeGreaterThanOrEqual(latest.balanceA);
  }, 60_000);
});

describe('unilateral close after a lost commit reply', () => {
  it('the proposer whose revocation left (reply lost, or a crash) publishes the newer state, not the one it revoked', async () => {
    const alice = await startChannelNode(world.l1.client(), 'rc', world.l1.accounts[3]!);
    const bob = await startChannelNode(world.l1.client(), 'rd', world.l1.accounts[4]!);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, CAP);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel open', 10_000, 20);
    // alice's commit (her signature + her revocation of the current version) reaches bob; the reply never comes back
    // biome-ignore lint/suspicious/noExplicitAny: wrapping a private method to drop a reply
    const a = alice as any;
    const realSend = a.send.bind(alice);
    let dropped = 0;
    a.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type === 5) {
        if (dropped++ === 0) await realSend(peer, type, body, t);
        throw new Error('connection reset');
      }
      return realSend(peer, type, body, t);
    };
    const { invoice } = await bob.createInvoice(100_000n);
    void alice.pay(invoice).catch(() => undefined);
    await waitUntil(() => dropped > 0 && bob.channelState(id).state.version >= 1, 'bob completed the round', 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));

    expect(alice.channelState(id).state.version).toBe(0);
    await alice.closeChannel(id, true);
    await waitUntil(() => (readChannelRecord(world.l1.node.chain.stateReader, id)?.status ?? 0) !== 0, 'closing on chain', 10_000, 50);
    for (let i = 0; i < 12; i++) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    const rec = readChannelRecord(world.l1.node.chain.stateReader, id)!;
    expect(rec.ending).not.toBe(END_PENALTY); // alice was honest: she must not lose the channel
    expect(rec.state.version).toBe(bob.channelState(id).state.version);
  }, 60_000);
});

describe('a signed cooperative close that never lands', () => {
  it('the parties close unilaterally after a few blocks instead of keeping the funds locked', async () => {
    const alice = await startChannelNode(world.l1.client(), 're', world.l1.accounts[5]!);
    const bob = await startChannelNode(world.l1.client(), 'rf', world.l1.accounts[6]!);
    nodes.push(alice, bob);
    const key = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(key, CAP);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel open', 10_000, 20);
    // alice gets bob's close signature and then hangs forever (never publishes)
    // biome-ignore lint/suspicious/noExplicitAny: wrapping a private method to play a vanished peer
    const a = alice as any;
    const realSend = a.send.bind(alice);
    let release: (e: Error) => void = () => undefined;
    a.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type === 6) {
        await realSend(peer, type, body, t);
        return new Promise((_r, rej) => {
          release = rej;
        });
      }
      return realSend(peer, type, body, t);
    };
    const closing = alice.closeChannel(id).catch(() => undefined);
    await waitUntil(() => bob.list().some((c) => c.status === 'closing'), 'bob signed the close', 10_000, 20);
    for (let i = 0; i < 12 && readChannelRecord(world.l1.node.chain.stateReader, id)!.status === 0; i++) {
      await world.l1.mine(1);
      await new Promise((r) => setTimeout(r, 250));
    }
    const rec = readChannelRecord(world.l1.node.chain.stateReader, id)!;
    expect(rec.status).not.toBe(0);
    expect(rec.state.balanceA).toBe(CAP); // the latest state, published by whichever side timed out first
    release(new Error('test over'));
    await closing;
  }, 60_000);
});
