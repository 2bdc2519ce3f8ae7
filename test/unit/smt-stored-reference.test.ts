/**
 * The stored tree (lmdb pages, child locations, a leaf that moves deeper keeping its old node,
 * uncached reads that copy one node out of lmdb's read buffer) against an independent reference:
 * a from-scratch path-compressed SMT hashed with noble's blake2b (not the WASM tagged hasher).
 * After every batch the root, every value and every proof (present and absent keys) must be the
 * reference's, read through the live database (cache of one page, so most reads miss) and through
 * a second StateDb on the same environment (cold cache), interleaved with further writes.
 */
import { blake2b } from '@noble/hashes/blake2.js';
import { initHashing, toHex, utf8 } from '@strata/primitives';
import { EMPTY_ROOT, type KeyChange, SparseMerkleTree, StateDb, verifyProof } from '@strata/state';
import fc from 'fast-check';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/chain.js';

await initHashing();
const P = utf8('strata-smt-nodes');
const h = (...parts: Uint8Array[]) => blake2b(Buffer.concat(parts), { dkLen: 32, personalization: P });
const bit = (k: Uint8Array, d: number) => ((k[d >> 3] as number) >> (7 - (d & 7))) & 1;

type RNode = { leaf: true; key: Uint8Array; value: Uint8Array; hash: Uint8Array } | { leaf: false; l: RNode | null; r: RNode | null; hash: Uint8Array };
const hashOf = (n: RNode | null) => (n ? n.hash : EMPTY_ROOT);

/** Reference tree of a set of entries (canonical shape: a one-leaf subtree is that leaf). */
function ref(entries: [Uint8Array, Uint8Array][], depth = 0): RNode | null {
  if (entries.length === 0) return null;
  if (entries.length === 1) {
    const [key, value] = entries[0] as [Uint8Array, Uint8Array];
    return { leaf: true, key, value, hash: h(new Uint8Array([0]), key, h(value)) };
  }
  const l = ref(
    entries.filter(([k]) => bit(k, depth) === 0),
    depth + 1,
  );
  const r = ref(
    entries.filter(([k]) => bit(k, depth) === 1),
    depth + 1,
  );
  return { leaf: false, l, r, hash: h(new Uint8Array([1]), hashOf(l), hashOf(r)) };
}

/** Reference proof: canonical encodings on the path to `key`. */
function refProof(root: RNode | null, key: Uint8Array): string[] {
  const out: string[] = [];
  let n = root;
  for (let d = 0; n; d++) {
    if (n.leaf) {
      out.push(toHex(Buffer.concat([new Uint8Array([0]), n.key, n.value])));
      break;
    }
    out.push(toHex(Buffer.concat([new Uint8Array([1]), hashOf(n.l), hashOf(n.r)])));
    n = bit(key, d) ? n.r : n.l;
  }
  return out;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// Few distinct keys sharing long prefixes, so leaves keep moving deeper and back up.
const keyOf = (i: number) => {
  const k = new Uint8Array(32);
  k[0] = i & 0x0f; // 16 keys differing in the top bits only ...
  k[31] = i >> 4; // ... and pairs that split only at the last byte
  return k;
};
const opArb = fc.array(
  fc.array(fc.record({ k: fc.integer({ min: 0, max: 47 }), v: fc.option(fc.uint8Array({ minLength: 0, maxLength: 6 }), { nil: null }) }), {
    minLength: 1,
    maxLength: 6,
  }),
  { minLength: 1, maxLength: 12 },
);

describe('stored SMT against an independent reference', () => {
  it('same root, values and proofs after every batch, warm and cold reads, leaves moving deeper and back', () => {
    const t = tempDir('strata-smtref-');
    // No fsync per commit (a test of tree shape and reads, not of durability): fast on a busy disk.
    const env = open({ path: `${t.dir}/chain.lmdb`, maxDbs: 32, noSync: true });
    cleanups.push(async () => {
      await env.close();
      t.cleanup();
    });
    let run = 0;
    fc.assert(
      fc.property(opArb, (batches) => {
        run++;
        const db = new StateDb(env, { pageCacheSize: 1 });
        const model = new Map<string, [Uint8Array, Uint8Array]>();
        let root = EMPTY_ROOT;
        const roots: { root: Uint8Array; entries: [Uint8Array, Uint8Array][] }[] = [];
        for (const batch of batches) {
          const changes: KeyChange[] = batch.map((o) => ({ key: keyOf(o.k), value: o.v }));
          const r = new SparseMerkleTree(db.nodeReader).update(root, changes, { locs: db.locations });
          env.transactionSync(() => {
            db.putNodes(r.newNodes);
            db.putRoot(r.root, r.rootLoc);
          });
          root = r.root;
          for (const c of changes) {
            if (c.value === null) model.delete(toHex(c.key));
            else model.set(toHex(c.key), [c.key, c.value]);
          }
          roots.push({ root, entries: [...model.values()] });
          const want = ref([...model.values()]);
          expect(toHex(root), `run ${run}`).toBe(toHex(hashOf(want)));
        }
        // The first, middle and last roots (old ones stay readable: nodes are never deleted), warm and cold.
        const cold = new StateDb(env, { pageCacheSize: 1 });
        for (const reader of [db, cold]) {
          const tree = new SparseMerkleTree(reader.nodeReader);
          for (const { root: rt, entries } of [roots[0], roots[roots.length >> 1], roots[roots.length - 1]] as typeof roots) {
            const want = ref(entries);
            const byKey = new Map(entries.map(([k, v]) => [toHex(k), v]));
            for (let i = 0; i < 48; i++) {
              const k = keyOf(i);
              const v = byKey.get(toHex(k));
              const got = tree.get(rt, k);
              expect(got && toHex(got)).toBe(v && toHex(v));
              const proof = tree.prove(rt, k);
              expect(proof.map(toHex)).toEqual(refProof(want, k));
              const res = verifyProof(rt, k, proof).value;
              expect(res && toHex(res)).toBe(v && toHex(v));
            }
          }
        }
        // Wipe this run's tree so the next run starts from an empty database.
        env.transactionSync(() => {
          for (const k of db.nodes.getKeys()) db.nodes.removeSync(k);
          for (const k of db.roots.getKeys()) db.roots.removeSync(k);
        });
      }),
      { numRuns: 40 },
    );
  });
});
