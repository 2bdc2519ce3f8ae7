/**
 * The L2 chain held by every L2 node: blocks, the authenticated state after every operation
 * (so any intermediate root of a dispute can be produced and proven), and indexes for
 * transactions and withdrawals. In memory by default (rebuilt from L1 data on start); with an
 * `L2Store` every block is written through to lmdb in one transaction and reloaded on restart.
 */
import { merkleRoot } from '@strata/chain';
import { blake2b256, bytesEqual, encode, fixedBytes, struct, toHex, uint, utf8 } from '@strata/primitives';
import { encodeTx, getAccount, verifyRawTx, type Account, type VerifiedTx } from '@strata/runtime';
import { StrataError } from '@strata/primitives';
import {
  EMPTY_ROOT,
  executeWithWitness,
  LayeredNodeReader,
  MemoryNodeStore,
  OverlayView,
  SparseMerkleTree,
  TreeReader,
  type NodeReader,
  type StateReader,
  type Witness,
} from '@strata/state';
import type { L2Store, StoredRun } from './l2-store.js';
import { decodeOp, opHash, opLeaf } from './ops.js';
import { accountAtIndex, applyL2Op, expandTransfer, type L2Env, type L2OpResult } from './stf.js';

/** An executed L2 block. */
export interface L2Block {
  number: number;
  hash: Uint8Array;
  parentHash: Uint8Array;
  timestamp: number;
  /** Global index of its first operation. */
  firstOp: number;
  /** Delayed-queue operations read at its start. */
  delayedFrom: number;
  delayedReads: number;
  /** Sequenced operations (what a batch carries for this block). */
  ops: Uint8Array[];
  /** Every operation executed, in order: delayed reads, then sequenced. */
  allOps: Uint8Array[];
  /** State root after each operation of `allOps`. */
  opRoots: Uint8Array[];
  stateRoot: Uint8Array;
  results: L2OpResult[];
  /** Sequencer only: the transactions behind `ops`, to return to the pool if the block is dropped. */
  txs?: VerifiedTx[];
}

/** What a block is made of before execution. */
export interface L2BlockContent {
  timestamp: number;
  delayedFrom: number;
  delayedOps: Uint8Array[];
  ops: Uint8Array[];
  /** The transaction behind each of `ops` (undefined for a sequencer marker such as `l1info`). */
  txs?: (VerifiedTx | undefined)[];
}

const HeaderCodec = struct('L2Header', {
  number: uint,
  parentHash: fixedBytes(32),
  timestamp: uint,
  delayedReads: uint,
  opsRoot: fixedBytes(32),
  stateRoot: fixedBytes(32),
});
const HDR = utf8('strata-l2-header');

/** The L2 chain. */
export class L2Chain {
  /** Tree nodes of every root the chain produced (memory, or the store's pages). */
  readonly nodes: NodeReader;
  /** Nodes of the block being built, before its commit (store mode). */
  private readonly pending = new MemoryNodeStore();
  private blocks: L2Block[];
  private readonly txIndex = new Map<string, { number: number; index: number }>();
  private readonly withdrawals = new Map<number, number>();
  private readonly tokenWithdrawals = new Map<number, number>();

  constructor(
    readonly env: L2Env,
    private readonly store?: L2Store,
  ) {
    this.nodes = store ? new LayeredNodeReader(this.pending, store.state.nodeReader) : this.pending;
    const genesis: L2Block = {
      number: 0,
      hash: blake2b256(utf8(`strata-l2-genesis:${env.rollup.rollupId}:${env.rollup.l2ChainId}`)),
      parentHash: new Uint8Array(32),
      timestamp: 0,
      firstOp: 0,
      delayedFrom: 0,
      delayedReads: 0,
      ops: [],
      allOps: [],
      opRoots: [],
      stateRoot: EMPTY_ROOT,
      results: [],
    };
    this.blocks = [genesis];
    if (store) {
      store.checkIdentity({ rollupId: env.rollup.rollupId, l2ChainId: env.rollup.l2ChainId, genesis: genesis.hash });
      this.load(store);
    }
  }

  /**
   * Reloads the stored blocks: each must extend the previous one, and the head's state root must
   * be readable from the stored tree; anything after the first block that fails is dropped (it
   * is re-derived from L1), never trusted.
   */
  private load(store: L2Store): void {
    for (const b of store.loadBlocks()) {
      const parent = this.head;
      const ok = b.number === parent.number + 1 && bytesEqual(b.parentHash, parent.hash) && b.opRoots.length === b.allOps.length && bytesEqual(b.opRoots[b.opRoots.length - 1] ?? parent.stateRoot, b.stateRoot);
      if (!ok) {
        store.truncateBlocks(parent.number);
        break;
      }
      this.blocks.push(b);
      this.index(b);
    }
    const head = this.head;
    if (head.number > 0) {
      // Walks from the head root: throws STATE_MISSING_NODE if its nodes were not committed.
      new TreeReader(this.nodes, head.stateRoot).get(new Uint8Array(32));
      const leaves = head.allOps.map((o) => opLeaf(head.number, head.timestamp, opHash(o)));
      const hash = blake2b256(
        encode(HeaderCodec, { number: head.number, parentHash: head.parentHash, timestamp: head.timestamp, delayedReads: head.delayedReads, opsRoot: merkleRoot(leaves), stateRoot: head.stateRoot }),
        HDR,
      );
      if (!bytesEqual(hash, head.hash)) throw new StrataError('INTERNAL', `stored L2 block ${head.number} does not hash to its recorded hash; the data dir is corrupt`);
    }
  }

  private index(b: L2Block): void {
    b.results.forEach((r, index) => {
      if (r.txHash && r.status !== 'skipped') this.txIndex.set(toHex(r.txHash), { number: b.number, index });
      for (const e of r.events) {
        if (e.module === 'l2bridge' && e.type === 'withdrawal') this.withdrawals.set(Number(e.data.id), b.number);
        if (e.module === 'l2bridge' && e.type === 'tokenWithdrawal') this.tokenWithdrawals.set(Number(e.data.id), b.number);
      }
    });
  }

  get head(): L2Block {
    return this.blocks[this.blocks.length - 1] as L2Block;
  }

  get(number: number): L2Block | undefined {
    return this.blocks[number];
  }

  /** Operations executed through the head. */
  get opCount(): number {
    const h = this.head;
    return h.firstOp + h.allOps.length;
  }

  /** Delayed operations read through the head. */
  get delayedRead(): number {
    const h = this.head;
    return h.delayedFrom + h.delayedReads;
  }

  /**
   * Executes a block on the head. With `dropSkipped` (the sequencer), sequenced operations that
   * would have no effect are left out instead of carried.
   */
  build(content: L2BlockContent, dropSkipped = false): L2Block {
    const parent = this.head;
    const number = parent.number + 1;
    const allOps: Uint8Array[] = [];
    const ops: Uint8Array[] = [];
    const txs: VerifiedTx[] = [];
    const opRoots: Uint8Array[] = [];
    const results: L2OpResult[] = [];
    let root = parent.stateRoot;
    const tree = new SparseMerkleTree(this.nodes);
    const runs: StoredRun[] = [];
    const locs = this.store ? { locs: this.store.state.locations } : {};
    const run = (op: Uint8Array, sequenced: boolean, tx?: VerifiedTx) => {
      const view = new OverlayView(new TreeReader(this.nodes, root));
      const r = applyL2Op(view, this.env, { number, timestamp: content.timestamp }, op);
      if (sequenced && dropSkipped && r.status === 'skipped') return;
      const up = tree.update(root, view.changes(), locs);
      this.pending.addAll(up.newNodes);
      if (this.store) runs.push({ nodes: up.newNodes, root: up.root, rootLoc: up.rootLoc });
      root = up.root;
      allOps.push(op);
      opRoots.push(root);
      results.push(r);
      if (sequenced) {
        ops.push(op);
        if (tx) txs.push(tx);
      }
    };
    for (const op of content.delayedOps) run(op, false);
    content.ops.forEach((op, i) => {
      run(op, true, content.txs?.[i]);
    });
    const leaves = allOps.map((o) => opLeaf(number, content.timestamp, opHash(o)));
    const header = {
      number,
      parentHash: parent.hash,
      timestamp: content.timestamp,
      delayedReads: content.delayedOps.length,
      opsRoot: merkleRoot(leaves),
      stateRoot: root,
    };
    const block: L2Block = {
      number,
      hash: blake2b256(encode(HeaderCodec, header), HDR),
      parentHash: parent.hash,
      timestamp: content.timestamp,
      firstOp: parent.firstOp + parent.allOps.length,
      delayedFrom: content.delayedFrom,
      delayedReads: content.delayedOps.length,
      ops,
      allOps,
      opRoots,
      stateRoot: root,
      results,
    };
    if (content.txs) block.txs = txs;
    if (this.store) {
      // One transaction per block; a disk fault throws here, before the block joins the chain.
      this.store.commitBlock(block, runs);
      this.pending.nodes.clear();
    }
    this.blocks.push(block);
    this.index(block);
    return block;
  }

  /**
   * Drops every block after `number`; returns the dropped blocks (oldest first). With
   * `withTxs` (a sequencer that re-pools them) every dropped block carries its `txs`.
   */
  truncate(number: number, withTxs = false): L2Block[] {
    if (number >= this.head.number) return [];
    // Blocks reloaded from the store have no transaction objects (only their ops are stored):
    // rebuild them from the ops while the blocks are still on the chain (a compact transfer
    // resolves its recipient index in its pre-state), so the sequencer can re-pool them.
    for (let n = number + 1; withTxs && n <= this.head.number; n++) {
      const b = this.blocks[n] as L2Block;
      if (b.txs) continue;
      const txs: VerifiedTx[] = [];
      b.ops.forEach((_, j) => {
        const i = b.delayedReads + j;
        if (b.results[i]?.status === 'skipped') return;
        const v = this.txAt(n, i);
        if (v) txs.push(v);
      });
      b.txs = txs;
    }
    this.store?.truncateBlocks(number);
    const dropped = this.blocks.splice(number + 1);
    for (const b of dropped) {
      for (const r of b.results) if (r.txHash) this.txIndex.delete(toHex(r.txHash));
      for (const [id, n] of this.withdrawals) if (n === b.number) this.withdrawals.delete(id);
      for (const [id, n] of this.tokenWithdrawals) if (n === b.number) this.tokenWithdrawals.delete(id);
    }
    return dropped;
  }

  /** Whether block `number` holds exactly this content. */
  matches(number: number, c: { timestamp: number; delayedFrom: number; delayedReads: number; ops: Uint8Array[] }): boolean {
    const b = this.blocks[number];
    if (!b || b.timestamp !== c.timestamp || b.delayedFrom !== c.delayedFrom || b.delayedReads !== c.delayedReads || b.ops.length !== c.ops.length) return false;
    return b.ops.every((o, i) => bytesEqual(o, c.ops[i] as Uint8Array));
  }

  /** The block holding global operation `i`. */
  blockOfOp(i: number): L2Block | undefined {
    let lo = 1;
    let hi = this.blocks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.blocks[mid] as L2Block;
      if (i < b.firstOp) hi = mid - 1;
      else if (i >= b.firstOp + b.allOps.length) lo = mid + 1;
      else return b;
    }
    return undefined;
  }

  /** State root after `count` operations (undefined when not executed yet). */
  rootAfterOps(count: number): Uint8Array | undefined {
    if (count === 0) return EMPTY_ROOT;
    const b = this.blockOfOp(count - 1);
    return b ? b.opRoots[count - 1 - b.firstOp] : undefined;
  }

  /** State reader at a root (default: the head). */
  reader(root: Uint8Array = this.head.stateRoot): StateReader {
    return new TreeReader(this.nodes, root);
  }

  account(address: Uint8Array, root?: Uint8Array): Account {
    return getAccount(this.reader(root), address);
  }

  /** Merkle proof of a state key at a root. */
  proof(key: Uint8Array, root: Uint8Array): { value: Uint8Array | undefined; proof: Uint8Array[] } {
    const t = new SparseMerkleTree(this.nodes);
    return { value: t.get(root, key), proof: t.prove(root, key) };
  }

  /** Re-executes operation `i` recording the witness a one-step proof needs. */
  stepWitness(i: number): { block: L2Block; op: Uint8Array; preRoot: Uint8Array; postRoot: Uint8Array; witness: Witness } | undefined {
    const block = this.blockOfOp(i);
    const preRoot = this.rootAfterOps(i);
    if (!block || !preRoot) return undefined;
    const op = block.allOps[i - block.firstOp] as Uint8Array;
    const { postRoot, witness } = executeWithWitness(this.nodes, preRoot, (v) => {
      applyL2Op(v, this.env, { number: block.number, timestamp: block.timestamp }, op);
    });
    return { block, op, preRoot, postRoot, witness };
  }

  /** Block number and operation index of an included transaction. */
  txLocation(hash: Uint8Array): { number: number; index: number } | undefined {
    return this.txIndex.get(toHex(hash));
  }

  /**
   * The signed transaction behind operation `index` of block `number` (a compact transfer is
   * expanded back, its recipient read from the state before the operation); undefined for a
   * deposit or an operation that does not decode.
   */
  txAt(number: number, index: number): VerifiedTx | undefined {
    const b = this.blocks[number];
    const raw = b?.allOps[index];
    if (!b || !raw) return undefined;
    try {
      const op = decodeOp(raw);
      if (op.kind === 'deposit' || op.kind === 'l1info' || op.kind === 'tokenDeposit') return undefined;
      if (op.kind === 'transfer') {
        const pre = this.rootAfterOps(b.firstOp + index) as Uint8Array;
        const to = 'index' in op.to ? accountAtIndex(this.reader(pre), op.to.index) : op.to.address;
        return to ? verifyRawTx(encodeTx(expandTransfer(this.env, op, to)), this.env.config.maxTxBytes) : undefined;
      }
      return verifyRawTx(op.raw, this.env.config.maxTxBytes);
    } catch {
      return undefined;
    }
  }

  /** L2 block in which withdrawal `id` was initiated. */
  withdrawalBlock(id: number): number | undefined {
    return this.withdrawals.get(id);
  }

  /** L2 block in which token withdrawal `id` was initiated. */
  tokenWithdrawalBlock(id: number): number | undefined {
    return this.tokenWithdrawals.get(id);
  }

  /** Every token withdrawal id initiated so far with its block. */
  allTokenWithdrawals(): [number, number][] {
    return [...this.tokenWithdrawals.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Every withdrawal id initiated so far with its block. */
  allWithdrawals(): [number, number][] {
    return [...this.withdrawals.entries()].sort((a, b) => a[0] - b[0]);
  }
}
