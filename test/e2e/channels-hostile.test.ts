/**
 * Hostile inputs and dishonest parties against the channel layer (real L1, real libp2p on
 * loopback): a swap initiator whose lock pays someone else or expires too early; oversized onions
 * and failure blobs in a peer's commitment; a gossip flood of free node announcements; a watchtower
 * client past its quota; a busy channel not penalised by the peer request rate. Each test fails on
 * the code before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdjudicatorReader,
  CHANNEL_REQUEST_RATE,
  GossipMsg,
  MSG,
  NodeAnnouncementCodec,
  randomEdKey,
  runAtomicSwap,
  towerSubmitDigest,
  edSignMsg,
  WatchtowerService,
  withClaimKey,
  type ChannelNode,
} from '@strata/channels';
import { blake2b256Parts, encode, isStrataError, randomKeyPair, toHex, utf8 } from '@strata/primitives';
import { waitUntil } from '../helpers/wait.js';
import { cleanupDirs, silentLogger, startChannelNode, startTestL1, tmp, type TestL1 } from '../helpers/channels.js';

let l1: TestL1;
let alice: ChannelNode;
let bob: ChannelNode;
let ab: Uint8Array;

beforeAll(async () => {
  l1 = await startTestL1();
  alice = await startChannelNode(l1.client(), 'alice', l1.accounts[1]!);
  bob = await startChannelNode(l1.client(), 'bob', l1.accounts[2]!);
  const bobKey = await alice.connect(bob.p2p.multiaddrs[0]!);
  ab = await alice.openChannel(bobKey, 1_000_000n);
}, 60_000);

afterAll(async () => {
  for (const n of [alice, bob]) await n?.stop();
  await l1?.stop();
  cleanupDirs();
});

const waitBlocks = async (c: ReturnType<TestL1['client']>, h: number) => {
  while ((await c.height()) <= h) await l1.mine(1);
};

describe('swaps: the counterparty checks the whole lock before locking its own', () => {
  const A = () => l1.accounts[5]!.keys;
  const B = () => l1.accounts[6]!.keys;
  for (const [what, cheat, why] of [
    ['pays another receiver', { receiver: randomKeyPair().address }, /pays someone else/],
    ['expires before the counterparty could claim', { timeout: 6 }, /expires at/],
  ] as const) {
    it(`an initiator lock that ${what} is refused; the counterparty locks nothing`, async () => {
      const x = l1.client();
      const y = l1.client();
      const before = await y.balance(B().address);
      const e = await runAtomicSwap(withClaimKey({ chain: x, payer: A(), receiver: B().address, amount: 5_000n, timeout: 20 }, B()), withClaimKey({ chain: y, payer: B(), receiver: A().address, amount: 4_000n, timeout: 10 }, A()), { waitBlocks, cheat }).catch((err: unknown) => err);
      expect(isStrataError(e) && e.code).toBe('SWAP_FAILED');
      expect(String((e as Error).message)).toMatch(why);
      expect(await y.balance(B().address)).toBe(before);
    });
  }

  it('an honest swap on the same terms still completes', async () => {
    const r = await runAtomicSwap(withClaimKey({ chain: l1.client(), payer: A(), receiver: B().address, amount: 5_000n, timeout: 20 }, B()), withClaimKey({ chain: l1.client(), payer: B(), receiver: A().address, amount: 4_000n, timeout: 10 }, A()), { waitBlocks });
    expect(r.status).toBe('completed');
    expect((await new AdjudicatorReader(l1.client()).swap(Buffer.from(r.legs[0]!.swapId.slice(2), 'hex')))?.status).toBe(1);
  });
});

describe('hostile peer input', () => {
  it("a commitment carrying an onion or failure blob of the wrong size is refused whole", async () => {
    const hash = new Uint8Array(32).fill(9);
    await expect(alice.sendRawProposal(ab, [{ kind: 'add', id: 50_000, amount: 10n, hash, expiry: l1.height() + 100, onion: new Uint8Array(4000) }])).rejects.toThrow(/CHANNEL_INVALID.*onion must be 1366 bytes/);
    await expect(alice.sendRawProposal(ab, [{ kind: 'fail', id: 0, reason: new Uint8Array(3000) }])).rejects.toThrow(/CHANNEL_INVALID.*reason must be/);
    expect(bob.channelState(ab).state.htlcs).toHaveLength(0);
  });

  it('a flood of node announcements for nodes without channels is dropped, rate-limited, and costs the sender', async () => {
    const send = (alice as unknown as { send(peer: Uint8Array, type: number, body: Uint8Array): Promise<Uint8Array> }).send.bind(alice);
    let refused = 0;
    // in batches of 26 at once: sent one by one on a loaded machine, 260 sends took over 3 s, and
    // the bucket (20/s, burst 200) refilled enough to take them all (refused = 0)
    const one = async (i: number) => {
      const k = randomEdKey();
      const n: { nodeKey: Uint8Array; onionKey: Uint8Array; alias: Uint8Array; addrs: Uint8Array[]; timestamp: number; sig: Uint8Array } = { nodeKey: k.publicKey, onionKey: new Uint8Array(33).fill(2), alias: utf8(`sybil${i}`), addrs: [], timestamp: Math.floor(Date.now() / 1000), sig: new Uint8Array(64) };
      n.sig = edSignMsg(k, blake2b256Parts([encode(NodeAnnouncementCodec, n)], utf8('strata-chan-node')));
      await send(bob.nodeKey, MSG.GOSSIP, encode(GossipMsg, { kind: 2, body: encode(NodeAnnouncementCodec, n) })).catch(() => refused++);
    };
    for (let j = 0; j < 260; j += 26) await Promise.all(Array.from({ length: 26 }, (_, i) => one(j + i)));
    expect([...bob.graph.nodes.values()].filter((n) => new TextDecoder().decode(n.alias).startsWith('sybil'))).toHaveLength(0);
    expect(bob.store.list('g:2:').length).toBeLessThanOrEqual(2);
    expect(refused).toBeGreaterThan(0);
    expect(bob.p2p.scoreOf(alice.p2p.peerId)).toBeLessThan(0);
    // the channel itself still works (the penalty is far from a ban)
    const { invoice } = await bob.createInvoice(1_000n);
    await alice.pay(invoice);
  });
});

describe('limits that must not bite honest use', () => {
  it(`a busy channel (hundreds of peer requests in a burst) is not penalised by the request rate (${CHANNEL_REQUEST_RATE.perSecond}/s)`, async () => {
    const carolL = await startChannelNode(l1.client(), 'carol', l1.accounts[3]!);
    const daveL = await startChannelNode(l1.client(), 'dave', l1.accounts[4]!);
    try {
      const dk = await carolL.connect(daveL.p2p.multiaddrs[0]!);
      const cd = await carolL.openChannel(dk, 1_000_000n);
      await Promise.all(Array.from({ length: 300 }, () => carolL.sendRawProposal(cd, [{ kind: 'fulfil', id: 77, preimage: new Uint8Array(32) }])));
      expect(daveL.p2p.scoreOf(carolL.p2p.peerId)).toBe(0);
    } finally {
      await carolL.stop();
      await daveL.stop();
    }
  });
});

describe('watchtower quota per client', () => {
  it('a client past its quota is refused whole; another client and signed submissions are unaffected; forged client signatures are refused', async () => {
    const tower = new WatchtowerService({ dataDir: tmp('tower-q-'), key: l1.accounts[7]!.keys, maxBlobsPerClient: 3, maxAnonymousBlobs: 2 }, { chain: l1.client(), logger: silentLogger });
    const submit = tower.rpcMethods().tower_submit!.handler as (p: unknown[]) => Promise<{ stored: number }>;
    const blobs = (n: number) => Array.from({ length: n }, () => ({ hint: randomKeyPair().address.subarray(0, 16), blob: new Uint8Array(100).fill(1) }));
    const signed = (k: ReturnType<typeof randomEdKey>, items: ReturnType<typeof blobs>) => [items.map((b) => [toHex(b.hint), toHex(b.blob)]), { client: toHex(k.publicKey), sig: toHex(edSignMsg(k, towerSubmitDigest(items))) }];
    const c1 = randomEdKey();
    const c2 = randomEdKey();
    expect((await submit(signed(c1, blobs(3)))).stored).toBe(3);
    const over = await submit(signed(c1, blobs(1))).catch((e: unknown) => e);
    expect(isStrataError(over) && over.code).toBe('CHANNEL_LIMIT');
    expect((await submit(signed(c2, blobs(2)))).stored).toBe(2);
    const forged = signed(c2, blobs(1));
    (forged[1] as { client: string }).client = toHex(c1.publicKey);
    await expect(submit(forged)).rejects.toThrow(/signature/);
    expect((await submit([blobs(2).map((b) => [toHex(b.hint), toHex(b.blob)])])).stored).toBe(2);
    await expect(submit([blobs(1).map((b) => [toHex(b.hint), toHex(b.blob)])])).rejects.toThrow(/quota/);
    await tower.stop();
  });
});

describe('expiry checks from the first moment', () => {
  it('right after start (before any driver tick reads the height), an HTLC expiring too soon is refused', async () => {
    await l1.mine(30);
    // every height poll takes 2.5 s (a slow chain RPC): the driver's first tick has not read the
    // height yet when the peer proposes; only the read start() awaits before serving peers has
    const chain = l1.client();
    const realHeight = chain.height.bind(chain);
    chain.height = async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return realHeight();
    };
    const erin = await startChannelNode(chain, 'erin', l1.accounts[8]!, { pollMs: 60_000 });
    try {
      const ek = await alice.connect(erin.p2p.multiaddrs[0]!);
      const ae = await alice.openChannel(ek, 1_000_000n);
      await waitUntil(() => erin.channelState(ae).status === 'open', 'erin sees the channel open', 10_000, 20);
      const r = await alice.sendRawProposal(ae, [{ kind: 'add', id: 60_000, amount: 10n, hash: new Uint8Array(32).fill(4), expiry: l1.height() + 1, onion: new Uint8Array(1366) }]);
      expect(r.reason).toMatch(/too close/);
    } finally {
      await erin.stop();
    }
  });
});
