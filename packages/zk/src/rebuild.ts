/**
 * Rebuilding the rollup's L2 state from L1 data alone: the posted bytes of every verified batch
 * (read back from the L1 blocks that verified them) and the L1's deposit queue (key, address,
 * amount and account index of each deposit). No operator is needed: this is how a fresh ZK
 * node starts on a rollup with history, and how a user builds an exit proof in exodus when the
 * operator is gone. Every batch's rebuilt root is checked against the root the L1 verified.
 */
import { encode, StrataError, toHex } from '@strata/primitives';
import type { ZkL1Client } from './l1-client.js';
import { decodeBatchData } from './ops.js';
import { OP_DEPOSIT, OP_NOOP, OP_WITHDRAW, type ZkParams } from './params.js';
import { ExitArgs, paramsOf, type ZkRollupRecord } from './parent-modules.js';
import { fieldFromBytes, fieldToBytes } from './poseidon.js';
import { ZkState, type ZkOp } from './stf.js';

/** A verified batch as rebuilt from the L1. */
export interface L1Batch {
  index: number;
  root: bigint;
  oldRoot: bigint;
  height: number;
  data: Uint8Array;
  ops: number;
  withdrawals: { from: number; amount: bigint; addr: bigint }[];
}

/** The rebuilt state. */
export interface RebuiltZkState {
  params: ZkParams;
  rec: ZkRollupRecord;
  /** The state after the last verified batch (its root equals the L1's). */
  state: ZkState;
  batches: L1Batch[];
  /** Deposits consumed by verified batches (= the L1 queue head). */
  depositsConsumed: number;
}

const noSig = () => true;

/** Replays every verified batch of rollup `rollupId` from L1 data; throws if a root does not match. */
export async function rebuildFromL1(l1: ZkL1Client, rollupId: number, opts: { onBatch?: (i: number, n: number) => void; upTo?: number } = {}): Promise<RebuiltZkState> {
  const rec = await l1.rollup(rollupId);
  if (!rec) throw new StrataError('NOT_FOUND', `no ZK-rollup ${rollupId} is registered on the L1`);
  const params = paramsOf(rec, await l1.chainId(), rollupId);
  const state = new ZkState(params);
  const batches: L1Batch[] = [];
  let q = 0;
  const n = Math.min(rec.batchCount, opts.upTo ?? rec.batchCount);
  for (let b = 0; b < n; b++) {
    const meta = await l1.batch(rollupId, b);
    const data = await l1.batchData(rollupId, b);
    if (!meta || !data) throw new StrataError('NOT_FOUND', `the L1 no longer serves batch ${b} of rollup ${rollupId} (pruned block?)`);
    const oldRoot = state.root;
    const withdrawals: L1Batch['withdrawals'] = [];
    const posted = decodeBatchData(params, data);
    for (const p of posted) {
      if (p.type === OP_NOOP) continue;
      let op: ZkOp = { ...p, ax: 0n, ay: 0n };
      if (p.type === OP_DEPOSIT) {
        const d = await l1.deposit(rollupId, q++);
        if (!d) throw new StrataError('NOT_FOUND', `deposit ${q - 1} of rollup ${rollupId} is not on the L1`);
        op = { ...op, ax: fieldFromBytes(d.ax), ay: fieldFromBytes(d.ay), addr: BigInt(toHex(d.addr)) };
      } else if (p.type === OP_WITHDRAW) withdrawals.push({ from: p.from, amount: p.amount, addr: p.addr });
      // The L1 verified the proof: the operations are valid; apply them without re-checking signatures.
      state.apply(op, noSig, false);
    }
    const root = fieldFromBytes(meta.root);
    if (state.root !== root) throw new StrataError('INTERNAL', `rebuilding batch ${b} of rollup ${rollupId} from L1 data gives root ${toHex(fieldToBytes(state.root))}, the L1 verified ${toHex(meta.root)}`);
    batches.push({ index: b, root, oldRoot, height: meta.height, data, ops: posted.length, withdrawals });
    opts.onBatch?.(b + 1, n);
  }
  return { params, rec, state, batches, depositsConsumed: q };
}

/** `zk_rollup.exit` arguments for account `index` of a rebuilt (last verified) state. */
export function exitArgsFor(state: ZkState, rollupId: number, index: number): Uint8Array {
  const l = state.leaf(index);
  if (!l) throw new StrataError('NOT_FOUND', `account ${index} does not exist in the last verified state`);
  return encode(ExitArgs, { rollupId, index, ax: fieldToBytes(l.ax), ay: fieldToBytes(l.ay), balance: l.balance, nonce: l.nonce, addr: fieldToBytes(l.addr).slice(12), siblings: state.tree.proof(index).map(fieldToBytes) });
}
