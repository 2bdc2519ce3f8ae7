/**
 * State storage: the cost of writing one block's new tree nodes (2,000 state changes in a
 * 100,000-account tree, about 17,000 nodes) into a database that already holds the genesis
 * tree (~244,000 nodes). Strata keys nodes by height ‖ hash (`StateDb.putNodes`), so a block's
 * nodes append to the end of the B-tree; the baseline, measured in the same run on the same
 * nodes, keys them by hash alone (the content-addressed layout of many tries), which scatters
 * every insert across the B-tree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake2b256, initHashing } from '@strata/primitives';
import { binaryDb, EMPTY_ROOT, MemoryNodeStore, openDatabase, SparseMerkleTree, StateDb, type UpdateResult } from '@strata/state';

const ACCOUNTS = 100_000;
const CHANGES = 2_000;
const BLOCKS = 8;

const key = (i: number, salt: number) => blake2b256(new Uint8Array([salt, i & 0xff, (i >> 8) & 0xff, i >> 16]));

/** Runs the storage benchmark; returns its figures. */
export async function run(): Promise<Record<string, number | string>> {
  await initHashing();
  const dir = mkdtempSync(join(tmpdir(), 'strata-storage-'));
  const env = openDatabase({ path: dir });
  try {
    const mem = new MemoryNodeStore();
    const tree = new SparseMerkleTree(mem);
    const genesis = tree.update(EMPTY_ROOT, Array.from({ length: ACCOUNTS }, (_, i) => ({ key: key(i, 1), value: new Uint8Array(24) })), { height: 0 });
    mem.addAll(genesis.newNodes);
    const db = new StateDb(env);
    const baseline = binaryDb(env, 'bench-hash-keyed');
    env.transactionSync(() => {
      db.putNodes(genesis.newNodes);
      for (const n of genesis.newNodes.values()) baseline.putSync(n.hash, n.encoding);
    });
    // The blocks' node sets, computed up front so only the writes are timed.
    const blocks: UpdateResult[] = [];
    let root = genesis.root;
    for (let b = 1; b <= BLOCKS; b++) {
      const changes = Array.from({ length: CHANGES }, (_, i) => ({ key: key((b * 7919 + i * 31) % ACCOUNTS, 1), value: new Uint8Array(24).fill(b) }));
      const r = tree.update(root, changes, { height: b });
      mem.addAll(r.newNodes);
      blocks.push(r);
      root = r.root;
    }
    let ours = 0;
    let theirs = 0;
    for (const r of blocks) {
      let t = performance.now();
      env.transactionSync(() => db.putNodes(r.newNodes));
      ours += performance.now() - t;
      const sorted = [...r.newNodes.values()].sort((a, b) => Buffer.compare(a.hash, b.hash));
      t = performance.now();
      env.transactionSync(() => {
        for (const n of sorted) baseline.putSync(n.hash, n.encoding);
      });
      theirs += performance.now() - t;
    }
    return {
      genesisNodes: genesis.newNodes.size,
      nodesPerBlock: Math.round(blocks.reduce((n, r) => n + r.newNodes.size, 0) / BLOCKS),
      heightKeyedMsPerBlock: Number((ours / BLOCKS).toFixed(1)),
      hashKeyedBaselineMsPerBlock: Number((theirs / BLOCKS).toFixed(1)),
      speedupOverBaseline: Number((theirs / ours).toFixed(2)),
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
