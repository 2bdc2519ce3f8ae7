/**
 * Rollup benchmark: bytes on L1 per L2 transfer and L2 transfers per L1 block through the shipped
 * sequencer and batcher with a realistic workload (10,000 accounts, first-time recipients, mixed
 * amounts and fees), against direct L1 transfers measured in the same run; and time to soft
 * confirmation (sequenced) and to final (batch final on L1). Run: npm run bench -- rollup
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { devAccounts, devnetChainConfig, devnetRollupConfig, devnetRollupModules } from '@strata/devnet';
import { StrataNode } from '@strata/node';
import { Chain, ChainStore } from '@strata/chain';
import { bytesEqual, deriveKeyPairs, DEV_MNEMONIC, encode, initHashing, randomKeyPair, toHex, type KeyPair } from '@strata/primitives';
import {
  BatcherService,
  defaultRollupConfig,
  DepositArgs,
  l1DataSize,
  NodeL1Client,
  parentModules,
  RollupNode,
  rollupModuleNames,
  SequencerService,
  signL2Transfer,
  type RollupConfig,
} from '@strata/optimistic';
import {
  bankModule,
  defaultChainConfig,
  encodeTx,
  minimumFee,
  ModuleRegistry,
  parseChainConfig,
  signTx,
  TRANSFER_COMPUTE,
  TransferArgsCodec,
  verifyRawTx,
  type ChainConfig,
  type VerifiedTx,
} from '@strata/runtime';
import { openDatabase } from '@strata/state';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Measures, end to end in one process, the time from handing an L2 transfer to the sequencer
 * to (a) its soft confirmation (in a sequenced L2 block) and (b) finality (the L1 block holding
 * its batch has `confirmations` blocks on top, as the sequencer node's finalized head reports).
 * The setup is the devnet's: its L1 config (6 confirmations, dev sealing on each transaction),
 * its rollup config, a 250 ms sequencer and a 1 s batcher, and an L1 heartbeat block every
 * `heartbeatMs` (the devnet's is 2,000 ms; scaled down here so the run stays short).
 */
export async function measureLatency(
  opts: { heartbeatMs?: number; samples?: number } = {},
): Promise<{ softMs: number; finalMs: number; softMax: number; finalMax: number; heartbeatMs: number; confirmations: number; samples: number }> {
  const heartbeatMs = opts.heartbeatMs ?? 250;
  const samples = opts.samples ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-rollup-'));
  const config = devnetChainConfig({});
  const accounts = devAccounts(config.addressPrefix, 10);
  const rollup = devnetRollupConfig(accounts);
  const node = await StrataNode.create(
    {
      dataDir: dir,
      config,
      mining: 'dev',
      blockTimeMs: 0,
      producer: accounts[0]!.keys.address,
      verifierThreads: 1,
      modules: [bankModule, ...devnetRollupModules(rollup)],
    },
    { logger: pino({ level: 'silent' }) },
  );
  await node.start();
  const silent = { info() {}, warn() {}, debug() {} };
  const client = new NodeL1Client(node, rollup, (a) => node.mempool.nextNonce(a, node.chain.account(a).nonce));
  const seq = new RollupNode({ rollup, sequencer: {} }, client);
  const sequencer = new SequencerService(seq, { blockTimeMs: 250 }, silent);
  const batcher = new BatcherService(seq, { key: accounts[9]!.keys, intervalMs: 1000 }, silent);
  const heartbeat = setInterval(() => void node.mineBlocks(1).catch(() => {}), heartbeatMs);
  sequencer.start();
  batcher.start();
  try {
    const user = accounts[0]!.keys;
    await client.send(
      user,
      rollupModuleNames(rollup.rollupId).bridge,
      'deposit',
      encode(DepositArgs, { rollupId: rollup.rollupId, to: user.address, amount: 10n ** 12n }),
      5_000,
    );
    const funded = Date.now() + 30_000;
    while (seq.chain.account(user.address).balance === 0n && Date.now() < funded) await new Promise((r) => setTimeout(r, 20));
    const env = seq.env;
    const soft: number[] = [];
    const final: number[] = [];
    const runs: Promise<void>[] = [];
    for (let i = 0; i < samples; i++) {
      const vtx = seq.submitTx(encodeTx(signL2Transfer(env, user.secretKey, seq.nextNonce(user.address), accounts[1]!.keys.address, 1_000n)));
      const t0 = performance.now();
      runs.push(
        (async () => {
          let loc = seq.chain.txLocation(vtx.hash);
          while (!loc) {
            await new Promise((r) => setTimeout(r, 2));
            loc = seq.chain.txLocation(vtx.hash);
          }
          soft.push(performance.now() - t0);
          while (seq.heads().finalized < loc.number) await new Promise((r) => setTimeout(r, 5));
          final.push(performance.now() - t0);
        })(),
      );
      // Spread submissions over the sequencer and batcher cycles.
      await new Promise((r) => setTimeout(r, 170 + ((i * 97) % 300)));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(runs),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('latency samples did not finalize in 120 s')), 120_000))),
    ]).finally(() => clearTimeout(timer));
    return {
      softMs: median(soft),
      finalMs: median(final),
      softMax: Math.max(...soft),
      finalMax: Math.max(...final),
      heartbeatMs,
      confirmations: config.confirmations,
      samples,
    };
  } finally {
    clearInterval(heartbeat);
    await batcher.stop();
    await sequencer.stop();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small L1 for the workload: a real chain (lmdb) with the rollup modules, mined by hand. */
class BenchL1 {
  readonly chain: Chain;
  pending: VerifiedTx[] = [];
  constructor(dir: string, config: ChainConfig, rollup: RollupConfig) {
    this.chain = Chain.open(config, new ModuleRegistry([bankModule, ...parentModules(rollup)]), new ChainStore(openDatabase({ path: dir })));
  }
  submitTx(raw: Uint8Array): VerifiedTx {
    const v = verifyRawTx(raw, this.chain.config.maxTxBytes);
    this.pending.push(v);
    return v;
  }
  nextNonce(a: Uint8Array): number {
    return this.chain.account(a).nonce + this.pending.filter((v) => bytesEqual(v.sender, a)).length;
  }
  /** Mines one block from the pending transactions (as many as the block limits take). */
  mine(): { txs: number; bytes: number } {
    const built = this.chain.buildBlock(this.pending, { producer: new Uint8Array(20), timestamp: this.chain.head.header.timestamp + 1000 });
    const included = new Set(built.execution.txs.map((t) => toHex(t.hash)));
    this.pending = this.pending.filter((v) => !included.has(toHex(v.hash)));
    this.chain.importBlock({ header: built.header, txs: built.execution.txs.map((t) => t.bytes) }, { verified: built.execution.txs, execution: built.execution });
    return { txs: built.execution.txs.length, bytes: built.execution.txs.reduce((n, t) => n + t.bytes.length, 0) };
  }
}

/** Deterministic pseudo-random numbers (mulberry32), so every run draws the same workload. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Bytes on L1 per L2 transfer and transfers per L1 block, through the shipped sequencer
 * (`RollupNode.sequence`, 2,000 operations per L2 block) and batcher (`BatcherService.tick`,
 * byte-bound batches) over a real L1 chain. Workload: `accounts` funded L2 accounts (made by
 * first-time transfers from 50 depositors), then `transfers` transfers between random senders,
 * a `firstTimeShare` of them to never-seen recipients (20-byte address instead of an index),
 * amounts log-uniform over 1..10^12, fees the minimum plus a random tip of up to 50 %. The
 * baseline is measured in the same run: the same transfers signed as direct L1 transactions,
 * as many as the L1's block builder fits in one block.
 */
export async function measureThroughput(opts: { accounts?: number; transfers?: number; firstTimeShare?: number } = {}) {
  const accounts = opts.accounts ?? 10_000;
  const transfers = opts.transfers ?? 10_000;
  const firstTimeShare = opts.firstTimeShare ?? 0.25;
  const rand = rng(42);
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-rollup-l1-'));
  const whales = deriveKeyPairs(DEV_MNEMONIC, 51);
  const batcherKey = whales[50]!;
  const config = parseChainConfig(
    { chainId: 1, blockReward: '0', genesis: { timestamp: 1_700_000_000_000, alloc: whales.map((k) => ({ address: toHex(k.address), balance: (10n ** 20n).toString() })) } },
    defaultChainConfig(),
  );
  const rollup = defaultRollupConfig({ batcher: batcherKey.address, l1FeePerByte: config.fees.perByte });
  const l1 = new BenchL1(dir, config, rollup);
  const client = new NodeL1Client(l1, rollup, (a) => l1.nextNonce(a));
  const silent = { info() {}, warn() {}, debug() {} };
  const seq = new RollupNode({ rollup, sequencer: {} }, client);
  const batcher = new BatcherService(seq, { key: batcherKey }, silent);
  const names = rollupModuleNames(rollup.rollupId);
  const env = seq.env;
  let now = 1_700_000_000_000;
  const batchTx = { count: 0, bytes: 0, maxOpsInOneBlock: 0 };
  const opsOf = (r: { first: number; last: number }) => {
    let n = 0;
    for (let b = r.first; b <= r.last; b++) n += seq.chain.get(b)?.allOps.length ?? 0;
    return n;
  };
  /** Sequences and batches until the pool is empty and L1 holds every block; returns the L1 blocks that carried a batch. */
  const drain = async (): Promise<number> => {
    let blocks = 0;
    for (let guard = 0; guard < 10_000; guard++) {
      await seq.syncL1();
      while (seq.poolSize > 0) {
        now += 250;
        seq.sequence(now);
      }
      const posted = await batcher.tick();
      const postedOps = posted ? opsOf(posted) : 0;
      const before = l1.pending.filter((v) => v.tx.method === 'postBatch');
      l1.mine();
      let carried = false;
      for (const v of before) {
        if (l1.pending.includes(v)) continue;
        batchTx.count++;
        batchTx.bytes += v.bytes.length;
        carried = true;
      }
      if (carried) {
        blocks++; // L1 blocks that carried a batch
        batchTx.maxOpsInOneBlock = Math.max(batchTx.maxOpsInOneBlock, postedOps);
      }
      await seq.syncL1();
      if (!posted && seq.poolSize === 0 && seq.derivation.meta.blockCount >= seq.chain.head.number && l1.pending.length === 0) return blocks;
    }
    throw new Error('rollup did not drain');
  };
  try {
    // 50 depositors on L1.
    for (const w of whales.slice(0, 50)) {
      await client.send(w, names.bridge, 'deposit', encode(DepositArgs, { rollupId: rollup.rollupId, to: w.address, amount: 10n ** 18n }), 5_000);
    }
    l1.mine();
    await seq.syncL1();
    now += 250;
    seq.sequence(now);
    // Setup: the depositors fund `accounts` new accounts (first-time recipients, not measured).
    const users = Array.from({ length: accounts }, () => randomKeyPair());
    const nonces = new Map<string, number>();
    const nextNonce = (k: KeyPair) => {
      const n = nonces.get(toHex(k.address)) ?? 0;
      nonces.set(toHex(k.address), n + 1);
      return n;
    };
    const minFee = BigInt(TRANSFER_COMPUTE) * env.config.fees.perCompute;
    users.forEach((u, i) => {
      const w = whales[i % 50]!;
      seq.submitTx(encodeTx(signL2Transfer(env, w.secretKey, nextNonce(w), u.address, 10n ** 13n, minFee)));
    });
    await drain();
    batchTx.count = 0;
    batchTx.bytes = 0;
    batchTx.maxOpsInOneBlock = 0;
    // Measured: `transfers` transfers, mixed amounts and fees, a share to first-time recipients.
    const direct: Uint8Array[] = [];
    let firstTime = 0;
    let estimate = 0;
    const opsBefore = seq.chain.opCount;
    for (let i = 0; i < transfers; i++) {
      const from = users[Math.floor(rand() * users.length)]!;
      let to: Uint8Array;
      if (rand() < firstTimeShare) {
        to = randomKeyPair().address;
        firstTime++;
      } else to = users[Math.floor(rand() * users.length)]!.address;
      const amount = BigInt(Math.floor(10 ** (rand() * 12))) + 1n;
      const fee = minFee + BigInt(Math.floor(rand() * Number(minFee) * 0.5));
      const nonce = nextNonce(from);
      seq.submitTx(encodeTx(signL2Transfer(env, from.secretKey, nonce, to, amount, fee)));
      // The same transfer as a direct L1 transaction (for the baseline).
      direct.push(
        encodeTx(
          signTx(
            { chainId: config.chainId, nonce, fee: minimumFee(config, 200, TRANSFER_COMPUTE), computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to, amount }) },
            from.secretKey,
          ),
        ),
      );
    }
    const t0 = performance.now();
    const l1Blocks = await drain();
    const pipelineMs = performance.now() - t0;
    const ops = seq.chain.opCount - opsBefore;
    for (let n = 1; n <= seq.chain.head.number; n++) {
      const b = seq.chain.get(n)!;
      if (b.firstOp < opsBefore) continue;
      for (const o of b.allOps) estimate += l1DataSize(o);
    }
    // Baseline: how many of the same transfers the L1 block builder fits in one block, directly.
    const dirBase = mkdtempSync(join(tmpdir(), 'strata-bench-rollup-direct-'));
    const baseL1 = new BenchL1(
      dirBase,
      parseChainConfig({ chainId: 1, blockReward: '0', genesis: { timestamp: 1_700_000_000_000, alloc: users.map((u) => ({ address: toHex(u.address), balance: (10n ** 15n).toString() })) } }, defaultChainConfig()),
      rollup,
    );
    const seen = new Set<string>();
    for (const raw of direct) {
      const v = verifyRawTx(raw);
      if (v.tx.nonce !== 0 || seen.has(toHex(v.sender))) continue; // one per sender: every tx is valid in the block
      seen.add(toHex(v.sender));
      baseL1.pending.push(v);
    }
    const one = baseL1.mine();
    await baseL1.chain.store.close();
    rmSync(dirBase, { recursive: true, force: true });
    const directBytes = direct.reduce((n, d) => n + d.length, 0) / direct.length;
    const bytesPerTransfer = batchTx.bytes / ops;
    const rollupPerBlock = ops / l1Blocks;
    return {
      accounts,
      transfers: ops,
      firstTimeRecipients: firstTime,
      l1Blocks,
      batches: batchTx.count,
      l1BytesPerL2Transfer: Number(bytesPerTransfer.toFixed(1)),
      l1DataSizeEstimatePerTransfer: Number((estimate / ops).toFixed(1)),
      directL1TransferBytes: Number(directBytes.toFixed(1)),
      bytesRatioDirectOverRollup: Number((directBytes / bytesPerTransfer).toFixed(2)),
      directTransfersPerL1Block: one.txs,
      directBlockBytes: one.bytes,
      rollupTransfersPerL1BlockAverage: Math.round(rollupPerBlock),
      // A full L1 block: the largest batch one block carried (bound by the L1's transaction and
      // block byte caps: the L1 stores the batch, it does not execute the transfers).
      rollupTransfersPerFullL1Block: batchTx.maxOpsInOneBlock,
      perBlockRatioRollupOverDirect: Number((batchTx.maxOpsInOneBlock / one.txs).toFixed(2)),
      pipelineSecondsForMeasured: Number((pipelineMs / 1000).toFixed(1)),
    };
  } finally {
    await l1.chain.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number | string>> {
  await initHashing();
  const accounts = Number(process.env.BENCH_ROLLUP_ACCOUNTS ?? 10_000);
  const transfers = Number(process.env.BENCH_ROLLUP_TRANSFERS ?? 10_000);
  const t = await measureThroughput({ accounts, transfers });
  return { ...t, ...(await latencyFigures()) };
}

/** Latency figures: measured with a scaled L1 heartbeat, and the formula for the devnet's own. */
async function latencyFigures(): Promise<Record<string, number | string>> {
  const hb = Number(process.env.BENCH_L1_BLOCK_MS ?? 250);
  const m = await measureLatency({ heartbeatMs: hb });
  const devnetHb = 2000;
  // soft ≈ wait for the next L2 block (≤ 250 ms, avg 125); final ≈ soft + wait for the batcher
  // (≤ 1 s, avg 0.5 s) + inclusion (dev sealing: immediate) + confirmations × L1 block interval
  // + the sequencer's next L1 sync (≤ 250 ms). Other L1 transactions only make blocks sooner.
  const formula = (blockMs: number) => 125 + 500 + m.confirmations * blockMs + 125;
  return {
    softConfirmationMsMedian: Number(m.softMs.toFixed(0)),
    softConfirmationMsMax: Number(m.softMax.toFixed(0)),
    finalMsMedian: Number(m.finalMs.toFixed(0)),
    finalMsMax: Number(m.finalMax.toFixed(0)),
    latencySetup: `devnet roles in-process; L1 heartbeat ${m.heartbeatMs} ms (devnet: ${devnetHb} ms), ${m.confirmations} confirmations, ${m.samples} samples`,
    finalMsFormulaAtMeasuredHeartbeat: formula(m.heartbeatMs),
    finalMsFormulaAtDevnetHeartbeat: formula(devnetHb),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(28)} ${v}`);
}
