/**
 * ZkParams: the parameters that shape one rollup's circuit and its posted data. The circuit is
 * compiled from them (they are part of its hash), the L1 registry stores them with the
 * verification key, and the STF, the operator and the CLI read them back from there.
 */
import { StrataError } from '@strata/primitives';

/** Circuit-shaping parameters of one ZK-rollup. */
export interface ZkParams {
  /** Chain id of the parent chain (signed L2 messages name it). */
  l1ChainId: number;
  /** The rollup's id in the parent's `zk_rollup` registry. */
  rollupId: number;
  /** Account tree depth: 2^depth accounts. */
  depth: number;
  /** Operations per batch (one proof covers exactly this many; short batches are padded with noops). */
  batchSize: number;
}

/** Operation types (2 bits in the packed form). */
export const OP_NOOP = 0;
export const OP_TRANSFER = 1;
export const OP_DEPOSIT = 2;
export const OP_WITHDRAW = 3;

/** Bits of an L2 balance (in L2 units): balances stay below 2^64. */
export const BALANCE_BITS = 64;

/** Bytes of one packed operation: type (2 bits), from and to (depth bits each), amount. */
export function opBytes(p: Pick<ZkParams, 'depth'>): number {
  return Math.ceil((2 + 2 * p.depth + 32) / 8);
}

/** Bits of a posted amount: whatever the packed operation has left after type and indices. */
export function amountBits(p: Pick<ZkParams, 'depth'>): number {
  return Math.min(BALANCE_BITS, opBytes(p) * 8 - 2 - 2 * p.depth);
}

/** The domain tag every signed L2 message starts with: parent chain id and rollup id. */
export function messageTag(p: Pick<ZkParams, 'l1ChainId' | 'rollupId'>): bigint {
  return (BigInt(p.l1ChainId) << 32n) | BigInt(p.rollupId);
}

/** Checks params once; throws CONFIG_INVALID naming the field. */
export function checkZkParams(p: ZkParams): ZkParams {
  const bad = (f: string, why: string): never => {
    throw new StrataError('CONFIG_INVALID', `zk params: ${f} ${why}`, { field: f });
  };
  if (!Number.isSafeInteger(p.l1ChainId) || p.l1ChainId < 0 || p.l1ChainId >= 2 ** 32) bad('l1ChainId', 'must be a 32-bit integer');
  if (!Number.isSafeInteger(p.rollupId) || p.rollupId < 0 || p.rollupId >= 2 ** 32) bad('rollupId', 'must be a 32-bit integer');
  if (p.rollupId === p.l1ChainId) bad('rollupId', 'must differ from the parent chain id');
  if (!Number.isInteger(p.depth) || p.depth < 2 || p.depth > 24) bad('depth', 'must be 2..24');
  if (!Number.isInteger(p.batchSize) || p.batchSize < 1 || p.batchSize > 256) bad('batchSize', 'must be 1..256');
  return p;
}
