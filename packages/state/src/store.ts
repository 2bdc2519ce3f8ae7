/**
 * Persistence of state in lmdb: the flat table of current values (fast reads for execution),
 * the content-addressed tree nodes (roots, proofs, witnesses) and per-block undo logs (reorgs
 * and dev reverts). Writes are staged by the caller inside one `transactionSync`, so a block and
 * its state land together or not at all.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { bytesKey, DecodeError, StrataError } from '@strata/primitives';
import type { KeyChange, NewNode, NodeLocations, NodeReader } from './smt.js';
import type { StateReader } from './view.js';

/** Options for opening the database environment. */
export interface DatabaseOptions {
  /** Directory that holds the database (created if missing); the file is `<path>/chain.lmdb`. */
  path: string;
  /** Map size in bytes (grows automatically in lmdb-js; this is the initial size). */
  mapSize?: number;
}

/** Opens (creating if needed) the lmdb environment that holds a node's data. */
export function openDatabase(opts: DatabaseOptions): RootDatabase {
  mkdirSync(opts.path, { recursive: true });
  return open({
    // An explicit file name: lmdb-js would otherwise guess file-vs-directory from a dot in the path.
    path: join(opts.path, 'chain.lmdb'),
    maxDbs: 32,
    mapSize: opts.mapSize ?? 1024 * 1024 * 1024,
    // Transactions must be durable when commit returns: no async batching surprises.
    noSync: false,
    overlappingSync: false,
  });
}

/** Opens a binary-keyed, binary-valued sub-database. */
export function binaryDb(env: RootDatabase, name: string): Database<Uint8Array, Uint8Array> {
  return env.openDB<Uint8Array, Uint8Array>({ name, keyEncoding: 'binary', encoding: 'binary', cache: false });
}

/**
 * Undo logs are internal (never hashed or sent), so they use a flat layout that is cheap to
 * write for thousands of entries per block: key(32) ‖ present(1) ‖ length(u32 BE) ‖ value.
 */
function encodeUndo(log: { key: Uint8Array; old: Uint8Array | undefined }[]): Uint8Array {
  let size = 0;
  for (const e of log) size += 37 + (e.old?.length ?? 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const e of log) {
    out.set(e.key, o);
    out[o + 32] = e.old ? 1 : 0;
    dv.setUint32(o + 33, e.old?.length ?? 0);
    if (e.old) out.set(e.old, o + 37);
    o += 37 + (e.old?.length ?? 0);
  }
  return out;
}

function decodeUndo(b: Uint8Array): KeyChange[] {
  const out: KeyChange[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  while (o < b.length) {
    if (o + 37 > b.length) throw new DecodeError('DECODE_TRUNCATED', 'undo log truncated');
    const len = dv.getUint32(o + 33);
    if (o + 37 + len > b.length) throw new DecodeError('DECODE_TRUNCATED', 'undo log truncated');
    out.push({ key: b.slice(o, o + 32), value: b[o + 32] ? b.slice(o + 37, o + 37 + len) : null });
    o += 37 + len;
  }
  return out;
}

/** Nodes per storage page: a page holds the nodes at 256 consecutive locations. */
export const NODES_PER_PAGE = 256;

function pageKey(page: number): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setBigUint64(0, BigInt(page));
  return k;
}

/**
 * Page layout: u32 count ‖ (count + 1) u32 offsets (from the start of the page) ‖ the node
 * encodings back to back. Slot i holds the node at location page × 256 + i.
 */
function encodePage(nodes: readonly Uint8Array[]): Uint8Array {
  const head = 4 + 4 * (nodes.length + 1);
  let size = head;
  for (const n of nodes) size += n.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nodes.length);
  let o = head;
  nodes.forEach((n, i) => {
    dv.setUint32(4 + 4 * i, o);
    out.set(n, o);
    o += n.length;
  });
  dv.setUint32(4 + 4 * nodes.length, o);
  return out;
}

function u32At(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

function nodeInPage(page: Uint8Array, slot: number): Uint8Array | undefined {
  if (page.length < 4 || slot >= u32At(page, 0)) return undefined;
  const start = u32At(page, 4 + 4 * slot);
  const end = u32At(page, 8 + 4 * slot);
  if (end < start || end > page.length) throw new DecodeError('DECODE_INVALID', `tree page is corrupt at slot ${slot}`);
  return page.subarray(start, end);
}

/** A read the database could not serve: a local fault (the import that needed it is retried). */
function storageFault(what: string, cause: unknown): StrataError {
  return new StrataError(
    'STORAGE_FAULT',
    `storage fault ${what}: ${cause instanceof Error ? cause.message : String(cause)}; the import is aborted and retried (check the disk and the data dir)`,
    {},
    { cause },
  );
}

/** The persistent state: flat values, tree nodes, undo logs. */
export class StateDb {
  readonly flat: Database<Uint8Array, Uint8Array>;
  /** Tree nodes in pages: key = page number (u64 BE), value = the page (see `encodePage`). */
  readonly nodes: Database<Uint8Array, Uint8Array>;
  readonly undo: Database<Uint8Array, Uint8Array>;
  /** Root hash → location of its node (the entry point of every walk). */
  readonly roots: Database<Uint8Array, Uint8Array>;
  /** Recently written or read pages, oldest first (a Map keeps insertion order: FIFO eviction). */
  private readonly pages = new Map<number, Uint8Array>();
  /** Pages missed once recently and not cached (oldest first), for admission on a second miss. */
  private readonly missed = new Map<number, true>();
  private readonly pageCacheLimit: number;
  /** The next free location; every run of locations starts on a page boundary. */
  private nextLoc: number;

  constructor(
    readonly env: RootDatabase,
    opts: { pageCacheSize?: number } = {},
  ) {
    this.flat = binaryDb(env, 'state');
    this.nodes = binaryDb(env, 'nodes');
    this.undo = binaryDb(env, 'undo');
    this.roots = binaryDb(env, 'roots');
    this.pageCacheLimit = opts.pageCacheSize ?? 4096;
    let last = -1;
    for (const k of this.nodes.getKeys({ reverse: true, limit: 1 })) last = Number(new DataView(k.buffer, k.byteOffset, 8).getBigUint64(0));
    this.nextLoc = (last + 1) * NODES_PER_PAGE;
  }

  /**
   * A reader over the current flat state that remembers what it read (keyed by `bytesKey`):
   * an execution over it can hand those values to `applyChanges` instead of reading them again.
   */
  recordingFlatReader(): StateReader & { readonly reads: Map<string, Uint8Array | undefined> } {
    const reads = new Map<string, Uint8Array | undefined>();
    return {
      reads,
      get: (key) => {
        const out = this.readFlat(key);
        // A copy: whatever the reader's caller does with its array, the undo log keeps the original.
        reads.set(bytesKey(key), out?.slice());
        return out;
      },
    };
  }

  /** Reader over the current (head) flat state. */
  readonly flatReader: StateReader = { get: (key) => this.readFlat(key) };

  private readFlat(key: Uint8Array): Uint8Array | undefined {
    let v: Uint8Array | undefined;
    try {
      v = this.flat.get(key);
    } catch (e) {
      throw storageFault('reading the flat state', e);
    }
    return v === undefined ? undefined : new Uint8Array(v);
  }

  /**
   * Allocator of node locations for tree updates whose nodes this database will store. Runs
   * never overlap, even for updates that are never committed (their locations are skipped).
   */
  readonly locations: NodeLocations = {
    begin: () => this.nextLoc,
    end: (next) => {
      this.nextLoc = Math.max(this.nextLoc, Math.ceil(next / NODES_PER_PAGE) * NODES_PER_PAGE);
    },
  };

  /**
   * Reader over the tree nodes, through a cache of pages. A walk starts at a root, whose
   * location comes from the roots table, and each internal node gives its children's.
   */
  readonly nodeReader: NodeReader = {
    getNode: (hash, loc) => {
      const l = loc ?? this.rootLoc(hash);
      if (l === undefined) return undefined;
      const n = Math.floor(l / NODES_PER_PAGE);
      const cached = this.pages.get(n);
      if (cached) return nodeInPage(cached, l % NODES_PER_PAGE);
      return this.readUncached(n, l % NODES_PER_PAGE);
    },
  };

  /**
   * A node of a page not in the cache. A page is admitted to the cache on its second miss
   * within the last `4 × pageCacheSize` misses (as 2Q's ghost list): the upper levels, read by
   * every walk, are cached; a leaf page touched once is not copied whole — only the node's bytes
   * are copied out of lmdb's shared read buffer. (Before, every miss copied the whole 256-node
   * page, twice: uncached walks ran at 0.28× a hash-keyed layout.)
   */
  private readUncached(n: number, slot: number): Uint8Array | undefined {
    let v: Uint8Array | undefined;
    try {
      v = this.nodes.getBinaryFast(pageKey(n));
    } catch (e) {
      throw storageFault(`reading tree page ${n}`, e);
    }
    if (v === undefined) return undefined;
    // lmdb-js may hand back its global read buffer, longer than the value: the value's size is
    // `lastSize`, and copies are taken with Uint8Array's own slice, as lmdb-js's `get` does.
    const size = (this.nodes as { lastSize?: number }).lastSize ?? v.length;
    if (this.missed.delete(n)) {
      // Second miss: `v` is valid only until lmdb's next read, so the cache keeps a copy.
      const page = Uint8Array.prototype.slice.call(v, 0, size) as Uint8Array;
      this.cachePage(n, page);
      return nodeInPage(page, slot);
    }
    this.missed.set(n, true);
    if (this.missed.size > 4 * this.pageCacheLimit) {
      for (const k of this.missed.keys()) {
        this.missed.delete(k);
        break;
      }
    }
    if (size < 4 || slot >= u32At(v, 0)) return undefined;
    const start = u32At(v, 4 + 4 * slot);
    const end = u32At(v, 8 + 4 * slot);
    if (end < start || end > size) throw new DecodeError('DECODE_INVALID', `tree page is corrupt at slot ${slot}`);
    return Uint8Array.prototype.slice.call(v, start, end) as Uint8Array;
  }

  private cachePage(n: number, page: Uint8Array): void {
    this.pages.set(n, page);
    if (this.pages.size > this.pageCacheLimit) {
      for (const k of this.pages.keys()) {
        this.pages.delete(k);
        break;
      }
    }
  }

  /** Location of a state root's node, if it is one this database stored. */
  rootLoc(root: Uint8Array): number | undefined {
    let v: Uint8Array | undefined;
    try {
      v = this.roots.get(root);
    } catch (e) {
      throw storageFault('reading the roots table', e);
    }
    return v === undefined ? undefined : Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0));
  }

  /** Records where a root's node is (the first time it is written). Call inside a write transaction. */
  putRoot(root: Uint8Array, loc: number | undefined): void {
    if (loc === undefined || this.roots.doesExist(root)) return;
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, BigInt(loc));
    this.roots.putSync(root, v);
  }

  /**
   * Stages the nodes created by an update that was given `locations`, in pages of 256
   * consecutive locations. Call inside a write transaction. Locations only grow, so a block's
   * pages append to the end of the B-tree; they are also cached, since the next block's paths
   * run mostly through nodes written by recent blocks.
   */
  putNodes(newNodes: readonly NewNode[]): void {
    let i = 0;
    while (i < newNodes.length) {
      const first = (newNodes[i] as NewNode).loc;
      if (first === undefined) throw new DecodeError('DECODE_INVALID', 'tree nodes must be created with storage locations to be stored');
      const page = Math.floor(first / NODES_PER_PAGE);
      if (first % NODES_PER_PAGE !== 0) throw new DecodeError('DECODE_INVALID', `node run starts at location ${first}, not on a page boundary`);
      const encs: Uint8Array[] = [];
      for (; i < newNodes.length && encs.length < NODES_PER_PAGE; i++) {
        const n = newNodes[i] as NewNode;
        if (n.loc !== first + encs.length) throw new DecodeError('DECODE_INVALID', `tree node locations are not consecutive at ${n.loc}`);
        encs.push(n.encoding);
      }
      const bytes = encodePage(encs);
      this.nodes.putSync(pageKey(page), bytes);
      this.cachePage(page, bytes);
    }
    const last = newNodes[newNodes.length - 1]?.loc;
    if (last !== undefined) this.locations.end(last + 1);
  }

  /**
   * Stages flat changes and records their undo log under `undoId` (a block hash). Call inside
   * a write transaction. `prior` may give the current values of keys the caller has already
   * read (keyed by `bytesKey`, undefined for an absent key); the others are read here.
   */
  applyChanges(changes: KeyChange[], undoId: Uint8Array, prior?: ReadonlyMap<string, Uint8Array | undefined>): void {
    const log: { key: Uint8Array; old: Uint8Array | undefined }[] = [];
    for (const c of changes) {
      const k = prior && bytesKey(c.key);
      const old = k !== undefined && prior?.has(k) ? prior.get(k) : this.readFlat(c.key);
      log.push({ key: c.key, old });
      if (c.value === null) this.flat.removeSync(c.key);
      else this.flat.putSync(c.key, c.value);
    }
    this.undo.putSync(undoId, encodeUndo(log));
  }

  /** The changes that undo block `undoId` (old values; null where the key did not exist). */
  readUndo(undoId: Uint8Array): KeyChange[] {
    const raw = this.undo.get(undoId);
    if (raw === undefined) return [];
    return decodeUndo(new Uint8Array(raw));
  }

  /** Stages the undo of block `undoId` on the flat table. Call inside a write transaction. */
  revert(undoId: Uint8Array): void {
    for (const c of this.readUndo(undoId)) {
      if (c.value === null) this.flat.removeSync(c.key);
      else this.flat.putSync(c.key, c.value);
    }
    this.undo.removeSync(undoId);
  }
}
