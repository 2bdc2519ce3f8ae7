/**
 * Review r3: disputes over the lmdb-paged L2 store. The malicious proposer's wrong traces are
 * built over its stored chain, and the challenger's node is restarted from its data dir in the
 * middle of a game: its one-step proof must still read every stored node it needs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '@strata/primitives';
import {
  BatcherService,
  ChallengerService,
  DepositArgs,
  GAME_CHALLENGER_WON,
  L2Store,
  OUTPUT_DISCARDED,
  ProposerService,
  readGame,
  readOutput,
  readOutputsMeta,
  RollupNode,
  rollupModuleNames,
  signL2Transfer,
  type GameRecord,
} from '@strata/optimistic';
import { encodeTx } from '@strata/runtime';
import { keys, RollupWorld } from '../helpers/optimistic.js';
import { tempDir } from '../helpers/chain.js';

const silent = { info() {}, warn() {}, debug() {} };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('disputes over the stored L2 chain (review r3)', () => {
  it('a malicious proposer over its lmdb store posts several wrong roots; a challenger restarted from its data dir mid-game still wins every game', async () => {
    const w = new RollupWorld({ proposer: { maliciousEvery: 1 } });
    cleanups.push(() => w.close());
    const seqDir = tempDir('strata-r3-seq-');
    const verDir = tempDir('strata-r3-ver-');
    cleanups.push(seqDir.cleanup, verDir.cleanup);
    const seqStore = new L2Store({ path: seqDir.dir });
    cleanups.push(() => seqStore.close());
    const seq = new RollupNode({ rollup: w.rollup, sequencer: {} }, w.client, { store: seqStore });
    const batcher = new BatcherService(seq, { key: keys[1]! }, silent);
    const proposer = new ProposerService(seq, { key: keys[1]!, interval: 1, maliciousEvery: 1 }, silent);
    let verStore = new L2Store({ path: verDir.dir });
    let ver = new RollupNode({ rollup: w.rollup }, w.client, { store: verStore });
    let challenger = new ChallengerService(ver, { key: keys[2]! }, silent);
    cleanups.push(() => verStore.close());

    const names = rollupModuleNames(w.rollup.rollupId);
    const alice = keys[0]!;
    await w.client.send(alice, names.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 50_000_000n }), 5_000);
    w.l1.mine();
    let nonce = 0;
    let now = w.now;
    const batchOf = async (transfers: number) => {
      await seq.syncL1();
      for (let i = 0; i < transfers; i++) seq.submitTx(encodeTx(signL2Transfer(seq.env, alice.secretKey, nonce++, keys[(i % 3) + 1]!.address, BigInt(10 + i))));
      now = Math.max(now + 100, w.l1.chain.head.header.timestamp);
      seq.sequence(now);
      await batcher.tick();
      w.l1.mine();
      await seq.syncL1();
      await ver.syncL1();
    };
    // Three batches, each proposed at once: three wrong roots, the second and third stacked on
    // the first (their traces start from the proposer's own wrong root).
    for (const n of [6, 5, 7]) {
      await batchOf(n);
      await proposer.tick();
      w.l1.mine();
      await seq.syncL1();
    }
    expect(readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count).toBe(3);
    const game = (id: number) => readGame(w.l1.chain.stateReader, w.rollup.rollupId, id) as GameRecord | undefined;
    let restarted = false;
    let movesAtRestart = -1;
    for (let i = 0; i < 200; i++) {
      await seq.syncL1();
      await proposer.tick();
      await challenger.tick();
      w.l1.mine();
      const g0 = game(0);
      if (!restarted && g0 && g0.moves >= 3) {
        // The challenger's process restarts: a new node over the same data dir, nothing in memory.
        await verStore.close();
        verStore = new L2Store({ path: verDir.dir });
        ver = new RollupNode({ rollup: w.rollup }, w.client, { store: verStore });
        challenger = new ChallengerService(ver, { key: keys[2]! }, silent);
        restarted = true;
        movesAtRestart = g0.moves;
      }
      const meta = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
      let done = meta.count >= 3;
      for (let o = 0; o < Math.min(meta.count, 3); o++) if (readOutput(w.l1.chain.stateReader, w.rollup.rollupId, o)?.status !== OUTPUT_DISCARDED) done = false;
      if (done) break;
    }
    expect(restarted).toBe(true);
    expect(game(0)?.status).toBe(GAME_CHALLENGER_WON);
    // The restarted challenger played on (down to the one-step proof) from its data dir.
    expect(game(0)?.moves).toBeGreaterThan(movesAtRestart);
    // ...and its one-step proof (built from the reopened store) beat the defender.
    const reasons: string[] = [];
    for (let h = 1; h <= w.l1.chain.head.meta.height; h++) {
      const ref = w.l1.chain.blockAt(h)!;
      for (const r of w.l1.chain.receipts(ref.hash) ?? []) for (const e of r.events) if (e.type === 'defenderLost' && e.data.gameId === 0) reasons.push(String(e.data.reason));
    }
    expect(reasons[0]).toMatch(/^one-step proof of operation/);
    for (let o = 0; o < 3; o++) expect(readOutput(w.l1.chain.stateReader, w.rollup.rollupId, o)?.status).toBe(OUTPUT_DISCARDED);
  });
});
