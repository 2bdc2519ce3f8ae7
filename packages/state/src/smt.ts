/**
 * A path-compressed sparse Merkle tree over 256-bit keys (as Godwoken and CKB use), hashed
 * with blake2b-256. A subtree holding one leaf is that leaf, at whatever depth; an internal node
 * exists only where its subtree holds two or more leaves (one child may then be empty). The
 * canonical shape depends only on the set of (key, value) pairs, so equal contents give equal
 * roots whatever order they were written in.
 *
 * Nodes are content-addressed: the store maps a node's hash to its encoding, and nothing is
 * ever overwritten, so every past root stays readable (this is what makes reorgs and
 * witnesses cheap). All changes of a block are applied in one `update` call, so each touched
 * node is hashed once per block, not once per write.
 *
 * Encodings: leaf = 0x00 ‖ key(32) ‖ value; internal = 0x01 ‖ left(32) ‖ right(32).
 * Hashes: leaf = H(0x00 ‖ key ‖ H(value)); internal = H(encoding); empty = 32 zero bytes.
 *
 * Storage form: when an update is given a `NodeLocations` allocator, every node it creates
 * gets a location (a sequence number from the allocator) and internal nodes also record their
 * children's locations (0x01 ‖ left ‖ right ‖ u48 ‖ u48). A database can then store a block's
 * nodes together in pages of 256 consecutive locations, written once at the end of its B-tree,
 * and find any child from its parent without an index by hash (bench/storage.ts measures the
 * difference). The locations are not hashed; proofs and witnesses always carry the canonical
 * 65-byte form.
 */
import { blake2b256, blake2b256Parts, bytesEqual, bytesKey, StrataError, toHex, utf8 } from '@strata/primitives';

/** Personalization for tree hashing, separating it from every other blake2b use. */
const SMT_PERSONAL = utf8('strata-smt-nodes');

/** Root (and hash) of the empty tree. */
export const EMPTY_ROOT: Uint8Array = new Uint8Array(32);

const LEAF = 0;
const INTERNAL = 1;

/**
 * Reads node encodings by hash. `loc` is the node's storage location, when the caller knows it
 * (from the parent's storage form); stores keyed by hash alone ignore it.
 */
export interface NodeReader {
  getNode(hash: Uint8Array, loc?: number): Uint8Array | undefined;
}

/**
 * Hands out storage locations to the nodes an update creates: `begin` gives the first
 * location of a new run, `end` is told the location after the last one used.
 */
export interface NodeLocations {
  begin(): number;
  end(next: number): void;
}

/** A change to apply: a value to set, or `null` to delete. */
export interface KeyChange {
  key: Uint8Array;
  value: Uint8Array | null;
}

/** A node created by an update: hash, encoding (storage form when locations were given), location. */
export interface NewNode {
  hash: Uint8Array;
  encoding: Uint8Array;
  /** Storage location (undefined for in-memory trees). */
  loc?: number;
}

/** Result of an update: the new root and every node created, in creation (location) order. */
export interface UpdateResult {
  root: Uint8Array;
  /** Location of the root node, when locations were given and the tree is not empty. */
  rootLoc?: number | undefined;
  newNodes: NewNode[];
}

/** Options of an update. */
export interface UpdateOptions {
  /** Allocator of storage locations: produces the storage form (child locations). */
  locs?: NodeLocations;
}

/** Hash of a value as stored in a leaf. */
export function valueHash(value: Uint8Array): Uint8Array {
  return blake2b256(value, SMT_PERSONAL);
}

/** Hash of a leaf for (key, value). */
export function leafHash(key: Uint8Array, value: Uint8Array): Uint8Array {
  return blake2b256Parts([LEAF_PREFIX, key, valueHash(value)], SMT_PERSONAL);
}

const LEAF_PREFIX = new Uint8Array([LEAF]);

/** Hash of a node from its encoding (canonical or storage form). */
export function nodeHash(encoding: Uint8Array): Uint8Array {
  if (encoding[0] === LEAF) return leafHash(encoding.subarray(1, 33), encoding.subarray(33));
  return blake2b256(encoding.length === STORED_INTERNAL ? encoding.subarray(0, 65) : encoding, SMT_PERSONAL);
}

const STORED_INTERNAL = 77;
/** Child location recorded when it is not known (never looked up by location). */
const NO_LOC = 2 ** 48 - 1;

function readU48(b: Uint8Array, o: number): number {
  return ((b[o] as number) * 2 ** 40 + (b[o + 1] as number) * 2 ** 32 + (b[o + 2] as number) * 2 ** 24) + (((b[o + 3] as number) << 16) | ((b[o + 4] as number) << 8) | (b[o + 5] as number));
}

function writeU48(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 2 ** 24);
  const lo = v % 2 ** 24;
  b[o] = hi >>> 16;
  b[o + 1] = (hi >>> 8) & 0xff;
  b[o + 2] = hi & 0xff;
  b[o + 3] = lo >>> 16;
  b[o + 4] = (lo >>> 8) & 0xff;
  b[o + 5] = lo & 0xff;
}

/** The canonical form of a node encoding (drops the child locations of the storage form). */
export function canonicalNode(encoding: Uint8Array): Uint8Array {
  return encoding[0] === INTERNAL && encoding.length === STORED_INTERNAL ? encoding.slice(0, 65) : encoding;
}

function isEmpty(h: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (h[i] !== 0) return false;
  return true;
}

function bitAt(key: Uint8Array, depth: number): number {
  return ((key[depth >> 3] as number) >> (7 - (depth & 7))) & 1;
}

type Kind = 'empty' | 'leaf' | 'internal' | 'unknown';
interface Ref {
  hash: Uint8Array;
  kind: Kind;
  loc?: number | undefined;
}

const EMPTY_REF: Ref = { hash: EMPTY_ROOT, kind: 'empty' };

/** Decoded node (child locations present in the storage form). */
export type DecodedNode =
  | { type: 'leaf'; key: Uint8Array; value: Uint8Array }
  | { type: 'internal'; left: Uint8Array; right: Uint8Array; leftLoc?: number | undefined; rightLoc?: number | undefined };

/** Decodes a node encoding (canonical or storage form); throws PROOF_INVALID on malformed bytes. */
export function decodeNode(enc: Uint8Array): DecodedNode {
  if (enc[0] === LEAF && enc.length >= 33) return { type: 'leaf', key: enc.subarray(1, 33), value: enc.subarray(33) };
  if (enc[0] === INTERNAL && enc.length === 65) return { type: 'internal', left: enc.subarray(1, 33), right: enc.subarray(33, 65) };
  if (enc[0] === INTERNAL && enc.length === STORED_INTERNAL) {
    const ll = readU48(enc, 65);
    const rl = readU48(enc, 71);
    return {
      type: 'internal',
      left: enc.subarray(1, 33),
      right: enc.subarray(33, 65),
      leftLoc: ll === NO_LOC ? undefined : ll,
      rightLoc: rl === NO_LOC ? undefined : rl,
    };
  }
  throw new StrataError('PROOF_INVALID', `malformed tree node (${enc.length} bytes, tag ${enc[0]})`);
}

/** Operations on the tree, reading nodes through a NodeReader. */
export class SparseMerkleTree {
  /**
   * @param reader where nodes are read from (database, cache, or a witness)
   * @param missingCode error code when a needed node is absent (a witness that is incomplete)
   */
  constructor(
    private readonly reader: NodeReader,
    private readonly missingCode: 'STATE_MISSING_NODE' | 'WITNESS_INCOMPLETE' = 'STATE_MISSING_NODE',
  ) {}

  private loadEnc(hash: Uint8Array, loc: number | undefined): Uint8Array {
    const enc = this.reader.getNode(hash, loc);
    if (!enc) throw new StrataError(this.missingCode, `tree node ${toHex(hash)} is not available`, { hash: toHex(hash) });
    return enc;
  }

  private load(hash: Uint8Array, loc?: number): DecodedNode {
    return decodeNode(this.loadEnc(hash, loc));
  }

  /**
   * Walks from `root` toward `key`, calling `visit` with each node's encoding (storage or
   * canonical form); returns the value found, or undefined when the key is absent.
   */
  private walk(root: Uint8Array, key: Uint8Array, visit?: (enc: Uint8Array) => void): Uint8Array | undefined {
    let h = root;
    let loc: number | undefined;
    for (let depth = 0; depth <= 256; depth++) {
      if (isEmpty(h)) return undefined;
      const enc = this.loadEnc(h, loc);
      visit?.(enc);
      const n = decodeNode(enc);
      if (n.type === 'leaf') return bytesEqual(n.key, key) ? n.value : undefined;
      if (bitAt(key, depth)) {
        h = n.right;
        loc = n.rightLoc;
      } else {
        h = n.left;
        loc = n.leftLoc;
      }
    }
    throw new StrataError('PROOF_INVALID', 'tree deeper than 256 levels');
  }

  /** Reads the value at `key` under `root` by walking the tree. */
  get(root: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.walk(root, key);
  }

  /** Node encodings (canonical form) on the path to `key`: an inclusion or exclusion proof. */
  prove(root: Uint8Array, key: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.walk(root, key, (enc) => out.push(canonicalNode(enc)));
    return out;
  }

  /**
   * Applies all changes at once and returns the new root and the nodes it created. Keys must
   * be 32 bytes; a later change to the same key wins.
   */
  update(root: Uint8Array, changes: Iterable<KeyChange>, opts: UpdateOptions = {}): UpdateResult {
    const dedup = new Map<string, KeyChange>();
    for (const c of changes) {
      if (c.key.length !== 32) throw new StrataError('INTERNAL', 'state keys must be 32 bytes');
      dedup.set(bytesKey(c.key), c);
    }
    const sorted = [...dedup.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
    const newNodes: NewNode[] = [];
    const locs = opts.locs;
    this.nextLoc = locs ? locs.begin() : undefined;
    try {
      // The root's location is not known here: the reader resolves it (StateDb: the roots table).
      const ref = this.updateRef({ hash: root, kind: isEmpty(root) ? 'empty' : 'unknown' }, 0, sorted, 0, sorted.length, newNodes);
      return { root: ref.hash, rootLoc: ref.kind === 'empty' ? undefined : ref.loc, newNodes };
    } finally {
      if (locs) locs.end(this.nextLoc as number);
      this.nextLoc = undefined;
    }
  }

  /** Location of the next node created by the current update (undefined: canonical form). */
  private nextLoc: number | undefined;

  /**
   * Stored internal encodings (77 bytes) are carved out of 64 KiB slabs: V8 gives a typed
   * array over 64 bytes its own off-heap buffer, and allocating ~10,000 of those per block
   * cost more than hashing them.
   */
  private slab = new Uint8Array(0);
  private slabUsed = 0;

  private storedEncoding(): Uint8Array {
    if (this.slabUsed + STORED_INTERNAL > this.slab.length) {
      this.slab = new Uint8Array(STORED_INTERNAL * 851);
      this.slabUsed = 0;
    }
    const enc = this.slab.subarray(this.slabUsed, this.slabUsed + STORED_INTERNAL);
    this.slabUsed += STORED_INTERNAL;
    return enc;
  }

  /** Records a created node, giving it the next location when the update stores its nodes. */
  private emit(hash: Uint8Array, enc: Uint8Array, out: NewNode[]): number | undefined {
    if (this.nextLoc === undefined) {
      out.push({ hash, encoding: enc });
      return undefined;
    }
    const loc = this.nextLoc++;
    out.push({ hash, encoding: enc, loc });
    return loc;
  }

  private updateRef(ref: Ref, depth: number, ch: KeyChange[], lo: number, hi: number, out: NewNode[]): Ref {
    if (lo === hi) return ref;
    if (ref.kind === 'empty') {
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (let i = lo; i < hi; i++) {
        const c = ch[i] as KeyChange;
        if (c.value !== null) entries.push({ key: c.key, value: c.value });
      }
      return this.build(depth, entries, 0, entries.length, out);
    }
    const node = this.load(ref.hash, ref.loc);
    if (node.type === 'leaf') {
      // Merge the existing leaf into the change set (unless a change overrides it), then rebuild.
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      let placed = false;
      for (let i = lo; i < hi; i++) {
        const c = ch[i] as KeyChange;
        if (!placed) {
          const cmp = Buffer.compare(c.key, node.key);
          if (cmp === 0) {
            placed = true;
            if (c.value !== null) entries.push({ key: c.key, value: c.value });
            continue;
          }
          if (cmp > 0) {
            entries.push({ key: node.key, value: node.value });
            placed = true;
          }
        }
        if (c.value !== null) entries.push({ key: c.key, value: c.value });
      }
      if (!placed) entries.push({ key: node.key, value: node.value });
      return this.build(depth, entries, 0, entries.length, out);
    }
    let mid = lo;
    while (mid < hi && bitAt((ch[mid] as KeyChange).key, depth) === 0) mid++;
    const left = this.updateRef({ hash: node.left, kind: isEmpty(node.left) ? 'empty' : 'unknown', loc: node.leftLoc }, depth + 1, ch, lo, mid, out);
    const right = this.updateRef({ hash: node.right, kind: isEmpty(node.right) ? 'empty' : 'unknown', loc: node.rightLoc }, depth + 1, ch, mid, hi, out);
    return this.combine(left, right, out);
  }

  private kindOf(ref: Ref): Kind {
    if (ref.kind !== 'unknown') return ref.kind;
    return this.load(ref.hash, ref.loc).type;
  }

  private combine(left: Ref, right: Ref, out: NewNode[]): Ref {
    // Every ref is created with kind 'empty' exactly when its hash is the empty root.
    const le = left.kind === 'empty';
    const re = right.kind === 'empty';
    if (le && re) return EMPTY_REF;
    // A lone leaf rises to replace its parent (path compression).
    if (le && this.kindOf(right) === 'leaf') return { hash: right.hash, kind: 'leaf', loc: right.loc };
    if (re && this.kindOf(left) === 'leaf') return { hash: left.hash, kind: 'leaf', loc: left.loc };
    const stored = this.nextLoc !== undefined;
    const enc = stored ? this.storedEncoding() : new Uint8Array(65);
    enc[0] = INTERNAL;
    enc.set(left.hash, 1);
    enc.set(right.hash, 33);
    const hash = blake2b256(stored ? enc.subarray(0, 65) : enc, SMT_PERSONAL);
    if (stored) {
      writeU48(enc, 65, le ? NO_LOC : (left.loc ?? NO_LOC));
      writeU48(enc, 71, re ? NO_LOC : (right.loc ?? NO_LOC));
    }
    return { hash, kind: 'internal', loc: this.emit(hash, enc, out) };
  }

  private build(depth: number, entries: { key: Uint8Array; value: Uint8Array }[], lo: number, hi: number, out: NewNode[]): Ref {
    if (lo === hi) return EMPTY_REF;
    if (hi - lo === 1) {
      const e = entries[lo] as { key: Uint8Array; value: Uint8Array };
      const enc = new Uint8Array(33 + e.value.length);
      enc[0] = LEAF;
      enc.set(e.key, 1);
      enc.set(e.value, 33);
      const hash = leafHash(e.key, e.value);
      return { hash, kind: 'leaf', loc: this.emit(hash, enc, out) };
    }
    if (depth >= 256) throw new StrataError('INTERNAL', 'duplicate keys in tree build');
    let mid = lo;
    while (mid < hi && bitAt((entries[mid] as { key: Uint8Array }).key, depth) === 0) mid++;
    return this.combine(this.build(depth + 1, entries, lo, mid, out), this.build(depth + 1, entries, mid, hi, out), out);
  }
}

/** Result of checking a proof. */
export interface ProofResult {
  /** The value at the key, or undefined when the proof shows the key is absent. */
  value: Uint8Array | undefined;
}

/**
 * Verifies a proof (node encodings along the path) for `key` against `root`. Returns the
 * proven value (or undefined for a proven absence); throws PROOF_INVALID if the proof does
 * not link up to the root or stops early.
 */
export function verifyProof(root: Uint8Array, key: Uint8Array, proof: Uint8Array[]): ProofResult {
  if (key.length !== 32) throw new StrataError('PROOF_INVALID', 'key must be 32 bytes');
  let h = root;
  let i = 0;
  for (let depth = 0; depth <= 256; depth++) {
    if (isEmpty(h)) {
      if (i !== proof.length) throw new StrataError('PROOF_INVALID', 'proof has extra nodes');
      return { value: undefined };
    }
    const enc = proof[i++];
    if (!enc) throw new StrataError('PROOF_INVALID', `proof ends at depth ${depth} before reaching a leaf or an empty branch`);
    if (!bytesEqual(nodeHash(enc), h)) throw new StrataError('PROOF_INVALID', `proof node ${i - 1} does not match its parent's hash`);
    const n = decodeNode(enc);
    if (n.type === 'leaf') {
      if (i !== proof.length) throw new StrataError('PROOF_INVALID', 'proof has extra nodes');
      return { value: bytesEqual(n.key, key) ? new Uint8Array(n.value) : undefined };
    }
    h = bitAt(key, depth) ? n.right : n.left;
  }
  throw new StrataError('PROOF_INVALID', 'proof deeper than 256 levels');
}
