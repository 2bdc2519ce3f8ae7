/**
 * Per-key token buckets (as geth's and lighthouse's per-peer request limits): each key (a peer
 * id) holds up to `burst` tokens, refilled at `perSecond`; a request costs tokens and is refused
 * when the bucket is empty. Pure bookkeeping with an injectable clock, bounded memory.
 */

/** Rate and burst of a RateLimiter. */
export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Most tokens a key can hold (the largest burst). */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Most keys tracked; the stalest are forgotten beyond it (a forgotten key starts with a full bucket). */
const MAX_KEYS = 10_000;

/** Token buckets keyed by peer id (or anything else). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `cost` tokens from `key`'s bucket; false (nothing taken) when it holds fewer. */
  take(key: string, cost = 1): boolean {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= MAX_KEYS) this.evict();
      b = { tokens: this.limit.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSecond);
      b.at = t;
    }
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  /** Forgets a key (e.g. a disconnected peer). */
  forget(key: string): void {
    this.buckets.delete(key);
  }

  private evict(): void {
    // Map iteration is insertion order: drop the oldest tenth.
    let n = Math.ceil(MAX_KEYS / 10);
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }
}
