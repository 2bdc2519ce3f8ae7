/**
 * The posted form of a batch: each operation packed into `opBytes` big-endian bytes
 * (type | from << 2 | to << (2 + depth) | amount << (2 + 2·depth)), a withdrawal followed by its
 * 20-byte L1 recipient. No signature is posted: the proof covers them. The data commitment chains
 * Poseidon(c, packed, ax, ay, addr) over the batch's `batchSize` slots, where a deposit's key and
 * address come from the L1 priority queue, not from the posted bytes.
 */
import { StrataError } from '@strata/primitives';
import { amountBits, OP_DEPOSIT, OP_NOOP, OP_TRANSFER, OP_WITHDRAW, opBytes, type ZkParams } from './params.js';
import { FIELD, poseidon } from './poseidon.js';

/** One operation's posted fields (what the commitment covers). */
export interface PostedOp {
  type: number;
  from: number;
  to: number;
  amount: bigint;
  /** A withdrawal's L1 recipient (20 bytes as an integer), else 0. */
  addr: bigint;
}

/** The circuit's packed integer of an operation. */
export function packOp(p: Pick<ZkParams, 'depth'>, op: PostedOp): bigint {
  const d = BigInt(p.depth);
  return BigInt(op.type) | (BigInt(op.from) << 2n) | (BigInt(op.to) << (2n + d)) | (op.amount << (2n + 2n * d));
}

function checkOp(p: ZkParams, op: PostedOp): void {
  const max = 2 ** p.depth;
  if (op.type < OP_NOOP || op.type > OP_WITHDRAW || !Number.isInteger(op.type)) throw new StrataError('L2_INVALID_BATCH', `unknown operation type ${op.type}`, { reason: 'op-type' });
  if (!Number.isSafeInteger(op.from) || op.from < 0 || op.from >= max) throw new StrataError('L2_INVALID_BATCH', `account index ${op.from} is outside the tree`, { reason: 'index' });
  if (!Number.isSafeInteger(op.to) || op.to < 0 || op.to >= max) throw new StrataError('L2_INVALID_BATCH', `account index ${op.to} is outside the tree`, { reason: 'index' });
  if (op.amount < 0n || op.amount >= 1n << BigInt(amountBits(p))) throw new StrataError('L2_INVALID_BATCH', `amount ${op.amount} does not fit ${amountBits(p)} bits`, { reason: 'amount' });
  if (op.addr < 0n || op.addr >= 1n << 160n) throw new StrataError('L2_INVALID_BATCH', 'withdrawal recipient is not a 20-byte address', { reason: 'addr' });
}

/** Encodes a batch's operations as posted bytes. */
export function encodeBatchData(p: ZkParams, ops: readonly PostedOp[]): Uint8Array {
  if (ops.length > p.batchSize) throw new StrataError('L2_INVALID_BATCH', `a batch holds at most ${p.batchSize} operations`, { reason: 'size' });
  const w = opBytes(p);
  const size = ops.reduce((n, o) => n + w + (o.type === OP_WITHDRAW ? 20 : 0), 0);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const op of ops) {
    checkOp(p, op);
    let v = packOp(p, op);
    for (let i = w - 1; i >= 0; i--) {
      out[pos + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    pos += w;
    if (op.type === OP_WITHDRAW) {
      let a = op.addr;
      for (let i = 19; i >= 0; i--) {
        out[pos + i] = Number(a & 0xffn);
        a >>= 8n;
      }
      pos += 20;
    }
  }
  return out;
}

/** Decodes posted bytes; throws L2_INVALID_BATCH (reason `data`) on anything malformed. */
export function decodeBatchData(p: ZkParams, data: Uint8Array): PostedOp[] {
  const w = opBytes(p);
  const d = BigInt(p.depth);
  const mask = (bits: bigint) => (1n << bits) - 1n;
  const ops: PostedOp[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (ops.length >= p.batchSize) throw new StrataError('L2_INVALID_BATCH', `posted data holds more than ${p.batchSize} operations`, { reason: 'data' });
    if (pos + w > data.length) throw new StrataError('L2_INVALID_BATCH', 'posted data ends inside an operation', { reason: 'data' });
    let v = 0n;
    for (let i = 0; i < w; i++) v = (v << 8n) | BigInt(data[pos + i] as number);
    pos += w;
    const op: PostedOp = {
      type: Number(v & 3n),
      from: Number((v >> 2n) & mask(d)),
      to: Number((v >> (2n + d)) & mask(d)),
      amount: v >> (2n + 2n * d),
      addr: 0n,
    };
    if (op.type === OP_WITHDRAW) {
      if (pos + 20 > data.length) throw new StrataError('L2_INVALID_BATCH', 'posted data ends inside a withdrawal recipient', { reason: 'data' });
      let a = 0n;
      for (let i = 0; i < 20; i++) a = (a << 8n) | BigInt(data[pos + i] as number);
      op.addr = a;
      pos += 20;
    }
    // Canonical form: fields a type does not use are zero.
    if (op.type === OP_NOOP && (op.from !== 0 || op.to !== 0 || op.amount !== 0n)) throw new StrataError('L2_INVALID_BATCH', 'a noop carries no fields', { reason: 'data' });
    if ((op.type === OP_DEPOSIT || op.type === OP_WITHDRAW) && op.to !== 0) throw new StrataError('L2_INVALID_BATCH', 'deposits and withdrawals carry no recipient index', { reason: 'data' });
    ops.push(op);
  }
  return ops;
}

/** A deposit's fields that come from the L1 queue. */
export interface DepositFields {
  ax: bigint;
  ay: bigint;
  addr: bigint;
}

/** One commitment step: Poseidon(c, packed, ax, ay, addr). */
export function commitStep(p: ZkParams, c: bigint, op: PostedOp, dep?: DepositFields): bigint {
  const ax = op.type === OP_DEPOSIT && dep ? dep.ax : 0n;
  const ay = op.type === OP_DEPOSIT && dep ? dep.ay : 0n;
  const addr = op.type === OP_DEPOSIT && dep ? dep.addr : op.type === OP_WITHDRAW ? op.addr : 0n;
  return poseidon([c, packOp(p, op), ax, ay, addr]);
}

/**
 * The data commitment over a batch's slots: the posted ops, then noops up to `batchSize`.
 * `deposits[i]` are the queued fields of the i-th deposit op.
 */
export function dataCommitment(p: ZkParams, ops: readonly PostedOp[], deposits: readonly DepositFields[]): bigint {
  let c = 0n;
  let di = 0;
  for (let i = 0; i < p.batchSize; i++) {
    const op = ops[i] ?? { type: OP_NOOP, from: 0, to: 0, amount: 0n, addr: 0n };
    const dep = op.type === OP_DEPOSIT ? deposits[di++] : undefined;
    if (op.type === OP_DEPOSIT && !dep) throw new StrataError('L2_INVALID_BATCH', 'a deposit operation has no queued deposit', { reason: 'deposit' });
    c = commitStep(p, c, op, dep);
  }
  return c;
}

/**
 * The circuit's single public input: Poseidon(oldRoot, newRoot, commitment, tag), where tag =
 * messageTag(l1ChainId, rollupId). The L1 puts its own chain id and the rollup's id in, so a
 * proof made for another rollup's (or another chain's) circuit never verifies here.
 */
export function publicInputHash(oldRoot: bigint, newRoot: bigint, commitment: bigint, tag: bigint): bigint {
  return poseidon([oldRoot % FIELD, newRoot % FIELD, commitment, tag]);
}

/** Whether an op type is signed by the account owner. */
export function isSigned(type: number): boolean {
  return type === OP_TRANSFER || type === OP_WITHDRAW;
}
