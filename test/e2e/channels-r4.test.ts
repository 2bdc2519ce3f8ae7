/**
 * Review r4-ch (issue 10): what an honest pair of channel nodes must not end in. Real L1, real
 * libp2p sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdjudicatorReader, type ChannelNode } from '@strata/channels';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, startChannelNode, startTestL1, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
const nodes: ChannelNode[] = [];

beforeAll(async () => {
  l1 = await startTestL1();
}, 30_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await l1?.stop();
  cleanupDirs();
});

describe('review r4-ch', () => {
  it('both sides asking for a cooperative close at the same moment close cooperatively (not two unilateral closes)', async () => {
    // a short request timeout: without the fix each side's CLOSE waits for it, then both close unilaterally
    const opts = { requestTimeoutMs: 3000 };
    const a = await startChannelNode(l1.client(), 'a', l1.accounts[1]!, opts);
    const b = await startChannelNode(l1.client(), 'b', l1.accounts[2]!, opts);
    nodes.push(a, b);
    const key = await a.connect(b.p2p.multiaddrs[0]!);
    const id = await a.openChannel(key, 1_000_000n);
    await waitUntil(() => b.list().some((c) => c.status === 'open'), 'b sees the channel', 10_000, 20);
    await a.pay((await b.createInvoice(10_000n)).invoice);
    await waitUntil(() => a.channelState(id).state.htlcs.length === 0 && b.channelState(id).state.htlcs.length === 0, 'settled', 5000, 20);
    await waitUntil(() => a.channelState(id).state.version === b.channelState(id).state.version, 'same version', 5000, 20);

    const [ra, rb] = await Promise.all([a.closeChannel(id), b.closeChannel(id)]);
    const rec = await new AdjudicatorReader(l1.client()).channel(id);
    expect(rec?.ending).toBe(1); // cooperative: both paid at once, no dispute delay
    expect([ra.how, rb.how]).toEqual(['cooperative', 'cooperative']);
    expect(rec?.state.balanceB).toBe(10_000n);
  }, 60_000);
});
