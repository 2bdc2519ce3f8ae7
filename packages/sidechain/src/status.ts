/**
 * The validator-set part of `strata sidechain status`: the set the running sidechain uses for
 * its next height (`sidechain_info`) beside the parent's view (`sidechain_get`: the set the next
 * checkpoint is checked against, its epoch, the recorded changes not yet applied), and whether
 * the two agree. They differ only while a checkpoint that applies included changes is still to
 * be accepted on the parent; a lasting difference means checkpoints are failing.
 */

/** The fields of `sidechain_info` the status reads. */
export interface SidechainInfoSet {
  validator?: number;
  validators: { index: number; edPub: string; stake: string }[];
}

/** The fields of `sidechain_get` the status reads. */
export interface RegistrySet {
  epoch: number;
  lastCheckpointHeight: number;
  validators: { index: number; edPub: string; stake: string; votingPower?: string; slashed: boolean }[];
  pendingChanges?: { id: number; kind: string; edPub: string; amount: string }[];
}

const short = (hex: string) => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);

/** Text lines of the validator sets for `sidechain status` (the sidechain's and the parent's). */
export function validatorSetLines(info: SidechainInfoSet | null, reg: RegistrySet | null): string[] {
  const out: string[] = [];
  if (info) {
    const total = info.validators.reduce((a, v) => a + BigInt(v.stake), 0n);
    out.push(`  Validator set in effect (next height): ${info.validators.length} validators, stake ${total}`);
    for (const v of info.validators) out.push(`    #${v.index}  ${short(v.edPub)}  power ${v.stake}${v.index === info.validator ? '  (this node)' : ''}`);
  } else {
    out.push('  Validator set in effect: unknown (no validator answered)');
  }
  if (reg) {
    const pending = reg.pendingChanges ?? [];
    const slashed = reg.validators.filter((v) => v.slashed).length;
    out.push(`  L1 set: epoch ${reg.epoch} (checkpoint at #${reg.lastCheckpointHeight}), ${reg.validators.length} validators${slashed ? `, ${slashed} slashed` : ''}; ${pending.length} change${pending.length === 1 ? '' : 's'} waiting for a checkpoint`);
    for (const p of pending.slice(0, 8)) out.push(`    change ${p.id}: ${p.kind} ${short(p.edPub)}${p.amount !== '0' ? ` ${p.amount}` : ''}`);
    if (pending.length > 8) out.push(`    … ${pending.length - 8} more`);
    if (info) {
      const same = info.validators.length === reg.validators.length && info.validators.every((v, i) => v.edPub === reg.validators[i]?.edPub && v.stake === (reg.validators[i]?.votingPower ?? reg.validators[i]?.stake));
      out.push(same ? '  The sidechain and the L1 use the same set.' : '  The sidechain and the L1 sets differ: the next checkpoint applies the included changes (if this lasts, checkpoints are failing).');
    }
  }
  return out;
}
