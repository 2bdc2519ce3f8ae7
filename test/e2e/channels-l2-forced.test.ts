/**
 * A channel node on the optimistic L2 whose L2 sequencer censors it: its unilateral close is left
 * out of every L2 block, so after a few L1 blocks the node's client (ForcedInclusionChainClient)
 * queues the same signed transaction through the L2's inbox on the L1 (`op_inbox.forceTx`), which
 * the L2 must include: the close lands whatever the sequencer does. With a plain client to the
 * sequencer the close never lands (the dispute clock of a breach, or an HTLC's expiry, would run out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdjudicatorReader, CH_CLOSED, CH_CLOSING, ForcedInclusionChainClient, RevealArgs, RpcChainClient, type ChannelNode } from '@strata/channels';
import { startDevnet, type Devnet } from '@strata/devnet';
import { DepositArgs, NodeL1Client, rollupModuleNames } from '@strata/optimistic';
import { bytesEqual, encode, toHex } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, silentLogger, startChannelNode, tmp } from '../helpers/channels.js';

let devnet: Devnet;
let l2: RpcChainClient;
const nodes: ChannelNode[] = [];

beforeAll(async () => {
  devnet = await startDevnet({ dataDir: tmp('chan-l2f-devnet-'), port: 0, channels: false, zk: false, sidechain: false, l3: false, explorer: false, rollup: { port: 0, blockTimeMs: 50 } }, { logger: silentLogger });
  l2 = new RpcChainClient(devnet.l2!.rpcUrl);
  const node = devnet.l1.node;
  const client = new NodeL1Client(node, devnet.l2!.config, (a) => node.mempool.nextNonce(a, node.chain.account(a).nonce));
  for (const i of [1, 2, 3]) {
    const k = devnet.accounts[i]!.keys;
    await client.send(k, rollupModuleNames(devnet.l2!.config.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: devnet.l2!.config.rollupId, to: k.address, amount: 50_000_000n }), 5_000);
  }
  await waitUntil(async () => (await l2.balance(devnet.accounts[3]!.keys.address)) > 0n, 'deposits credited on the L2', 30_000, 100);
}, 90_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await devnet?.stop();
  cleanupDirs();
});

describe('forced inclusion for channel nodes on the L2', () => {
  it('a close the L2 sequencer censors is forced through the L1 inbox and lands', async () => {
    const forcing = new ForcedInclusionChainClient(l2, { l1Url: devnet.l1.rpcUrl, rollupId: devnet.l2!.config.rollupId, forceAfterL1Blocks: 2, timeoutMs: 60_000 });
    // the devnet L2's floor for dispute delays: 2W + F + 1 = 25 L1 blocks
    const alice = await startChannelNode(forcing, 'alice', devnet.accounts[1]!, { toSelfDelay: 25 });
    const bob = await startChannelNode(l2, 'bob', devnet.accounts[2]!, { toSelfDelay: 25 });
    nodes.push(alice, bob);
    const bk = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ab = await alice.openChannel(bk, 1_000_000n);
    expect((await new AdjudicatorReader(l2).channel(ab))?.capacity).toBe(1_000_000n);
    // from now on the sequencer leaves every transaction of alice's out of its blocks
    const seq = devnet.l2!.sequencer.opts.sequencer as { censor?: (t: { sender: Uint8Array }) => boolean };
    seq.censor = (t) => bytesEqual(t.sender, alice.wallet.address);
    // a second waiter on the same transaction (a driver tick awaiting it again) forces it no second time
    const sends: Uint8Array[] = [];
    const send = forcing.send.bind(forcing);
    forcing.send = async (...a) => {
      const h = await send(...a);
      sends.push(h);
      void forcing.waitReceipt(h).catch(() => undefined);
      return h;
    };
    let done: string | undefined;
    void alice.closeChannel(ab, true).then(
      () => {
        done = 'ok';
      },
      (e: unknown) => {
        done = `failed: ${String(e)}`;
      },
    );
    // L1 blocks go by; the L2 keeps sealing blocks without alice's close
    for (let i = 0; i < 200 && done === undefined; i++) {
      await devnet.l1.node.mineBlocks(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(done).toBe('ok');
    expect(forcing.forced).toBe(1);
    // on chain: closing, or already settled by the time we look (L1 blocks kept coming meanwhile)
    expect([CH_CLOSING, CH_CLOSED]).toContain((await new AdjudicatorReader(l2).channel(ab))?.status);
    delete seq.censor;
  }, 90_000);
  /**
   * Review finding M4: the client's txStatus passed the L2's answer through. A sequencer that
   * takes our transaction and then answers null for it (here: it drops it from its pool and
   * leaves it out of its blocks) made the node's next look find the action unknown and send a
   * new transaction, forced again on the L1 in turn (an L1 fee per look). Now a transaction the
   * client tracks is pending until forced and included by the L2's rule, and it lands.
   */
  it('a transaction the sequencer answers null for is pending for the forcing client (not sent again), and is forced', async () => {
    const forcing = new ForcedInclusionChainClient(l2, { l1Url: devnet.l1.rpcUrl, rollupId: devnet.l2!.config.rollupId, forceAfterL1Blocks: 2, timeoutMs: 60_000 });
    const k = devnet.accounts[3]!.keys;
    const seq = devnet.l2!.sequencer.opts.sequencer as { censor?: (t: { sender: Uint8Array }) => boolean };
    const prev = seq.censor;
    seq.censor = (t) => bytesEqual(t.sender, k.address) || (prev?.(t) ?? false);
    try {
      const preimage = new Uint8Array(32).fill(42);
      const h = await forcing.send(k, 'reveal', encode(RevealArgs, { preimage }));
      // the sequencer forgets it: the L2 knows it not
      // biome-ignore lint/suspicious/noExplicitAny: a hostile sequencer drops the transaction
      (devnet.l2!.sequencer as any).pool.delete(toHex(h));
      expect(await l2.txStatus(h)).toBeUndefined();
      expect(await forcing.txStatus(h)).toBe('pending');
      let r: Awaited<ReturnType<typeof forcing.waitReceipt>> | undefined;
      void forcing.waitReceipt(h).then((x) => {
        r = x;
      });
      for (let i = 0; i < 200 && r === undefined; i++) {
        await devnet.l1.node.mineBlocks(1);
        await new Promise((res) => setTimeout(res, 150));
        expect(await forcing.txStatus(h)).not.toBeUndefined();
      }
      expect(r?.ok).toBe(true);
      expect(forcing.forced).toBe(1);
    } finally {
      if (prev) seq.censor = prev;
      else delete seq.censor;
    }
  }, 90_000);
});
