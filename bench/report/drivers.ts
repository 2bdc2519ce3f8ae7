/**
 * Report drivers for the layers that are not rollups of the optimistic kind: the ZK-rollup, the
 * BFT sidechain and the payment-channel network. Each runs the same workload over the layer's
 * own RPC as a user would, and measures what the L1 carried for it from the L1's own blocks.
 */
import { blake2b256, encode, fromHex, fromQuantity, type KeyPair, keyPairFromSecret, toHex, utf8 } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { L1Client, SC_BRIDGE_MODULE, SC_REGISTRY_MODULE, ScDepositArgs, ScL1WithdrawArgs, ScWithdrawArgs } from '@strata/sidechain';
import { fieldToBytes, OP_TRANSFER, OP_WITHDRAW, opMessage, RpcZkL1Client, ZK_MODULE, zkCrypto, ZkDepositArgs, type ZkParams } from '@strata/zk';
import type { TxRecord } from './report.js';

type Work = { from: number; to: Uint8Array; amount: bigint }[];
type Progress = (phase: string, d: number) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hexq = (x: bigint | number) => `0x${BigInt(x).toString(16)}`;

/** Polls `fn` until it returns a value (not undefined/null/false). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`report: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The secret key of the workload's k-th recipient (recipients are fixed keys; see `workload`). */
export function recipientSecret(i: number): Uint8Array {
  return blake2b256(utf8(`strata-report-recipient-${Math.floor(i / 2)}`));
}

/** The L1 transactions of `module` (and one of `methods`) in L1 blocks (from, to]: hashes, fees and sizes from the L1's blocks and receipts. */
export async function l1TxsOf(l1: RpcClient, module: string, methods: string[], from: number, to: number): Promise<{ fee: bigint; bytes: number; count: number; hashes: string[] }> {
  let fee = 0n;
  let bytes = 0;
  let count = 0;
  const hashes: string[] = [];
  for (let n = from + 1; n <= to; n++) {
    const b = await l1.call<{ transactions: { hash: string; module: string; method: string; size: string; fee: string }[] } | null>('chain_getBlockByNumber', [hexq(n), true]);
    for (const t of b?.transactions ?? []) {
      if (typeof t !== 'object' || t.module !== module || !methods.includes(t.method)) continue;
      const r = await l1.call<{ fee?: string; status: string }>('tx_getReceipt', [t.hash]);
      fee += fromQuantity(r.fee ?? t.fee);
      bytes += Number(fromQuantity(t.size));
      count++;
      hashes.push(t.hash);
    }
  }
  return { fee, bytes, count, hashes };
}

const headOf = async (c: RpcClient, tag = 'latest') => Number(fromQuantity((await c.call<{ number: string }>('chain_getHead', [tag])).number));

/** What a driver measured. */
export interface DriverResult {
  records: TxRecord[];
  /** L1 bytes and fees carried for the workload (amortised over its transfers by the caller). */
  l1Bytes: number;
  l1Fees: bigint;
  /** L1 txs counted, for the report's notes. */
  l1Txs: number;
  exitMs: number;
  exitL1Blocks: number;
  note: string;
  /** The L1 blocks (from, to] whose txs were counted, when the count is over a window. */
  l1Range?: [number, number];
}

// ---------------------------------------------------------------------------------------- ZK

/**
 * The ZK-rollup: every sender and recipient gets an L2 account by an L1 deposit (the recipients
 * 1 unit each, from sender 0), then the transfers (amounts in whole L2 units, at least one) go to
 * the operator's RPC. Soft = the operator's accept; final = the sender's nonce in the
 * L1-verified state passes the transfer's. L1 cost = the `commitBatch` txs of the batches that
 * hold the transfers (their receipts); exit = a withdrawal, paid in the L1 block verifying it.
 */
export async function runZk(l1Url: string, zkUrl: string, keys: KeyPair[], work: Work, progress: Progress): Promise<DriverResult> {
  const l1 = new RpcClient(l1Url);
  const l1c = new RpcZkL1Client(l1Url);
  const zk = new RpcClient(zkUrl);
  const crypto = await zkCrypto();
  const info = await zk.call<ZkParams & { unit: string }>('zk_info');
  const unit = fromQuantity(info.unit);
  const senderKeys = keys.map((k) => crypto.deriveKey(k.secretKey));
  const recipients = new Map<string, ReturnType<typeof crypto.deriveKey>>();
  for (const [i, w] of work.entries()) recipients.set(toHex(w.to), crypto.deriveKey(keyPairFromSecret(recipientSecret(i)).secretKey));
  const find = async (k: { ax: bigint; ay: bigint }) => zk.call<number | null>('zk_findAccount', [hexq(k.ax), hexq(k.ay)]);
  const units = (a: bigint) => (a / unit > 0n ? a / unit : 1n);
  const need = new Map<number, bigint>();
  for (const w of work) need.set(w.from, (need.get(w.from) ?? 0n) + units(w.amount));
  need.set(0, (need.get(0) ?? 0n) + 10n); // the exit's withdrawal
  const deposit = async (payer: KeyPair, k: { ax: bigint; ay: bigint }, amount: bigint) => {
    const h = await l1c.send(payer, 'deposit', encode(ZkDepositArgs, { rollupId: info.rollupId, ax: fieldToBytes(k.ax), ay: fieldToBytes(k.ay), amount: amount * unit }), 60_000);
    const r = await until('zk deposit receipt', () => l1c.receipt(h), 30_000);
    if (r.status !== 'ok') throw new Error(`report: zk deposit failed: ${r.error}`);
  };
  for (const [i, amount] of need) await deposit(keys[i] as KeyPair, senderKeys[i] as { ax: bigint; ay: bigint }, amount);
  for (const k of recipients.values()) if ((await find(k)) === null) await deposit(keys[0] as KeyPair, k, 1n);
  progress('zk: deposits', 0.5);
  // Every account exists in the L1-verified state before the transfers start (so the batches
  // that follow carry the workload's transfers only).
  const index = new Map<string, number>();
  await until(
    'zk deposits verified on L1',
    async () => {
      for (const k of [...senderKeys.filter((_, i) => need.has(i)), ...recipients.values()]) {
        const id = await find(k);
        if (id === null) return false;
        const a = await zk.call<{ exists: boolean }>('zk_getAccount', [hexq(id), 'proven']);
        if (!a.exists) return false;
        index.set(`${k.ax}:${k.ay}`, id);
      }
      return true;
    },
    900_000,
    500,
  );
  progress('zk: transfers', 0);
  const idOf = (k: { ax: bigint; ay: bigint }) => index.get(`${k.ax}:${k.ay}`) as number;
  const firstBatch = (await zk.call<unknown[]>('zk_getBatches')).length;
  const l1Start = await headOf(l1);
  const nonces = new Map<number, bigint>();
  for (const i of need.keys()) nonces.set(i, fromQuantity((await zk.call<{ nonce: string }>('zk_getAccount', [hexq(idOf(senderKeys[i] as { ax: bigint; ay: bigint }))])).nonce));
  const sent: (TxRecord & { from: number; nonce: bigint })[] = [];
  for (const w of work) {
    const sk = senderKeys[w.from] as (typeof senderKeys)[number];
    const from = idOf(sk);
    const to = idOf(recipients.get(toHex(w.to)) as { ax: bigint; ay: bigint });
    const nonce = nonces.get(w.from) as bigint;
    nonces.set(w.from, nonce + 1n);
    const amount = units(w.amount);
    const sig = crypto.sign(sk, opMessage(info, { type: OP_TRANSFER, from, to, amount }, nonce));
    const at = Date.now();
    // The operator may refuse while too many operations wait for proofs: retry then.
    const res = await until(
      'zk operator accept',
      () =>
        zk.call<{ status: string; root: string }>('zk_sendTransaction', [{ type: 'transfer', from: hexq(from), to: hexq(to), amount: hexq(amount), nonce: hexq(nonce), signature: { r8x: hexq(sig.r8x), r8y: hexq(sig.r8y), s: hexq(sig.s) } }]).catch((e: Error) => {
          if (/MEMPOOL_FULL|wait for proofs/.test(e.message)) return undefined;
          throw e;
        }),
      600_000,
      500,
    );
    if (res.status !== 'soft-confirmed') throw new Error(`report: zk transfer not accepted: ${JSON.stringify(res)}`);
    sent.push({ layer: 'zk', hash: `zk:${from}:${nonce}`, block: -1, fee: '0', bytes: 0, submittedAt: at, softAt: Date.now(), finalAt: 0, from, nonce });
    progress('zk: transfers', (sent.length / work.length) * 0.3);
  }
  // Final: the sender's nonce in the L1-verified state is past the transfer's.
  await until(
    'zk transfers verified on L1',
    async () => {
      const open = sent.filter((s) => s.finalAt === 0);
      const seen = new Map<number, bigint>();
      for (const s of open) {
        if (!seen.has(s.from)) seen.set(s.from, fromQuantity((await zk.call<{ nonce: string }>('zk_getAccount', [hexq(s.from), 'proven'])).nonce));
        if ((seen.get(s.from) as bigint) > s.nonce) s.finalAt = Date.now();
      }
      progress('zk: transfers', 0.3 + 0.7 * (sent.filter((s) => s.finalAt > 0).length / sent.length));
      return sent.every((s) => s.finalAt > 0);
    },
    1_800_000,
    300,
  );
  // Which batch holds each transfer: the batches after `firstBatch`, in order, hold the ops in submission order.
  const batches = await zk.call<{ index: number; status: string; operations: number; bytes: number; l1Tx: string | null; l1Height: number | null }[]>('zk_getBatches');
  const mine = batches.filter((b) => b.index >= firstBatch && b.status === 'verified');
  let k = 0;
  for (const b of mine) for (let j = 0; j < b.operations && k < sent.length; j++) (sent[k++] as TxRecord).block = b.index;
  let l1Bytes = 0;
  let l1Fees = 0n;
  const commits = mine.filter((b) => b.l1Tx && sent.some((s) => s.block === b.index));
  for (const b of commits) {
    const [t, r] = await Promise.all([l1.call<{ size: string; fee: string; module: string; method: string }>('tx_get', [b.l1Tx]), l1.call<{ fee?: string; status: string }>('tx_getReceipt', [b.l1Tx])]);
    if (t.module !== ZK_MODULE || t.method !== 'commitBatch' || r.status !== '0x1') throw new Error(`report: zk batch ${b.index}'s L1 tx is not a committed commitBatch`);
    l1Bytes += Number(fromQuantity(t.size));
    l1Fees += fromQuantity(r.fee ?? t.fee);
  }
  void l1Start;
  // Exit: one withdrawal of 1 unit to sender 0's L1 address, paid in the verifying L1 block.
  progress('zk: exit', 0);
  const sk0 = senderKeys[0] as (typeof senderKeys)[number];
  const from0 = idOf(sk0);
  const wNonce = fromQuantity((await zk.call<{ nonce: string }>('zk_getAccount', [hexq(from0)])).nonce);
  const t0 = Date.now();
  const h0 = await headOf(l1);
  const before = (await zk.call<unknown[]>('zk_getWithdrawals')).length;
  const wsig = crypto.sign(sk0, opMessage(info, { type: OP_WITHDRAW, from: from0, to: 0, amount: 1n }, wNonce));
  await zk.call('zk_sendTransaction', [{ type: 'withdraw', from: hexq(from0), to: '0x0', amount: '0x1', nonce: hexq(wNonce), signature: { r8x: hexq(wsig.r8x), r8y: hexq(wsig.r8y), s: hexq(wsig.s) } }]);
  const paid = await until(
    'zk withdrawal paid on L1',
    async () => {
      const ws = await zk.call<{ batch: number; status: string; from: number }[]>('zk_getWithdrawals');
      const w = ws.slice(before).find((x) => x.from === from0);
      return w?.status === 'paid on L1' ? w : undefined;
    },
    900_000,
    300,
  );
  const exitMs = Date.now() - t0;
  const vb = (await zk.call<{ l1Height: number | null }>('zk_getBatch', [paid.batch])).l1Height ?? h0;
  progress('zk: exit', 1);
  return { records: sent.map(({ from: _f, nonce: _n, ...r }) => r), l1Bytes, l1Fees, l1Txs: commits.length, exitMs, exitL1Blocks: vb - h0, note: `${commits.length} commitBatch txs for ${sent.length} transfers (batch size ${info.batchSize}); amounts in whole L2 units of ${unit}` };
}

// --------------------------------------------------------------------------------- sidechain

/**
 * The BFT sidechain: deposits on the L1 (minted once final there), the workload as ordinary
 * transfers on the sidechain (soft = included, final = the sidechain's finalized head, i.e. the
 * BFT commit), L1 cost = the `sc_registry.checkpoint` txs from the first transfer until a
 * checkpoint covers the last, shared out; exit = burn on the sidechain → checkpoint → withdraw on the L1.
 */
export async function runSidechain(
  l1Url: string,
  scUrl: string,
  chainId: number,
  keys: KeyPair[],
  work: Work,
  progress: Progress,
  runChain: (c: RpcClient, layer: string, keys: KeyPair[], work: Work, progress: (d: number) => void) => Promise<TxRecord[]>,
): Promise<DriverResult> {
  const l1 = new RpcClient(l1Url);
  const l1c = new L1Client(l1Url);
  const sc = new L1Client(scUrl);
  const need = new Map<number, bigint>();
  for (const w of work) need.set(w.from, (need.get(w.from) ?? 0n) + w.amount + 10_000_000n);
  need.set(0, (need.get(0) ?? 0n) + 10_000_000n);
  const before = new Map<number, bigint>();
  for (const [i] of need) before.set(i, await sc.balance((keys[i] as KeyPair).address));
  for (const [i, amount] of need) await l1c.sendAndWait(keys[i] as KeyPair, SC_REGISTRY_MODULE, 'deposit', encode(ScDepositArgs, { chainId, to: (keys[i] as KeyPair).address, amount }), 10_000);
  await until(
    'sidechain deposits minted',
    async () => {
      for (const [i, amount] of need) if ((await sc.balance((keys[i] as KeyPair).address)) < (before.get(i) ?? 0n) + amount) return false;
      return true;
    },
    180_000,
    250,
  );
  const l1Start = await headOf(l1);
  const records = await runChain(new RpcClient(scUrl), 'sidechain', keys, work, (d) => progress('sidechain: transfers', d));
  const last = Math.max(...records.map((r) => r.block));
  const reg = async () => (await l1c.sidechain(chainId)) as { lastCheckpointHeight: number; checkpoints: number };
  await until('a checkpoint covering the transfers', async () => (await reg()).lastCheckpointHeight >= last, 300_000, 500);
  const l1End = await headOf(l1);
  const carried = await l1TxsOf(l1, SC_REGISTRY_MODULE, ['checkpoint'], l1Start, l1End);
  // Exit: burn on the sidechain, wait for a checkpoint covering it, withdraw on the L1 with a Merkle proof.
  progress('sidechain: exit', 0);
  const key = keys[0] as KeyPair;
  const t0 = Date.now();
  const h0 = await headOf(l1);
  const burn = await sc.sendAndWait(key, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: key.address, amount: 1_000_000n }), 10_000);
  const id = Number(burn.events?.find((e) => e.module === SC_BRIDGE_MODULE && e.type === 'withdrawal')?.data.id);
  const height = Number(fromQuantity(burn.blockNumber));
  const r = await until('a checkpoint covering the burn', async () => {
    const x = await reg();
    progress('sidechain: exit', 0.5);
    return x.lastCheckpointHeight >= height ? x : undefined;
  }, 300_000, 500);
  const index = r.checkpoints - 1;
  const cp = await l1c.checkpoint(chainId, index);
  if (!cp) throw new Error(`report: sidechain checkpoint ${index} missing`);
  const w = await new RpcClient(scUrl).call<{ id: number; l1Recipient: string; amount: string; proof: string[]; stateRoot: string }>('sidechain_withdrawal', [id, cp.height]);
  if (w.stateRoot !== cp.stateRoot) throw new Error('report: the sidechain state root differs from the checkpoint');
  const args = encode(ScL1WithdrawArgs, { chainId, checkpoint: index, withdrawal: { id, l1Recipient: fromHex(w.l1Recipient, 20), amount: BigInt(w.amount) }, proof: w.proof.map((p) => fromHex(p)) });
  const paid = await l1c.sendAndWait(key, SC_REGISTRY_MODULE, 'withdraw', args, 60_000);
  progress('sidechain: exit', 1);
  return { records, l1Bytes: carried.bytes, l1Fees: carried.fee, l1Txs: carried.count, exitMs: Date.now() - t0, exitL1Blocks: Number(fromQuantity(paid.blockNumber)) - h0, note: `${carried.count} checkpoint txs in L1 blocks ${l1Start + 1}–${l1End} (until one covered sidechain block ${last})`, l1Range: [l1Start, l1End] };
}

// ---------------------------------------------------------------------------------- channels

/**
 * The channel network: each transfer is an invoice of Carol's paid by Alice over Alice→Bob→Carol
 * (soft = final = the payment settled, preimage back at Alice). L1 cost = the channels module's
 * txs (the two opens and the two cooperative closes) shared out; exit = Alice's cooperative
 * close of Alice–Bob, submit → in an L1 block; Bob–Carol is closed after it (counted, not timed).
 */
export async function runChannels(l1Url: string, members: { name: string; rpc: string }[], work: Work, progress: Progress): Promise<DriverResult> {
  const l1 = new RpcClient(l1Url);
  const node = (n: string) => new RpcClient((members.find((m) => m.name === n) as { rpc: string }).rpc, { timeoutMs: 60_000 });
  const alice = node('alice');
  const bob = node('bob');
  const carol = node('carol');
  type Ch = { channelId: string; status: string; capacity: string; local: string; peerAlias: string | null };
  const open = async (c: RpcClient, peer: string) => (await c.call<Ch[]>('channel_list')).find((x) => x.status === 'open' && x.peerAlias === peer);
  const ab = await open(alice, 'bob');
  const bc = await open(bob, 'carol');
  if (!ab || !bc) throw new Error('report: the devnet channels alice–bob and bob–carol are not open');
  const total = work.reduce((s, w) => s + w.amount, 0n);
  if (total * 10n > BigInt(ab.local) * 9n) throw new Error(`report: the workload (${total}) does not fit in alice's side of alice–bob (${ab.local}); use fewer transfers`);
  const records: TxRecord[] = [];
  for (const w of work) {
    const inv = await carol.call<{ invoice: string; paymentHash: string }>('channel_invoice', [hexq(w.amount), 'report', 3600]);
    const at = Date.now();
    const p = await alice.call<{ preimage: string; amount: string; fee: string }>('channel_pay', [inv.invoice, {}]);
    const done = Date.now();
    records.push({ layer: 'channels', hash: inv.paymentHash, block: -1, fee: BigInt(p.fee).toString(), bytes: 0, submittedAt: at, softAt: done, finalAt: done });
    progress('channels: payments', records.length / work.length);
  }
  progress('channels: exit', 0);
  const h0 = await headOf(l1);
  const t0 = Date.now();
  const c1 = await alice.call<{ how: string; height: number }>('channel_close', [ab.channelId, false]);
  const exitMs = Date.now() - t0;
  if (c1.how !== 'cooperative') throw new Error(`report: alice–bob closed ${c1.how}`);
  const c2 = await bob.call<{ how: string; height: number }>('channel_close', [bc.channelId, false]);
  if (c2.how !== 'cooperative') throw new Error(`report: bob–carol closed ${c2.how}`);
  progress('channels: exit', 1);
  // The whole L1 history of the channels module: the devnet's two opens (and their funding) and these two closes.
  const carried = await l1TxsOf(l1, 'channels', ['open', 'coopClose'], 0, await headOf(l1));
  return { records, l1Bytes: carried.bytes, l1Fees: carried.fee, l1Txs: carried.count, exitMs, exitL1Blocks: c1.height - h0, note: `${carried.count} channels-module L1 txs (opens and cooperative closes of alice–bob and bob–carol)` };
}
