/**
 * The rollup's account tree: a sparse binary Merkle tree of fixed depth over Poseidon(2), empty
 * leaves 0. Position binding: a proof is exactly `depth` siblings and the path bits come from the
 * leaf index (LSB = leaf level), so the same siblings cannot prove another position.
 */
import { StrataError } from '@strata/primitives';
import { poseidon } from './poseidon.js';

const zeroCache = new Map<number, bigint[]>();

/** Roots of empty subtrees by height: `zeros(d)[h]` is the root of an empty tree of height h. */
export function zeroHashes(depth: number): bigint[] {
  const hit = zeroCache.get(depth);
  if (hit) return hit;
  const z = [0n];
  for (let h = 0; h < depth; h++) z.push(poseidon([z[h] as bigint, z[h] as bigint]));
  zeroCache.set(depth, z);
  return z;
}

/** Root of an empty tree of `depth`. */
export function emptyRoot(depth: number): bigint {
  return zeroHashes(depth)[depth] as bigint;
}

/** Root from a leaf, its index and its `depth` siblings (leaf level first). */
export function rootFromPath(leaf: bigint, index: number, siblings: readonly bigint[], depth: number): bigint {
  if (siblings.length !== depth) throw new StrataError('PROOF_INVALID', `a Merkle proof of this tree has exactly ${depth} siblings, got ${siblings.length}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** depth) throw new StrataError('PROOF_INVALID', `leaf index ${index} is outside a tree of depth ${depth}`);
  let cur = leaf;
  let idx = index;
  for (let h = 0; h < depth; h++) {
    const sib = siblings[h] as bigint;
    cur = idx & 1 ? poseidon([sib, cur]) : poseidon([cur, sib]);
    idx = Math.floor(idx / 2);
  }
  return cur;
}

/** An in-memory sparse Poseidon tree (only non-empty nodes are stored). */
export class PoseidonTree {
  private readonly nodes = new Map<string, bigint>();
  private readonly zeros: bigint[];

  constructor(readonly depth: number) {
    if (!Number.isInteger(depth) || depth < 1 || depth > 32) throw new StrataError('CONFIG_INVALID', 'tree depth must be 1..32');
    this.zeros = zeroHashes(depth);
  }

  private node(h: number, i: number): bigint {
    return this.nodes.get(`${h}:${i}`) ?? (this.zeros[h] as bigint);
  }

  get root(): bigint {
    return this.node(this.depth, 0);
  }

  leaf(index: number): bigint {
    return this.node(0, index);
  }

  /** Sets a leaf and rehashes its path. */
  set(index: number, value: bigint): void {
    if (index < 0 || index >= 2 ** this.depth) throw new StrataError('NOT_FOUND', `leaf index ${index} is outside the tree`);
    let idx = index;
    let cur = value;
    for (let h = 0; h < this.depth; h++) {
      const key = `${h}:${idx}`;
      if (cur === this.zeros[h]) this.nodes.delete(key);
      else this.nodes.set(key, cur);
      const sib = this.node(h, idx ^ 1);
      cur = idx & 1 ? poseidon([sib, cur]) : poseidon([cur, sib]);
      idx = Math.floor(idx / 2);
    }
    this.nodes.set(`${this.depth}:0`, cur);
  }

  /** The `depth` siblings of a leaf, leaf level first. */
  proof(index: number): bigint[] {
    const out: bigint[] = [];
    let idx = index;
    for (let h = 0; h < this.depth; h++) {
      out.push(this.node(h, idx ^ 1));
      idx = Math.floor(idx / 2);
    }
    return out;
  }
}
