/**
 * The ZK-rollup's settlement module in its parent chain's runtime: `zk_rollup`, a registry of
 * rollups keyed by rollup id, each with its verification key, state root, escrow and priority
 * queue. `commitBatch` recomputes the data commitment from the posted bytes (and the queued
 * deposits it consumes), verifies the Groth16 proof synchronously (metered), advances the root
 * and pays the batch's withdrawals at once. If a queued deposit waits past its deadline, or no
 * batch lands for `maxBatchGap` blocks, the rollup freezes (exodus): each account exits once
 * with a Merkle proof of its leaf in the last proven root, and queued deposits are refunded.
 */
import { createHash } from 'node:crypto';
import { bool, bigintToFixed, bytesEqual, decode, encode, fixedBytes, list, StrataError, struct, toHex, uint, uintBig, utf8, varBytes, type Codec } from '@strata/primitives';
import { claimChildChainId, moduleAddress, transfer, type BlockContext, type Module, type TxContext } from '@strata/runtime';
import { stateKey, type StateView } from '@strata/state';
import { PreparedVk, PROOF_BYTES, VK_BYTES } from './groth16.js';
import { isSafeKey } from './keys.js';
import { dataCommitment, decodeBatchData, publicInputHash, type DepositFields } from './ops.js';
import { amountBits, checkZkParams, messageTag, OP_DEPOSIT, OP_WITHDRAW, type ZkParams } from './params.js';
import { fieldFromBytes, fieldToBytes, poseidon } from './poseidon.js';
import { emptyRoot, rootFromPath } from './tree.js';

/** Module name. */
export const ZK_MODULE = 'zk_rollup';

/** Compute units charged per Poseidon hash the module computes. */
export const POSEIDON_COMPUTE = 150;
/**
 * Default compute charged for one Groth16 verification: ~65 ms with @noble/curves here, against
 * ~1.5 ms for a pure-JS secp256k1 check that the schedule prices at 1,000 units (sigVerify).
 */
export const DEFAULT_PROOF_COMPUTE = 45_000;

const u64 = (n: number) => bigintToFixed(BigInt(n), 8);
const key = (id: number, tag: string, n?: number) => (n === undefined ? stateKey(ZK_MODULE, u64(id), utf8(tag)) : stateKey(ZK_MODULE, u64(id), utf8(tag), u64(n)));
const COUNT_KEY = stateKey(ZK_MODULE, utf8('count'));
const idKey = (n: number) => stateKey(ZK_MODULE, utf8('id'), u64(n));
/** Rollups whose deadline check falls at L1 height h (the end-of-block hook reads only this). */
const dueKey = (h: number) => stateKey(ZK_MODULE, utf8('due'), u64(h));
const acctKey = (id: number, ax: Uint8Array, ay: Uint8Array) => stateKey(ZK_MODULE, u64(id), utf8('acct'), ax, ay);

/** Escrow account of a ZK-rollup. */
export function zkEscrowAddress(rollupId: number): Uint8Array {
  return moduleAddress(`${ZK_MODULE}/${rollupId}`);
}

/** A registered rollup on L1. */
export interface ZkRollupRecord {
  operator: Uint8Array;
  depth: number;
  batchSize: number;
  /** Base units per L2 unit. */
  unit: bigint;
  /** L1 blocks a queued deposit may wait for inclusion. */
  priorityDeadline: number;
  /** L1 blocks without a verified batch before the rollup freezes (0: never). */
  maxBatchGap: number;
  root: Uint8Array;
  batchCount: number;
  queueHead: number;
  queueTail: number;
  lastBatchHeight: number;
  frozen: boolean;
  frozenAt: number;
  vkHash: Uint8Array;
  /** L2 accounts created so far (the L1 assigns each new key the next index; refused when the tree is full). */
  accounts: number;
  /** L2 units in the rollup (deposited, not yet withdrawn, exited or refunded): every balance stays below it, so below 2^64. */
  supply: bigint;
  /** The L1 height at which the end-of-block hook next checks this rollup's deadlines (0: none). */
  dueAt: number;
}
/** Codec of a rollup record (state and RPC wire form). */
export const ZkRollupCodec: Codec<ZkRollupRecord> = struct('ZkRollup', {
  operator: fixedBytes(20),
  depth: uint,
  batchSize: uint,
  unit: uintBig(128),
  priorityDeadline: uint,
  maxBatchGap: uint,
  root: fixedBytes(32),
  batchCount: uint,
  queueHead: uint,
  queueTail: uint,
  lastBatchHeight: uint,
  frozen: bool,
  frozenAt: uint,
  vkHash: fixedBytes(32),
  accounts: uint,
  supply: uintBig(64),
  dueAt: uint,
});

/** A queued deposit. */
export interface ZkDeposit {
  ax: Uint8Array;
  ay: Uint8Array;
  addr: Uint8Array;
  /** L2 units. */
  amount: bigint;
  height: number;
  refunded: boolean;
  /** The L2 account the deposit credits: the key's account, or the next free index for a new key (assigned by the L1). */
  index: number;
}
/** Codec of a queued deposit. */
export const ZkDepositCodec: Codec<ZkDeposit> = struct('ZkDeposit', { ax: fixedBytes(32), ay: fixedBytes(32), addr: fixedBytes(20), amount: uintBig(64), height: uint, refunded: bool, index: uint });

/** A verified batch. */
export interface ZkBatchRecord {
  root: Uint8Array;
  dataHash: Uint8Array;
  height: number;
  ops: number;
  withdrawals: number;
}
/** Codec of a verified batch record. */
export const ZkBatchCodec: Codec<ZkBatchRecord> = struct('ZkBatch', { root: fixedBytes(32), dataHash: fixedBytes(32), height: uint, ops: uint, withdrawals: uint });

/** `zk_rollup.register` */
export const RegisterArgs = struct('ZkRegisterArgs', {
  rollupId: uint,
  depth: uint,
  batchSize: uint,
  unit: uintBig(128),
  priorityDeadline: uint,
  maxBatchGap: uint,
  vk: fixedBytes(VK_BYTES),
});
/** `zk_rollup.deposit` */
export const ZkDepositArgs = struct('ZkDepositArgs', { rollupId: uint, ax: fixedBytes(32), ay: fixedBytes(32), amount: uintBig(128) });
/** `zk_rollup.commitBatch` */
export const CommitBatchArgs = struct('ZkCommitBatchArgs', { rollupId: uint, newRoot: fixedBytes(32), data: varBytes(64 * 1024), proof: fixedBytes(PROOF_BYTES) });
/** `zk_rollup.exit` */
export const ExitArgs = struct('ZkExitArgs', {
  rollupId: uint,
  index: uint,
  ax: fixedBytes(32),
  ay: fixedBytes(32),
  balance: uintBig(64),
  nonce: uintBig(64),
  addr: fixedBytes(20),
  siblings: list(fixedBytes(32), 32),
});
/** `zk_rollup.refundDeposit` */
export const RefundArgs = struct('ZkRefundArgs', { rollupId: uint, depositId: uint });

type Reader = Pick<StateView, 'get'>;

/** Reads a rollup record. */
export function readZkRollup(r: Reader, id: number): ZkRollupRecord | undefined {
  const raw = r.get(key(id, 'meta'));
  return raw ? decode(ZkRollupCodec, raw) : undefined;
}
/** Reads a queued deposit. */
export function readZkDeposit(r: Reader, id: number, i: number): ZkDeposit | undefined {
  const raw = r.get(key(id, 'dep', i));
  return raw ? decode(ZkDepositCodec, raw) : undefined;
}
/** Reads a verified batch. */
export function readZkBatch(r: Reader, id: number, b: number): ZkBatchRecord | undefined {
  const raw = r.get(key(id, 'batch', b));
  return raw ? decode(ZkBatchCodec, raw) : undefined;
}
/** Whether an account already exited. */
export function hasExited(r: Reader, id: number, index: number): boolean {
  return !!r.get(key(id, 'exit', index));
}
/** Reads the registered verification key. */
export function readZkVk(r: Reader, id: number): Uint8Array | undefined {
  return r.get(key(id, 'vk'));
}
/** Registered rollup ids (in registration order; no cap: the end-of-block hook never walks them). */
export function readZkRollupIds(r: Reader, max = 10_000): number[] {
  const raw = r.get(COUNT_KEY);
  const n = raw ? decode(uint, raw) : 0;
  const out: number[] = [];
  for (let i = 0; i < Math.min(n, max); i++) out.push(decode(uint, r.get(idKey(i)) as Uint8Array));
  return out;
}

/**
 * The L1 height at which a rollup's deadlines must next be checked: one past the head deposit's
 * deadline or past `maxBatchGap` blocks without a batch, whichever comes first (0: none).
 */
export function nextDeadlineCheck(r: Reader, id: number, rec: ZkRollupRecord): number {
  if (rec.frozen) return 0;
  let h = 0;
  if (rec.queueHead < rec.queueTail) {
    const d = readZkDeposit(r, id, rec.queueHead) as ZkDeposit;
    h = d.height + rec.priorityDeadline + 1;
  }
  if (rec.maxBatchGap > 0) {
    const g = rec.lastBatchHeight + rec.maxBatchGap + 1;
    h = h === 0 ? g : Math.min(h, g);
  }
  return h;
}

/** The rollup's ZkParams as registered. */
export function paramsOf(rec: Pick<ZkRollupRecord, 'depth' | 'batchSize'>, l1ChainId: number, rollupId: number): ZkParams {
  return { l1ChainId, rollupId, depth: rec.depth, batchSize: rec.batchSize };
}

/** Module options. */
export interface ZkModuleOptions {
  /** Compute charged per proof verification (default DEFAULT_PROOF_COMPUTE). */
  proofCompute?: number;
}

const fail = (code: 'L2_INVALID_BATCH' | 'L2_BRIDGE' | 'L2_WITHDRAWAL' | 'PROOF_INVALID' | 'UNAUTHORIZED' | 'NOT_FOUND', msg: string, reason: string): never => {
  throw new StrataError(code, msg, { reason });
};

/**
 * The settlement module for ZK-rollups, to add to the parent chain's runtime:
 * `runtime: [bankModule, ...zkParentModules()]`. One module serves any number of rollups.
 */
export function zkParentModules(opts: ZkModuleOptions = {}): Module[] {
  const proofCompute = opts.proofCompute ?? DEFAULT_PROOF_COMPUTE;
  // Prepared keys and verification results are pure functions of their inputs: caching them
  // only saves repeated work (a block is executed when built and again when imported).
  const prepared = new Map<string, PreparedVk>();
  const verified = new Map<string, boolean>();
  // The key is always read through the (metered) view, so cache hits and misses cost the same.
  const preparedVk = (view: Reader, id: number): PreparedVk => {
    const bytes = readZkVk(view, id) as Uint8Array;
    const h = createHash('sha256').update(bytes).digest('hex');
    let p = prepared.get(h);
    if (!p) {
      p = new PreparedVk(bytes);
      if (prepared.size > 64) prepared.clear();
      prepared.set(h, p);
    }
    return p;
  };
  const checkProof = (pvk: PreparedVk, vkHash: Uint8Array, proof: Uint8Array, input: bigint) => {
    const k = createHash('sha256').update(vkHash).update(proof).update(fieldToBytes(input)).digest('hex');
    const hit = verified.get(k);
    if (hit === true) return;
    if (hit === false) fail('PROOF_INVALID', 'the proof does not verify against the rollup\'s verification key', 'pairing');
    try {
      pvk.verify(proof, input);
      verified.set(k, true);
    } catch (e) {
      if (e instanceof StrataError && e.meta.reason === 'pairing') verified.set(k, false);
      throw e;
    } finally {
      if (verified.size > 4096) verified.clear();
    }
  };
  const load = (ctx: TxContext, id: number): ZkRollupRecord => {
    const rec = readZkRollup(ctx.view, id);
    if (!rec) fail('NOT_FOUND', `no ZK-rollup ${id} is registered`, 'unknown-rollup');
    return rec as ZkRollupRecord;
  };
  const write = (view: StateView, id: number, rec: ZkRollupRecord) => view.put(key(id, 'meta'), encode(ZkRollupCodec, rec));
  // Every write re-schedules the rollup's next deadline check in the due index, so the
  // end-of-block hook reads only the rollups due at that height (each entry paid for by the
  // transaction that created it), never the whole registry.
  const save = (view: StateView, id: number, rec: ZkRollupRecord) => {
    const due = nextDeadlineCheck(view, id, rec);
    if (due !== 0 && due !== rec.dueAt) {
      const raw = view.get(dueKey(due));
      const ids = raw ? decode(list(uint, 1 << 20), raw) : [];
      if (!ids.includes(id)) view.put(dueKey(due), encode(list(uint, 1 << 20), [...ids, id]));
    }
    write(view, id, { ...rec, dueAt: due });
  };

  const mod: Module = {
    name: ZK_MODULE,
    methods: {
      register(ctx, args) {
        const a = decode(RegisterArgs, args);
        if (a.rollupId === ctx.config.chainId) fail('L2_BRIDGE', 'a rollup id must differ from its parent chain id', 'rollup-id');
        if (readZkRollup(ctx.view, a.rollupId)) fail('L2_BRIDGE', `ZK-rollup ${a.rollupId} is already registered`, 'rollup-id');
        claimChildChainId(ctx, a.rollupId, `zk/${a.rollupId}`, 'L2_BRIDGE'); // unique among every kind of child (rule 10)
        const p = checkZkParams({ l1ChainId: ctx.config.chainId, rollupId: a.rollupId, depth: a.depth, batchSize: a.batchSize });
        if (a.unit < 1n) fail('L2_BRIDGE', 'unit must be at least 1', 'unit');
        if (a.priorityDeadline < 1) fail('L2_BRIDGE', 'priorityDeadline must be at least 1 L1 block', 'deadline');
        ctx.charge(proofCompute + (a.depth + 1) * POSEIDON_COMPUTE);
        new PreparedVk(a.vk); // validates every point
        const rec: ZkRollupRecord = {
          operator: ctx.sender,
          depth: p.depth,
          batchSize: p.batchSize,
          unit: a.unit,
          priorityDeadline: a.priorityDeadline,
          maxBatchGap: a.maxBatchGap,
          root: fieldToBytes(emptyRoot(p.depth)),
          batchCount: 0,
          queueHead: 0,
          queueTail: 0,
          lastBatchHeight: ctx.block.height,
          frozen: false,
          frozenAt: 0,
          vkHash: new Uint8Array(createHash('sha256').update(a.vk).digest()),
          accounts: 0,
          supply: 0n,
          dueAt: 0,
        };
        save(ctx.view, a.rollupId, rec);
        ctx.view.put(key(a.rollupId, 'vk'), a.vk);
        const rawCount = ctx.view.get(COUNT_KEY);
        const count = rawCount ? decode(uint, rawCount) : 0;
        ctx.view.put(idKey(count), encode(uint, a.rollupId));
        ctx.view.put(COUNT_KEY, encode(uint, count + 1));
        ctx.emit('registered', { rollupId: a.rollupId, operator: toHex(ctx.sender), depth: p.depth, batchSize: p.batchSize });
      },
      deposit(ctx, args) {
        const a = decode(ZkDepositArgs, args);
        const rec = load(ctx, a.rollupId);
        if (rec.frozen) fail('L2_BRIDGE', `ZK-rollup ${a.rollupId} is in exodus mode: it takes no deposits`, 'frozen');
        if (a.amount <= 0n || a.amount % rec.unit !== 0n) fail('L2_BRIDGE', `deposit must be a positive multiple of the rollup's unit (${rec.unit})`, 'amount');
        const l2 = a.amount / rec.unit;
        if (l2 >= 1n << BigInt(amountBits(rec))) fail('L2_BRIDGE', `deposit exceeds ${amountBits(rec)} bits of L2 units`, 'amount');
        const ax = fieldFromBytes(a.ax);
        const ay = fieldFromBytes(a.ay);
        if (!isSafeKey(ax, ay)) fail('L2_BRIDGE', 'the L2 key is not a valid BabyJubjub public key', 'key');
        // Refuse here what the circuit could never include (a deposit stuck at the queue head
        // would freeze the rollup): a new key when the tree is full, or a supply reaching 2^64
        // (every balance is at most the supply, so no balance can overflow).
        if (rec.supply + l2 >= 1n << 64n) fail('L2_BRIDGE', 'the rollup holds the most L2 units its balances can carry (2^64)', 'supply');
        const known = ctx.view.get(acctKey(a.rollupId, a.ax, a.ay));
        let index: number;
        let accounts = rec.accounts;
        if (known) index = decode(uint, known);
        else {
          if (accounts >= 2 ** rec.depth) fail('L2_BRIDGE', `the account tree of rollup ${a.rollupId} is full (${accounts} accounts): only existing keys can deposit`, 'tree-full');
          index = accounts++;
          ctx.view.put(acctKey(a.rollupId, a.ax, a.ay), encode(uint, index));
        }
        transfer(ctx.view, ctx.sender, zkEscrowAddress(a.rollupId), a.amount);
        const i = rec.queueTail;
        ctx.view.put(key(a.rollupId, 'dep', i), encode(ZkDepositCodec, { ax: a.ax, ay: a.ay, addr: ctx.sender, amount: l2, height: ctx.block.height, refunded: false, index }));
        save(ctx.view, a.rollupId, { ...rec, queueTail: i + 1, accounts, supply: rec.supply + l2 });
        ctx.emit('deposit', { rollupId: a.rollupId, id: i, from: toHex(ctx.sender), amount: a.amount.toString(), deadline: ctx.block.height + rec.priorityDeadline });
      },
      commitBatch(ctx, args) {
        const a = decode(CommitBatchArgs, args);
        const rec = load(ctx, a.rollupId);
        if (!bytesEqual(ctx.sender, rec.operator)) fail('UNAUTHORIZED', `only the operator ${toHex(rec.operator)} commits batches`, 'operator');
        if (rec.frozen) fail('L2_INVALID_BATCH', `ZK-rollup ${a.rollupId} is in exodus mode`, 'frozen');
        const p = paramsOf(rec, ctx.config.chainId, a.rollupId);
        ctx.charge(Math.ceil(a.data.length / 32) * ctx.config.compute.perWord + (p.batchSize + 1) * POSEIDON_COMPUTE);
        const newRoot = fieldFromBytes(a.newRoot);
        const ops = decodeBatchData(p, a.data);
        // Deposits consume the priority queue in order, with the queued amounts.
        const deps: DepositFields[] = [];
        let q = rec.queueHead;
        for (const op of ops) {
          if (op.type !== OP_DEPOSIT) continue;
          if (q >= rec.queueTail) fail('L2_INVALID_BATCH', 'the batch includes more deposits than are queued', 'deposit');
          const d = readZkDeposit(ctx.view, a.rollupId, q) as ZkDeposit;
          if (d.amount !== op.amount) fail('L2_INVALID_BATCH', `deposit ${q} queued ${d.amount}, the batch credits ${op.amount}`, 'deposit');
          if (d.index !== op.from) fail('L2_INVALID_BATCH', `deposit ${q} credits account ${d.index}, the batch credits ${op.from}`, 'deposit');
          deps.push({ ax: fieldFromBytes(d.ax), ay: fieldFromBytes(d.ay), addr: BigInt(toHex(d.addr)) });
          q++;
        }
        const commitment = dataCommitment(p, ops, deps);
        const input = publicInputHash(fieldFromBytes(rec.root), newRoot, commitment, messageTag(p));
        ctx.charge(proofCompute);
        checkProof(preparedVk(ctx.view, a.rollupId), rec.vkHash, a.proof, input);
        // Valid: advance, and pay the withdrawals now (the proof makes them final).
        const escrow = zkEscrowAddress(a.rollupId);
        let wd = 0;
        let out = 0n;
        for (const op of ops) {
          if (op.type !== OP_WITHDRAW) continue;
          const to = bigintToFixed(op.addr, 20);
          const amount = op.amount * rec.unit;
          transfer(ctx.view, escrow, to, amount);
          out += op.amount;
          ctx.emit('withdrawal', { rollupId: a.rollupId, batch: rec.batchCount, from: op.from, to: toHex(to), amount: amount.toString() });
          wd++;
        }
        ctx.view.put(key(a.rollupId, 'batch', rec.batchCount), encode(ZkBatchCodec, { root: a.newRoot, dataHash: new Uint8Array(createHash('sha256').update(a.data).digest()), height: ctx.block.height, ops: ops.length, withdrawals: wd }));
        save(ctx.view, a.rollupId, { ...rec, root: a.newRoot, batchCount: rec.batchCount + 1, queueHead: q, lastBatchHeight: ctx.block.height, supply: rec.supply - out });
        ctx.emit('batchVerified', { rollupId: a.rollupId, index: rec.batchCount, root: toHex(a.newRoot), ops: ops.length, deposits: deps.length, withdrawals: wd, bytes: a.data.length });
      },
      exit(ctx, args) {
        const a = decode(ExitArgs, args);
        const rec = load(ctx, a.rollupId);
        if (!rec.frozen) fail('L2_WITHDRAWAL', `ZK-rollup ${a.rollupId} is not in exodus mode; withdraw through the operator`, 'not-frozen');
        if (hasExited(ctx.view, a.rollupId, a.index)) fail('L2_WITHDRAWAL', `account ${a.index} has already exited`, 'exited');
        ctx.charge((rec.depth + 1) * POSEIDON_COMPUTE);
        const leaf = poseidon([fieldFromBytes(a.ax), fieldFromBytes(a.ay), a.balance, a.nonce, BigInt(toHex(a.addr))]);
        const root = rootFromPath(leaf, a.index, a.siblings.map(fieldFromBytes), rec.depth);
        if (root !== fieldFromBytes(rec.root)) fail('L2_WITHDRAWAL', `the leaf and proof do not match the last proven root of rollup ${a.rollupId}`, 'proof');
        ctx.view.put(key(a.rollupId, 'exit', a.index), new Uint8Array([1]));
        const amount = a.balance * rec.unit;
        if (amount > 0n) transfer(ctx.view, zkEscrowAddress(a.rollupId), a.addr, amount);
        write(ctx.view, a.rollupId, { ...rec, supply: rec.supply - a.balance });
        ctx.emit('exit', { rollupId: a.rollupId, index: a.index, to: toHex(a.addr), amount: amount.toString() });
      },
      refundDeposit(ctx, args) {
        const a = decode(RefundArgs, args);
        const rec = load(ctx, a.rollupId);
        if (!rec.frozen) fail('L2_WITHDRAWAL', `ZK-rollup ${a.rollupId} is not in exodus mode`, 'not-frozen');
        const d = readZkDeposit(ctx.view, a.rollupId, a.depositId);
        if (!d || a.depositId < rec.queueHead) fail('L2_WITHDRAWAL', `deposit ${a.depositId} is not pending`, 'not-pending');
        const dep = d as ZkDeposit;
        if (dep.refunded) fail('L2_WITHDRAWAL', `deposit ${a.depositId} was already refunded`, 'exited');
        ctx.view.put(key(a.rollupId, 'dep', a.depositId), encode(ZkDepositCodec, { ...dep, refunded: true }));
        transfer(ctx.view, zkEscrowAddress(a.rollupId), dep.addr, dep.amount * rec.unit);
        write(ctx.view, a.rollupId, { ...rec, supply: rec.supply - dep.amount });
        ctx.emit('depositRefunded', { rollupId: a.rollupId, id: a.depositId, to: toHex(dep.addr), amount: (dep.amount * rec.unit).toString() });
      },
    },
    endBlock(ctx: BlockContext) {
      const h = ctx.block.height;
      const raw = ctx.view.get(dueKey(h));
      if (!raw) return;
      ctx.view.del(dueKey(h));
      for (const id of decode(list(uint, 1 << 20), raw)) {
        const rec = readZkRollup(ctx.view, id) as ZkRollupRecord;
        if (rec.frozen || rec.dueAt !== h) continue; // stale entry: re-scheduled since
        let reason = '';
        if (rec.queueHead < rec.queueTail) {
          const d = readZkDeposit(ctx.view, id, rec.queueHead) as ZkDeposit;
          if (h > d.height + rec.priorityDeadline) reason = `deposit ${rec.queueHead} waited past its deadline (L1 block ${d.height + rec.priorityDeadline})`;
        }
        if (!reason && rec.maxBatchGap > 0 && h > rec.lastBatchHeight + rec.maxBatchGap) reason = `no batch verified for ${rec.maxBatchGap} L1 blocks`;
        if (reason) {
          write(ctx.view, id, { ...rec, frozen: true, frozenAt: h, dueAt: 0 });
          ctx.emit(ZK_MODULE, 'exodus', { rollupId: id, height: h, reason, root: toHex(rec.root) });
        } else save(ctx.view, id, { ...rec, dueAt: 0 });
      }
    },
  };
  return [mod];
}
