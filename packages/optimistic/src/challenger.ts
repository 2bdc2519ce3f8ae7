/**
 * The challenger: anyone can run it. It re-derives the L2 chain from L1 data alone (its node is
 * a verifier), compares every output root on L1 with its own, opens a game against each wrong
 * one, answers every midpoint by comparing with its own intermediate roots, and at the last step
 * submits the one-step proof (the operation, its Merkle proof against the batch commitment, and
 * the state witness). It also claims timeouts, and defends correct roots whose defender lost or
 * went silent (permissionless defence, with a bond).
 *
 * It never fires and forgets: every move is tracked until its L1 receipt is `ok` (`TxTracker`);
 * a move that failed or was dropped is decided again from the game as L1 holds it. All it knows
 * of games comes from L1, so a restarted challenger picks up where it was.
 * `dishonest` (tests) disputes correct roots and disagrees with every midpoint.
 */
import { merkleProof } from '@strata/chain';
import { bytesEqual, encode, toHex, type KeyPair } from '@strata/primitives';
import type { RollupLogger } from './derivation.js';
import { Driver } from './driver.js';
import { GameTracker } from './game-tracker.js';
import type { L2Block } from './l2-chain.js';
import { opHash, opLeaf } from './ops.js';
import {
  BisectArgs,
  challengeBond,
  clockLimit,
  ChallengeArgs,
  DefendArgs,
  defenderSlotEmpty,
  GameRefArgs,
  moverClock,
  OUTPUT_DISCARDED,
  StepArgs,
  takeoverBond,
  TURN_CHALLENGER,
  TURN_PROPOSER,
  type GameRecord,
} from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';
import { TxTracker } from './tx-tracker.js';

/** Challenger settings. */
export interface ChallengerOptions {
  key: KeyPair;
  /** Tests: dispute correct roots and disagree with every midpoint. */
  dishonest?: boolean;
  /** Tests: open games but never move again. */
  unresponsive?: boolean;
  /** Take over the defence of correct roots whose defender lost or went silent (default true). */
  defend?: boolean;
  intervalMs?: number;
  /** L1 blocks to wait for a move to be included before deciding again (default 3). */
  retryAfterL1Blocks?: number;
}

/** Compute declared by moves and by the one-step proof. */
export const CHALLENGE_COMPUTE = 8_000;
export const STEP_COMPUTE_BASE = 60_000;
/**
 * Compute a winning move declares per output it discards (the output and every later one are
 * read, marked and their bonds returned): a dishonest proposer who stacks many outputs on a
 * wrong root must not push the discarding move past a fixed compute limit.
 */
export const DISCARD_COMPUTE_PER_OUTPUT = 1_000;

/** The challenger service. */
export class ChallengerService {
  private readonly driver: Driver;
  private readonly games: GameTracker;
  private readonly txs: TxTracker;
  /** Outputs already judged for good (window closed or discarded): skipped by the scan. */
  private settledBelow = 0;

  constructor(
    readonly node: RollupNode,
    readonly opts: ChallengerOptions,
    private readonly log: RollupLogger,
  ) {
    this.games = new GameTracker(node, log, 'challenger', true);
    this.txs = new TxTracker(node, log, 'challenger', opts.retryAfterL1Blocks ?? 3);
    this.driver = new Driver('challenger', opts.intervalMs ?? 500, () => this.tick(), log, () => node.metrics.roleErrors.inc({ role: 'challenger' }));
  }

  /** Moves sent and not yet included. */
  get inFlight(): number {
    return this.txs.size;
  }

  /** One iteration: follow L1, settle in-flight moves, check outputs, play every open game. */
  async tick(): Promise<void> {
    await this.node.syncL1();
    await this.txs.reconcile();
    const open = await this.games.poll();
    await this.checkOutputs(open.map((g) => g.game));
    await this.play(open);
  }

  private async checkOutputs(open: GameRecord[]): Promise<void> {
    const node = this.node;
    const meta = await node.l1.outputsMeta();
    const cfg = node.opts.rollup;
    const height = node.l1Status.clock; // the parent's settlement clock (its L1 origin on an L2)
    const me = this.opts.key.address;
    for (let i = this.settledBelow; i < meta.count; i++) {
      const out = await node.l1.output(i);
      if (!out) break;
      const windowOpen = height < out.l1Height + cfg.challengeWindow;
      if (out.status === OUTPUT_DISCARDED || !windowOpen) {
        if (i === this.settledBelow) this.settledBelow++;
        continue;
      }
      if (node.safeHead < out.l2Block) break; // not derived that far yet
      const local = node.chain.rootAfterOps(out.opEnd);
      const wrong = !local || !bytesEqual(local, out.stateRoot);
      if (!wrong && !this.opts.dishonest) {
        this.log.debug({ outputIndex: i, l2Block: out.l2Block }, 'output root matches the local derivation');
        continue;
      }
      // Already disputed by us (an open game of ours, as L1 holds it) or a challenge in flight.
      if (open.some((g) => g.outputIndex === i && bytesEqual(g.challenger, me))) continue;
      if (this.opts.dishonest && out.games > 0) continue;
      const bond = challengeBond(cfg, out);
      const sent = await this.txs.send(`challenge:${i}:${out.games}`, this.opts.key, node.modules.disputes, 'challenge', encode(ChallengeArgs, { rollupId: cfg.rollupId, outputIndex: i }), CHALLENGE_COMPUTE, `challenge output ${i}`);
      if (!sent) continue;
      node.metrics.gamesOpened.inc();
      this.log.warn(
        { outputIndex: i, l2Block: out.l2Block, claimed: toHex(out.stateRoot), local: local ? toHex(local) : null, bond: bond.toString(), honest: !this.opts.dishonest },
        wrong ? 'wrong output root: challenging it (dispute game opens when L1 includes the challenge)' : 'DISHONEST challenger: challenging a correct output root',
      );
    }
  }

  private async play(open: { id: number; game: GameRecord }[]): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    const next = node.l1Status.clock + 1; // the clock a move sent now lands at, at the earliest
    const me = this.opts.key.address;
    const outputs = open.length > 0 ? (await node.l1.outputsMeta()).count : 0;
    for (const { id, game } of open) {
      const discard = Math.max(0, outputs - game.outputIndex) * DISCARD_COMPUTE_PER_OUTPUT;
      const mineAsChallenger = bytesEqual(game.challenger, me);
      const mineAsDefender = !defenderSlotEmpty(game) && bytesEqual(game.proposer, me);
      const state = `${id}:${game.moves}:${game.defenses}`;
      // The opponent (or an empty defender slot) ran out of time: claim it.
      const opponentToMove = (mineAsChallenger && game.turn === TURN_PROPOSER) || (mineAsDefender && game.turn === TURN_CHALLENGER);
      if (moverClock(game, next) > clockLimit(cfg, game) && (opponentToMove || (!mineAsChallenger && !mineAsDefender))) {
        if (await this.txs.send(`timeout:${state}`, this.opts.key, node.modules.disputes, 'timeout', encode(GameRefArgs, { rollupId: cfg.rollupId, gameId: id }), CHALLENGE_COMPUTE + discard, `timeout game ${id}`)) {
          this.log.info({ gameId: id, by: 'challenger', kind: 'timeout', timedOut: game.turn === TURN_PROPOSER ? (defenderSlotEmpty(game) ? 'empty defender slot' : 'defender') : 'challenger' }, 'dispute move');
        }
        continue;
      }
      if (this.opts.unresponsive) continue;
      if (mineAsChallenger && game.turn === TURN_CHALLENGER) await this.challengerMove(id, game, state, discard);
      else if (game.turn === TURN_PROPOSER && !mineAsChallenger && (mineAsDefender || (defenderSlotEmpty(game) && (this.opts.defend ?? true)))) await this.defenderMove(id, game, state);
    }
  }

  private async challengerMove(id: number, game: GameRecord, state: string, discard: number): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    if (game.hi - game.lo === 1) {
      await this.step(id, game, state, discard);
      return;
    }
    const mid = Math.floor((game.lo + game.hi) / 2);
    const local = node.chain.rootAfterOps(mid);
    if (!local) return;
    const agree = !this.opts.dishonest && bytesEqual(local, game.midRoot);
    if (await this.txs.send(`move:${state}`, this.opts.key, node.modules.disputes, 'bisect', encode(BisectArgs, { rollupId: cfg.rollupId, gameId: id, agree }), CHALLENGE_COMPUTE, `bisect game ${id}`)) {
      node.metrics.gameMoves.inc({ role: 'challenger' });
      this.log.info({ gameId: id, move: game.moves + 1, by: 'challenger', kind: 'bisect', mid, agree, range: agree ? [mid, game.hi] : [game.lo, mid] }, 'dispute move');
    }
  }

  /** Defends a root this node derived itself: posts its own midpoint roots. */
  private async defenderMove(id: number, game: GameRecord, state: string): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    const out = await node.l1.output(game.outputIndex);
    if (!out || out.status === OUTPUT_DISCARDED || node.safeHead < out.l2Block) return;
    const local = node.chain.rootAfterOps(out.opEnd);
    if (!local || !bytesEqual(local, out.stateRoot)) return; // only correct roots are worth a bond
    // The game starts from the parent output's root: when that root is wrong, a correct output
    // still loses its one-step proof, so a takeover bond would only be lost to the challenger.
    const start = node.chain.rootAfterOps(game.lo);
    if (!start || !bytesEqual(start, game.rootLo)) return;
    const mid = Math.floor((game.lo + game.hi) / 2);
    const root = node.chain.rootAfterOps(mid);
    if (!root) return;
    const takeover = defenderSlotEmpty(game);
    if (await this.txs.send(`move:${state}`, this.opts.key, node.modules.disputes, 'defend', encode(DefendArgs, { rollupId: cfg.rollupId, gameId: id, root }), CHALLENGE_COMPUTE, `defend game ${id}`)) {
      node.metrics.gameMoves.inc({ role: 'challenger' });
      this.log.info(
        { gameId: id, move: game.moves + 1, by: 'challenger', kind: takeover ? 'defence takeover' : 'midpoint root', range: [game.lo, game.hi], mid, root: toHex(root), ...(takeover ? { bond: takeoverBond(cfg, game).toString() } : {}) },
        takeover ? 'defending a correct root whose defender lost or went silent' : 'dispute move',
      );
    }
  }

  /** Builds and submits the one-step proof of operation `game.lo`. */
  private async step(id: number, game: GameRecord, state: string, discard: number): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    const sw = node.chain.stepWitness(game.lo);
    const bi = node.derivation.batchOfOp(game.lo);
    if (!sw || bi === undefined) return;
    const batch = node.derivation.batch(bi);
    if (!batch) return;
    const leaves: Uint8Array[] = [];
    for (let j = batch.firstOp; j < batch.firstOp + batch.opCount; j++) {
      const b = node.chain.blockOfOp(j) as L2Block;
      leaves.push(opLeaf(b.number, b.timestamp, opHash(b.allOps[j - b.firstOp] as Uint8Array)));
    }
    const proof = merkleProof(leaves, game.lo - batch.firstOp);
    const args = encode(StepArgs, {
      rollupId: cfg.rollupId,
      gameId: id,
      batchIndex: bi,
      blockNumber: sw.block.number,
      timestamp: sw.block.timestamp,
      op: sw.op,
      siblings: proof.siblings,
      witness: sw.witness,
    });
    const words = Math.ceil(args.length / 32);
    if (await this.txs.send(`move:${state}`, this.opts.key, node.modules.disputes, 'step', args, STEP_COMPUTE_BASE + words * 8 + discard, `one-step proof game ${id}`)) {
      node.metrics.gameMoves.inc({ role: 'challenger' });
      this.log.info(
        { gameId: id, move: game.moves + 1, by: 'challenger', kind: 'one-step proof', op: game.lo, l2Block: sw.block.number, witnessNodes: sw.witness.length, computed: toHex(sw.postRoot), claimed: toHex(game.rootHi) },
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
