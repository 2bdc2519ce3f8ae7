/**
 * Exodus with the operator gone, through the user's tool: a real L1 node (dev sealing, lmdb,
 * JSON-RPC over loopback) with the `zk_rollup` module; the operator proves a few batches, then
 * disappears (its RPC is closed); a deposit misses its deadline and the rollup freezes; the user
 * runs `strata zk exit`, which finds no ZK node, rebuilds the last verified state from L1 data
 * alone (posted batch bytes + deposit queue) and exits with that Merkle proof.
 */
import { spawn } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataNode, startRpc } from '@strata/node';
import { encode, fromHex, toHex, type KeyPair } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import { bankModule, getAccount } from '@strata/runtime';
import { encodeVk, fieldToBytes, NodeZkL1Client, OP_TRANSFER, opMessage, proveInput, readZkRollup, RegisterArgs, startZkRpc, ZkDepositArgs, zkCrypto, zkL1RpcMethods, ZkOperator, zkParentModules } from '@strata/zk';
import { devConfig, keys, tempDir } from '../helpers/chain.js';
import { TEST_UNIT, TEST_ZK, testArtifacts } from '../helpers/zk.js';

let node: StrataNode;
let l1Rpc: RpcServer;
const t = tempDir('strata-zkexit-');

beforeAll(async () => {
  await testArtifacts();
  node = await StrataNode.create(
    { dataDir: t.dir, config: devConfig({ chainId: TEST_ZK.l1ChainId }), mining: 'dev', blockTimeMs: 0, producer: (keys[3] as KeyPair).address, verifierThreads: 1, modules: [bankModule, ...zkParentModules()] },
    { logger: pino({ level: 'silent' }) },
  );
  await node.start();
  l1Rpc = await startRpc(node, { host: '127.0.0.1', port: 0 });
  l1Rpc.registerAll(zkL1RpcMethods(node));
}, 300_000);

afterAll(async () => {
  await l1Rpc?.stop();
  await node?.stop();
  t.cleanup();
});

const until = async (f: () => boolean | Promise<boolean>, ms = 30_000) => {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['packages/cli/bin/strata.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('strata zk exit with the operator down', () => {
  it('rebuilds the exit proof from L1 data alone and is paid', async () => {
    const art = await testArtifacts();
    const crypto = await zkCrypto();
    const client = new NodeZkL1Client(node);
    const operatorKey = keys[0] as KeyPair;
    const reg = await client.send(operatorKey, 'register', encode(RegisterArgs, { rollupId: TEST_ZK.rollupId, depth: TEST_ZK.depth, batchSize: TEST_ZK.batchSize, unit: TEST_UNIT, priorityDeadline: 3, maxBatchGap: 0, vk: encodeVk(art.vk) }), 100_000);
    await until(async () => (await client.receipt(reg)) !== undefined);
    const l2 = [1, 2].map((i) => crypto.deriveKey((keys[i] as KeyPair).secretKey));
    for (const [i, k] of l2.entries()) await client.send(keys[i + 1] as KeyPair, 'deposit', encode(ZkDepositArgs, { rollupId: TEST_ZK.rollupId, ax: fieldToBytes(k.ax), ay: fieldToBytes(k.ay), amount: (i === 0 ? 500n : 300n) * TEST_UNIT }), 50_000);
    await until(() => (readZkRollup(node.chain.stateReader, TEST_ZK.rollupId)?.queueTail ?? 0) === 2);
    const op = await ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 0 }, { l1: client, crypto });
    const zkRpc = await startZkRpc(op, { host: '127.0.0.1', port: 0 });
    const zkUrl = zkRpc.url;
    const prove = async () => {
      await op.tick();
      for (const b of op.batches) if (b.status === 'pending' && b.input) op.submitProof(b.index, 'test', (await proveInput(art, b.input)).proof);
      await op.tick();
      await until(async () => {
        await op.tick();
        return op.batches.every((b) => b.status === 'verified');
      });
    };
    await prove();
    const nonce = op.soft.leaf(0)?.nonce ?? 0n;
    const tx = { type: OP_TRANSFER, from: 0, to: 1, amount: 120n };
    op.submit({ ...tx, type: OP_TRANSFER, nonce, sig: crypto.sign(l2[0] as (typeof l2)[number], opMessage(TEST_ZK, tx, nonce)) });
    await prove();
    expect(op.provenState().leaf(0)?.balance).toBe(380n);
    // The operator is gone.
    await op.stop();
    await zkRpc.stop();
    // A deposit nobody includes: the rollup freezes after its deadline.
    await client.send(keys[1] as KeyPair, 'deposit', encode(ZkDepositArgs, { rollupId: TEST_ZK.rollupId, ax: fieldToBytes((l2[0] as (typeof l2)[number]).ax), ay: fieldToBytes((l2[0] as (typeof l2)[number]).ay), amount: 5n * TEST_UNIT }), 50_000);
    await node.mineBlocks(5);
    expect(readZkRollup(node.chain.stateReader, TEST_ZK.rollupId)?.frozen).toBe(true);

    const before = getAccount(node.chain.stateReader, (keys[1] as KeyPair).address).balance;
    const r = await cli(['zk', 'exit', '--from', '1', '--l1-rpc', l1Rpc.url, '--zk-rpc', zkUrl, '--rollup-id', String(TEST_ZK.rollupId), '--json']);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { tx: string; proofFrom: string };
    expect(res.proofFrom).toMatch(/^l1/);
    const after = getAccount(node.chain.stateReader, (keys[1] as KeyPair).address).balance;
    // Paid 380 L2 units (the exit transaction's fee aside).
    const fee = node.chain.lookupTx(fromHex(res.tx, 32))?.receipt.fee ?? 0n;
    expect(after - before + fee).toBe(380n * TEST_UNIT);
    // A second exit of the same account is refused on L1.
    const again = await cli(['zk', 'exit', '--from', '1', '--l1-rpc', l1Rpc.url, '--zk-rpc', zkUrl, '--rollup-id', String(TEST_ZK.rollupId), '--json']);
    expect(again.code).not.toBe(0);
    expect(again.out + again.err).toMatch(/already exited/);
    expect(toHex(readZkRollup(node.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array)).toBe(toHex(fieldToBytes(op.provenState().root)));
  }, 300_000);
});
