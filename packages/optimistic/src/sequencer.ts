/** The sequencer service: follows L1 and seals an L2 block every `blockTimeMs` (soft confirmations). */
import type { RollupLogger } from './derivation.js';
import { Driver } from './driver.js';
import type { L2Block } from './l2-chain.js';
import type { RollupNode } from './rollup-node.js';

/** Sequencer service settings. */
export interface SequencerServiceOptions {
  /** L2 block interval (default 250 ms). */
  blockTimeMs?: number;
  /** Clock (ms); injectable for tests. */
  now?: () => number;
}

/** Drives a sequencing RollupNode. */
export class SequencerService {
  private readonly driver: Driver;
  private readonly now: () => number;
  constructor(
    readonly node: RollupNode,
    opts: SequencerServiceOptions,
    private readonly log: RollupLogger,
  ) {
    this.now = opts.now ?? Date.now;
    this.driver = new Driver('sequencer', opts.blockTimeMs ?? 250, () => this.tick().then(() => {}), log, () => node.metrics.roleErrors.inc({ role: 'sequencer' }));
  }
  /** One iteration: follow L1, then seal a block if there is anything to include. */
  async tick(): Promise<L2Block | undefined> {
    await this.node.syncL1();
    const b = this.node.sequence(this.now());
    if (b) this.log.info({ l2Block: b.number, ops: b.allOps.length, stateRoot: Buffer.from(b.stateRoot).toString('hex').slice(0, 16) }, 'L2 block sequenced');
    return b;
  }
  start(): void {
    this.driver.start();
  }
  stop(): Promise<void> {
    return this.driver.stop();
  }
}
