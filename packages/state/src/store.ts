/**
 * Persistence of state in lmdb: the flat table of current values (fast reads for execution),
 * the content-addressed tree nodes (roots, proofs, witnesses) and per-block undo logs (reorgs
 * and dev reverts). Writes are staged by the caller inside one `transactionSync`, so a block and
 * its state land together or not at all.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { bytesKey, DecodeError } from '@strata/primitives';
import type { KeyChange, NewNode, NodeReader } from './smt.js';
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

function writeNodeKey(k: Uint8Array, height: number, hash: Uint8Array): Uint8Array {
  k[0] = height >>> 24;
  k[1] = (height >>> 16) & 0xff;
  k[2] = (height >>> 8) & 0xff;
  k[3] = height & 0xff;
  k.set(hash, 4);
  return k;
}

function nodeKey(height: number, hash: Uint8Array): Uint8Array {
  return writeNodeKey(new Uint8Array(36), height, hash);
}

/** The persistent state: flat values, tree nodes, undo logs. */
export class StateDb {
  readonly flat: Database<Uint8Array, Uint8Array>;
  readonly nodes: Database<Uint8Array, Uint8Array>;
  readonly undo: Database<Uint8Array, Uint8Array>;
  /** Root hash → height it was written at (the entry point of every walk). */
  readonly roots: Database<Uint8Array, Uint8Array>;
  private readonly nodeCache = new Map<string, Uint8Array>();
  private readonly nodeCacheLimit: number;

  constructor(
    readonly env: RootDatabase,
    opts: { nodeCacheSize?: number } = {},
  ) {
    this.flat = binaryDb(env, 'state');
    this.nodes = binaryDb(env, 'nodes');
    this.undo = binaryDb(env, 'undo');
    this.roots = binaryDb(env, 'roots');
    this.nodeCacheLimit = opts.nodeCacheSize ?? 500_000;
  }

  /** Reader over the current (head) flat state. */
  readonly flatReader: StateReader = {
    get: (key) => {
      const v = this.flat.get(key);
      return v === undefined ? undefined : new Uint8Array(v);
    },
  };

  /**
   * Reader over the tree nodes, with an in-memory cache. Nodes are stored under
   * height ‖ hash; a walk starts at a root, whose height comes from the roots table, and each
   * internal node gives its children's heights.
   */
  readonly nodeReader: NodeReader = {
    getNode: (hash, height) => {
      const k = bytesKey(hash);
      const c = this.nodeCache.get(k);
      if (c) return c;
      const h = height ?? this.rootHeight(hash);
      if (h === undefined) return undefined;
      const v = this.nodes.get(nodeKey(h, hash));
      if (v === undefined) return undefined;
      const n = new Uint8Array(v);
      this.cacheNode(k, n);
      return n;
    },
  };

  /** Height at which a state root was written, if it is one. */
  rootHeight(root: Uint8Array): number | undefined {
    const v = this.roots.get(root);
    return v === undefined ? undefined : new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
  }

  /** Records the height a root was first written at. Call inside a write transaction. */
  putRoot(root: Uint8Array, height: number): void {
    if (this.roots.doesExist(root)) return;
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, height);
    this.roots.putSync(root, v);
  }

  private cacheNode(k: string, n: Uint8Array): void {
    if (this.nodeCache.size >= this.nodeCacheLimit) {
      // Drop the oldest quarter; cheap approximation of LRU that keeps hot upper levels warm.
      let drop = this.nodeCacheLimit >> 2;
      for (const key of this.nodeCache.keys()) {
        this.nodeCache.delete(key);
        if (--drop <= 0) break;
      }
    }
    this.nodeCache.set(k, n);
  }

  /**
   * Stages new tree nodes (from an update given a `height`). Call inside a write transaction.
   * Keys are height ‖ hash and are inserted in order, so a block's nodes append to the end of
   * the B-tree.
   */
  putNodes(newNodes: Map<string, NewNode>): void {
    const sorted = [...newNodes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // lmdb copies the key during putSync, so one key buffer serves every put. New nodes are
    // cached: the next block's paths run mostly through nodes written by recent blocks.
    const key = new Uint8Array(36);
    for (const [k, { hash, encoding, height }] of sorted) {
      if (height === undefined) throw new DecodeError('DECODE_INVALID', 'tree nodes must be created with a block height to be stored');
      writeNodeKey(key, height, hash);
      this.nodes.putSync(key, encoding);
      this.cacheNode(k, encoding);
    }
  }

  /**
   * Stages flat changes and records their undo log under `undoId` (a block hash). Call inside
   * a write transaction.
   */
  applyChanges(changes: KeyChange[], undoId: Uint8Array): void {
    const log: { key: Uint8Array; old: Uint8Array | undefined }[] = [];
    for (const c of changes) {
      const old = this.flat.get(c.key);
      log.push({ key: c.key, old: old === undefined ? undefined : new Uint8Array(old) });
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
