/**
 * The same channel layer with the optimistic L2 as the parent chain (the adjudicator composed into
 * the L2 runtime through RollupConfig.l2Modules), and atomic swaps between the L1 and the L2 in
 * both directions, completing on both or refunding on both. A real devnet in-process: L1 node,
 * sequencer, batcher, proposer, challenger, both RPC servers; channel nodes over libp2p.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  END_COOPERATIVE,
  END_PENALTY,
  RpcChainClient,
  runAtomicSwap,
  sendAndWait,
  SignedStateArgs,
  withClaimKey,
  AdjudicatorReader,
  type ChainClient,
  type ChannelNode,
} from '@strata/channels';
import { startDevnet, type Devnet } from '@strata/devnet';
import { DepositArgs, rollupModuleNames, makeL2Env, NodeL1Client, signL2Transfer } from '@strata/optimistic';
import { encode, fromQuantity, keyPairFromSecret, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx } from '@strata/runtime';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, silentLogger, startChannelNode, tmp } from '../helpers/channels.js';

let devnet: Devnet;
let l2: RpcChainClient;
let l1: RpcChainClient;
const nodes: ChannelNode[] = [];
const CAP = 1_000_000n;
/** The devnet L2's floor for dispute delays, 2W + F + 1 L1 blocks (minL2ToSelfDelay). */
const DELAY = 25;

async function l2Balance(addr: Uint8Array): Promise<bigint> {
  return l2.balance(addr);
}

/** The L2's block number (`l2.height()` is the adjudicator's clock there: the L2's L1 origin). */
async function l2Number(): Promise<number> {
  const h = await new RpcClient(devnet.l2!.rpcUrl).call<{ number: string }>('chain_getHead');
  return Number(fromQuantity(h.number));
}

/** The adjudicator's clock on the L2 moves with L1 blocks: mine one, wait for the L2 to carry it. */
async function mineL1For(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await l2.height();
    await devnet.l1.node.mineBlocks(1);
    await waitUntil(async () => (await l2.height()) > c, 'the L2 carries the new L1 origin', 10_000, 30);
  }
}

/** Waits (up to 5 s, never fails) for the L2's safe head to reach its unsafe head as it is now. */
async function l2SafeCatchUp(): Promise<void> {
  const rpc = new RpcClient(devnet.l2!.rpcUrl);
  const head = async (tag?: string) => Number(fromQuantity((await rpc.call<{ number: string }>('chain_getHead', tag === undefined ? [] : [tag])).number));
  const unsafe = await head();
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && (await head('safe')) < unsafe) await new Promise((r) => setTimeout(r, 50));
}

/** L2 blocks come with transactions: a tiny transfer per block moves the L2 height. */
async function mineL2(n: number, key: KeyPair): Promise<void> {
  const env = makeL2Env(devnet.l2!.config);
  const rpc = new RpcClient(devnet.l2!.rpcUrl);
  for (let i = 0; i < n; i++) {
    const h = await l2Number();
    const a = await rpc.call<{ nextNonce: string }>('state_getAccount', [toHex(key.address)]);
    await rpc.call('tx_sendRaw', [toHex(encodeTx(signL2Transfer(env, key.secretKey, Number(fromQuantity(a.nextNonce)), key.address, 1n)))]);
    await waitUntil(async () => (await l2Number()) > h, 'an L2 block', 10_000, 30);
  }
}

beforeAll(async () => {
  devnet = await startDevnet({ dataDir: tmp('chan-l2-devnet-'), port: 0, channels: false, zk: false, sidechain: false, l3: false, explorer: false, rollup: { port: 0, blockTimeMs: 50 } }, { logger: silentLogger });
  l1 = new RpcChainClient(devnet.l1.rpcUrl);
  l2 = new RpcChainClient(devnet.l2!.rpcUrl);
  const node = devnet.l1.node;
  const client = new NodeL1Client(node, devnet.l2!.config, (a) => node.mempool.nextNonce(a, node.chain.account(a).nonce));
  // fund dev accounts 1-5 on the L2
  for (const i of [1, 2, 3, 4, 5]) {
    const k = devnet.accounts[i]!.keys;
    await client.send(k, rollupModuleNames(devnet.l2!.config.rollupId).bridge, 'deposit', encode(DepositArgs, { rollupId: devnet.l2!.config.rollupId, to: k.address, amount: 50_000_000n }), 5_000);
  }
  await waitUntil(async () => (await l2Balance(devnet.accounts[5]!.keys.address)) > 0n, 'deposits credited on the L2', 30_000, 100);
}, 90_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await devnet?.stop();
  cleanupDirs();
});

describe('channels with the optimistic L2 as parent', () => {
  let alice: ChannelNode;
  let bob: ChannelNode;
  let carol: ChannelNode;
  // the swaps below pay from carol's wallet (dev account 3): her node must not send from it
  // meanwhile (with the 25-block delay her chain watch still sent a settle of bc2 then, and the
  // walk-away swap's refund found no lock: most likely the two senders' nonces collided)
  afterAll(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
  });
  let ab: Uint8Array;
  let bc: Uint8Array;

  it('opens Alice–Bob and Bob–Carol on the L2; a three-hop payment settles; value conserved', async () => {
    alice = await startChannelNode(l2, 'alice', devnet.accounts[1]!, { toSelfDelay: DELAY });
    bob = await startChannelNode(l2, 'bob', devnet.accounts[2]!, { toSelfDelay: DELAY });
    carol = await startChannelNode(l2, 'carol', devnet.accounts[3]!, { toSelfDelay: DELAY });
    nodes.push(alice, bob, carol);
    expect(alice.info().addressPrefix).toBe(devnet.l2!.config.l2AddressPrefix);
    const bk = await alice.connect(bob.p2p.multiaddrs[0]!);
    const ck = await bob.connect(carol.p2p.multiaddrs[0]!);
    ab = await alice.openChannel(bk, CAP);
    bc = await bob.openChannel(ck, CAP);
    const onL2 = await new AdjudicatorReader(l2).channel(ab);
    expect(onL2?.capacity).toBe(CAP);
    expect(await new AdjudicatorReader(l1).channel(ab)).toBeUndefined(); // on the L2, not the L1
    await waitUntil(() => alice.graph.channels.size === 2 && [...alice.graph.channels.values()].every((c) => c.policies[0] && c.policies[1]), 'graph', 15_000, 50);
    const { invoice } = await carol.createInvoice(25_000n);
    expect(invoice.startsWith(`ln${devnet.l2!.config.l2AddressPrefix}`)).toBe(true);
    const r = await alice.pay(invoice);
    expect(r.routes[0]?.hops).toEqual(['bob', 'carol']);
    await waitUntil(() => carol.channelState(bc).state.htlcs.length === 0, 'settled', 5000, 20);
    for (const [n, id] of [[alice, ab], [bob, bc], [carol, bc]] as const) {
      const s = n.channelState(id).state;
      expect(s.balanceA + s.balanceB + s.htlcs.reduce((x, h) => x + h.amount, 0n)).toBe(CAP);
    }
    expect(carol.channelState(bc).state.balanceB).toBe(25_000n);
  });

  it('a channel with a dispute delay below the L2 floor is refused on chain (a typed error): the peer may be censored past it', async () => {
    const dave = await startChannelNode(l2, 'dave', devnet.accounts[5]!, { toSelfDelay: DELAY - 1 });
    nodes.push(dave);
    const bk = await dave.connect(bob.p2p.multiaddrs[0]!);
    const before = await l2Balance(dave.wallet.address);
    const e = await dave.openChannel(bk, CAP).then(() => undefined, (x: unknown) => x as StrataError);
    expect(e).toBeInstanceOf(StrataError);
    expect(e?.code).toBe('CHANNEL_STATE');
    expect(e?.message).toMatch(/open failed on chain: CHANNEL_LIMIT.*toSelfDelay must be at least 25 blocks/);
    expect(before - (await l2Balance(dave.wallet.address))).toBeLessThan(CAP); // only the fee: nothing locked
  });

  it('a breach on the L2 is punished by the victim', async () => {
    const snap = () => {
      const s = alice.channelState(ab);
      return { state: s.state, sigA: s.sigA, sigB: s.sigB };
    };
    const old = snap();
    const { invoice } = await bob.createInvoice(100_000n);
    await alice.pay(invoice);
    await waitUntil(() => bob.channelState(ab).state.htlcs.length === 0 && alice.channelState(ab).state.htlcs.length === 0, 'settled', 5000, 20);
    const wallet = keyPairFromSecret(alice.wallet.secretKey);
    await alice.stop();
    const payB = (await new AdjudicatorReader(l2).channel(ab))!.payB;
    const before = await l2Balance(payB);
    await sendAndWait(l2, wallet, 'close', encode(SignedStateArgs, { state: old.state, sigA: old.sigA, sigB: old.sigB }));
    await waitUntil(async () => (await new AdjudicatorReader(l2).channel(ab))?.ending === END_PENALTY, 'bob punishes on the L2', 15_000, 50);
    expect((await l2Balance(payB)) - before).toBeGreaterThan(CAP - 50_000n);
  });

  it('cooperative close on the L2 pays both sides in one L2 transaction; a unilateral one only after the delay', async () => {
    const s = carol.channelState(bc).state;
    const rec0 = (await new AdjudicatorReader(l2).channel(bc))!;
    const a0 = await l2Balance(rec0.payA);
    const c0 = await l2Balance(rec0.payB);
    const h0 = await l2Number();
    const nonceOf = async (n: ChannelNode) => Number(fromQuantity((await new RpcClient(devnet.l2!.rpcUrl).call<{ nextNonce: string }>('state_getAccount', [toHex(n.wallet.address)])).nextNonce));
    const [cn0, bn0] = [await nonceOf(carol), await nonceOf(bob)];
    const r = await carol.closeChannel(bc);
    expect(r.how).toBe('cooperative');
    // one L2 transaction: carol sent one, bob none (the L2 may make empty blocks meanwhile: it follows its L1 origin)
    expect(r.height).toBeGreaterThan(h0);
    expect([(await nonceOf(carol)) - cn0, (await nonceOf(bob)) - bn0]).toEqual([1, 0]);
    expect((await new AdjudicatorReader(l2).channel(bc))!.ending).toBe(END_COOPERATIVE);
    expect((await l2Balance(rec0.payA)) - a0).toBe(s.balanceA); // bob, who did not send the close, got his share exactly
    const carolGain = (await l2Balance(rec0.payB)) - c0; // carol: her share minus the close fee
    expect(carolGain).toBeLessThan(s.balanceB);
    expect(carolGain).toBeGreaterThan(s.balanceB - 25_000n);
    // unilateral: a new channel, closed by force; nothing paid before the delay
    const ck = carol.nodeKey;
    const bc2 = await bob.openChannel(ck, CAP);
    await waitUntil(() => carol.list().some((c) => c.channelId === toHex(bc2) && c.status === 'open'), 'carol sees bc2', 10_000, 20);
    const t0 = await l2.height();
    await bob.closeChannel(bc2, true);
    const t1 = await l2.height();
    const rec = (await new AdjudicatorReader(l2).channel(bc2))!;
    // The delay counts L1 blocks (the L2's L1 origin), not L2 blocks the sequencer makes at will.
    expect(rec.disputeEnd).toBeGreaterThanOrEqual(t0 + DELAY);
    expect(rec.disputeEnd).toBeLessThanOrEqual(t1 + DELAY);
    await mineL2(6, devnet.accounts[5]!.keys);
    expect((await new AdjudicatorReader(l2).channel(bc2))?.ending).not.toBe(2);
    await mineL1For(DELAY + 1);
    await waitUntil(async () => (await new AdjudicatorReader(l2).channel(bc2))?.ending === 2, 'settled after the delay on the L2', 15_000, 50);
    // the close's depth counts L1 origin blocks, anchored to the L2's own block it was first
    // seen at (the L2 RPC serves no L1 block hash): that block is readable by number on the L2
    await bob.poll();
    // biome-ignore lint/suspicious/noExplicitAny: the anchor kept in bob's channel record
    const seen = [...(bob as any).channels.values()].find((c: { id: Uint8Array }) => toHex(c.id) === toHex(bc2)) as { closedSeenAt?: number; closedSeenBlock?: { number: number; hash: Uint8Array } } | undefined;
    expect(seen?.closedSeenAt).toBeLessThanOrEqual(await l2.height());
    const head = await l2.head();
    expect(head.clock).toBe(await l2.height());
    expect(seen!.closedSeenBlock!.number).toBeLessThanOrEqual(head.number);
    expect(await l2.blockHash(seen!.closedSeenBlock!.number)).toEqual(seen!.closedSeenBlock!.hash);
    expect(await l2.blockHash(head.number + 1000)).toBeUndefined();
  });
});

describe('atomic swaps between the L1 and the L2', () => {
  const waitBlocks = async (chain: ChainClient, h: number) => {
    while ((await chain.height()) <= h) {
      if (chain === l1) await devnet.l1.node.mineBlocks(1);
      else {
        // L1 blocks mined faster than the batcher posts push the L2's unsafe blocks out of their
        // sequencing window: the L2 re-sequences them at a newer L1 origin, where a swap lock
        // with a 4-block expiry has already expired and is dropped (the refund then finds no
        // lock). Let the batcher put the L2's blocks on the L1 before mining the next one, as
        // a swap on an L2 leg should wait for a safe lock (docs/channels.md).
        await l2SafeCatchUp();
        await mineL1For(1);
      }
    }
  };
  const A = () => devnet.accounts[4]!.keys;
  const B = () => devnet.accounts[3]!.keys;

  for (const dir of ['l1→l2', 'l2→l1'] as const) {
    it(`${dir}: completes on both chains`, async () => {
      const [x, y] = dir === 'l1→l2' ? [l1, l2] : [l2, l1];
      const ax = await x.balance(A().address);
      const by = await y.balance(B().address);
      const r = await runAtomicSwap(withClaimKey({ chain: x, payer: A(), receiver: B().address, amount: 70_000n, timeout: 20 }, B()), withClaimKey({ chain: y, payer: B(), receiver: A().address, amount: 60_000n, timeout: 10 }, A()), { waitBlocks });
      expect(r.status).toBe('completed');
      const sx = await new AdjudicatorReader(x).swap(Buffer.from(r.legs[0]!.swapId.slice(2), 'hex'));
      const sy = await new AdjudicatorReader(y).swap(Buffer.from(r.legs[1]!.swapId.slice(2), 'hex'));
      expect(sx?.status).toBe(1);
      expect(sy?.status).toBe(1);
      expect(ax - (await x.balance(A().address))).toBeGreaterThanOrEqual(70_000n); // paid (plus fees)
      expect((await y.balance(B().address)) - by).toBeLessThanOrEqual(-60_000n + 0n); // B paid 60k on y
    });
  }

  it('the counterparty walks away after both locked: both chains refund', async () => {
    const r = await runAtomicSwap(withClaimKey({ chain: l1, payer: A(), receiver: B().address, amount: 10_000n, timeout: 8 }, B()), withClaimKey({ chain: l2, payer: B(), receiver: A().address, amount: 10_000n, timeout: 4 }, A()), { waitBlocks, stopAfter: 'both-locked' });
    expect(r.status).toBe('refunded');
    expect((await new AdjudicatorReader(l1).swap(Buffer.from(r.legs[0]!.swapId.slice(2), 'hex')))?.status).toBe(2);
    expect((await new AdjudicatorReader(l2).swap(Buffer.from(r.legs[1]!.swapId.slice(2), 'hex')))?.status).toBe(2);
  });
});
