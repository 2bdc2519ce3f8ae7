/**
 * Adversarial property tests of the binary Merkle proofs (DESIGN rule 8): a proof's shape is a
 * function of (index, count) and nothing else verifies. Random trees; each genuine proof is
 * padded, truncated, re-indexed, re-counted, re-targeted (another root, another leaf) and has
 * siblings swapped or flipped — every mutation must fail, every genuine proof must pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake2b256, initHashing, utf8 } from '@strata/primitives';
import { merkleProof, merkleProofShape, merkleRoot, verifyMerkleProof, type MerkleProof } from '@strata/chain';

await initHashing();

const leavesOf = (n: number, salt: number) => Array.from({ length: n }, (_, i) => blake2b256(utf8(`leaf:${salt}:${i}`)));
const tree = fc.record({ n: fc.integer({ min: 1, max: 70 }), salt: fc.integer() }).chain(({ n, salt }) => fc.record({ leaves: fc.constant(leavesOf(n, salt)), index: fc.nat({ max: n - 1 }) }));
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('Merkle proofs bind their position', () => {
  it('every genuine proof verifies, and its shape is the one (index, count) dictates', () => {
    fc.assert(
      fc.property(tree, ({ leaves, index }) => {
        const p = merkleProof(leaves, index);
        expect(p.siblings.length).toBe(merkleProofShape(index, leaves.length).length);
        expect(verifyMerkleProof(merkleRoot(leaves), leaves[index]!, p)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a proof padded with a carried-up placeholder (null) or an extra hash fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), hash32, ({ leaves, index }, at, extra) => {
        const root = merkleRoot(leaves);
        const p = merkleProof(leaves, index);
        const pos = at % (p.siblings.length + 1);
        const withNull = [...p.siblings.slice(0, pos), null, ...p.siblings.slice(pos)] as unknown as Uint8Array[];
        const withHash = [...p.siblings.slice(0, pos), extra, ...p.siblings.slice(pos)];
        expect(verifyMerkleProof(root, leaves[index]!, { ...p, siblings: withNull })).toBe(false);
        expect(verifyMerkleProof(root, leaves[index]!, { ...p, siblings: withHash })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('leaf 0 padded with nulls never verifies at another index (the one-step-proof attack)', () => {
    for (let count = 2; count <= 40; count++) {
      const leaves = leavesOf(count, count);
      const root = merkleRoot(leaves);
      const p0 = merkleProof(leaves, 0);
      for (let index = 1; index < count; index++) {
        // Nulls where the target index has a 1 bit: the old verifier skipped them and kept
        // hashing leaf 0 on the left at every level, so leaf 0 "was" at `index`.
        const sibs: (Uint8Array | null)[] = [];
        let k = 0;
        for (let bit = 0; (index >> bit) > 0 || k < p0.siblings.length; bit++) sibs.push((index >> bit) & 1 ? null : (p0.siblings[k++] ?? null));
        expect(verifyMerkleProof(root, leaves[0]!, { index, count, siblings: sibs as Uint8Array[] })).toBe(false);
      }
    }
  });

  it('a truncated proof fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), ({ leaves, index }, cut) => {
        const p = merkleProof(leaves, index);
        fc.pre(p.siblings.length > 0);
        const keep = cut % p.siblings.length;
        expect(verifyMerkleProof(merkleRoot(leaves), leaves[index]!, { ...p, siblings: p.siblings.slice(0, keep) })).toBe(false);
        expect(verifyMerkleProof(merkleRoot(leaves), leaves[index]!, { ...p, siblings: p.siblings.slice(p.siblings.length - keep) })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a proof re-indexed or re-counted fails (unless it is the genuine proof of that position)', () => {
    fc.assert(
      fc.property(tree, fc.integer({ min: -3, max: 140 }), fc.integer({ min: -3, max: 140 }), ({ leaves, index }, idx, cnt) => {
        const p = merkleProof(leaves, index);
        const root = merkleRoot(leaves);
        const leaf = leaves[index]!;
        const reIndexed: MerkleProof = { ...p, index: idx };
        const reCounted: MerkleProof = { ...p, count: cnt };
        // A leaf equal to another position's leaf never happens here (distinct leaves).
        if (idx !== index) expect(verifyMerkleProof(root, leaf, reIndexed)).toBe(false);
        if (cnt !== leaves.length) expect(verifyMerkleProof(root, leaf, reCounted)).toBe(false);
        expect(verifyMerkleProof(root, leaf, { ...p, index: index + 2 ** 32 })).toBe(false);
        expect(verifyMerkleProof(root, leaf, { ...p, index: index + 0.5 })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a proof re-targeted at another leaf, another root, or with a sibling changed, swapped or resized fails', () => {
    fc.assert(
      fc.property(tree, hash32, fc.nat(), ({ leaves, index }, other, at) => {
        const p = merkleProof(leaves, index);
        const root = merkleRoot(leaves);
        const leaf = leaves[index]!;
        expect(verifyMerkleProof(root, other, p)).toBe(false);
        expect(verifyMerkleProof(merkleRoot([...leaves, other]), leaf, p)).toBe(false);
        expect(verifyMerkleProof(other, leaf, p)).toBe(false);
        if (leaves.length > 1) expect(verifyMerkleProof(root, leaves[(index + 1) % leaves.length]!, p)).toBe(false);
        if (p.siblings.length > 0) {
          const k = at % p.siblings.length;
          const changed = p.siblings.map((s, i) => (i === k ? other : s));
          expect(verifyMerkleProof(root, leaf, { ...p, siblings: changed })).toBe(false);
          const longer = p.siblings.map((s, i) => (i === k ? new Uint8Array([...s, 0]) : s));
          expect(verifyMerkleProof(root, leaf, { ...p, siblings: longer })).toBe(false);
        }
        if (p.siblings.length > 1) expect(verifyMerkleProof(root, leaf, { ...p, siblings: [...p.siblings].reverse() })).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('merkleProofShape rejects positions that are not in a list', () => {
    expect(() => merkleProofShape(0, 0)).toThrow(expect.objectContaining({ code: 'PROOF_INVALID' }));
    expect(() => merkleProofShape(3, 3)).toThrow(expect.objectContaining({ code: 'PROOF_INVALID' }));
    expect(() => merkleProofShape(-1, 3)).toThrow(expect.objectContaining({ code: 'PROOF_INVALID' }));
    expect(merkleProofShape(2, 3)).toEqual([true]); // carried up at level 0, H(ab) on the left at level 1
  });

  it('merkleProofShape is right beyond 2^31 leaves (no 32-bit wrap-around)', () => {
    // The last leaf of 2^31 + 1 is carried up to the top, where H(first 2^31) is on its left.
    expect(merkleProofShape(2 ** 31, 2 ** 31 + 1)).toEqual([true]);
    // Leaf 2^31 + 1 of 2^31 + 2: its sibling 2^31 on the left, then carried up, then left.
    expect(merkleProofShape(2 ** 31 + 1, 2 ** 31 + 2)).toEqual([true, true]);
  });
});
