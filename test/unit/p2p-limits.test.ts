/**
 * Pure parts of the p2p bounds: the per-peer token bucket, the address book (validation,
 * backoff, persistence, bounded size), and the IP-colocation setting (on outside a devnet).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressBook, P2PNode, PEERS_FILE, parsePeerAddr, RateLimiter } from '@strata/p2p';
import { describe, expect, it } from 'vitest';

const ID = (n: number) => ['12D3KooWRBhwfeP2Y7TCx1Q1X4ZmXqu8ARxGyLxRbEB8NuYbB4GS', '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'][n] as string;

describe('p2p limits (pure)', () => {
  it('a token bucket allows the burst, then the rate', () => {
    let t = 0;
    const r = new RateLimiter({ perSecond: 2, burst: 3 }, () => t);
    expect([r.take('p'), r.take('p'), r.take('p'), r.take('p')]).toEqual([true, true, true, false]);
    expect(r.take('q')).toBe(true); // per key
    t = 500;
    expect([r.take('p'), r.take('p')]).toEqual([true, false]);
    expect(r.take('p', 10)).toBe(false);
  });

  it('the address book keeps dialable addresses only, backs off failures, forgets dead peers and survives a restart', () => {
    let t = 1000;
    const book = new AddressBook(ID(0), () => t);
    expect(book.add([`/ip4/10.0.0.1/tcp/1/p2p/${ID(1)}`, `/ip4/0.0.0.0/tcp/1/p2p/${ID(2)}`, `/ip4/10.0.0.2/udp/1/p2p/${ID(2)}`, `/ip4/10.0.0.3/tcp/1/p2p/${ID(0)}`, 'garbage'])).toBe(true);
    expect(book.size).toBe(1); // wildcard, udp, our own id and garbage are refused
    expect(() => parsePeerAddr('/ip4/1.2.3.4/tcp/5')).toThrow(expect.objectContaining({ code: 'DECODE_INVALID' }));
    book.failed(ID(1));
    expect(book.candidates(5, () => false)).toHaveLength(0); // backing off
    t += 2001;
    expect(book.candidates(5, () => false)).toHaveLength(1);
    for (let i = 0; i < 8; i++) book.failed(ID(1));
    expect(book.size).toBe(0); // never reached, failed too often
    book.add([`/ip4/10.0.0.9/tcp/9/p2p/${ID(2)}`]);
    book.connected(ID(2));
    const dir = mkdtempSync(join(tmpdir(), 'strata-book-'));
    try {
      book.save(dir);
      const again = new AddressBook(ID(0));
      expect(again.load(dir)).toBe(1);
      expect(again.get(ID(2))?.addrs).toEqual([`/ip4/10.0.0.9/tcp/9/p2p/${ID(2)}`]);
      writeFileSync(join(dir, PEERS_FILE), '{not json');
      expect(new AddressBook(ID(0)).load(dir)).toBe(0); // a cache: corrupt means empty
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('addresses a third party gossips for a peer id cannot displace the ones that peer announced itself', () => {
    const book = new AddressBook(ID(0));
    const real = `/ip4/10.0.0.7/tcp/7/p2p/${ID(1)}`;
    book.add([real]); // what the peer itself said (identify) when we connected
    book.connected(ID(1));
    // An attacker's peer exchange answer: four bogus addresses under the honest peer's id.
    const bogus = [1, 2, 3, 4].map((i) => `/ip4/6.6.6.${i}/tcp/1/p2p/${ID(1)}`);
    book.add(bogus, 'exchange');
    expect(book.get(ID(1))?.addrs[0]).toBe(real);
    expect(book.get(ID(1))?.addrs).toContain(real);
    // A peer we never reached: exchanged addresses fill free slots but never push others out.
    book.add([`/ip4/10.0.0.8/tcp/8/p2p/${ID(2)}`], 'exchange');
    book.add([5, 6, 7, 8, 9].map((i) => `/ip4/6.6.6.${i}/tcp/1/p2p/${ID(2)}`), 'exchange');
    expect(book.get(ID(2))?.addrs[0]).toBe(`/ip4/10.0.0.8/tcp/8/p2p/${ID(2)}`);
    expect(book.get(ID(2))?.addrs).toHaveLength(4);
  });

  it('gossipsub’s IP-colocation penalty is on, except on a local (devnet) network', async () => {
    const weight = (p: P2PNode) => (p as unknown as { node: { services: { pubsub: { score: { params: { IPColocationFactorWeight: number } } } } } }).node.services.pubsub.score.params.IPColocationFactorWeight;
    expect(weight(await P2PNode.create({ networkId: 'x' }))).toBeLessThan(0);
    expect(weight(await P2PNode.create({ networkId: 'x', localNetwork: true }))).toBe(0);
  });
});
