/**
 * Rollup benchmark: bytes on L1 per L2 transfer (1,000 signed transfers in one batch), transfers
 * per L1 block direct vs through the rollup under the same L1 limits, and time to soft
 * confirmation (sequenced) and to final (batch final on L1). Run: npx tsx bench/rollup.ts
 */
import { pathToFileURL } from 'node:url';
import { deriveKeyPairs, DEV_MNEMONIC, encode, initHashing } from '@strata/primitives';
import { batchComputeLimit, buildBatch, defaultRollupConfig, encodeOp, L2Chain, makeL2Env, PostBatchArgsCodec, compactOp, signL2Transfer } from '@strata/optimistic';
import { defaultChainConfig, encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec, verifyRawTx, minimumFee } from '@strata/runtime';

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
  const softMs = performance.now() - t0;
  const batch = buildBatch([block]);
  // The L1 transaction carrying the batch (envelope + signature) is counted too.
  const args = encode(PostBatchArgsCodec, { rollupId: 1, firstBlock: 2, data: batch.data });
  const computeLimit = batchComputeLimit(batch.payload.length, batch.data.length, batch.ops);
  const l1tx = encodeTx(signTx({ chainId: l1.chainId, nonce: 0, fee: minimumFee(l1, args.length + 200, computeLimit), computeLimit, module: 'op_inbox', method: 'postBatch', args }, users[0]!.secretKey));
  const bytesPerTransfer = l1tx.length / block.ops.length;
  // Direct L1 transfer size.
  const direct = encodeTx(signTx({ chainId: l1.chainId, nonce: 0, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: users[1]!.address, amount: 123_456n }) }, users[0]!.secretKey));
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
    softConfirmationMsPer1000: Number(softMs.toFixed(1)),
    softConfirmationDevnet: 'next L2 block (250 ms interval)',
    finalDevnet: `batch post (≤1 s) + ${l1.confirmations} L1 confirmations × ${l1.targetBlockTimeMs / 1000} s target = ~${1 + (l1.confirmations * l1.targetBlockTimeMs) / 1000} s`,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(28)} ${v}`);
}
