/**
 * The operator's persistent state in lmdb (the project's storage layer: `openDatabase`): the
 * account leaves of the last L1-verified state, every accepted operation not yet in a verified
 * batch (signed L2 transactions with their signatures, and applied deposits), the batches with
 * their proof status, and the cursors (L1 deposits applied, batches verified, next sequence
 * number). Every write is one `transactionSync` that has reached the disk when it returns, and the
 * operator writes before it answers (a soft confirmation, a proof accepted, a batch committed),
 * so a kill -9 loses nothing it acknowledged. Soft and sealed states are rebuilt at open by
 * replaying the stored operations over the verified leaves.
 */
import { mkdirSync } from 'node:fs';
import type { Database, RootDatabase } from 'lmdb';
import { fromHex, StrataError, toHex } from '@strata/primitives';
import { openDatabase } from '@strata/state';
import type { ZkParams } from './params.js';
import type { Leaf, ZkOp } from './stf.js';

/** A batch as stored (`status` is never `proving`: a lease does not survive a restart). */
export interface StoredBatch {
  index: number;
  firstSeq: number;
  count: number;
  status: 'pending' | 'proven' | 'submitted' | 'verified';
  oldRoot: string;
  newRoot: string;
  data: string;
  proof?: string;
  provedBy?: string;
  txHash?: string;
  l1Height?: number;
  createdAt: number;
  withdrawals: { from: number; amount: string; addr: string }[];
}

/** The operator's cursors. */
export interface ZkCursor {
  /** L1 deposits (queue ids) applied to the L2 state. */
  depositsSeen: number;
  /** Batches verified on L1 (the stored leaves are the state after them). */
  verified: number;
  /** Sequence number of the next accepted operation. */
  nextSeq: number;
}

const big = (x: bigint) => `0x${x.toString(16)}`;
const unbig = (s: string) => BigInt(s);

function leafOut(l: Leaf): Record<string, string> {
  return { ax: big(l.ax), ay: big(l.ay), balance: big(l.balance), nonce: big(l.nonce), addr: big(l.addr) };
}
function leafIn(o: Record<string, string>): Leaf {
  return { ax: unbig(o.ax as string), ay: unbig(o.ay as string), balance: unbig(o.balance as string), nonce: unbig(o.nonce as string), addr: unbig(o.addr as string) };
}
function opOut(op: ZkOp): Record<string, unknown> {
  return {
    type: op.type,
    from: op.from,
    to: op.to,
    amount: big(op.amount),
    ax: big(op.ax),
    ay: big(op.ay),
    addr: big(op.addr),
    ...(op.nonce !== undefined ? { nonce: big(op.nonce) } : {}),
    ...(op.sig ? { sig: { s: big(op.sig.s), r8x: big(op.sig.r8x), r8y: big(op.sig.r8y) } } : {}),
  };
}
function opIn(o: Record<string, unknown>): ZkOp {
  const sig = o.sig as Record<string, string> | undefined;
  return {
    type: o.type as number,
    from: o.from as number,
    to: o.to as number,
    amount: unbig(o.amount as string),
    ax: unbig(o.ax as string),
    ay: unbig(o.ay as string),
    addr: unbig(o.addr as string),
    ...(o.nonce !== undefined ? { nonce: unbig(o.nonce as string) } : {}),
    ...(sig ? { sig: { s: unbig(sig.s as string), r8x: unbig(sig.r8x as string), r8y: unbig(sig.r8y as string) } } : {}),
  };
}

/** What `ZkStore.load` returns. */
export interface LoadedZkState {
  cursor: ZkCursor;
  leaves: Map<number, Leaf>;
  ops: Map<number, ZkOp>;
  batches: StoredBatch[];
}

/** The operator's lmdb store (`<path>/chain.lmdb`). */
export class ZkStore {
  readonly env: RootDatabase;
  private readonly info: Database<unknown, string>;
  private readonly leaves: Database<Record<string, string>, number>;
  private readonly ops: Database<Record<string, unknown>, number>;
  private readonly batches: Database<StoredBatch, number>;

  constructor(path: string) {
    mkdirSync(path, { recursive: true });
    this.env = openDatabase({ path });
    const db = <V, K extends string | number>(name: string, keyEncoding: 'uint32' | 'ordered-binary') => this.env.openDB<V, K>({ name, keyEncoding, encoding: 'msgpack', cache: false });
    this.info = db('zkinfo', 'ordered-binary');
    this.leaves = db('zkleaves', 'uint32');
    this.ops = db('zkops', 'uint32');
    this.batches = db('zkbatches', 'uint32');
  }

  /** One durable write; any lmdb failure (full disk, I/O error) becomes STORAGE_FAULT and nothing of it lands. */
  private write(what: string, f: () => void): void {
    try {
      this.env.transactionSync(f);
    } catch (e) {
      if (e instanceof StrataError) throw e;
      throw new StrataError('STORAGE_FAULT', `the ZK store could not write ${what}: ${(e as Error).message}`, { what });
    }
  }

  /** Whether the store holds an operator's state yet. */
  get empty(): boolean {
    return this.info.get('identity') === undefined;
  }

  /** Binds the store to one rollup; a data dir of another rollup or chain is refused, never mixed. */
  checkIdentity(p: ZkParams): void {
    const want = { l1ChainId: p.l1ChainId, rollupId: p.rollupId, depth: p.depth, batchSize: p.batchSize };
    const have = this.info.get('identity') as typeof want | undefined;
    if (!have) return;
    if (have.l1ChainId !== want.l1ChainId || have.rollupId !== want.rollupId || have.depth !== want.depth || have.batchSize !== want.batchSize) {
      throw new StrataError('CONFIG_INVALID', `the ZK data dir holds rollup ${have.rollupId} of chain ${have.l1ChainId} (depth ${have.depth}, batch ${have.batchSize}), not rollup ${want.rollupId} of chain ${want.l1ChainId}; use another data dir`, { have, want });
    }
  }

  /** Writes the initial state (empty, or rebuilt from L1 data) in one transaction. */
  init(p: ZkParams, cursor: ZkCursor, leaves: Iterable<[number, Leaf]>, batches: readonly StoredBatch[]): void {
    this.write('the initial state', () => {
      this.info.putSync('identity', { l1ChainId: p.l1ChainId, rollupId: p.rollupId, depth: p.depth, batchSize: p.batchSize });
      this.info.putSync('cursor', cursor);
      for (const [i, l] of leaves) this.leaves.putSync(i, leafOut(l));
      for (const b of batches) this.batches.putSync(b.index, b);
    });
  }

  /** Everything stored. */
  load(): LoadedZkState {
    const cursor = this.info.get('cursor') as ZkCursor;
    const leaves = new Map<number, Leaf>();
    for (const { key, value } of this.leaves.getRange({})) leaves.set(key as number, leafIn(value));
    const ops = new Map<number, ZkOp>();
    for (const { key, value } of this.ops.getRange({})) ops.set(key as number, opIn(value));
    const batches: StoredBatch[] = [];
    for (const { value } of this.batches.getRange({})) batches.push(value);
    return { cursor, leaves, ops, batches };
  }

  /** Appends one accepted operation (and the cursor, e.g. a deposit consumed) durably. */
  appendOp(seq: number, op: ZkOp, cursor: ZkCursor): void {
    this.write(`operation ${seq}`, () => {
      this.ops.putSync(seq, opOut(op));
      this.info.putSync('cursor', cursor);
    });
  }

  /** Writes a batch record (sealed, proven, submitted). */
  putBatch(b: StoredBatch): void {
    this.write(`batch ${b.index}`, () => this.batches.putSync(b.index, b));
  }

  /**
   * A batch verified on L1: its record, the leaves it changed (undefined: deleted) and the cursor
   * land together, and its operations are dropped (the leaves now carry them).
   */
  verifyBatch(b: StoredBatch, changed: Iterable<[number, Leaf | undefined]>, cursor: ZkCursor): void {
    this.write(`verified batch ${b.index}`, () => {
      for (const [i, l] of changed) {
        if (l) this.leaves.putSync(i, leafOut(l));
        else this.leaves.removeSync(i);
      }
      for (let s = b.firstSeq; s < b.firstSeq + b.count; s++) this.ops.removeSync(s);
      this.batches.putSync(b.index, b);
      this.info.putSync('cursor', cursor);
    });
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

/** Hex helpers for stored batches. */
export const storedHex = { to: (b: Uint8Array) => toHex(b), from: (s: string) => fromHex(s) };
