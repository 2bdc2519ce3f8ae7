/**
 * The challenger: anyone can run it. It re-derives the L2 chain from L1 data alone (its node is
 * a verifier), compares every output root on L1 with its own, opens a game against each wrong
 * one, answers every midpoint by comparing with its own intermediate roots, and at the last step
 * submits the one-step proof (the operation, its Merkle proof against the batch commitment, and
 * the state witness). It also claims timeouts. `dishonest` (tests) disputes correct roots.
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
  ChallengeArgs,
  GameRefArgs,
  OUTPUT_DISCARDED,
  StepArgs,
  TURN_CHALLENGER,
  TURN_PROPOSER,
  type GameRecord,
} from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';

/** Challenger settings. */
export interface ChallengerOptions {
  key: KeyPair;
  /** Tests: dispute correct roots and disagree with every midpoint. */
  dishonest?: boolean;
  /** Tests: open games but never move again. */
  unresponsive?: boolean;
  intervalMs?: number;
}

/** Compute declared by moves and by the one-step proof. */
export const CHALLENGE_COMPUTE = 8_000;
export const STEP_COMPUTE_BASE = 60_000;

/** The challenger service. */
export class ChallengerService {
  private readonly driver: Driver;
  private checked = 0;
  private readonly challenged = new Set<number>();
  private readonly moved = new Set<string>();
  private readonly games: GameTracker;

  constructor(
    readonly node: RollupNode,
    readonly opts: ChallengerOptions,
    private readonly log: RollupLogger,
  ) {
    this.games = new GameTracker(node, log, 'challenger', true);
    this.driver = new Driver('challenger', opts.intervalMs ?? 500, () => this.tick(), log, () => node.metrics.roleErrors.inc({ role: 'challenger' }));
  }

  /** One iteration: follow L1, check new outputs, play every open game. */
  async tick(): Promise<void> {
    await this.node.syncL1();
    await this.checkOutputs();
    await this.play();
  }

  private async checkOutputs(): Promise<void> {
    const node = this.node;
    const meta = await node.l1.outputsMeta();
    const cfg = node.opts.rollup;
    while (this.checked < meta.count) {
      const i = this.checked;
      const out = await node.l1.output(i);
      if (!out) break;
      if (out.status === OUTPUT_DISCARDED) {
        this.checked++;
        continue;
      }
      if (node.safeHead < out.l2Block) break; // not derived that far yet
      const local = node.chain.rootAfterOps(out.opEnd);
      const wrong = !local || !bytesEqual(local, out.stateRoot);
      if ((wrong || this.opts.dishonest) && node.l1Status.height < out.l1Height + cfg.challengeWindow && !this.challenged.has(i)) {
        await node.l1.send(this.opts.key, node.modules.disputes, 'challenge', encode(ChallengeArgs, { rollupId: cfg.rollupId, outputIndex: i }), CHALLENGE_COMPUTE);
        this.challenged.add(i);
        node.metrics.gamesOpened.inc();
        this.log.warn(
          { outputIndex: i, l2Block: out.l2Block, claimed: toHex(out.stateRoot), local: local ? toHex(local) : null, bond: cfg.challengerBond.toString(), honest: !this.opts.dishonest },
          wrong ? 'wrong output root: challenging it (dispute game opens when L1 includes the challenge)' : 'DISHONEST challenger: challenging a correct output root',
        );
      } else if (!wrong) {
        this.log.debug({ outputIndex: i, l2Block: out.l2Block }, 'output root matches the local derivation');
      }
      this.checked++;
    }
  }

  private async play(): Promise<void> {
    const node = this.node;
    const cfg = node.opts.rollup;
    const height = node.l1Status.height;
    for (const { id, game } of await this.games.poll()) {
      const mine = bytesEqual(game.challenger, this.opts.key.address);
      const moverClock = (game.turn === TURN_PROPOSER ? game.proposerClock : game.challengerClock) + (height + 1 - game.lastMove);
      const opponentToMove = mine ? game.turn === TURN_PROPOSER : game.turn === TURN_CHALLENGER;
      if (moverClock > cfg.clockBlocks && (opponentToMove || !mine)) {
        const tag = `${id}:timeout`;
        if (!this.moved.has(tag)) {
          this.moved.add(tag);
          await node.l1.send(this.opts.key, node.modules.disputes, 'timeout', encode(GameRefArgs, { rollupId: cfg.rollupId, gameId: id }), CHALLENGE_COMPUTE);
          this.log.info({ gameId: id, by: 'challenger', kind: 'timeout', timedOut: game.turn === TURN_PROPOSER ? 'proposer' : 'challenger' }, 'dispute move');
        }
        continue;
      }
      if (!mine || game.turn !== TURN_CHALLENGER || this.opts.unresponsive) continue;
      const tag = `${id}:${game.moves}`;
      if (this.moved.has(tag)) continue;
      if (game.hi - game.lo === 1) {
        if (await this.step(id, game)) this.moved.add(tag);
        continue;
      }
      const mid = Math.floor((game.lo + game.hi) / 2);
      const local = node.chain.rootAfterOps(mid);
      if (!local) continue;
      const agree = !this.opts.dishonest && bytesEqual(local, game.midRoot);
      await node.l1.send(this.opts.key, node.modules.disputes, 'bisect', encode(BisectArgs, { rollupId: cfg.rollupId, gameId: id, agree }), CHALLENGE_COMPUTE);
      this.moved.add(tag);
      node.metrics.gameMoves.inc({ role: 'challenger' });
      this.log.info({ gameId: id, move: game.moves + 1, by: 'challenger', kind: 'bisect', mid, agree, range: agree ? [mid, game.hi] : [game.lo, mid] }, 'dispute move');
    }
  }

  /** Builds and submits the one-step proof of operation `game.lo`. */
  private async step(id: number, game: GameRecord): Promise<boolean> {
    const node = this.node;
    const cfg = node.opts.rollup;
    const sw = node.chain.stepWitness(game.lo);
    const bi = node.derivation.batchOfOp(game.lo);
    if (!sw || bi === undefined) return false;
    const batch = node.derivation.batch(bi);
    if (!batch) return false;
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
    await node.l1.send(this.opts.key, node.modules.disputes, 'step', args, STEP_COMPUTE_BASE + words * 8);
    node.metrics.gameMoves.inc({ role: 'challenger' });
    this.log.info(
      { gameId: id, move: game.moves + 1, by: 'challenger', kind: 'one-step proof', op: game.lo, l2Block: sw.block.number, witnessNodes: sw.witness.length, computed: toHex(sw.postRoot), claimed: toHex(game.rootHi) },
      'dispute move',
    );
    return true;
  }

  start(): void {
    this.driver.start();
  }
  stop(): Promise<void> {
    return this.driver.stop();
  }
}
