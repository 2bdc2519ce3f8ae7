/**
 * State storage: the cost of writing one block's new tree nodes (2,000 state changes in a
 * 100,000-account tree, about 17,000 nodes) into a database that already holds the genesis
 * tree (~244,000 nodes). Strata stores a block's nodes in pages of 256 consecutive locations
 * (`StateDb.putNodes`), appended at the end of the B-tree. Measured in the same run on the same
 * nodes: the baseline keys each node by its hash alone (the content-addressed layout of many
 * tries), which scatters every insert across the B-tree; and Strata's previous layout, one
 * entry per node keyed by height ‖ hash. Reads are compared too: root-to-leaf walks to random
 * accounts through the paged layout (child locations in each node) and the hash-keyed one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake2b256, initHashing } from '@strata/primitives';
import { binaryDb, EMPTY_ROOT, MemoryNodeStore, openDatabase, SparseMerkleTree, StateDb, type UpdateResult } from '@strata/state';

const ACCOUNTS = 100_000;
const CHANGES = 2_000;
const BLOCKS = 8;
/** Account reads (root-to-leaf walks) timed per layout. */
const READS = 20_000;

const key = (i: number, salt: number) => blake2b256(new Uint8Array([salt, i & 0xff, (i >> 8) & 0xff, i >> 16]));

/** Runs the storage benchmark; returns its figures. */
export async function run(): Promise<Record<string, number | string>> {
  await initHashing();
  const dir = mkdtempSync(join(tmpdir(), 'strata-storage-'));
  const env = openDatabase({ path: dir });
  try {
    const mem = new MemoryNodeStore();
    const tree = new SparseMerkleTree(mem);
    const db = new StateDb(env);
    const genesis = tree.update(EMPTY_ROOT, Array.from({ length: ACCOUNTS }, (_, i) => ({ key: key(i, 1), value: new Uint8Array(24) })), { locs: db.locations });
    mem.addAll(genesis.newNodes);
    const baseline = binaryDb(env, 'bench-hash-keyed');
    const heightKeyed = binaryDb(env, 'bench-height-keyed');
    const hk = (height: number, hash: Uint8Array) => {
      const k = new Uint8Array(36);
      new DataView(k.buffer).setUint32(0, height);
      k.set(hash, 4);
      return k;
    };
    env.transactionSync(() => {
      db.putNodes(genesis.newNodes);
      for (const n of genesis.newNodes) {
        baseline.putSync(n.hash, n.encoding);
        heightKeyed.putSync(hk(0, n.hash), n.encoding);
      }
    });
    // The blocks' node sets, computed up front so only the writes are timed.
    const blocks: UpdateResult[] = [];
    let root = genesis.root;
    for (let b = 1; b <= BLOCKS; b++) {
      const changes = Array.from({ length: CHANGES }, (_, i) => ({ key: key((b * 7919 + i * 31) % ACCOUNTS, 1), value: new Uint8Array(24).fill(b) }));
      const r = tree.update(root, changes, { locs: db.locations });
      mem.addAll(r.newNodes);
      blocks.push(r);
      root = r.root;
    }
    let ours = 0;
    let theirs = 0;
    let previous = 0;
    for (const [b, r] of blocks.entries()) {
      let t = performance.now();
      env.transactionSync(() => db.putNodes(r.newNodes));
      ours += performance.now() - t;
      const sorted = [...r.newNodes].sort((x, y) => Buffer.compare(x.hash, y.hash));
      t = performance.now();
      env.transactionSync(() => {
        for (const n of sorted) baseline.putSync(n.hash, n.encoding);
      });
      theirs += performance.now() - t;
      t = performance.now();
      env.transactionSync(() => {
        for (const n of sorted) heightKeyed.putSync(hk(b + 1, n.hash), n.encoding);
      });
      previous += performance.now() - t;
    }
    // Reads: walks from the last root to 20,000 random accounts, every node read from lmdb (the
    // paged layout through a one-page cache, so it gains nothing from caching), against the
    // hash-keyed layout; then the paged layout with the node's default page cache. The
    // height-keyed layout is not walked: a child's key needs its height, which no parent records.
    const last = blocks[blocks.length - 1] as UpdateResult;
    env.transactionSync(() => db.putRoot(last.root, last.rootLoc));
    const probes = Array.from({ length: READS }, (_, i) => key((i * 104_729) % ACCOUNTS, 1));
    const walk = (t: SparseMerkleTree) => {
      const t0 = performance.now();
      for (const k of probes) if (!t.get(last.root, k)) throw new Error('bench: account missing');
      return READS / ((performance.now() - t0) / 1000);
    };
    const pagedCold = walk(new SparseMerkleTree(new StateDb(env, { pageCacheSize: 1 }).nodeReader));
    const hashKeyed = walk(
      new SparseMerkleTree({
        getNode: (h) => {
          const v = baseline.get(h);
          return v === undefined ? undefined : new Uint8Array(v);
        },
      }),
    );
    const pagedWarm = walk(new SparseMerkleTree(new StateDb(env).nodeReader));
    return {
      pagedWalksPerSecUncached: Math.round(pagedCold),
      hashKeyedWalksPerSec: Math.round(hashKeyed),
      pagedReadSpeedupOverBaseline: Number((pagedCold / hashKeyed).toFixed(2)),
      pagedWalksPerSecWithPageCache: Math.round(pagedWarm),
      genesisNodes: genesis.newNodes.length,
      nodesPerBlock: Math.round(blocks.reduce((n, r) => n + r.newNodes.length, 0) / BLOCKS),
      pagedMsPerBlock: Number((ours / BLOCKS).toFixed(1)),
      heightKeyedMsPerBlock: Number((previous / BLOCKS).toFixed(1)),
      hashKeyedBaselineMsPerBlock: Number((theirs / BLOCKS).toFixed(1)),
      speedupOverBaseline: Number((theirs / ours).toFixed(2)),
      speedupOverHeightKeyed: Number((previous / ours).toFixed(2)),
    };
  } finally {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2));
  process.exit(0);
}
