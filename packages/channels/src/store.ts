/**
 * The channel node's persistence: one lmdb environment per data dir. Records are written with
 * V8's structured serialization (native; keeps Uint8Array and bigint exactly, ~10x faster than a
 * JSON round-trip of hex).
 *
 * Durability (see docs/channels.md, "Durability"): every write is a synchronous lmdb transaction
 * committed to the file before `put` returns (tens of microseconds, no thread hop, no event-loop
 * turn), so a write is in the operating system's page cache — where a killed process (kill -9)
 * cannot lose it — before any message that depends on it leaves the node. The fsync that makes it
 * survive a power loss runs in the background, off the main thread, at most `flushMs` later
 * (default 20 ms; `flushMs: 0` fsyncs every commit on the spot, as before, at ~1–7 ms a write).
 * The environment is opened without a write map, so lmdb keeps its atomicity and consistency
 * across a power loss as well: only the last `flushMs` of commits can be lost then.
 */
import { deserialize, serialize } from 'node:v8';
import { open, type RootDatabase } from 'lmdb';
import { StrataError } from '@strata/primitives';

/** How many of the latest fsyncs {@link ChannelStore.stats} summarises. */
export const SYNC_WINDOW = 2048;

/** Store settings. */
export interface ChannelStoreOptions {
  /** Most time a committed write waits for its fsync, ms (0: fsync inside every commit). Default 20. */
  flushMs?: number;
}

/** A typed key-value store over lmdb. */
export class ChannelStore {
  private dirty = false;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private deferred: [string, unknown][] = [];
  /** The latest value queued for each key in `deferred` (undefined: a delete). */
  private readonly pending = new Map<string, unknown>();
  /** Commits made (tests and metrics). */
  commits = 0;
  /** Background fsyncs run. */
  flushes = 0;
  /** Commits (by count) an fsync has covered. */
  private synced = 0;
  /** Durations of the last SYNC_WINDOW fsyncs, ms (a ring: what a message waiting for one pays). */
  private readonly syncMs: number[] = [];
  private syncAt = 0;
  /** Called with each fsync's duration in seconds (the node's metrics histogram). */
  onSync: ((seconds: number) => void) | undefined;

  private constructor(
    private readonly db: RootDatabase<Buffer, string>,
    private readonly flushMs: number,
  ) {}

  /** Opens (creating) `<dir>/channels.lmdb`. */
  static open(dir: string, opts: ChannelStoreOptions = {}): ChannelStore {
    const flushMs = opts.flushMs ?? 20;
    if (!Number.isInteger(flushMs) || flushMs < 0) throw new StrataError('CONFIG_INVALID', `flushMs must be a non-negative integer, got ${flushMs}`);
    try {
      return new ChannelStore(open<Buffer, string>({ path: `${dir}/channels.lmdb`, encoding: 'binary', ...(flushMs > 0 ? { noSync: true } : {}) }), flushMs);
    } catch (e) {
      throw new StrataError('CONFIG_INVALID', `cannot open the channel database in ${dir}: ${(e as Error).message}`, { dir }, { cause: e });
    }
  }
  /**
   * Reads a record. A write queued by {@link writeSoon} in this turn is read from the queue (a
   * copy, as a committed record would be) rather than committed first: committing there split one
   * turn's writes into a commit per read (the payer reads a payment record in every `pay`, so
   * under load every payment paid a commit of its own).
   */
  get<T>(key: string): T | undefined {
    if (this.pending.has(key)) {
      const v = this.pending.get(key);
      return v === undefined ? undefined : (deserialize(serialize(v)) as T);
    }
    const b = this.db.get(key);
    return b === undefined ? undefined : (deserialize(b) as T);
  }
  /** Writes; committed (visible, and safe from a process crash) when it returns. */
  async put(key: string, value: unknown): Promise<void> {
    this.write([[key, value]]);
  }
  async del(key: string): Promise<void> {
    this.write([[key, undefined]]);
  }
  /**
   * Queues a write for the end of this event-loop turn (setImmediate, after the I/O callbacks of
   * the turn: under load the payments of many requests share one commit; a microtask committed
   * once per request). For records nothing sent depends on yet; any `write`/`put`/`flush` before
   * then commits them first, in order, so a message that leaves after a later write never
   * overtakes them, and `get` reads them from the queue.
   */
  writeSoon(key: string, value: unknown): void {
    if (this.closed) return;
    if (this.deferred.length === 0) setImmediate(() => this.commitDeferred());
    this.deferred.push([key, value]);
    this.pending.set(key, value);
  }
  private commitDeferred(): void {
    if (this.deferred.length > 0 && !this.closed) this.write([]);
  }
  /** Writes several records in one transaction (undefined deletes); committed when it returns. */
  write(entries: [string, unknown][]): void {
    if (this.closed) throw new StrataError('NODE_STOPPED', 'the channel database is closed');
    const queued = this.deferred.length > 0 ? this.deferred.splice(0) : [];
    if (queued.length > 0) this.pending.clear();
    const all = queued.length > 0 ? [...queued, ...entries] : entries;
    try {
      const bufs = all.map(([k, v]) => [k, v === undefined ? undefined : serialize(v)] as const);
      this.db.transactionSync(() => {
        for (const [k, b] of bufs) {
          if (b === undefined) this.db.removeSync(k);
          else this.db.putSync(k, b);
        }
      });
    } catch (e) {
      // nothing was committed: the queued records go back to the head of the queue, in order (the
      // next commit, or a caller that carries on after the error, still writes them)
      if (queued.length > 0) {
        this.deferred.unshift(...queued);
        this.pending.clear();
        for (const [k, v] of this.deferred) this.pending.set(k, v);
      }
      throw e;
    }
    this.commits++;
    if (this.flushMs > 0) this.scheduleFlush();
    else this.synced = this.commits; // fsynced inside the commit
  }
  private scheduleFlush(): void {
    this.dirty = true;
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
    this.timer.unref();
  }
  /** fsyncs every commit made so far (off the main thread); resolves when they are durable. */
  flush(): Promise<void> {
    // writes queued by writeSoon are commits-to-be of this turn: a message waiting for this flush
    // may follow them, so they are committed here (every group of them that must be atomic is
    // queued in one synchronous block, so a flush cannot fall between its writes) and fsynced
    if (this.deferred.length > 0 && !this.closed) this.commitDeferred();
    return this.syncUpTo(this.commits);
  }
  /**
   * Resolves once an fsync that started after commit number `target` has completed. (A shared
   * "dirty" flag is not enough: with two callers waiting on one fsync, the first one's re-check
   * starts the next fsync and clears the flag, and the second then returned before its own
   * commits were fsynced.)
   */
  private async syncUpTo(target: number): Promise<void> {
    while (this.synced < target) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const upTo = this.commits;
      this.dirty = false;
      const t0 = performance.now();
      this.flushing = new Promise<void>((resolve, reject) => {
        (this.db as unknown as { sync(cb: (e?: unknown) => void): void }).sync((e) => (e ? reject(e) : resolve()));
      }).finally(() => {
        this.flushing = undefined;
        this.flushes++;
        if (this.dirty && !this.closed) this.scheduleFlush();
        // recorded after the store's own state is settled: a throwing observer cannot leave
        // `flushing` set (every later message would wait on it)
        const ms = performance.now() - t0;
        this.syncMs[this.syncAt++ % SYNC_WINDOW] = ms;
        try {
          this.onSync?.(ms / 1000);
        } catch {
          // a metrics observer's failure is not the store's
        }
      });
      await this.flushing;
      this.synced = Math.max(this.synced, upTo);
    }
  }
  /**
   * Commits and fsyncs so far, and the fsync durations (ms) over the last {@link SYNC_WINDOW}: each
   * message to a peer waits for one (or for the one in progress and then its own).
   */
  stats(): { commits: number; fsyncs: number; fsyncP50Ms: number; fsyncP90Ms: number; fsyncMaxMs: number } {
    const a = [...this.syncMs].sort((x, y) => x - y);
    const at = (q: number) => Number((a[Math.min(a.length - 1, Math.floor(a.length * q))] ?? 0).toFixed(3));
    return { commits: this.commits, fsyncs: this.flushes, fsyncP50Ms: at(0.5), fsyncP90Ms: at(0.9), fsyncMaxMs: at(1) };
  }
  /** All records whose key starts with `prefix`. */
  list<T>(prefix: string): [string, T][] {
    if (this.deferred.length > 0) this.commitDeferred();
    const out: [string, T][] = [];
    for (const { key, value } of this.db.getRange({ start: prefix })) {
      if (!key.startsWith(prefix)) break;
      out.push([key, deserialize(value) as T]);
    }
    return out;
  }
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // writes queued while the last fsync ran are committed and fsynced too before the store closes
    do await this.flush();
    while (this.deferred.length > 0 || this.synced < this.commits);
    this.closed = true;
    await this.db.close();
  }
}
