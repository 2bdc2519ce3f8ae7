/**
 * The checkpoint relayer: a driver loop that posts every N-th committed sidechain header with
 * its commit certificate to the parent's registry (`sc_registry.checkpoint`), and posts any
 * double-sign evidence the engine saw (`sc_registry.evidence`). Anyone may relay: the parent
 * checks the aggregate signature, not who sent it.
 */
import type { Logger } from 'pino';
import { encodeHeader, type BlockHeader as Header, type Chain } from '@strata/chain';
import type { StrataNode } from '@strata/node';
import { decode, encode, toHex, toStrataError, uint, type KeyPair } from '@strata/primitives';
import type { Certificate } from './messages.js';
import { SET_CHANGES_KEY } from './bridge.js';
import type { BftEngine } from './engine.js';
import type { L1Client } from './l1-client.js';
import { MAX_VALIDATORS, type Evidence } from './messages.js';
import type { SidechainMetrics } from './metrics.js';
import { CHECKPOINT_COMPUTE, CheckpointArgs, EvidenceArgs, SC_REGISTRY_MODULE, SIG_CHECK_COMPUTE } from './registry.js';

/**
 * Encoded `sc_registry.checkpoint` args for a committed sidechain header: the header, its
 * certificate, and the number of parent set changes included at that block with its Merkle
 * proof against the header's state root.
 */
export function checkpointArgs(chain: Pick<Chain, 'proof'>, chainId: number, header: Header, certificate: Certificate): Uint8Array {
  const { value, proof } = chain.proof(SET_CHANGES_KEY, header.stateRoot);
  return encode(CheckpointArgs, { chainId, header: encodeHeader(header), certificate, setChanges: value ? decode(uint, value) : 0, setProof: proof });
}

/**
 * Compute limit of an `evidence` transaction on a sidechain whose parent set has `validators`
 * entries and `unbondings` unbonding entries: the registry may try the vote's index, every set
 * member and the newest unbonding entries (up to MAX_VALIDATORS), one signature check each.
 */
export function evidenceComputeLimit(validators: number, unbondings: number): number {
  return SIG_CHECK_COMPUTE * (validators + Math.min(unbondings, MAX_VALIDATORS) + 1) + 20_000;
}

/** Options of the relayer. */
export interface CheckpointRelayerOptions {
  chainId: number;
  /** Parent-chain key paying for the transactions. */
  key: KeyPair;
  /** Poll interval (default 500 ms). */
  intervalMs?: number;
}

/** The checkpoint (and evidence) relayer. */
export class CheckpointRelayer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly evidence: Evidence[] = [];
  private readonly reported = new Set<string>();
  /** Checkpoints posted by this relayer. */
  posted = 0;

  constructor(
    readonly opts: CheckpointRelayerOptions,
    private readonly node: StrataNode,
    private readonly engine: BftEngine,
    private readonly l1: L1Client,
    private readonly log: Logger,
    private readonly metrics: SidechainMetrics,
  ) {}

  /**
   * Queues double-sign evidence for the parent, once per offender. The offender is known by its
   * key in the set of the vote's height: an index names another validator after a set change.
   */
  reportEvidence(ev: Evidence): void {
    const signer = this.engine.setFor(ev.a.height)?.validators[ev.a.validator];
    const k = signer ? toHex(signer.edPub) : `${ev.a.height}/${ev.a.validator}`;
    if (this.reported.has(k)) return;
    this.reported.add(k);
    this.evidence.push(ev);
  }

  start(): void {
    this.running = true;
    const tick = async () => {
      try {
        await this.step();
      } catch (e) {
        this.metrics.roleErrors.inc({ role: 'relayer' });
        this.log.warn({ err: toStrataError(e).message }, 'relayer step failed');
      }
      if (this.running) this.timer = setTimeout(tick, this.opts.intervalMs ?? 500);
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 500);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One iteration: post pending evidence, then the next checkpoint if it is committed here. */
  async step(): Promise<void> {
    while (this.evidence.length) {
      const ev = this.evidence[0] as Evidence;
      try {
        const s = await this.l1.sidechain(this.opts.chainId);
        const limit = Math.min(evidenceComputeLimit(s?.validators.length ?? MAX_VALIDATORS, s?.unbondings ?? MAX_VALIDATORS), await this.l1.maxBlockCompute());
        const r = await this.l1.sendAndWait(this.opts.key, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: this.opts.chainId, evidence: ev }), limit);
        this.log.warn({ validator: ev.a.validator, l1Block: r.blockNumber }, 'double-sign evidence accepted on the parent: bond slashed');
      } catch (e) {
        this.log.info({ validator: ev.a.validator, err: toStrataError(e).message }, 'evidence not accepted');
      }
      this.evidence.shift();
    }
    const s = await this.l1.sidechain(this.opts.chainId);
    if (!s) return;
    this.metrics.checkpointHeight.set(s.lastCheckpointHeight);
    const next = s.lastCheckpointHeight + s.checkpointInterval;
    if (this.node.chain.head.meta.height < next) return;
    const ref = this.node.chain.blockAt(next);
    const cert = this.engine.certificate(next);
    if (!ref || !cert) return;
    const args = checkpointArgs(this.node.chain, this.opts.chainId, ref.header, cert);
    const r = await this.l1.sendAndWait(this.opts.key, SC_REGISTRY_MODULE, 'checkpoint', args, CHECKPOINT_COMPUTE + 20_000);
    this.posted++;
    this.metrics.checkpointsPosted.inc();
    this.metrics.checkpointHeight.set(next);
    this.log.info({ height: next, l1Block: r.blockNumber, index: s.checkpoints }, 'checkpoint accepted on the parent');
    for (const e of r.events ?? []) {
      if (e.module !== SC_REGISTRY_MODULE) continue;
      if (e.type === 'validatorSetChanged') this.log.info({ height: next, ...e.data }, 'validator set changed on the parent (takes effect on the sidechain after this checkpoint)');
      else if (e.type === 'validatorSetChangeSkipped' || e.type === 'unbonding') this.log.info({ height: next, event: e.type, ...e.data }, 'validator-set change applied on the parent');
    }
  }
}

