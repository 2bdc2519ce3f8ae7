import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake2b256, bytesEqual, isStrataError, toHex } from '@strata/primitives';
import {
  EMPTY_ROOT,
  executeOnWitness,
  executeWithWitness,
  MemoryNodeStore,
  OverlayView,
  SparseMerkleTree,
  TreeReader,
  verifyProof,
  type KeyChange,
} from '@strata/state';

const key = (i: number) => blake2b256(new Uint8Array([i & 0xff, i >> 8]));

function applyAll(store: MemoryNodeStore, root: Uint8Array, changes: KeyChange[]): Uint8Array {
  const r = new SparseMerkleTree(store).update(root, changes);
  store.addAll(r.newNodes);
  return r.root;
}

const opArb = fc.array(
  fc.record({ k: fc.integer({ min: 0, max: 40 }), v: fc.option(fc.uint8Array({ minLength: 0, maxLength: 8 }), { nil: null }) }),
  { maxLength: 60 },
);

describe('sparse Merkle tree', () => {
  it('matches a reference map, whatever the batching, and the root depends only on contents', () => {
    fc.assert(
      fc.property(opArb, fc.integer({ min: 1, max: 7 }), (ops, batch) => {
        const model = new Map<string, Uint8Array>();
        const store = new MemoryNodeStore();
        let root = EMPTY_ROOT;
        for (let i = 0; i < ops.length; i += batch) {
          const chunk = ops.slice(i, i + batch).map((o) => ({ key: key(o.k), value: o.v }));
          root = applyAll(store, root, chunk);
          for (const c of chunk) {
            if (c.value === null) model.delete(toHex(c.key));
            else model.set(toHex(c.key), c.value);
          }
        }
        const tree = new SparseMerkleTree(store);
        for (let k = 0; k <= 40; k++) {
          const got = tree.get(root, key(k));
          const want = model.get(toHex(key(k)));
          expect(got === undefined ? undefined : toHex(got)).toBe(want === undefined ? undefined : toHex(want));
        }
        // Canonical: build the model's contents in one go from empty; same root.
        const fresh = new MemoryNodeStore();
        const direct = applyAll(
          fresh,
          EMPTY_ROOT,
          [...model.entries()].map(([k, v]) => ({ key: Uint8Array.from(Buffer.from(k.slice(2), 'hex')), value: v })),
        );
        expect(toHex(root)).toBe(toHex(direct));
        if (model.size === 0) expect(toHex(root)).toBe(toHex(EMPTY_ROOT));
      }),
      { numRuns: 200 },
    );
  });

  it('proofs verify for present and absent keys and fail when tampered', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 200 }),
        fc.nat(),
        (present, probe, tamperAt) => {
          const store = new MemoryNodeStore();
          const root = applyAll(
            store,
            EMPTY_ROOT,
            present.map((k) => ({ key: key(k), value: new Uint8Array([k, 1, 2]) })),
          );
          const tree = new SparseMerkleTree(store);
          const proof = tree.prove(root, key(probe));
          const res = verifyProof(root, key(probe), proof);
          if (present.includes(probe)) expect(res.value && toHex(res.value)).toBe(toHex(new Uint8Array([probe, 1, 2])));
          else expect(res.value).toBeUndefined();
          // Tamper one byte of one node: the proof must no longer verify (or must not prove the same thing).
          if (proof.length > 0) {
            const i = tamperAt % proof.length;
            const node = proof[i] as Uint8Array;
            const bad = proof.map((p) => new Uint8Array(p));
            const bi = (tamperAt >> 3) % node.length;
            (bad[i] as Uint8Array)[bi] ^= 0x01;
            let ok = false;
            try {
              const r2 = verifyProof(root, key(probe), bad);
              ok = (r2.value === undefined) === (res.value === undefined) && (!r2.value || bytesEqual(r2.value, res.value as Uint8Array));
            } catch (e) {
              expect(isStrataError(e, 'PROOF_INVALID')).toBe(true);
            }
            expect(ok).toBe(false);
          }
          // A proof against another root fails.
          expect(() => verifyProof(blake2b256(new Uint8Array([9])), key(probe), proof)).toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('re-executes a transaction from its witness alone and gets the same post-state root', () => {
    const store = new MemoryNodeStore();
    const root = applyAll(
      store,
      EMPTY_ROOT,
      Array.from({ length: 500 }, (_, i) => ({ key: key(i), value: new Uint8Array([i & 0xff, 100]) })),
    );
    const tx = (view: OverlayView) => {
      const a = view.get(key(3)) as Uint8Array;
      const b = view.get(key(7)) as Uint8Array;
      view.put(key(3), new Uint8Array([a[0] as number, (a[1] as number) - 10]));
      view.put(key(7), new Uint8Array([b[0] as number, (b[1] as number) + 10]));
      view.put(key(600), new Uint8Array([1])); // a fresh key (exclusion path needed)
      view.del(key(9)); // a deletion (sibling collapse needed)
    };
    const full = executeWithWitness(store, root, tx);
    const fromWitness = executeOnWitness(root, full.witness, tx);
    expect(toHex(fromWitness)).toBe(toHex(full.postRoot));
    // Cross-check against a plain full-state update.
    const view = new OverlayView(new TreeReader(store, root));
    tx(view);
    expect(toHex(new SparseMerkleTree(store).update(root, view.changes()).root)).toBe(toHex(full.postRoot));
    // A witness missing a node is reported as incomplete, not as a wrong root.
    expect(() => executeOnWitness(root, full.witness.slice(1), tx)).toThrowError(/not available/);
  });
});

describe('persistent tree (nodes stored in pages by location)', () => {
  it('every historical root stays readable and provable, with the same roots as the in-memory tree', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openDatabase, StateDb } = await import('@strata/state');
    const dir = mkdtempSync(join(tmpdir(), 'strata-smt-'));
    const env = openDatabase({ path: dir });
    try {
      const db = new StateDb(env, { pageCacheSize: 2 }); // tiny cache: force database reads
      const mem = new MemoryNodeStore();
      let root = EMPTY_ROOT;
      let memRoot = EMPTY_ROOT;
      const model = new Map<string, Uint8Array>();
      const history: { root: Uint8Array; snapshot: Map<string, Uint8Array> }[] = [];
      fc.assert(
        fc.property(fc.array(fc.record({ k: fc.integer({ min: 0, max: 60 }), v: fc.option(fc.uint8Array({ minLength: 1, maxLength: 6 }), { nil: null }) }), { minLength: 1, maxLength: 12 }), (ops) => {
          const changes = ops.map((o) => ({ key: key(o.k), value: o.v }));
          const r = new SparseMerkleTree(db.nodeReader).update(root, changes, { locs: db.locations });
          env.transactionSync(() => {
            db.putNodes(r.newNodes);
            db.putRoot(r.root, r.rootLoc);
          });
          root = r.root;
          memRoot = applyAll(mem, memRoot, changes);
          expect(toHex(root)).toBe(toHex(memRoot));
          for (const c of changes) {
            if (c.value === null) model.delete(toHex(c.key));
            else model.set(toHex(c.key), c.value);
          }
          history.push({ root, snapshot: new Map(model) });
        }),
        { numRuns: 40 },
      );
      const fresh = new StateDb(env, { pageCacheSize: 2 });
      const tree = new SparseMerkleTree(fresh.nodeReader);
      for (const { root: r, snapshot } of history) {
        for (let k = 0; k <= 60; k += 7) {
          const want = snapshot.get(toHex(key(k)));
          const got = tree.get(r, key(k));
          expect(got === undefined ? undefined : toHex(got)).toBe(want === undefined ? undefined : toHex(want));
          const proof = tree.prove(r, key(k));
          for (const p of proof) expect(p.length === 65 || p[0] === 0).toBe(true); // canonical form only
          const res = verifyProof(r, key(k), proof);
          expect(res.value === undefined ? undefined : toHex(res.value)).toBe(want === undefined ? undefined : toHex(want));
        }
      }
    } finally {
      await env.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a cold read copies one node out of lmdb, not its 256-node page; a page missed twice is cached', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openDatabase, StateDb } = await import('@strata/state');
    const dir = mkdtempSync(join(tmpdir(), 'strata-smt-cold-'));
    const env = openDatabase({ path: dir });
    try {
      const writer = new StateDb(env);
      const r = new SparseMerkleTree(writer.nodeReader).update(EMPTY_ROOT, Array.from({ length: 300 }, (_, i) => ({ key: key(i), value: Uint8Array.of(i & 0xff, 1) })), { locs: writer.locations });
      env.transactionSync(() => {
        writer.putNodes(r.newNodes);
        writer.putRoot(r.root, r.rootLoc);
      });
      // A fresh reader: nothing cached. Every node is read from lmdb.
      const cold = new StateDb(env, { pageCacheSize: 64 });
      // One node from each of the first pages (256 locations a page), each read once.
      const leafy = r.newNodes.filter((n) => n.loc !== undefined && n.loc % 256 === 7);
      expect(leafy.length).toBeGreaterThanOrEqual(2);
      const sizes: number[] = [];
      for (const n of leafy) {
        const got = cold.nodeReader.getNode(n.hash, n.loc);
        expect(got && toHex(got)).toBe(toHex(n.encoding));
        // Its bytes only: before, a node was a view into a fresh copy of its whole page.
        sizes.push(got!.buffer.byteLength);
      }
      expect(sizes).toEqual(leafy.map((n) => n.encoding.length));
      // The second miss on that page admits it: later reads are views into the cached page.
      const again = cold.nodeReader.getNode(leafy[0]!.hash, leafy[0]!.loc)!;
      expect(again.buffer.byteLength).toBeGreaterThan(again.length);
      expect(toHex(again)).toBe(toHex(leafy[0]!.encoding));
    } finally {
      await env.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
