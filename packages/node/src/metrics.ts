/**
 * Prometheus metrics of one node, in a registry of its own (several nodes can share a process
 * in tests), served at /metrics on their own port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics a node updates. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly headHeight = new Gauge({ name: 'strata_head_height', help: 'Height of the canonical head', registers: [this.registry] });
  readonly finalizedHeight = new Gauge({ name: 'strata_finalized_height', help: 'Height of the finalized block', registers: [this.registry] });
  readonly blocksImported = new Counter({ name: 'strata_blocks_imported_total', help: 'Blocks imported', labelNames: ['status'], registers: [this.registry] });
  readonly blocksRejected = new Counter({ name: 'strata_blocks_rejected_total', help: 'Blocks rejected', labelNames: ['reason'], registers: [this.registry] });
  readonly importFaults = new Counter({
    name: 'strata_import_local_faults_total',
    help: 'Block imports aborted by a local fault (storage, engine) and retried; never counted as rejected blocks',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly reorgs = new Counter({ name: 'strata_reorgs_total', help: 'Chain reorganisations', registers: [this.registry] });
  readonly reorgBrakeEngaged = new Gauge({
    name: 'strata_reorg_brake_engaged',
    help: '1 while the reorg brake (--max-reorg-depth) holds back a heavier branch: the node is split from the network',
    registers: [this.registry],
  });
  readonly reorgBrakeDepth = new Gauge({ name: 'strata_reorg_brake_depth', help: 'Blocks the held-back heavier branch would revert (0 when not engaged)', registers: [this.registry] });
  readonly txsAccepted = new Counter({ name: 'strata_txs_accepted_total', help: 'Transactions accepted into the mempool', registers: [this.registry] });
  readonly txsRejected = new Counter({ name: 'strata_txs_rejected_total', help: 'Transactions rejected', labelNames: ['reason'], registers: [this.registry] });
  readonly txsIncluded = new Counter({ name: 'strata_txs_included_total', help: 'Transactions included in canonical blocks', registers: [this.registry] });
  readonly mempoolSize = new Gauge({ name: 'strata_mempool_size', help: 'Transactions in the mempool', registers: [this.registry] });
  readonly peers = new Gauge({ name: 'strata_peers', help: 'Connected peers', registers: [this.registry] });
  readonly importSeconds = new Histogram({
    name: 'strata_block_import_seconds',
    help: 'Time to validate, execute and commit a block',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private server: Server | undefined;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Serves /metrics on host:port; resolves with the URL. */
  async serve(host: string, port: number): Promise<string> {
    this.server = createServer(async (req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', this.registry.contentType);
        res.end(await this.registry.metrics());
      } else {
        res.statusCode = 404;
        res.end('see /metrics\n');
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(port, host, resolve));
    const a = this.server.address() as AddressInfo;
    return `http://${host}:${a.port}/metrics`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
