/**
 * A risk panel per layer in L2BEAT's terms (state validation, data availability, exit window,
 * sequencer failure, proposer failure), computed from the configuration the chains report over
 * RPC (`chain_getConfig`, `rollup_getConfig`), never hand-written per deployment. Each row has a
 * level: good (no trust beyond the parent), warning (a delay or a bond), bad (trust in an operator).
 */

/** One row of a risk panel. */
export interface RiskRow {
  /** L2BEAT's heading. */
  aspect: 'State validation' | 'Data availability' | 'Exit window' | 'Sequencer failure' | 'Proposer failure' | 'Finality' | 'Consensus';
  level: 'good' | 'warning' | 'bad';
  /** Short verdict. */
  value: string;
  /** Why, with the numbers it comes from. */
  detail: string;
}

/** What `chain_getConfig` of a Strata chain reports (the fields used here). */
export interface ChainConfigJson {
  name?: string;
  chainId?: string;
  targetBlockTimeMs?: number;
  confirmations?: number;
  powEnabled?: boolean;
  maxBlockBytes?: number;
}

/** What `rollup_getConfig` reports. */
export interface RollupConfigJson {
  rollupId: number;
  batcher: string;
  challengeWindow: number;
  clockBlocks: number;
  proposerBond: string;
  challengerBond: string;
  bondBurnBps: number;
  sequencingWindow: number;
  maxBatchBytes: number;
}

function seconds(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const COIN = 100_000_000n;
function stra(units: string): string {
  const v = BigInt(units);
  return `${v / COIN}${v % COIN === 0n ? '' : `.${(v % COIN).toString().padStart(8, '0').replace(/0+$/, '')}`} STRA`;
}

/** The L1's panel: it trusts nobody but its own consensus. */
export function l1Risk(cfg: ChainConfigJson, observedBlockMs?: number): RiskRow[] {
  const blockMs = observedBlockMs ?? cfg.targetBlockTimeMs ?? 0;
  const conf = cfg.confirmations ?? 0;
  return [
    {
      aspect: 'Consensus',
      level: cfg.powEnabled ? 'good' : 'warning',
      value: cfg.powEnabled ? 'Proof of work, heaviest chain' : 'Dev sealing (one node)',
      detail: cfg.powEnabled ? 'Any miner can extend the chain; fork choice by total work.' : 'This devnet seals blocks on one node: fine for development, no decentralization.',
    },
    { aspect: 'State validation', level: 'good', value: 'Full re-execution', detail: 'Every node re-executes every block and checks its state root.' },
    { aspect: 'Data availability', level: 'good', value: 'On chain', detail: `Every node stores every block (max ${cfg.maxBlockBytes ?? '?'} B).` },
    {
      aspect: 'Finality',
      level: 'warning',
      value: `${conf} confirmations`,
      detail: `Probabilistic: final after ${conf} blocks${blockMs ? ` (≈ ${seconds(conf * blockMs)} at ${seconds(blockMs)} per block)` : ''}.`,
    },
  ];
}

/** An optimistic rollup's panel, from its config and its parent's block time. */
export function optimisticRisk(rc: RollupConfigJson, parent: { name: string; blockMs: number; confirmations: number }): RiskRow[] {
  const block = (n: number) => `${n} ${parent.name} blocks${parent.blockMs ? ` (≈ ${seconds(n * parent.blockMs)})` : ''}`;
  return [
    {
      aspect: 'State validation',
      level: 'good',
      value: 'Fraud proofs (interactive)',
      detail: `Anyone may challenge an output root with a bond of ${stra(rc.challengerBond)}; the game bisects to one operation, which ${parent.name} re-executes. Each side has a clock of ${block(rc.clockBlocks)}; the loser's bond goes to the winner (${rc.bondBurnBps / 100} % burned).`,
    },
    {
      aspect: 'Data availability',
      level: 'good',
      value: `On chain (${parent.name} inbox)`,
      detail: `Every L2 transaction is posted to ${parent.name} in compressed batches (≤ ${rc.maxBatchBytes} B decompressed) by the batcher ${rc.batcher}; anyone can re-derive the L2 from ${parent.name} data alone.`,
    },
    {
      aspect: 'Exit window',
      level: rc.challengeWindow > 0 ? 'warning' : 'bad',
      value: block(rc.challengeWindow),
      detail: `A withdrawal waits for an output root covering it, then ${block(rc.challengeWindow)} unchallenged, then ${parent.confirmations} confirmations of finality on ${parent.name}. Users who disagree with an upgrade cannot exit faster than this.`,
    },
    {
      aspect: 'Sequencer failure',
      level: 'good',
      value: 'Forced inclusion (automatic)',
      detail: `A deposit or forced transaction queued on ${parent.name} is included by the inbox itself after ${block(rc.sequencingWindow)}, whether or not the sequencer posts.`,
    },
    {
      aspect: 'Proposer failure',
      level: 'good',
      value: 'Anyone can propose',
      detail: `Proposing an output root is permissionless with a bond of ${stra(rc.proposerBond)}; if the proposer stops, any user can post roots and withdraw.`,
    },
  ];
}

/** What `sidechain_info` reports (the fields used here). */
export interface SidechainInfoJson {
  name: string;
  chainId: number;
  checkpointInterval: number;
  validators: { index: number; stake: string }[];
}

/** A BFT sidechain's panel: its users trust more than 2/3 of the validators' stake. */
export function sidechainRisk(info: SidechainInfoJson, parent: { name: string; blockMs: number }): RiskRow[] {
  const n = info.validators.length;
  const total = info.validators.reduce((s, v) => s + BigInt(v.stake), 0n);
  const quorum = Math.floor((2 * n) / 3) + 1;
  return [
    {
      aspect: 'State validation',
      level: 'bad',
      value: `Validator quorum (> 2/3 of ${n})`,
      detail: `Blocks are final when validators holding more than 2/3 of ${stra(total.toString())} staked sign them; ${quorum} of ${n} colluding validators could finalize an invalid state. A double sign is slashable on ${parent.name}.`,
    },
    { aspect: 'Data availability', level: 'bad', value: 'Validators only', detail: `Transaction data lives on the ${n} validators; ${parent.name} stores only checkpoints (block hash and state root).` },
    {
      aspect: 'Exit window',
      level: 'warning',
      value: `Next checkpoint (every ${info.checkpointInterval} blocks)`,
      detail: `A withdrawal is paid on ${parent.name} once a quorum-signed checkpoint covers it; there is no challenge period and no exit without the quorum.`,
    },
    { aspect: 'Sequencer failure', level: 'bad', value: 'Chain halts', detail: `If more than 1/3 of the stake stops, no block is final; there is no forced inclusion through ${parent.name}.` },
    { aspect: 'Proposer failure', level: 'warning', value: 'Rotating proposer', detail: 'Tendermint-style rounds: a silent proposer is skipped after a timeout; checkpoints need any relayer and a quorum of signatures.' },
  ];
}

/** A payment-channel network's panel, from a node's channel settings. */
export function channelsRisk(ch: { toSelfDelay: number | null; channels: number }, parent: { name: string; blockMs: number }): RiskRow[] {
  const d = ch.toSelfDelay ?? 0;
  const wait = `${d} ${parent.name} blocks${parent.blockMs ? ` (≈ ${seconds(d * parent.blockMs)})` : ''}`;
  return [
    { aspect: 'State validation', level: 'good', value: 'Signed states, settled on the parent', detail: `Both parties sign every balance update; ${parent.name}'s adjudicator pays out the latest one, and all funds to the other side if a revoked state is published.` },
    { aspect: 'Data availability', level: 'warning', value: 'Held by the two parties', detail: 'Each party (and its watchtower) keeps the latest signed state and the revocation secrets; nothing is posted until a close.' },
    { aspect: 'Exit window', level: 'warning', value: `Cooperative at once; unilateral after ${wait}`, detail: `A unilateral close waits the to-self delay (${wait}) so the other side can answer with a newer state.` },
    { aspect: 'Sequencer failure', level: 'good', value: 'No operator', detail: `A peer that stops only blocks payments through it; funds leave by a unilateral close on ${parent.name}.` },
    { aspect: 'Proposer failure', level: 'warning', value: 'Must watch the chain', detail: `A user offline longer than ${wait} while a revoked state is published can lose funds unless a watchtower answers (${ch.channels} channels in the graph).` },
  ];
}

/** What the parent's `zkl1_rollup` and the ZK node's `zk_info` report (the fields used here). */
export interface ZkRollupJson {
  rollupId: number;
  depth: number;
  batchSize: number;
  priorityDeadline: number;
  maxBatchGap: number;
  frozen: boolean;
  circuitHash?: string;
  /** The proving key came from the documented dev-only secret (anyone can forge proofs). Reported by the operator itself. */
  devKeys?: boolean;
  /** Hash of the verification key the parent checks proofs with (from the parent's record). */
  vkHash?: string;
}

/** A ZK-rollup's panel: validity proofs checked by the parent, data on the parent, exodus as the exit of last resort. */
export function zkRisk(z: ZkRollupJson, parent: { name: string; blockMs: number }): RiskRow[] {
  const wait = (n: number) => `${n} ${parent.name} blocks${parent.blockMs ? ` (≈ ${seconds(n * parent.blockMs)})` : ''}`;
  return [
    // The setup's origin is the operator's word, which the explorer cannot check: never 'good' on it.
    z.devKeys === false
      ? {
          aspect: 'State validation',
          level: 'warning',
          value: 'Validity proofs (Groth16), trusted setup',
          detail: `Every batch carries a Groth16 proof that ${parent.name} checks before the root moves, against the verification key registered there (${z.vkHash ? `key hash ${z.vkHash}` : 'key hash not reported'}; circuit ${z.circuitHash ?? '?'}). The operator reports a real setup ceremony; the explorer cannot check that: if the setup's secret is known to anyone, they can forge a proof.`,
        }
      : {
          aspect: 'State validation',
          level: 'bad',
          value: 'Validity proofs, DEV-ONLY keys',
          detail: `${parent.name} checks a Groth16 proof per batch, but ${z.devKeys ? 'the proving key comes from a published toxic secret: anyone can forge a proof' : 'whether the setup was a real ceremony is not reported'} (circuit ${z.circuitHash ?? '?'}).`,
        },
    { aspect: 'Data availability', level: 'good', value: `On ${parent.name}`, detail: `Each batch posts its operations (no signatures) in the commitBatch transaction; anyone can rebuild every balance from ${parent.name}'s blocks (\`strata zk exit --from-l1\`).` },
    {
      aspect: 'Exit window',
      level: 'good',
      value: 'Paid in the verifying block',
      detail: `A withdrawal is paid on ${parent.name} in the block that verifies its batch's proof: no challenge period. ${z.frozen ? 'The rollup is FROZEN (exodus): users exit with Merkle proofs of the last proven state.' : ''}`.trim(),
    },
    {
      aspect: 'Sequencer failure',
      level: 'warning',
      value: `Exodus after ${wait(z.priorityDeadline)}`,
      detail: `A deposit the operator leaves out for ${wait(z.priorityDeadline)} freezes the rollup; every user then withdraws the balance of the last proven state with a Merkle proof, once. Transfers cannot be forced in.`,
    },
    {
      aspect: 'Proposer failure',
      level: 'warning',
      value: `Exodus after ${wait(z.maxBatchGap)} without a proof`,
      detail: `Only the operator posts batches; if none is proven for ${wait(z.maxBatchGap)}, the rollup freezes and users exit on ${parent.name}.`,
    },
  ];
}
