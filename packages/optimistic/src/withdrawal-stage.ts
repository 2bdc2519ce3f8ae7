/** Where a withdrawal stands: waiting for root → in challenge window → ready → finalized. */
import { encode, bytesEqual } from '@strata/primitives';
import { OUTPUT_DISCARDED } from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';
import { getTokenWithdrawal, getWithdrawal, TokenWithdrawalCodec, tokenWithdrawalKey, WithdrawalCodec, withdrawalKey, type TokenWithdrawalRecord, type WithdrawalRecord } from './stf.js';

/** A withdrawal's stage. */
export type WithdrawalStage = 'waiting for root' | 'in challenge window' | 'ready' | 'finalized';

/**
 * Whether output `i` is final as of the node's L1 view: below the L1's finality cursor, or
 * about to be (every output from the cursor to `i` discarded or past its window, undisputed).
 */
export async function isOutputFinalView(node: RollupNode, i: number): Promise<boolean> {
  const o = await node.l1.output(i);
  if (!o || o.status === OUTPUT_DISCARDED) return false;
  const meta = await node.l1.outputsMeta();
  if (i < meta.finalCursor) return true;
  // Read-only: on a parent whose cursor moves only by calls it may lag far behind.
  if (i - meta.finalCursor >= 4096) return false;
  const h = node.l1Status.clock; // the parent's settlement clock
  for (let j = meta.finalCursor; j <= i; j++) {
    const x = await node.l1.output(j);
    if (!x) return false;
    if (x.status !== OUTPUT_DISCARDED && (x.openGames > 0 || h < x.l1Height + node.opts.rollup.challengeWindow)) return false;
  }
  return true;
}

/** A withdrawal's stage with its record, the output covering it and the proof against that output. */
export type StagedWithdrawal<R> = { record: R; l2Block: number; stage: WithdrawalStage; outputIndex?: number; readyAt?: number; proof?: Uint8Array[] };

/** The stage of a withdrawal of either kind: where its record sits and how the parent holds it. */
async function stageOf<R>(
  node: RollupNode,
  l2Block: number | undefined,
  record: () => R,
  parentState: () => Promise<{ finalized: boolean }>,
  key: Uint8Array,
  bytes: (r: R) => Uint8Array,
): Promise<StagedWithdrawal<R> | undefined> {
  if (l2Block === undefined) return undefined;
  const rec = record();
  if ((await parentState()).finalized) return { record: rec, l2Block, stage: 'finalized' };
  const meta = await node.l1.outputsMeta();
  // The first live output covering the withdrawal's block whose root matches our derivation.
  for (let i = 0; i < meta.count; i++) {
    const o = await node.l1.output(i);
    if (!o || o.status === OUTPUT_DISCARDED || o.l2Block < l2Block) continue;
    const local = node.chain.rootAfterOps(o.opEnd);
    if (!local || !bytesEqual(local, o.stateRoot)) continue;
    const { value, proof } = node.chain.proof(key, o.stateRoot);
    if (!value || !bytesEqual(value, bytes(rec))) continue;
    const final = await isOutputFinalView(node, i);
    return { record: rec, l2Block, stage: final ? 'ready' : 'in challenge window', outputIndex: i, readyAt: o.l1Height + node.opts.rollup.challengeWindow, proof };
  }
  return { record: rec, l2Block, stage: 'waiting for root' };
}

/** Stage, covering output and proof of withdrawal `id` (undefined when unknown). */
export function withdrawalStage(node: RollupNode, id: number): Promise<StagedWithdrawal<WithdrawalRecord> | undefined> {
  return stageOf(
    node,
    node.chain.withdrawalBlock(id),
    () => getWithdrawal(node.chain.reader(), id) as WithdrawalRecord,
    () => node.l1.withdrawalState(id),
    withdrawalKey(id),
    (r) => encode(WithdrawalCodec, r),
  );
}

/** Stage, covering output and proof of token withdrawal `id` (undefined when unknown). */
export function tokenWithdrawalStage(node: RollupNode, id: number): Promise<StagedWithdrawal<TokenWithdrawalRecord> | undefined> {
  return stageOf(
    node,
    node.chain.tokenWithdrawalBlock(id),
    () => getTokenWithdrawal(node.chain.reader(), id) as TokenWithdrawalRecord,
    () => node.l1.tokenWithdrawalState(id),
    tokenWithdrawalKey(id),
    (r) => encode(TokenWithdrawalCodec, r),
  );
}
