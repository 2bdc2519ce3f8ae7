/**
 * The ZK node's JSON-RPC: `chain_getHead` / `chain_getBlockByNumber` in the other chains' block
 * shape (a batch is this chain's block, with zk fields beside the common ones), plus `zk_` methods: params, signed transactions, accounts
 * with Merkle proofs (soft or last-verified state), batches with their proof status,
 * withdrawals, and the prover job protocol. Quantities are 0x hex.
 */
import { createHash } from 'node:crypto';
import { bigintToFixed, fromQuantity, StrataError, toHex, toQuantity } from '@strata/primitives';
import { RpcError, RpcServer, type MethodSpec, type RpcServerOptions } from '@strata/rpc';
import type { Logger } from 'pino';
import type { OperatorBatch, ZkOperator, L2Tx } from './operator.js';
import { decodeBatchData, type PostedOp } from './ops.js';
import { OP_TRANSFER, OP_WITHDRAW } from './params.js';
import { emptyRoot } from './tree.js';
import { fieldToBytes, FIELD } from './poseidon.js';
import { leafHash, type ZkState } from './stf.js';

const hex32 = (x: bigint) => toHex(fieldToBytes(x));

function qty(v: unknown, name: string, max: bigint): bigint {
  let n: bigint;
  try {
    n = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : fromQuantity(v as string);
  } catch {
    throw RpcError.invalidParams(`${name}: expected a 0x hex quantity`);
  }
  if (n < 0n || n >= max) throw RpcError.invalidParams(`${name}: out of range`);
  return n;
}

/** Parses a transaction object from RPC params (typed errors, bounded sizes). */
export function parseL2Tx(v: unknown): L2Tx {
  if (!v || typeof v !== 'object') throw RpcError.invalidParams('transaction: expected an object');
  const o = v as Record<string, unknown>;
  const type = o.type === 'transfer' ? OP_TRANSFER : o.type === 'withdraw' ? OP_WITHDRAW : undefined;
  if (type === undefined) throw RpcError.invalidParams('transaction.type: "transfer" or "withdraw"');
  const sig = o.signature as Record<string, unknown> | undefined;
  if (!sig || typeof sig !== 'object') throw RpcError.invalidParams('transaction.signature: expected {r8x, r8y, s}');
  return {
    type,
    from: Number(qty(o.from, 'from', 1n << 32n)),
    to: type === OP_TRANSFER ? Number(qty(o.to, 'to', 1n << 32n)) : 0,
    amount: qty(o.amount, 'amount', 1n << 64n),
    nonce: qty(o.nonce, 'nonce', 1n << 64n),
    sig: { r8x: qty(sig.r8x, 'r8x', FIELD), r8y: qty(sig.r8y, 'r8y', FIELD), s: qty(sig.s, 's', FIELD) },
  };
}

function batchJson(b: OperatorBatch): Record<string, unknown> {
  return {
    index: b.index,
    status: b.status,
    operations: b.ops,
    bytes: b.data.length,
    oldRoot: hex32(b.oldRoot),
    newRoot: hex32(b.newRoot),
    provedBy: b.provedBy ?? null,
    l1Tx: b.txHash ? toHex(b.txHash) : null,
    l1Height: b.l1Height ?? null,
    withdrawals: b.withdrawals.map((w) => ({ from: w.from, amount: toQuantity(w.amount), to: toHex(fieldToBytes(w.addr).slice(12)) })),
  };
}

const ZERO32 = toHex(new Uint8Array(32));
const OP_KINDS = ['noop', 'transfer', 'deposit', 'withdraw'] as const;

/** Hash of batch `b` as a block: binds the rollup, the index, both roots and the posted data. */
export function batchBlockHash(rollupId: number, b: Pick<OperatorBatch, 'index' | 'oldRoot' | 'newRoot' | 'data'>): Uint8Array {
  const h = createHash('sha256').update('strata-zk-batch/v1').update(bigintToFixed(BigInt(rollupId), 4)).update(bigintToFixed(BigInt(b.index), 8));
  h.update(fieldToBytes(b.oldRoot)).update(fieldToBytes(b.newRoot)).update(createHash('sha256').update(b.data).digest());
  return new Uint8Array(h.digest());
}

/**
 * A batch in the block shape the other chains' RPC serves (`chain_getBlockByNumber`): block 0 is
 * the empty genesis state, block n is batch n − 1. `stateRoot` is the account tree root after the
 * batch, `txRoot` the sha256 of its posted bytes, `transactions` its operations (hashes, or
 * objects with `full`). The zk fields (`batch`, `status`, `oldRoot`, `l1Tx`…) ride along.
 */
export function batchBlockJson(op: ZkOperator, number: number, full: boolean): Record<string, unknown> | null {
  const p = op.params;
  const producer = toHex(op.opts.key.address);
  if (number === 0) {
    return { hash: toHex(genesisHash(op)), number: '0x0', parentHash: ZERO32, timestamp: '0x0', txRoot: ZERO32, stateRoot: hex32(emptyRoot(p.depth)), receiptRoot: ZERO32, producer, extra: '0x', nonce: '0x', size: '0x0', transactions: [], zk: true, batch: null, status: 'genesis' };
  }
  const b = op.batches[number - 1];
  if (!b) return null;
  const hash = batchBlockHash(p.rollupId, b);
  const parent = number === 1 ? genesisHash(op) : batchBlockHash(p.rollupId, op.batches[number - 2] as OperatorBatch);
  let posted: PostedOp[] = [];
  try {
    posted = decodeBatchData(p, b.data);
  } catch {
    posted = [];
  }
  const txs = posted.map((o, i) => {
    const h = toHex(new Uint8Array(createHash('sha256').update(hash).update(bigintToFixed(BigInt(i), 4)).update(bigintToFixed(o.amount, 8)).digest()));
    if (!full) return h;
    return { hash: h, blockHash: toHex(hash), blockNumber: toQuantity(number), index: toQuantity(i), kind: `zk.${OP_KINDS[o.type]}`, from: o.from, to: o.type === OP_TRANSFER ? o.to : null, amount: toQuantity(o.amount), l1Recipient: o.type === OP_WITHDRAW ? toHex(fieldToBytes(o.addr).slice(12)) : null, status: b.status };
  });
  return {
    hash: toHex(hash),
    number: toQuantity(number),
    parentHash: toHex(parent),
    timestamp: toQuantity(b.createdAt),
    txRoot: toHex(new Uint8Array(createHash('sha256').update(b.data).digest())),
    stateRoot: hex32(b.newRoot),
    receiptRoot: ZERO32,
    producer,
    extra: '0x',
    nonce: '0x',
    size: toQuantity(b.data.length),
    transactions: txs,
    zk: true,
    ...batchJson(b),
    batch: b.index,
  };
}

function genesisHash(op: ZkOperator): Uint8Array {
  return new Uint8Array(createHash('sha256').update('strata-zk-genesis/v1').update(bigintToFixed(BigInt(op.params.rollupId), 4)).update(fieldToBytes(emptyRoot(op.params.depth))).digest());
}

function accountJson(st: ZkState, index: number): Record<string, unknown> {
  const l = st.leaf(index);
  return {
    index,
    exists: !!l,
    ax: l ? hex32(l.ax) : null,
    ay: l ? hex32(l.ay) : null,
    balance: toQuantity(l?.balance ?? 0n),
    nonce: toQuantity(l?.nonce ?? 0n),
    l1Address: l ? toHex(fieldToBytes(l.addr).slice(12)) : null,
    leaf: hex32(leafHash(l)),
    root: hex32(st.root),
    siblings: st.tree.proof(index).map(hex32),
  };
}

/** The ZK node's RPC method table. */
export function zkRpcMethods(op: ZkOperator): Record<string, MethodSpec> {
  const p = op.params;
  const index = (v: unknown) => Number(qty(v, 'index', BigInt(2 ** p.depth)));
  const stateOf = (tag: unknown): ZkState => {
    if (tag !== undefined && tag !== 'soft' && tag !== 'proven' && tag !== 'verified') throw RpcError.invalidParams('invalid parameter 1 (state): expected "soft", "proven" or "verified"');
    return tag === 'proven' || tag === 'verified' ? op.provenState() : op.soft;
  };
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof RpcError) throw e;
      if (e instanceof StrataError) throw e;
      throw e;
    }
  };
  return {
    chain_getHead: { maxParams: 1, description: 'The latest batch as a block (block n = batch n − 1; block 0 is the empty genesis state); "finalized": the last batch verified on L1.', handler: (q) => {
      const tag = q[0] ?? 'latest';
      if (tag !== 'latest' && tag !== 'finalized') throw RpcError.invalidParams('invalid parameter 0 (tag): expected "latest" or "finalized"');
      const n = tag === 'latest' ? op.batches.length : op.batches.filter((b) => b.status === 'verified').length;
      return batchBlockJson(op, n, false);
    } },
    chain_getBlockByNumber: { minParams: 1, maxParams: 2, description: 'Block n (batch n − 1) in the common block shape plus zk fields; second param true: operations as objects.', handler: (q) => {
      const n = q[0] === 'latest' ? op.batches.length : Number(qty(q[0], 'number', 1n << 32n));
      if (q[1] !== undefined && typeof q[1] !== 'boolean') throw RpcError.invalidParams('invalid parameter 1 (full): expected a boolean');
      return batchBlockJson(op, n, q[1] === true);
    } },
    zk_info: { maxParams: 0, description: 'Rollup params and circuit hash.', handler: () => ({ ...p, unit: toQuantity(op.unit), circuitHash: op.opts.circuitHash, ...(op.opts.devKeys !== undefined ? { devKeys: op.opts.devKeys } : {}), operator: toHex(op.opts.key.address) }) },
    zk_sendTransaction: { minParams: 1, maxParams: 1, description: 'Submit a signed transfer or withdrawal; soft-confirmed at once.', handler: (q) => wrap(() => {
      const r = op.submit(parseL2Tx(q[0]));
      return { status: r.status, position: r.position, root: hex32(r.root) };
    }) },
    zk_getAccount: { minParams: 1, maxParams: 2, description: 'An account leaf with its Merkle proof; second param "soft" (default) or "proven".', handler: (q) => accountJson(stateOf(q[1]), index(q[0])) },
    zk_findAccount: { minParams: 2, maxParams: 2, description: 'Index of the account with BabyJubjub key (ax, ay), or null.', handler: (q) => op.soft.findKey(qty(q[0], 'ax', FIELD), qty(q[1], 'ay', FIELD)) ?? null },
    zk_getBatches: { maxParams: 0, handler: () => op.batches.map(batchJson) },
    zk_getBatch: { minParams: 1, maxParams: 1, handler: (q) => {
      const b = op.batches[Number(qty(q[0], 'index', 1n << 32n))];
      return b ? batchJson(b) : null;
    } },
    zk_getWithdrawals: { maxParams: 0, handler: () => op.batches.flatMap((b) => b.withdrawals.map((w) => ({ batch: b.index, status: b.status === 'verified' ? 'paid on L1' : b.status, from: w.from, amount: toQuantity(w.amount), to: toHex(fieldToBytes(w.addr).slice(12)) }))) },
    zk_status: { maxParams: 0, handler: () => ({
      softRoot: hex32(op.soft.root),
      provenRoot: hex32(op.provenState().root),
      batches: op.batches.length,
      verified: op.batches.filter((b) => b.status === 'verified').length,
      frozen: op.isFrozen,
      jobs: { pending: op.batches.filter((b) => b.status === 'pending').length, proving: op.batches.filter((b) => b.status === 'proving').length },
      persistent: !!op.opts.dataDir,
    }) },
    zk_proverGetJob: { minParams: 1, maxParams: 1, description: 'Lease the next proving job (null when none).', handler: (q) => op.takeJob(String(q[0]).slice(0, 64)) ?? null },
    zk_proverHeartbeat: { minParams: 2, maxParams: 2, handler: (q) => op.heartbeat(Number(qty(q[0], 'id', 1n << 32n)), String(q[1]).slice(0, 64)) },
    zk_proverSubmit: { minParams: 3, maxParams: 3, description: 'Submit a proof (snarkjs JSON) for a leased job.', handler: (q) => {
      const proof = q[2] as { pi_a: string[]; pi_b: string[][]; pi_c: string[] };
      if (!proof || !Array.isArray(proof.pi_a) || !Array.isArray(proof.pi_b) || !Array.isArray(proof.pi_c)) throw RpcError.invalidParams('proof: expected snarkjs proof JSON');
      op.submitProof(Number(qty(q[0], 'id', 1n << 32n)), String(q[1]).slice(0, 64), proof);
      return true;
    } },
  };
}

/** Serves the ZK node's RPC. */
export async function startZkRpc(op: ZkOperator, opts: RpcServerOptions, deps: { logger?: Logger } = {}): Promise<RpcServer> {
  const server = new RpcServer(opts, deps);
  server.registerAll(zkRpcMethods(op));
  await server.start();
  return server;
}
