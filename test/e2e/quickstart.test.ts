import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeAddress, encode, fromHex, fromQuantity, initHashing, toHex } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { encodeTx, signTx, TRANSFER_COMPUTE, TransferArgsCodec } from '@strata/runtime';
import { tempDir } from '../helpers/chain.js';
import { startDevnetProcess } from '../helpers/devnet-process.js';

await initHashing();
const exec = promisify(execFile);

async function waitReceipt(client: RpcClient, hash: string): Promise<Record<string, string>> {
  for (let i = 0; i < 200; i++) {
    const r = await client.call<Record<string, string> | null>('tx_getReceipt', [hash]);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('no receipt');
}

describe('quick start', () => {
  it('strata devnet from an empty data dir: transfer over RPC, receipt, new balances; restart resumes', async () => {
    const t = tempDir('strata-qs-');
    rmSync(t.dir, { recursive: true, force: true }); // start from a dir that does not exist yet
    let dev = await startDevnetProcess(['--data-dir', t.dir, '--no-rollup', '--no-sidechain', '--no-channels']);
    try {
      const { l1 } = dev.banner.layers;
      expect(l1.rpc).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const [a0, a1] = dev.banner.accounts as [(typeof dev.banner.accounts)[0], (typeof dev.banner.accounts)[0]];
      const client = new RpcClient(l1.rpc);
      const cfg = await client.call<{ chainId: string; fees: { perByte: string; perCompute: string } }>('chain_getConfig');
      const before0 = fromQuantity((await client.call<{ balance: string }>('state_getAccount', [a0.address])).balance);
      const before1 = fromQuantity((await client.call<{ balance: string }>('state_getAccount', [a1.address])).balance);
      const amount = 123_456_789n;
      const fee = 5_000n;
      const raw = encodeTx(
        signTx(
          { chainId: Number(fromQuantity(cfg.chainId)), nonce: 0, fee, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: decodeAddress(a1.address), amount }) },
          fromHex(a0.secretKey, 32),
        ),
      );
      const hash = await client.call<string>('tx_sendRaw', [toHex(raw)]);
      const receipt = await waitReceipt(client, hash);
      expect(receipt.status).toBe('0x1');
      expect(receipt.fee).toBe(`0x${fee.toString(16)}`);
      const after0 = fromQuantity((await client.call<{ balance: string }>('state_getAccount', [a0.address])).balance);
      const after1 = fromQuantity((await client.call<{ balance: string }>('state_getAccount', [a1.address])).balance);
      // Account 0 is also the devnet's block producer, so it gets its own fee back.
      expect(after0).toBe(before0 - amount);
      expect(after1).toBe(before1 + amount);
      // The CLI sees the same chain.
      const { stdout } = await exec(process.execPath, ['bin/strata.js', 'account', 'balance', a1.address, '--rpc', l1.rpc, '--json']);
      expect(JSON.parse(stdout).balance).toBe(after1.toString());
      const sent = await exec(process.execPath, ['bin/strata.js', 'send', '--rpc', l1.rpc, '--to', a1.address, '--amount', '5', '--from', '0', '--json']);
      expect(JSON.parse(sent.stdout).status).toBe('ok');
      const height = Number(fromQuantity((await client.call<{ number: string }>('chain_getHead')).number));
      expect(height).toBe(2);
      expect(await dev.stop('SIGINT')).toBe(0);

      // Restart with the same data dir: the chain resumes where it was.
      dev = await startDevnetProcess(['--data-dir', t.dir, '--no-rollup', '--no-sidechain', '--no-channels']);
      expect(dev.banner.layers.l1.head).toBe(2);
      const c2 = new RpcClient(dev.banner.layers.l1.rpc);
      const again1 = fromQuantity((await c2.call<{ balance: string }>('state_getAccount', [a1.address])).balance);
      expect(again1).toBe(after1 + 5n);
    } finally {
      await dev.stop('SIGKILL');
      t.cleanup();
    }
  }, 120_000);

  it('CLI errors are clear and exit non-zero', async () => {
    // Bad arguments are named before any RPC call (the node here is unreachable on purpose).
    const bad = await exec(process.execPath, ['bin/strata.js', 'send', '--to', 'nonsense', '--amount', '-5', '--rpc', 'http://127.0.0.1:1'], { encoding: 'utf8' }).catch((e) => e);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--to "nonsense" is not an address/);
    expect(bad.stderr).toMatch(/--amount "-5" must be a whole number/);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT/);
    expect(bad.stderr).not.toMatch(/127\.0\.0\.1:1|reach/);
    // With good arguments the unreachable node is what is reported.
    const down = await exec(process.execPath, ['bin/strata.js', 'send', '--to', 'st17404rxsnz5zk9495tycluam8dpl26l336aeknx', '--amount', '1', '--rpc', 'http://127.0.0.1:1'], { encoding: 'utf8' }).catch((e) => e);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/error: .*127\.0\.0\.1:1/);
    const help = await exec(process.execPath, ['bin/strata.js', 'send', '--help']);
    expect(help.stdout).toMatch(/--to <address>/);
  }, 60_000);
});
