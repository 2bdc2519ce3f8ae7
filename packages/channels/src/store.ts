/**
 * The channel node's persistence: one lmdb environment per data dir. Records are JSON with bytes
 * as `{"$b": hex}` and bigints as `{"$n": decimal}`. Every write a message depends on is awaited
 * before that message leaves the node (lmdb commits batches of concurrent writes together).
 */
import { open, type RootDatabase } from 'lmdb';
import { fromHex, StrataError, toHex } from '@strata/primitives';

/** Serializes a record (bytes and bigints kept exactly). */
export function ser(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k, val) {
    const raw = this[k];
    if (raw instanceof Uint8Array) return { $b: toHex(raw) };
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    return val;
  });
}

/** Inverse of {@link ser}. */
export function deser<T>(s: string): T {
  return JSON.parse(s, (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      if (typeof v.$b === 'string' && Object.keys(v).length === 1) return fromHex(v.$b);
      if (typeof v.$n === 'string' && Object.keys(v).length === 1) return BigInt(v.$n);
    }
    return v;
  }) as T;
}

/** A typed key-value store over lmdb. */
export class ChannelStore {
  private constructor(private readonly db: RootDatabase<string, string>) {}

  /** Opens (creating) `<dir>/channels.lmdb`. */
  static open(dir: string): ChannelStore {
    try {
      return new ChannelStore(open<string, string>({ path: `${dir}/channels.lmdb`, encoding: 'string' }));
    } catch (e) {
      throw new StrataError('CONFIG_INVALID', `cannot open the channel database in ${dir}: ${(e as Error).message}`, { dir }, { cause: e });
    }
  }
  get<T>(key: string): T | undefined {
    const s = this.db.get(key);
    return s === undefined ? undefined : deser<T>(s);
  }
  /** Writes; resolves once committed to disk. */
  async put(key: string, value: unknown): Promise<void> {
    await this.db.put(key, ser(value));
  }
  async del(key: string): Promise<void> {
    await this.db.remove(key);
  }
  /** All records whose key starts with `prefix`. */
  list<T>(prefix: string): [string, T][] {
    const out: [string, T][] = [];
    for (const { key, value } of this.db.getRange({ start: prefix })) {
      if (!key.startsWith(prefix)) break;
      out.push([key, deser<T>(value)]);
    }
    return out;
  }
  async close(): Promise<void> {
    await this.db.close();
  }
}
