/**
 * `strata zk setup | prover | deposit | transfer | withdraw | status | exit`: the ZK-rollup's
 * keys, a network prover, and a user's actions (acting for a dev account or a 0x secret key;
 * its BabyJubjub key is derived from the L1 key).
 */
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { devAccounts, devnetZkParams } from '@strata/devnet';
import { DEV_MNEMONIC, encode, fromHex, fromQuantity, keyPairFromSecret, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import {
  ExitArgs,
  exitArgsFor,
  fieldToBytes,
  opMessage,
  OP_TRANSFER,
  OP_WITHDRAW,
  ProverService,
  rebuildFromL1,
  RefundArgs,
  RpcZkL1Client,
  setupCircuit,
  zkCrypto,
  ZkDepositArgs,
  type ZkParams,
} from '@strata/zk';
import { resolveLayer } from '../layers.js';
import { createLogger } from '../logger.js';
import { fail, print } from '../output.js';

interface ZkFlags {
  from: string;
  l1Rpc?: string;
  zkRpc?: string;
  layer?: string;
  json?: boolean;
  amount?: string;
  to?: string;
  deposit?: string;
}

function signer(from: string): KeyPair {
  if (/^\d+$/.test(from)) {
    const a = devAccounts('st', Number(from) + 1, DEV_MNEMONIC)[Number(from)];
    if (!a) throw new StrataError('INVALID_KEY', `no dev account ${from}`);
    return a.keys;
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(from)) return keyPairFromSecret(fromHex(from, 32));
  throw new StrataError('INVALID_KEY', '--from must be a dev account index or a 0x secret key');
}

const hexq = (x: bigint) => `0x${x.toString(16)}`;

function userOptions(cmd: Command): Command {
  return cmd
    .option('--from <account>', 'dev account index or 0x secret key (its L2 key is derived from it)', '0')
    .option('--layer <name>', 'the ZK layer of the running devnet (default: its zk layer); its parent is the L1 used')
    .option('--l1-rpc <url>', 'L1 JSON-RPC endpoint (overrides --layer; default $STRATA_RPC or the layer\'s parent)')
    .option('--zk-rpc <url>', 'ZK-rollup JSON-RPC endpoint (overrides --layer; default $STRATA_ZK_RPC or the layer\'s)')
    .option('--json', 'print machine-readable JSON');
}

/** The ZK node's and its L1's RPC: the flags, else `--layer` (or the env), else the devnet's zk layer. */
export function zkEndpoints(f: Pick<ZkFlags, 'l1Rpc' | 'zkRpc' | 'layer'>): { zkRpc: string; l1Rpc: string } {
  const env = (k: string) => (f.layer === undefined ? process.env[k] : undefined);
  let found: ReturnType<typeof resolveLayer> | undefined;
  const layer = () => (found ??= resolveLayer(f.layer, ['zk'], 'zk'));
  const zkRpc = f.zkRpc ?? env('STRATA_ZK_RPC') ?? layer().layer.rpc;
  const l1Rpc = f.l1Rpc ?? env('STRATA_RPC') ?? layer().parent?.rpc ?? 'http://127.0.0.1:8545';
  return { zkRpc, l1Rpc };
}

interface Info extends ZkParams {
  unit: string;
  circuitHash: string;
}

async function context(f: ZkFlags) {
  const key = signer(f.from);
  // Build the (slow) EdDSA code before the first request, so no keep-alive socket idles meanwhile.
  const l2 = (await zkCrypto()).deriveKey(key.secretKey);
  const ends = zkEndpoints(f);
  const zk = new RpcClient(ends.zkRpc);
  const info = await zk.call<Info>('zk_info');
  const index = await zk.call<number | null>('zk_findAccount', [hexq(l2.ax), hexq(l2.ay)]);
  return { key, zk, info, l2, index, unit: fromQuantity(info.unit), l1: new RpcZkL1Client(ends.l1Rpc) };
}

function amountOf(f: ZkFlags): bigint {
  if (!f.amount || !/^\d+$/.test(f.amount)) throw new StrataError('CONFIG_INVALID', '--amount must be a positive integer (L2 units)');
  return BigInt(f.amount);
}

async function waitReceipt(l1: RpcZkL1Client, hash: Uint8Array) {
  for (let i = 0; i < 150; i++) {
    const r = await l1.receipt(hash);
    if (r) {
      if (r.status !== 'ok') throw new StrataError('TX_EXECUTION_FAILED', `L1 transaction failed: ${r.error ?? 'unknown'}`);
      return r;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new StrataError('NETWORK', 'the L1 did not include the transaction in 30 s');
}

async function signAndSend(f: ZkFlags, kind: 'transfer' | 'withdraw') {
  const c = await context(f);
  if (c.index === null) throw new StrataError('NOT_FOUND', 'this key has no L2 account yet: `strata zk deposit` first');
  const amount = amountOf(f);
  let to = 0;
  if (kind === 'transfer') {
    if (!f.to) throw new StrataError('CONFIG_INVALID', '--to <L2 account index | dev:N> is required');
    if (f.to.startsWith('dev:')) {
      const other = (await zkCrypto()).deriveKey(signer(f.to.slice(4)).secretKey);
      const idx = await c.zk.call<number | null>('zk_findAccount', [hexq(other.ax), hexq(other.ay)]);
      if (idx === null) throw new StrataError('NOT_FOUND', `dev account ${f.to.slice(4)} has no L2 account yet`);
      to = idx;
    } else to = Number(f.to);
  }
  const acct = await c.zk.call<{ nonce: string }>('zk_getAccount', [hexq(BigInt(c.index))]);
  const nonce = fromQuantity(acct.nonce);
  const type = kind === 'transfer' ? OP_TRANSFER : OP_WITHDRAW;
  const sig = (await zkCrypto()).sign(c.l2, opMessage(c.info, { type, from: c.index, to, amount }, nonce));
  const res = await c.zk.call<{ status: string; root: string }>('zk_sendTransaction', [{ type: kind, from: hexq(BigInt(c.index)), to: hexq(BigInt(to)), amount: hexq(amount), nonce: hexq(nonce), signature: { r8x: hexq(sig.r8x), r8y: hexq(sig.r8y), s: hexq(sig.s) } }]);
  print(!!f.json, { ...res, from: c.index, to, amount: amount.toString(), nonce: nonce.toString() }, () => `${kind} of ${amount} from L2 account ${c.index}${kind === 'transfer' ? ` to ${to}` : ' to L1'}: ${res.status} (root ${res.root})${kind === 'withdraw' ? '\n  paid on L1 in the block that verifies its batch: `strata zk status`' : ''}`);
}

/** Registers the `zk` command group. */
export function registerZkCommands(program: Command): void {
  const zk = program.command('zk').description('ZK-rollup: keys, provers and user actions');
  zk.command('setup')
    .description('Compile the batch circuit and make its Groth16 keys (DEV-ONLY insecure keys unless --ptau); cached by circuit hash')
    .option('--depth <n>', 'account tree depth (default: the devnet\'s)')
    .option('--batch <n>', 'operations per proof (default: the devnet\'s)')
    .option('--chain-id <n>', 'L1 chain id (default 1337, the devnet\'s)', '1337')
    .option('--rollup-id <n>', 'rollup id (default: the devnet\'s)')
    .option('--ptau <file>', 'a prepared powers-of-tau file from a real ceremony (then contribute with `snarkjs zkey contribute`)')
    .option('--json', 'print machine-readable JSON')
    .action(async (f: { depth?: string; batch?: string; chainId: string; rollupId?: string; ptau?: string; json?: boolean }) => {
      try {
        const d = devnetZkParams(Number(f.chainId));
        const p: ZkParams = { l1ChainId: Number(f.chainId), rollupId: f.rollupId ? Number(f.rollupId) : d.rollupId, depth: f.depth ? Number(f.depth) : d.depth, batchSize: f.batch ? Number(f.batch) : d.batchSize };
        const bar = !f.json && process.stderr.isTTY ? new SingleBar({ format: '  zk setup  [{bar}] {percentage}%  {stage}', stream: process.stderr }, Presets.shades_classic) : undefined;
        const t = Date.now();
        bar?.start(100, 0, { stage: 'starting' });
        const a = await setupCircuit(p, {
          ...(f.ptau ? { ptau: f.ptau } : {}),
          onProgress: (stage, frac) => {
            if (bar) bar.update(Math.round(frac * 100), { stage });
            else if (!f.json && stage !== 'dev keys (INSECURE known secret)') process.stderr.write(`zk setup: ${stage} ${Math.round(frac * 100)}%\n`);
          },
        });
        bar?.stop();
        const out = { params: p, circuit: a.hash, constraints: a.constraints, cached: a.cached, devKeys: a.dev, dir: a.dir, zkey: a.zkey, seconds: (Date.now() - t) / 1000 };
        print(!!f.json, out, () => `circuit ${a.hash}: ${a.constraints} constraints, keys in ${a.dir}${a.cached ? ' (cached)' : ''} in ${out.seconds.toFixed(1)} s${a.dev ? '\n  DEV-ONLY keys from a known toxic secret: anyone can forge proofs. For real value use --ptau and snarkjs zkey contribute.' : ''}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });
  zk.command('prover')
    .description('Run a prover that pulls proving jobs from an operator over the network (add machines to prove faster)')
    .requiredOption('--operator <url>', 'the operator\'s ZK JSON-RPC URL')
    .option('--id <name>', 'name reported to the operator')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (f: { operator: string; id?: string; logLevel: string }) => {
      try {
        const logger = createLogger({ level: f.logLevel });
        const svc = new ProverService({ operatorUrl: f.operator, ...(f.id ? { id: f.id } : {}) }, { logger });
        await svc.start();
        logger.info({ operator: f.operator, prover: svc.id }, 'prover running (Ctrl-C stops)');
        const stop = async () => {
          await svc.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop());
        process.on('SIGTERM', () => void stop());
      } catch (e) {
        fail(false, e);
      }
    });
  userOptions(zk.command('deposit').description('Deposit L1 coins into your L2 account (created on first deposit); the operator must include it within the deadline'))
    .requiredOption('--amount <n>', 'L2 units (each is `unit` base units, see zk_info)')
    .action(async (f: ZkFlags) => {
      try {
        const c = await context(f);
        const amount = amountOf(f);
        const args = encode(ZkDepositArgs, { rollupId: c.info.rollupId, ax: fieldToBytes(c.l2.ax), ay: fieldToBytes(c.l2.ay), amount: amount * c.unit });
        const h = await c.l1.send(c.key, 'deposit', args, 60_000);
        const r = await waitReceipt(c.l1, h);
        print(!!f.json, { tx: toHex(h), l1Height: r.height, amount: amount.toString(), baseUnits: (amount * c.unit).toString() }, () => `deposited ${amount} L2 units (${amount * c.unit} base units) in L1 block #${r.height}; tx ${toHex(h)}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });
  userOptions(zk.command('transfer').description('Send a signed L2 transfer (soft-confirmed by the operator at once)'))
    .requiredOption('--to <account>', 'recipient L2 account index, or dev:N for dev account N')
    .requiredOption('--amount <n>', 'L2 units')
    .action(async (f: ZkFlags) => {
      try {
        await signAndSend(f, 'transfer');
      } catch (e) {
        fail(!!f.json, e);
      }
    });
  userOptions(zk.command('withdraw').description('Withdraw to your L1 address: paid in the L1 block that verifies the batch proof'))
    .requiredOption('--amount <n>', 'L2 units')
    .action(async (f: ZkFlags) => {
      try {
        await signAndSend(f, 'withdraw');
      } catch (e) {
        fail(!!f.json, e);
      }
    });
  userOptions(zk.command('status').description('Batches (pending, proving, proven, verified on L1), withdrawals, and your account'))
    .action(async (f: ZkFlags) => {
      try {
        const c = await context(f);
        const [status, batches, withdrawals] = await Promise.all([c.zk.call<Record<string, unknown>>('zk_status'), c.zk.call<{ index: number; status: string; operations: number; bytes: number; provedBy: string | null; l1Height: number | null }[]>('zk_getBatches'), c.zk.call<{ batch: number; status: string; from: number; amount: string; to: string }[]>('zk_getWithdrawals')]);
        const account = c.index === null ? null : await c.zk.call<{ balance: string; nonce: string }>('zk_getAccount', [hexq(BigInt(c.index))]);
        const l1 = await c.l1.rollup(c.info.rollupId);
        print(!!f.json, { status, batches, withdrawals, account: account ? { index: c.index, balance: fromQuantity(account.balance).toString(), nonce: fromQuantity(account.nonce).toString() } : null, l1: l1 ? { root: toHex(l1.root), batchCount: l1.batchCount, queue: [l1.queueHead, l1.queueTail], frozen: l1.frozen } : null }, () =>
          [
            `zk-rollup ${c.info.rollupId}: ${status.batches} batches, ${status.verified} verified on L1${l1?.frozen ? '  — EXODUS: exit with `strata zk exit`' : ''}`,
            ...batches.map((b) => `  batch ${b.index}: ${b.status === 'verified' ? `proven on L1 (block #${b.l1Height})` : b.status}  ${b.operations} ops, ${b.bytes} B${b.provedBy ? `  by ${b.provedBy}` : ''}`),
            ...withdrawals.map((w) => `  withdrawal from ${w.from}: ${fromQuantity(w.amount)} to ${w.to}  ${w.status} (batch ${w.batch})`),
            account ? `your account ${c.index}: balance ${fromQuantity(account.balance)}  nonce ${fromQuantity(account.nonce)}` : 'you have no L2 account yet',
          ].join('\n'),
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });
  userOptions(zk.command('exit').description('Exodus: withdraw your balance of the last proven state with a Merkle proof (only when the rollup is frozen); --deposit N refunds a queued deposit. The proof comes from the ZK node, or, when it is down (or with --from-l1), is rebuilt from L1 data alone'))
    .option('--deposit <id>', 'refund this queued (never included) deposit instead')
    .option('--from-l1', 'rebuild the last verified L2 state from L1 data (posted batches + deposit queue) instead of asking the ZK node')
    .option('--rollup-id <n>', 'the rollup id (needed when the ZK node is down; default: the devnet\'s)')
    .action(async (f: ZkFlags & { fromL1?: boolean; rollupId?: string }) => {
      try {
        for (const [flag, v] of [['--rollup-id', f.rollupId], ['--deposit', f.deposit]] as const) {
          if (v !== undefined && !/^\d{1,10}$/.test(String(v))) throw new StrataError('INVALID_ARGUMENT', `${flag} must be a non-negative integer, not ${JSON.stringify(v)}`);
        }
        const key = signer(f.from);
        // With only --l1-rpc (no devnet record, the ZK node gone) the L1 is all it needs.
        const ends = (() => {
          try {
            return zkEndpoints(f);
          } catch (e) {
            if (f.l1Rpc) return { l1Rpc: f.l1Rpc, zkRpc: undefined };
            throw e;
          }
        })();
        const l1 = new RpcZkL1Client(ends.l1Rpc);
        const l2 = (await zkCrypto()).deriveKey(key.secretKey);
        // The ZK node if it answers (unless --from-l1); the operator may well be gone in exodus.
        let node: { zk: RpcClient; info: Info; index: number | null } | undefined;
        let nodeRollupId: number | undefined;
        if (!f.fromL1 && ends.zkRpc) {
          try {
            const zkc = new RpcClient(ends.zkRpc, { timeoutMs: 5000 });
            const info = await zkc.call<Info>('zk_info');
            // A node whose proven root is not the L1's (lagging, or another history) would give a
            // proof the L1 refuses: use L1 data then.
            nodeRollupId = info.rollupId;
            const st = await zkc.call<{ provenRoot: string }>('zk_status');
            const rec = await l1.rollup(info.rollupId);
            if (rec && st.provenRoot.toLowerCase() !== toHex(rec.root).toLowerCase()) throw new Error(`its proven root ${st.provenRoot} is not the L1's ${toHex(rec.root)}`);
            node = { zk: zkc, info, index: await zkc.call<number | null>('zk_findAccount', [hexq(l2.ax), hexq(l2.ay)]) };
          } catch (e) {
            if (!f.json) process.stderr.write(`ZK node ${ends.zkRpc} cannot give the proof (${(e as Error).message}); rebuilding the state from L1 data\n`);
          }
        }
        const rollupId = node?.info.rollupId ?? nodeRollupId ?? (f.rollupId !== undefined ? Number(f.rollupId) : devnetZkParams(0).rollupId);
        let h: Uint8Array;
        let source = node ? 'zk-node' : 'l1';
        if (f.deposit !== undefined) {
          h = await l1.send(key, 'refundDeposit', encode(RefundArgs, { rollupId, depositId: Number(f.deposit) }), 50_000);
        } else if (node) {
          if (node.index === null) throw new StrataError('NOT_FOUND', 'this key has no L2 account');
          const a = await node.zk.call<{ ax: string; ay: string; balance: string; nonce: string; l1Address: string; siblings: string[] }>('zk_getAccount', [hexq(BigInt(node.index)), 'proven']);
          const args = encode(ExitArgs, { rollupId, index: node.index, ax: fromHex(a.ax, 32), ay: fromHex(a.ay, 32), balance: fromQuantity(a.balance), nonce: fromQuantity(a.nonce), addr: fromHex(a.l1Address, 20), siblings: a.siblings.map((s) => fromHex(s, 32)) });
          h = await l1.send(key, 'exit', args, 50_000);
        } else {
          const bar = !f.json && process.stderr.isTTY ? new SingleBar({ format: '  rebuilding from L1  [{bar}] {value}/{total} batches', stream: process.stderr }, Presets.shades_classic) : undefined;
          const rb = await rebuildFromL1(l1, rollupId, { onBatch: (i, n) => (i === 1 ? bar?.start(n, i) : bar?.update(i)) });
          bar?.stop();
          const index = rb.state.findKey(l2.ax, l2.ay);
          if (index === undefined) throw new StrataError('NOT_FOUND', `this key has no account in the last verified state of rollup ${rollupId} (${rb.batches.length} batches rebuilt from L1)`);
          h = await l1.send(key, 'exit', exitArgsFor(rb.state, rollupId, index), 50_000);
          source = `l1 (${rb.batches.length} batches)`;
        }
        const r = await waitReceipt(l1, h);
        print(!!f.json, { tx: toHex(h), l1Height: r.height, proofFrom: source }, () => `exit included in L1 block #${r.height}; tx ${toHex(h)} (proof from ${source})`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
