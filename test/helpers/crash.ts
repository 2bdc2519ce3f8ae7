/**
 * Crash-safety helpers shared by the crash test (a few kills inside `npm test`) and the soak
 * (`npm run soak`, hundreds of kills): run the crash fixture until SIGKILL, then check the data
 * dir against the head's state root through every structure that stores state.
 */
import { spawn } from 'node:child_process';
import { ChainStore } from '@strata/chain';
import { bytesEqual, bytesKey, toHex } from '@strata/primitives';
import { decodeNode, EMPTY_ROOT, MemoryNodeStore, nodeHash, openDatabase, SparseMerkleTree } from '@strata/state';

/** What the crash fixture writes on. */
export type CrashMode = 'import' | 'sync' | 'reorg';

/**
 * Runs the fixture until it is SIGKILLed `killAfterMs` after it starts (or, with
 * `afterFirstCommit`, after its first commit: progress even on a slow machine); returns the
 * last height it reported as committed.
 */
export function runUntilKilled(dir: string, killAfterMs: number, mode: CrashMode, afterFirstCommit = false): Promise<{ lastCommitted: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-node.ts', dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let started = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!started && out.includes(afterFirstCommit ? 'committed ' : 'start ')) {
        started = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`crash fixture (${mode}) exited by itself (${code}): ${err}`));
      const lines = out.trim().split('\n');
      const committed = lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.split(' ')[1]));
      const startLine = lines.find((l) => l.startsWith('start ')) as string;
      resolve({ lastCommitted: committed.length ? Math.max(...committed) : Number(startLine.split(' ')[1]) });
    });
  });
}

function fail(msg: string): never {
  throw new Error(`crash check: ${msg}`);
}

/**
 * Opens a node's data dir and checks it: the head is executed; every canonical block, body and
 * receipt list is present; the flat table hashes to the head's state root; the roots table
 * locates that root; and the stored tree (pages, walked from that location, every node's hash
 * checked) holds exactly the flat table's entries. Throws naming the first inconsistency.
 */
export function checkDataDir(dir: string): { height: number; root: string; leaves: number } {
  const store = new ChainStore(openDatabase({ path: dir }));
  try {
    const head = store.getHead() ?? fail('no head');
    const meta = store.getMeta(head) ?? fail('head has no meta');
    const header = store.getHeader(head) ?? fail('head has no header');
    if (meta.status !== 'executed') fail(`head status ${meta.status}`);
    for (let h = 0; h <= meta.height; h++) {
      const hash = store.getCanonical(h) ?? fail(`canonical block ${h} missing`);
      if (h === meta.height && !bytesEqual(hash, head)) fail('canonical index does not end at the head');
      if (!store.getBody(hash)) fail(`body of block ${h} missing`);
      if (!store.getReceipts(hash)) fail(`receipts of block ${h} missing`);
    }
    const root = header.stateRoot;
    // 1. The flat table alone.
    const flat = new Map<string, Uint8Array>();
    const changes = [...store.state.flat.getRange({})].map(({ key, value }) => {
      const k = new Uint8Array(key as Uint8Array);
      const v = new Uint8Array(value as Uint8Array);
      flat.set(bytesKey(k), v);
      return { key: k, value: v };
    });
    const flatRoot = new SparseMerkleTree(new MemoryNodeStore()).update(EMPTY_ROOT, changes).root;
    if (!bytesEqual(flatRoot, root)) fail(`flat table hashes to ${toHex(flatRoot)}, the head's state root is ${toHex(root)}`);
    // 2. The roots table and the stored pages.
    let leaves = 0;
    if (!bytesEqual(root, EMPTY_ROOT)) {
      const loc = store.state.rootLoc(root);
      if (loc === undefined) fail(`roots table has no entry for the head's state root ${toHex(root)}`);
      const reader = store.state.nodeReader;
      const stack: { hash: Uint8Array; loc: number | undefined }[] = [{ hash: root, loc }];
      while (stack.length > 0) {
        const { hash, loc: l } = stack.pop() as { hash: Uint8Array; loc: number | undefined };
        const enc = reader.getNode(hash, l) ?? fail(`tree node ${toHex(hash)} (location ${l}) missing from the pages`);
        if (!bytesEqual(nodeHash(enc), hash)) fail(`tree node at location ${l} hashes to ${toHex(nodeHash(enc))}, expected ${toHex(hash)}`);
        const n = decodeNode(enc);
        if (n.type === 'leaf') {
          leaves++;
          const v = flat.get(bytesKey(n.key));
          if (!v || !bytesEqual(v, n.value)) fail(`tree leaf ${toHex(n.key)} disagrees with the flat table`);
          continue;
        }
        for (const [h, cl] of [
          [n.left, n.leftLoc],
          [n.right, n.rightLoc],
        ] as const) {
          if (!bytesEqual(h, EMPTY_ROOT)) stack.push({ hash: h, loc: cl });
        }
      }
    }
    if (leaves !== flat.size) fail(`stored tree has ${leaves} leaves, the flat table ${flat.size} entries`);
    return { height: meta.height, root: toHex(root), leaves };
  } finally {
    store.env.close();
  }
}
