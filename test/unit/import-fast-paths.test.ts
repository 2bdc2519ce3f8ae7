/**
 * The import fast paths (issue 9, import benchmark): each one does less work for the same
 * result. The results are guarded by test/unit/import-roots.test.ts (roots of the reference
 * code) and the tree property tests in state.test.ts; here each saving is checked to happen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake2b256Parts, blake2b256Tagged, initHashing, toHex, utf8 } from '@strata/primitives';
import { accountKey } from '@strata/runtime';
import { stateKey } from '@strata/state';

await initHashing();


describe('tree hashing', () => {
  it('blake2b256Tagged(tag, a, b) is the hash of tag ‖ a ‖ b', () => {
    const personal = utf8('strata-smt-nodes');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (tag, a, b) => {
        expect(toHex(blake2b256Tagged(tag, a, b, personal))).toBe(toHex(blake2b256Parts([Uint8Array.of(tag), a, b], personal)));
        expect(toHex(blake2b256Tagged(tag, a, b))).toBe(toHex(blake2b256Parts([Uint8Array.of(tag), a, b])));
      }),
      { numRuns: 300 },
    );
  });
});

describe('account keys', () => {
  it('accountKey is stateKey("bank", "acct", address) for addresses of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (addr) => {
        expect(toHex(accountKey(addr))).toBe(toHex(stateKey('bank', utf8('acct'), addr)));
      }),
      { numRuns: 300 },
    );
  });
});
