/** Human lines for settlement events, and the risk panel computed from configs. */
import { describe, expect, it } from 'vitest';
import { coins, l1Risk, MODULE_EVENT_TEXT, optimisticRisk, zkRisk } from '@strata/explorer';

const ctx = { chain: 'l1', child: 'l2', coins, addr: (h: string, layer: string) => `${layer}:${h.slice(0, 6)}` };

describe('explorer events and risk', () => {
  it('formats every optimistic settlement event a user cares about', () => {
    const t = (k: string, d: Record<string, string | number | boolean>) => MODULE_EVENT_TEXT[k]?.(d, ctx);
    expect(t('op_bridge.deposit', { id: 3, from: '0xaaaa', to: '0xbbbb', amount: '150000000' })).toEqual({ kind: 'deposit', layer: 'l2', text: 'deposit #3: 1.5 STRA from l1:0xaaaa locked on l1 for l2:0xbbbb' });
    expect(t('op_inbox.batch', { index: 2, firstBlock: 5, blocks: 3, ops: 9, bytes: 400 })?.text).toBe('batch 2 posted to l1: L2 blocks #5–#7, 9 ops, 400 B');
    expect(t('op_disputes.gameMove', { gameId: 1, move: 2, by: 'defender', mid: 6 })?.text).toBe('dispute game 1 move 2: defender posts the root at op 6');
    expect(t('op_disputes.gameMove', { gameId: 1, move: 3, by: 'challenger', agree: false, lo: 4, hi: 6 })?.text).toBe('dispute game 1 move 3: challenger disagrees → ops 4–6');
    expect(t('op_disputes.gameResolved', { gameId: 1, winner: 'challenger', reason: 'one-step proof', discarded: '2,3' })?.text).toBe('dispute game 1 resolved: challenger won (one-step proof); outputs 2,3 discarded');
    expect(t('op_bridge.withdrawalFinalized', { id: 0, to: '0xcccc', amount: '1000000' })?.kind).toBe('withdrawal.finalized');
  });

  it('fills the risk panel from the configs, not by hand', () => {
    const rc = { rollupId: 901, batcher: 'st1x', challengeWindow: 7, clockBlocks: 12, proposerBond: '1000000000', challengerBond: '500000000', bondBurnBps: 2000, sequencingWindow: 9, maxBatchBytes: 1000 };
    const rows = optimisticRisk(rc, { name: 'l1', blockMs: 2000, confirmations: 6 });
    expect(rows.map((r) => r.aspect)).toEqual(['State validation', 'Data availability', 'Exit window', 'Sequencer failure', 'Proposer failure']);
    expect(rows[2]?.value).toBe('7 l1 blocks (≈ 14 s)');
    expect(rows[0]?.detail).toMatch(/bond of 5 STRA/);
    expect(rows[3]?.detail).toMatch(/after 9 l1 blocks/);
    expect(rows[4]?.detail).toMatch(/bond of 10 STRA/);
    const l1 = l1Risk({ confirmations: 6, powEnabled: false, maxBlockBytes: 100 }, 1000);
    expect(l1.find((r) => r.aspect === 'Finality')?.detail).toMatch(/after 6 blocks \(≈ 6 s/);
    expect(l1.find((r) => r.aspect === 'Consensus')?.level).toBe('warning');
    const zk = zkRisk({ rollupId: 903, depth: 20, batchSize: 2, priorityDeadline: 600, maxBatchGap: 3600, frozen: false, circuitHash: 'abcd', devKeys: true }, { name: 'l1', blockMs: 1000 });
    expect(zk.map((r) => r.aspect)).toEqual(['State validation', 'Data availability', 'Exit window', 'Sequencer failure', 'Proposer failure']);
    expect(zk[0]).toMatchObject({ level: 'bad', value: 'Validity proofs, DEV-ONLY keys' });
    expect(zk[3]?.value).toBe('Exodus after 600 l1 blocks (≈ 10 min)');
    expect(zk[4]?.value).toBe('Exodus after 3600 l1 blocks (≈ 60 min) without a proof');
    // A real setup is the operator's word, which the explorer cannot check: a warning, naming the parent's key hash.
    const real = zkRisk({ rollupId: 903, depth: 20, batchSize: 2, priorityDeadline: 5, maxBatchGap: 9, frozen: true, devKeys: false, vkHash: '0xabc123' }, { name: 'l1', blockMs: 0 })[0];
    expect(real?.level).toBe('warning');
    expect(real?.detail).toContain('key hash 0xabc123');
  });
});
