/**
 * The adversarial actor suite (op-e2e "actions" style, issue 8): a malicious proposer and a
 * malicious challenger ("Mallory") try each attack through real, signed L1 transactions executed
 * by a real chain; each attack fails, and the honest roles still win, finalize and get paid.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { merkleProof } from '@strata/chain';
import { encode, type KeyPair } from '@strata/primitives';
import {
  applyL2Op,
  BisectArgs,
  ChallengeArgs,
  ChallengerService,
  DefendArgs,
  DepositArgs,
  FinalizeWithdrawalArgs,
  GAME_CHALLENGER_WON,
  GAME_OPEN,
  GAME_PROPOSER_WON,
  GameRefArgs,
  getWithdrawal,
  opHash,
  opLeaf,
  OUTPUT_DISCARDED,
  ProposeArgs,
  ProveWithdrawalArgs,
  readBatch,
  readGame,
  readOutput,
  readOutputsMeta,
  readWithdrawalState,
  rollupModuleNames,
  signL2Transfer,
  signL2Withdrawal,
  StepArgs,
  TURN_CHALLENGER,
  withdrawalKey,
  type GameRecord,
  type L2Block,
} from '@strata/optimistic';
import { encodeTx, getAccount } from '@strata/runtime';
import { executeWithWitness } from '@strata/state';
import { keys, RollupWorld } from '../helpers/optimistic.js';

const alice = keys[0]!;
const proposerKey = keys[1]!;
const honestChallenger = keys[2]!;
const mallory = keys[3]!;
const silent = { info() {}, warn() {}, debug() {} };

let world: RollupWorld | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

const names = (w: RollupWorld) => rollupModuleNames(w.rollup.rollupId);
const game0 = (w: RollupWorld, id = 0) => readGame(w.l1.chain.stateReader, w.rollup.rollupId, id) as GameRecord;
const output = (w: RollupWorld, i: number) => readOutput(w.l1.chain.stateReader, w.rollup.rollupId, i)!;
const balance = (w: RollupWorld, k: KeyPair) => getAccount(w.l1.chain.stateReader, k.address).balance;

/** Sends a call as `key`, mines it, returns its receipt. */
async function tx(w: RollupWorld, key: KeyPair, module: string, method: string, args: Uint8Array, compute = 60_000) {
  const h = await w.client.send(key, module, method, args, compute);
  w.mine();
  await w.syncAll();
  const events = w.l1.chain.lookupTx(h)?.receipt.events ?? [];
  return { ...(await w.client.receipt(h))!, events };
}

/** Deposit, `transfers` L2 transfers and a withdrawal, all in one batch on L1. */
async function busyRollup(w: RollupWorld, transfers: number): Promise<void> {
  await w.client.send(alice, names(w).bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: alice.address, amount: 50_000_000n }), 5_000);
  w.mine();
  const env = w.seqNode.env;
  for (let i = 0; i < transfers; i++) w.l2Send(encodeTx(signL2Transfer(env, alice.secretKey, i, keys[(i % 3) + 1]!.address, BigInt(10 + i))));
  w.l2Send(encodeTx(signL2Withdrawal(env, alice.secretKey, transfers, alice.address, 1_000_000n)));
  await w.sequence();
  await w.batch();
}

/** The proposer alone (no honest challenger) until output 0 is on L1. */
async function proposeOnly(w: RollupWorld): Promise<void> {
  for (let i = 0; i < 4 && readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count === 0; i++) {
    await w.syncAll();
    await w.proposer.tick();
    w.mine();
  }
  expect(readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count).toBe(1);
}

/** Mallory bisects game 0 always disagreeing, the proposer answering, down to one step. */
async function bisectToStep(w: RollupWorld, agreeWith?: (g: GameRecord) => boolean): Promise<GameRecord> {
  for (let i = 0; i < 40; i++) {
    const g = game0(w);
    if (g.status !== GAME_OPEN) throw new Error(`game resolved early: ${g.status}`);
    if (g.hi - g.lo === 1 && g.turn === TURN_CHALLENGER) return g;
    if (g.turn === TURN_CHALLENGER) {
      const r = await tx(w, mallory, names(w).disputes, 'bisect', encode(BisectArgs, { rollupId: w.rollup.rollupId, gameId: 0, agree: agreeWith ? agreeWith(g) : false }));
      expect(r.status).toBe('ok');
    } else {
      await w.syncAll();
      await w.proposer.tick();
      w.mine();
    }
  }
  throw new Error('bisection did not converge');
}

/** The one-step proof arguments for operation `opIndex` executed at game `g`'s position. */
function stepArgs(w: RollupWorld, g: GameRecord, opIndex: number, siblingsOf: number) {
  const chain = w.verNode.chain;
  const bi = w.verNode.derivation.batchOfOp(g.lo)!;
  const batch = w.verNode.derivation.batch(bi)!;
  const leaves: Uint8Array[] = [];
  for (let j = batch.firstOp; j < batch.firstOp + batch.opCount; j++) {
    const b = chain.blockOfOp(j) as L2Block;
    leaves.push(opLeaf(b.number, b.timestamp, opHash(b.allOps[j - b.firstOp]!)));
  }
  const blk = chain.blockOfOp(opIndex) as L2Block;
  const op = blk.allOps[opIndex - blk.firstOp]!;
  const { witness } = executeWithWitness(chain.nodes, g.rootLo, (v) => {
    applyL2Op(v, chain.env, { number: blk.number, timestamp: blk.timestamp }, op);
  });
  const proof = merkleProof(leaves, siblingsOf - batch.firstOp);
  return { rollupId: w.rollup.rollupId, gameId: 0, batchIndex: bi, blockNumber: blk.number, timestamp: blk.timestamp, op, siblings: proof.siblings, witness };
}

describe('adversarial actors against the optimistic rollup', () => {
  it('malicious challenger: a one-step proof of another operation of the batch (re-indexed, padded) is refused; it loses on time, the root stands', async () => {
    world = new RollupWorld();
    const w = world;
    await busyRollup(w, 6);
    await proposeOnly(w);
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    const g = await bisectToStep(w);
    // Op g.lo is the disputed one; Mallory proves the last transfer instead, with its own real
    // Merkle proof, then padded with an extra sibling, then truncated.
    const other = g.lo + 3;
    const real = stepArgs(w, g, other, other);
    for (const siblings of [real.siblings, [...real.siblings, real.siblings[0]!], real.siblings.slice(1)]) {
      const r = await tx(w, mallory, names(w).disputes, 'step', encode(StepArgs, { ...real, siblings }), 400_000);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/does not match batch \d+'s commitment at position/);
    }
    expect(game0(w).status).toBe(GAME_OPEN);
    // Mallory gives up; its clock runs out and the honest roles claim the timeout.
    const proposerBefore = balance(w, proposerKey);
    for (let i = 0; i < w.rollup.clockBlocks + 3 && game0(w).status === GAME_OPEN; i++) await w.roles();
    expect(game0(w).status).toBe(GAME_PROPOSER_WON);
    expect(output(w, 0).status).not.toBe(OUTPUT_DISCARDED);
    expect(balance(w, proposerKey) - proposerBefore).toBeGreaterThan((w.rollup.challengerBond * 7n) / 10n); // Mallory's bond, minus the burn and fees
    // The honest path still works: the withdrawal in output 0 finalizes after the window.
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const rec = getWithdrawal(w.verNode.chain.reader(output(w, 0).stateRoot), 0)!;
    const { proof } = w.verNode.chain.proof(withdrawalKey(0), output(w, 0).stateRoot);
    expect((await tx(w, alice, names(w).bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex: 0, withdrawal: rec, proof }), 40_000)).status).toBe('ok');
    expect((await tx(w, alice, names(w).bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id: 0 }), 5_000)).status).toBe('ok');
  });

  it('griefer: re-proving someone else\'s withdrawal against a later output is refused; it finalizes on schedule', async () => {
    world = new RollupWorld();
    const w = world;
    await busyRollup(w, 2);
    await w.roles(); // output 0 (holds withdrawal 0)
    // Another batch and output 1, which holds withdrawal 0 as well.
    w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, alice.secretKey, 3, keys[2]!.address, 5n)));
    await w.sequence();
    await w.batch();
    for (let i = 0; i < 3 && readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count < 2; i++) await w.roles();
    expect(readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count).toBe(2);
    const prove = (key: KeyPair, outputIndex: number) => {
      const root = output(w, outputIndex).stateRoot;
      const rec = getWithdrawal(w.verNode.chain.reader(root), 0)!;
      return tx(w, key, names(w).bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex, withdrawal: rec, proof: w.verNode.chain.proof(withdrawalKey(0), root).proof }), 40_000);
    };
    expect((await prove(alice, 0)).status).toBe('ok');
    const grief = await prove(mallory, 1);
    expect(grief.status).toBe('failed');
    expect(grief.error).toMatch(/already proven against live output 0/);
    expect(readWithdrawalState(w.l1.chain.stateReader, w.rollup.rollupId, 0).proven?.outputIndex).toBe(0);
    // Output 0's window passes (output 1's has not): the withdrawal finalizes.
    while (w.l1.chain.head.meta.height < output(w, 0).l1Height + w.rollup.challengeWindow) w.mine();
    expect(w.l1.chain.head.meta.height).toBeLessThan(output(w, 1).l1Height + w.rollup.challengeWindow);
    const fin = await tx(w, alice, names(w).bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id: 0 }), 5_000);
    expect(fin.error).toBeUndefined();
    expect(readWithdrawalState(w.l1.chain.stateReader, w.rollup.rollupId, 0).finalized).toBe(true);
  });

  it('malicious challenger vs an offline proposer: any bonded party defends the correct root and wins; a second game costs twice the bond', async () => {
    world = new RollupWorld({ proposer: { unresponsive: true } });
    const w = world;
    await busyRollup(w, 6);
    await proposeOnly(w);
    const malloryBefore = balance(w, mallory);
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    // Flooding one root with games costs exponentially more: the second game's bond is doubled.
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    expect(game0(w, 1).bond).toBe(2n * w.rollup.challengerBond);
    // Mallory may not defend its own game, nor move for a defender it is not.
    const selfDefend = await tx(w, mallory, names(w).disputes, 'defend', encode(DefendArgs, { rollupId: w.rollup.rollupId, gameId: 0, root: new Uint8Array(32) }));
    expect(selfDefend.status).toBe('failed');
    // The proposer is offline: its clock runs out, then the honest verifier takes over the
    // defence (it derived the same root) and plays both games against Mallory, who stops moving.
    for (let i = 0; i < 80 && (game0(w, 0).status === GAME_OPEN || game0(w, 1).status === GAME_OPEN); i++) {
      await w.roles();
      for (const id of [0, 1]) {
        const g = game0(w, id);
        if (g.status === GAME_OPEN && g.turn === TURN_CHALLENGER && g.hi - g.lo > 1) {
          await tx(w, mallory, names(w).disputes, 'bisect', encode(BisectArgs, { rollupId: w.rollup.rollupId, gameId: id, agree: false }));
        }
      }
    }
    for (const id of [0, 1]) {
      expect(game0(w, id).status).toBe(GAME_PROPOSER_WON);
      expect(game0(w, id).defenses).toBe(1); // the proposer lost on time, the verifier took over
      expect(game0(w, id).proposer).toEqual(honestChallenger.address);
    }
    expect(output(w, 0).status).not.toBe(OUTPUT_DISCARDED);
    // Mallory lost three bonds (1 + 2) and won only 80 % of the silent proposer's bond.
    expect(malloryBefore - balance(w, mallory)).toBeGreaterThan(3n * w.rollup.challengerBond - w.rollup.proposerBond);
    // The correct root finalizes; the withdrawal in it pays out.
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const root = output(w, 0).stateRoot;
    const rec = getWithdrawal(w.verNode.chain.reader(root), 0)!;
    expect((await tx(w, alice, names(w).bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex: 0, withdrawal: rec, proof: w.verNode.chain.proof(withdrawalKey(0), root).proof }), 40_000)).status).toBe('ok');
    expect((await tx(w, alice, names(w).bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id: 0 }), 5_000)).status).toBe('ok');
  });

  it('a challenger whose clock ran out cannot win with a late one-step proof: time is decided first', async () => {
    world = new RollupWorld({ proposer: { maliciousEvery: 1 } });
    const w = world;
    await busyRollup(w, 6);
    await proposeOnly(w); // a wrong root
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    // Mallory plays honestly (agrees with correct midpoints) but too slowly at the last step.
    const g = await bisectToStep(w, (x) => {
      const local = w.verNode.chain.rootAfterOps(Math.floor((x.lo + x.hi) / 2));
      return !!local && Buffer.from(local).equals(Buffer.from(x.midRoot));
    });
    const valid = stepArgs(w, g, g.lo, g.lo);
    while (w.l1.chain.head.meta.height + 1 - g.lastMove + g.challengerClock <= w.rollup.clockBlocks) w.mine();
    const late = await tx(w, mallory, names(w).disputes, 'step', encode(StepArgs, valid), 400_000);
    expect(late.status).toBe('ok');
    const after = game0(w);
    expect(after.status).toBe(GAME_PROPOSER_WON); // lost on time, although the proof is valid
    expect(late.events.find((e) => e.type === 'gameResolved')?.data.reason).toBe('challenger ran out of time');
    // A timeout by anyone after that is refused: the game is over.
    expect((await tx(w, mallory, names(w).disputes, 'timeout', encode(GameRefArgs, { rollupId: w.rollup.rollupId, gameId: 0 }))).status).toBe('failed');
  });

  it('clock extension: a challenger that moves in the last block of its clock still leaves a slow defender time to answer', async () => {
    world = new RollupWorld({ proposer: { unresponsive: true } });
    const w = world;
    await busyRollup(w, 6);
    await proposeOnly(w);
    const { clockBlocks, clockExtensionBlocks } = w.rollup;
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    // The proposer answers as late as its clock allows (raw move, honest midpoint root).
    const defendLate = async () => {
      const g = game0(w);
      while (w.l1.chain.head.meta.height + 1 - g.lastMove + g.proposerClock < clockBlocks) w.mine();
      const root = w.verNode.chain.rootAfterOps(Math.floor((g.lo + g.hi) / 2))!;
      expect((await tx(w, proposerKey, names(w).disputes, 'defend', encode(DefendArgs, { rollupId: w.rollup.rollupId, gameId: 0, root }))).status).toBe('ok');
    };
    await defendLate();
    expect(game0(w).proposerClock).toBe(clockBlocks); // it used its whole clock
    // Mallory answers at once; the defender's clock is capped so it has the extension left.
    expect((await tx(w, mallory, names(w).disputes, 'bisect', encode(BisectArgs, { rollupId: w.rollup.rollupId, gameId: 0, agree: false }))).status).toBe('ok');
    expect(game0(w).proposerClock).toBe(clockBlocks - clockExtensionBlocks);
    // So the defender can still move (it would have timed out at once without the extension).
    await defendLate();
    expect(game0(w).status).toBe(GAME_OPEN);
    expect(game0(w).defenses).toBe(0);
  });

  it('the challenger never gives up: its L1 drops its transactions and it restarts mid-game, and it still discards a wrong root', async () => {
    world = new RollupWorld({ proposer: { maliciousEvery: 1 } });
    const w = world;
    await busyRollup(w, 12);
    let dropped = 0;
    const fromChallenger = (v: { sender: Uint8Array }) => Buffer.from(v.sender).equals(Buffer.from(honestChallenger.address));
    let challenger = w.challenger;
    for (let i = 0; i < 80 && game0(w)?.status !== GAME_CHALLENGER_WON; i++) {
      await w.syncAll();
      await w.proposer.tick();
      await challenger.tick();
      // The L1 pool loses the challenger's first three transactions (its challenge among them).
      if (dropped < 3) dropped += w.l1.drop(fromChallenger);
      w.mine();
      // After a few moves the challenger process restarts with nothing in memory.
      if (game0(w) && game0(w).moves === 4 && challenger === w.challenger) challenger = new ChallengerService(w.verNode, { key: honestChallenger }, silent);
    }
    expect(dropped).toBe(3);
    expect(challenger).not.toBe(w.challenger);
    expect(game0(w).status).toBe(GAME_CHALLENGER_WON);
    expect(output(w, 0).status).toBe(OUTPUT_DISCARDED);
  });
});

describe('review: clocks of an empty defender slot', () => {
  it('a takeover after the empty slot ran out of time is refused; the timeout discards the root', async () => {
    world = new RollupWorld({ proposer: { unresponsive: true }, rollup: { clockBlocks: 6, takeoverBlocks: 2 } });
    const w = world;
    const late = alice;
    await busyRollup(w, 2);
    await proposeOnly(w);
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    // The silent proposer's clock runs out: it loses, the slot is empty for takeoverBlocks.
    for (let i = 0; i <= w.rollup.clockBlocks; i++) w.mine();
    expect((await tx(w, mallory, names(w).disputes, 'timeout', encode(GameRefArgs, { rollupId: w.rollup.rollupId, gameId: 0 }))).status).toBe('ok');
    const g = game0(w);
    expect(g.status).toBe(GAME_OPEN);
    expect(g.defenses).toBe(1);
    // The empty slot's clock (takeoverBlocks) runs out; a late defender may not take it.
    while (w.l1.chain.head.meta.height + 1 - g.lastMove <= w.rollup.takeoverBlocks) w.mine();
    const root = w.verNode.chain.rootAfterOps(Math.floor((g.lo + g.hi) / 2)) ?? new Uint8Array(32);
    const join = await tx(w, late, names(w).disputes, 'defend', encode(DefendArgs, { rollupId: w.rollup.rollupId, gameId: 0, root }));
    expect(join.status).toBe('failed');
    expect(game0(w).proposer).toEqual(new Uint8Array(20));
    expect((await tx(w, mallory, names(w).disputes, 'timeout', encode(GameRefArgs, { rollupId: w.rollup.rollupId, gameId: 0 }))).status).toBe('ok');
    expect(game0(w).status).toBe(GAME_CHALLENGER_WON);
  });

  it('a takeover within takeoverBlocks is accepted even when takeoverBlocks exceeds clockBlocks', async () => {
    world = new RollupWorld({ proposer: { unresponsive: true }, rollup: { clockBlocks: 4, clockExtensionBlocks: 2, takeoverBlocks: 9 } });
    const w = world;
    const helper = alice;
    await busyRollup(w, 2);
    await proposeOnly(w);
    expect((await tx(w, mallory, names(w).disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }))).status).toBe('ok');
    for (let i = 0; i <= w.rollup.clockBlocks; i++) w.mine();
    expect((await tx(w, mallory, names(w).disputes, 'timeout', encode(GameRefArgs, { rollupId: w.rollup.rollupId, gameId: 0 }))).status).toBe('ok');
    const g = game0(w);
    // Past clockBlocks but within takeoverBlocks: the slot is still open to a defender.
    while (w.l1.chain.head.meta.height + 1 - g.lastMove <= w.rollup.clockBlocks + 1) w.mine();
    const root = w.verNode.chain.rootAfterOps(Math.floor((g.lo + g.hi) / 2)) ?? new Uint8Array(32);
    const join = await tx(w, helper, names(w).disputes, 'defend', encode(DefendArgs, { rollupId: w.rollup.rollupId, gameId: 0, root }));
    expect(join.status).toBe('ok');
    expect(game0(w).proposer).toEqual(helper.address);
  });
});

describe('review: a correct output built on a wrong parent', () => {
  it('the honest proposer does not build on a wrong parent root (its bond would be lost to a challenge from that root); it proposes again once the parent is discarded', async () => {
    world = new RollupWorld();
    const w = world;
    await busyRollup(w, 2);
    // Mallory proposes a wrong root for batch 0 before the honest proposer.
    const wrong = new Uint8Array(32).fill(7);
    expect((await tx(w, mallory, names(w).disputes, 'propose', encode(ProposeArgs, { rollupId: w.rollup.rollupId, batchIndex: 0, stateRoot: wrong }))).status).toBe('ok');
    // A second batch lands; the honest proposer would cover it with an output whose parent is
    // Mallory's root, and Mallory would then win a game against that correct output.
    const env = w.seqNode.env;
    w.l2Send(encodeTx(signL2Transfer(env, alice.secretKey, 3, mallory.address, 5n)));
    await w.sequence();
    await w.batch();
    for (let i = 0; i < 3; i++) {
      await w.syncAll();
      await w.proposer.tick();
      w.mine();
    }
    const meta = () => readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    expect(meta().count).toBe(1);
    // The honest challenger discards Mallory's root; then the proposer builds on genesis again.
    for (let i = 0; i < 120 && output(w, 0).status !== OUTPUT_DISCARDED; i++) await w.roles();
    expect(output(w, 0).status).toBe(OUTPUT_DISCARDED);
    for (let i = 0; i < 6 && meta().count < 2; i++) await w.roles();
    expect(meta().count).toBe(2);
    const next = output(w, 1);
    expect(next.parent).toBe(0);
    expect(next.stateRoot).toEqual(w.verNode.chain.rootAfterOps(next.opEnd));
  });
});

describe('review: a discard over many later outputs', () => {
  it('Mallory stacks outputs on her wrong root so the discarding timeout needs more compute; the honest challenger still discards them all', async () => {
    world = new RollupWorld({ rollup: { clockBlocks: 50, clockExtensionBlocks: 2, takeoverBlocks: 2, challengeWindow: 100 }, challenger: { defend: false } });
    const w = world;
    await busyRollup(w, 1);
    const env = w.seqNode.env;
    const propose = (batchIndex: number, stateRoot: Uint8Array) => tx(w, mallory, names(w).disputes, 'propose', encode(ProposeArgs, { rollupId: w.rollup.rollupId, batchIndex, stateRoot }));
    expect((await propose(0, new Uint8Array(32).fill(9))).status).toBe('ok');
    await w.challenger.tick(); // the honest challenger disputes the wrong root at once
    w.mine();
    // 20 more batches, each covered by one of Mallory's outputs stacked on the wrong root (with
    // the correct roots, so no one challenges them on their own).
    for (let b = 1; b <= 20; b++) {
      w.l2Send(encodeTx(signL2Transfer(env, alice.secretKey, 1 + b, mallory.address, 1n)));
      await w.sequence();
      await w.batch();
      const rec = readBatch(w.l1.chain.stateReader, w.rollup.rollupId, b)!;
      expect((await propose(b, w.verNode.chain.rootAfterOps(rec.firstOp + rec.opCount)!)).status).toBe('ok');
    }
    const meta = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    expect(meta.count).toBe(21);
    // The honest challenger plays; Mallory never defends (her clock runs out, the slot stays empty).
    expect(game0(w).status).toBe(GAME_OPEN);
    for (let i = 0; i < 80 && output(w, 0).status !== OUTPUT_DISCARDED; i++) {
      await w.syncAll();
      await w.challenger.tick();
      w.mine();
    }
    expect(output(w, 0).status).toBe(OUTPUT_DISCARDED);
    expect(output(w, 20).status).toBe(OUTPUT_DISCARDED);
    expect(readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).gameCount).toBe(1);
  });
});
