/**
 * `net_importBlock` answers a block the chain refuses as the caller's bad parameter: -32602 with
 * the BLOCK_* code in `data` (found by `npm run fuzz`: it was -32603, "internal error"); likewise
 * `admin_setMining` with a mode the chain config cannot take (CONFIG_INVALID).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBlock } from '@strata/chain';
import { nodeRpcMethods, StrataNode } from '@strata/node';
import { initHashing, toHex } from '@strata/primitives';
import { RpcServer, SubscriptionHub } from '@strata/rpc';
import { ValidatorSet } from '@strata/sidechain';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig } from '../helpers/chain.js';

await initHashing();
const dir = mkdtempSync(join(tmpdir(), 'strata-rpc-import-'));
const node = await StrataNode.create({ dataDir: dir, config: devConfig(), mining: 'dev', blockTimeMs: 0, verifierThreads: 0 }, { logger: pino({ level: 'silent' }) });
await node.start();
await node.mineBlocks(2);
const server = new RpcServer({ port: 0 });
server.registerAll(nodeRpcMethods(node, new SubscriptionHub()));
afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (block: string) => JSON.parse((await server.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'net_importBlock', params: [block] }))) as string);

describe('net_importBlock', () => {
  const head = node.chain.head;
  const body = node.chain.store.getBody(head.hash) ?? [];

  it('a block the chain refuses is -32602 with its BLOCK_* code', async () => {
    const target = head.header.target.slice();
    target[31] = (target[31] as number) ^ 1;
    const badTarget = await call(toHex(encodeBlock({ header: { ...head.header, target }, txs: body })));
    expect(badTarget.error).toMatchObject({ code: -32602, data: { code: 'BLOCK_BAD_TARGET' } });
    const orphan = await call(toHex(encodeBlock({ header: { ...head.header, parentHash: new Uint8Array(32).fill(7) }, txs: body })));
    expect(orphan.error).toMatchObject({ code: -32602, data: { code: expect.stringMatching(/^BLOCK_/) } });
  });

  it('a block it already has is answered with its status', async () => {
    const known = await call(toHex(encodeBlock({ header: head.header, txs: body })));
    expect(known.error).toBeUndefined();
    expect(known.result).toMatchObject({ hash: toHex(head.hash) });
  });
});

describe('admin_setMining', () => {
  const admin = async (mode: string) =>
    JSON.parse((await server.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin_setMining', params: [mode] }), { transport: 'http', authorized: true })) as string);

  it('"pow" on a dev chain is the caller\'s bad parameter: -32602 with CONFIG_INVALID (was -32603, internal error)', async () => {
    const r = await admin('pow');
    expect(r.error).toMatchObject({ code: -32602, data: { code: 'CONFIG_INVALID' } });
    expect(r.error.message).toMatch(/pow\.enabled = true/);
    expect(await admin('bogus')).toMatchObject({ error: { code: -32602 } });
    expect(await admin('dev')).toMatchObject({ result: true });
  });
});

describe('CONFIG_INVALID thrown by the node itself at request time', () => {
  it('is an internal error (-32603, the code in data), not the caller\'s invalid params', async () => {
    // What a sidechain node's RPC hits once its only validator is slashed: the engine derives
    // the next validator set (sidechain_certificate, the engine's `validators`) and ValidatorSet
    // refuses a set of zero power with CONFIG_INVALID. Nothing the caller sent is wrong: with
    // CONFIG_INVALID in the blanket invalid-params set this was answered -32602.
    server.register('test_brokenValidatorSet', {
      maxParams: 0,
      handler: () => new ValidatorSet([{ edPub: new Uint8Array(32), blsPub: new Uint8Array(48), producer: new Uint8Array(20), power: 0n }]).totalPower,
    });
    const r = JSON.parse((await server.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_brokenValidatorSet', params: [] }))) as string);
    expect(r.error).toMatchObject({ code: -32603, data: { code: 'CONFIG_INVALID' } });
    expect(r.error.message).toMatch(/positive total power/);
  });
});
