/**
 * The ZK operator's state in lmdb (CI circuit, real lmdb L1, real proofs): a restart resumes
 * (soft-confirmed transactions, proofs, the L1 cursor), a kill -9 at random moments loses
 * nothing the operator acknowledged, a fresh node rebuilds the whole L2 state from L1 data alone,
 * and in exodus an exit proof is built from L1 data alone with the operator gone.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, toHex, type KeyPair } from '@strata/primitives';
import { getAccount } from '@strata/runtime';
import { exitArgsFor, fieldToBytes, NodeZkL1Client, RefundArgs, OP_TRANSFER, OP_WITHDRAW, opMessage, proveInput, readZkRollup, rebuildFromL1, zkCrypto, zkEscrowAddress, ZkOperator, type CircuitArtifacts, type ZkCrypto, type ZkKey } from '@strata/zk';
import { tempDir } from '../helpers/chain.js';
import { keys, registerTestRollup, TEST_UNIT, TEST_ZK, testArtifacts, ZkL1Miner, zkDeposit, } from '../helpers/zk.js';

let art: CircuitArtifacts;
let crypto: ZkCrypto;
let l2: ZkKey[];
let t: { dir: string; cleanup: () => void };
const operatorKey = keys[0] as KeyPair;

beforeAll(async () => {
  art = await testArtifacts();
  crypto = await zkCrypto();
  l2 = [1, 2, 3].map((i) => crypto.deriveKey((keys[i] as KeyPair).secretKey));
  t = tempDir('strata-zkpersist-');
}, 300_000);
afterAll(() => t?.cleanup());

const deposit = (client: NodeZkL1Client, who: number, units: bigint) => zkDeposit(client, keys[who] as KeyPair, l2[who - 1] as ZkKey, units);

function sign(op: ZkOperator, kind: number, from: number, to: number, amount: bigint) {
  const nonce = op.soft.leaf(from)?.nonce ?? 0n;
  const tx = { type: kind, from, to, amount };
  return { ...tx, type: kind as typeof OP_TRANSFER, nonce, sig: crypto.sign(l2[from] as ZkKey, opMessage(TEST_ZK, tx, nonce)) };
}

async function proveAll(op: ZkOperator) {
  for (const b of op.batches) {
    if (b.status !== 'pending' || !b.input) continue;
    op.submitProof(b.index, 'test', (await proveInput(art, b.input)).proof);
  }
}

async function operator(client: NodeZkL1Client, dataDir?: string) {
  return ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 0, ...(dataDir ? { dataDir } : {}) }, { l1: client, crypto });
}

describe('zk operator persistence', () => {
  it('a restarted operator resumes its soft-confirmed transactions, proofs and L1 cursor from lmdb', async () => {
    const l1 = new ZkL1Miner();
    const dir = join(t.dir, 'op-restart');
    try {
      const client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 50 });
      await deposit(client, 1, 500n);
      await deposit(client, 2, 300n);
      l1.mine();
      let op = await operator(client, dir);
      await op.tick(); // deposits → batch 0
      await proveAll(op);
      await op.tick(); // commit
      l1.mine();
      await op.tick(); // verified
      expect(op.batches[0]?.status).toBe('verified');
      // Pruned: a verified batch keeps only its summary.
      expect(op.batches[0]?.stateAfter).toBeUndefined();
      expect(op.batches[0]?.input).toBeUndefined();
      op.submit(sign(op, OP_TRANSFER, 0, 1, 50n));
      op.submit(sign(op, OP_WITHDRAW, 1, 0, 20n));
      await op.tick(); // batch 1 sealed
      await proveAll(op); // proven, not yet committed
      op.submit(sign(op, OP_TRANSFER, 0, 1, 7n)); // queued, not sealed
      await deposit(client, 3, 40n);
      l1.mine();
      const softRoot = op.soft.root;
      await op.stop();

      op = await operator(client, dir);
      expect(op.soft.root).toBe(softRoot);
      expect(op.soft.leaf(0)?.nonce).toBe(2n);
      expect(op.batches.map((b) => b.status)).toEqual(['verified', 'proven']);
      expect(op.provenState().root).toBe(BigInt(toHex(readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array)));
      await op.tick(); // applies deposit 2 (cursor kept: deposits 0 and 1 are not applied twice), commits batch 1
      expect(op.soft.leaf(2)?.balance).toBe(40n);
      expect(op.soft.leaf(0)?.balance).toBe(500n - 57n);
      const before = getAccount(l1.chain.stateReader, (keys[2] as KeyPair).address).balance;
      l1.mine();
      await op.tick();
      expect(op.batches[1]?.status).toBe('verified');
      expect(getAccount(l1.chain.stateReader, (keys[2] as KeyPair).address).balance - before).toBe(20n * TEST_UNIT);
      await proveAll(op);
      await op.tick();
      l1.mine();
      await op.tick();
      expect(op.batches.every((b) => b.status === 'verified')).toBe(true);
      expect(toHex(fieldToBytes(op.provenState().root))).toBe(toHex(readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array));
      await op.stop();
    } finally {
      await l1.close();
    }
  }, 240_000);

  it('kill -9 at random moments loses nothing the operator acknowledged', async () => {
    const l1Dir = join(t.dir, 'crash-l1');
    const opDir = join(t.dir, 'crash-op');
    mkdirSync(l1Dir, { recursive: true });
    {
      const l1 = new ZkL1Miner(l1Dir);
      const client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 1000 });
      await deposit(client, 1, 100_000n);
      await deposit(client, 2, 100_000n);
      l1.mine();
      await l1.close();
    }
    let sawProven = false;
    for (let round = 0; round < 2; round++) {
      const run = await new Promise<{ acks: [number, bigint][]; proven: number[]; verified: number[] }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/zk-crash-operator.ts', l1Dir, opDir], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        let started = false;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          // Round 0 is killed just after a proof was accepted (mid-commit, mid-mine or mid-ack);
          // later rounds at a random moment after start.
          const trigger = round === 0 ? 'proven ' : 'start ';
          if (!started && out.includes(trigger)) {
            started = true;
            setTimeout(() => child.kill('SIGKILL'), (round === 0 ? 0 : 500) + Math.floor(Math.random() * (round === 0 ? 1500 : 8000)));
          }
        });
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        child.on('exit', (code, signal) => {
          if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (${code}): ${err.slice(-2000)}`));
          const lines = out.trim().split('\n');
          resolve({
            acks: lines.filter((l) => l.startsWith('ack ')).map((l) => [Number(l.split(' ')[1]), BigInt(l.split(' ')[2] as string)]),
            proven: lines.filter((l) => l.startsWith('proven ')).map((l) => Number(l.split(' ')[1])),
            verified: lines.filter((l) => l.startsWith('verified ')).map((l) => Number(l.split(' ')[1])),
          });
        });
      });
      const l1 = new ZkL1Miner(l1Dir);
      const client = new NodeZkL1Client(l1);
      const op = await operator(client, opDir);
      try {
        // Every acknowledged transaction is in the resumed soft state.
        for (const [from, nonce] of run.acks) expect(op.soft.leaf(from)?.nonce ?? 0n).toBeGreaterThan(nonce);
        // Every accepted proof is kept (not proven again), every verified batch stays verified.
        for (const i of run.proven) expect(['proven', 'submitted', 'verified']).toContain(op.batches[i]?.status);
        for (const i of run.verified) expect(op.batches[i]?.status).toBe('verified');
        if (run.proven.length) sawProven = true;
        // Nothing created either: 200,000 units in two accounts.
        expect((op.soft.leaf(0)?.balance ?? 0n) + (op.soft.leaf(1)?.balance ?? 0n)).toBe(200_000n);
        await op.tick(); // reconciles with the L1 (a commit that landed before the kill is recognised)
        const rec = readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId);
        expect(op.batches.filter((b) => b.status === 'verified').length).toBe(rec?.batchCount);
        expect(toHex(fieldToBytes(op.provenState().root))).toBe(toHex(rec?.root as Uint8Array));
      } finally {
        await op.stop();
        await l1.close();
      }
    }
    expect(sawProven).toBe(true);
  }, 300_000);

  it('a fresh ZK node rebuilds the whole L2 state from L1 data alone, and an exodus exit needs no operator', async () => {
    const l1 = new ZkL1Miner();
    try {
      const client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 3 });
      await deposit(client, 1, 500n);
      await deposit(client, 2, 300n);
      l1.mine();
      const op = await operator(client);
      await op.tick();
      await proveAll(op);
      op.submit(sign(op, OP_TRANSFER, 0, 1, 123n));
      op.submit(sign(op, OP_WITHDRAW, 1, 0, 45n));
      await op.tick();
      await proveAll(op);
      await op.tick();
      l1.mine();
      await op.tick();
      expect(op.batches.map((b) => b.status)).toEqual(['verified', 'verified']);
      const proven = op.provenState();
      await op.stop();

      // A fresh node with an empty data dir: the state comes from the L1's blocks and queue.
      const fresh = await operator(client, join(t.dir, 'fresh'));
      expect(fresh.provenState().root).toBe(proven.root);
      expect(fresh.soft.root).toBe(proven.root);
      for (const i of [0, 1]) expect(fresh.provenState().leaf(i)).toEqual(proven.leaf(i));
      expect(fresh.batches.map((b) => b.status)).toEqual(['verified', 'verified']);
      expect(fresh.batches[1]?.withdrawals).toEqual([{ from: 1, amount: 45n, addr: proven.leaf(1)?.addr }]);
      // It carries on: a new deposit and a transfer are proven on top of the rebuilt state.
      await deposit(client, 3, 40n);
      l1.mine();
      await fresh.tick();
      fresh.submit(sign(fresh, OP_TRANSFER, 2, 0, 10n));
      await fresh.tick();
      await proveAll(fresh);
      await fresh.tick();
      l1.mine();
      await fresh.tick();
      expect(fresh.batches.every((b) => b.status === 'verified')).toBe(true);
      await fresh.stop();

      // The operator disappears: a deposit is never included, the rollup freezes.
      await deposit(client, 1, 5n);
      for (let i = 0; i < 6; i++) l1.mine();
      expect(readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.frozen).toBe(true);
      // Users rebuild the last verified state from L1 data alone and exit with it.
      const rb = await rebuildFromL1(client, TEST_ZK.rollupId);
      expect(toHex(fieldToBytes(rb.state.root))).toBe(toHex(readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array));
      const hashes = [];
      for (const i of rb.state.leaves.keys()) hashes.push(await client.send(keys[i + 1] as KeyPair, 'exit', exitArgsFor(rb.state, TEST_ZK.rollupId, i), 50_000));
      hashes.push(await client.send(keys[1] as KeyPair, 'refundDeposit', encode(RefundArgs, { rollupId: TEST_ZK.rollupId, depositId: 3 }), 50_000));
      l1.mine();
      for (const h of hashes) expect(l1.receiptOf(h)?.status).toBe('ok');
      expect(getAccount(l1.chain.stateReader, zkEscrowAddress(TEST_ZK.rollupId)).balance).toBe(0n);
    } finally {
      await l1.close();
    }
  }, 300_000);
});
