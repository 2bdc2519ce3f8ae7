/**
 * The rollup's state transition in TypeScript, mirroring `circuits/rollup.circom` operation by
 * operation: the operator runs it to soft-confirm transactions and to build the circuit's
 * witness, and anyone re-running it over L1 data gets the same roots. A property test feeds the
 * same random batches (valid and invalid) to this and to the circuit and checks they agree.
 */
import { StrataError } from '@strata/primitives';
import type { ZkSignature } from './keys.js';
import { commitStep, isSigned, publicInputHash, type DepositFields, type PostedOp } from './ops.js';
import { amountBits, BALANCE_BITS, checkZkParams, messageTag, OP_DEPOSIT, OP_NOOP, OP_TRANSFER, OP_WITHDRAW, type ZkParams } from './params.js';
import { FIELD, poseidon } from './poseidon.js';
import { PoseidonTree } from './tree.js';

/** One account leaf. */
export interface Leaf {
  ax: bigint;
  ay: bigint;
  balance: bigint;
  nonce: bigint;
  /** The L1 address withdrawals and exits pay (set by the account's first deposit). */
  addr: bigint;
}

/** Leaf hash; an absent leaf is 0. */
export function leafHash(l: Leaf | undefined): bigint {
  return l ? poseidon([l.ax, l.ay, l.balance, l.nonce, l.addr]) : 0n;
}

/** A full operation as the STF applies it (posted fields, deposit key, signature). */
export interface ZkOp extends PostedOp {
  /** Deposit: the key of the account to create or credit (from the L1 queue). */
  ax: bigint;
  ay: bigint;
  /** Signed ops: the nonce the owner signed (must equal the account's). */
  nonce?: bigint;
  sig?: ZkSignature;
}

/** The message an account owner signs for a transfer or withdrawal. */
export function opMessage(p: ZkParams, op: { type: number; from: number; to: number; amount: bigint }, nonce: bigint): bigint {
  return poseidon([messageTag(p), BigInt(op.type), BigInt(op.from), BigInt(op.to), op.amount, nonce]);
}

/** Signature check the STF uses (keys.ts's ZkCrypto.verify). */
export type SigVerifier = (msg: bigint, sig: ZkSignature, ax: bigint, ay: bigint) => boolean;

/** The circuit signals of one operation slot. */
export interface OpWitness {
  type: bigint;
  from: bigint;
  to: bigint;
  amount: bigint;
  ax: bigint;
  ay: bigint;
  addr: bigint;
  s: bigint;
  r8x: bigint;
  r8y: bigint;
  aAx: bigint;
  aAy: bigint;
  aBal: bigint;
  aNonce: bigint;
  aAddr: bigint;
  aEmpty: bigint;
  aSib: bigint[];
  bAx: bigint;
  bAy: bigint;
  bBal: bigint;
  bNonce: bigint;
  bAddr: bigint;
  bEmpty: bigint;
  bSib: bigint[];
}

const EMPTY: Leaf = { ax: 0n, ay: 0n, balance: 0n, nonce: 0n, addr: 0n };
const NOOP: ZkOp = { type: OP_NOOP, from: 0, to: 0, amount: 0n, ax: 0n, ay: 0n, addr: 0n };
const reject = (code: 'TX_BAD_NONCE' | 'TX_INSUFFICIENT_FUNDS' | 'INVALID_SIGNATURE' | 'NOT_FOUND' | 'L2_INVALID_BATCH' | 'L2_BRIDGE' | 'L2_WITHDRAWAL' | 'TX_EXECUTION_FAILED', msg: string, reason: string): never => {
  throw new StrataError(code, msg, { reason });
};

/** The rollup state: the account tree and its leaves. */
export class ZkState {
  readonly tree: PoseidonTree;
  readonly leaves = new Map<number, Leaf>();

  constructor(readonly params: ZkParams) {
    checkZkParams(params);
    this.tree = new PoseidonTree(params.depth);
  }

  get root(): bigint {
    return this.tree.root;
  }

  leaf(i: number): Leaf | undefined {
    return this.leaves.get(i);
  }

  /** Index of the first account with this key, if any. */
  findKey(ax: bigint, ay: bigint): number | undefined {
    for (const [i, l] of this.leaves) if (l.ax === ax && l.ay === ay) return i;
    return undefined;
  }

  /** The lowest never-used index. */
  nextFreeIndex(): number {
    let i = 0;
    while (this.leaves.has(i)) i++;
    if (i >= 2 ** this.params.depth) reject('L2_BRIDGE', 'the account tree is full', 'tree-full');
    return i;
  }

  /** Sets (or, with undefined, deletes) a leaf as is (loading a stored or rebuilt state). */
  setLeaf(i: number, l: Leaf | undefined): void {
    this.write(i, l);
  }

  private write(i: number, l: Leaf | undefined): void {
    if (l) this.leaves.set(i, l);
    else this.leaves.delete(i);
    this.tree.set(i, leafHash(l));
  }

  /** A copy (the operator tries a transaction on a copy before accepting it). */
  clone(): ZkState {
    const c = new ZkState(this.params);
    for (const [i, l] of this.leaves) c.write(i, { ...l });
    return c;
  }

  /**
   * Applies one operation, returning its circuit signals. With `check` (the default) every rule
   * the circuit enforces is checked first and a typed error thrown, leaving the state unchanged;
   * without it the arithmetic is done modulo the field as the circuit would (for tests that feed
   * invalid operations to the circuit).
   */
  apply(op: ZkOp, verify: SigVerifier, check = true): OpWitness {
    const p = this.params;
    const max = 2 ** p.depth;
    const maxBal = 1n << BigInt(BALANCE_BITS);
    if (check) {
      if (![OP_NOOP, OP_TRANSFER, OP_DEPOSIT, OP_WITHDRAW].includes(op.type)) reject('L2_INVALID_BATCH', `unknown operation type ${op.type}`, 'op-type');
      if (!(op.from >= 0 && op.from < max && op.to >= 0 && op.to < max)) reject('NOT_FOUND', 'account index outside the tree', 'index');
      if (op.amount < 0n || op.amount >= 1n << BigInt(amountBits(p))) reject('L2_INVALID_BATCH', `amount does not fit ${amountBits(p)} bits`, 'amount');
    }
    const signed = isSigned(op.type);
    const a = this.leaves.get(op.from);
    const aL = a ?? EMPTY;
    const sig = op.sig ?? { s: 0n, r8x: 0n, r8y: 1n };
    if (check && signed) {
      if (!a) reject('NOT_FOUND', `account ${op.from} does not exist`, 'unknown-account');
      if (op.nonce !== undefined && op.nonce !== aL.nonce) reject('TX_BAD_NONCE', `account ${op.from} is at nonce ${aL.nonce}, the transaction signed nonce ${op.nonce}`, 'nonce');
      if (!op.sig || !verify(opMessage(p, op, aL.nonce), op.sig, aL.ax, aL.ay)) reject('INVALID_SIGNATURE', `signature does not verify against account ${op.from}'s key at nonce ${aL.nonce}`, 'signature');
      if (op.type === OP_WITHDRAW && op.addr !== aL.addr) reject('L2_WITHDRAWAL', 'a withdrawal pays the account\'s own L1 address', 'addr');
      if (aL.balance < op.amount) reject('TX_INSUFFICIENT_FUNDS', `account ${op.from} holds ${aL.balance}, not ${op.amount}`, 'overdraft');
    }
    if (check && op.type === OP_DEPOSIT) {
      if (a && (a.ax !== op.ax || a.ay !== op.ay)) reject('L2_BRIDGE', `account ${op.from} belongs to another key`, 'deposit-key');
      if (aL.balance + op.amount >= maxBal) reject('TX_EXECUTION_FAILED', 'balance would overflow', 'overflow');
    }
    const row: OpWitness = {
      type: BigInt(op.type),
      from: BigInt(op.from),
      to: BigInt(op.to),
      amount: op.amount,
      ax: op.type === OP_DEPOSIT ? op.ax : 0n,
      ay: op.type === OP_DEPOSIT ? op.ay : 0n,
      addr: op.type === OP_DEPOSIT || op.type === OP_WITHDRAW ? op.addr : 0n,
      s: sig.s,
      r8x: sig.r8x,
      r8y: sig.r8y,
      aAx: aL.ax,
      aAy: aL.ay,
      aBal: aL.balance,
      aNonce: aL.nonce,
      aAddr: aL.addr,
      aEmpty: a ? 0n : 1n,
      aSib: this.tree.proof(op.from),
      bAx: 0n,
      bAy: 0n,
      bBal: 0n,
      bNonce: 0n,
      bAddr: 0n,
      bEmpty: 0n,
      bSib: [],
    };
    const f = (x: bigint) => ((x % FIELD) + FIELD) % FIELD;
    // update A
    let newA: Leaf | undefined = a;
    if (signed) newA = { ...aL, balance: f(aL.balance - op.amount), nonce: aL.nonce + 1n };
    else if (op.type === OP_DEPOSIT) newA = a ? { ...a, balance: a.balance + op.amount } : { ax: op.ax, ay: op.ay, balance: op.amount, nonce: 0n, addr: op.addr };
    // update B: the recipient for transfers, else A again (unchanged)
    const bIdx = op.type === OP_TRANSFER ? op.to : op.from;
    const saved = this.leaves.get(op.from);
    this.write(op.from, newA);
    const b = this.leaves.get(bIdx);
    if (check && op.type === OP_TRANSFER) {
      const undo = () => this.write(op.from, saved);
      if (!b) {
        undo();
        return reject('NOT_FOUND', `recipient account ${op.to} does not exist`, 'unknown-account');
      }
      if (b.balance + op.amount >= maxBal) {
        undo();
        reject('TX_EXECUTION_FAILED', 'recipient balance would overflow', 'overflow');
      }
    }
    const bL = b ?? EMPTY;
    Object.assign(row, { bAx: bL.ax, bAy: bL.ay, bBal: bL.balance, bNonce: bL.nonce, bAddr: bL.addr, bEmpty: b ? 0n : 1n, bSib: this.tree.proof(bIdx) });
    if (op.type === OP_TRANSFER) this.write(bIdx, { ...bL, balance: bL.balance + op.amount });
    return row;
  }
}

/** A batch as the operator builds it: the posted ops, the queued deposits it consumes, and the witness. */
export interface BuiltBatch {
  oldRoot: bigint;
  newRoot: bigint;
  commitment: bigint;
  inputHash: bigint;
  ops: PostedOp[];
  rows: OpWitness[];
}

/**
 * Applies up to `batchSize` operations to `state` (padding with noops) and returns the batch.
 * Any invalid operation throws with the state rolled back to its value before the batch.
 */
export function buildBatch(state: ZkState, ops: readonly ZkOp[], verify: SigVerifier, check = true): BuiltBatch {
  const p = state.params;
  if (ops.length > p.batchSize) throw new StrataError('L2_INVALID_BATCH', `a batch holds at most ${p.batchSize} operations`, { reason: 'size' });
  const oldRoot = state.root;
  const rows: OpWitness[] = [];
  let c = 0n;
  for (let i = 0; i < p.batchSize; i++) {
    const op = ops[i] ?? NOOP;
    rows.push(state.apply(op, verify, check));
    const dep: DepositFields | undefined = op.type === OP_DEPOSIT ? { ax: op.ax, ay: op.ay, addr: op.addr } : undefined;
    c = commitStep(p, c, op, dep);
  }
  const newRoot = state.root;
  return { oldRoot, newRoot, commitment: c, inputHash: publicInputHash(oldRoot, newRoot, c, messageTag(p)), ops: ops.map((o) => ({ type: o.type, from: o.from, to: o.to, amount: o.amount, addr: o.type === OP_DEPOSIT ? 0n : o.addr })), rows };
}

/** The circuit input (snarkjs JSON shape, decimal strings) of a batch. */
export function circuitInput(b: Pick<BuiltBatch, 'oldRoot' | 'rows'>): Record<string, string | string[] | string[][]> {
  const out: Record<string, string | string[] | string[][]> = { oldRoot: b.oldRoot.toString() };
  const keys = Object.keys(b.rows[0] as OpWitness) as (keyof OpWitness)[];
  for (const k of keys) {
    out[k] = b.rows.map((r) => {
      const v = r[k];
      return Array.isArray(v) ? v.map((x) => x.toString()) : v.toString();
    }) as string[] | string[][];
  }
  return out;
}
