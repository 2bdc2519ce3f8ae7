/**
 * The optimistic rollup over real sockets (loopback): an L1 StrataNode with the settlement
 * modules serves JSON-RPC; every L2 role (sequencer node + its L2 RPC, batcher, proposer, a
 * verifier node + challenger) reaches the L1 only through `RpcL1Client`, and the test acts as a
 * user through the two RPC endpoints only.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataNode, startRpc } from '@strata/node';
import {
  BatcherService,
  rollupModuleNames,
  ChallengerService,
  defaultRollupConfig,
  DepositArgs,
  FinalizeWithdrawalArgs,
  makeL2Env,
  optimisticParentModules,
  ProposerService,
  ProveWithdrawalArgs,
  rollupL1RpcMethods,
  RollupNode,
  RpcL1Client,
  SequencerService,
  signL2Transfer,
  signL2Withdrawal,
  startL2Rpc,
  type RollupConfig,
} from '@strata/optimistic';
import {
  deriveKeyPairs,
  DEV_MNEMONIC,
  encode,
  encodeAddress,
  fromHex,
  fromQuantity,
  initHashing,
  toHex,
  toQuantity,
  type KeyPair,
} from '@strata/primitives';
import { RpcClient, WsRpcClient, type RpcServer } from '@strata/rpc';
import { bankModule, encodeTx } from '@strata/runtime';
import { devConfig, tempDir } from '../helpers/chain.js';

await initHashing();

// 0 user, 1 batcher, 2 proposer, 3 challenger, 4 L1 producer, 5 a fresh L1 withdrawal recipient.
const ks: KeyPair[] = deriveKeyPairs(DEV_MNEMONIC, 6);
const [user, batcherKey, proposerKey, challengerKey, producer, recipient] = ks as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];
const silent = { info() {}, warn() {}, debug() {} };
const t = tempDir('strata-op-e2e-');

const rollup: RollupConfig = defaultRollupConfig({ batcher: batcherKey.address, challengeWindow: 8, clockBlocks: 40, takeoverBlocks: 3, sequencingWindow: 20 });
const BRIDGE_MODULE = rollupModuleNames(rollup.rollupId).bridge;
let l1: StrataNode;
let l1Rpc: RpcServer;
let l2Rpc: RpcServer;
let l1c: RpcClient; // the user's view of the L1
let l2c: RpcClient; // the user's view of the L2
let userL1: RpcL1Client;
let proposer: ProposerService;
let sequencer: SequencerService;
let services: { stop(): Promise<void> }[] = [];

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function l1Receipt(hash: Uint8Array) {
  return until('L1 receipt', () => userL1.receipt(hash));
}

const l2Addr = (k: KeyPair) => encodeAddress(rollup.l2AddressPrefix, k.address);
async function l2Balance(k: KeyPair): Promise<bigint> {
  return fromQuantity((await l2c.call<{ balance: string }>('state_getAccount', [l2Addr(k)])).balance);
}
async function l2Nonce(k: KeyPair): Promise<number> {
  return Number(fromQuantity((await l2c.call<{ nextNonce: string }>('state_getAccount', [l2Addr(k)])).nextNonce));
}
async function l1Balance(k: Uint8Array): Promise<bigint> {
  return fromQuantity((await l1c.call<{ balance: string }>('state_getAccount', [toHex(k)])).balance);
}

interface WithdrawalView {
  id: number;
  from: string;
  to: string;
  amount: string;
  stage: string;
  outputIndex: number | null;
  proof: string[] | null;
}

beforeAll(async () => {
  const cfg = devConfig({
    genesis: { timestamp: 1_700_000_000_000, alloc: ks.slice(0, 5).map((k) => ({ address: toHex(k.address), balance: '100000000000000' })) },
  });
  // Dev sealing: a block as soon as transactions arrive; the test mines extra blocks with dev_mine.
  l1 = await StrataNode.create(
    {
      dataDir: t.dir,
      config: cfg,
      mining: 'dev',
      blockTimeMs: 0,
      producer: producer.address,
      verifierThreads: 1,
      modules: [bankModule, ...optimisticParentModules(rollup)],
    },
    { logger: pino({ level: 'silent' }) },
  );
  await l1.start();
  l1Rpc = await startRpc(l1, { host: '127.0.0.1', port: 0 });
  l1Rpc.registerAll(rollupL1RpcMethods(l1, rollup));
  l1c = new RpcClient(l1Rpc.url);
  userL1 = new RpcL1Client(l1Rpc.url);

  // The L2 roles: their own RPC clients to the L1, nothing in-process.
  const seqNode = new RollupNode({ rollup, sequencer: {} }, new RpcL1Client(l1Rpc.url), { logger: silent });
  const verNode = new RollupNode({ rollup }, new RpcL1Client(l1Rpc.url), { logger: silent });
  sequencer = new SequencerService(seqNode, { blockTimeMs: 100 }, silent);
  const batcher = new BatcherService(seqNode, { key: batcherKey, intervalMs: 100, retryAfterL1Blocks: 6 }, silent);
  proposer = new ProposerService(seqNode, { key: proposerKey, interval: 1, maxWaitL1Blocks: 1, intervalMs: 100, retryAfterL1Blocks: 6 }, silent);
  const challenger = new ChallengerService(verNode, { key: challengerKey, intervalMs: 100 }, silent);
  l2Rpc = await startL2Rpc(seqNode, { host: '127.0.0.1', port: 0 });
  l2c = new RpcClient(l2Rpc.url);
  for (const s of [sequencer, batcher, proposer, challenger]) s.start();
  services = [challenger, proposer, batcher, sequencer];
});

afterAll(async () => {
  for (const s of services) await s.stop();
  await l2Rpc?.stop();
  await l1Rpc?.stop();
  await l1?.stop();
  t.cleanup();
});

describe('optimistic rollup over JSON-RPC (loopback)', () => {
  it('deposit → L2 transfer → withdrawal: finalize fails in the window with the reason, succeeds after, and only once', async () => {
    // L2 newHeads over WebSocket, as on the L1.
    const ws = await WsRpcClient.connect(l2Rpc.wsUrl);
    const heads: { number: string; hash: string; stateRoot: string }[] = [];
    const subId = await ws.subscribe('chain_subscribe', ['newHeads'], (h) => heads.push(h as (typeof heads)[number]));
    expect(typeof subId).toBe('string');

    const deposit = 50_000_000n;
    const dh = await userL1.send(
      user,
      BRIDGE_MODULE,
      'deposit',
      encode(DepositArgs, { rollupId: rollup.rollupId, to: user.address, amount: deposit }),
      5_000,
    );
    expect((await l1Receipt(dh)).status).toBe('ok');
    await until('deposit credited on L2', async () => (await l2Balance(user)) === deposit);

    // An L2 transfer through the sequencer's tx_sendRaw; tx_get has the L1's shape.
    const env = makeL2Env(rollup);
    const bob = ks[3] as KeyPair;
    const transfer = signL2Transfer(env, user.secretKey, await l2Nonce(user), bob.address, 12_345n);
    const th = await l2c.call<string>('tx_sendRaw', [toHex(encodeTx(transfer))]);
    const rc = await until('L2 transfer receipt', () =>
      l2c.call<{ status: string; blockNumber: string; l1Fee: string; l1DataSize: string } | null>('tx_getReceipt', [th]).then((r) => r ?? undefined),
    );
    expect(rc.status).toBe('0x1');
    // The L1 data fee (OP's L1 fee): estimated compressed size × the L1's fee per byte.
    expect(fromQuantity(rc.l1DataSize)).toBeGreaterThan(60n);
    expect(fromQuantity(rc.l1Fee)).toBe(fromQuantity(rc.l1DataSize) * rollup.l1FeePerByte);
    const tx = await l2c.call<Record<string, unknown>>('tx_get', [th]);
    expect(tx).toMatchObject({
      hash: th,
      from: l2Addr(user),
      to: l2Addr(bob),
      amount: '0x3039',
      module: 'bank',
      method: 'transfer',
      blockNumber: rc.blockNumber,
    });
    expect(Object.keys(tx).sort()).toEqual([
      'amount',
      'args',
      'blockHash',
      'blockNumber',
      'chainId',
      'computeLimit',
      'fee',
      'from',
      'hash',
      'index',
      'method',
      'module',
      'nonce',
      'signature',
      'size',
      'to',
    ]);
    expect(await l2c.call('tx_get', [`0x${'00'.repeat(32)}`])).toBeNull();
    expect(await l2Balance(bob)).toBe(12_345n);

    // The subscription saw every sequenced head, in order, with chain_getHead's shape.
    const head = await l2c.call<{ number: string; hash: string }>('chain_getHead');
    await until('newHeads to catch up', async () => heads.some((h) => h.hash === head.hash));
    const nums = heads.map((h) => Number(fromQuantity(h.number)));
    expect(nums).toEqual([...nums].sort((a, b) => a - b));
    expect(Object.keys(heads[0] as object).sort()).toEqual(Object.keys(head).sort());
    await ws.unsubscribe('chain_unsubscribe', subId);
    await ws.close();

    // Withdraw to a fresh L1 address.
    const amount = 3_000_000n;
    const w = signL2Withdrawal(env, user.secretKey, await l2Nonce(user), recipient.address, amount);
    await l2c.call('tx_sendRaw', [toHex(encodeTx(w))]);
    const inWindow = await until('a root covering the withdrawal', async () => {
      const v = await l2c.call<WithdrawalView | null>('rollup_getWithdrawal', [0]);
      return v && v.stage !== 'waiting for root' ? v : undefined;
    });
    expect(inWindow.stage).toBe('in challenge window');
    const prove = encode(ProveWithdrawalArgs, {
      rollupId: rollup.rollupId,
      outputIndex: inWindow.outputIndex as number,
      withdrawal: { id: 0, l2Sender: fromHex(inWindow.from, 20), l1Recipient: fromHex(inWindow.to, 20), amount: BigInt(inWindow.amount) },
      proof: (inWindow.proof as string[]).map((p) => fromHex(p)),
    });
    const finalizeArgs = encode(FinalizeWithdrawalArgs, { rollupId: rollup.rollupId, id: 0 });
    expect((await l1Receipt(await userL1.send(user, BRIDGE_MODULE, 'proveWithdrawal', prove, 40_000))).status).toBe('ok');
    const early = await l1Receipt(await userL1.send(user, BRIDGE_MODULE, 'finalizeWithdrawal', finalizeArgs, 5_000));
    expect(early.status).toBe('failed');
    expect(early.error).toMatch(/L2_WITHDRAWAL: output \d+ is still in its challenge window \(until L1 block \d+\)/);
    expect(await l1Balance(recipient.address)).toBe(0n);

    // Past the window (dev_mine over the L1 RPC) the stage turns ready and finalize pays out once.
    await l1c.call('dev_mine', [toQuantity(rollup.challengeWindow)]);
    await until('stage ready', async () => (await l2c.call<WithdrawalView>('rollup_getWithdrawal', [0])).stage === 'ready');
    const ok = await l1Receipt(await userL1.send(user, BRIDGE_MODULE, 'finalizeWithdrawal', finalizeArgs, 5_000));
    expect(ok.status).toBe('ok');
    expect(await l1Balance(recipient.address)).toBe(amount);
    const again = await l1Receipt(await userL1.send(user, BRIDGE_MODULE, 'finalizeWithdrawal', finalizeArgs, 5_000));
    expect(again.status).toBe('failed');
    expect(again.error).toMatch(/already finalized/);
    expect(await l1Balance(recipient.address)).toBe(amount);
    await until('stage finalized', async () => (await l2c.call<WithdrawalView>('rollup_getWithdrawal', [0])).stage === 'finalized');
  }, 40_000);

  it('a malicious root is challenged over RPC, bisected, and discarded; the honest challenger wins the bond', async () => {
    const challengerBefore = await l1Balance(challengerKey.address);
    const proposerBefore = await l1Balance(proposerKey.address);
    const outputsBefore = (await l2c.call<unknown[]>('rollup_getOutputs')).length;
    proposer.opts.maliciousEvery = 1;
    // Enough L2 operations in one output for a few bisection rounds: the sequencer pauses while
    // they pool, then seals them together.
    const env = makeL2Env(rollup);
    await sequencer.stop();
    let nonce = await l2Nonce(user);
    for (let i = 0; i < 12; i++)
      await l2c.call('tx_sendRaw', [toHex(encodeTx(signL2Transfer(env, user.secretKey, nonce++, ks[(i % 3) + 1]!.address, BigInt(100 + i))))]);
    sequencer.start();
    // The L1 only seals blocks when transactions arrive: a heartbeat block now and then lets the
    // empty defender slot (after the proposer lost the one-step proof) run out, as time would.
    let polls = 0;
    const game = await until(
      'a resolved dispute game',
      async () => {
        if (++polls % 10 === 0) await l1c.call('dev_mine', ['0x1']);
        return (await l2c.call<{ id: number; status: string; outputIndex: number; moves: number; lo: number; hi: number }[]>('rollup_getGames')).find((g) => g.status !== 'open');
      },
      30_000,
    );
    proposer.opts.maliciousEvery = 0;
    expect(game.status).toBe('challenger won');
    // The disputed output covers the 12 transfers; bisection narrowed it to one operation in
    // floor..ceil(log2 12) rounds of two moves (midpoint root, agree/disagree), then the step;
    // the beaten proposer's slot then stayed empty (the game record shows its whole range again).
    expect(game.hi - game.lo).toBeGreaterThanOrEqual(12);
    expect(game.moves).toBeGreaterThanOrEqual(2 * Math.floor(Math.log2(12)) + 1);
    expect(game.moves).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(12)) + 1);
    const outputs = await l2c.call<{ index: number; status: string; matchesLocal: boolean | null }[]>('rollup_getOutputs');
    const bad = outputs.find((o) => o.index === game.outputIndex);
    expect(bad?.status).toBe('discarded');
    expect(bad?.matchesLocal).toBe(false);
    expect(outputs.length).toBeGreaterThan(outputsBefore);
    // Later wrong roots built on the discarded one were challenged too: once their games are
    // void (their outputs went with the discard), every challenger bond is back.
    await until(
      'every game resolved',
      async () => {
        if (++polls % 10 === 0) await l1c.call('dev_mine', ['0x1']);
        return (await l2c.call<{ status: string }[]>('rollup_getGames')).every((g) => g.status !== 'open');
      },
      20_000,
    );
    // The proposer stayed malicious until the first game ended, so it may have lost more than one
    // output (each a separate root, each its own game). For every output it lost, the challenger
    // got its bond back plus 80 % of the proposer's (fees are far smaller); never two payouts for
    // one output.
    const wonGames = (await l2c.call<{ status: string; outputIndex: number }[]>('rollup_getGames')).filter((g) => g.status === 'challenger won');
    const lostOutputs = new Set(wonGames.map((g) => g.outputIndex));
    expect(lostOutputs.size).toBe(wonGames.length);
    const n = BigInt(wonGames.length);
    const won = (await l1Balance(challengerKey.address)) - challengerBefore;
    expect(won).toBeGreaterThan((n * rollup.proposerBond * 7n) / 10n);
    expect(won).toBeLessThanOrEqual((n * rollup.proposerBond * 8n) / 10n);
    expect((await l1Balance(proposerKey.address)) - proposerBefore).toBeLessThan(-n * rollup.proposerBond + 1n);
    // The honest proposer then posts the corrected root, which matches every node's derivation.
    // The proposer waits for the L1 to move on (a stale output, or its own proposal's retry
    // after a few L1 blocks), so the heartbeat goes on here too.
    await until(
      'a corrected live root',
      async () => {
        if (++polls % 10 === 0) await l1c.call('dev_mine', ['0x1']);
        return (await l2c.call<typeof outputs>('rollup_getOutputs')).some((o) => o.index > game.outputIndex && o.matchesLocal === true);
      },
      20_000,
    );
  }, 75_000);
});
