/**
 * Rollup benchmark: bytes on L1 per L2 transfer (1,000 signed transfers in one batch), transfers
 * per L1 block direct vs through the rollup under the same L1 limits, and time to soft
 * confirmation (sequenced) and to final (batch final on L1). Run: npx tsx bench/rollup.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { devAccounts, devnetChainConfig, devnetRollupConfig, devnetRollupModules } from '@strata/devnet';
import { StrataNode } from '@strata/node';
import { deriveKeyPairs, DEV_MNEMONIC, encode, initHashing } from '@strata/primitives';
import {
  BatcherService,
  batchComputeLimit,
  rollupModuleNames,
  buildBatch,
  defaultRollupConfig,
  DepositArgs,
  encodeOp,
  L2Chain,
  makeL2Env,
  NodeL1Client,
  PostBatchArgsCodec,
  compactOp,
  RollupNode,
  SequencerService,
  signL2Transfer,
} from '@strata/optimistic';
import { bankModule, defaultChainConfig, encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec, verifyRawTx, minimumFee } from '@strata/runtime';

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

export async function run(): Promise<Record<string, number | string>> {
  await initHashing();
  const l1 = defaultChainConfig();
  const rollup = defaultRollupConfig();
  const env = makeL2Env(rollup);
  const chain = new L2Chain(env);
  const users = deriveKeyPairs(DEV_MNEMONIC, 100);
  // Fund 100 users by deposits (one block), so recipients have account indices.
  const deposits = users.map((u, i) => encodeOp({ kind: 'deposit', depositId: i, from: u.address, to: u.address, amount: 10_000_000_000n }));
  chain.build({ timestamp: 1000, delayedFrom: 0, delayedOps: deposits, ops: [] });
  const N = 1000;
  const txs = [];
  for (let i = 0; i < N; i++) {
    const from = users[i % 100]!;
    const to = users[(i * 7 + 3) % 100]!;
    txs.push(verifyRawTx(encodeTx(signL2Transfer(env, from.secretKey, Math.floor(i / 100), to.address, BigInt(1_000 + ((i * 7919) % 900_000))))));
  }
  const t0 = performance.now();
  const reader = chain.reader();
  const ops = txs.map((t) => encodeOp(compactOp(env, reader, t)));
  const block = chain.build({ timestamp: 2000, delayedFrom: deposits.length, delayedOps: [], ops, txs }, true);
  const sealMs = performance.now() - t0;
  const batch = buildBatch([block]);
  // The L1 transaction carrying the batch (envelope + signature) is counted too.
  const args = encode(PostBatchArgsCodec, { rollupId: rollup.rollupId, firstBlock: 2, data: batch.data });
  const computeLimit = batchComputeLimit(batch.payload.length, batch.data.length, batch.ops);
  const l1tx = encodeTx(
    signTx(
      {
        chainId: l1.chainId,
        nonce: 0,
        fee: minimumFee(l1, args.length + 200, computeLimit),
        computeLimit,
        module: rollupModuleNames(rollup.rollupId).inbox,
        method: 'postBatch',
        args,
      },
      users[0]!.secretKey,
    ),
  );
  const bytesPerTransfer = l1tx.length / block.ops.length;
  // Direct L1 transfer size.
  const direct = encodeTx(
    signTx(
      {
        chainId: l1.chainId,
        nonce: 0,
        fee: 10_000n,
        computeLimit: TRANSFER_COMPUTE,
        module: 'bank',
        method: 'transfer',
        args: encode(TransferArgsCodec, { to: users[1]!.address, amount: 123_456n }),
      },
      users[0]!.secretKey,
    ),
  );
  const directPerBlock = Math.min(Math.floor(l1.maxBlockBytes / direct.length), Math.floor(l1.maxBlockCompute / TRANSFER_COMPUTE));
  const perBatchCompute = computeLimit / block.ops.length;
  const rollupPerBlock = Math.min(Math.floor(l1.maxBlockBytes / bytesPerTransfer), Math.floor(l1.maxBlockCompute / perBatchCompute));
  return {
    transfersInBatch: block.ops.length,
    batchCompressedBytes: batch.data.length,
    batchUncompressedBytes: batch.payload.length,
    l1BytesPerL2Transfer: Number(bytesPerTransfer.toFixed(1)),
    directL1TransferBytes: direct.length,
    directTransfersPerL1Block: directPerBlock,
    rollupTransfersPerL1Block: rollupPerBlock,
    rollupVsDirect: Number((rollupPerBlock / directPerBlock).toFixed(2)),
    sequencerSealMsPer1000Transfers: Number(sealMs.toFixed(1)),
    ...(await latencyFigures()),
  };
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
