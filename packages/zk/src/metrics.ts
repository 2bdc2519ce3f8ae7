/** Prometheus metrics of the ZK roles, in a registry of their own (several can share a process). */
import { Counter, Gauge, Registry } from 'prom-client';

/** Metrics the operator and provers update (each role touches its own subset). */
export class ZkMetrics {
  readonly registry = new Registry();
  readonly softTxs = new Counter({ name: 'strata_zk_soft_confirmed_total', help: 'L2 transactions soft-confirmed by the operator', registers: [this.registry] });
  readonly rejectedTxs = new Counter({ name: 'strata_zk_rejected_total', help: 'L2 transactions rejected', labelNames: ['code'], registers: [this.registry] });
  readonly deposits = new Counter({ name: 'strata_zk_deposits_applied_total', help: 'L1 deposits applied to the L2 state', registers: [this.registry] });
  readonly batches = new Counter({ name: 'strata_zk_batches_created_total', help: 'Batches built', registers: [this.registry] });
  readonly jobsPending = new Gauge({ name: 'strata_zk_prove_jobs_pending', help: 'Batches waiting for a prover', registers: [this.registry] });
  readonly jobsProving = new Gauge({ name: 'strata_zk_prove_jobs_proving', help: 'Batches leased to a prover', registers: [this.registry] });
  readonly proofs = new Counter({ name: 'strata_zk_proofs_accepted_total', help: 'Valid proofs accepted from provers', registers: [this.registry] });
  readonly badProofs = new Counter({ name: 'strata_zk_proofs_rejected_total', help: 'Proofs rejected (invalid, late, duplicate)', registers: [this.registry] });
  readonly leaseExpired = new Counter({ name: 'strata_zk_leases_expired_total', help: 'Prove jobs whose prover went silent and were handed out again', registers: [this.registry] });
  readonly committed = new Gauge({ name: 'strata_zk_batches_verified', help: 'Batches verified on L1', registers: [this.registry] });
  readonly proveSeconds = new Gauge({ name: 'strata_zk_last_prove_seconds', help: 'Seconds the last proof took (prover side)', registers: [this.registry] });
  readonly provedByMe = new Counter({ name: 'strata_zk_prover_proofs_total', help: 'Proofs this prover produced', registers: [this.registry] });
  readonly roleErrors = new Counter({ name: 'strata_zk_role_errors_total', help: 'Driver loop iterations that failed', labelNames: ['role'], registers: [this.registry] });
}
