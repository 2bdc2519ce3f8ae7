/** Follows the dispute games on L1 for a role and logs each resolution once: who won, what bond moved. */
import { toHex } from '@strata/primitives';
import type { RollupLogger } from './derivation.js';
import { GAME_CHALLENGER_WON, GAME_OPEN, GAME_PROPOSER_WON, type GameRecord } from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';

/** Polls games; returns the open ones and logs resolutions. */
export class GameTracker {
  private readonly done = new Set<number>();
  constructor(
    private readonly node: RollupNode,
    private readonly log: RollupLogger,
    private readonly role: string,
  ) {}

  async poll(): Promise<{ id: number; game: GameRecord }[]> {
    const meta = await this.node.l1.outputsMeta();
    const open: { id: number; game: GameRecord }[] = [];
    const cfg = this.node.opts.rollup;
    for (let id = 0; id < meta.gameCount; id++) {
      if (this.done.has(id)) continue;
      const g = await this.node.l1.game(id);
      if (!g) continue;
      if (g.status === GAME_OPEN) {
        open.push({ id, game: g });
        continue;
      }
      this.done.add(id);
      const winner = g.status === GAME_CHALLENGER_WON ? 'challenger' : g.status === GAME_PROPOSER_WON ? 'proposer' : 'none';
      const loserBond = g.status === GAME_CHALLENGER_WON ? cfg.proposerBond : g.status === GAME_PROPOSER_WON ? g.bond : 0n;
      const burned = (loserBond * BigInt(cfg.bondBurnBps)) / 10_000n;
      this.node.metrics.gamesResolved.inc({ winner });
      this.log.info(
        {
          role: this.role,
          gameId: id,
          outputIndex: g.outputIndex,
          winner,
          moves: g.moves,
          bondToWinner: (loserBond - burned).toString(),
          bondBurned: burned.toString(),
          challenger: toHex(g.challenger),
          proposer: toHex(g.proposer),
        },
        `dispute game ${id} resolved: ${winner} won`,
      );
    }
    return open;
  }
}
