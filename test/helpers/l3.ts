/**
 * Action-test actors for an L3: a rollup whose parent is the optimistic L2 of a RollupWorld.
 * The L2 runtime hosts the L3's settlement modules (op_bridge/902, op_inbox/902,
 * op_disputes/902) beside the token and AMM modules; the L3 runs the token and AMM modules
 * too. L3 roles reach the L2 through `ParentRollupClient` (reads from an L2 node, sends to the
 * L2 sequencer), exactly as L2 roles reach the L1.
 */
import { appModules, AMM_ACCOUNT, getToken, tokenBalance } from '@strata/apps';
import {
  BatcherService,
  bondAddress,
  ChallengerService,
  defaultRollupConfig,
  escrowAddress,
  getWithdrawal,
  l1OriginClock,
  parentModules,
  ParentRollupClient,
  ProposerService,
  readWithdrawalState,
  RollupNode,
  withdrawalCount,
  type ChallengerOptions,
  type ProposerOptions,
  type RollupConfig,
  type SequencerOptions,
} from '@strata/optimistic';
import { encodeTx, getAccount, getSupply, type SignedTx } from '@strata/runtime';
import { keys, RollupWorld } from './optimistic.js';

const silent = { info() {}, warn() {}, debug() {} };

/** The L3's rollup config (its parent is the L2 of chain id 901). */
export function l3Config(over: Partial<RollupConfig> = {}): RollupConfig {
  // Forced inclusion on an L2 parent is a call (`op_inbox.includeForced`): the L2 runs no end-of-block hooks.
  return defaultRollupConfig({ rollupId: 902, l2AddressPrefix: 'sx', batcher: keys[1]!.address, challengeWindow: 8, clockBlocks: 8, sequencingWindow: 6, forcedInclusion: 'call', l2Modules: appModules(), ...over });
}

/** L1 + L2 (RollupWorld) + L3 on the L2. */
export class L3World {
  readonly l3cfg: RollupConfig;
  readonly w: RollupWorld;
  readonly seq: RollupNode;
  readonly ver: RollupNode;
  readonly batcher: BatcherService;
  readonly proposer: ProposerService;
  readonly challenger: ChallengerService;
  readonly l2client: ParentRollupClient;
  readonly l3Addresses: Uint8Array[];
  /** Tokens whose L3 supply is checked against tracked balances after every L3 block. */
  readonly l3Tokens: Uint8Array[] = [];
  now = 1_700_000_000_000;
  l3Blocks = 0;

  constructor(opts: { proposer?: Partial<ProposerOptions>; challenger?: Partial<ChallengerOptions>; l3?: Partial<RollupConfig>; l3Sequencer?: SequencerOptions; l2Sequencer?: SequencerOptions; forceAfterL1Blocks?: number } = {}) {
    this.l3cfg = l3Config(opts.l3);
    this.w = new RollupWorld({ rollup: { l2Modules: [...appModules(), ...parentModules(this.l3cfg, { clock: l1OriginClock })] }, sequencer: { heartbeatMs: 1, ...opts.l2Sequencer } });
    // The L2 now also holds the L3's escrow and bonds.
    this.w.l2Addresses.push(escrowAddress(this.l3cfg.rollupId), bondAddress(this.l3cfg.rollupId));
    this.w.l2Burned = (node) => {
      let n = 0n;
      for (let b = 1; b <= node.safeHead; b++) {
        for (const r of node.chain.get(b)?.results ?? []) {
          // Each burn is reported once: when a defender loses, or when the defender wins.
          for (const e of r.events) if ((e.type === 'defenderLost' || (e.type === 'gameResolved' && e.data.winner === 'defender')) && e.data.burned) n += BigInt(e.data.burned as string);
        }
      }
      return n;
    };
    this.l2client = new ParentRollupClient(this.w.seqNode, this.l3cfg);
    this.seq = new RollupNode({ rollup: this.l3cfg, sequencer: opts.l3Sequencer ?? {} }, this.l2client);
    // The L3 verifier reads the L2 as the L2's own verifier derived it from L1 data.
    this.ver = new RollupNode({ rollup: this.l3cfg }, new ParentRollupClient(this.w.verNode, this.l3cfg, this.w.seqNode, opts.forceAfterL1Blocks === undefined ? {} : { forceAfterL1Blocks: opts.forceAfterL1Blocks }));
    this.batcher = new BatcherService(this.seq, { key: keys[1]!, maxBatchBytes: 100_000 }, silent);
    this.proposer = new ProposerService(this.seq, { key: keys[1]!, interval: 1, ...opts.proposer }, silent);
    this.challenger = new ChallengerService(this.ver, { key: keys[2]!, ...opts.challenger }, silent);
    this.l3Addresses = [...keys.map((k) => k.address), this.l3cfg.l2FeeRecipient, AMM_ACCOUNT];
  }

  /** One L2 block (sealing whatever the L2 pool holds), then the L3 nodes follow it. */
  async l2Block(): Promise<void> {
    await this.w.sequence();
    await this.seq.syncL1();
    await this.ver.syncL1();
  }

  /** The L2 batcher posts to L1, L1 mines (conservation on L1 and L2 checked), everyone derives. */
  async l2Batch(): Promise<void> {
    await this.w.batch();
    await this.seq.syncL1();
    await this.ver.syncL1();
  }

  /** Sends an L3 transaction and seals an L3 block. */
  async l3Send(tx: SignedTx): Promise<void> {
    this.seq.submitTx(encodeTx(tx));
    await this.l3Seal();
  }

  /** The L3 sequencer seals a block (deposits queued on the L2 included); conservation checked. */
  async l3Seal(): Promise<void> {
    await this.seq.syncL1();
    this.now = Math.max(this.now + 100, this.w.seqNode.chain.head.timestamp);
    if (this.seq.sequence(this.now)) this.l3Blocks++;
    this.checkL3();
    this.w.afterBlock?.();
  }

  /**
   * One round of L3 roles: batcher, proposer, challenger post to the L2, an L2 block carries
   * them, and the L2's batch lands on the L1 (so the L2 verifier, which the L3 challenger
   * reads, derives it from L1 data).
   */
  async l3Roles(): Promise<void> {
    await this.seq.syncL1();
    await this.ver.syncL1();
    await this.batcher.tick();
    await this.proposer.tick();
    await this.challenger.tick();
    await this.l2Block();
    await this.l2Batch();
  }

  /**
   * L3 conservation after every block: coins are all in tracked accounts and equal the supply,
   * which equals the L3 escrow on the L2 minus withdrawals in flight and deposits not yet in;
   * every token's supply equals its tracked balances.
   */
  checkL3(): void {
    for (const node of [this.seq]) {
      const r = node.chain.reader();
      const supply = getSupply(r);
      const sum = this.l3Addresses.reduce((n, a) => n + getAccount(r, a).balance, 0n);
      if (sum !== supply) throw new Error(`L3 conservation broken: balances ${sum} != supply ${supply}`);
      const l2r = this.w.seqNode.chain.reader();
      let inFlight = 0n;
      for (let id = 0; id < withdrawalCount(r); id++) {
        const wd = getWithdrawal(r, id);
        if (wd && !readWithdrawalState(l2r, this.l3cfg.rollupId, id).finalized) inFlight += wd.amount;
      }
      let queued = 0n;
      for (const op of node.derivation.delayedOps(node.chain.delayedRead)) if (op[0] === 2) queued += 1n; // counted below exactly
      const escrow = getAccount(l2r, escrowAddress(this.l3cfg.rollupId)).balance;
      if (queued === 0n && supply + inFlight !== escrow) throw new Error(`L3 supply ${supply} + in flight ${inFlight} != escrow on L2 ${escrow}`);
      if (supply + inFlight > escrow) throw new Error(`L3 supply ${supply} + in flight ${inFlight} exceeds escrow on L2 ${escrow}`);
      for (const id of this.l3Tokens) {
        const t = getToken(r, id);
        const held = this.l3Addresses.reduce((n, a) => n + tokenBalance(r, id, a), 0n);
        if (!t || held !== t.supply) throw new Error(`L3 token conservation broken: balances ${held} != supply ${t?.supply}`);
      }
    }
  }

  close(): void {
    this.w.close();
  }
}
