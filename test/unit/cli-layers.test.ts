/**
 * `--layer NAME` on every client command: the channel, sidechain, zk and swap commands find their
 * endpoints from the running devnet's layer list ($STRATA_HOME/devnet.json), explicit URLs still
 * win, a layer of the wrong kind or an unknown one is refused naming what exists.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerChainCommands } from '../../packages/cli/src/commands/chain.js';
import { channelNodeRpc, registerChannelCommands, swapEndpoints } from '../../packages/cli/src/commands/channels.js';
import { registerSidechainCommands, sidechainParentRpc } from '../../packages/cli/src/commands/sidechain.js';
import { registerZkCommands, zkEndpoints } from '../../packages/cli/src/commands/zk.js';
import { registerAppCommands } from '../../packages/cli/src/commands/apps.js';
import { registerBridgeCommands } from '../../packages/cli/src/commands/bridge.js';
import { registerRollupCommands } from '../../packages/cli/src/commands/rollup.js';

const saved = { home: process.env.STRATA_HOME, rpc: process.env.STRATA_RPC, zk: process.env.STRATA_ZK_RPC, l2: process.env.STRATA_L2_RPC };
const u = (port: number) => `http://127.0.0.1:${port}`;
beforeAll(() => {
  const home = mkdtempSync(join(tmpdir(), 'strata-home-'));
  process.env.STRATA_HOME = home;
  delete process.env.STRATA_RPC;
  delete process.env.STRATA_ZK_RPC;
  delete process.env.STRATA_L2_RPC;
  // A devnet on port base 16000 with renamed layers, as `strata devnet --port 16000 --topology …` writes it.
  const layers = [
    { name: 'base', kind: 'l1', parent: null, rpc: u(16000), ws: '' },
    { name: 'op', kind: 'optimistic', parent: 'base', rpc: u(16001), ws: '' },
    { name: 'app', kind: 'l3', parent: 'op', rpc: u(16002), ws: '' },
    { name: 'validity', kind: 'zk', parent: 'base', rpc: u(16003), ws: '' },
    { name: 'ln', kind: 'channels', parent: 'base', rpc: u(16020), ws: '', members: [{ name: 'alice', rpc: u(16020) }, { name: 'bob', rpc: u(16021) }, { name: 'carol', rpc: u(16022) }] },
    { name: 'bft', kind: 'sidechain', parent: 'base', rpc: u(16030), ws: '' },
  ];
  writeFileSync(join(home, 'devnet.json'), JSON.stringify({ pid: process.pid, layers }));
});
afterAll(() => {
  for (const [k, v] of [['STRATA_HOME', saved.home], ['STRATA_RPC', saved.rpc], ['STRATA_ZK_RPC', saved.zk], ['STRATA_L2_RPC', saved.l2]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('--layer on channel, sidechain, zk and swap', () => {
  it('zk: the zk layer and its parent; explicit URLs win; a wrong kind is refused', () => {
    expect(zkEndpoints({})).toEqual({ zkRpc: u(16003), l1Rpc: u(16000) });
    expect(zkEndpoints({ layer: 'validity' })).toEqual({ zkRpc: u(16003), l1Rpc: u(16000) });
    expect(zkEndpoints({ layer: 'validity', zkRpc: 'http://x:1' })).toEqual({ zkRpc: 'http://x:1', l1Rpc: u(16000) });
    expect(() => zkEndpoints({ layer: 'op' })).toThrow(/--layer op is a optimistic layer; this command needs a layer of kind zk \(the running devnet: validity\)/);
    expect(() => zkEndpoints({ layer: 'nope' })).toThrow(/no such layer; it has base \(l1\), op \(optimistic\)/);
  });

  it('channel: node --node of the channels layer', () => {
    expect(channelNodeRpc({ node: 'alice' })).toBe(u(16020));
    expect(channelNodeRpc({ node: 'carol', layer: 'ln' })).toBe(u(16022));
    expect(channelNodeRpc({ node: 'bob', layer: 'ln', nodeRpc: 'http://y:2' })).toBe('http://y:2');
    expect(() => channelNodeRpc({ node: 'dave', layer: 'ln' })).toThrow(/--node must be one of alice, bob, carol on layer ln/);
    expect(() => channelNodeRpc({ node: 'alice', layer: 'bft' })).toThrow(/needs a layer of kind channels/);
  });

  it('swap: a rollup layer against its parent (the L3 swaps with the L2)', () => {
    expect(swapEndpoints({})).toMatchObject({ l1Rpc: u(16000), l2Rpc: u(16001), names: ['base', 'op'] });
    expect(swapEndpoints({ layer: 'app' })).toMatchObject({ l1Rpc: u(16001), l2Rpc: u(16002), names: ['op', 'app'] });
    expect(() => swapEndpoints({ layer: 'validity' })).toThrow(/needs a layer of kind optimistic or l3/);
  });

  it('sidechain: a sidechain layer means its parent; a chain layer is used itself', () => {
    expect(sidechainParentRpc({})).toBe(u(16000));
    expect(sidechainParentRpc({ layer: 'bft' })).toBe(u(16000));
    expect(sidechainParentRpc({ layer: 'op' })).toBe(u(16001));
    expect(sidechainParentRpc({ layer: 'bft', rpc: 'http://z:3' })).toBe('http://z:3');
    expect(() => sidechainParentRpc({ layer: 'ln' })).toThrow(/needs a layer of kind sidechain or l1/);
  });

  it('every client command has --layer', () => {
    const program = new Command();
    registerChainCommands(program);
    registerBridgeCommands(program);
    registerRollupCommands(program);
    registerAppCommands(program);
    registerChannelCommands(program);
    registerSidechainCommands(program);
    registerZkCommands(program);
    // Servers and local-only commands: they run something, they do not talk to a layer.
    const notClients = new Set(['account new', 'account list', 'channel node', 'channel watchtower', 'zk setup', 'zk prover', 'sidechain launch', 'rollup sequencer', 'rollup batcher', 'rollup proposer', 'rollup challenger', 'rollup verifier', 'rollup node']);
    const missing: string[] = [];
    const walk = (c: Command, path: string[]) => {
      if (c.commands.length === 0) {
        const name = path.join(' ');
        if (!notClients.has(name) && !c.options.some((o) => o.long === '--layer')) missing.push(name);
      }
      for (const s of c.commands) walk(s, [...path, s.name()]);
    };
    for (const c of program.commands) walk(c, [c.name()]);
    expect(missing).toEqual([]);
  });
});
