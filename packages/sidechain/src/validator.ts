/**
 * The validator service: one sidechain node — a StrataNode running the same runtime as the
 * parent (bank) plus `sc_bridge`, with the BFT engine as its block production, the libp2p
 * network, the standard JSON-RPC plus `sidechain_*` methods, the parent deposit watcher and
 * (optionally) the checkpoint relayer. `start()` / `stop()`; one per process in a launch.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NodeMetrics, StrataNode, startRpc } from '@strata/node';
import { toHex, type KeyPair } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import { bankModule, type Module } from '@strata/runtime';
import { sidechainBridgeModule } from './bridge.js';
import { BftEngine } from './engine.js';
import { DepositWatcher, L1Client } from './l1-client.js';
import { SidechainMetrics } from './metrics.js';
import { BftNetwork } from './network.js';
import { FileSignStateStore, PrivValidator } from './privval.js';
import { CheckpointRelayer } from './relayer.js';
import { sidechainRpcMethods } from './rpc.js';
import type { SidechainSpec } from './spec.js';
import type { ValidatorKeys } from './keys.js';

/** The runtime modules of every sidechain (the L1's bank plus the bridge's sidechain half). */
export function sidechainModules(): Module[] {
  return [bankModule, sidechainBridgeModule];
}

/** Options of a validator (or, without keys, a full node). */
export interface ValidatorServiceOptions {
  spec: SidechainSpec;
  /** This validator's directory: `chain/` (node data), `consensus/` (certificates, lock), `privval.json`. */
  dir: string;
  /** Without keys the node follows the chain as a full node. */
  keys?: ValidatorKeys;
  /** Parent chain JSON-RPC (deposits, checkpoints). */
  l1Url?: string;
  /** Parent-chain key of the checkpoint relayer (omit to not relay). */
  relayerKey?: KeyPair;
  host?: string;
  /** RPC port (0 = free port). */
  rpcPort?: number;
  /** libp2p listen address (default loopback, free port). */
  p2pListen?: string[];
  bootnodes?: string[];
  rebroadcastMs?: number;
}

/** A running validator. */
export class ValidatorService {
  node!: StrataNode;
  engine!: BftEngine;
  network!: BftNetwork;
  rpc!: RpcServer;
  relayer: CheckpointRelayer | undefined;
  watcher: DepositWatcher | undefined;
  readonly metrics: SidechainMetrics;
  privval: PrivValidator | undefined;

  constructor(
    readonly opts: ValidatorServiceOptions,
    private readonly log: Logger,
  ) {
    this.nodeMetrics = new NodeMetrics();
    this.metrics = new SidechainMetrics(this.nodeMetrics.registry);
  }
  private readonly nodeMetrics: NodeMetrics;

  get rpcUrl(): string {
    return this.rpc.url;
  }

  async start(): Promise<void> {
    const { spec, dir, keys } = this.opts;
    mkdirSync(dir, { recursive: true });
    const l1 = this.opts.l1Url ? new L1Client(this.opts.l1Url) : undefined;
    this.privval = keys ? new PrivValidator(spec.chainId, keys.ed, keys.bls, new FileSignStateStore(join(dir, 'privval.json'))) : undefined;
    this.watcher = l1 ? new DepositWatcher({ chainId: spec.chainId }, l1, this.log.child({ role: 'deposits' }), this.metrics) : undefined;
    this.network = new BftNetwork({ dataDir: join(dir, 'p2p'), listen: this.opts.p2pListen ?? ['/ip4/127.0.0.1/tcp/0'], bootnodes: this.opts.bootnodes ?? [] }, this.log);
    const engine = new BftEngine(
      {
        spec,
        consensusDir: join(dir, 'consensus'),
        ...(this.privval ? { privval: this.privval } : {}),
        ...(keys ? { producerKey: keys.producer } : {}),
        ...(this.watcher ? { deposits: this.watcher } : {}),
        ...(this.opts.rebroadcastMs ? { rebroadcastMs: this.opts.rebroadcastMs } : {}),
      },
      this.network,
      this.log.child({ role: 'bft' }),
      this.metrics,
    );
    this.engine = engine;
    mkdirSync(join(dir, 'consensus'), { recursive: true });
    this.node = await StrataNode.create(
      { dataDir: join(dir, 'chain'), config: spec.chain, modules: sidechainModules(), mining: 'off', engine, ...(keys ? { producer: keys.producer.address } : {}), verifierThreads: 1 },
      { logger: this.log, metrics: this.nodeMetrics },
    );
    this.node.network = this.network;
    await this.node.start();
    this.rpc = await startRpc(this.node, { host: this.opts.host ?? '127.0.0.1', port: this.opts.rpcPort ?? 0 });
    this.rpc.registerAll(sidechainRpcMethods(this.node, engine, spec, () => ({ l1: this.opts.l1Url ?? null, p2p: this.network.info() })));
    this.watcher?.start();
    if (l1 && this.opts.relayerKey) {
      this.relayer = new CheckpointRelayer({ chainId: spec.chainId, key: this.opts.relayerKey }, this.node, engine, l1, this.log.child({ role: 'relayer' }), this.metrics);
      engine.onEvidence = (ev) => this.relayer?.reportEvidence(ev);
      this.relayer.start();
    }
    this.log.info({ rpc: this.rpc.url, validator: engine.index, producer: keys ? toHex(keys.producer.address) : null }, 'sidechain validator started');
  }

  async stop(): Promise<void> {
    this.relayer?.stop();
    this.watcher?.stop();
    await this.rpc?.stop();
    await this.node?.stop();
  }
}
