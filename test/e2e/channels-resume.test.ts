/**
 * Reconnect resumes a commitment round left half done (issue 10, "reconnect resumes an update half
 * done"), at the exact stage where session 3's full run hung (channels-crash "kill -9
 * mid-update"): the proposer's COMMIT reached the peer, which completed the round and answered,
 * but the answer never came back (a kill -9 right after the COMMIT left, or a lost reply). The
 * peer, at the new version, proposes the next one; the proposer, still waiting for its
 * revocation, refuses it. After the reconnect the proposer resends its COMMIT. Real L1, real
 * libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld, startChannelNode } from '../helpers/channels.js';

const world = channelTestWorld();
const nodes = world.nodes;

describe('reconnect resumes a half-done round', () => {
  it('a COMMIT resent after its reply was lost is answered although the peer has since proposed the next version', async () => {
    const alice = await startChannelNode(world.l1.client(), 'alice', world.l1.accounts[1]!);
    const bob = await startChannelNode(world.l1.client(), 'bob', world.l1.accounts[2]!);
    nodes.push(alice, bob);
    const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(bobKey, 10_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 20);

    // bob's first COMMIT (the round of his fulfil, version 2) reaches alice; its reply is lost
    // biome-ignore lint/suspicious/noExplicitAny: wrapping a private method to lose one reply
    const b = bob as any;
    const realSend = b.send.bind(bob);
    let lost = 0;
    b.send = async (peer: Uint8Array, type: number, body: Uint8Array, t?: number) => {
      if (type === 5 && lost === 0) {
        await realSend(peer, type, body, t);
        lost++;
        throw new Error('connection reset');
      }
      return realSend(peer, type, body, t);
    };
    const first = await bob.createInvoice(1_000n);
    await alice.pay(first.invoice); // settles at the preimage of bob's fulfil, which alice accepted
    await waitUntil(() => lost === 1 && alice.channelState(id).state.version === 2, 'alice completes version 2', 10_000, 20);
    expect(bob.channelState(id).state.version).toBe(1); // bob still waits for alice's revocation

    // alice, at version 2, proposes version 3; bob refuses it while his round waits
    const second = await bob.createInvoice(2_000n);
    const paid = alice.pay(second.invoice);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && (alice as unknown as { channels: Map<string, { round?: { version: number } }> }).channels.values().next().value?.round?.version === 3, 'alice proposes version 3', 10_000, 5);

    // the connection drops and comes back: bob resends his COMMIT for version 2
    await bob.p2p.hangUp(alice.p2p.peerId);
    await waitUntil(() => alice.peers().length === 0 && bob.peers().length === 0, 'both see the disconnect', 10_000, 20);
    await alice.connect(bob.p2p.multiaddrs[0]!);
    await Promise.race([paid, new Promise((_, rej) => setTimeout(() => rej(new Error(`second payment still pending (bob at version ${bob.channelState(id).state.version}, alice at ${alice.channelState(id).state.version})`)), 15_000))]);
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.version === alice.channelState(id).state.version, 'both agree, nothing pending', 10_000, 20);
    expect(alice.channelState(id).state.balanceB).toBe(3_000n);
    expect(bob.channelState(id).state.balanceB).toBe(3_000n);
  }, 60_000);

  it("a round whose request timed out while the peer stays connected is resumed (hang-up, re-dial), not left waiting for a reconnect", async () => {
    const alice = await startChannelNode(world.l1.client(), 'alice2', world.l1.accounts[3]!, { requestTimeoutMs: 1000 });
    const bob = await startChannelNode(world.l1.client(), 'bob2', world.l1.accounts[4]!);
    nodes.push(alice, bob);
    const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
    const id = await alice.openChannel(bobKey, 10_000_000n);
    await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel', 10_000, 20);
    // bob accepts alice's first proposal (his half of the round is stored) but answers too late
    // biome-ignore lint/suspicious/noExplicitAny: wrapping a private handler to stall one answer
    const b = bob as any;
    const real = b.onPropose.bind(bob);
    let stalled = 0;
    b.onPropose = async (peer: Uint8Array, body: Uint8Array) => {
      const r = await real(peer, body);
      if (stalled++ === 0) await new Promise((res) => setTimeout(res, 1500));
      return r;
    };
    const { invoice } = await bob.createInvoice(1_000n);
    const paid = alice.pay(invoice);
    await Promise.race([paid, new Promise((_, rej) => setTimeout(() => rej(new Error(`payment still pending (alice at version ${alice.channelState(id).state.version}, bob at ${bob.channelState(id).state.version})`)), 15_000))]);
    expect(stalled).toBeGreaterThan(1); // the round's PROPOSE went again, after the re-dial
    await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.version === alice.channelState(id).state.version, 'both agree, nothing pending', 10_000, 20);
    expect(bob.channelState(id).state.balanceB).toBe(1_000n);
  }, 60_000);
});
