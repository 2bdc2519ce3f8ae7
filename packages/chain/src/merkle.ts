/**
 * Binary Merkle root over a list of 32-byte leaves (transaction hashes, receipt hashes), with
 * inclusion proofs. Odd nodes are carried up unchanged; the leaf count is mixed into the root
 * so lists of different lengths can never share a root.
 */
import { blake2b256, blake2b256Parts, bytesEqual, bigintToFixed, StrataError, utf8 } from '@strata/primitives';

const PERSONAL = utf8('strata-merkle-tr');

/** The root of an empty list. */
export const EMPTY_LIST_ROOT = new Uint8Array(32);

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

/** An inclusion proof: sibling hashes from the leaf up (null where the node was carried up). */
export interface MerkleProof {
  index: number;
  count: number;
  siblings: (Uint8Array | null)[];
}

/** Builds the proof that leaf `index` is in `leaves`. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  if (index < 0 || index >= leaves.length) throw new StrataError('NOT_FOUND', `leaf ${index} out of range`);
  const siblings: (Uint8Array | null)[] = [];
  let level = [...leaves];
  let i = index;
  while (level.length > 1) {
    const sib = i ^ 1;
    siblings.push(sib < level.length ? (level[sib] as Uint8Array) : null);
    level = levelUp(level);
    i >>= 1;
  }
  return { index, count: leaves.length, siblings };
}

/** Checks a Merkle proof for `leaf` against `root`. */
export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: MerkleProof): boolean {
  let h = leaf;
  let i = proof.index;
  for (const s of proof.siblings) {
    if (s) h = i & 1 ? blake2b256Parts([s, h], PERSONAL) : blake2b256Parts([h, s], PERSONAL);
    i >>= 1;
  }
  return bytesEqual(blake2b256Parts([h, bigintToFixed(BigInt(proof.count), 8)], PERSONAL), root);
}

/** Hash of a receipt's bytes, as a Merkle leaf. */
export function leafHash(bytes: Uint8Array): Uint8Array {
  return blake2b256(bytes, PERSONAL);
}
