/**
 * Application-level peer scores and bans (in the manner of lodestar's peer manager), kept apart
 * from gossipsub's own router score. Scores start at 0, only penalties move them, and they decay
 * back toward 0 with a half-life. A peer at or below the ban threshold is banned for a while.
 * Pure bookkeeping with an injectable clock, no I/O.
 */

/** Points taken off a peer for each kind of misbehaviour. */
export const PENALTY = {
  /** A gossip message the application validator rejected (or whose validator threw). */
  GOSSIP_REJECTED: 10,
  /** A gossip message whose data exceeds `maxGossipBytes`. */
  GOSSIP_OVERSIZED: 25,
  /** A gossipsub RPC frame beyond the stream limit (the peer's gossip stream is dropped). */
  GOSSIP_FRAME_OVERSIZED: 50,
  /** A request/response frame that cannot be decoded (bad prefix, truncated, trailing bytes, bad status). */
  MALFORMED_FRAME: 25,
  /** A request or response larger than the protocol's limit. */
  OVERSIZED_FRAME: 50,
  /** A request or response that did not arrive in time. */
  TIMEOUT: 5,
  /** An inbound request beyond the peer's request rate (each one refused costs this much). */
  RATE_LIMITED: 5,
} as const;

/** Thresholds and timings of a PeerScoreBook. */
export interface PeerScoreBookOptions {
  /** Score at or below which a peer is banned (default -100). */
  banThreshold?: number;
  /** Ban length in seconds (default 300). */
  banSeconds?: number;
  /** Half-life of a penalty in seconds (default 600). */
  halfLifeSeconds?: number;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
}

interface Entry {
  score: number;
  updatedAt: number;
}

/** Result of a penalty: the new score and whether it has just triggered a ban. */
export interface PenaltyResult {
  score: number;
  banned: boolean;
}

/** Per-peer score table with exponential decay and time-limited bans. */
export class PeerScoreBook {
  /** Score at or below which a peer gets banned. */
  readonly banThreshold: number;
  private readonly banMs: number;
  private readonly halfLifeMs: number;
  private readonly now: () => number;
  private readonly scores = new Map<string, Entry>();
  private readonly bans = new Map<string, number>();
  private readonly addressBans = new Map<string, number>();

  constructor(opts: PeerScoreBookOptions = {}) {
    this.banThreshold = opts.banThreshold ?? -100;
    this.banMs = (opts.banSeconds ?? 300) * 1000;
    this.halfLifeMs = (opts.halfLifeSeconds ?? 600) * 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Current (decayed) score of a peer; 0 for peers never penalised. */
  score(peerId: string): number {
    const e = this.scores.get(peerId);
    if (e === undefined) return 0;
    const t = this.now();
    const decayed = e.score * 0.5 ** ((t - e.updatedAt) / this.halfLifeMs);
    // Forget entries that have decayed to nothing so the table does not grow without bound.
    if (Math.abs(decayed) < 0.01) {
      this.scores.delete(peerId);
      return 0;
    }
    return decayed;
  }

  /**
   * Lowers a peer's score by `points` (must be positive). Bans the peer when the score reaches
   * the threshold; `banned` is true only on the call that starts the ban.
   */
  penalize(peerId: string, points: number): PenaltyResult {
    const score = this.score(peerId) - Math.max(0, points);
    this.scores.set(peerId, { score, updatedAt: this.now() });
    if (score <= this.banThreshold && !this.isBanned(peerId)) {
      this.ban(peerId);
      return { score, banned: true };
    }
    return { score, banned: false };
  }

  /** Bans a peer for the configured time, regardless of its score. */
  ban(peerId: string, ms = this.banMs): void {
    this.bans.set(peerId, this.now() + ms);
  }

  /** True while a ban on this peer is in force. When a ban expires the peer starts over at 0. */
  isBanned(peerId: string): boolean {
    const until = this.bans.get(peerId);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.bans.delete(peerId);
    this.scores.delete(peerId);
    return false;
  }

  /** Bans a remote address (an IP) until the peer's ban would end: new peer ids from it are refused too. */
  banAddress(ip: string, ms = this.banMs): void {
    if (this.addressBans.size >= 100_000) this.addressBans.clear();
    this.addressBans.set(ip, this.now() + ms);
  }

  /** Lifts an address ban. */
  unbanAddress(ip: string): void {
    this.addressBans.delete(ip);
  }

  /** True while a ban on this address is in force. */
  isAddressBanned(ip: string): boolean {
    const until = this.addressBans.get(ip);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.addressBans.delete(ip);
    return false;
  }

  /** Milliseconds until a ban ends (0 when not banned). */
  banRemainingMs(peerId: string): number {
    return this.isBanned(peerId) ? (this.bans.get(peerId) as number) - this.now() : 0;
  }

  /** Ids of peers currently banned. */
  bannedPeers(): string[] {
    return [...this.bans.keys()].filter((id) => this.isBanned(id));
  }
}
