/**
 * Proof-of-work rules: the target each block must meet (retargeted every `retargetInterval`
 * blocks toward the configured block time, clamped by `maxAdjust`, as Bitcoin) and the check.
 */
import { bigintToFixed, bytesToBigint } from '@strata/primitives';
import type { ChainConfig } from '@strata/runtime';

/** Target used when proof of work is disabled (dev mode): every hash meets it. */
export const DEV_TARGET = new Uint8Array(32).fill(0xff);

/** Genesis target for a config. */
export function genesisTarget(cfg: ChainConfig): Uint8Array {
  if (!cfg.pow.enabled) return DEV_TARGET;
  return bigintToFixed(BigInt(cfg.pow.initialTarget), 32);
}

/**
 * Target for the block at `height`, given its parent's target and timestamp and the timestamp
 * of the block `retargetInterval` blocks before the parent's successor (the window's first block).
 */
export function nextTarget(
  cfg: ChainConfig,
  height: number,
  parentTarget: Uint8Array,
  parentTimestamp: number,
  windowStartTimestamp: number | undefined,
): Uint8Array {
  if (!cfg.pow.enabled) return DEV_TARGET;
  const n = cfg.pow.retargetInterval;
  if (height % n !== 0 || windowStartTimestamp === undefined) return parentTarget;
  const expected = n * cfg.targetBlockTimeMs;
  let actual = parentTimestamp - windowStartTimestamp;
  actual = Math.max(Math.floor(expected / cfg.pow.maxAdjust), Math.min(expected * cfg.pow.maxAdjust, actual));
  let t = (bytesToBigint(parentTarget) * BigInt(actual)) / BigInt(expected);
  const max = BigInt(cfg.pow.maxTarget);
  if (t > max) t = max;
  if (t < 1n) t = 1n;
  return bigintToFixed(t, 32);
}
