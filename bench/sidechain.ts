/**
 * Sidechain benchmark (`npm run bench -- sidechain`): a 4-validator sidechain launched as the
 * CLI does (separate processes, libp2p on loopback) against an in-process L1.
 *  - launch → first committed block (register, bond, start 4 processes);
 *  - submission → commit (finality) latency, p50 / p99, one transfer at a time, against the
 *    goal of 500 ms (CometBFT ~1 s, Axon 3 s blocks);
 *  - committed transfers per second under load, against the same transfers sealed by one
 *    dev-mode node in the same run (the runtime's own rate: what consensus costs);
 *  - checking a commit certificate (one BLS aggregate) against checking the validators'
 *    signatures one by one (ed25519 and BLS), for 4 and 100 validators.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { StrataNode, startRpc } from '@strata/node';
import { blake2b256, deriveKeyPairs, encode, initHashing, toHex, utf8, type KeyPair } from '@strata/primitives';
import { RpcClient, WsRpcClient } from '@strata/rpc';
import { bankModule, defaultChainConfig, encodeTx, minimumFee, parseChainConfig, signTx, TRANSFER_COMPUTE, TransferArgsCodec, type ChainConfig } from '@strata/runtime';
import {
  bitmapSet,
  blsAggregate,
  blsKeyFromSeed,
  blsSign,
  blsVerify,
  edKeyFromSeed,
  edSign,
  edVerify,
  launchSidechain,
  PRECOMMIT,
  sidechainL1RpcMethods,
  sidechainParentModules,
  specFromJson,
  stopSidechain,
  ValidatorSet,
  voteDigest,
} from '@strata/sidechain';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] as number;
const r2 = (x: number) => Number(x.toFixed(2));

function certificateCost(n: number): Record<string, number> {
  const eds = Array.from({ length: n }, (_, i) => edKeyFromSeed(blake2b256(utf8(`b-ed-${i}`))));
  const bls = Array.from({ length: n }, (_, i) => blsKeyFromSeed(blake2b256(utf8(`b-bls-${i}`))));
  const set = new ValidatorSet(eds.map((e, i) => ({ edPub: e.publicKey, blsPub: (bls[i] as (typeof bls)[number]).publicKey, producer: new Uint8Array(20), power: 100n })));
  const hash = blake2b256(utf8('block'));
  const msg = voteDigest(9, PRECOMMIT, 10, 0, hash);
  const signers = Array.from({ length: Math.floor((n * 2) / 3) + 1 }, (_, i) => i);
  const edSigs = signers.map((i) => edSign(eds[i] as (typeof eds)[number], msg));
  const blsSigs = signers.map((i) => blsSign(bls[i] as (typeof bls)[number], msg));
  const bits = new Uint8Array(Math.ceil(n / 8));
  for (const i of signers) bitmapSet(bits, i);
  const cert = { height: 10, round: 0, blockHash: hash, signers: bits, aggregate: blsAggregate(blsSigs) };
  const time = (fn: () => void, reps: number) => {
    fn();
    const t = performance.now();
    for (let k = 0; k < reps; k++) fn();
    return (performance.now() - t) / reps;
  };
  const reps = n > 20 ? 20 : 100;
  const aggMs = time(() => set.verifyCertificate(9, cert), reps);
  const edMs = time(() => {
    for (let k = 0; k < signers.length; k++) if (!edVerify((eds[k] as (typeof eds)[number]).publicKey, msg, edSigs[k] as Uint8Array)) throw new Error('bad');
  }, reps);
  const blsMs = time(() => {
    for (let k = 0; k < signers.length; k++) if (!blsVerify((bls[k] as (typeof bls)[number]).publicKey, msg, blsSigs[k] as Uint8Array)) throw new Error('bad');
  }, Math.max(3, Math.floor(reps / 5)));
  return {
    [`cert_${n}_aggregate_verify_ms`]: r2(aggMs),
    [`cert_${n}_individual_ed25519_ms`]: r2(edMs),
    [`cert_${n}_individual_bls_ms`]: r2(blsMs),
    [`cert_${n}_aggregate_vs_individual_bls`]: r2(blsMs / aggMs),
    [`cert_${n}_aggregate_vs_individual_ed25519`]: r2(edMs / aggMs),
    [`cert_${n}_bytes_aggregate`]: 96 + bits.length,
    [`cert_${n}_bytes_individual`]: signers.length * (64 + 4),
  };
}

function transfers(cfg: ChainConfig, senders: KeyPair[], perSender: number, to: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; n < perSender; n++) {
    for (const k of senders) {
      const args = encode(TransferArgsCodec, { to, amount: 1000n + BigInt(n) });
      out.push(encodeTx(signTx({ chainId: cfg.chainId, nonce: n, fee: minimumFee(cfg, 200, TRANSFER_COMPUTE), computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args }, k.secretKey)));
    }
  }
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  await initHashing();
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-sc-'));
  const silent = pino({ level: 'silent' });
  const l1Keys = deriveKeyPairs('test test test test test test test test test test test junk', 2);
  const benchKeys = deriveKeyPairs('legal winner thank year wave sausage worth useful legal winner thank yellow', 200);
  const l1Cfg = parseChainConfig({ chainId: 1, blockReward: '0', confirmations: 2, genesis: { timestamp: 1_700_000_000_000, alloc: l1Keys.map((k) => ({ address: toHex(k.address), balance: '1000000000000000' })) } }, defaultChainConfig());
  const l1 = await StrataNode.create({ dataDir: join(dir, 'l1'), config: l1Cfg, modules: [bankModule, ...sidechainParentModules()], mining: 'dev', blockTimeMs: 250, producer: (l1Keys[0] as KeyPair).address }, { logger: silent });
  await l1.start();
  const rpc = await startRpc(l1, { host: '127.0.0.1', port: 0 });
  rpc.registerAll(sidechainL1RpcMethods(l1));
  const out: Record<string, unknown> = {};
  const alloc = benchKeys.map((k) => ({ address: toHex(k.address), balance: '1000000000000' }));
  const launch = await launchSidechain({ l1Url: rpc.url, funder: l1Keys[1] as KeyPair, validators: 4, name: 'bench', baseDir: join(dir, 'sc'), spec: { alloc }, logLevel: 'warn' });
  try {
    out.launch_to_first_block_ms = launch.firstBlockMs;
    out.launch_goal_ms = 60_000;
    const ws = await WsRpcClient.connect((launch.validators[1] as { rpc: string }).rpc.replace('http', 'ws'));
    const http = launch.validators.map((v) => new RpcClient(v.rpc, { timeoutMs: 20_000 }));
    const cfg = specFromJson(JSON.parse(readFileSync(join(launch.dir, 'spec.json'), 'utf8')) as Record<string, unknown>).chain;
    const pending = new Map<string, number>();
    const latencies: number[] = [];
    let committed = 0;
    const seenAt = new Map<string, number>();
    await ws.subscribe('chain_subscribe', ['newHeads'], (h) => {
      const head = h as { number: string };
      const at = performance.now();
      void http[1]?.call<{ transactions: string[] }>('chain_getBlockByNumber', [head.number, false]).then((b) => {
        for (const t of b?.transactions ?? []) {
          const hash = typeof t === 'string' ? t : (t as { hash: string }).hash;
          committed++;
          seenAt.set(hash, at);
          const sent = pending.get(hash);
          if (sent !== undefined) {
            latencies.push(at - sent);
            pending.delete(hash);
          }
        }
      });
    });
    // 1) latency: one transfer at a time, each from a fresh sender
    const single = transfers(cfg, benchKeys.slice(0, 40), 1, (l1Keys[0] as KeyPair).address);
    for (const raw of single) {
      const t = performance.now();
      const txHash = await http[0]?.call<string>('tx_sendRaw', [toHex(raw)]);
      pending.set(String(txHash), t);
      const end = Date.now() + 3000;
      while (pending.has(String(txHash)) && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 70));
    }
    out.commit_latency_samples = latencies.length;
    out.commit_latency_p50_ms = Math.round(pct(latencies, 50));
    out.commit_latency_p99_ms = Math.round(pct(latencies, 99));
    out.commit_latency_goal_ms = 500;
    out.commit_latency_p50_vs_goal = r2(500 / pct(latencies, 50));
    out.commit_latency_p50_vs_cometbft_1s = r2(1000 / pct(latencies, 50));
    // 2) throughput: 2,000 transfers (140 senders × ~14), spread over the validators' RPCs in batches
    const load = transfers(cfg, benchKeys.slice(60, 200), 14, (l1Keys[0] as KeyPair).address);
    const before = committed;
    const t0 = performance.now();
    for (let i = 0; i < load.length; i += 100) {
      const c = http[(i / 100) % http.length] as RpcClient;
      await Promise.all(load.slice(i, i + 100).map((raw) => c.call('tx_sendRaw', [toHex(raw)]).catch(() => undefined)));
    }
    const end = Date.now() + 120_000;
    while (committed - before < load.length && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const secs = (performance.now() - t0) / 1000;
    const bftTps = (committed - before) / secs;
    out.bft_committed_transfers = committed - before;
    out.bft_transfers_per_s = Math.round(bftTps);
    await ws.close();
    // baseline: the same kind of load sealed by one dev-mode node in this process (no consensus)
    const base = await StrataNode.create({ dataDir: join(dir, 'base'), config: cfg, mining: 'dev', blockTimeMs: 0 }, { logger: silent });
    await base.start();
    const baseTxs = transfers(cfg, benchKeys.slice(60, 200), 14, (l1Keys[0] as KeyPair).address);
    const tb = performance.now();
    for (let i = 0; i < baseTxs.length; i += 100) {
      for (const raw of baseTxs.slice(i, i + 100)) base.submitTx(raw);
      await base.sealDevBlock();
    }
    while (base.mempool.size > 0) await base.sealDevBlock();
    const baseTps = baseTxs.length / ((performance.now() - tb) / 1000);
    await base.stop();
    out.dev_seal_transfers_per_s = Math.round(baseTps);
    out.bft_vs_dev_seal_throughput = r2(bftTps / baseTps);
    Object.assign(out, certificateCost(4), certificateCost(100));
  } finally {
    await stopSidechain(launch, 3000);
    await rpc.stop();
    await l1.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
