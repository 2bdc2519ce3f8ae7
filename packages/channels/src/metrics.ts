/** Prometheus metrics of the channel roles, in a registry of their own (several nodes can share a process). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onionWorkerStatus } from './crypto-pool.js';

/** Metrics a channel node (and the watchtower) update. */
export class ChannelMetrics {
  readonly registry = new Registry();
  readonly channels = new Gauge({ name: 'strata_channel_channels', help: 'Channels by status', labelNames: ['status'], registers: [this.registry] });
  readonly rounds = new Counter({ name: 'strata_channel_commitment_rounds_total', help: 'Commitment rounds completed', registers: [this.registry] });
  readonly updatesPerRound = new Histogram({ name: 'strata_channel_updates_per_round', help: 'Updates batched into one commitment', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500], registers: [this.registry] });
  readonly paymentsSent = new Counter({ name: 'strata_channel_payments_sent_total', help: 'Payments sent, by result', labelNames: ['result'], registers: [this.registry] });
  readonly paymentsReceived = new Counter({ name: 'strata_channel_payments_received_total', help: 'Invoices paid to this node', registers: [this.registry] });
  readonly forwarded = new Counter({ name: 'strata_channel_htlcs_forwarded_total', help: 'HTLCs forwarded, by result', labelNames: ['result'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'strata_channel_peer_messages_rejected_total', help: 'Peer messages refused', labelNames: ['reason'], registers: [this.registry] });
  readonly onchain = new Counter({ name: 'strata_channel_onchain_actions_total', help: 'Adjudicator transactions sent', labelNames: ['method'], registers: [this.registry] });
  readonly towerBlobs = new Counter({ name: 'strata_watchtower_blobs_total', help: 'Justice blobs stored by a watchtower', registers: [this.registry] });
  readonly towerPenalties = new Counter({ name: 'strata_watchtower_penalties_total', help: 'Penalties a watchtower published', registers: [this.registry] });
  readonly fsyncSeconds = new Histogram({ name: 'strata_channel_store_fsync_seconds', help: 'Duration of the channel store fsyncs every message to a peer waits for', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1], registers: [this.registry] });
  readonly earlyFulfils = new Counter({ name: 'strata_channel_early_fulfils_total', help: "Preimages the peer revealed in its revoke (EarlyFulfil): accepted (settled at once), stale (already settled), invalid (open none of our HTLCs)", labelNames: ['result'], registers: [this.registry] });
  readonly htlcsLost = new Counter({ name: 'strata_channel_htlcs_lost_total', help: "HTLCs of a settled close whose preimage this node held but did not reveal by the expiry (the amount went to the peer)", registers: [this.registry] });
  readonly roundHandlingErrors = new Counter({ name: 'strata_channel_round_handling_errors_total', help: 'Updates of a completed round whose handling threw (left for a restart to redo)', registers: [this.registry] });
  readonly onionWorkerPending = new Gauge({
    name: 'strata_channel_onion_worker_pending',
    help: 'Onion sessions waiting for the worker thread (per process)',
    registers: [this.registry],
    collect() {
      this.set(onionWorkerStatus().pending);
    },
  });
  readonly onionWorkerUp = new Gauge({
    name: 'strata_channel_onion_worker_up',
    help: '1 while onion sessions run on the worker thread, 0 when they run inline (no native addon, or the worker died)',
    registers: [this.registry],
    collect() {
      this.set(onionWorkerStatus().mode === 'worker' ? 1 : 0);
    },
  });
  readonly loopErrors = new Counter({ name: 'strata_channel_driver_errors_total', help: 'Driver loop iterations that failed', labelNames: ['role'], registers: [this.registry] });
}
