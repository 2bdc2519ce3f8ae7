/**
 * Action-test actors for the optimistic rollup (OP e2e "action tests" style): an L1 miner over
 * a real Chain with the settlement modules, and the L2 roles stepped by hand, in-process.
 */
import { Chain, ChainStore, type Block } from '@strata/chain';
import { bytesEqual, toHex, type KeyPair } from '@strata/primitives';
import {
  BatcherService,
  ChallengerService,
  defaultRollupConfig,
  escrowAddress,
  bondAddress,
  getWithdrawal,
  NodeL1Client,
  parentModules,
  ProposerService,
  readWithdrawalState,
  RollupNode,
  withdrawalCount,
  type ChallengerOptions,
  type ProposerOptions,
  type RollupConfig,
  type SequencerOptions,
} from '@strata/optimistic';
import { bankModule, getAccount, getSupply, ModuleRegistry, verifyRawTx, type VerifiedTx } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { tokenModule } from '@strata/apps';
import { devConfig, keys, tempDir } from './chain.js';

export { keys };

const silent = { info() {}, warn() {}, debug() {} };

/** The L1 "miner" actor: a real chain; transactions wait until `mine()`. */
export class L1Miner {
  readonly chain: Chain;
  pending: VerifiedTx[] = [];
  private readonly cleanup: () => void;
  /**
   * `siblings`: more rollups settled on the same L1 (each with its own chain id). `dir`: keep
   * the L1 chain in this directory (the caller removes it); default a temporary one.
   */
  constructor(
    readonly rollup: RollupConfig,
    readonly siblings: RollupConfig[] = [],
    dir?: string,
  ) {
    const t = dir ? { dir, cleanup: () => {} } : tempDir('strata-op-');
    this.cleanup = t.cleanup;
    const store = new ChainStore(openDatabase({ path: t.dir }));
    // The token module too: tokens are bridged from the L1 (issue 13).
    const modules = [bankModule, tokenModule, ...parentModules(rollup), ...siblings.flatMap((s) => parentModules(s))];
    this.chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry(modules), store);
  }
  submitTx(raw: Uint8Array): VerifiedTx {
    const v = verifyRawTx(raw);
    this.pending.push(v);
    return v;
  }
  /** Drops pending transactions `filter` selects (an L1 pool that loses them); returns how many. */
  drop(filter: (v: VerifiedTx) => boolean): number {
    const before = this.pending.length;
    this.pending = this.pending.filter((v) => !filter(v));
    return before - this.pending.length;
  }
  /** Next nonce of `address` counting its pending transactions (as a node's pool does). */
  nextNonce(address: Uint8Array): number {
    return this.chain.account(address).nonce + this.pending.filter((v) => bytesEqual(v.sender, address)).length;
  }
  /** Mines one block with every pending transaction (optionally only those `filter` keeps). */
  mine(filter: (v: VerifiedTx) => boolean = () => true): Block {
    const take = this.pending.filter(filter);
    this.pending = this.pending.filter((v) => !filter(v));
    const built = this.chain.buildBlock(take, { producer: keys[3]!.address, timestamp: this.chain.head.header.timestamp + 1000 });
    const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    this.chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    return block;
  }
  /**
   * A rival miner on its own store that holds this chain's blocks so far: what it mines next is a
   * competing branch from the current head, imported here with `adopt`.
   */
  fork(): L1Miner {
    const rival = new L1Miner(this.rollup, this.siblings);
    for (let h = 1; h <= this.chain.head.meta.height; h++) {
      const ref = this.chain.blockAt(h)!;
      rival.chain.importBlock({ header: ref.header, txs: this.chain.store.getBody(ref.hash) ?? [] });
    }
    return rival;
  }
  /** Imports a rival's blocks (fork choice decides: the heavier branch becomes the head). */
  adopt(rival: L1Miner, fromHeight: number): { reorged: boolean; orphaned: VerifiedTx[] } {
    let reorged = false;
    const orphaned: VerifiedTx[] = [];
    for (let h = fromHeight; h <= rival.chain.head.meta.height; h++) {
      const ref = rival.chain.blockAt(h)!;
      const r = this.chain.importBlock({ header: ref.header, txs: rival.chain.store.getBody(ref.hash) ?? [] });
      if (r.status === 'reorg') {
        reorged = true;
        orphaned.push(...(r.reorg?.orphaned ?? []));
      }
    }
    return { reorged, orphaned };
  }
  close(): void {
    void this.chain.store.close();
    this.cleanup();
  }
}

/** A whole rollup: L1 miner, sequencer node + batcher + proposer, a verifier node + challenger. */
export class RollupWorld {
  readonly rollup: RollupConfig;
  readonly l1: L1Miner;
  readonly client: NodeL1Client;
  readonly seqNode: RollupNode;
  readonly verNode: RollupNode;
  readonly batcher: BatcherService;
  readonly proposer: ProposerService;
  readonly challenger: ChallengerService;
  now = 1_700_000_000_000;
  /** Addresses whose balances the conservation check sums. */
  readonly l1Addresses: Uint8Array[];
  readonly l2Addresses: Uint8Array[];
  genesisSupply: bigint;
  /** Coins burned on the L2 by its own modules up to a node's safe head (a child rollup's bond burns). */
  l2Burned?: (node: RollupNode) => bigint;

  constructor(opts: { rollup?: Partial<RollupConfig>; sequencer?: SequencerOptions; proposer?: Partial<ProposerOptions>; challenger?: Partial<ChallengerOptions> } = {}) {
    // keys[0] users, keys[1] batcher+proposer, keys[2] challenger, keys[3] L1 block producer.
    this.rollup = defaultRollupConfig({ batcher: keys[1]!.address, challengeWindow: 12, clockBlocks: 6, sequencingWindow: 4, ...opts.rollup });
    this.l1 = new L1Miner(this.rollup);
    this.client = new NodeL1Client(this.l1, this.rollup, (a) => this.l1.nextNonce(a));
    this.seqNode = new RollupNode({ rollup: this.rollup, sequencer: opts.sequencer ?? {} }, this.client);
    this.verNode = new RollupNode({ rollup: this.rollup }, this.client);
    this.batcher = new BatcherService(this.seqNode, { key: keys[1]! }, silent);
    this.proposer = new ProposerService(this.seqNode, { key: keys[1]!, interval: 1, ...opts.proposer }, silent);
    this.challenger = new ChallengerService(this.verNode, { key: keys[2]!, ...opts.challenger }, silent);
    this.l1Addresses = [...keys.map((k) => k.address), escrowAddress(this.rollup.rollupId), bondAddress(this.rollup.rollupId)];
    this.l2Addresses = [...keys.map((k) => k.address), this.rollup.l2FeeRecipient];
    this.genesisSupply = getSupply(this.l1.chain.stateReader);
  }

  /** Mines an L1 block, then checks conservation. */
  mine(filter?: (v: VerifiedTx) => boolean): void {
    this.l1.mine(filter);
    this.checkConservation();
    this.afterBlock?.();
  }

  /** More checks after every L1 block and every sequenced L2 block (e.g. token conservation). */
  afterBlock?: () => void;

  async syncAll(): Promise<void> {
    await this.seqNode.syncL1();
    await this.verNode.syncL1();
  }

  /** Sequencer seals a block (soft confirmation). */
  async sequence(): Promise<void> {
    await this.seqNode.syncL1();
    // L2 time follows L1 time (L1 blocks here are 1 s apart), as a sequencer's clock would.
    this.now = Math.max(this.now + 100, this.l1.chain.head.header.timestamp);
    this.seqNode.sequence(this.now);
    this.afterBlock?.();
  }

  /** Batcher posts, L1 mines, everyone derives. */
  async batch(): Promise<void> {
    await this.seqNode.syncL1();
    await this.batcher.tick();
    this.mine();
    await this.syncAll();
  }

  /** One round of the dispute roles: proposer, challenger, then an L1 block. */
  async roles(): Promise<void> {
    await this.syncAll();
    await this.proposer.tick();
    await this.challenger.tick();
    this.mine();
    await this.syncAll();
  }

  /** Sends an L2 transaction to the sequencer. */
  l2Send(raw: Uint8Array): void {
    this.seqNode.submitTx(raw);
  }

  /**
   * Conservation (issue test 8): every L1 coin is in a tracked account (users, escrow, bonds,
   * producer) and the total equals the supply (genesis minus burned bond shares); the L2
   * supply equals escrow minus withdrawals initiated on L2 and not yet finalized on L1.
   */
  checkConservation(): void {
    const r = this.l1.chain.stateReader;
    const sum = this.l1Addresses.reduce((n, a) => n + getAccount(r, a).balance, 0n);
    const supply = getSupply(r);
    if (sum !== supply) throw new Error(`L1 conservation broken: balances ${sum} != supply ${supply}`);
    if (supply > this.genesisSupply) throw new Error('L1 supply grew');
    for (const node of [this.seqNode, this.verNode]) {
      const safe = node.chain.get(node.safeHead);
      if (!safe) continue;
      const lr = node.chain.reader(safe.stateRoot);
      const l2supply = getSupply(lr);
      const l2sum = this.l2Addresses.reduce((n, a) => n + getAccount(lr, a).balance, 0n);
      if (l2sum !== l2supply) throw new Error(`L2 conservation broken: balances ${l2sum} != supply ${l2supply}`);
      // Deposits derived so far vs escrow: escrow = deposits derived + deposits queued - finalized.
      let inFlight = 0n;
      for (let id = 0; id < withdrawalCount(lr); id++) {
        const w = getWithdrawal(lr, id);
        if (w && !readWithdrawalState(r, this.rollup.rollupId, id).finalized) inFlight += w.amount;
      }
      const escrow = getAccount(r, escrowAddress(this.rollup.rollupId)).balance;
      const queued = this.queuedDeposits(node);
      // Coins burned on the L2 itself (bond shares of a child rollup's games) stay locked in the escrow.
      const burnedOnL2 = this.l2Burned?.(node) ?? 0n;
      if (l2supply + inFlight + queued + burnedOnL2 !== escrow) {
        throw new Error(`L2 supply ${l2supply} + in-flight withdrawals ${inFlight} + deposits not yet on L2 ${queued} != escrow ${escrow} (node ${toHex(node === this.seqNode ? new Uint8Array([1]) : new Uint8Array([2]))})`);
      }
    }
  }

  private queuedDeposits(node: RollupNode): bigint {
    // Deposits on L1 not yet executed in the node's safe chain.
    const safe = node.chain.get(node.safeHead);
    const read = safe ? safe.delayedFrom + safe.delayedReads : 0;
    let n = 0n;
    for (const op of node.derivation.delayedOps(read)) {
      if (op[0] === 2) n += depositAmount(op);
    }
    // Deposits mined on L1 after the node's last sync are counted too.
    return n + this.unsyncedDeposits(node);
  }

  private unsyncedDeposits(node: RollupNode): bigint {
    let n = 0n;
    const from = (node.derivation.l1Tip?.height ?? -1) + 1;
    for (let h = from; h <= this.l1.chain.head.meta.height; h++) {
      const ref = this.l1.chain.blockAt(h)!;
      const receipts = this.l1.chain.receipts(ref.hash) ?? [];
      for (const [i, r] of receipts.entries()) {
        for (const e of r.events) if (e.module === `op_bridge/${this.rollup.rollupId}` && e.type === 'deposit' && receipts[i]?.status === 'ok') n += BigInt(e.data.amount as string);
      }
    }
    return n;
  }

  close(): void {
    this.l1.close();
  }
}

function depositAmount(op: Uint8Array): bigint {
  // kind(1) varint id, from(20), to(20), varint amount
  let p = 1;
  while ((op[p] as number) & 0x80) p++;
  p += 1 + 40;
  let x = 0n;
  let shift = 0n;
  for (;;) {
    const b = op[p++] as number;
    x |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return x;
    shift += 7n;
  }
}

export type { KeyPair };
