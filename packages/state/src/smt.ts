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
 */
import { blake2b256, blake2b256Parts, bytesEqual, bytesKey, StrataError, toHex, utf8 } from '@strata/primitives';

/** Personalization for tree hashing, separating it from every other blake2b use. */
const SMT_PERSONAL = utf8('strata-smt-nodes');

/** Root (and hash) of the empty tree. */
export const EMPTY_ROOT: Uint8Array = new Uint8Array(32);

const LEAF = 0;
const INTERNAL = 1;

/** Reads node encodings by hash. */
export interface NodeReader {
  getNode(hash: Uint8Array): Uint8Array | undefined;
}

/** A change to apply: a value to set, or `null` to delete. */
export interface KeyChange {
  key: Uint8Array;
  value: Uint8Array | null;
}

/** Result of an update: the new root and every node created (keyed by `bytesKey(hash)`). */
export interface UpdateResult {
  root: Uint8Array;
  newNodes: Map<string, { hash: Uint8Array; encoding: Uint8Array }>;
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

/** Hash of a node from its encoding. */
export function nodeHash(encoding: Uint8Array): Uint8Array {
  if (encoding[0] === LEAF) return leafHash(encoding.subarray(1, 33), encoding.subarray(33));
  return blake2b256(encoding, SMT_PERSONAL);
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
}

const EMPTY_REF: Ref = { hash: EMPTY_ROOT, kind: 'empty' };

/** Decoded node. */
export type DecodedNode =
  | { type: 'leaf'; key: Uint8Array; value: Uint8Array }
  | { type: 'internal'; left: Uint8Array; right: Uint8Array };

/** Decodes a node encoding; throws STATE_MISSING_NODE-style errors on malformed bytes. */
export function decodeNode(enc: Uint8Array): DecodedNode {
  if (enc[0] === LEAF && enc.length >= 33) return { type: 'leaf', key: enc.subarray(1, 33), value: enc.subarray(33) };
  if (enc[0] === INTERNAL && enc.length === 65) return { type: 'internal', left: enc.subarray(1, 33), right: enc.subarray(33, 65) };
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

  private load(hash: Uint8Array): DecodedNode {
    const enc = this.reader.getNode(hash);
    if (!enc) throw new StrataError(this.missingCode, `tree node ${toHex(hash)} is not available`, { hash: toHex(hash) });
    return decodeNode(enc);
  }

  /** Reads the value at `key` under `root` by walking the tree. */
  get(root: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    let h = root;
    for (let depth = 0; depth <= 256; depth++) {
      if (isEmpty(h)) return undefined;
      const n = this.load(h);
      if (n.type === 'leaf') return bytesEqual(n.key, key) ? n.value : undefined;
      h = bitAt(key, depth) ? n.right : n.left;
    }
    throw new StrataError('PROOF_INVALID', 'tree deeper than 256 levels');
  }

  /** Node encodings on the path to `key`: an inclusion or exclusion proof. */
  prove(root: Uint8Array, key: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let h = root;
    for (let depth = 0; depth <= 256; depth++) {
      if (isEmpty(h)) return out;
      const enc = this.reader.getNode(h);
      if (!enc) throw new StrataError(this.missingCode, `tree node ${toHex(h)} is not available`);
      out.push(enc);
      const n = decodeNode(enc);
      if (n.type === 'leaf') return out;
      h = bitAt(key, depth) ? n.right : n.left;
    }
    return out;
  }

  /**
   * Applies all changes at once and returns the new root and the nodes it created. Keys must
   * be 32 bytes; a later change to the same key wins.
   */
  update(root: Uint8Array, changes: Iterable<KeyChange>): UpdateResult {
    const dedup = new Map<string, KeyChange>();
    for (const c of changes) {
      if (c.key.length !== 32) throw new StrataError('INTERNAL', 'state keys must be 32 bytes');
      dedup.set(bytesKey(c.key), c);
    }
    const sorted = [...dedup.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
    const newNodes: UpdateResult['newNodes'] = new Map();
    const ref = this.updateRef({ hash: root, kind: isEmpty(root) ? 'empty' : 'unknown' }, 0, sorted, 0, sorted.length, newNodes);
    return { root: ref.hash, newNodes };
  }

  private updateRef(ref: Ref, depth: number, ch: KeyChange[], lo: number, hi: number, out: UpdateResult['newNodes']): Ref {
    if (lo === hi) return ref;
    if (ref.kind === 'empty' || isEmpty(ref.hash)) {
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (let i = lo; i < hi; i++) {
        const c = ch[i] as KeyChange;
        if (c.value !== null) entries.push({ key: c.key, value: c.value });
      }
      return this.build(depth, entries, 0, entries.length, out);
    }
    const node = this.load(ref.hash);
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
    const left = this.updateRef({ hash: node.left, kind: isEmpty(node.left) ? 'empty' : 'unknown' }, depth + 1, ch, lo, mid, out);
    const right = this.updateRef({ hash: node.right, kind: isEmpty(node.right) ? 'empty' : 'unknown' }, depth + 1, ch, mid, hi, out);
    return this.combine(left, right, out);
  }

  private kindOf(ref: Ref): Kind {
    if (ref.kind !== 'unknown') return ref.kind;
    return this.load(ref.hash).type;
  }

  private combine(left: Ref, right: Ref, out: UpdateResult['newNodes']): Ref {
    const le = left.kind === 'empty' || isEmpty(left.hash);
    const re = right.kind === 'empty' || isEmpty(right.hash);
    if (le && re) return EMPTY_REF;
    // A lone leaf rises to replace its parent (path compression).
    if (le && this.kindOf(right) === 'leaf') return { hash: right.hash, kind: 'leaf' };
    if (re && this.kindOf(left) === 'leaf') return { hash: left.hash, kind: 'leaf' };
    const enc = new Uint8Array(65);
    enc[0] = INTERNAL;
    enc.set(left.hash, 1);
    enc.set(right.hash, 33);
    const hash = blake2b256(enc, SMT_PERSONAL);
    out.set(bytesKey(hash), { hash, encoding: enc });
    return { hash, kind: 'internal' };
  }

  private build(depth: number, entries: { key: Uint8Array; value: Uint8Array }[], lo: number, hi: number, out: UpdateResult['newNodes']): Ref {
    if (lo === hi) return EMPTY_REF;
    if (hi - lo === 1) {
      const e = entries[lo] as { key: Uint8Array; value: Uint8Array };
      const enc = new Uint8Array(33 + e.value.length);
      enc[0] = LEAF;
      enc.set(e.key, 1);
      enc.set(e.value, 33);
      const hash = leafHash(e.key, e.value);
      out.set(bytesKey(hash), { hash, encoding: enc });
      return { hash, kind: 'leaf' };
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
