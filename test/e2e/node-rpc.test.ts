import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataNode, startRpc } from '@strata/node';
import { encodeAddress, fromHex, fromQuantity, initHashing, toHex } from '@strata/primitives';
import { RpcClient, RpcErrorCodes, WsRpcClient, type RpcServer } from '@strata/rpc';
import { accountKey } from '@strata/runtime';
import { verifyProof } from '@strata/state';
import { devConfig, keys, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();

let node: StrataNode;
let rpc: RpcServer;
let client: RpcClient;
const t = tempDir('strata-rpc-');
const cfg = devConfig();
const addr = (i: number) => encodeAddress(cfg.addressPrefix, keys[i]!.address);

beforeAll(async () => {
  node = await StrataNode.create({ dataDir: t.dir, config: cfg, mining: 'dev', blockTimeMs: 0, producer: keys[3]!.address, verifierThreads: 1 }, { logger: pino({ level: 'silent' }) });
  await node.start();
  rpc = await startRpc(node, { port: 0, adminToken: 'secret' });
  client = new RpcClient(rpc.url);
});

afterAll(async () => {
  await rpc.stop();
  await node.stop();
  t.cleanup();
});

async function post(body: string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(rpc.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return res.json();
}

describe('node JSON-RPC', () => {
  it('serves heads, blocks, transactions, receipts, accounts and verifiable proofs', async () => {
    const vtx = transferTx(cfg, keys[0]!, keys[1]!.address, 42n, 0);
    const hash = await client.call<string>('tx_sendRaw', [toHex(vtx.bytes)]);
    expect(hash).toBe(toHex(vtx.hash));
    await new Promise((r) => setTimeout(r, 100));
    const head = await client.call<{ number: string; hash: string; stateRoot: string }>('chain_getHead', ['latest']);
    expect(head.number).toBe('0x1');
    const fin = await client.call<{ number: string }>('chain_getHead', ['finalized']);
    expect(fin.number).toBe('0x0');
    const byNum = await client.call<{ hash: string; transactions: string[] }>('chain_getBlockByNumber', ['0x1']);
    expect(byNum.transactions).toEqual([hash]);
    const byHash = await client.call<{ number: string; transactions: { hash: string; amount: string }[] }>('chain_getBlockByHash', [head.hash, true]);
    expect(byHash.transactions[0]?.amount).toBe('0x2a');
    const tx = await client.call<{ from: string; to: string }>('tx_get', [hash]);
    expect(tx.from).toBe(addr(0));
    expect(tx.to).toBe(addr(1));
    const rc = await client.call<{ status: string; blockNumber: string }>('tx_getReceipt', [hash]);
    expect(rc).toMatchObject({ status: '0x1', blockNumber: '0x1' });
    const acct = await client.call<{ nonce: string }>('state_getAccount', [addr(0)]);
    expect(acct.nonce).toBe('0x1');
    const old = await client.call<{ nonce: string }>('state_getAccount', [addr(0), '0x0']);
    expect(old.nonce).toBe('0x0');
    const proof = await client.call<{ proof: string[]; value: string; stateRoot: string }>('state_getProof', [addr(0)]);
    expect(proof.stateRoot).toBe(head.stateRoot);
    const res = verifyProof(fromHex(proof.stateRoot, 32), accountKey(keys[0]!.address), proof.proof.map((p) => fromHex(p)));
    expect(toHex(res.value as Uint8Array)).toBe(proof.value);
    const absent = await client.call<{ proof: string[]; value: null }>('state_getProof', [encodeAddress('st', new Uint8Array(20).fill(9))]);
    expect(absent.value).toBeNull();
    expect(await client.call('tx_get', [`0x${'00'.repeat(32)}`])).toBeNull();
    const status = await client.call<{ count: string }>('mempool_status');
    expect(status.count).toBe('0x0');
  });

  it('answers batches, and reports rejected transactions with their reason', async () => {
    const low = transferTx(cfg, keys[0]!, keys[1]!.address, 1n, 1, 1n);
    const replay = transferTx(cfg, keys[0]!, keys[1]!.address, 42n, 0);
    const out = (await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tx_sendRaw', params: [toHex(low.bytes)] },
        { jsonrpc: '2.0', id: 2, method: 'tx_sendRaw', params: [toHex(replay.bytes)] },
        { jsonrpc: '2.0', id: 3, method: 'chain_getHead', params: [] },
      ]),
    )) as { id: number; error?: { code: number; data: { code: string } }; result?: unknown }[];
    const byId = new Map(out.map((r) => [r.id, r]));
    expect(byId.get(1)?.error?.code).toBe(RpcErrorCodes.TRANSACTION_REJECTED);
    expect(byId.get(1)?.error?.data.code).toBe('TX_FEE_TOO_LOW');
    expect(byId.get(2)?.error?.data.code).toBe('TX_NONCE_TOO_LOW');
    expect(byId.get(3)?.result).toBeDefined();
  });

  it('rejects malformed input to every method with a typed error and keeps serving', async () => {
    const garbage: unknown[][] = [
      [],
      ['0xzz'],
      [123],
      [{ a: 1 }],
      ['0x'],
      [`0x${'ab'.repeat(33)}`],
      ['latest', 'x', 'y', 'z'],
      [null],
      ['x'.repeat(10_000)],
      [-1],
      ['0x00'],
    ];
    const methods = Object.keys(
      (await import('@strata/node')).nodeRpcMethods(node, new (await import('@strata/rpc')).SubscriptionHub()),
    );
    expect(methods.length).toBeGreaterThan(15);
    let internal = 0;
    for (const m of methods) {
      if (m.startsWith('dev_revert') || m === 'dev_mine' || m === 'dev_setBlockInterval' || m === 'dev_increaseTime') continue; // stateful; covered below
      for (const params of garbage) {
        try {
          await client.call(m, params);
        } catch (e) {
          const code = (e as { rpcCode?: number }).rpcCode;
          expect(typeof code, `${m} ${JSON.stringify(params).slice(0, 50)}`).toBe('number');
          if (code === RpcErrorCodes.INTERNAL_ERROR) internal++;
        }
      }
    }
    expect(internal).toBe(0);
    for (const params of [['-1'], ['abc'], [1e9], [null]]) {
      await expect(client.call('dev_mine', params)).rejects.toMatchObject({ rpcCode: RpcErrorCodes.INVALID_PARAMS });
      await expect(client.call('dev_setBlockInterval', params)).rejects.toMatchObject({ rpcCode: RpcErrorCodes.INVALID_PARAMS });
    }
    // Raw garbage on the wire.
    expect(await post('{not json')).toMatchObject({ error: { code: RpcErrorCodes.PARSE_ERROR } });
    expect(await post('[]')).toMatchObject({ error: { code: RpcErrorCodes.INVALID_REQUEST } });
    expect(await post('{"jsonrpc":"2.0","id":1,"method":"nope"}')).toMatchObject({ error: { code: RpcErrorCodes.METHOD_NOT_FOUND } });
    const head = await client.call<{ number: string }>('chain_getHead');
    expect(Number(fromQuantity(head.number))).toBeGreaterThanOrEqual(1);
  });

  it('dev methods: mine, snapshot/revert, increase time, block interval; admin needs the token', async () => {
    const start = Number(fromQuantity((await client.call<{ number: string }>('chain_getHead')).number));
    const snap = await client.call<string>('dev_snapshot');
    const mined = await client.call<{ number: string; timestamp: string }>('dev_mine', ['0x3']);
    expect(Number(fromQuantity(mined.number))).toBe(start + 3);
    expect(await client.call('dev_revert', [snap])).toBe(true);
    expect((await client.call<{ number: string }>('chain_getHead')).number).toBe(`0x${start.toString(16)}`);
    expect(await client.call('dev_revert', [snap])).toBe(false);
    const t0 = Number(fromQuantity((await client.call<{ timestamp: string }>('dev_mine')).timestamp));
    await client.call('dev_increaseTime', [3600]);
    const t1 = Number(fromQuantity((await client.call<{ timestamp: string }>('dev_mine')).timestamp));
    expect(t1 - t0).toBeGreaterThanOrEqual(3_600_000);
    expect(await client.call('dev_setBlockInterval', [0.2])).toBe(true);
    const h0 = Number(fromQuantity((await client.call<{ number: string }>('chain_getHead')).number));
    await new Promise((r) => setTimeout(r, 700));
    const h1 = Number(fromQuantity((await client.call<{ number: string }>('chain_getHead')).number));
    expect(h1).toBeGreaterThan(h0);
    await client.call('dev_setBlockInterval', [0]);
    await expect(client.call('admin_nodeInfo')).rejects.toMatchObject({ rpcCode: RpcErrorCodes.UNAUTHORIZED });
    const admin = new RpcClient(rpc.url, { adminToken: 'secret' });
    expect(await admin.call<{ mining: string }>('admin_nodeInfo')).toMatchObject({ mining: 'dev' });
  });

  it('serves Prometheus metrics', async () => {
    const url = await node.metrics.serve('127.0.0.1', 0);
    const text = await (await fetch(url)).text();
    expect(text).toMatch(/strata_head_height \d+/);
    expect(text).toMatch(/strata_txs_rejected_total\{reason="TX_FEE_TOO_LOW"\} 1/);
    await node.metrics.stop();
  });

  it('chain_subscribe pushes new heads over WebSocket', async () => {
    const ws = await WsRpcClient.connect(rpc.wsUrl);
    const heads: { number: string }[] = [];
    await ws.subscribe('chain_subscribe', ['newHeads'], (h) => heads.push(h as { number: string }));
    await client.call('dev_mine', ['0x2']);
    for (let i = 0; i < 50 && heads.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(heads.length).toBeGreaterThanOrEqual(2);
    await expect(client.call('chain_subscribe', ['newHeads'])).rejects.toMatchObject({ rpcCode: RpcErrorCodes.METHOD_NOT_SUPPORTED });
    await ws.close();
  });
});
