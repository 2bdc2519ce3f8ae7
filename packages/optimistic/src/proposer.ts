/**
 * The proposer: every `interval` L2 blocks it posts the state root at the end of the latest
 * batch on L1, with its bond, and defends its roots in dispute games by posting midpoint roots
 * from its trace. `malicious` (devnet demo and tests) makes every k-th root wrong: the trace
 * credits the proposer one unit at an operation two thirds into the range, so a challenger has
 * something to find by bisection.
 */
import { bytesEqual, encode, toHex, type KeyPair } from '@strata/primitives';
import { getAccount, putAccount } from '@strata/runtime';
import { LayeredNodeReader, MemoryNodeStore, OverlayView, SparseMerkleTree, TreeReader } from '@strata/state';
import type { RollupLogger } from './derivation.js';
import { Driver } from './driver.js';
import { DefendArgs, GAME_OPEN, OUTPUT_DISCARDED, OutputRefArgs, ProposeArgs, TURN_PROPOSER, type OutputRecord } from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';
import { applyL2Op } from './stf.js';
import { GameTracker } from './game-tracker.js';
import { TxTracker } from './tx-tracker.js';

/** Proposer settings. */
export interface ProposerOptions {
  key: KeyPair;
  /** Propose once at least this many L2 blocks passed since the last output (default 4). */
  interval?: number;
  /** Every k-th proposal carries a wrong root (0 = honest; default 0). */
  maliciousEvery?: number;
  /** Stop defending games (tests: an unresponsive proposer). */
  unresponsive?: boolean;
  intervalMs?: number;
  /** L1 blocks to wait for a proposal to land before proposing again (default 3). */
  retryAfterL1Blocks?: number;
  /**
   * Propose fewer than `interval` new L2 blocks once the last output is this many L1 blocks old
   * (default 4), so a quiet chain's last withdrawals still get a root to be proven against.
   */
  maxWaitL1Blocks?: number;
  /** Log game openings and resolutions at info (default false: the challenger reports them). */
  logGames?: boolean;
}

/** Compute a proposal and a defence declare. */
export const PROPOSE_COMPUTE = 6_000;
/** Compute an `advanceFinality` call declares (up to 32 outputs read). */
export const ADVANCE_COMPUTE = 40_000;
export const MOVE_COMPUTE = 6_000;

/** The proposer service. */
export class ProposerService {
  private readonly driver: Driver;
  private proposals = 0;
  private inFlight: { countBefore: number; sentAt: number } | undefined;
  /** Batch index of a wrong parent output already reported in the log. */
  private warnedParent: number | undefined;
  /** Wrong traces by batch index: roots after each operation from `lo`. */
  private readonly faulty = new Map<number, { lo: number; roots: Uint8Array[] }>();
  /** Tree nodes of every wrong trace (see `faultyTrace`). */
  private readonly traceNodes = new MemoryNodeStore();
  private readonly games: GameTracker;
  private readonly txs: TxTracker;

  constructor(
    readonly node: RollupNode,
    readonly opts: ProposerOptions,
    private readonly log: RollupLogger,
  ) {
    this.games = new GameTracker(node, log, 'proposer', opts.logGames ?? false);
    this.txs = new TxTracker(node, log, 'proposer', opts.retryAfterL1Blocks ?? 3);
    this.driver = new Driver(
      'proposer',
      opts.intervalMs ?? 500,
      () => this.tick(),
      log,
      () => node.metrics.roleErrors.inc({ role: 'proposer' }),
    );
  }

  /** One iteration: propose if due, then answer every game waiting on us. */
  async tick(): Promise<void> {
    await this.txs.reconcile();
    await this.maybePropose();
    await this.defend();
    await this.moveFinality();
  }

  /**
   * On a parent without end-of-block hooks (`forcedInclusion: 'call'`, an L2) the finality
   * cursor moves only by calls: when the output at the cursor is past its window, undisputed
   * (or discarded), ask the parent to move it, so withdrawals against later outputs can finalize
   * (a finalize call alone moves it by at most `FINALITY_STEPS_PER_CALL`).
   */
  private async moveFinality(): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    if (cfg.forcedInclusion !== 'call') return;
    const meta = await node.l1.outputsMeta();
    if (meta.finalCursor >= meta.count) return;
    const o = await node.l1.output(meta.finalCursor);
    if (!o) return;
    if (o.status !== OUTPUT_DISCARDED && (o.openGames > 0 || node.l1Status.clock < o.l1Height + cfg.challengeWindow)) return;
    const args = encode(OutputRefArgs, { rollupId: cfg.rollupId, outputIndex: meta.finalCursor });
    if (
      await this.txs.send(
        `finality:${meta.finalCursor}`,
        this.opts.key,
        node.modules.disputes,
        'advanceFinality',
        args,
        ADVANCE_COMPUTE,
        `advance finality from output ${meta.finalCursor}`,
      )
    ) {
      this.log.info({ from: meta.finalCursor }, 'finality cursor advance requested (parent without end-of-block hooks)');
    }
  }

  private async lastLive(): Promise<{ count: number; batchIndex: number; l2Block: number; opEnd: number; root: Uint8Array; l1Height: number }> {
    const meta = await this.node.l1.outputsMeta();
    if (meta.lastLive === 0) return { count: meta.count, batchIndex: -1, l2Block: 0, opEnd: 0, root: new Uint8Array(32), l1Height: 0 };
    const o = (await this.node.l1.output(meta.lastLive - 1)) as OutputRecord;
    return { count: meta.count, batchIndex: o.batchIndex, l2Block: o.l2Block, opEnd: o.opEnd, root: o.stateRoot, l1Height: o.l1Height };
  }

  /** Proposes an output if one is due; resolves with the batch index proposed. */
  async maybePropose(): Promise<number | undefined> {
    const node = this.node;
    const last = await this.lastLive();
    if (this.inFlight) {
      if (last.count > this.inFlight.countBefore || node.l1Status.height >= this.inFlight.sentAt + (this.opts.retryAfterL1Blocks ?? 3))
        this.inFlight = undefined;
      else return undefined;
    }
    const d = node.derivation;
    // Never build on a parent root this node did not derive: a game against the new output
    // starts from the parent's root, so its honest defender would lose the one-step proof (and
    // its bond) to whoever challenges it. Wait until the wrong parent is discarded.
    if (last.count > 0 && last.opEnd > 0 && !this.faulty.has(last.batchIndex)) {
      if (node.safeHead < last.l2Block) return undefined;
      const parentRoot = node.chain.rootAfterOps(last.opEnd);
      if (!parentRoot || !bytesEqual(parentRoot, last.root)) {
        if (this.warnedParent !== last.batchIndex) {
          this.warnedParent = last.batchIndex;
          this.log.warn(
            { batchIndex: last.batchIndex, claimed: toHex(last.root), local: parentRoot ? toHex(parentRoot) : null },
            'last live output root differs from the local derivation: not proposing on top of it until it is discarded',
          );
        }
        return undefined;
      }
    }
    let pick: number | undefined;
    // The output's age in the clock it was stamped with (the parent's settlement clock: the L1
    // origin on an L2, whose own height runs ahead at the sequencer's will).
    const stale = node.l1Status.clock >= last.l1Height + (this.opts.maxWaitL1Blocks ?? 4);
    for (let b = d.meta.batchCount - 1; b > last.batchIndex; b--) {
      const rec = d.batch(b);
      if (!rec) continue;
      const end = rec.firstBlock + rec.blockCount - 1;
      if (end <= node.safeHead && (end >= last.l2Block + (this.opts.interval ?? 4) || (stale && end > last.l2Block))) {
        pick = b;
        break;
      }
    }
    if (pick === undefined) return undefined;
    const rec = d.batch(pick) as NonNullable<ReturnType<typeof d.batch>>;
    const opEnd = rec.firstOp + rec.opCount;
    let root = node.chain.rootAfterOps(opEnd);
    if (!root) return undefined;
    this.proposals++;
    const k = this.opts.maliciousEvery ?? 0;
    if (k > 0 && this.proposals % k === 0 && opEnd > last.opEnd) {
      const trace = this.faultyTrace(last.opEnd, opEnd, last.root);
      this.faulty.set(pick, trace);
      root = trace.roots[trace.roots.length - 1] as Uint8Array;
      this.log.warn(
        { batchIndex: pick, l2Block: rec.firstBlock + rec.blockCount - 1, faultAt: trace.lo + Math.floor(((opEnd - last.opEnd) * 2) / 3) },
        'MALICIOUS proposer: posting a wrong output root',
      );
    }
    const args = encode(ProposeArgs, { rollupId: node.opts.rollup.rollupId, batchIndex: pick, stateRoot: root });
    await node.l1.send(this.opts.key, node.modules.disputes, 'propose', args, PROPOSE_COMPUTE);
    this.inFlight = { countBefore: last.count, sentAt: node.l1Status.height };
    node.metrics.outputsProposed.inc();
    this.log.info({ batchIndex: pick, l2Block: rec.firstBlock + rec.blockCount - 1, opEnd, stateRoot: toHex(root) }, 'output root proposed');
    return pick;
  }

  /** Roots after each operation in (lo, hi] with one wrong operation injected. */
  private faultyTrace(lo: number, hi: number, anchorRoot: Uint8Array): { lo: number; roots: Uint8Array[] } {
    const chain = this.node.chain;
    // Every wrong trace's nodes are kept: the next wrong output is built on the last one's
    // root, which no honest store holds (a fresh store per trace made the second stacked wrong
    // root fail with STATE_MISSING_NODE, so no dispute opened). A dev-only actor: the nodes of
    // a few hundred operations per wrong output.
    const mem = this.traceNodes;
    const nodes = new LayeredNodeReader(mem, chain.nodes);
    const tree = new SparseMerkleTree(nodes);
    const traceLocs = {
      next: 2 ** 47,
      begin(): number {
        return this.next;
      },
      end(n: number): void {
        this.next = n;
      },
    };
    const fault = lo + Math.floor(((hi - lo) * 2) / 3);
    let root = lo === 0 ? (chain.rootAfterOps(0) as Uint8Array) : anchorRoot;
    const roots: Uint8Array[] = [];
    for (let i = lo; i < hi; i++) {
      const b = chain.blockOfOp(i);
      if (!b) break;
      const view = new OverlayView(new TreeReader(nodes, root));
      applyL2Op(view, chain.env, { number: b.number, timestamp: b.timestamp }, b.allOps[i - b.firstOp] as Uint8Array);
      if (i === fault) {
        const a = getAccount(view, this.opts.key.address);
        putAccount(view, this.opts.key.address, { ...a, balance: a.balance + 1n });
      }
      // Storage form: the new nodes keep the locations of the stored children they point at
      // (a stored node is found by its location, not its hash); their own are never stored.
      const up = tree.update(root, view.changes(), { locs: traceLocs });
      mem.addAll(up.newNodes);
      root = up.root;
      roots.push(root);
    }
    return { lo, roots };
  }

  private rootFor(batchIndex: number, ops: number): Uint8Array | undefined {
    const f = this.faulty.get(batchIndex);
    if (f && ops > f.lo) return f.roots[ops - f.lo - 1];
    return this.node.chain.rootAfterOps(ops);
  }

  private async defend(): Promise<void> {
    if (this.opts.unresponsive) return;
    for (const { id, game } of await this.games.poll()) {
      if (game.status !== GAME_OPEN || game.turn !== TURN_PROPOSER || !bytesEqual(game.proposer, this.opts.key.address)) continue;
      const out = (await this.node.l1.output(game.outputIndex)) as OutputRecord;
      const mid = Math.floor((game.lo + game.hi) / 2);
      const root = this.rootFor(out.batchIndex, mid);
      if (!root) continue;
      const args = encode(DefendArgs, { rollupId: this.node.opts.rollup.rollupId, gameId: id, root });
      if (
        !(await this.txs.send(
          `move:${id}:${game.moves}:${game.defenses}`,
          this.opts.key,
          this.node.modules.disputes,
          'defend',
          args,
          MOVE_COMPUTE,
          `defend game ${id}`,
        ))
      )
        continue;
      this.node.metrics.gameMoves.inc({ role: 'proposer' });
      this.log.info(
        { gameId: id, move: game.moves + 1, by: 'proposer', kind: 'midpoint root', range: [game.lo, game.hi], mid, root: toHex(root) },
        'dispute move',
      );
    }
  }

  start(): void {
    this.driver.start();
  }
  stop(): Promise<void> {
    return this.driver.stop();
  }
}
