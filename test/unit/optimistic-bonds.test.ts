/**
 * Bond escalation is capped low: the game count grows with every game anyone opens against an
 * output, so a proposer that challenges its own wrong root and loses on purpose must not be able
 * to price honest challengers (or defenders) out. The honest entry price stays ≤ 16 base bonds.
 */
import { challengeBond, defaultRollupConfig, takeoverBond } from '@strata/optimistic';
import { describe, expect, it } from 'vitest';

describe('bond escalation', () => {
  const cfg = defaultRollupConfig();
  it('doubles per game up to 16× the base, never more, however many games were opened', () => {
    expect(challengeBond(cfg, { games: 0 })).toBe(cfg.challengerBond);
    expect(challengeBond(cfg, { games: 3 })).toBe(cfg.challengerBond * 8n);
    for (const games of [4, 5, 10, 20, 1000]) expect(challengeBond(cfg, { games })).toBe(cfg.challengerBond * 16n);
  });
  it('the takeover bond of a defender slot is capped the same way', () => {
    expect(takeoverBond(cfg, { defenses: 1 })).toBe(cfg.proposerBond * 2n);
    for (const defenses of [4, 12, 64]) expect(takeoverBond(cfg, { defenses })).toBe(cfg.proposerBond * 16n);
  });
});
