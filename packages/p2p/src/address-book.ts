/**
 * The address book of peer discovery: peers we have heard of (bootnodes, identify, peer
 * exchange), their dialable TCP multiaddrs, when we last reached them and how often dials have
 * failed (with exponential backoff). Bounded in size; persisted as `<dataDir>/peers.json` so a
 * restarted node can rejoin the network without its bootnodes. As Bitcoin's `addrman`, it is a
 * cache, not state: a missing or corrupt file starts an empty book.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { DecodeError, list, str, type Codec } from '@strata/primitives';

/** File name of the address book inside the data directory. */
export const PEERS_FILE = 'peers.json';
/** Most peers the book holds. */
export const MAX_BOOK_PEERS = 1000;
/** Most addresses kept per peer. */
const MAX_ADDRS_PER_PEER = 4;
/** Most addresses in one peer-exchange response. */
export const MAX_EXCHANGE_ADDRS = 64;
/** Longest multiaddr string accepted from a peer. */
const MAX_ADDR_CHARS = 256;
/** First and longest wait before re-dialling a peer that failed. */
const MIN_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 10 * 60_000;
/** A peer that failed this many dials in a row and was never reached since is forgotten. */
const FORGET_AFTER_FAILURES = 8;

/** Codec of a peer-exchange response: multiaddr strings, each ending in /p2p/<peerId>. */
export const PeerAddrsCodec: Codec<string[]> = list(str(MAX_ADDR_CHARS), MAX_EXCHANGE_ADDRS);

/** One peer in the book. */
export interface KnownPeer {
  id: string;
  addrs: string[];
  /** Last time we were connected to it (ms since epoch), 0 if never. */
  lastSeen: number;
  /** Dial failures since the last success. */
  failures: number;
  /** Not dialled again before this time. */
  nextDialAt: number;
}

/**
 * Splits a multiaddr string into its transport part and peer id when it is a dialable TCP
 * address ending in /p2p/<id>; throws DECODE_INVALID otherwise.
 */
export function parsePeerAddr(addr: string): { id: string; transport: string } {
  if (typeof addr !== 'string' || addr.length > MAX_ADDR_CHARS) throw new DecodeError('DECODE_INVALID', 'peer address too long or not a string');
  let comps: { name: string; value?: string }[];
  try {
    comps = multiaddr(addr).getComponents();
  } catch {
    throw new DecodeError('DECODE_INVALID', `not a multiaddr: ${addr.slice(0, 80)}`);
  }
  const last = comps[comps.length - 1];
  const ip = comps[0];
  if (
    comps.length !== 3 ||
    last?.name !== 'p2p' ||
    last.value === undefined ||
    (ip?.name !== 'ip4' && ip?.name !== 'ip6' && ip?.name !== 'dns4' && ip?.name !== 'dns6') ||
    comps[1]?.name !== 'tcp'
  ) {
    throw new DecodeError('DECODE_INVALID', `not a dialable /ip4|ip6/.../tcp/<port>/p2p/<id> address: ${addr.slice(0, 80)}`);
  }
  if (ip.value === '0.0.0.0' || ip.value === '::' || comps[1].value === '0') throw new DecodeError('DECODE_INVALID', `unspecified address ${addr.slice(0, 80)}`);
  return { id: last.value, transport: addr.slice(0, addr.length - last.value.length - 5) };
}

/** Whether a multiaddr names a loopback host. */
export function isLoopbackAddr(addr: string): boolean {
  return /^\/ip4\/127\./.test(addr) || addr.startsWith('/ip6/::1/') || addr.startsWith('/dns4/localhost/');
}

/** Peers heard of, with backoff for failed dials; see the file header. */
export class AddressBook {
  private readonly peers = new Map<string, KnownPeer>();
  private dirty = false;

  constructor(
    private readonly selfId: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of peers held. */
  get size(): number {
    return this.peers.size;
  }

  /**
   * Adds (or refreshes) a peer's addresses; invalid ones and our own id are skipped. Returns
   * whether anything new was learnt. `source` says who vouches for them: `'self'` (the peer
   * itself through identify, an operator's bootnode, our own saved book) puts them first;
   * `'exchange'` (a third party's peer-exchange answer) only fills free slots of a peer we
   * never reached, so nobody can displace an honest peer's addresses by gossiping bogus ones
   * under its id (an eclipse step).
   */
  add(addrs: string[], source: 'self' | 'exchange' = 'self'): boolean {
    let learnt = false;
    for (const a of addrs) {
      let p: { id: string };
      try {
        p = parsePeerAddr(a);
      } catch {
        continue;
      }
      if (p.id === this.selfId) continue;
      let e = this.peers.get(p.id);
      if (e === undefined) {
        if (this.peers.size >= MAX_BOOK_PEERS && !this.evictOne()) continue;
        e = { id: p.id, addrs: [], lastSeen: 0, failures: 0, nextDialAt: 0 };
        this.peers.set(p.id, e);
        learnt = true;
      }
      if (!e.addrs.includes(a)) {
        if (source === 'exchange') {
          if (e.lastSeen !== 0 || e.addrs.length >= MAX_ADDRS_PER_PEER) continue;
          e.addrs.push(a);
          learnt = true;
          this.dirty = true;
          continue;
        }
        e.addrs.unshift(a);
        if (e.addrs.length > MAX_ADDRS_PER_PEER) e.addrs.length = MAX_ADDRS_PER_PEER;
        learnt = true;
      }
      this.dirty = true;
    }
    return learnt;
  }

  /** Records a successful connection. */
  connected(id: string): void {
    const e = this.peers.get(id);
    if (e === undefined) return;
    e.lastSeen = this.now();
    e.failures = 0;
    e.nextDialAt = 0;
    this.dirty = true;
  }

  /** Records a failed dial: backs off exponentially, forgets peers never reached after many failures. */
  failed(id: string): void {
    const e = this.peers.get(id);
    if (e === undefined) return;
    e.failures++;
    if (e.failures >= FORGET_AFTER_FAILURES && e.lastSeen === 0) {
      this.peers.delete(id);
    } else {
      e.nextDialAt = this.now() + Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (e.failures - 1));
    }
    this.dirty = true;
  }

  /** Forgets a peer (e.g. banned). */
  remove(id: string): void {
    if (this.peers.delete(id)) this.dirty = true;
  }

  /** Every peer held (copies). */
  all(): KnownPeer[] {
    return [...this.peers.values()].map((e) => ({ ...e, addrs: [...e.addrs] }));
  }

  /** A peer's entry. */
  get(id: string): KnownPeer | undefined {
    return this.peers.get(id);
  }

  /** Up to `n` peers to dial now, not in `skip`: most recently seen first, then fewest failures. */
  candidates(n: number, skip: (id: string) => boolean): KnownPeer[] {
    const t = this.now();
    return [...this.peers.values()]
      .filter((e) => e.nextDialAt <= t && !skip(e.id))
      .sort((a, b) => b.lastSeen - a.lastSeen || a.failures - b.failures)
      .slice(0, n);
  }

  /** Up to `n` addresses to give a peer that asks, favouring peers we reached; `filter` drops some. */
  sample(n: number, filter: (addr: string, id: string) => boolean): string[] {
    const out: string[] = [];
    const entries = [...this.peers.values()].sort((a, b) => b.lastSeen - a.lastSeen);
    for (const e of entries) {
      for (const a of e.addrs) {
        if (out.length >= n) return out;
        if (filter(a, e.id)) out.push(a);
      }
    }
    return out;
  }

  /** Loads `<dir>/peers.json`; a missing or unreadable file leaves the book empty. Returns the number loaded. */
  load(dir: string): number {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, PEERS_FILE), 'utf8'));
    } catch {
      return 0;
    }
    const peers = (json as { peers?: unknown }).peers;
    if (!Array.isArray(peers)) return 0;
    for (const p of peers.slice(0, MAX_BOOK_PEERS)) {
      if (p === null || typeof p !== 'object' || !Array.isArray(p.addrs)) continue;
      this.add(p.addrs.filter((a: unknown) => typeof a === 'string'));
      const id = typeof p.id === 'string' ? p.id : undefined;
      const e = id === undefined ? undefined : this.peers.get(id);
      if (e && typeof p.lastSeen === 'number' && Number.isFinite(p.lastSeen)) e.lastSeen = p.lastSeen;
    }
    this.dirty = false;
    return this.peers.size;
  }

  /** Writes `<dir>/peers.json` (write then rename) if anything changed since the last save. */
  save(dir: string): void {
    if (!this.dirty) return;
    const file = join(dir, PEERS_FILE);
    const body = JSON.stringify({ version: 1, peers: [...this.peers.values()].map((e) => ({ id: e.id, addrs: e.addrs, lastSeen: e.lastSeen })) });
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, body);
    renameSync(tmp, file);
    this.dirty = false;
  }

  // Makes room: drops the peer never reached with the most failures, else the stalest never-reached one.
  private evictOne(): boolean {
    let victim: KnownPeer | undefined;
    for (const e of this.peers.values()) {
      if (e.lastSeen !== 0) continue;
      if (victim === undefined || e.failures > victim.failures) victim = e;
    }
    if (victim === undefined) return false;
    this.peers.delete(victim.id);
    return true;
  }
}
