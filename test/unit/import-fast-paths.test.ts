/**
 * The import fast paths (issue 9, import benchmark): each one does less work for the same
 * result. The results are guarded by test/unit/import-roots.test.ts (roots of the reference
 * code) and the tree property tests in state.test.ts; here each saving is checked to happen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake2b256, blake2b256Parts, blake2b256Tagged, initHashing, toHex, utf8 } from '@strata/primitives';
import { accountKey } from '@strata/runtime';
import { EMPTY_ROOT, MemoryNodeStore, SparseMerkleTree, openDatabase, StateDb, stateKey } from '@strata/state';
import { tempDir } from '../helpers/chain.js';

await initHashing();

const key = (i: number) => blake2b256(new Uint8Array([i & 0xff, i >> 8, 5]));
const isLeaf = (enc: Uint8Array) => enc[0] === 0;

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

describe('sparse Merkle tree update', () => {
  it('keeps the node of a leaf that only moves deeper (no new leaf, no re-hash), in memory and in storage', () => {
    const t = tempDir('strata-smt-keep-');
    const env = openDatabase({ path: t.dir });
    try {
      const db = new StateDb(env, { pageCacheSize: 1 });
      const mem = new MemoryNodeStore();
      const memTree = new SparseMerkleTree(mem);
      const dbTree = new SparseMerkleTree(db.nodeReader);
      let memRoot = EMPTY_ROOT;
      let dbRoot = EMPTY_ROOT;
      let reused = 0;
      // Batches of fresh keys: each lands beside existing leaves and pushes them down.
      for (let b = 0; b < 12; b++) {
        const changes = Array.from({ length: 1 + (b % 4) * 5 }, (_, i) => ({ key: key(b * 100 + i), value: new Uint8Array([b, i]) }));
        const m = memTree.update(memRoot, changes);
        mem.addAll(m.newNodes);
        const d = dbTree.update(dbRoot, changes, { locs: db.locations });
        env.transactionSync(() => {
          db.putNodes(d.newNodes);
          db.putRoot(d.root, d.rootLoc);
        });
        expect(toHex(d.root)).toBe(toHex(m.root));
        // Only the changed keys get new leaves, except that a stored update re-creates a leaf that
        // was the whole tree (its location is only in the roots table, a parent needs it inline).
        expect(m.newNodes.filter((n) => isLeaf(n.encoding)).length).toBe(changes.length);
        const dbLeaves = d.newNodes.filter((n) => isLeaf(n.encoding)).length;
        expect(dbLeaves).toBe(changes.length + (b === 1 ? 1 : 0));
        reused += b > 0 ? 1 : 0;
        memRoot = m.root;
        dbRoot = d.root;
      }
      expect(reused).toBeGreaterThan(0);
      // Every key reads back through locations from a fresh database handle (tiny page cache).
      const fresh = new SparseMerkleTree(new StateDb(env, { pageCacheSize: 1 }).nodeReader);
      for (let b = 0; b < 12; b++) {
        for (let i = 0; i < 1 + (b % 4) * 5; i++) expect(toHex(fresh.get(dbRoot, key(b * 100 + i)) as Uint8Array)).toBe(toHex(new Uint8Array([b, i])));
      }
    } finally {
      void env.close();
      t.cleanup();
    }
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
