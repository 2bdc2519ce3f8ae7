/**
 * StateView: the only way the runtime touches state. Keys are 32 bytes (already hashed by the
 * module that owns them, see `stateKey`), values are opaque bytes.
 */
import { blake2b256Parts, bytesKey, pairKey, StrataError, utf8 } from '@strata/primitives';
import { canonicalNode, type KeyChange, type NodeReader, SparseMerkleTree } from './smt.js';

/** Read/write access to state, by 32-byte key. */
export interface StateView {
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
}

/** Read-only access to state. */
export interface StateReader {
  get(key: Uint8Array): Uint8Array | undefined;
}

/** Personalization of state-key hashing (see {@link stateKey}). */
export const STATE_KEY_PERSONAL: Uint8Array = utf8('strata-state-key');
const KEY_PERSONAL = STATE_KEY_PERSONAL;

/**
 * Builds a state key from a module name and key parts: H(module ‖ 0x00 ‖ parts…). Keys are
 * hashes so that the tree stays balanced whatever keys users choose.
 */
export function stateKey(module: string, ...parts: Uint8Array[]): Uint8Array {
  return blake2b256Parts([utf8(module), new Uint8Array([0]), ...parts], KEY_PERSONAL);
}

/**
 * A write buffer over a base reader. Writes stay in memory until `commit()` pushes them into
 * the parent (when the parent is itself an overlay) or until the owner reads `changes()`.
 * Nest overlays to checkpoint: a failed transaction drops its child overlay.
 */
export class OverlayView implements StateView {
  private readonly writes = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();

  constructor(private readonly base: StateReader) {}

  get(key: Uint8Array): Uint8Array | undefined {
    // Only 32-byte keys are ever written (put and del check), so other shapes go to the base.
    const w = key.length === 32 ? this.writes.get(pairKey(key)) : undefined;
    if (w) return w.value ?? undefined;
    return this.base.get(key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    checkKey(key);
    this.writes.set(pairKey(key), { key, value });
  }

  del(key: Uint8Array): void {
    checkKey(key);
    this.writes.set(pairKey(key), { key, value: null });
  }

  /** Pushes the buffered writes into `target` (normally the parent view). */
  commitTo(target: StateView): void {
    if (Object.getPrototypeOf(target) === OverlayView.prototype) {
      // A plain parent overlay: same effect as put/del one by one, without re-deriving map keys
      // (the keys were checked when written here, and entries are never mutated).
      const into = (target as OverlayView).writes;
      for (const [k, w] of this.writes) into.set(k, w);
    } else {
      for (const w of this.writes.values()) {
        if (w.value === null) target.del(w.key);
        else target.put(w.key, w.value);
      }
    }
    this.writes.clear();
  }

  /** The buffered changes, for the tree update and the database write. */
  changes(): KeyChange[] {
    return [...this.writes.values()].map((w) => ({ key: w.key, value: w.value }));
  }

  /** Number of buffered writes. */
  get size(): number {
    return this.writes.size;
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new StrataError('INTERNAL', 'state keys must be 32-byte Uint8Arrays');
}

/** Reads state by walking the Merkle tree at a fixed root (no flat table needed). */
export class TreeReader implements StateReader {
  private readonly tree: SparseMerkleTree;
  constructor(
    reader: NodeReader,
    readonly root: Uint8Array,
    missingCode: 'STATE_MISSING_NODE' | 'WITNESS_INCOMPLETE' = 'STATE_MISSING_NODE',
  ) {
    this.tree = new SparseMerkleTree(reader, missingCode);
  }
  get(key: Uint8Array): Uint8Array | undefined {
    return this.tree.get(this.root, key);
  }
}

/** A NodeReader that remembers every node it served: the witness of an execution. */
export class RecordingNodeReader implements NodeReader {
  private readonly seen = new Map<string, Uint8Array>();
  constructor(private readonly inner: NodeReader) {}
  getNode(hash: Uint8Array, loc?: number): Uint8Array | undefined {
    const n = this.inner.getNode(hash, loc);
    if (n) this.seen.set(bytesKey(hash), n);
    return n;
  }
  /** The nodes read so far, in first-read order, in canonical form. */
  witness(): Uint8Array[] {
    return [...this.seen.values()].map(canonicalNode);
  }
}

/** A NodeReader over an in-memory map (hash key → encoding). */
export class MemoryNodeStore implements NodeReader {
  readonly nodes = new Map<string, Uint8Array>();
  getNode(hash: Uint8Array): Uint8Array | undefined {
    return this.nodes.get(bytesKey(hash));
  }
  /** Adds nodes created by an update (keyed by hash; locations are not needed in memory). */
  addAll(newNodes: readonly { hash: Uint8Array; encoding: Uint8Array }[]): void {
    for (const n of newNodes) this.nodes.set(bytesKey(n.hash), n.encoding);
  }
}

/** Layers a NodeReader over another: new (not yet persisted) nodes first, then the base. */
export class LayeredNodeReader implements NodeReader {
  constructor(
    private readonly top: NodeReader,
    private readonly base: NodeReader,
  ) {}
  getNode(hash: Uint8Array, loc?: number): Uint8Array | undefined {
    return this.top.getNode(hash, loc) ?? this.base.getNode(hash, loc);
  }
}
