/**
 * applyEach — how a round takes this node's queued updates: in one pass over the state, with the
 * result of applying them one at a time and dropping each one that throws (what takeOwn did
 * before, one applyUpdates call per update: each copied, re-keyed and sorted every HTLC in
 * flight). Checked against that one-at-a-time reference on random queues with every way an
 * update can be refused.
 */
import { describe, expect, it } from 'vitest';
import { applyEach, applyUpdates, openingState, random32, sha256, type ChannelLimits, type ChannelState, type Htlc, type Side, type Update } from '@strata/channels';
import { bytesEqual, isStrataError, StrataError } from '@strata/primitives';

/**
 * The reference, independent of the code under test: applyUpdates as it was before applyEach (one
 * pass that throws at the first bad update, the limits checked on the final state), copied here.
 */
const limit = (msg: string, meta: Record<string, unknown>): never => {
  throw new StrataError('CHANNEL_LIMIT', msg, meta);
};
function referenceApplyUpdates(s: ChannelState, proposer: Side, updates: Update[], limits: ChannelLimits): ChannelState {
  let balA = s.balanceA;
  let balB = s.balanceB;
  const htlcs = new Map<string, Htlc>();
  for (const h of s.htlcs) htlcs.set(`${h.offerer}:${h.id}`, h);
  for (const u of updates) {
    if (u.kind === 'add') {
      const key = `${proposer}:${u.id}`;
      if (htlcs.has(key)) throw new StrataError('CHANNEL_INVALID', `HTLC id ${u.id} is already in use`, { id: u.id });
      if (u.amount < limits.dust) limit(`HTLC of ${u.amount} is below the dust limit ${limits.dust}`, { amount: u.amount.toString(), dust: limits.dust.toString() });
      const bal = proposer === 0 ? balA : balB;
      if (bal - u.amount < limits.reserve) {
        limit(`HTLC of ${u.amount} would take the sender's balance ${bal} below the reserve ${limits.reserve}`, { amount: u.amount.toString(), balance: bal.toString() });
      }
      if (proposer === 0) balA -= u.amount;
      else balB -= u.amount;
      htlcs.set(key, { id: u.id, offerer: proposer, amount: u.amount, hash: u.hash, expiry: u.expiry });
    } else {
      // fulfil / fail remove an HTLC the *other* side offered
      const other = (1 - proposer) as Side;
      const key = `${other}:${u.id}`;
      const h = htlcs.get(key);
      if (!h) throw new StrataError('CHANNEL_INVALID', `no HTLC ${u.id} offered by the peer`, { id: u.id });
      if (u.kind === 'fulfil') {
        if (!bytesEqual(sha256(u.preimage), h.hash)) throw new StrataError('CHANNEL_INVALID', `preimage does not match HTLC ${u.id}'s payment hash`, { id: u.id });
        if (proposer === 0) balA += h.amount;
        else balB += h.amount;
      } else if (other === 0) balA += h.amount;
      else balB += h.amount;
      htlcs.delete(key);
    }
  }
  let count = 0;
  let inFlight = 0n;
  for (const h of htlcs.values()) {
    if (h.offerer !== proposer) continue;
    count++;
    inFlight += h.amount;
  }
  if (count > limits.maxHtlcs) limit(`${count} pending HTLCs exceed max_accepted_htlcs ${limits.maxHtlcs}`, { count, max: limits.maxHtlcs });
  if (inFlight > limits.maxInFlight) limit(`${inFlight} in flight exceeds max_htlc_value_in_flight ${limits.maxInFlight}`, { inFlight: inFlight.toString() });
  const out = [...htlcs.values()].sort((a, b) => a.offerer - b.offerer || a.id - b.id);
  return { channelId: s.channelId, version: s.version + 1, balanceA: balA, balanceB: balB, htlcs: out };
}

/** One referenceApplyUpdates per update, a refused one dropped (its error kept). */
function oneByOne(s: ChannelState, side: Side, updates: Update[], limits: ChannelLimits) {
  const taken: Update[] = [];
  const refused: [Update, string][] = [];
  let cur = s;
  for (const u of updates) {
    try {
      cur = referenceApplyUpdates(cur, side, [u], limits);
      taken.push(u);
    } catch (e) {
      refused.push([u, isStrataError(e) ? `${e.code}: ${e.message}` : String(e)]);
    }
  }
  return { cur, taken, refused };
}

/** A small deterministic PRNG (the cases are reproducible from the seed). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

describe('applyEach', () => {
  it('equals applying the updates one at a time and dropping each refused one (random queues, every refusal kind)', () => {
    const limits: ChannelLimits = { reserve: 1_000n, dust: 100n, maxHtlcs: 6, maxInFlight: 40_000n };
    let refusedKinds = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const side = r(2) as Side;
      const other = (1 - side) as Side;
      // a starting state with HTLCs of both sides, some of whose preimages are known
      let s = openingState(random32(), 100_000n, 30_000n);
      const preimages = new Map<number, Uint8Array>();
      const start: Update[] = [];
      for (let i = 0; i < 4; i++) {
        const pre = random32();
        preimages.set(i, pre);
        start.push({ kind: 'add', id: i, amount: BigInt(200 + r(3000)), hash: sha256(pre), expiry: 50, onion: new Uint8Array(0) });
      }
      s = applyUpdates(s, other, start, limits);
      const mine: Update[] = [{ kind: 'add', id: 0, amount: 500n, hash: random32(), expiry: 50, onion: new Uint8Array(0) }];
      s = applyUpdates(s, side, mine, limits);
      // the queue: adds (fresh, duplicate id, dust, above the balance), fulfils (right and wrong
      // preimage, unknown id, twice), fails
      const queue: Update[] = [];
      let nextId = 1;
      for (let k = 0; k < 12; k++) {
        const pick = r(9);
        if (pick <= 2) queue.push({ kind: 'add', id: nextId++, amount: BigInt(100 + r(12_000)), hash: random32(), expiry: 50, onion: new Uint8Array(0) });
        else if (pick === 3) queue.push({ kind: 'add', id: r(nextId), amount: 300n, hash: random32(), expiry: 50, onion: new Uint8Array(0) });
        else if (pick === 4) queue.push({ kind: 'add', id: nextId++, amount: BigInt(r(100)), hash: random32(), expiry: 50, onion: new Uint8Array(0) });
        else if (pick === 5) queue.push({ kind: 'add', id: nextId++, amount: 200_000n, hash: random32(), expiry: 50, onion: new Uint8Array(0) });
        else if (pick === 6) {
          const id = r(5);
          queue.push({ kind: 'fulfil', id, preimage: preimages.get(id) ?? random32() });
        } else if (pick === 7) queue.push({ kind: 'fulfil', id: r(4), preimage: random32() });
        else queue.push({ kind: 'fail', id: r(6), reason: new Uint8Array(0) });
      }
      const want = oneByOne(s, side, queue, limits);
      const got = applyEach(s, side, queue, limits);
      expect(got.taken).toEqual(want.taken);
      expect(got.refused.map(([u, e]) => [u, `${e.code}: ${e.message}`])).toEqual(want.refused);
      const w = want.taken.length > 0 ? { ...want.cur, version: s.version + 1 } : s;
      expect(want.taken.length > 0 ? got.next : s).toEqual(w);
      // value is conserved whatever was refused
      expect(got.next.balanceA + got.next.balanceB + got.next.htlcs.reduce((a, x) => a + x.amount, 0n)).toBe(100_000n);
      for (const [, e] of want.refused) refusedKinds.add(e.split(':')[0] as string);
      refusedKinds = new Set([...refusedKinds]);
    }
    // the cases reached both kinds of refusal
    expect([...refusedKinds].sort()).toEqual(['CHANNEL_INVALID', 'CHANNEL_LIMIT']);
  });

  it('refuses the add past max HTLCs and past max in flight, and takes the later ones that fit', () => {
    const s = openingState(random32(), 100_000n, 0n);
    const lim: ChannelLimits = { reserve: 1_000n, dust: 100n, maxHtlcs: 2, maxInFlight: 50_000n };
    const add = (id: number, amount: bigint): Update => ({ kind: 'add', id, amount, hash: random32(), expiry: 9, onion: new Uint8Array(0) });
    const r = applyEach(s, 0, [add(0, 30_000n), add(1, 30_000n), add(2, 10_000n), add(3, 500n)], lim);
    expect(r.taken.map((u) => u.id)).toEqual([0, 2]);
    expect(r.refused.map(([u, e]) => [u.id, e.code])).toEqual([
      [1, 'CHANNEL_LIMIT'],
      [3, 'CHANNEL_LIMIT'],
    ]);
    expect(r.next.version).toBe(s.version + 1);
    expect(r.next.balanceA).toBe(60_000n);
  });
});
