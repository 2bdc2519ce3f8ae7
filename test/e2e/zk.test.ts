/**
 * ZK-rollup end to end on a real L1 chain (lmdb) with real Groth16 proofs of the CI-sized
 * circuit: provers pull jobs from the operator over JSON-RPC (HTTP on loopback), the last test
 * with prover child processes, one of which is killed mid-proof. Conservation is checked after
 * every L1 block: escrow = unit × (L2 balances of the L1-verified state + queued deposits − exits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient, type RpcServer } from '@strata/rpc';
import { getAccount } from '@strata/runtime';
import {
  callWithRetry,
  CommitBatchArgs,
  ExitArgs,
  fieldToBytes,
  opMessage,
  OP_TRANSFER,
  OP_WITHDRAW,
  ProverService,
  readZkRollup,
  RefundArgs,
  spawnProver,
  startZkRpc,
  ZkDepositArgs,
  zkCrypto,
  zkEscrowAddress,
  ZkOperator,
  type CircuitArtifacts,
  type NodeZkL1Client,
  type ZkCrypto,
  type ZkKey,
  type ZkState,
} from '@strata/zk';
import { conservationGap, keys, registerTestRollup, TEST_UNIT, TEST_ZK, testArtifacts, ZkL1Miner } from '../helpers/zk.js';

let art: CircuitArtifacts;
let crypto: ZkCrypto;
let l1: ZkL1Miner;
let client: NodeZkL1Client;
let op: ZkOperator;
let rpc: RpcServer;
let zk: RpcClient;
let prover: ProverService;
const operatorKey = keys[0] as KeyPair;
let l2: ZkKey[];
let exited = 0n;

const hexq = (x: bigint) => `0x${x.toString(16)}`;

function proven(): ZkState {
  const rec = readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId);
  const n = rec?.batchCount ?? 0;
  // The operator moves its proven state when it sees the verification; until then, the batch's own.
  return n === 0 ? op.provenState() : ((op.batches[n - 1] as (typeof op.batches)[number]).stateAfter ?? op.provenState());
}

/** Mines a block and checks conservation. */
function mine() {
  const b = l1.mine();
  expect(conservationGap(l1, proven(), exited)).toBe(0n);
  return b;
}

async function deposit(who: KeyPair, key: ZkKey, units: bigint) {
  const args = encode(ZkDepositArgs, { rollupId: TEST_ZK.rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: units * TEST_UNIT });
  return client.send(who, 'deposit', args, 50_000);
}

async function send(kind: 'transfer' | 'withdraw', from: number, signer: ZkKey, to: number, amount: bigint) {
  const leaf = op.soft.leaf(from);
  const nonce = leaf?.nonce ?? 0n;
  const type = kind === 'transfer' ? OP_TRANSFER : OP_WITHDRAW;
  const sig = crypto.sign(signer, opMessage(TEST_ZK, { type, from, to: kind === 'transfer' ? to : 0, amount }, nonce));
  return callWithRetry<{ status: string }>(zk, 'zk_sendTransaction', [{ type: kind, from: hexq(BigInt(from)), to: hexq(BigInt(to)), amount: hexq(amount), nonce: hexq(nonce), signature: { r8x: hexq(sig.r8x), r8y: hexq(sig.r8y), s: hexq(sig.s) } }]);
}

/** Ticks the operator and the in-process prover until batch `i` is proven. */
async function proveBatch(i: number) {
  for (let k = 0; k < 20 && op.batches[i]?.status !== 'proven'; k++) {
    await op.tick();
    if (op.batches[i]?.status === 'pending') await prover.tick();
  }
  expect(op.batches[i]?.status).toBe('proven');
}

beforeAll(async () => {
  art = await testArtifacts();
  crypto = await zkCrypto();
  l1 = new ZkL1Miner();
  client = await registerTestRollup(l1, operatorKey, { priorityDeadline: 4 });
  op = await ZkOperator.create({ rollupId: TEST_ZK.rollupId, key: operatorKey, vk: art.vk, circuitHash: art.hash, batchIntervalMs: 0, leaseMs: 5_000 }, { l1: client, crypto });
  rpc = await startZkRpc(op, { port: 0 });
  zk = new RpcClient(rpc.url);
  prover = new ProverService({ operatorUrl: rpc.url, id: 'in-process' });
  await prover.init();
  l2 = [1, 2, 3].map((i) => crypto.deriveKey((keys[i] as KeyPair).secretKey));
}, 300_000);

afterAll(async () => {
  await prover?.stop();
  await rpc?.stop();
  l1?.close();
});

describe('zk-rollup on L1', () => {
  it('deposit, transfer, withdraw: the withdrawal is paid in the L1 block that verifies the proof', async () => {
    await deposit(keys[1] as KeyPair, l2[0] as ZkKey, 500n);
    await deposit(keys[2] as KeyPair, l2[1] as ZkKey, 200n);
    mine();
    await op.tick(); // applies both deposits, seals batch 0
    expect(op.batches.length).toBe(1);
    await proveBatch(0);
    await op.tick(); // commits
    mine();
    await op.tick();
    expect(op.batches[0]?.status).toBe('verified');
    const a0 = await callWithRetry<{ balance: string; index: number }>(zk, 'zk_getAccount', ['0x0', 'proven']);
    expect(BigInt(a0.balance)).toBe(500n);

    expect((await send('transfer', 0, l2[0] as ZkKey, 1, 120n)).status).toBe('soft-confirmed');
    expect((await send('withdraw', 1, l2[1] as ZkKey, 0, 70n)).status).toBe('soft-confirmed');
    // a replay of the same signed transfer is refused (nonce moved on)
    await expect(zk.call('zk_sendTransaction', [{ type: 'transfer', from: '0x0', to: '0x1', amount: '0x10', nonce: '0x0', signature: { r8x: '0x1', r8y: '0x1', s: '0x1' } }])).rejects.toThrow(/nonce/);
    await op.tick();
    await proveBatch(1);
    const before = getAccount(l1.chain.stateReader, (keys[2] as KeyPair).address).balance;
    await op.tick();
    const block = mine();
    const after = getAccount(l1.chain.stateReader, (keys[2] as KeyPair).address).balance;
    expect(after - before).toBe(70n * TEST_UNIT);
    const r = l1.receiptOf(op.batches[1]?.txHash as Uint8Array);
    expect(r?.status).toBe('ok');
    expect(r?.events.map((e) => e.type)).toEqual(['withdrawal', 'batchVerified']);
    expect(l1.chain.lookupTx(op.batches[1]?.txHash as Uint8Array)?.height).toBe(l1.chain.head.meta.height);
    expect(block.txs.length).toBe(1);
    await op.tick();
    expect((await callWithRetry<{ status: string }[]>(zk, 'zk_getWithdrawals'))[0]?.status).toBe('paid on L1');
  }, 240_000);

  it('a wrong proof, a proof for other data and altered posted data are rejected with a typed reason; the root does not move', async () => {
    await send('transfer', 0, l2[0] as ZkKey, 1, 30n);
    await op.tick();
    await proveBatch(2);
    const b = op.batches[2] as (typeof op.batches)[number];
    const root0 = readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array;
    const commit = (data: Uint8Array, proof: Uint8Array, newRoot = fieldToBytes(b.newRoot)) =>
      client.send(operatorKey, 'commitBatch', encode(CommitBatchArgs, { rollupId: TEST_ZK.rollupId, newRoot, data, proof }), 100_000);
    const wrongProof = new Uint8Array(b.proof as Uint8Array);
    wrongProof.set((b.proof as Uint8Array).slice(192, 256), 0); // A := C: valid points, wrong proof
    const otherData = new Uint8Array(b.data);
    otherData[otherData.length - 1] ^= 1; // another amount: a different commitment
    const altered = new Uint8Array(b.data);
    altered[0] ^= 0x80; // the posted bytes changed after proving
    const garbage = new Uint8Array(256).fill(7); // not curve points
    const hashes = [await commit(b.data, wrongProof), await commit(otherData, b.proof as Uint8Array), await commit(altered, b.proof as Uint8Array), await commit(b.data, garbage), await commit(b.data, b.proof as Uint8Array, fieldToBytes(b.oldRoot))];
    mine();
    for (const h of hashes) {
      const r = l1.receiptOf(h);
      expect(r?.status).toBe('failed');
      expect(['PROOF_INVALID', 'L2_INVALID_BATCH']).toContain(r?.error?.code);
    }
    expect(l1.receiptOf(hashes[0] as Uint8Array)?.error?.code).toBe('PROOF_INVALID');
    expect(toHex(readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId)?.root as Uint8Array)).toBe(toHex(root0));
    // a stranger cannot commit even a valid batch
    const h = await client.send(keys[3] as KeyPair, 'commitBatch', encode(CommitBatchArgs, { rollupId: TEST_ZK.rollupId, newRoot: fieldToBytes(b.newRoot), data: b.data, proof: b.proof as Uint8Array }), 100_000);
    mine();
    expect(l1.receiptOf(h)?.error?.code).toBe('UNAUTHORIZED');
    // the operator's own valid commit goes through
    await op.tick();
    mine();
    await op.tick();
    expect(op.batches[2]?.status).toBe('verified');
  }, 240_000);

  it('a prover killed mid-proof: its job goes to another prover and the batch is proven once', async () => {
    const p1 = spawnProver(rpc.url, 'child-1');
    const p2 = spawnProver(rpc.url, 'child-2');
    try {
      await send('transfer', 1, l2[1] as ZkKey, 0, 10n);
      await op.tick();
      const b = op.batches[3] as (typeof op.batches)[number];
      const t0 = Date.now();
      while (b.status === 'pending' && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 200));
      expect(b.status).toBe('proving');
      const first = b.lease?.prover;
      (first === 'child-1' ? p1 : p2).kill('SIGKILL');
      const proofsBefore = (await op.metrics.proofs.get()).values[0]?.value ?? 0;
      while (b.status !== 'proven' && Date.now() - t0 < 200_000) await new Promise((r) => setTimeout(r, 300));
      expect(b.status).toBe('proven');
      expect(b.provedBy).toBe(first === 'child-1' ? 'child-2' : 'child-1');
      expect((await op.metrics.proofs.get()).values[0]?.value).toBe(proofsBefore + 1);
      expect((await op.metrics.leaseExpired.get()).values[0]?.value).toBe(1);
    } finally {
      p1.kill('SIGKILL');
      p2.kill('SIGKILL');
    }
    await op.tick();
    mine();
    await op.tick();
    expect(op.batches[3]?.status).toBe('verified');
  }, 300_000);

  it('the operator skips a deposit: after K blocks the rollup freezes; accounts exit once with Merkle proofs and the exits add up to the escrow', async () => {
    op.opts.skipDeposits = true;
    await deposit(keys[3] as KeyPair, l2[2] as ZkKey, 40n);
    mine();
    const queuedAt = l1.chain.head.meta.height;
    for (let i = 0; i < 6; i++) {
      await op.tick();
      mine();
    }
    const rec = readZkRollup(l1.chain.stateReader, TEST_ZK.rollupId);
    expect(rec?.frozen).toBe(true);
    expect(rec?.frozenAt).toBe(queuedAt + 4 + 1);
    await op.tick();
    expect(op.isFrozen).toBe(true);
    // deposits are refused in exodus
    const late = await deposit(keys[3] as KeyPair, l2[2] as ZkKey, 1n);
    mine();
    expect(l1.receiptOf(late)?.error?.code).toBe('L2_BRIDGE');
    const st = proven();
    const exits: Uint8Array[] = [];
    const exitArgs = (i: number, balanceOverride?: bigint) => {
      const l = st.leaf(i) as NonNullable<ReturnType<ZkState['leaf']>>;
      return encode(ExitArgs, { rollupId: TEST_ZK.rollupId, index: i, ax: fieldToBytes(l.ax), ay: fieldToBytes(l.ay), balance: balanceOverride ?? l.balance, nonce: l.nonce, addr: fieldToBytes(l.addr).slice(12), siblings: st.tree.proof(i).map(fieldToBytes) });
    };
    // a lie about the balance fails the Merkle proof
    const lie = await client.send(keys[1] as KeyPair, 'exit', exitArgs(0, 10_000n), 50_000);
    mine();
    expect(l1.receiptOf(lie)?.error?.code).toBe('L2_WITHDRAWAL');
    for (const i of st.leaves.keys()) {
      exits.push(await client.send(keys[1] as KeyPair, 'exit', exitArgs(i), 50_000));
    }
    const refund = await client.send(keys[3] as KeyPair, 'refundDeposit', encode(RefundArgs, { rollupId: TEST_ZK.rollupId, depositId: 2 }), 50_000);
    const escrowBefore = getAccount(l1.chain.stateReader, zkEscrowAddress(TEST_ZK.rollupId)).balance;
    let paid = 0n;
    for (const l of st.leaves.values()) exited += l.balance;
    // the queued deposit is refunded in the same block, so count it as no longer queued
    l1.mine();
    for (const h of [...exits, refund]) {
      const r = l1.receiptOf(h);
      expect(r?.status).toBe('ok');
      paid += BigInt(String(r?.events[r.events.length - 1]?.data.amount));
    }
    expect(paid).toBe(escrowBefore);
    expect(getAccount(l1.chain.stateReader, zkEscrowAddress(TEST_ZK.rollupId)).balance).toBe(0n);
    // a second exit of the same account fails
    const again = await client.send(keys[1] as KeyPair, 'exit', exitArgs(0), 50_000);
    mine();
    expect(l1.receiptOf(again)?.error?.code).toBe('L2_WITHDRAWAL');
  }, 240_000);

  it('chain_getHead / chain_getBlockByNumber serve the common block shape (hash chain, hex quantities, state root, transactions) with zk fields', async () => {
    const head = await callWithRetry<Record<string, unknown>>(zk, 'chain_getHead', ['latest']);
    expect(head.number).toBe(`0x${op.batches.length.toString(16)}`);
    const common = ['hash', 'number', 'parentHash', 'timestamp', 'txRoot', 'stateRoot', 'receiptRoot', 'producer', 'extra', 'nonce', 'size', 'transactions'];
    let prev: Record<string, unknown> | undefined;
    for (let n = 0; n <= op.batches.length; n++) {
      const b = await callWithRetry<Record<string, unknown>>(zk, 'chain_getBlockByNumber', [`0x${n.toString(16)}`, false]);
      for (const k of common) expect(b, k).toHaveProperty(k);
      expect(b.number).toBe(`0x${n.toString(16)}`);
      expect(String(b.hash)).toMatch(/^0x[0-9a-f]{64}$/);
      if (prev) expect(b.parentHash).toBe(prev.hash);
      if (n > 0) {
        const batch = op.batches[n - 1] as (typeof op.batches)[number];
        expect(b.stateRoot).toBe(toHex(fieldToBytes(batch.newRoot)));
        expect((b.transactions as string[]).length).toBe(batch.ops);
        expect(b.status).toBe(batch.status);
      }
      prev = b;
    }
    const full = await callWithRetry<{ transactions: { kind: string; amount: string }[] }>(zk, 'chain_getBlockByNumber', ['0x2', true]);
    expect(full.transactions.map((x) => x.kind)).toEqual(['zk.transfer', 'zk.withdraw']);
    expect(await callWithRetry(zk, 'chain_getBlockByNumber', [`0x${(op.batches.length + 1).toString(16)}`])).toBeNull();
    await expect(zk.call('chain_getBlockByNumber', ['nonsense'])).rejects.toThrow(/number/);
  });

  it('a fresh node re-executes every block (proofs, rejected proofs, exits) to the same receipts and roots', () => {
    const fresh = new ZkL1Miner();
    try {
      for (let h = 1; h <= l1.chain.head.meta.height; h++) {
        const ref = l1.chain.blockAt(h);
        if (!ref) throw new Error(`no block ${h}`);
        fresh.chain.importBlock({ header: ref.header, txs: l1.chain.store.getBody(ref.hash) ?? [] });
      }
      expect(toHex(fresh.chain.head.hash)).toBe(toHex(l1.chain.head.hash));
    } finally {
      fresh.close();
    }
  }, 120_000);
});
