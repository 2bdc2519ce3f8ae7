/**
 * Import throughput: blocks full of plain transfers (1,000 per block, the devnet's compute
 * limit) imported from their encoded bytes through the node's path (block decoding, parallel
 * sender recovery on the worker pool plus the importing thread, execution, state root, one
 * lmdb commit per block), as tx/s and as a share of this machine's raw secp256k1 RECOVERY rate
 * on ALL cores at once, measured in the same run (goal ≥ 0.7): the pipeline uses every core,
 * so its baseline does too. (The single-thread verify and recover rates are kept beside it.)
 * Also peak RSS with 100,000 funded accounts, against the RSS of the bare process.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import secp from 'secp256k1';
import { Chain, ChainStore, decodeBlock, encodeBlock, TxVerifier, type Block } from '@strata/chain';
import { blake2b256, decode, encode, initHashing, keyPairFromSecret, list, toHex, varBytes, type KeyPair } from '@strata/primitives';
import { bankModule, defaultChainConfig, encodeTx, ModuleRegistry, parseChainConfig, signTx, TRANSFER_COMPUTE, TransferArgsCodec, verifyRawTx, type ChainConfig, type VerifiedTx } from '@strata/runtime';
import { openDatabase } from '@strata/state';

function rawVerifyRate(n = 20_000): number {
  const sk = blake2b256(new Uint8Array([1]));
  const pub = secp.publicKeyCreate(sk);
  const msgs = Array.from({ length: 256 }, (_, i) => blake2b256(new Uint8Array([i, 2])));
  const sigs = msgs.map((m) => secp.ecdsaSign(m, sk).signature);
  for (let i = 0; i < 2000; i++) secp.ecdsaVerify(sigs[i & 255] as Uint8Array, msgs[i & 255] as Uint8Array, pub); // warm up
  const t = performance.now();
  for (let i = 0; i < n; i++) secp.ecdsaVerify(sigs[i & 255] as Uint8Array, msgs[i & 255] as Uint8Array, pub);
  return n / ((performance.now() - t) / 1000);
}

/** Single-thread public-key recovery rate: what a Strata node actually does per transaction. */
function rawRecoverRate(n = 10_000): number {
  const sk = blake2b256(new Uint8Array([1]));
  const msgs = Array.from({ length: 256 }, (_, i) => blake2b256(new Uint8Array([i, 3])));
  const sigs = msgs.map((m) => secp.ecdsaSign(m, sk));
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const s = sigs[i & 255] as { signature: Uint8Array; recid: number };
    secp.ecdsaRecover(s.signature, s.recid, msgs[i & 255] as Uint8Array, true);
  }
  return n / ((performance.now() - t) / 1000);
}

/**
 * How much of one thread's recovery rate each of two threads keeps when both recover at once
 * (this thread and a worker): on a VM whose vCPUs share a core this is well below 1, and it
 * bounds what any pipeline of import and recovery can reach.
 */
async function twoThreadShare(alone: number): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const src = `const { parentPort } = require('node:worker_threads');
const secp = require(${JSON.stringify(createRequire(import.meta.url).resolve('secp256k1'))});
const crypto = require('node:crypto');
const sk = crypto.randomBytes(32);
const msgs = Array.from({ length: 256 }, () => crypto.randomBytes(32));
const sigs = msgs.map((m) => secp.ecdsaSign(m, sk));
parentPort.postMessage('ready');
parentPort.once('message', (n) => {
  const t = performance.now();
  for (let i = 0; i < n; i++) secp.ecdsaRecover(sigs[i & 255].signature, sigs[i & 255].recid, msgs[i & 255], true);
  parentPort.postMessage(n / ((performance.now() - t) / 1000));
});`;
  const w = new Worker(src, { eval: true });
  await new Promise((resolve) => w.once('message', resolve));
  const other = new Promise<number>((resolve) => w.once('message', resolve));
  w.postMessage(10_000);
  const here = rawRecoverRate(10_000);
  const there = await other;
  await w.terminate();
  return (here + there) / 2 / alone;
}

/**
 * Raw public-key recovery of every core together: one worker thread per core, all started at
 * once, each recovering `n` signatures with the same native binding; the rate is all their
 * recoveries over the wall time until the last one finished. Nothing a node does per
 * transaction is cheaper, so no import pipeline on this machine can beat this.
 */
async function allCoreRecoverRate(n = 8_000): Promise<{ rate: number; threads: number; cpuUsPerOp: number }> {
  const { Worker } = await import('node:worker_threads');
  const threads = availableParallelism();
  const src = `const { parentPort } = require('node:worker_threads');
const secp = require(${JSON.stringify(createRequire(import.meta.url).resolve('secp256k1'))});
const crypto = require('node:crypto');
const sk = crypto.randomBytes(32);
const msgs = Array.from({ length: 256 }, () => crypto.randomBytes(32));
const sigs = msgs.map((m) => secp.ecdsaSign(m, sk));
for (let i = 0; i < 500; i++) secp.ecdsaRecover(sigs[i & 255].signature, sigs[i & 255].recid, msgs[i & 255], true);
parentPort.postMessage('ready');
parentPort.once('message', (n) => {
  for (let i = 0; i < n; i++) secp.ecdsaRecover(sigs[i & 255].signature, sigs[i & 255].recid, msgs[i & 255], true);
  parentPort.postMessage('done');
});`;
  const ws = Array.from({ length: threads }, () => new Worker(src, { eval: true }));
  await Promise.all(ws.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const done = ws.map((w) => new Promise((resolve) => w.once('message', resolve)));
  for (const w of ws) w.postMessage(n);
  await Promise.all(done);
  const rate = (n * threads) / ((performance.now() - t) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(ws.map((w) => w.terminate()));
  return { rate, threads, cpuUsPerOp: (cpu.user + cpu.system) / (n * threads) };
}

function keysFor(n: number, salt: number): KeyPair[] {
  return Array.from({ length: n }, (_, i) => keyPairFromSecret(blake2b256(new Uint8Array([salt, i & 0xff, (i >> 8) & 0xff, i >> 16]))));
}

function config(senders: KeyPair[], extra: string[] = []): ChainConfig {
  return parseChainConfig(
    {
      genesis: {
        timestamp: 1_700_000_000_000,
        alloc: [...senders.map((k) => toHex(k.address)), ...extra].map((address) => ({ address, balance: '1000000000000' })),
      },
    },
    defaultChainConfig(),
  );
}

function open(cfg: ChainConfig, dir: string): Chain {
  return Chain.open(cfg, new ModuleRegistry([bankModule]), new ChainStore(openDatabase({ path: dir })));
}

/** Produces `blocks` blocks of `perBlock` transfers (senders pay random recipients). */
function produce(cfg: ChainConfig, dir: string, senders: KeyPair[], blocks: number, perBlock: number, recipients: (i: number) => Uint8Array): Block[] {
  const chain = open(cfg, dir);
  const out: Block[] = [];
  for (let b = 0; b < blocks; b++) {
    const txs = [];
    for (let i = 0; i < perBlock; i++) {
      const s = senders[i % senders.length] as KeyPair;
      const tx = signTx(
        { chainId: cfg.chainId, nonce: b * Math.ceil(perBlock / senders.length) + Math.floor(i / senders.length), fee: 2_000n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: recipients(b * perBlock + i), amount: 1n }) },
        s.secretKey,
      );
      txs.push(verifyRawTx(encodeTx(tx)));
    }
    const built = chain.buildBlock(txs, { producer: new Uint8Array(20), timestamp: cfg.genesis.timestamp + (b + 1) * 1000 });
    if (built.rejected.length) throw new Error(`bench setup: ${built.rejected[0]?.error.message}`);
    const block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    out.push(block);
  }
  return out;
}

/** Blocks of 1,000 transfers in the throughput run (`IMPORT_BENCH_BLOCKS`). */
const BLOCKS = Number(process.env.IMPORT_BENCH_BLOCKS ?? 24);

/** Blocks whose senders are being recovered ahead of the import (as the node's sync prefetches). */
const VERIFY_AHEAD = 2;

async function importAll(chain: Chain, encoded: Uint8Array[], verifier: TxVerifier): Promise<{ txPerSec: number; cpuUsPerTx: number }> {
  const t = performance.now();
  // Process CPU time (this thread and the recovery workers): unlike wall time, it does not
  // depend on how much of the machine other processes take.
  const cpu0 = process.cpuUsage();
  // Blocks arrive as bytes, as from a peer: decoding is part of the import.
  const blocks: Block[] = [];
  const decodeNext = () => {
    blocks.push(decodeBlock(encoded[blocks.length] as Uint8Array));
    return blocks[blocks.length - 1] as Block;
  };
  // Pipeline: the workers recover the senders of the next blocks while this one executes, so
  // they always have work queued; before waiting, this thread helps with what is left.
  const ahead: Promise<VerifiedTx[]>[] = [];
  for (let i = 0; i < Math.min(VERIFY_AHEAD, encoded.length); i++) ahead.push(verifier.verify(decodeNext().txs));
  let txs = 0;
  let waiting = 0;
  let importing = 0;
  for (let i = 0; i < encoded.length; i++) {
    const w0 = performance.now();
    const next = ahead.shift() as Promise<VerifiedTx[]>;
    verifier.help(next); // recover what the workers have not started, rather than wait idle
    const verified = await next;
    const w1 = performance.now();
    if (i + VERIFY_AHEAD < encoded.length) ahead.push(verifier.verify(decodeNext().txs));
    const w2 = performance.now();
    chain.importBlock(blocks[i] as Block, { verified });
    importing += performance.now() - w2;
    waiting += w1 - w0;
    txs += verified.length;
  }
  if (process.env.BENCH_DEBUG) console.error(`import ${importing.toFixed(0)} ms, recovering or waiting for signatures ${waiting.toFixed(0)} ms`);
  const cpu = process.cpuUsage(cpu0);
  return { txPerSec: txs / ((performance.now() - t) / 1000), cpuUsPerTx: (cpu.user + cpu.system) / txs };
}

function config100k(): { cfg: ChainConfig; senders: KeyPair[]; many: string[] } {
  const senders = keysFor(1000, 1);
  const many = Array.from({ length: 100_000 }, (_, i) => toHex(blake2b256(new Uint8Array([7, i & 0xff, (i >> 8) & 0xff, i >> 16])).subarray(0, 20)));
  return { cfg: config(senders, many), senders, many };
}

/** Child process 1: produces 5 blocks of 1,000 transfers on a chain with 100k accounts, to a file. */
async function produceChild(dir: string): Promise<void> {
  await initHashing();
  const { cfg, senders, many } = config100k();
  const blocks = produce(cfg, join(dir, 'p'), senders, 5, 1000, (i) => fromHexAddr(many[(i * 7919) % many.length] as string));
  writeFileSync(join(dir, 'blocks.bin'), encode(list(varBytes(8 << 20), 100), blocks.map(encodeBlock)));
}

/**
 * Child process 2: a node alone — builds the 100k-account genesis, imports the blocks — so its
 * peak RSS is the node's own footprint at 100,000 accounts.
 */
async function importChild(dir: string): Promise<void> {
  await initHashing();
  const baseRss = process.memoryUsage().rss;
  let peak = baseRss;
  let peakHeap = 0;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed + m.external);
  }, 10);
  const { cfg } = config100k();
  const encoded = decode(list(varBytes(8 << 20), 100), new Uint8Array(readFileSync(join(dir, 'blocks.bin'))), 1 << 30);
  const importer = open(cfg, join(dir, 'i'));
  const verifier = new TxVerifier();
  const { txPerSec: tps } = await importAll(importer, encoded, verifier);
  await verifier.stop();
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(
    JSON.stringify({ txPerSec: Math.round(tps), peakRssMiB: Math.round(peak / 2 ** 20), baseRssMiB: Math.round(baseRss / 2 ** 20), peakHeapMiB: Math.round(peakHeap / 2 ** 20) }),
  );
}

function fromHexAddr(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.slice(2), 'hex'));
}

async function memoryWith100k(tmp: string): Promise<{ txPerSec: number; peakRssMiB: number; baseRssMiB: number; peakHeapMiB: number }> {
  const { execFileSync } = await import('node:child_process');
  const dir = join(tmp, 'mem');
  const self = new URL(import.meta.url).pathname;
  execFileSync(process.execPath, ['--import', 'tsx', self, '--produce-child', dir], { stdio: 'inherit' });
  const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--import-child', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

/** Runs the import benchmark; returns its figures. */
export async function run(): Promise<Record<string, number | string>> {
  await initHashing();
  const baseRss = process.memoryUsage().rss;
  const verifyRate = rawVerifyRate();
  const recoverRate = rawRecoverRate();
  const parallelShare = await twoThreadShare(recoverRate);
  const allCores = await allCoreRecoverRate();
  const tmp = mkdtempSync(join(tmpdir(), 'strata-bench-'));
  let peakRss = baseRss;
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  try {
    // 1. Throughput: 1,000 senders, BLOCKS blocks of 1,000 transfers to fresh accounts.
    const senders = keysFor(1000, 1);
    const cfg = config(senders);
    const recip = (i: number) => blake2b256(new Uint8Array([9, i & 0xff, (i >> 8) & 0xff, i >> 16])).subarray(0, 20);
    const blocks = produce(cfg, join(tmp, 'producer'), senders, BLOCKS, 1000, recip);
    const importer = open(cfg, join(tmp, 'importer'));
    const verifier = new TxVerifier(process.env.VERIFY_THREADS ? Number(process.env.VERIFY_THREADS) : undefined);
    const imported = await importAll(importer, blocks.map(encodeBlock), verifier);
    const txPerSec = imported.txPerSec;
    // The all-core baseline again after the import: the machine is shared, take the better one.
    const allCoresAfter = await allCoreRecoverRate();
    const allCoreRate = Math.max(allCores.rate, allCoresAfter.rate);
    const recoverCpuUs = Math.min(allCores.cpuUsPerOp, allCoresAfter.cpuUsPerOp);
    // The same blocks with senders recovered beforehand: execution + state root + commit alone.
    const preVerified: Awaited<ReturnType<TxVerifier["verify"]>>[] = [];
    for (const b of blocks) preVerified.push(await verifier.verify(b.txs));
    const execOnly = open(cfg, join(tmp, 'exec-only'));
    const t0 = performance.now();
    const execCpu0 = process.cpuUsage();
    blocks.forEach((b, i) => {
      execOnly.importBlock(b, { verified: preVerified[i] });
    });
    const execTxPerSec = (blocks.length * 1000) / ((performance.now() - t0) / 1000);
    const execCpu = process.cpuUsage(execCpu0);
    const execCpuUs = (execCpu.user + execCpu.system) / (blocks.length * 1000);

    await verifier.stop();
    // 2. Memory with 100,000 accounts, in a fresh process so only the node's footprint counts:
    // genesis funds 100k accounts, then blocks of transfers to them are imported.
    const mem = await memoryWith100k(tmp);
    clearInterval(sample);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    return {
      raw_secp256k1_verify_per_s: Math.round(verifyRate),
      raw_secp256k1_recover_per_s: Math.round(recoverRate),
      recover_rate_share_with_two_threads: Number(parallelShare.toFixed(2)),
      raw_secp256k1_recover_all_cores_per_s: Math.round(allCoreRate),
      cores: allCores.threads,
      import_tx_per_s: Math.round(txPerSec),
      import_share_of_all_core_recover_rate: Number((txPerSec / allCoreRate).toFixed(3)),
      import_goal_share: 0.7,
      import_share_of_single_thread_verify_rate: Number((txPerSec / verifyRate).toFixed(3)),
      // The same comparison in CPU time (the wall-time ratio above depends on the load other
      // processes put on the machine): CPU per raw recovery over CPU per imported transaction,
      // i.e. the share of the all-core rate the import reaches on an otherwise idle machine
      // that schedules it perfectly. Its ceiling is 1; 0.7 leaves 0.43 recoveries' worth of CPU
      // per transaction for decoding, execution, the state root and the commit.
      import_cpu_us_per_tx: Number(imported.cpuUsPerTx.toFixed(1)),
      recover_cpu_us_per_signature: Number(recoverCpuUs.toFixed(1)),
      import_share_by_cpu_time: Number((recoverCpuUs / imported.cpuUsPerTx).toFixed(3)),
      execute_and_commit_only_tx_per_s: Math.round(execTxPerSec),
      execute_and_commit_only_cpu_us_per_tx: Number(execCpuUs.toFixed(1)),
      blocks: BLOCKS,
      verify_threads: verifier.threads,
      import_tx_per_s_100k_accounts: mem.txPerSec,
      peak_rss_mib_100k_accounts: mem.peakRssMiB,
      peak_js_heap_mib_100k_accounts: mem.peakHeapMiB,
      bare_process_rss_mib: mem.baseRssMiB,
      peak_rss_ratio_to_bare_process: Number((mem.peakRssMiB / mem.baseRssMiB).toFixed(2)),
    };
  } finally {
    clearInterval(sample);
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--produce-child' || process.argv[2] === '--import-child') {
  const dir = process.argv[3] as string;
  mkdirSync(dir, { recursive: true });
  await (process.argv[2] === '--produce-child' ? produceChild(dir) : importChild(dir));
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
  process.exit(0);
}
