/**
 * Adds of a commitment round that never completed, on a channel that then closes on chain: the
 * final on-chain state lacks them, so nobody can claim them there; once the close is final they
 * fail back off chain (a payment rejects, a forward fails its upstream HTLC). Before the fix only
 * the HTLCs of the published state were looked at: the payment hung forever and the upstream
 * peer went on chain at the expiry. Real L1 (blocks mined on demand), real libp2p sockets.
 */
import { describe, expect, it } from 'vitest';
import { AdjudicatorReader } from '@strata/channels';
import { StrataError } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { channelTestWorld } from '../helpers/channels.js';
import { closedRecord, counterAddRefusedCommit, forwardIntoSilenceAndClose, mineUntilClosedDeep, outcomeWithin, payIntoSilence, within } from '../helpers/channels-unfinished.js';

const world = channelTestWorld();
const nodes = world.nodes;
/** The nodes' closeConfirmations here: the fail-backs run this many blocks after the close is final (channels-close-depth tests the wait itself). */
const DEPTH = 2;

describe('a close with a commitment round unfinished', () => {
  it('our add only in a proposed round, the peer gone, force close: pay() rejects once the close is final', async () => {
    const { a, id, paid, isSettled } = await payIntoSilence(world.l1, nodes, '', [1, 2], DEPTH);
    await a.closeChannel(id, true);
    // during the dispute delay nothing fails yet (a newer state could still replace the published one)
    expect(isSettled()).toBe(false);
    await mineUntilClosedDeep(world.l1, id, DEPTH);
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
    const { alice, bob, ab, bc, paid } = await forwardIntoSilenceAndClose(world.l1, nodes, '', [3, 4, 5], DEPTH);
    await mineUntilClosedDeep(world.l1, bc, DEPTH);
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

  /** See counterAddRefusedCommit (helpers): b publishes its newer state during the delay or never; the close is then mined final and deep. */
  async function counterAddClosed(tag: string, accounts: [number, number], bUpdates: boolean) {
    const r = await counterAddRefusedCommit(world.l1, nodes, tag, accounts, () => bUpdates, { closeConfirmations: DEPTH });
    await mineUntilClosedDeep(world.l1, r.id, DEPTH);
    return { ...r, rec: await closedRecord(world.l1, r.id) };
  }

  it("our add in the answer to the peer's round, its COMMIT refused as we close, the peer publishes nothing newer: both adds fail back at the final close", async () => {
    const { aPaid, bPaid, rec } = await counterAddClosed('3', [6, 7], false);
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
    const { aPaid, rec } = await counterAddClosed('4', [8, 9], true);
    expect(rec.state.version).toBe(1);
    expect(rec.state.htlcs.length).toBe(2);
    // the add is in the final state: it resolves on chain (b's preimage, or a's refund at its
    // expiry), never failed back off chain — b could still claim it
    expect(await outcomeWithin(aPaid, 1500)).not.toBe('failed');
  }, 60_000);
});
