/**
 * `strata bridge status --token` and `strata bridge finalize --token` act on that token's
 * withdrawals only (they listed and finalized every token withdrawal of the account). Run at the
 * CLI level against real RPC servers: the L2 (the L3's parent, serving `rollup_*` for it) and the
 * L3, with two tokens withdrawn L3 → L2 and both ready.
 */
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { APP_CALL_COMPUTE, CreateTokenArgs, getToken, MintTokenArgs, tokenBalance, tokenIdOf, wrappedTokenId } from '@strata/apps';
import {
  BRIDGE_MINTER,
  DepositArgs,
  DepositTokenArgs,
  readOutput,
  readOutputsMeta,
  readTokenWithdrawalState,
  rollupModuleNames,
  rollupParentRpcMethods,
  signL2TokenWithdrawal,
  startL2Rpc,
} from '@strata/optimistic';
import { encode, toHex } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import { registerBridgeCommands } from '../../packages/cli/src/commands/bridge.js';
import { L3World } from '../helpers/l3.js';
import { keys } from '../helpers/optimistic.js';

const alice = keys[0]!;
let world: L3World | undefined;
const servers: RpcServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  world?.close();
  world = undefined;
});

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Runs `strata <args>` in process; returns what it printed and its exit code. */
async function strata(args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command();
  program.exitOverride();
  registerBridgeCommands(program);
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const exit = vi.spyOn(process, 'exit').mockImplementation(((c?: number) => {
    throw new Exit(c ?? 0);
  }) as never);
  try {
    await program.parseAsync(['node', 'strata', ...args]);
    return { out, code: 0 };
  } catch (e) {
    if (e instanceof Exit) return { out, code: e.code };
    throw e;
  } finally {
    write.mockRestore();
    exit.mockRestore();
  }
}

describe('strata bridge status|finalize --token', () => {
  it('list and finalize only the withdrawals of the token named (by its child id or its parent id)', async () => {
    world = new L3World();
    const x = world;
    const n2 = rollupModuleNames(x.w.rollup.rollupId);
    const n3 = rollupModuleNames(x.l3cfg.rollupId);
    for (const k of [alice, keys[1]!, keys[2]!]) await x.w.client.send(k, n2.bridge, 'deposit', encode(DepositArgs, { rollupId: x.w.rollup.rollupId, to: k.address, amount: 10n ** 10n }), 5_000);
    x.w.mine();
    await x.l2Block();
    await x.l2client.send(alice, n3.bridge, 'deposit', encode(DepositArgs, { rollupId: x.l3cfg.rollupId, to: alice.address, amount: 10n ** 9n }), 5_000);
    await x.l2Block();
    // Two L2-native tokens, each deposited to the L3 and withdrawn back.
    const l2Id = x.w.rollup.l2ChainId;
    const tokens: { parent: Uint8Array; child: Uint8Array }[] = [];
    for (const symbol of ['GOLD', 'SILV']) {
      const h = await x.l2client.send(alice, 'token', 'create', encode(CreateTokenArgs, { symbol, decimals: 6, cap: 0n }), APP_CALL_COMPUTE);
      await x.l2Block();
      const id = tokenIdOf(l2Id, h);
      await x.l2client.send(alice, 'token', 'mint', encode(MintTokenArgs, { id, to: alice.address, amount: 10n ** 9n }), APP_CALL_COMPUTE);
      await x.l2Block();
      const t = getToken(x.w.seqNode.chain.reader(), id)!;
      const args = { rollupId: x.l3cfg.rollupId, to: alice.address, token: id, originChainId: t.originChainId, originId: t.originId, symbol, decimals: 6, amount: 10n ** 6n };
      await x.l2client.send(alice, n3.bridge, 'depositToken', encode(DepositTokenArgs, args), 20_000);
      await x.l2Block();
      tokens.push({ parent: id, child: wrappedTokenId(t.originChainId, t.originId, BRIDGE_MINTER) });
    }
    await x.l3Seal();
    for (const t of tokens) {
      expect(tokenBalance(x.seq.chain.reader(), t.child, alice.address)).toBe(10n ** 6n);
      await x.l3Send(signL2TokenWithdrawal(x.seq.env, alice.secretKey, x.seq.nextNonce(alice.address), alice.address, t.child, 10n ** 6n));
    }
    const wdBlock = x.seq.chain.head.number;
    const l2r = () => x.w.seqNode.chain.reader();
    for (let i = 0; i < 60; i++) {
      const m = readOutputsMeta(l2r(), x.l3cfg.rollupId);
      if (m.count > 0 && readOutput(l2r(), x.l3cfg.rollupId, m.count - 1)!.l2Block >= wdBlock) break;
      await x.l3Roles();
    }
    for (let i = 0; i <= x.l3cfg.challengeWindow; i++) await x.l2Batch();
    await x.l2Block();
    await x.seq.syncL1();

    const l2rpc = await startL2Rpc(x.w.seqNode, { host: '127.0.0.1', port: 0 });
    l2rpc.registerAll(rollupParentRpcMethods(x.w.seqNode, [x.l3cfg]));
    const l3rpc = await startL2Rpc(x.seq, { host: '127.0.0.1', port: 0 });
    servers.push(l2rpc, l3rpc);
    const common = ['--token', '', '--layer', 'l3', '--parent-rpc', l2rpc.url, '--child-rpc', l3rpc.url, '--from', toHex(alice.secretKey), '--json'];
    const withToken = (id: Uint8Array) => common.map((a, i) => (i === 1 ? toHex(id) : a));
    const [gold, silv] = tokens as [(typeof tokens)[0], (typeof tokens)[0]];

    const status = async (id: Uint8Array) => {
      const r = await strata(['bridge', 'status', ...withToken(id)]);
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as { id: number; token: string; stage: string }[];
    };
    // By the child's id, or by the parent's: only that token's withdrawal.
    expect(await status(gold.child)).toEqual([expect.objectContaining({ id: 0, token: toHex(gold.parent), stage: 'ready' })]);
    expect(await status(silv.child)).toEqual([expect.objectContaining({ id: 1, token: toHex(silv.parent), stage: 'ready' })]);
    expect(await status(gold.parent)).toEqual([expect.objectContaining({ id: 0 })]);
    expect(await status(new Uint8Array(32).fill(0x77))).toEqual([]);

    // finalize --token GOLD (every ready one of that token): GOLD is paid, SILV is left ready.
    let sealing = true;
    const sealer = (async () => {
      while (sealing) {
        await x.l2Block();
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      const before = tokenBalance(l2r(), gold.parent, alice.address);
      const r = await strata(['bridge', 'finalize', ...withToken(gold.child)]);
      expect(r.code, r.out).toBe(0);
      expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ id: 0 })]);
      expect(tokenBalance(l2r(), gold.parent, alice.address) - before).toBe(10n ** 6n);
      expect(readTokenWithdrawalState(l2r(), x.l3cfg.rollupId, 0).finalized).toBe(true);
      expect(readTokenWithdrawalState(l2r(), x.l3cfg.rollupId, 1).finalized).toBe(false);
      // Nothing of GOLD is left to finalize; SILV still is.
      const again = await strata(['bridge', 'finalize', ...withToken(gold.child)]);
      expect(again.code).toBe(1);
      expect(again.out).toMatch(/already finalized \(#0\)/);
    } finally {
      sealing = false;
      await sealer;
    }
    await x.seq.syncL1();
    expect(await status(silv.child)).toEqual([expect.objectContaining({ id: 1, stage: 'ready' })]);
  }, 120_000);
});
