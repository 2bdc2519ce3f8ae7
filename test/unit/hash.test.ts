import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake2b256, blake2b256Parts, initHashing, toHex, utf8 } from '@strata/primitives';

await initHashing();

describe('blake2b-256 (WASM fast path)', () => {
  it("matches CKB's known hash of the empty input", () => {
    expect(toHex(blake2b256(new Uint8Array(0)))).toBe('0x44f4c69744d5f8c55d642062949dcae49bc4e7ef43d388c5a12f42b5633d163e');
  });

  it('equals the pure-JS reference for any input, split and personalization', () => {
    const personals = [utf8('ckb-default-hash'), utf8('strata-smt-nodes'), new Uint8Array(16).fill(7)];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat({ max: 700 }), fc.nat({ max: 2 }), (data, cut, p) => {
        const personal = personals[p] as Uint8Array;
        const want = toHex(nobleBlake2b(data, { dkLen: 32, personalization: personal }));
        expect(toHex(blake2b256(data, personal))).toBe(want);
        // A fresh array with the same bytes must hash the same (the state cache is by content).
        expect(toHex(blake2b256(data, new Uint8Array(personal)))).toBe(want);
        const at = Math.min(cut, data.length);
        expect(toHex(blake2b256Parts([data.subarray(0, at), data.subarray(at)], personal))).toBe(want);
      }),
      { numRuns: 300 },
    );
  });

  it('hashes inputs larger than the preallocated memory', () => {
    const big = new Uint8Array(3 << 20).map((_, i) => i & 0xff);
    expect(toHex(blake2b256(big))).toBe(toHex(nobleBlake2b(big, { dkLen: 32, personalization: utf8('ckb-default-hash') })));
  });
});
