/**
 * Actors for ZK-rollup tests: an L1 miner over a real Chain (lmdb) with the `zk_rollup` module,
 * the tiny test circuit (depth 4, batch 2: compiled and keyed once, then cached), and helpers to
 * register the rollup and check conservation.
 */
import { Chain, ChainStore, type Block } from '@strata/chain';
import { encode, type KeyPair } from '@strata/primitives';
import { bankModule, getAccount, ModuleRegistry, verifyRawTx, type VerifiedTx } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import {
  encodeVk,
  fieldToBytes,
  NodeZkL1Client,
  readZkDeposit,
  readZkRollup,
  RegisterArgs,
  setupCircuit,
  zkEscrowAddress,
  zkParentModules,
  OP_TRANSFER,
  opMessage,
  ZkDepositArgs,
  type CircuitArtifacts,
  type ZkCrypto,
  type ZkKey,
  type ZkParams,
  type ZkState,
} from '@strata/zk';
import { devConfig, keys, tempDir } from './chain.js';

export { keys };

/** The params every ZK test uses (CI-sized: compiles in seconds). */
export const TEST_ZK: ZkParams = { l1ChainId: 1, rollupId: 7, depth: 4, batchSize: 2 };
/** Base units per L2 unit in tests. */
export const TEST_UNIT = 1000n;

let art: Promise<CircuitArtifacts> | undefined;
/** The compiled test circuit and its dev keys (cached under .cache/zk). */
export function testArtifacts(): Promise<CircuitArtifacts> {
  art ??= setupCircuit(TEST_ZK);
  return art;
}

/** An L1 miner: transactions wait in `pending` until `mine()`. */
export class ZkL1Miner {
  readonly chain: Chain;
  pending: VerifiedTx[] = [];
  private readonly cleanup: () => void;
  /** With `dir`, the chain lives there (and survives close); else in a temp dir removed at close. */
  constructor(dir?: string) {
    const t = dir ? { dir, cleanup: () => {} } : tempDir('strata-zk-');
    this.cleanup = t.cleanup;
    const store = new ChainStore(openDatabase({ path: t.dir }));
    this.chain = Chain.open(devConfig({ confirmations: 3, maxBlockCompute: 2_000_000 }), new ModuleRegistry([bankModule, ...zkParentModules()]), store);
  }
  submitTx(raw: Uint8Array): VerifiedTx {
    const v = verifyRawTx(raw);
    this.pending.push(v);
    return v;
  }
  mine(filter: (v: VerifiedTx) => boolean = () => true): Block {
    const take = this.pending.filter(filter);
    this.pending = this.pending.filter((v) => !filter(v));
    const built = this.chain.buildBlock(take, { producer: keys[3]!.address, timestamp: this.chain.head.header.timestamp + 1000 });
    const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    this.chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    return block;
  }
  receiptOf(hash: Uint8Array) {
    return this.chain.lookupTx(hash)?.receipt;
  }
  close(): Promise<void> {
    const closing = this.chain.store.close();
    return Promise.resolve(closing).then(() => this.cleanup());
  }
}

/** Registers the test rollup with `operator` and mines it. */
export async function registerTestRollup(l1: ZkL1Miner, operator: KeyPair, opts: { priorityDeadline?: number; maxBatchGap?: number } = {}): Promise<NodeZkL1Client> {
  const a = await testArtifacts();
  const client = new NodeZkL1Client(l1);
  const args = encode(RegisterArgs, { rollupId: TEST_ZK.rollupId, depth: TEST_ZK.depth, batchSize: TEST_ZK.batchSize, unit: TEST_UNIT, priorityDeadline: opts.priorityDeadline ?? 5, maxBatchGap: opts.maxBatchGap ?? 0, vk: encodeVk(a.vk) });
  const h = await client.send(operator, 'register', args, 100_000);
  l1.mine();
  const r = l1.receiptOf(h);
  if (r?.status !== 'ok') throw new Error(`register failed: ${JSON.stringify(r?.error)}`);
  return client;
}

/** Escrow = unit × (Σ balances of the L1-verified state + queued, unprocessed, unrefunded deposits). */
export function conservationGap(l1: ZkL1Miner, proven: ZkState, exitedBalances = 0n): bigint {
  const r = l1.chain.stateReader;
  const rec = readZkRollup(r, TEST_ZK.rollupId);
  if (!rec) return 0n;
  let l2 = 0n;
  for (const l of proven.leaves.values()) l2 += l.balance;
  let queued = 0n;
  for (let i = rec.queueHead; i < rec.queueTail; i++) {
    const d = readZkDeposit(r, TEST_ZK.rollupId, i);
    if (d && !d.refunded) queued += d.amount;
  }
  const escrow = getAccount(r, zkEscrowAddress(TEST_ZK.rollupId)).balance;
  return escrow - (l2 - exitedBalances + queued) * rec.unit;
}

export { fieldToBytes };

/** Sends an L1 deposit of `units` L2 units from `from` to the L2 key `key` (mined by the next `mine()`). */
export function zkDeposit(client: NodeZkL1Client, from: KeyPair, key: ZkKey, units: bigint, rollupId = TEST_ZK.rollupId) {
  return client.send(from, 'deposit', encode(ZkDepositArgs, { rollupId, ax: fieldToBytes(key.ax), ay: fieldToBytes(key.ay), amount: units * TEST_UNIT }), 50_000);
}

/** A transfer op from account `from` to `to`, signed with `key` (the sender's L2 key) at `nonce`. */
export function zkTransfer(crypto: ZkCrypto, key: ZkKey, from: number, to: number, amount: bigint, nonce: bigint) {
  const tx = { type: OP_TRANSFER, from, to, amount };
  return { ...tx, type: OP_TRANSFER as typeof OP_TRANSFER, nonce, sig: crypto.sign(key, opMessage(TEST_ZK, tx, nonce)) };
}
