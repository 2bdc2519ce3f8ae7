/**
 * The L3's clocks count L1 time. Its settlement modules live on the L2, whose sequencer makes L2
 * blocks at will (derivation only wants increasing timestamps), so windows and game clocks that
 * counted L2 blocks could be run down in no L1 time by a colluding or censoring L2 sequencer.
 * Each L2 block now carries its L1 origin (the sequencer's `l1info` operation, checked by the
 * inbox against the L1 block carrying the batch) and the L3 settlement modules on the L2 count in it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyL2Op,
  appendBatch,
  compressBatch,
  defaultRollupConfig,
  DepositArgs,
  FinalizeWithdrawalArgs,
  getWithdrawal,
  ProveWithdrawalArgs,
  readOutput,
  readOutputsMeta,
  signL2Transfer,
  withdrawalKey,
  encodeBatchPayload,
  encodeOp,
  GAME_OPEN,
  GAME_PROPOSER_WON,
  GameRefArgs,
  makeL2Env,
  readGame,
  readL1Origin,
  rollupModuleNames,
  signL2Withdrawal,
  TURN_CHALLENGER,
} from '@strata/optimistic';
import { encode } from '@strata/primitives';
import { MemoryNodeStore, OverlayView, TreeReader, EMPTY_ROOT } from '@strata/state';
import { L3World } from '../helpers/l3.js';
import { MemInbox } from '../helpers/inbox.js';
import { keys } from '../helpers/optimistic.js';

let world: L3World | undefined;
afterEach(() => {
  world?.close();
  world = undefined;
});

describe('L1 origin: the clock of the settlement modules an L2 hosts', () => {
  const cfg = defaultRollupConfig({ batcher: keys[1]!.address });
  const batchWith = (origin: number) => ({ firstBlock: 1, data: compressBatch(encodeBatchPayload([{ timestamp: 1_000, delayedReads: 0, ops: [encodeOp({ kind: 'l1info', height: origin })] }])) });

  it('the inbox refuses an L2 block naming an L1 origin not before the L1 block carrying it', () => {
    const at = { height: 10, timestamp: 1_000 };
    expect(() => appendBatch(new MemInbox(), at, batchWith(10), cfg, () => {})).toThrow(expect.objectContaining({ code: 'L2_INVALID_BATCH', message: expect.stringMatching(/L1 origin 10/) }));
    expect(() => appendBatch(new MemInbox(), at, batchWith(11), cfg, () => {})).toThrow(expect.objectContaining({ code: 'L2_INVALID_BATCH' }));
    expect(appendBatch(new MemInbox(), at, batchWith(9), cfg, () => {}).record.opCount).toBe(1);
  });

  it('execution moves the origin forward only', () => {
    const env = makeL2Env(cfg);
    const view = new OverlayView(new TreeReader(new MemoryNodeStore(), EMPTY_ROOT));
    const blk = { number: 1, timestamp: 1 };
    expect(applyL2Op(view, env, blk, encodeOp({ kind: 'l1info', height: 5 })).status).toBe('ok');
    expect(readL1Origin(view)).toBe(5);
    expect(applyL2Op(view, env, blk, encodeOp({ kind: 'l1info', height: 5 })).status).toBe('skipped');
    expect(applyL2Op(view, env, blk, encodeOp({ kind: 'l1info', height: 3 })).status).toBe('skipped');
    expect(readL1Origin(view)).toBe(5);
  });

  it('the L2-hosted finality cursor moves without end-of-block hooks: the proposer calls advanceFinality, so no withdrawal waits on a cursor left at 0 (a finalize call alone moves it 16 outputs and reverts if that is not enough)', async () => {
    world = new L3World();
    const x = world;
    const alice = keys[0]!;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [keys[0]!, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    await x.l3Seal();
    const l2r = () => x.w.seqNode.chain.reader();
    // A few L3 outputs.
    for (let i = 0; readOutputsMeta(l2r(), x.l3cfg.rollupId).count < 3 && i < 40; i++) {
      await x.l3Send(signL2Transfer(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), keys[2]!.address, 1n));
      await x.l3Roles();
    }
    await x.l3Send(signL2Withdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, 10n ** 6n));
    const wdBlock = x.seq.chain.head.number;
    for (let i = 0; i < 20; i++) {
      const m = readOutputsMeta(l2r(), x.l3cfg.rollupId);
      if (m.count > 0 && readOutput(l2r(), x.l3cfg.rollupId, m.count - 1)!.l2Block >= wdBlock) break;
      await x.l3Roles();
    }
    const outIdx = readOutputsMeta(l2r(), x.l3cfg.rollupId).count - 1;
    expect(outIdx).toBeGreaterThanOrEqual(2);
    const out = readOutput(l2r(), x.l3cfg.rollupId, outIdx)!;
    const honest = x.ver.chain.rootAfterOps(out.opEnd)!;
    const { proof } = x.ver.chain.proof(withdrawalKey(0), honest);
    const p = await x.l2client.send(alice, n3.bridge, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: x.l3cfg.rollupId, outputIndex: outIdx, withdrawal: getWithdrawal(x.ver.chain.reader(honest), 0)!, proof }), 40_000);
    await x.l2Block();
    expect((await x.l2client.receipt(p))?.status).toBe('ok');
    // The window passes in L1 blocks while the roles run; nobody finalizes, yet the cursor moves.
    for (let i = 0; i <= x.l3cfg.challengeWindow + 2; i++) await x.l3Roles();
    expect(readOutputsMeta(l2r(), x.l3cfg.rollupId).finalCursor).toBeGreaterThan(outIdx);
    const h = await x.l2client.send(alice, n3.bridge, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: x.l3cfg.rollupId, id: 0 }), 5_000);
    await x.l2Block();
    expect((await x.l2client.receipt(h))?.status).toBe('ok');
  }, 120_000);

  it("a fast L2 sequencer cannot run an L3 challenger's game clock down in no L1 time", async () => {
    // The L3 challenger is silenced (as a censoring L2 sequencer would): only time can decide.
    world = new L3World({ proposer: { maliciousEvery: 1 }, challenger: { unresponsive: true } });
    const x = world;
    const alice = keys[0]!;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    for (const k of [keys[0]!, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    await x.l3Seal();
    for (let i = 0; i < 3; i++) await x.l3Send(signL2Withdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, 10n ** 6n));
    const l2r = () => x.w.seqNode.chain.reader();
    // The wrong root is challenged and its proposer answers: the challenger's clock runs.
    for (let i = 0; i < 60; i++) {
      const g = readGame(l2r(), x.l3cfg.rollupId, 0);
      if (g && g.turn === TURN_CHALLENGER && g.moves > 0) break;
      await x.l3Roles();
    }
    const g = readGame(l2r(), x.l3cfg.rollupId, 0)!;
    expect(g.turn).toBe(TURN_CHALLENGER);
    const timeout = async () => {
      const h = await x.l2client.send(keys[1]!, n3.disputes, 'timeout', encode(GameRefArgs, { rollupId: x.l3cfg.rollupId, gameId: 0 }), 20_000);
      await x.l2Block();
      return x.l2client.receipt(h);
    };
    const l1At = x.w.l1.chain.head.meta.height;
    for (let i = 0; i < 3 * x.l3cfg.clockBlocks; i++) await x.l2Block();
    expect(x.w.l1.chain.head.meta.height).toBe(l1At);
    const early = await timeout();
    expect(early?.status).toBe('failed');
    expect(early?.error).toMatch(/still has/);
    expect(readGame(l2r(), x.l3cfg.rollupId, 0)!.status).toBe(GAME_OPEN);
    // A clock's worth of L1 blocks later the silent challenger has lost on time.
    for (let i = 0; i <= x.l3cfg.clockBlocks; i++) await x.l2Batch();
    await x.l2Block();
    expect((await timeout())?.status).toBe('ok');
    expect(readGame(l2r(), x.l3cfg.rollupId, 0)!.status).toBe(GAME_PROPOSER_WON);
  }, 120_000);
});
