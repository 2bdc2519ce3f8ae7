/**
 * L3 and L2-persistence benchmark (`npm run bench -- l3`):
 *
 * 1. Rollup node restart (lmdb `L2Store`) against a full re-derivation from L1 genesis, at
 *    `L3_BENCH_BLOCKS` (default 10,000) L2 blocks: the ratio is restart ÷ derivation
 *    (`L3_BENCH_PARTS=restart` runs this part alone).
 * 2. L1 bytes per L3 transfer: the L3's batches land on the L2 as transactions, whose batches
 *    land on the L1. Baseline in the same run: L1 bytes per transfer made on the L2 directly.
 * 3. Time to finality at each layer on the devnet (its configs and role intervals): a
 *    transaction submitted on L1, L2 and L3 until the layer's RPC reports its block finalized.
 *    Baseline: the L1's own finality.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Chain, ChainStore } from '@strata/chain';
import { startDevnet } from '@strata/devnet';
import { decode, encode, initHashing, toHex } from '@strata/primitives';
import { DepositArgs, L2Store, NodeL1Client, optimisticParentModules, PostBatchArgsCodec, RollupNode, rollupModuleNames, signL2Transfer } from '@strata/optimistic';
import { RpcClient } from '@strata/rpc';
import { bankModule, encodeTx, ModuleRegistry } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import { devConfig, keys } from '../test/helpers/chain.js';
import { persistRollup, recordHistory } from '../test/helpers/l2-persist.js';
import { L3World } from '../test/helpers/l3.js';

async function restartVsDerivation(blocks: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-l3-'));
  try {
    const l1Dir = join(dir, 'l1');
    mkdirSync(l1Dir);
    const t0 = performance.now();
    await recordHistory(l1Dir, { blocks, txsPerBlock: 1, blocksPerBatch: 50, onProgress: (n) => n % 2000 < 50 && process.stderr.write(`  recorded ${n} L2 blocks\n`) });
    const recordMs = performance.now() - t0;
    const rollup = persistRollup();
    const chain = Chain.open(devConfig({ confirmations: 3 }), new ModuleRegistry([bankModule, ...optimisticParentModules(rollup)]), new ChainStore(openDatabase({ path: l1Dir })));
    const client = new NodeL1Client({ chain, submitTx: () => undefined }, rollup);
    const big = { rollup, maxL1BlocksPerSync: 1_000_000 };
    const t1 = performance.now();
    let fresh: RollupNode | undefined = new RollupNode(big, client);
    await fresh.syncL1();
    const deriveMs = performance.now() - t1;
    const freshHead = { number: fresh.chain.head.number, root: toHex(fresh.chain.head.stateRoot) };
    // Dropped before the store's run: the in-memory node holds every block and tree node, and
    // kept alive it made the store's run pay garbage collection over that heap (a cost growing
    // with the chain that was not the store's).
    fresh = undefined;
    const store1 = new L2Store({ path: join(dir, 'l2') });
    const t2 = performance.now();
    const persisted = new RollupNode(big, client, { store: store1 });
    await persisted.syncL1();
    const persistDeriveMs = performance.now() - t2;
    await store1.close();
    const t3 = performance.now();
    const store2 = new L2Store({ path: join(dir, 'l2') });
    const again = new RollupNode(big, client, { store: store2 });
    await again.syncL1();
    const restartMs = performance.now() - t3;
    const restartBlockReads = store2.blockReads;
    if (toHex(again.chain.head.stateRoot) !== freshHead.root || again.chain.head.number !== blocks || freshHead.number !== blocks) throw new Error('restarted node disagrees with the fresh derivation');
    await store2.close();
    await chain.store.close();
    return {
      l2Blocks: blocks,
      recordSeconds: Number((recordMs / 1000).toFixed(1)),
      freshDerivationMs: Math.round(deriveMs),
      derivationWithStoreMs: Math.round(persistDeriveMs),
      restartMs: Math.round(restartMs),
      restartOverDerivation: Number((restartMs / deriveMs).toFixed(4)),
      restartBlockReads,
      storeWriteOverhead: Number((persistDeriveMs / deriveMs).toFixed(2)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** postBatch payload bytes of rollup `rollupId` in L1 blocks after `fromHeight`. */
function l1BatchBytes(chain: Chain, rollupId: number, fromHeight: number): number {
  const inbox = rollupModuleNames(rollupId).inbox;
  let n = 0;
  for (let h = fromHeight + 1; h <= chain.head.meta.height; h++) {
    const ref = chain.blockAt(h);
    if (!ref) continue;
    for (const v of chain.verifyTxs(chain.store.getBody(ref.hash) ?? [])) if (v.tx.module === inbox && v.tx.method === 'postBatch') n += decode(PostBatchArgsCodec, v.tx.args).data.length;
  }
  return n;
}

async function bytesPerTransfer(count: number): Promise<Record<string, number>> {
  // Baseline: `count` transfers on the L2, batched to L1.
  const x = new L3World();
  try {
    const w = x.w;
    const n2 = rollupModuleNames(w.rollup.rollupId);
    for (const k of [keys[0]!, keys[1]!, keys[2]!]) await w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    w.mine();
    await x.l2Block();
    await x.l2Batch();
    const start2 = w.l1.chain.head.meta.height;
    let nonce = w.seqNode.nextNonce(keys[0]!.address);
    for (let i = 0; i < count; i++) {
      // Recipients among the tracked accounts (the helpers check conservation on every block).
      const to = keys[1 + (i % 3)]!.address;
      w.l2Send(encodeTx(signL2Transfer(w.seqNode.env, keys[0]!.secretKey, nonce++, to, 1n)));
    }
    await w.sequence();
    await x.l2Batch();
    const l2DirectBytes = l1BatchBytes(w.l1.chain, w.rollup.rollupId, start2);

    // L3: deposit to the L3, then `count` L3 transfers; L3 batches ride on the L2, L2 batches on L1.
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    await x.l2client.send(keys[0]!, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: keys[0]!.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    await x.l3Seal();
    await x.l3Roles(); // flush the deposit block's batch
    await x.l2Batch();
    const startL1 = w.l1.chain.head.meta.height;
    const startL2 = w.seqNode.chain.head.number;
    let n = x.seq.nextNonce(keys[0]!.address);
    for (let i = 0; i < count; i++) {
      const to = keys[1 + (i % 3)]!.address;
      x.seq.submitTx(encodeTx(signL2Transfer(x.seq.env, keys[0]!.secretKey, n++, to, 1n)));
    }
    await x.l3Seal();
    // Only the L3 batcher acts: the L2 carries the L3 batch, then posts its own batch to L1.
    await x.seq.syncL1();
    await x.batcher.tick();
    await x.l2Block();
    await x.l2Batch();
    let l3OnL2 = 0;
    const inbox3 = n3.inbox;
    for (let b = startL2 + 1; b <= w.seqNode.chain.head.number; b++) {
      const blk = w.seqNode.chain.get(b);
      blk?.results.forEach((r, i) => {
        const v = r.kind === 'tx' ? w.seqNode.chain.txAt(b, i) : undefined;
        if (v && v.tx.module === inbox3 && v.tx.method === 'postBatch') l3OnL2 += decode(PostBatchArgsCodec, v.tx.args).data.length;
      });
    }
    const l3L1Bytes = l1BatchBytes(w.l1.chain, w.rollup.rollupId, startL1);
    return {
      transfers: count,
      l2TransferL1Bytes: Number((l2DirectBytes / count).toFixed(1)),
      l3TransferL2Bytes: Number((l3OnL2 / count).toFixed(1)),
      l3TransferL1Bytes: Number((l3L1Bytes / count).toFixed(1)),
      l3OverL2OnL1: Number((l3L1Bytes / l2DirectBytes).toFixed(2)),
    };
  } finally {
    x.close();
  }
}

async function finalityPerLayer(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-bench-fin-'));
  const devnet = await startDevnet({ dataDir, port: 0, metricsPort: 0, explorer: false }, { logger: pino({ level: 'silent' }) });
  try {
    const layers = Object.fromEntries(devnet.layers.map((l) => [l.name, new RpcClient(l.rpc)]));
    const waitFinal = async (c: RpcClient, isL1: boolean, height: number, t0: number) => {
      for (;;) {
        const fin = isL1 ? Number(BigInt((await c.call<{ number: string }>('chain_getHead', ['finalized'])).number)) : (await c.call<{ finalized: number }>('rollup_getHeads')).finalized;
        if (fin >= height) return (performance.now() - t0) / 1000;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // A block on each layer now; time until each is final by its own RPC's heads.
    const t0 = performance.now();
    const l1h = devnet.l1.node.chain.head.meta.height + 1;
    await devnet.l1.node.mineBlocks(1);
    const l2h = (devnet.l2?.sequencer.chain.head.number ?? 0) + 1;
    const l3h = (devnet.l3?.sequencer.chain.head.number ?? 0) + 1;
    const [l1s, l2s, l3s] = await Promise.all([
      waitFinal(layers.l1 as RpcClient, true, l1h, t0),
      waitFinal(layers.l2 as RpcClient, false, l2h, t0),
      waitFinal(layers.l3 as RpcClient, false, l3h, t0),
    ]);
    return { l1FinalSeconds: Number(l1s.toFixed(1)), l2FinalSeconds: Number(l2s.toFixed(1)), l3FinalSeconds: Number(l3s.toFixed(1)), l2OverL1: Number((l2s / l1s).toFixed(2)), l3OverL1: Number((l3s / l1s).toFixed(2)) };
  } finally {
    await devnet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs the suite. */
export async function run(): Promise<Record<string, unknown>> {
  await initHashing();
  const blocks = Number(process.env.L3_BENCH_BLOCKS ?? 10_000);
  const restart = await restartVsDerivation(blocks);
  process.stderr.write(`  restart ${JSON.stringify(restart)}\n`);
  // L3_BENCH_PARTS=restart runs the restart figure alone.
  if (process.env.L3_BENCH_PARTS === 'restart') return { restart };
  const bytes = await bytesPerTransfer(Number(process.env.L3_BENCH_TRANSFERS ?? 1000));
  process.stderr.write(`  bytes ${JSON.stringify(bytes)}\n`);
  const finality = await finalityPerLayer();
  return { restart, bytes, finality };
}
