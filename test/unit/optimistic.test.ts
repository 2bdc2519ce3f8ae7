import { afterEach, describe, expect, it } from 'vitest';
import { merkleProof } from '@strata/chain';
import { bytesEqual, encode, toHex } from '@strata/primitives';
import {
  rollupModuleNames,
  defaultRollupConfig,
  BisectArgs,
  ChallengeArgs,
  GAME_OPEN,
  opHash,
  opLeaf,
  StepArgs,
  escrowAddress,
  l1DataFee,
  l1DataSize,
  NodeL1Client,
  parentModules,
  DepositArgs,
  encodeBatchPayload,
  FinalizeWithdrawalArgs,
  ForceTxArgs,
  GAME_CHALLENGER_WON,
  GAME_PROPOSER_WON,
  OUTPUT_DISCARDED,
  ProveWithdrawalArgs,
  RollupNode,
  bondAddress,
  decompressBatch,
  decodeBatchPayload,
  encodeOp,
  applyL2Op,
  PostBatchArgsCodec,
  compressBatch,
  getWithdrawal,
  readOutput,
  readOutputsMeta,
  readGame,
  readWithdrawalState,
  signL2Transfer,
  signL2Withdrawal,
  withdrawalKey,
} from '@strata/optimistic';
import { bankModule, encodeTx, getAccount, ModuleRegistry, putAccount } from '@strata/runtime';
import { LayeredNodeReader, MemoryNodeStore, OverlayView, SparseMerkleTree, TreeReader } from '@strata/state';
import { keys, L1Miner, RollupWorld } from '../helpers/optimistic.js';

const [alice, , , ] = keys;
const bob = keys[2]!;
let world: RollupWorld | undefined;
const { bridge: BRIDGE_MODULE, inbox: INBOX_MODULE } = rollupModuleNames(defaultRollupConfig().rollupId);
afterEach(() => {
  world?.close();
  world = undefined;
});

async function deposit(w: RollupWorld, amount: bigint, to = alice!.address) {
  await w.client.send(alice!, BRIDGE_MODULE, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to, amount }), 5_000);
  w.mine();
}

async function l1Status(w: RollupWorld, hash: Uint8Array) {
  return w.client.receipt(hash);
}

/** Proves and finalizes withdrawal `id` against output `outputIndex`; returns the two receipts. */
async function proveAndFinalize(w: RollupWorld, node: RollupNode, id: number, outputIndex: number) {
  const out = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, outputIndex)!;
  const rec = getWithdrawal(node.chain.reader(out.stateRoot), id)!;
  const { proof } = node.chain.proof(withdrawalKey(id), out.stateRoot);
  const p = await w.client.send(alice!, BRIDGE_MODULE, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex, withdrawal: rec, proof }), 40_000);
  const f = await w.client.send(alice!, BRIDGE_MODULE, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id }), 5_000);
  w.mine();
  return { prove: await l1Status(w, p), finalize: await l1Status(w, f) };
}

async function finalizeOnly(w: RollupWorld, id: number) {
  const f = await w.client.send(alice!, BRIDGE_MODULE, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: w.rollup.rollupId, id }), 5_000);
  w.mine();
  return l1Status(w, f);
}

describe('optimistic rollup: bridge and derivation', () => {
  it('deposit → L2 transfer → withdrawal: finalize fails inside the window, succeeds after, and only once', async () => {
    world = new RollupWorld();
    const w = world;
    await deposit(w, 5_000_000n);
    await w.sequence();
    expect(w.seqNode.chain.account(alice!.address).balance).toBe(5_000_000n);
    const env = w.seqNode.env;
    w.l2Send(encodeTx(signL2Transfer(env, alice!.secretKey, 0, bob.address, 1_000n)));
    w.l2Send(encodeTx(signL2Withdrawal(env, alice!.secretKey, 1, alice!.address, 2_000_000n)));
    await w.sequence();
    expect(w.seqNode.chain.account(bob.address).balance).toBe(1_000n);
    await w.batch();
    expect(w.verNode.safeHead).toBe(w.seqNode.chain.head.number);
    await w.roles(); // proposer posts output 0
    const outs = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    expect(outs.count).toBe(1);
    const before = getAccount(w.l1.chain.stateReader, alice!.address).balance;
    const early = await proveAndFinalize(w, w.seqNode, 0, 0);
    expect(early.prove?.status).toBe('ok');
    expect(early.finalize?.status).toBe('failed');
    expect(early.finalize?.error).toMatch(/challenge window/);
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const late = await finalizeOnly(w, 0);
    expect(late?.status).toBe('ok');
    expect(readWithdrawalState(w.l1.chain.stateReader, w.rollup.rollupId, 0).finalized).toBe(true);
    const after = getAccount(w.l1.chain.stateReader, alice!.address).balance;
    expect(after - before).toBeGreaterThan(2_000_000n - 200_000n); // minus L1 fees
    const again = await finalizeOnly(w, 0);
    expect(again?.status).toBe('failed');
    expect(again?.error).toMatch(/already finalized/);
  });

  it('a verifier fed only L1 data reproduces the sequencer\'s blocks and state roots exactly', async () => {
    world = new RollupWorld();
    const w = world;
    await deposit(w, 10_000_000n);
    const env = w.seqNode.env;
    let nonce = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) w.l2Send(encodeTx(signL2Transfer(env, alice!.secretKey, nonce++, keys[(i % 3) + 1]!.address, BigInt(100 + i))));
      await w.sequence();
      await w.sequence(); // an empty block in between is not produced
    }
    await w.batch();
    // A fresh verifier started now derives the same chain from L1 alone.
    const fresh = new RollupNode({ rollup: w.rollup }, w.client);
    await fresh.syncL1();
    const head = w.seqNode.chain.head;
    expect(fresh.chain.head.number).toBe(head.number);
    for (let n = 1; n <= head.number; n++) {
      expect(toHex(fresh.chain.get(n)!.hash)).toBe(toHex(w.seqNode.chain.get(n)!.hash));
      expect(fresh.chain.get(n)!.opRoots.map(toHex)).toEqual(w.seqNode.chain.get(n)!.opRoots.map(toHex));
    }
  });

  it('skips corrupt batch data and caps decompression (zip bomb)', () => {
    const bomb = compressBatch(new Uint8Array(8 * 1024 * 1024));
    expect(() => decompressBatch(bomb, 1024 * 1024)).toThrow(expect.objectContaining({ code: 'L2_INVALID_BATCH' }));
    expect(() => decompressBatch(new Uint8Array([1, 2, 3, 4]), 1024)).toThrow(expect.objectContaining({ code: 'L2_INVALID_BATCH' }));
    // A batch may not smuggle a deposit operation (decoded off-chain or on L1 alike).
    const depositOp = new Uint8Array([2, 0, ...new Uint8Array(40), 5]);
    const payload = encodeBatchPayload([{ timestamp: 10, delayedReads: 0, ops: [depositOp] }]);
    expect(() => decodeBatchPayload(payload, 100)).toThrow(expect.objectContaining({ code: 'L2_INVALID_BATCH', message: expect.stringMatching(/may not carry a deposit operation/) }));
  });

  it('the L1 inbox refuses a batch that smuggles a deposit; derivation mints nothing from it', async () => {
    world = new RollupWorld();
    const w = world;
    const batcher = keys[1]!;
    // A deposit to the batcher of 10^12 that no one locked on L1, inside an otherwise valid batch.
    const forged = encodeOp({ kind: 'deposit', depositId: 0, from: batcher.address, to: batcher.address, amount: 10n ** 12n });
    const data = compressBatch(encodeBatchPayload([{ timestamp: w.l1.chain.head.header.timestamp, delayedReads: 0, ops: [forged] }]));
    const h = await w.client.send(batcher, INBOX_MODULE, 'postBatch', encode(PostBatchArgsCodec, { rollupId: w.rollup.rollupId, firstBlock: 1, data }), 50_000);
    w.mine();
    const r = await w.client.receipt(h);
    expect(r?.status).toBe('failed');
    expect(r?.error).toMatch(/L2_INVALID_BATCH: a batch may not carry a deposit operation/);
    await w.syncAll();
    expect(w.verNode.derivation.meta.batchCount).toBe(0);
    expect(w.verNode.chain.account(batcher.address).balance).toBe(0n);
  });

  it('censorship: a censoring sequencer keeps posting its own batches; the deposit and forced tx it ignores are force-included between them, and it must follow', async () => {
    world = new RollupWorld({ sequencer: { ignoreDelayed: true } });
    const w = world;
    const env = w.seqNode.env;
    // Carol has L2 funds from before the censorship starts, so the sequencer has traffic of its own.
    const carol = keys[3]!;
    w.seqNode.opts.sequencer!.ignoreDelayed = false;
    await deposit(w, 1_000_000n, carol.address);
    await w.sequence();
    await w.batch();
    w.seqNode.opts.sequencer!.ignoreDelayed = true;
    await deposit(w, 3_000_000n);
    const forced = encodeTx(signL2Transfer(env, alice!.secretKey, 0, bob.address, 777n));
    await w.client.send(alice!, INBOX_MODULE, 'forceTx', encode(ForceTxArgs, { rollupId: w.rollup.rollupId, raw: forced }), 5_000);
    w.mine();
    let carolNonce = 0;
    // Every round the censoring sequencer seals Carol's transfer and its batcher posts the block.
    for (let i = 0; i < w.rollup.sequencingWindow + 4; i++) {
      w.l2Send(encodeTx(signL2Transfer(env, carol.secretKey, carolNonce++, bob.address, 1n)));
      await w.sequence();
      await w.batch();
    }
    await w.syncAll();
    const d = w.verNode.derivation;
    const kinds = Array.from({ length: d.meta.batchCount }, (_, b) => d.batch(b)!.forced);
    expect(kinds).toContain(1); // the inbox force-included the queue…
    expect(kinds.lastIndexOf(0)).toBeGreaterThan(kinds.indexOf(1)); // …and the sequencer's batches went on after it
    expect(w.verNode.chain.account(alice!.address).balance).toBe(3_000_000n - 777n - 1_600n);
    expect(w.verNode.chain.account(bob.address).balance).toBe(777n + BigInt(carolNonce));
    // The sequencer was forced to follow: same chain, same state.
    expect(toHex(w.seqNode.chain.head.stateRoot)).toBe(toHex(w.verNode.chain.head.stateRoot));
    expect(w.verNode.safeHead).toBe(w.seqNode.chain.head.number);
  });

  it('L1 reorg onto a heavier competing branch: a deposit and the batch after the fork point vanish from L2, nothing is minted twice, the batch is re-posted', async () => {
    world = new RollupWorld();
    const w = world;
    await deposit(w, 4_000_000n); // before the fork point: survives the reorg
    await w.sequence();
    await w.batch();
    expect(w.verNode.chain.account(alice!.address).balance).toBe(4_000_000n);
    const forkHeight = w.l1.chain.head.meta.height;
    const rival = w.l1.fork();
    try {
      // On our branch: a second deposit, sequenced and batched after the fork point.
      await deposit(w, 1_000_000n);
      await w.sequence();
      await w.batch();
      expect(w.verNode.chain.account(alice!.address).balance).toBe(5_000_000n);
      const safeBefore = w.verNode.safeHead;
      // A rival miner mines a longer (heavier) branch from the fork point, without either.
      for (let i = 0; i < 4; i++) rival.mine();
      const r = w.l1.adopt(rival, forkHeight + 1);
      expect(r.reorged).toBe(true);
      expect(r.orphaned.length).toBeGreaterThanOrEqual(2); // the deposit and the batch
      await w.syncAll();
      w.checkConservation();
      // Derivation follows the new branch: the second deposit never happened.
      expect(w.verNode.safeHead).toBeLessThan(safeBefore);
      expect(w.verNode.chain.account(alice!.address).balance).toBe(4_000_000n);
      // The sequencer dropped the unsafe block that read the vanished deposit.
      for (let i = 0; i < 4; i++) {
        await w.sequence();
        await w.batch();
      }
      expect(w.seqNode.chain.account(alice!.address).balance).toBe(4_000_000n);
      expect(toHex(w.verNode.chain.head.stateRoot)).toBe(toHex(w.seqNode.chain.head.stateRoot));
      expect(w.verNode.safeHead).toBe(w.seqNode.chain.head.number);
      // The user deposits again on the new branch: credited once.
      await deposit(w, 1_000_000n);
      await w.sequence();
      await w.batch();
      expect(w.verNode.chain.account(alice!.address).balance).toBe(5_000_000n);
      expect(getAccount(w.l1.chain.stateReader, escrowAddress(w.rollup.rollupId)).balance).toBe(5_000_000n);
    } finally {
      rival.close();
    }
  });
});

/** The malicious proposer's state after `opEnd` operations (see ProposerService.faultyTrace). */
function wrongState(w: RollupWorld, opEnd: number) {
  const chain = w.verNode.chain;
  const mem = new MemoryNodeStore();
  const nodes = new LayeredNodeReader(mem, chain.nodes);
  const tree = new SparseMerkleTree(nodes);
  const fault = Math.floor((opEnd * 2) / 3);
  let root = chain.rootAfterOps(0)!;
  for (let i = 0; i < opEnd; i++) {
    const b = chain.blockOfOp(i)!;
    const view = new OverlayView(new TreeReader(nodes, root));
    applyL2Op(view, chain.env, { number: b.number, timestamp: b.timestamp }, b.allOps[i - b.firstOp]!);
    if (i === fault) {
      const a = getAccount(view, keys[1]!.address);
      putAccount(view, keys[1]!.address, { ...a, balance: a.balance + 1n });
    }
    const up = tree.update(root, view.changes());
    mem.addAll(up.newNodes);
    root = up.root;
  }
  return { root, tree, reader: new TreeReader(nodes, root) };
}

describe('optimistic rollup: disputes', () => {
  async function busyRollup(w: RollupWorld, transfers: number) {
    await deposit(w, 50_000_000n);
    const env = w.seqNode.env;
    for (let i = 0; i < transfers; i++) w.l2Send(encodeTx(signL2Transfer(env, alice!.secretKey, i, keys[(i % 3) + 1]!.address, BigInt(10 + i))));
    await w.sequence();
    w.l2Send(encodeTx(signL2Withdrawal(env, alice!.secretKey, transfers, alice!.address, 1_000_000n)));
    await w.sequence();
    await w.batch();
  }

  it('a wrong root: the challenger wins by bisection in ~log2(n) moves, the bond is slashed, the root discarded, and a withdrawal re-proven against the corrected root', async () => {
    world = new RollupWorld({ proposer: { maliciousEvery: 1 } });
    const w = world;
    await busyRollup(w, 30);
    const bondPool = bondAddress(w.rollup.rollupId);
    const challengerBefore = getAccount(w.l1.chain.stateReader, bob.address).balance;
    await w.roles(); // malicious proposal lands
    // Prove the withdrawal against the (wrong) root: the proof is by the proposer's own state? The
    // proposer's node holds honest nodes only, so prove via a root that includes the record.
    let game = undefined as ReturnType<typeof readGame>;
    for (let i = 0; i < 40; i++) {
      await w.roles();
      game = readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0);
      if (game && game.status !== 0) break;
    }
    expect(game?.status).toBe(GAME_CHALLENGER_WON);
    const n = w.seqNode.chain.opCount;
    // Bisection rounds: about log2(n) defend+bisect pairs plus the step.
    expect(game!.moves).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)) + 2);
    expect(game!.moves).toBeGreaterThanOrEqual(Math.floor(Math.log2(n)));
    expect(readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!.status).toBe(OUTPUT_DISCARDED);
    const won = getAccount(w.l1.chain.stateReader, bob.address).balance - challengerBefore;
    expect(won).toBeGreaterThan(0n); // got its bond back plus 80% of the proposer's, minus fees
    expect(getAccount(w.l1.chain.stateReader, bondPool).balance).toBe(0n);
    // A withdrawal proven against the discarded root cannot finalize: proving against it is refused.
    const out0 = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!;
    expect(out0.status).toBe(OUTPUT_DISCARDED);
    // The (now honest) proposer posts the corrected root; the withdrawal is proven against it.
    w.proposer.opts.maliciousEvery = 0;
    for (let i = 0; i < 3; i++) await w.roles();
    const meta = readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId);
    expect(meta.count).toBe(2);
    const corrected = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 1)!;
    expect(bytesEqual(corrected.stateRoot, w.verNode.chain.rootAfterOps(corrected.opEnd)!)).toBe(true);
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const r = await proveAndFinalize(w, w.verNode, 0, 1);
    expect(r.prove?.status).toBe('ok');
    expect(r.finalize?.status).toBe('ok');
  });

  it('a withdrawal proven against a wrong root BEFORE it is discarded never finalizes against it; re-proving against the discarded root is refused; proven against the corrected root it pays once', async () => {
    world = new RollupWorld({ proposer: { maliciousEvery: 1 }, rollup: { clockBlocks: 30 } });
    const w = world;
    await busyRollup(w, 8);
    await w.roles(); // the wrong output 0 lands
    const out0 = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!;
    // Rebuild the malicious proposer's state (its trace credits it one unit two thirds into the
    // range) so a proof of the withdrawal against the wrong root exists: the record is in it.
    const wrong = wrongState(w, out0.opEnd);
    expect(toHex(wrong.root)).toBe(toHex(out0.stateRoot));
    const rec = getWithdrawal(wrong.reader, 0)!;
    const prove = (outputIndex: number, proof: Uint8Array[]) =>
      w.client.send(alice!, BRIDGE_MODULE, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: w.rollup.rollupId, outputIndex, withdrawal: rec, proof }), 40_000);
    const p0 = await prove(0, wrong.tree.prove(wrong.root, withdrawalKey(0)));
    w.mine();
    expect((await w.client.receipt(p0))?.status).toBe('ok');
    expect(readWithdrawalState(w.l1.chain.stateReader, w.rollup.rollupId, 0).proven?.outputIndex).toBe(0);
    // Before the discard: still in its window (and disputed), it does not finalize.
    const tooEarly = await finalizeOnly(w, 0);
    expect(tooEarly?.status).toBe('failed');
    expect(tooEarly?.error).toMatch(/challenge window|disputed/);
    // The honest challenger wins; the root is discarded.
    for (let i = 0; i < 40 && readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0)?.status !== GAME_CHALLENGER_WON; i++) await w.roles();
    expect(readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0)?.status).toBe(GAME_CHALLENGER_WON);
    expect(readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!.status).toBe(OUTPUT_DISCARDED);
    // Even after any window, the proof against the discarded root cannot pay out.
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const early = await finalizeOnly(w, 0);
    expect(early?.status).toBe('failed');
    expect(early?.error).toMatch(/proven against output 0, which was discarded; prove it again against a live output/);
    const again = await prove(0, wrong.tree.prove(wrong.root, withdrawalKey(0)));
    w.mine();
    expect((await w.client.receipt(again))?.error).toMatch(/output 0 was discarded by a fraud proof/);
    // The honest proposer posts the corrected root; proven again against it, the withdrawal finalizes.
    w.proposer.opts.maliciousEvery = 0;
    for (let i = 0; i < 4 && readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count < 2; i++) await w.roles();
    const corrected = readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 1)!;
    expect(toHex(corrected.stateRoot)).toBe(toHex(w.verNode.chain.rootAfterOps(corrected.opEnd)!));
    for (let i = 0; i < w.rollup.challengeWindow; i++) w.mine();
    const before = getAccount(w.l1.chain.stateReader, alice!.address).balance;
    const r = await proveAndFinalize(w, w.verNode, 0, 1);
    expect(r.prove?.status).toBe('ok');
    expect(r.finalize?.status).toBe('ok');
    expect(readWithdrawalState(w.l1.chain.stateReader, w.rollup.rollupId, 0)).toMatchObject({ proven: { outputIndex: 1 }, finalized: true });
    expect(getAccount(w.l1.chain.stateReader, alice!.address).balance - before).toBeGreaterThan(1_000_000n - 100_000n); // amount minus two L1 fees
  });

  it('a dishonest challenger (raw L1 moves: disagrees with every honest midpoint, then proves the last step) loses its bond to the proposer', async () => {
    world = new RollupWorld();
    const w = world;
    await busyRollup(w, 12);
    const mallory = keys[3]!;
    const disputes = rollupModuleNames(w.rollup.rollupId).disputes;
    for (let i = 0; i < 3 && readOutputsMeta(w.l1.chain.stateReader, w.rollup.rollupId).count === 0; i++) {
      await w.syncAll();
      await w.proposer.tick();
      w.mine();
    }
    const proposerBefore = getAccount(w.l1.chain.stateReader, keys[1]!.address).balance;
    const malloryBefore = getAccount(w.l1.chain.stateReader, mallory.address).balance;
    await w.client.send(mallory, disputes, 'challenge', encode(ChallengeArgs, { rollupId: w.rollup.rollupId, outputIndex: 0 }), 8_000);
    w.mine();
    let game = readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0)!;
    for (let i = 0; i < 40 && game.status === GAME_OPEN; i++) {
      await w.syncAll();
      if (game.turn === 1 && game.hi - game.lo > 1) {
        await w.client.send(mallory, disputes, 'bisect', encode(BisectArgs, { rollupId: w.rollup.rollupId, gameId: 0, agree: false }), 8_000);
      } else if (game.turn === 1) {
        // At one step Mallory submits the genuine proof: it shows the defender right.
        const sw = w.verNode.chain.stepWitness(game.lo)!;
        const bi = w.verNode.derivation.batchOfOp(game.lo)!;
        const batch = w.verNode.derivation.batch(bi)!;
        const leaves = Array.from({ length: batch.opCount }, (_, k) => {
          const b = w.verNode.chain.blockOfOp(batch.firstOp + k)!;
          return opLeaf(b.number, b.timestamp, opHash(b.allOps[batch.firstOp + k - b.firstOp]!));
        });
        const siblings = merkleProof(leaves, game.lo - batch.firstOp).siblings;
        const args = encode(StepArgs, { rollupId: w.rollup.rollupId, gameId: 0, batchIndex: bi, blockNumber: sw.block.number, timestamp: sw.block.timestamp, op: sw.op, siblings, witness: sw.witness });
        await w.client.send(mallory, disputes, 'step', args, 400_000);
      } else {
        await w.proposer.tick();
      }
      w.mine();
      game = readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0)!;
    }
    expect(game.status).toBe(GAME_PROPOSER_WON);
    expect(game.moves).toBeGreaterThanOrEqual(2 * Math.floor(Math.log2(13)) + 1); // played to the last step
    expect(readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!.status).not.toBe(OUTPUT_DISCARDED);
    const paid = (w.rollup.challengerBond * BigInt(10_000 - w.rollup.bondBurnBps)) / 10_000n;
    expect(game.payout).toBe(paid);
    const proposerGain = getAccount(w.l1.chain.stateReader, keys[1]!.address).balance - proposerBefore;
    expect(proposerGain).toBeGreaterThan(paid - 1_000_000n); // the challenger's bond minus the burn, minus the proposer's L1 fees
    // Mallory lost her whole bond (she is also the L1 block producer here, so fees come back to her).
    expect(malloryBefore - getAccount(w.l1.chain.stateReader, mallory.address).balance).toBeGreaterThan(w.rollup.challengerBond - 1_000_000n);
  });

  it('a player who stops responding loses on time', async () => {
    world = new RollupWorld({ proposer: { maliciousEvery: 1, unresponsive: true } });
    const w = world;
    await busyRollup(w, 20);
    let game: ReturnType<typeof readGame>;
    for (let i = 0; i < 40; i++) {
      await w.roles();
      game = readGame(w.l1.chain.stateReader, w.rollup.rollupId, 0);
      if (game && game.status !== 0) break;
    }
    expect(game?.status).toBe(GAME_CHALLENGER_WON);
    expect(game?.moves).toBe(0); // the proposer never moved; decided by its clock
    expect(readOutput(w.l1.chain.stateReader, w.rollup.rollupId, 0)!.status).toBe(OUTPUT_DISCARDED);
  });
});

describe('optimistic rollup: several rollups on one parent (module instances keyed by chain id)', () => {
  it('two rollups settle side by side on one L1: separate modules, escrows and derivations', async () => {
    const a = defaultRollupConfig({ l2ChainId: 901, batcher: keys[1]!.address });
    const b = defaultRollupConfig({ l2ChainId: 902, batcher: keys[1]!.address });
    const l1 = new L1Miner(a, [b]);
    try {
      const ca = new NodeL1Client(l1, a);
      const cb = new NodeL1Client(l1, b);
      const na = rollupModuleNames(a.rollupId);
      const nb = rollupModuleNames(b.rollupId);
      expect(na.bridge).toBe('op_bridge/901');
      expect(l1.chain.registry.childChains()).toEqual(new Map([[901, 'optimistic/901'], [902, 'optimistic/902']]));
      await ca.send(alice!, na.bridge, 'deposit', encode(DepositArgs, { rollupId: 901, to: alice!.address, amount: 1_000n }), 5_000);
      await ca.send(alice!, nb.bridge, 'deposit', encode(DepositArgs, { rollupId: 902, to: bob.address, amount: 2_000n }), 5_000);
      // A deposit naming the other rollup in its arguments is refused by this rollup's module.
      const cross = await ca.send(alice!, na.bridge, 'deposit', encode(DepositArgs, { rollupId: 902, to: bob.address, amount: 5n }), 5_000);
      l1.mine();
      expect((await ca.receipt(cross))?.status).toBe('failed');
      expect(getAccount(l1.chain.stateReader, escrowAddress(901)).balance).toBe(1_000n);
      expect(getAccount(l1.chain.stateReader, escrowAddress(902)).balance).toBe(2_000n);
      for (let i = 0; i < a.sequencingWindow + 1; i++) l1.mine(); // force inclusion on both
      const va = new RollupNode({ rollup: a }, ca);
      const vb = new RollupNode({ rollup: b }, cb);
      await va.syncL1();
      await vb.syncL1();
      expect(va.chain.account(alice!.address).balance).toBe(1_000n);
      expect(va.chain.account(bob.address).balance).toBe(0n);
      expect(vb.chain.account(bob.address).balance).toBe(2_000n);
      expect(vb.chain.account(alice!.address).balance).toBe(0n);
    } finally {
      l1.close();
    }
  });

  it('registration refuses a child chain id used twice, or equal to the parent chain id', () => {
    const a = defaultRollupConfig({ l2ChainId: 901 });
    expect(() => new ModuleRegistry([bankModule, ...parentModules(a), ...parentModules({ ...a })])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    // A different layer instance claiming the same child chain id is refused as well.
    const impostor = { name: 'zk_verifier/901', methods: {}, settles: { chainId: 901, instance: 'zk/901' } };
    expect(() => new ModuleRegistry([bankModule, ...parentModules(a), impostor])).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/settled twice/) }));
    // The parent's own chain id (devConfig: 1) cannot be a child's.
    expect(() => new L1Miner(defaultRollupConfig({ l2ChainId: 1 }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/id of its parent chain/) }));
    // rollupId and l2ChainId are one number.
    expect(() => parentModules({ ...a, rollupId: 7 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('optimistic rollup: L1 data fee', () => {
  it('every sequenced L2 transaction pays its estimated compressed size × the L1 fee per byte, shown in its receipt; forced ones pay none', async () => {
    world = new RollupWorld({ rollup: { l1FeePerByte: 3n, l1FeeScalarBps: 15_000 } });
    const w = world;
    await deposit(w, 5_000_000n);
    await w.sequence();
    const env = w.seqNode.env;
    const feeRecipient = w.rollup.l2FeeRecipient;
    const before = w.seqNode.chain.account(alice!.address).balance;
    const recipientBefore = w.seqNode.chain.account(feeRecipient).balance;
    const t = signL2Transfer(env, alice!.secretKey, 0, bob.address, 1_000n);
    w.l2Send(encodeTx(t));
    await w.sequence();
    const block = w.seqNode.chain.head;
    const r = block.results.at(-1)!;
    const op = block.allOps.at(-1)!;
    const expected = (BigInt(l1DataSize(op)) * 3n * 15_000n + 9_999n) / 10_000n;
    expect(l1DataSize(op)).toBeGreaterThan(60); // the signature alone is 65 incompressible bytes
    expect(r.l1Fee).toBe(expected);
    expect(l1DataFee(w.rollup, op)).toBe(expected);
    const paid = before - w.seqNode.chain.account(alice!.address).balance;
    expect(paid).toBe(1_000n + t.fee + expected);
    expect(w.seqNode.chain.account(feeRecipient).balance - recipientBefore).toBe(t.fee + expected);
    // The verifier charges the same from L1 data alone.
    await w.batch();
    expect(toHex(w.verNode.chain.head.stateRoot)).toBe(toHex(w.seqNode.chain.head.stateRoot));
    // A sender who can pay the execution fee but not the L1 data fee is left out.
    const poor = keys[3]!;
    w.l2Send(encodeTx(signL2Transfer(env, alice!.secretKey, 1, poor.address, t.fee)));
    await w.sequence();
    w.l2Send(encodeTx(signL2Transfer(env, poor.secretKey, 0, bob.address, 0n, t.fee)));
    const b2 = await (async () => {
      await w.sequence();
      return w.seqNode.chain.head;
    })();
    expect(b2.results.every((x) => x.sender === undefined || !bytesEqual(x.sender, poor.address))).toBe(true);
    expect(w.seqNode.chain.account(poor.address).nonce).toBe(0);
    // A forced transaction paid for its bytes on L1: no L1 data fee on L2.
    const forced = signL2Transfer(env, alice!.secretKey, 2, bob.address, 5n);
    await w.client.send(alice!, INBOX_MODULE, 'forceTx', encode(ForceTxArgs, { rollupId: w.rollup.rollupId, raw: encodeTx(forced) }), 5_000);
    w.mine();
    await w.sequence();
    const fr = w.seqNode.chain.head.results.find((x) => x.kind === 'forced')!;
    expect(fr.status).toBe('ok');
    expect(fr.l1Fee).toBe(0n);
  });
});
