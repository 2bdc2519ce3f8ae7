/**
 * A prover: pulls proving jobs from an operator over JSON-RPC (`zk_proverGetJob`), computes the
 * witness and the Groth16 proof with snarkjs, keeps its lease alive while it works
 * (`zk_proverHeartbeat`) and returns the proof (`zk_proverSubmit`). Run several, on several
 * machines, to prove in parallel; a killed prover's job returns to the queue when its lease ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrataError } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import * as snarkjs from 'snarkjs';
import { Driver, silentLogger, type ZkLogger } from './driver.js';
import { ZkMetrics } from './metrics.js';
import type { ProveJob } from './operator.js';
import { setupCircuit, terminateSnarkjs, type CircuitArtifacts, type SetupProgress } from './setup.js';
import type { ZkParams } from './params.js';

/** Prover settings. */
export interface ProverOptions {
  /** The operator's JSON-RPC URL. */
  operatorUrl: string;
  /** Name reported to the operator (default: prover-<pid>). */
  id?: string;
  /** Poll interval when there is no job (default 500 ms). */
  pollMs?: number;
  /** Circuit cache directory (default `.cache/zk`). */
  cacheDir?: string;
  onSetupProgress?: SetupProgress;
}

/**
 * Calls an RPC method, retrying a connection that failed before any answer (a keep-alive socket
 * the server closed while the prover was busy proving resets on reuse).
 */
export async function callWithRetry<T>(rpc: RpcClient, method: string, params: unknown[] = [], tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await rpc.call<T>(method, params);
    } catch (e) {
      if (!(e instanceof StrataError && e.code === 'NETWORK') || i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

/** Proves one batch input with snarkjs (witness in memory). */
export async function proveInput(art: Pick<CircuitArtifacts, 'wasm' | 'zkey'>, input: Record<string, unknown>): Promise<{ proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }; publicSignals: string[] }> {
  const wtns = { type: 'mem' as const } as { type: 'mem'; data?: Uint8Array };
  await snarkjs.wtns.calculate(input, art.wasm, wtns);
  const out = await snarkjs.groth16.prove(art.zkey, wtns.data as Uint8Array);
  return out as { proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }; publicSignals: string[] };
}

/** The prover service. */
export class ProverService {
  readonly id: string;
  private readonly rpc: RpcClient;
  private art: CircuitArtifacts | undefined;
  private readonly driver: Driver;
  private readonly log: ZkLogger;
  readonly metrics: ZkMetrics;
  /** Proofs this prover produced. */
  proved = 0;

  constructor(
    readonly opts: ProverOptions,
    deps: { logger?: ZkLogger; metrics?: ZkMetrics } = {},
  ) {
    this.id = opts.id ?? `prover-${process.pid}`;
    this.rpc = new RpcClient(opts.operatorUrl, { timeoutMs: 30_000 });
    this.log = deps.logger ?? silentLogger;
    this.metrics = deps.metrics ?? new ZkMetrics();
    this.driver = new Driver('zk-prover', opts.pollMs ?? 500, () => this.tick(), this.log, () => this.metrics.roleErrors.inc({ role: 'prover' }));
  }

  /** Fetches the operator's params and builds (or finds cached) the same circuit. */
  async init(): Promise<void> {
    const info = await callWithRetry<{ l1ChainId: number; rollupId: number; depth: number; batchSize: number; circuitHash: string }>(this.rpc, 'zk_info');
    const params: ZkParams = { l1ChainId: info.l1ChainId, rollupId: info.rollupId, depth: info.depth, batchSize: info.batchSize };
    this.art = await setupCircuit(params, { ...(this.opts.cacheDir ? { cacheDir: this.opts.cacheDir } : {}), ...(this.opts.onSetupProgress ? { onProgress: this.opts.onSetupProgress } : {}) });
    if (this.art.hash !== info.circuitHash) throw new StrataError('CONFIG_INVALID', `this prover's circuit ${this.art.hash} differs from the operator's ${info.circuitHash} (different code or versions)`);
    this.log.info({ prover: this.id, circuit: this.art.hash, constraints: this.art.constraints }, 'prover ready');
  }

  async start(): Promise<void> {
    if (!this.art) await this.init();
    this.driver.start();
  }

  async stop(): Promise<void> {
    await this.driver.stop();
    await terminateSnarkjs();
  }

  /** Takes and proves at most one job. */
  async tick(): Promise<void> {
    const art = this.art as CircuitArtifacts;
    const job = await callWithRetry<ProveJob | null>(this.rpc, 'zk_proverGetJob', [this.id]);
    if (!job) return;
    if (job.circuitHash !== art.hash) throw new StrataError('CONFIG_INVALID', `job for circuit ${job.circuitHash}, this prover has ${art.hash}`);
    this.log.info({ prover: this.id, batch: job.id }, 'proving batch');
    const t = Date.now();
    const hb = setInterval(() => {
      void this.rpc.call('zk_proverHeartbeat', [job.id, this.id]).catch(() => {});
    }, Math.max(500, Math.floor(job.leaseMs / 3)));
    try {
      const { proof } = await proveInput(art, job.input);
      const secs = (Date.now() - t) / 1000;
      this.metrics.proveSeconds.set(secs);
      await callWithRetry(this.rpc, 'zk_proverSubmit', [job.id, this.id, proof]);
      this.proved++;
      this.metrics.provedByMe.inc();
      this.log.info({ prover: this.id, batch: job.id, seconds: secs }, 'proof submitted');
    } finally {
      clearInterval(hb);
    }
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/** Starts a prover as a child process (`bin/prover.js`) against an operator URL. */
export function spawnProver(operatorUrl: string, id: string, opts: { cacheDir?: string; stdio?: 'inherit' | 'ignore' } = {}): ChildProcess {
  const args = [join(here, '..', 'bin', 'prover.js'), '--operator', operatorUrl, '--id', id, '--parent-pid', String(process.pid), ...(opts.cacheDir ? ['--cache-dir', opts.cacheDir] : [])];
  return spawn(process.execPath, args, { stdio: opts.stdio ?? 'ignore' });
}
