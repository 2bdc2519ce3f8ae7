/**
 * The L2 chain held by every L2 node: blocks, the authenticated state after every operation
 * (so any intermediate root of a dispute can be produced and proven), and indexes for
 * transactions and withdrawals. In memory by default (rebuilt from L1 data on start); with an
 * `L2Store` every block is written through to lmdb in one transaction (with its index entries)
 * and read back on demand: opening reads the head and its parent only (plus a small LRU of
 * recent blocks), so a restart costs the same whatever the chain's length.
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
import { blockIndexEntries, type L2Store, type StoredRun } from './l2-store.js';
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
  /** Every block, in memory mode (no store); store mode keeps only `headBlock` and `cache`. */
  private readonly blocks: L2Block[];
  private readonly genesis: L2Block;
  private headBlock: L2Block;
  /** Store mode: recently used blocks, least recent first (Map insertion order). */
  private readonly cache = new Map<number, L2Block>();
  private readonly txIndex = new Map<string, { number: number; index: number }>();
  private readonly withdrawals = new Map<number, number>();
  private readonly tokenWithdrawals = new Map<number, number>();
  /** Memory mode: kind ('c'/'t') + account hex → withdrawal ids it sent or receives, ascending. */
  private readonly accountWithdrawals = new Map<string, number[]>();

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
    this.genesis = genesis;
    this.headBlock = genesis;
    this.blocks = store ? [] : [genesis];
    if (store) {
      store.checkIdentity({ rollupId: env.rollup.rollupId, l2ChainId: env.rollup.l2ChainId, genesis: genesis.hash });
      this.load(store);
    }
  }

  /**
   * Opens the stored chain at its head: the head must extend its parent (number, parent hash,
   * first op, one root per op, last op root = state root), its state root must be readable
   * from the stored tree and its header must hash to its recorded hash. lmdb commits one
   * transaction per block, so the head is whole or absent; a head that fails the link check is
   * dropped (re-derived from L1) and its parent checked in turn, never trusted. Reads two block
   * records, whatever the chain's length.
   */
  private load(store: L2Store): void {
    store.ensureIndexes();
    let n = store.lastBlockNumber();
    while (n > 0) {
      const b = store.getBlock(n);
      const parent = n === 1 ? this.genesis : store.getBlock(n - 1);
      const ok =
        !!b &&
        !!parent &&
        b.number === parent.number + 1 &&
        bytesEqual(b.parentHash, parent.hash) &&
        b.firstOp === parent.firstOp + parent.allOps.length &&
        b.opRoots.length === b.allOps.length &&
        bytesEqual(b.opRoots[b.opRoots.length - 1] ?? parent.stateRoot, b.stateRoot);
      if (ok && b) {
        this.headBlock = b;
        if (parent && parent.number > 0) this.remember(parent);
        break;
      }
      store.truncateBlocks(n - 1);
      n--;
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

  /** Store mode: keeps a block in the LRU of recent blocks. */
  private remember(b: L2Block): void {
    this.cache.delete(b.number);
    this.cache.set(b.number, b);
    while (this.cache.size > L2Chain.CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
  }

  /** Blocks kept in memory in store mode besides the head. */
  static readonly CACHE_BLOCKS = 256;

  /** Memory mode: indexes a block (store mode: the store writes its index entries with the block). */
  private index(b: L2Block): void {
    const e = blockIndexEntries(b);
    for (const [h, index] of e.txs) this.txIndex.set(toHex(h), { number: b.number, index });
    for (const id of e.withdrawals) this.withdrawals.set(id, b.number);
    for (const id of e.tokenWithdrawals) this.tokenWithdrawals.set(id, b.number);
    for (const [kind, list] of [['c', e.withdrawalParties], ['t', e.tokenWithdrawalParties]] as const) {
      for (const w of list) {
        for (const a of w.accounts) {
          const ids = this.accountWithdrawals.get(kind + a) ?? [];
          ids.push(w.id);
          this.accountWithdrawals.set(kind + a, ids);
        }
      }
    }
  }

  get head(): L2Block {
    return this.store ? this.headBlock : (this.blocks[this.blocks.length - 1] as L2Block);
  }

  get(number: number): L2Block | undefined {
    if (!this.store) return this.blocks[number];
    if (!Number.isInteger(number) || number < 0 || number > this.headBlock.number) return undefined;
    if (number === 0) return this.genesis;
    if (number === this.headBlock.number) return this.headBlock;
    const hit = this.cache.get(number);
    if (hit) {
      this.remember(hit);
      return hit;
    }
    const b = this.store.getBlock(number);
    if (b) this.remember(b);
    return b;
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
      // Either way the block's nodes leave `pending`: kept after a failure, they would shadow
      // stored nodes of the same hash with encodings whose child locations were never written
      // (and are handed out again after a restart), and a root never committed stayed readable.
      try {
        this.store.commitBlock(block, runs);
      } finally {
        this.pending.nodes.clear();
      }
      if (parent.number > 0) this.remember(parent);
      this.headBlock = block;
      return block;
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
    const dropped: L2Block[] = [];
    for (let n = number + 1; n <= this.head.number; n++) dropped.push(this.get(n) as L2Block);
    for (const b of withTxs ? dropped : []) {
      const n = b.number;
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
    if (this.store) {
      this.store.truncateBlocks(number, dropped);
      for (const k of [...this.cache.keys()]) if (k > number) this.cache.delete(k);
      this.headBlock = this.get(number) as L2Block;
      return dropped;
    }
    this.blocks.splice(number + 1);
    for (const b of dropped) {
      for (const r of b.results) if (r.txHash && this.txIndex.get(toHex(r.txHash))?.number === b.number) this.txIndex.delete(toHex(r.txHash));
      const e = blockIndexEntries(b);
      for (const [kind, list, byId] of [['c', e.withdrawalParties, this.withdrawals], ['t', e.tokenWithdrawalParties, this.tokenWithdrawals]] as const) {
        for (const w of list) {
          if (byId.get(w.id) !== b.number) continue;
          for (const a of w.accounts) {
            const ids = (this.accountWithdrawals.get(kind + a) ?? []).filter((x) => x !== w.id);
            if (ids.length > 0) this.accountWithdrawals.set(kind + a, ids);
            else this.accountWithdrawals.delete(kind + a);
          }
        }
      }
      for (const [id, n] of this.withdrawals) if (n === b.number) this.withdrawals.delete(id);
      for (const [id, n] of this.tokenWithdrawals) if (n === b.number) this.tokenWithdrawals.delete(id);
    }
    return dropped;
  }

  /** Whether block `number` holds exactly this content. */
  matches(number: number, c: { timestamp: number; delayedFrom: number; delayedReads: number; ops: Uint8Array[] }): boolean {
    const b = this.get(number);
    if (!b || b.timestamp !== c.timestamp || b.delayedFrom !== c.delayedFrom || b.delayedReads !== c.delayedReads || b.ops.length !== c.ops.length) return false;
    return b.ops.every((o, i) => bytesEqual(o, c.ops[i] as Uint8Array));
  }

  /** The block holding global operation `i`. */
  blockOfOp(i: number): L2Block | undefined {
    if (this.store) {
      if (!Number.isInteger(i) || i < 0 || i >= this.opCount) return undefined;
      const n = this.store.blockOfOp(i);
      const b = n === undefined ? undefined : this.get(n);
      return b && i >= b.firstOp && i < b.firstOp + b.allOps.length ? b : undefined;
    }
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
    return this.store ? this.store.txLocation(hash) : this.txIndex.get(toHex(hash));
  }

  /**
   * The signed transaction behind operation `index` of block `number` (a compact transfer is
   * expanded back, its recipient read from the state before the operation); undefined for a
   * deposit or an operation that does not decode.
   */
  txAt(number: number, index: number): VerifiedTx | undefined {
    const b = this.get(number);
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
    return this.store ? this.store.withdrawalBlock(id) : this.withdrawals.get(id);
  }

  /** L2 block in which token withdrawal `id` was initiated. */
  tokenWithdrawalBlock(id: number): number | undefined {
    return this.store ? this.store.withdrawalBlock(id, true) : this.tokenWithdrawals.get(id);
  }

  /** Every token withdrawal id initiated so far with its block. */
  allTokenWithdrawals(): [number, number][] {
    if (this.store) return this.store.allWithdrawals(true);
    return [...this.tokenWithdrawals.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** The newest `limit` withdrawal ids (ascending; `token`: token withdrawals), whatever the chain's total. */
  recentWithdrawals(token: boolean, limit: number): number[] {
    if (this.store) return this.store.allWithdrawals(token, limit).map(([id]) => id);
    return [...(token ? this.tokenWithdrawals : this.withdrawals).keys()].sort((a, b) => a - b).slice(-limit);
  }

  /**
   * The newest `limit` withdrawal ids (ascending) that `account` sent (L2 sender) or receives (L1
   * recipient); `token`: token withdrawals. From a per-account index: the work does not grow with
   * the chain's other withdrawals.
   */
  withdrawalsOf(account: Uint8Array, token = false, limit = 256): number[] {
    if (this.store) return this.store.withdrawalsOf(account, token, limit);
    return (this.accountWithdrawals.get((token ? 't' : 'c') + toHex(account).toLowerCase()) ?? []).slice(-limit);
  }

  /** Every withdrawal id initiated so far with its block. */
  allWithdrawals(): [number, number][] {
    if (this.store) return this.store.allWithdrawals();
    return [...this.withdrawals.entries()].sort((a, b) => a[0] - b[0]);
  }
}
