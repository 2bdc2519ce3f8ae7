/** Prometheus metrics of the rollup roles, in a registry of their own (several can share a process). */
import { Counter, Gauge, Registry } from 'prom-client';

/** Metrics every role updates (each role touches its own subset). */
export class RollupMetrics {
  readonly registry = new Registry();
  readonly unsafeHead = new Gauge({ name: 'strata_l2_unsafe_head', help: 'Unsafe (sequenced) L2 head', registers: [this.registry] });
  readonly safeHead = new Gauge({ name: 'strata_l2_safe_head', help: 'Safe L2 head (its batch is on L1)', registers: [this.registry] });
  readonly finalizedHead = new Gauge({ name: 'strata_l2_finalized_head', help: 'Finalized L2 head (its batch is final on L1)', registers: [this.registry] });
  readonly l1Processed = new Gauge({ name: 'strata_l2_l1_processed_height', help: 'Last L1 block derived from', registers: [this.registry] });
  readonly l1Reorgs = new Counter({ name: 'strata_l2_l1_reorgs_total', help: 'L1 reorgs followed by derivation', registers: [this.registry] });
  readonly batchesPosted = new Counter({ name: 'strata_batcher_batches_total', help: 'Batches posted to L1', registers: [this.registry] });
  readonly batchBytes = new Counter({ name: 'strata_batcher_bytes_total', help: 'Compressed batch bytes posted', registers: [this.registry] });
  readonly batchRetries = new Counter({ name: 'strata_batcher_retries_total', help: 'Batches re-posted', registers: [this.registry] });
  readonly outputsProposed = new Counter({ name: 'strata_proposer_outputs_total', help: 'Output roots proposed', registers: [this.registry] });
  readonly gamesOpened = new Counter({ name: 'strata_challenger_games_opened_total', help: 'Dispute games opened', registers: [this.registry] });
  readonly gameMoves = new Counter({ name: 'strata_dispute_moves_total', help: 'Dispute moves made', labelNames: ['role'], registers: [this.registry] });
  readonly gamesResolved = new Counter({ name: 'strata_dispute_games_resolved_total', help: 'Games seen resolved', labelNames: ['winner'], registers: [this.registry] });
  readonly roleErrors = new Counter({ name: 'strata_rollup_role_errors_total', help: 'Driver loop iterations that failed', labelNames: ['role'], registers: [this.registry] });
}
