/**
 * Follows the dispute games on L1 for a role and logs, once each, when a game opens and how it
 * was resolved: who won and what bond moved. `verbose` roles log at info, the others at debug
 * (the devnet runs proposer and challenger in one process; one account of each game is enough).
 */
import { toHex } from '@strata/primitives';
import type { RollupLogger } from './derivation.js';
import { GAME_CHALLENGER_WON, GAME_OPEN, GAME_PROPOSER_WON, type GameRecord } from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';

/** Polls games; returns the open ones and logs resolutions. */
export class GameTracker {
  private readonly done = new Set<number>();
  private readonly seen = new Set<number>();
  constructor(
    private readonly node: RollupNode,
    private readonly log: RollupLogger,
    private readonly role: string,
    private readonly verbose = true,
  ) {}

  private say(obj: object, msg: string): void {
    if (this.verbose) this.log.info(obj, msg);
    else this.log.debug(obj, msg);
  }

  async poll(): Promise<{ id: number; game: GameRecord }[]> {
    const meta = await this.node.l1.outputsMeta();
    const open: { id: number; game: GameRecord }[] = [];
    const cfg = this.node.opts.rollup;
    for (let id = 0; id < meta.gameCount; id++) {
      if (this.done.has(id)) continue;
      const g = await this.node.l1.game(id);
      if (!g) continue;
      if (!this.seen.has(id)) {
        this.seen.add(id);
        this.say(
          { gameId: id, outputIndex: g.outputIndex, ops: [g.lo, g.hi], challenger: toHex(g.challenger), proposer: toHex(g.proposer), challengerBond: g.bond.toString(), proposerBond: cfg.proposerBond.toString(), clockBlocks: cfg.clockBlocks },
          'dispute game opened',
        );
      }
      if (g.status === GAME_OPEN) {
        open.push({ id, game: g });
        continue;
      }
      this.done.add(id);
      const winner = g.status === GAME_CHALLENGER_WON ? 'challenger' : g.status === GAME_PROPOSER_WON ? 'defender' : 'none';
      const loser = winner === 'challenger' ? 'defender' : winner === 'defender' ? 'challenger' : 'none';
      this.node.metrics.gamesResolved.inc({ winner });
      this.say(
        {
          gameId: id,
          outputIndex: g.outputIndex,
          winner,
          loser,
          winnerAddress: toHex(winner === 'challenger' ? g.challenger : g.proposer),
          moves: g.moves,
          // As the L1 recorded it: the losers' bonds paid to the winner (besides its own bond
          // back), and the share burned.
          bondToWinner: g.payout.toString(),
          bondBurned: g.burned.toString(),
          defendersBeaten: g.defenses,
          outputDiscarded: winner === 'challenger',
          observer: this.role,
        },
        'dispute resolved',
      );
    }
    return open;
  }
}
