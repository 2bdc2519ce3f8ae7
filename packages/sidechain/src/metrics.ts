/** Prometheus metrics of the sidechain roles (registered in the node's registry, served with its /metrics). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Metrics the validator service and checkpoint relayer update. */
export class SidechainMetrics {
  readonly height: Gauge;
  readonly round: Gauge;
  readonly commits: Counter;
  readonly roundsPerHeight: Histogram;
  readonly commitSeconds: Histogram;
  readonly votesReceived: Counter;
  readonly messagesRejected: Counter;
  readonly evidence: Counter;
  readonly syncedBlocks: Counter;
  readonly checkpointsPosted: Counter;
  readonly checkpointHeight: Gauge;
  readonly depositsMinted: Counter;
  readonly roleErrors: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    const r = [registry];
    this.height = new Gauge({ name: 'strata_bft_height', help: 'Height being decided', registers: r });
    this.round = new Gauge({ name: 'strata_bft_round', help: 'Round of the current height', registers: r });
    this.commits = new Counter({ name: 'strata_bft_commits_total', help: 'Blocks committed (final)', registers: r });
    this.roundsPerHeight = new Histogram({ name: 'strata_bft_rounds_per_height', help: 'Rounds needed to commit a height', buckets: [0, 1, 2, 3, 5, 10], registers: r });
    this.commitSeconds = new Histogram({ name: 'strata_bft_height_seconds', help: 'Time from entering a height to committing it', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: r });
    this.votesReceived = new Counter({ name: 'strata_bft_messages_total', help: 'Consensus messages received', labelNames: ['kind', 'result'], registers: r });
    this.messagesRejected = new Counter({ name: 'strata_bft_messages_rejected_total', help: 'Consensus messages rejected at gossip validation', labelNames: ['reason'], registers: r });
    this.evidence = new Counter({ name: 'strata_bft_evidence_total', help: 'Double-sign evidence seen', registers: r });
    this.syncedBlocks = new Counter({ name: 'strata_bft_synced_blocks_total', help: 'Committed blocks imported by catch-up sync', registers: r });
    this.checkpointsPosted = new Counter({ name: 'strata_sidechain_checkpoints_posted_total', help: 'Checkpoints posted to the parent chain', registers: r });
    this.checkpointHeight = new Gauge({ name: 'strata_sidechain_checkpoint_height', help: 'Height of the last checkpoint accepted on the parent', registers: r });
    this.depositsMinted = new Counter({ name: 'strata_sidechain_deposits_minted_total', help: 'Deposits this validator proposed to mint', registers: r });
    this.roleErrors = new Counter({ name: 'strata_sidechain_role_errors_total', help: 'Driver loop iterations that failed', labelNames: ['role'], registers: r });
  }
}
