/**
 * Disputes on chain: breaches punished by the victim and by a watchtower, a breach that stands
 * when nobody reacts, HTLCs refunded on chain after expiry, and a preimage revealed on chain that
 * settles the upstream hop. Real L1 node, real libp2p sockets on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  END_PENALTY,
  END_SETTLED,
  readChannelRecord,
  RpcTowerClient,
  SignedStateArgs,
  ChannelRefArgs,
  sendAndWait,
  WatchtowerService,
  type ChannelNode,
  type ChannelState,
} from '@strata/channels';
import { encode, keyPairFromSecret } from '@strata/primitives';
import { getAccount } from '@strata/runtime';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, silentLogger, startChannelNode, startTestL1, tmp, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
const nodes: ChannelNode[] = [];
let tower: WatchtowerService;
let towerUrl: string;
const CAP = 1_000_000n;

beforeAll(async () => {
  l1 = await startTestL1();
  tower = new WatchtowerService({ dataDir: tmp('chan-tower-'), key: l1.accounts[9]!.keys, pollMs: 100 }, { chain: l1.client(), logger: silentLogger });
  towerUrl = (await tower.start({ port: 0 })) as string;
}, 30_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await tower?.stop();
  await l1?.stop();
  cleanupDirs();
});

async function pair(a: number, b: number, withTower = false): Promise<{ alice: ChannelNode; bob: ChannelNode; id: Uint8Array }> {
  const alice = await startChannelNode(l1.client(), `a${a}`, l1.accounts[a]!);
  const bob = await startChannelNode(l1.client(), `b${b}`, l1.accounts[b]!, {}, withTower ? new RpcTowerClient(towerUrl) : undefined);
  nodes.push(alice, bob);
  const key = await alice.connect(bob.p2p.multiaddrs[0]!);
  const id = await alice.openChannel(key, CAP);
  await waitUntil(() => bob.list().some((c) => c.status === 'open'), 'bob sees the channel open', 10_000, 20);
  return { alice, bob, id };
}

/** Pays `amount` from alice to bob directly and returns alice's fully signed state afterwards. */
async function payAndSnapshot(alice: ChannelNode, bob: ChannelNode, id: Uint8Array, amount: bigint): Promise<{ state: ChannelState; sigA?: Uint8Array; sigB?: Uint8Array }> {
  const { invoice } = await bob.createInvoice(amount);
  await alice.pay(invoice);
  await waitUntil(() => alice.channelState(id).state.htlcs.length === 0 && bob.channelState(id).state.htlcs.length === 0, 'settled', 5000, 20);
  const s = alice.channelState(id);
  return { state: s.state, ...(s.sigA ? { sigA: s.sigA } : {}), ...(s.sigB ? { sigB: s.sigB } : {}) };
}

async function breach(l1: TestL1, alice: ChannelNode, old: { state: ChannelState; sigA?: Uint8Array; sigB?: Uint8Array }): Promise<void> {
  const wallet = keyPairFromSecret(alice.wallet.secretKey);
  await alice.stop();
  await sendAndWait(l1.client(), wallet, 'close', encode(SignedStateArgs, { state: old.state, sigA: old.sigA, sigB: old.sigB }));
}

describe('channel disputes on the L1', () => {
  it('a breach (publishing a revoked state) is punished by the victim: it takes the whole channel', async () => {
    const { alice, bob, id } = await pair(1, 2);
    const old = await payAndSnapshot(alice, bob, id, 50_000n);
    await payAndSnapshot(alice, bob, id, 300_000n);
    const payB = readChannelRecord(l1.node.chain.stateReader, id)!.payB;
    const before = getAccount(l1.node.chain.stateReader, payB).balance;
    await breach(l1, alice, old);
    await waitUntil(() => readChannelRecord(l1.node.chain.stateReader, id)!.ending === END_PENALTY, 'bob punishes', 10_000, 50);
    const gained = getAccount(l1.node.chain.stateReader, payB).balance - before;
    expect(gained).toBeGreaterThan(CAP - 100_000n); // the whole capacity, minus bob's penalty fee
  });

  it('with the victim offline, its watchtower publishes the penalty (and learned nothing before)', async () => {
    const { alice, bob, id } = await pair(3, 4, true);
    const old = await payAndSnapshot(alice, bob, id, 40_000n);
    await payAndSnapshot(alice, bob, id, 200_000n);
    // (towerPending is 0 too before the revocations' blobs are queued: wait on what the tower holds)
    const towerBlobs = () => (tower.rpcMethods().tower_info!.handler([], { transport: 'http', authorized: false }) as { blobs: number }).blobs;
    await waitUntil(() => towerBlobs() >= 2 && bob.towerPending === 0, 'blobs delivered to the tower', 10_000, 20);
    await bob.stop(); // the victim goes offline
    const payB = readChannelRecord(l1.node.chain.stateReader, id)!.payB;
    const before = getAccount(l1.node.chain.stateReader, payB).balance;
    await breach(l1, alice, old);
    await waitUntil(() => readChannelRecord(l1.node.chain.stateReader, id)!.ending === END_PENALTY, 'the tower punishes', 10_000, 50);
    expect(getAccount(l1.node.chain.stateReader, payB).balance - before).toBe(CAP);
  });

  it('negative: with nobody watching, a breach stands after the delay', async () => {
    const { alice, bob, id } = await pair(5, 6);
    const old = await payAndSnapshot(alice, bob, id, 10_000n);
    await payAndSnapshot(alice, bob, id, 500_000n);
    await bob.stop();
    const wallet = keyPairFromSecret(alice.wallet.secretKey);
    await breach(l1, alice, old);
    await l1.mine(4);
    await sendAndWait(l1.client(), wallet, 'settle', encode(ChannelRefArgs, { channelId: id }));
    const rec = readChannelRecord(l1.node.chain.stateReader, id)!;
    expect(rec.ending).toBe(END_SETTLED);
    expect(rec.state.balanceA).toBe(CAP - 10_000n);
  });
});

describe('HTLCs on chain', () => {
  let alice: ChannelNode;
  let bob: ChannelNode;
  let carol: ChannelNode;
  let ab: Uint8Array;
  let bc: Uint8Array;
  beforeAll(async () => {
    alice = await startChannelNode(l1.client(), 'alice', l1.accounts[7]!);
    bob = await startChannelNode(l1.client(), 'bob', l1.accounts[8]!, { policy: { cltvDelta: 10 } });
    carol = await startChannelNode(l1.client(), 'carol', l1.accounts[0]!);
    nodes.push(alice, bob, carol);
    const bk = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ck = await bob.connect(carol.p2p.multiaddrs[0]!);
    ab = await alice.openChannel(bk, CAP);
    bc = await bob.openChannel(ck, CAP);
    await waitUntil(() => alice.graph.channels.size >= 2 && [...alice.graph.channels.values()].every((c) => c.policies[0] && c.policies[1]), 'graph', 15_000, 50);
  }, 60_000);

  const mineUntil = async (cond: () => boolean, what: string) => {
    await waitUntil(
      async () => {
        if (cond()) return true;
        await l1.mine(1);
        return cond();
      },
      what,
      40_000,
      300,
    );
  };

  it("an offline counterparty's HTLC is refunded on chain after expiry, and the payment fails back upstream", async () => {
    const { invoice, paymentHash } = await carol.createInvoice(20_000n, 'held', 3600, { hold: true });
    let failed: unknown;
    let failedAt = 0;
    const p = alice.pay(invoice).catch((e) => {
      failed = e;
      failedAt = l1.height();
    });
    await waitUntil(() => carol.invoices().some((i) => i.paymentHash === paymentHash && i.status === 'held'), 'carol holds the payment', 10_000, 20);
    await carol.stop();
    const bobPay = readChannelRecord(l1.node.chain.stateReader, bc)!.payA;
    await mineUntil(() => failed !== undefined, 'the payment fails back to alice');
    await p;
    expect(String(failed)).toMatch(/payment|route/);
    await mineUntil(() => readChannelRecord(l1.node.chain.stateReader, bc)!.htlcDone[0] === true, 'bob refunds on chain');
    const rec = readChannelRecord(l1.node.chain.stateReader, bc)!;
    expect(rec.ending).toBe(END_SETTLED);
    expect(rec.state.htlcs.length).toBe(1);
    expect(rec.htlcDone[0]).toBe(true); // refunded to bob
    // bob failed the payment upstream only once the HTLC's expiry was closeConfirmations (6, the
    // default) blocks past: no reorganisation that shallow can bring back a reveal by the expiry
    expect(failedAt).toBeGreaterThan(rec.state.htlcs[0]!.expiry + 6);
    expect(alice.channelState(ab).state.htlcs.length).toBe(0);
    expect(alice.channelState(ab).state.balanceA).toBe(CAP); // alice got her HTLC back off-chain
    void bobPay;
  });

  it('a preimage revealed on chain settles the upstream hop', async () => {
    // a fresh B–C channel (the previous one was closed on chain)
    const carol2 = await startChannelNode(l1.client(), 'carol2', l1.accounts[6]!);
    nodes.push(carol2);
    const ck = await bob.connect(carol2.p2p.multiaddrs[0]!);
    const bc2 = await bob.openChannel(ck, CAP);
    await waitUntil(() => alice.graph.channel(bc2)?.policies[0] !== undefined && alice.graph.channel(bc2)?.policies[1] !== undefined, 'alice learns bc2', 15_000, 50);
    const { invoice, paymentHash } = await carol2.createInvoice(30_000n, 'held', 3600, { hold: true });
    let result: { preimage: string } | undefined;
    const p = alice.pay(invoice).then((r) => {
      result = r;
    });
    await waitUntil(() => carol2.invoices().some((i) => i.paymentHash === paymentHash && i.status === 'held'), 'carol2 holds the payment', 10_000, 20);
    await carol2.p2p.stop(); // cut off from bob: the fulfil can only go through the chain
    await carol2.settleInvoice(Buffer.from(paymentHash.slice(2), 'hex'));
    await mineUntil(() => result !== undefined, 'alice learns the preimage through bob');
    await p;
    expect(result?.preimage).toBeDefined();
    const { readPreimage } = await import('@strata/channels');
    const onChain = readPreimage(l1.node.chain.stateReader, Buffer.from(paymentHash.slice(2), 'hex'));
    expect(onChain && Buffer.from(onChain.preimage).toString('hex')).toBe(result!.preimage.slice(2));
    await waitUntil(() => alice.channelState(ab).state.htlcs.length === 0, 'the upstream HTLC is fulfilled off-chain', 10_000, 50);
    await mineUntil(() => readChannelRecord(l1.node.chain.stateReader, bc2)!.htlcDone[0] === true, 'carol2 claims on chain');
  });
});

describe('a penalty with an HTLC of ours in the revoked state', () => {
  it("the victim's payment in the published old state fails back once the penalty lands (it hung: only a settled close resolved them)", async () => {
    // the wallets of the two breachers stopped above (accounts 1 and 5) are free again
    const mallory = await startChannelNode(l1.client(), 'mallory', l1.accounts[1]!);
    const victim = await startChannelNode(l1.client(), 'victim', l1.accounts[5]!, { closeConfirmations: 2 });
    nodes.push(mallory, victim);
    const key = await victim.connect(mallory.p2p.multiaddrs[0]!);
    const id = await victim.openChannel(key, CAP);
    await waitUntil(() => mallory.list().some((c) => c.status === 'open'), 'mallory sees the channel open', 10_000, 20);
    // the victim pays a hold invoice of mallory's: its HTLC is in every state from here on
    const held = await mallory.createInvoice(40_000n, 'held', 3600, { hold: true });
    let outcome: string | undefined;
    void victim.pay(held.invoice).then(
      () => (outcome = 'paid'),
      (e: unknown) => (outcome = `failed: ${(e as { code?: string }).code} ${String(e)}`),
    );
    await waitUntil(() => mallory.invoices().some((i) => i.status === 'held'), 'mallory holds the HTLC', 10_000, 20).catch((e) => {
      throw new Error(`${(e as Error).message}; payment: ${outcome}`);
    });
    await waitUntil(() => {
      const s = mallory.channelState(id);
      return s.state.htlcs.length === 1 && s.sigA !== undefined && s.sigB !== undefined;
    }, 'the state with the HTLC is signed by both', 10_000, 20);
    const s = mallory.channelState(id);
    const old = { state: s.state, sigA: s.sigA as Uint8Array, sigB: s.sigB as Uint8Array };
    // one more payment revokes that state; the HTLC stays held
    const { invoice } = await mallory.createInvoice(10_000n);
    await victim.pay(invoice);
    await waitUntil(() => victim.channelState(id).state.version > old.state.version + 1, 'the old state is revoked', 10_000, 20);
    await breach(l1, mallory, old);
    await waitUntil(() => readChannelRecord(l1.node.chain.stateReader, id)!.ending === END_PENALTY, 'the victim punishes', 10_000, 50);
    // the fail-back waits until the penalty is closeConfirmations (2) blocks deep
    await victim.poll();
    expect(outcome).toBeUndefined();
    await l1.mine(2);
    await waitUntil(() => outcome !== undefined, "the victim's payment resolves", 10_000, 50);
    expect(outcome).toMatch(/^failed/);
  }, 60_000);
});
