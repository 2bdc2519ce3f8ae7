import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
// Light imports only at the top: `account balance`, `block` and `tx` must answer in well under
// 200 ms, so nothing here may load key derivation, signing, the runtime's codecs, lmdb, libp2p,
// ws or @strata/devnet (test/unit/cli-import-graph.test.ts checks the bundle's static import
// graph). What signs (send, account new, a --from index) loads its modules in its action.
import { encodeAddress, formatCoins, fromHex, fromQuantity, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { checkArgs } from '../args.js';
import { devAddressHex, devAddresses } from '../dev-addresses.js';
import { clientOptions, resolveRpc } from '../layers.js';
import { print } from '../output.js';

interface ClientFlags {
  rpc?: string;
  layer?: string;
  json?: boolean;
}

function clientOf(flags: ClientFlags): RpcClient {
  checkArgs((c) => c.url('--rpc', flags.rpc));
  return new RpcClient(resolveRpc(flags));
}

interface ChainInfo {
  chainId: string;
  addressPrefix: string;
  fees: { perByte: string; perCompute: string };
}

function keystoreDir(flag?: string): string {
  return flag ?? process.env.STRATA_KEYSTORE ?? join(homedir(), '.strata', 'keystore');
}

interface StoredKey {
  address: string;
  addressHex: string;
  secretKey: string;
}

function readKeystore(dir: string): StoredKey[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredKey);
  } catch {
    return [];
  }
}

// Errors thrown by these actions reach main.ts, which prints them (as JSON with --json) and
// exits non-zero.

/**
 * Resolves --from: a dev account index (0–9), a keystore address, or a 0x secret key.
 */
async function resolveSigner(from: string | undefined, prefix: string, keystore: string): Promise<KeyPair> {
  const { deriveKeyPairs, DEV_MNEMONIC, keyPairFromSecret, parseAddress } = await import('../signing.js');
  const f = from ?? '0';
  if (/^\d+$/.test(f)) {
    const i = Number(f);
    const acct = deriveKeyPairs(DEV_MNEMONIC, 1, i)[0];
    if (!acct) throw new StrataError('INVALID_KEY', `no dev account ${i}`);
    return acct;
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(f)) return keyPairFromSecret(fromHex(f, 32));
  const addr = toHex(parseAddress(f, prefix));
  const stored = readKeystore(keystore).find((k) => k.addressHex === addr);
  if (!stored) throw new StrataError('INVALID_KEY', `no key for ${f} in the keystore ${keystore}; use a dev account index, a keystore address or a 0x secret key`);
  return keyPairFromSecret(fromHex(stored.secretKey, 32));
}

async function chainInfo(client: RpcClient): Promise<ChainInfo> {
  return client.call<ChainInfo>('chain_getConfig');
}

function parseAmount(v: string): bigint {
  if (!/^\d+$/.test(v)) throw new StrataError('INVALID_HEX', `--amount must be a whole number of base units (1 STRA = 100000000), got "${v}"`);
  return BigInt(v);
}

export function registerChainCommands(program: Command): void {
  const account = program.command('account').description('Create, list and inspect accounts');

  account
    .command('new')
    .description('Create a new key pair and save it in the keystore (plaintext: for development only)')
    .option('--keystore <dir>', 'keystore directory (default ~/.strata/keystore or $STRATA_KEYSTORE)')
    .option('--prefix <hrp>', 'address prefix of the chain', 'st')
    .option('--json', 'print machine-readable JSON')
    .action(async (flags: { keystore?: string; prefix: string; json?: boolean }) => {
      const { randomKeyPair } = await import('../signing.js');
      const k = randomKeyPair();
      const dir = keystoreDir(flags.keystore);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const entry: StoredKey = { address: encodeAddress(flags.prefix, k.address), addressHex: toHex(k.address), secretKey: toHex(k.secretKey) };
      const file = join(dir, `${entry.addressHex}.json`);
      writeFileSync(file, JSON.stringify(entry, null, 2), { mode: 0o600 });
      print(!!flags.json, { ...entry, file }, () => `address  ${entry.address}\nkey      ${entry.secretKey}\nsaved    ${file}`);
    });

  clientOptions(
    account
      .command('list')
      .description('List the dev accounts and the keystore accounts, with balances when the node is reachable')
      .option('--keystore <dir>', 'keystore directory')
      .option('--count <n>', 'dev accounts to list', '10'),
  ).action(async (flags: ClientFlags & { keystore?: string; count: string }) => {
    checkArgs((c) => c.integer('--count', flags.count));
    const client = clientOf(flags);
    let prefix = 'st';
    let online = true;
    try {
      prefix = (await chainInfo(client)).addressPrefix;
    } catch {
      online = false;
    }
    const rows: { source: string; address: string; balance?: string }[] = [
      ...(await devAddresses(prefix, Number(flags.count))).map((a) => ({ source: `dev ${a.index}`, address: a.address })),
      ...readKeystore(keystoreDir(flags.keystore)).map((k) => ({ source: 'keystore', address: encodeAddress(prefix, fromHex(k.addressHex, 20)) })),
    ];
    if (online) {
      const res = await client.batch(rows.map((r) => ({ method: 'state_getAccount', params: [r.address] })));
      res.forEach((r, i) => {
        if ('result' in r) (rows[i] as (typeof rows)[number]).balance = (r.result as { balance: string }).balance;
      });
    }
    print(!!flags.json, rows, () =>
      rows.map((r) => `${r.source.padEnd(9)} ${r.address}${r.balance ? `  ${formatCoins(fromQuantity(r.balance))}` : ''}`).join('\n') +
      (online ? '' : `\n(node at ${client.url} not reachable: balances not shown)`),
    );
  });

  clientOptions(
    account
      .command('balance')
      .description('Balance and nonce of an account (address, or dev account index)')
      .argument('<account>', 'bech32m address, 0x address, or dev account index')
      .option('--block <tag>', 'latest | finalized | block number', 'latest'),
  ).action(async (who: string, flags: ClientFlags & { block: string }) => {
    checkArgs((c) => {
      c.address('<account>', who, { allowIndex: true });
      c.block('--block', flags.block);
    });
    const client = clientOf(flags);
    // One round trip: a dev index is sent as its 0x address (every chain's state_getAccount takes
    // one), and the node answers with the address in its own prefix.
    const address = /^\d+$/.test(who) ? await devAddressHex(Number(who)) : who;
    const tag = /^\d+$/.test(flags.block) ? `0x${Number(flags.block).toString(16)}` : flags.block;
    const a = await client.call<{ address: string; balance: string; nonce: string; blockNumber: string }>('state_getAccount', [address, tag]);
    const out = { address: a.address, balance: fromQuantity(a.balance).toString(), nonce: Number(fromQuantity(a.nonce)), block: Number(fromQuantity(a.blockNumber)) };
    print(!!flags.json, out, () => `${a.address}\nbalance  ${formatCoins(BigInt(out.balance))} (${out.balance} base units)\nnonce    ${out.nonce}\nat block #${out.block}`);
  });

  clientOptions(
    program
      .command('send')
      .description('Send coins: sign a transfer, submit it and wait for its receipt')
      .requiredOption('--to <address>', 'recipient address')
      .requiredOption('--amount <units>', 'amount in base units (1 STRA = 100000000)')
      .option('--from <account>', 'dev account index, keystore address or 0x secret key', '0')
      .option('--fee <units>', 'fee in base units (default: the minimum)')
      .option('--nonce <n>', 'nonce (default: the next one, counting pending transactions)')
      .option('--keystore <dir>', 'keystore directory')
      .option('--no-wait', 'return once the node accepted the transaction'),
  ).action(async (flags: ClientFlags & { to: string; amount: string; from: string; fee?: string; nonce?: string; keystore?: string; wait: boolean }) => {
    checkArgs((c) => {
      c.address('--to', flags.to);
      c.amount('--amount', flags.amount);
      c.signer('--from', flags.from, { allowAddress: true });
      c.amount('--fee', flags.fee, { optional: true, min: 0n });
      c.integer('--nonce', flags.nonce);
    });
    const client = clientOf(flags);
    const info = await chainInfo(client);
    const { encode, encodeTx, parseAddress, signTx, TRANSFER_COMPUTE, TransferArgsCodec } = await import('../signing.js');
    const signer = await resolveSigner(flags.from, info.addressPrefix, keystoreDir(flags.keystore));
    const to = parseAddress(flags.to, info.addressPrefix);
    const amount = parseAmount(flags.amount);
    const from = encodeAddress(info.addressPrefix, signer.address);
    const acct = await client.call<{ nextNonce: string }>('state_getAccount', [from]);
    const nonce = flags.nonce !== undefined ? Number(flags.nonce) : Number(fromQuantity(acct.nextNonce));
    const unsigned = {
      chainId: Number(fromQuantity(info.chainId)),
      nonce,
      fee: 0n,
      computeLimit: TRANSFER_COMPUTE,
      module: 'bank',
      method: 'transfer',
      args: encode(TransferArgsCodec, { to, amount }),
    };
    // Minimum fee depends on the signed size; sign once to measure, then with the fee.
    const size = encodeTx(signTx({ ...unsigned, fee: 1n << 64n }, signer.secretKey)).length;
    const fee = flags.fee !== undefined ? BigInt(flags.fee) : BigInt(size) * BigInt(info.fees.perByte) + BigInt(TRANSFER_COMPUTE) * BigInt(info.fees.perCompute);
    const raw = encodeTx(signTx({ ...unsigned, fee }, signer.secretKey));
    const hash = await client.call<string>('tx_sendRaw', [toHex(raw)]);
    let receipt: Record<string, string> | null = null;
    if (flags.wait) {
      const deadline = Date.now() + 120_000;
      while (!receipt && Date.now() < deadline) {
        receipt = await client.call<Record<string, string> | null>('tx_getReceipt', [hash]);
        if (!receipt) await new Promise((r) => setTimeout(r, 250));
      }
      if (!receipt) throw new StrataError('NOT_FOUND', `transaction ${hash} was accepted but not included within 120 s`);
    }
    const out = {
      hash,
      from,
      to: encodeAddress(info.addressPrefix, to),
      amount: amount.toString(),
      fee: fee.toString(),
      nonce,
      status: receipt ? (receipt.status === '0x1' ? 'ok' : 'failed') : 'pending',
      blockNumber: receipt ? Number(fromQuantity(receipt.blockNumber)) : null,
      blockHash: receipt?.blockHash ?? null,
      error: receipt && receipt.status !== '0x1' ? receipt.error : null,
    };
    print(!!flags.json, out, () =>
      [
        `tx       ${hash}`,
        `from     ${out.from} (nonce ${nonce})`,
        `to       ${out.to}`,
        `amount   ${formatCoins(amount)} (${amount} base units), fee ${fee}`,
        receipt ? `status   ${out.status} in block #${out.blockNumber}` : 'status   pending (accepted by the node)',
      ].join('\n'),
    );
    if (receipt && receipt.status !== '0x1') process.exitCode = 1;
  });

  clientOptions(
    program
      .command('block')
      .description('Show a block: number, hash, "latest" (default) or "finalized"')
      .argument('[id]', 'block number, 0x hash, latest or finalized', 'latest')
      .option('--full', 'include whole transactions'),
  ).action(async (id: string, flags: ClientFlags & { full?: boolean }) => {
    checkArgs((c) => c.block('[id]', id));
    const client = clientOf(flags);
    const b = /^0x[0-9a-fA-F]{64}$/.test(id)
      ? await client.call<Record<string, unknown> | null>('chain_getBlockByHash', [id, !!flags.full])
      : await client.call<Record<string, unknown> | null>('chain_getBlockByNumber', [/^\d+$/.test(id) ? `0x${Number(id).toString(16)}` : id, !!flags.full]);
    if (!b) throw new StrataError('NOT_FOUND', `no block ${id}`);
    print(!!flags.json, b, () => {
      const txs = b.transactions as unknown[];
      return [
        `block #${Number(fromQuantity(b.number))}  ${b.hash}`,
        `parent    ${b.parentHash}`,
        `time      ${new Date(Number(fromQuantity(b.timestamp))).toISOString()}`,
        `producer  ${b.producer}`,
        `stateRoot ${b.stateRoot}`,
        `txRoot    ${b.txRoot}`,
        `work      ${b.totalWork} total`,
        `txs       ${txs.length}`,
        ...txs.map((t) => `  ${typeof t === 'string' ? t : (t as { hash: string }).hash}`),
      ].join('\n');
    });
  });

  clientOptions(program.command('tx').description('Show a transaction and its receipt').argument('<hash>', 'transaction hash')).action(
    async (hash: string, flags: ClientFlags) => {
      checkArgs((c) => c.hash('<hash>', hash));
      const client = clientOf(flags);
      const [tx, receipt] = await Promise.all([
        client.call<Record<string, unknown> | null>('tx_get', [hash]),
        client.call<Record<string, unknown> | null>('tx_getReceipt', [hash]),
      ]);
      if (!tx) throw new StrataError('NOT_FOUND', `no transaction ${hash} in the chain or the mempool`);
      print(!!flags.json, { tx, receipt }, () =>
        [
          `tx        ${tx.hash}`,
          `from      ${tx.from}  nonce ${Number(fromQuantity(tx.nonce))}`,
          `call      ${tx.module}.${tx.method}${tx.to ? `  to ${tx.to} amount ${fromQuantity(tx.amount as string)}` : ''}`,
          `fee       ${fromQuantity(tx.fee as string)}  compute limit ${Number(fromQuantity(tx.computeLimit as string))}`,
          receipt
            ? `status    ${receipt.status === '0x1' ? 'ok' : `failed: ${(receipt.error as { message: string } | null)?.message}`} in block #${Number(fromQuantity(receipt.blockNumber as string))}, compute used ${Number(fromQuantity(receipt.computeUsed as string))}`
            : 'status    pending (in the mempool)',
        ].join('\n'),
      );
    },
  );
}
