/**
 * Binary Merkle root over a list of 32-byte leaves (transaction hashes, receipt hashes, rollup
 * operation leaves), with inclusion proofs. Odd nodes are carried up unchanged; the leaf count
 * is mixed into the root so lists of different lengths can never share a root.
 *
 * A proof binds its position: the number of siblings and the side each one sits on are a
 * function of `(index, count)` alone (`merkleProofShape`), and `verifyMerkleProof` rejects any
 * proof of another shape — padded, truncated, with a sibling where the tree carries a node up,
 * or re-indexed. So a valid proof of leaf 0 never verifies at another index.
 */
import { blake2b256, blake2b256Parts, bytesEqual, bigintToFixed, StrataError, utf8 } from '@strata/primitives';

const PERSONAL = utf8('strata-merkle-tr');

/** The root of an empty list. */
export const EMPTY_LIST_ROOT = new Uint8Array(32);

/** Largest list a proof may claim (2^32 leaves: far beyond any block or batch). */
export const MAX_MERKLE_LEAVES = 2 ** 32;

function levelUp(level: Uint8Array[]): Uint8Array[] {
  const next: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) {
    const l = level[i] as Uint8Array;
    const r = level[i + 1];
    next.push(r ? blake2b256Parts([l, r], PERSONAL) : l);
  }
  return next;
}

/** Merkle root of `leaves`. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_LIST_ROOT;
  let level = [...leaves];
  while (level.length > 1) level = levelUp(level);
  return blake2b256Parts([level[0] as Uint8Array, bigintToFixed(BigInt(leaves.length), 8)], PERSONAL);
}

/**
 * An inclusion proof: the sibling hashes from the leaf up, only where the tree has a sibling
 * (levels where the node is carried up contribute none). Its length is fixed by `(index, count)`.
 */
export interface MerkleProof {
  index: number;
  count: number;
  siblings: Uint8Array[];
}

/**
 * The shape every valid proof of leaf `index` among `count` leaves has: one entry per sibling,
 * from the leaf up, `true` where the sibling is on the left. Throws PROOF_INVALID when
 * `(index, count)` is not a position in a list (index out of range, count 0 or too large).
 */
export function merkleProofShape(index: number, count: number): boolean[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_MERKLE_LEAVES) {
    throw new StrataError('PROOF_INVALID', `a Merkle proof's leaf count must be between 1 and ${MAX_MERKLE_LEAVES}, got ${count}`, { count });
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new StrataError('PROOF_INVALID', `leaf index ${index} is outside a list of ${count}`, { index, count });
  }
  const sides: boolean[] = [];
  let i = index;
  let n = count;
  while (n > 1) {
    // Arithmetic, not `^`/`&`: bitwise operators wrap at 2^31 and counts go up to 2^32.
    const odd = i % 2 === 1;
    const sib = odd ? i - 1 : i + 1;
    if (sib < n) sides.push(odd);
    i = Math.floor(i / 2);
    n = Math.ceil(n / 2);
  }
  return sides;
}

/** Builds the proof that leaf `index` is in `leaves`. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) throw new StrataError('NOT_FOUND', `leaf ${index} out of range`);
  const siblings: Uint8Array[] = [];
  let level = [...leaves];
  let i = index;
  while (level.length > 1) {
    const sib = i ^ 1;
    if (sib < level.length) siblings.push(level[sib] as Uint8Array);
    level = levelUp(level);
    i >>= 1;
  }
  return { index, count: leaves.length, siblings };
}

/**
 * Checks a Merkle proof for `leaf` against `root`. False for any proof whose shape is not the
 * one `(index, count)` dictates (wrong number of siblings, a sibling not 32 bytes, index out of
 * range), as well as for a wrong leaf, sibling or root. Never throws.
 */
export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: MerkleProof): boolean {
  let sides: boolean[];
  try {
    sides = merkleProofShape(proof.index, proof.count);
  } catch {
    return false;
  }
  if (leaf.length !== 32 || root.length !== 32 || !Array.isArray(proof.siblings) || proof.siblings.length !== sides.length) return false;
  let h = leaf;
  for (let k = 0; k < sides.length; k++) {
    const s = proof.siblings[k];
    if (!(s instanceof Uint8Array) || s.length !== 32) return false;
    h = sides[k] ? blake2b256Parts([s, h], PERSONAL) : blake2b256Parts([h, s], PERSONAL);
  }
  return bytesEqual(blake2b256Parts([h, bigintToFixed(BigInt(proof.count), 8)], PERSONAL), root);
}

/** Hash of a receipt's bytes, as a Merkle leaf. */
export function leafHash(bytes: Uint8Array): Uint8Array {
  return blake2b256(bytes, PERSONAL);
}
