/**
 * The L1 runs the inbox's end-of-block rule (forced inclusion) as a hook that is rolled back when
 * it throws (a `hook_failed` event; the block goes on). Derivation replays the same rule after
 * each L1 block and must mirror that: skip the forced inclusion, change nothing, and go on —
 * before, the throw escaped `Derivation.apply` and the rollup node's derivation stalled on that
 * L1 block for ever (the L1 had moved on without the forced block).
 */
import { encode, initHashing } from '@strata/primitives';
import { defaultRollupConfig, Derivation, ForceTxArgs, type L1BlockData, rollupModuleNames } from '@strata/optimistic';
import { describe, expect, it } from 'vitest';
import { keys } from '../helpers/optimistic.js';

await initHashing();

describe('derivation mirrors a failed end-of-block hook', () => {
  it('a throwing forced inclusion is skipped (state untouched, a warning), as the L1 rolls its hook back', () => {
    const cfg = defaultRollupConfig({ batcher: keys[1]!.address, sequencingWindow: 2 });
    const warnings: string[] = [];
    const log = { info: () => {}, warn: (_o: unknown, msg: string) => void warnings.push(msg), error: () => {}, debug: () => {} };
    const d = new Derivation(cfg, log as never);
    const names = rollupModuleNames(cfg.rollupId);
    let prev = new Uint8Array(32);
    const l1 = (height: number, txs: L1BlockData['txs']): L1BlockData => {
      const hash = new Uint8Array(32).fill(height + 1);
      const b = { height, hash, parentHash: prev, timestamp: 1_000_000 + height * 1_000, txs };
      prev = hash;
      return b;
    };
    d.apply(l1(0, []));
    d.apply(l1(1, [{ module: names.inbox, method: 'forceTx', args: encode(ForceTxArgs, { rollupId: cfg.rollupId, raw: new Uint8Array([1, 2, 3]) }), sender: keys[2]!.address, ok: true }]));
    expect(d.meta.delayedCount).toBe(1);
    // The queued record as a state the rule cannot process (the L1's hook would throw on it too).
    const store = (d as unknown as { store: { delayedRecs: { l1Height: number; opHash: unknown }[] } }).store;
    const good = store.delayedRecs[0]!;
    store.delayedRecs[0] = { l1Height: good.l1Height, opHash: undefined };
    const before = { ...d.meta };
    expect(d.apply(l1(2, []))).toEqual([]);
    expect(d.apply(l1(3, []))).toEqual([]); // due here (queued at 1, window 2): the rule throws
    expect(d.meta).toEqual(before);
    expect(warnings.some((w) => /end-of-block rule failed/.test(w))).toBe(true);
    // Once the rule can run again, it does (the L1 hook likewise runs every block).
    store.delayedRecs[0] = good;
    const out = d.apply(l1(4, []));
    expect(out.length).toBe(1);
    expect(d.meta.delayedRead).toBe(1);
  });
});
