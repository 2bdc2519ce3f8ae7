/**
 * A resumed devnet whose ZK-rollup has batches starts its operator again, from `<data-dir>/zk`
 * (before: it refused, the state being in memory). In-process devnet, L1 + ZK only, a CI-sized
 * circuit, the prover as a child process, proofs verified on the L1.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevnet, type Devnet } from '@strata/devnet';
import { encode } from '@strata/primitives';
import { fieldToBytes, NodeZkL1Client, OP_TRANSFER, opMessage, readZkRollup, ZkDepositArgs, zkCrypto } from '@strata/zk';
import { tempDir } from '../helpers/chain.js';

const t = tempDir('strata-zkdev-');
let dev: Devnet | undefined;
afterAll(async () => {
  await dev?.stop();
  t.cleanup();
});

const start = () =>
  startDevnet({ dataDir: t.dir, port: 0, rollup: false, l3: false, channels: false, sidechain: false, explorer: false, zk: { port: 0, circuit: { depth: 4, batchSize: 2 } } }, { logger: pino({ level: 'silent' }) });

const until = async (f: () => boolean, ms = 240_000) => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('devnet ZK-rollup across a restart', () => {
  it('a resumed devnet whose rollup has batches resumes the operator and keeps proving', async () => {
    dev = await start();
    const zk = dev.zk;
    if (!zk?.operator) throw new Error('no operator');
    const crypto = await zkCrypto();
    const a = dev.accounts[1]?.keys;
    if (!a) throw new Error('no account');
    const key = crypto.deriveKey(a.secretKey);
    const client = new NodeZkL1Client(dev.l1.node);
    await client.send(a, 'deposit', encode(ZkDepositArgs, { rollupId: zk.params.rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: 500n * 1000n }), 60_000);
    await until(() => (readZkRollup(dev?.l1.node.chain.stateReader as never, zk.params.rollupId)?.batchCount ?? 0) >= 1);
    await dev.stop();
    dev = undefined;

    dev = await start();
    const op = dev.zk?.operator;
    expect(op).toBeDefined();
    if (!op) return;
    expect(op.batches[0]?.status).toBe('verified');
    expect(op.soft.leaf(0)?.balance).toBe(500n);
    const nonce = op.soft.leaf(0)?.nonce ?? 0n;
    const tx = { type: OP_TRANSFER, from: 0, to: 0, amount: 5n };
    op.submit({ ...tx, type: OP_TRANSFER, nonce, sig: crypto.sign(key, opMessage(op.params, tx, nonce)) });
    await until(() => op.batches.length >= 2 && op.batches.every((b) => b.status === 'verified'));
    expect(op.provenState().leaf(0)?.nonce).toBe(nonce + 1n);
  }, 600_000);
});
