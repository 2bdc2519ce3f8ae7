/** Pure parts of the channel layer: onion, invoices, state updates, routing, the adjudicator's signatures. */
import { describe, expect, it } from 'vitest';
import {
  applyUpdates,
  buildOnion,
  ChannelGraph,
  createFailure,
  decodeInvoice,
  decryptFailure,
  DEFAULT_LIMITS,
  encodeInvoice,
  FAIL,
  invoiceExpired,
  MissionControl,
  ONION_PACKET_SIZE,
  openingState,
  peelOnion,
  randomEdKey,
  random32,
  secpPublic,
  secpRandomSecret,
  sha256,
  stateTotal,
  useNobleOnionCurve,
  wrapFailure,
  type ChannelAnnouncement,
  type HopPayload,
} from '@strata/channels';
import { isStrataError } from '@strata/primitives';

const hop = (i: number, last: boolean): HopPayload => ({
  next: last ? new Uint8Array(0) : new Uint8Array(32).fill(i + 1),
  amount: BigInt(1000 - i),
  expiry: 100 - i,
  secret: last ? new Uint8Array(32).fill(9) : new Uint8Array(0),
  total: last ? 1000n : 0n,
});

function route(n: number) {
  const keys = Array.from({ length: n }, () => secpRandomSecret());
  const hops = keys.map((k, i) => ({ key: secpPublic(k), payload: hop(i, i === n - 1) }));
  return { keys, hops };
}

describe('Sphinx onion', () => {
  for (const n of [1, 2, 3, 5, 12]) {
    it(`${n} hops: each hop reads only its payload; the packet keeps its size at every hop`, () => {
      const { keys, hops } = route(n);
      const assoc = random32();
      const { packet } = buildOnion(hops, assoc);
      let p: Uint8Array | undefined = packet;
      for (let i = 0; i < n; i++) {
        expect(p?.length).toBe(ONION_PACKET_SIZE);
        const r = peelOnion(p as Uint8Array, keys[i] as Uint8Array, assoc);
        expect(r.payload.amount).toBe(BigInt(1000 - i));
        expect(r.payload.expiry).toBe(100 - i);
        expect(r.next === undefined).toBe(i === n - 1);
        p = r.next;
      }
    });
  }

  it('a tampered packet fails its HMAC at the next hop (any flipped byte; the wrong key; the wrong payment hash)', () => {
    const { keys, hops } = route(3);
    const assoc = random32();
    const { packet } = buildOnion(hops, assoc);
    for (const at of [40, 500, 1333, ONION_PACKET_SIZE - 1]) {
      const bad = Uint8Array.from(packet);
      bad[at] = (bad[at] as number) ^ 1;
      expect(() => peelOnion(bad, keys[0] as Uint8Array, assoc)).toThrow(/HMAC/);
    }
    expect(() => peelOnion(packet, keys[1] as Uint8Array, assoc)).toThrow(/HMAC/);
    expect(() => peelOnion(packet, keys[0] as Uint8Array, random32())).toThrow(/HMAC/);
    // tampering after the first hop: the second hop detects it
    const next = peelOnion(packet, keys[0] as Uint8Array, assoc).next as Uint8Array;
    next[900] = (next[900] as number) ^ 0x80;
    expect(() => peelOnion(next, keys[1] as Uint8Array, assoc)).toThrow(/HMAC/);
    expect(() => peelOnion(packet.subarray(1), keys[0] as Uint8Array, assoc)).toThrow(/bytes/);
  });

  it('failures return encrypted; only the payer learns which hop failed', () => {
    const { keys, hops } = route(4);
    const assoc = random32();
    const { packet, secrets } = buildOnion(hops, assoc);
    const peeled: Uint8Array[] = [];
    let p: Uint8Array | undefined = packet;
    for (let i = 0; i < 3; i++) {
      const r = peelOnion(p as Uint8Array, keys[i] as Uint8Array, assoc);
      peeled.push(r.secret);
      p = r.next;
    }
    // hop 2 fails; hops 1 and 0 wrap on the way back
    let f = createFailure(peeled[2] as Uint8Array, { code: FAIL.TEMPORARY_CHANNEL_FAILURE, data: new Uint8Array([7]) });
    f = wrapFailure(peeled[1] as Uint8Array, f);
    f = wrapFailure(peeled[0] as Uint8Array, f);
    const d = decryptFailure(secrets, f);
    expect(d?.hop).toBe(2);
    expect(d?.message.code).toBe(FAIL.TEMPORARY_CHANNEL_FAILURE);
    // an intermediate hop cannot read it
    expect(decryptFailure([peeled[0] as Uint8Array], f)).toBeUndefined();
  });

  it('the noble fallback builds the same onion as the native curve', () => {
    const { keys, hops } = route(3);
    const assoc = random32();
    const session = secpRandomSecret();
    const a = buildOnion(hops, assoc, session).packet;
    useNobleOnionCurve();
    const b = buildOnion(hops, assoc, session).packet;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(peelOnion(b, keys[0] as Uint8Array, assoc).payload.amount).toBe(1000n);
  });
});

describe('invoices', () => {
  const key = randomEdKey();
  const base = { chainPrefix: 'st', amount: 12_345n, timestamp: Math.floor(Date.now() / 1000), paymentHash: random32(), paymentSecret: random32(), expiry: 600, description: 'two coffees ☕', minFinalExpiry: 12 };
  it('round-trip: bech32 with the chain prefix, every field back, signature checked', () => {
    const text = encodeInvoice(base, key);
    expect(text.startsWith('lnst12345')).toBe(true);
    const inv = decodeInvoice(text, 'st');
    expect(inv.amount).toBe(12_345n);
    expect(inv.description).toBe('two coffees ☕');
    expect(Buffer.from(inv.payee).equals(Buffer.from(key.publicKey))).toBe(true);
    expect(Buffer.from(inv.paymentHash).equals(Buffer.from(base.paymentHash))).toBe(true);
  });
  it('refuses another chain, a changed amount, a broken checksum; knows when it expired', () => {
    const text = encodeInvoice(base, key);
    expect(() => decodeInvoice(text, 'sl')).toThrow(/chain/);
    const other = encodeInvoice({ ...base, amount: 99n }, key);
    // splice the data part of one into the hrp of the other: the signature covers the hrp
    const forged = `lnst12345${other.slice(other.indexOf('1', 4))}`;
    expect(() => decodeInvoice(forged)).toThrow();
    const flipped = `${text.slice(0, -1)}${text.endsWith('q') ? 'p' : 'q'}`;
    expect(() => decodeInvoice(flipped)).toThrow(/bech32/);
    expect(invoiceExpired(decodeInvoice(text), base.timestamp + 601)).toBe(true);
    expect(invoiceExpired(decodeInvoice(text), base.timestamp + 10)).toBe(false);
  });
});

describe('state updates', () => {
  const id = random32();
  it('value is conserved through adds, fulfils and fails; wrong preimages and unknown HTLCs are refused', () => {
    let s = openingState(id, 1_000_000n, 100_000n);
    const pre = random32();
    s = applyUpdates(s, 0, [{ kind: 'add', id: 0, amount: 5000n, hash: sha256(pre), expiry: 50, onion: new Uint8Array(0) }, { kind: 'add', id: 1, amount: 7000n, hash: random32(), expiry: 50, onion: new Uint8Array(0) }], DEFAULT_LIMITS);
    expect(stateTotal(s)).toBe(1_000_000n);
    expect(() => applyUpdates(s, 1, [{ kind: 'fulfil', id: 0, preimage: random32() }], DEFAULT_LIMITS)).toThrow(/preimage/);
    expect(() => applyUpdates(s, 0, [{ kind: 'fulfil', id: 0, preimage: pre }], DEFAULT_LIMITS)).toThrow(/no HTLC/);
    s = applyUpdates(s, 1, [{ kind: 'fulfil', id: 0, preimage: pre }, { kind: 'fail', id: 1, reason: new Uint8Array(0) }], DEFAULT_LIMITS);
    expect(stateTotal(s)).toBe(1_000_000n);
    expect(s.balanceB).toBe(105_000n);
    expect(s.version).toBe(2);
    expect(s.htlcs.length).toBe(0);
  });
  it('limits: dust, reserve, max HTLCs, max in flight', () => {
    const s = openingState(id, 100_000n, 0n);
    const lim = { reserve: 1000n, dust: 100n, maxHtlcs: 2, maxInFlight: 50_000n };
    const add = (i: number, amount: bigint) => ({ kind: 'add' as const, id: i, amount, hash: random32(), expiry: 9, onion: new Uint8Array(0) });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isStrataError(e) ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => applyUpdates(s, 0, [add(0, 99n)], lim))).toBe('CHANNEL_LIMIT');
    expect(code(() => applyUpdates(s, 0, [add(0, 99_500n)], lim))).toBe('CHANNEL_LIMIT');
    expect(code(() => applyUpdates(s, 0, [add(0, 100n), add(1, 100n), add(2, 100n)], lim))).toBe('CHANNEL_LIMIT');
    expect(code(() => applyUpdates(s, 0, [add(0, 30_000n), add(1, 30_000n)], lim))).toBe('CHANNEL_LIMIT');
    expect(code(() => applyUpdates(s, 1, [add(0, 100n)], lim))).toBe('CHANNEL_LIMIT'); // B has nothing
    expect(code(() => applyUpdates(s, 0, [add(0, 100n), add(0, 100n)], lim))).toBe('CHANNEL_INVALID');
  });
});

describe('routing', () => {
  const k = (n: number) => new Uint8Array(32).fill(n);
  const ann = (id: number, a: number, b: number, cap = 1_000_000n): ChannelAnnouncement => ({ chainId: 1, channelId: k(100 + id), nodeA: k(a), nodeB: k(b), capacity: cap, sigA: new Uint8Array(64), sigB: new Uint8Array(64) });
  const pol = (fee: bigint, ppm: number, delta: number) => ({ feeBase: fee, feePpm: ppm, cltvDelta: delta, htlcMin: 1n, htlcMax: 1n << 60n, disabled: false, timestamp: 1 });
  function graph() {
    // 1 → 2 → 4 (cheap), 1 → 3 → 4 (expensive); 1 is the payer
    const g = new ChannelGraph();
    for (const [id, a, b] of [[1, 1, 2], [2, 2, 4], [3, 1, 3], [4, 3, 4]] as const) g.addChannel(ann(id, a, b));
    for (const c of g.channels.values()) c.policies = [pol(1n, 100, 6), pol(1n, 100, 6)];
    g.channel(k(104))!.policies = [pol(50n, 5000, 40), pol(50n, 5000, 40)];
    return g;
  }
  const local = () => () => 10_000_000n;
  it('picks the cheapest feasible path; amounts and expiries shrink toward the payee', () => {
    const r = graph().findRoute(k(1), k(4), 10_000n, 500, { localBalance: local() })!;
    expect(r.hops.map((h) => h.node[0])).toEqual([2, 4]);
    expect(r.hops[1]!.amount).toBe(10_000n);
    expect(r.hops[0]!.amount).toBe(10_000n + 1n + 1n); // base 1 + 100 ppm of 10,000
    expect(r.hops[0]!.expiry).toBe(506);
    expect(r.hops[1]!.expiry).toBe(500);
  });
  it('mission control: after a failure on the cheap path, the other path wins; capacity is respected', () => {
    const g = graph();
    const mc = new MissionControl();
    mc.report(k(102), k(2), 10_000n, false);
    const r = g.findRoute(k(1), k(4), 10_000n, 500, { mc, localBalance: local() })!;
    expect(r.hops.map((h) => h.node[0])).toEqual([3, 4]);
    // below the failed amount the cheap path is tried again
    expect(g.findRoute(k(1), k(4), 1_000n, 500, { mc, localBalance: local() })!.hops[0]!.node[0]).toBe(2);
    expect(g.findRoute(k(1), k(4), 2_000_000n, 500, { localBalance: local() })).toBeUndefined();
  });
});
