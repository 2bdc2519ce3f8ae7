/** The devnet topology parser: the default, TOML and JSON files, and every kind of mistake named. */
import { describe, expect, it } from 'vitest';
import { applyTopology, DEFAULT_TOPOLOGY, parseTopology, parseTopologyText } from '@strata/devnet';
import { topologyOf } from '../../packages/cli/src/commands/devnet.js';

const err = (data: unknown): string => {
  try {
    parseTopology(data);
  } catch (e) {
    expect((e as { code: string }).code).toBe('CONFIG_INVALID');
    return (e as Error).message;
  }
  throw new Error('parsed, but should not have');
};

describe('topology', () => {
  it('the default has every layer built, parents first', () => {
    expect(parseTopology({ layers: DEFAULT_TOPOLOGY.layers.map(({ settings, ...l }) => ({ ...l, ...settings })) }).layers.map((l) => `${l.name}:${l.kind}:${l.parent ?? '-'}`)).toEqual(['l1:l1:-', 'l2:optimistic:l1', 'zk:zk:l1', 'channels:channels:l1', 'sidechain:sidechain:l1', 'l3:l3:l2']);
  });

  it('describes the ZK-rollup and the L3 as layers: kinds, parents, prover count, settings', async () => {
    const toml = `[[layer]]\nname = "base"\nkind = "l1"\n\n[[layer]]\nname = "op"\nkind = "optimistic"\nparent = "base"\n\n[[layer]]\nname = "app"\nkind = "l3"\nparent = "op"\nchallengeWindow = 7\nblockTimeMs = 300\n\n[[layer]]\nname = "validity"\nkind = "zk"\nparent = "base"\nnodes = 2\nstall = true\n`;
    const t = await parseTopologyText(toml, 'all.toml');
    expect(t.layers.map((l) => `${l.name}:${l.kind}:${l.parent ?? '-'}`)).toEqual(['base:l1:-', 'op:optimistic:base', 'validity:zk:base', 'app:l3:op']);
    const o = applyTopology({ zk: { heartbeat: false } }, t);
    expect(o.zk).toEqual({ heartbeat: false, provers: 2, stall: true });
    expect(o.l3).toEqual({ challengeWindow: 7, blockTimeMs: 300 });
    // Leaving them out of the file leaves them out of the devnet.
    const bare = applyTopology({ zk: {} }, parseTopology({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'l2', kind: 'optimistic', parent: 'l1' }] }));
    expect(bare.zk).toBe(false);
    expect(bare.l3).toBe(false);
    // The default starts both.
    const def = applyTopology({}, DEFAULT_TOPOLOGY);
    expect(def.zk).toEqual({ provers: 1 });
    expect(def.l3).toEqual({});
    // An L3 settles to an optimistic rollup, not to the L1 or the ZK-rollup.
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'l3', kind: 'l3', parent: 'l1' }] })).toMatch(/layer "l3": a l3 layer settles to a layer of kind optimistic, not to "l1" \(l1\)/);
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'zk', kind: 'zk', parent: 'l1', nodes: 9 }] })).toMatch(/"nodes" must be a whole number from 1 to 4/);
    expect(() => applyTopology({}, parseTopology({ layers: [{ name: 'l1', kind: 'l1', nodes: 3 }, { name: 'zk', kind: 'zk', parent: 'l1' }] }))).toThrow(/layer "zk" needs a one-node L1/);
  });

  it('the --no-* flags still drop layers, with their children; --zk-stall reaches the ZK layer', async () => {
    const flags = { l1Nodes: 1, blockTime: 0, rollup: true, sidechain: true, channels: true, zk: true, l3: true };
    const names = async (f: Partial<typeof flags> & { zkStall?: boolean }) => (await topologyOf({ ...flags, ...f })).layers.map((l) => l.name);
    expect(await names({})).toEqual(['l1', 'l2', 'l3', 'zk', 'channels', 'sidechain']);
    expect(await names({ zk: false })).toEqual(['l1', 'l2', 'l3', 'channels', 'sidechain']);
    expect(await names({ l3: false })).toEqual(['l1', 'l2', 'zk', 'channels', 'sidechain']);
    expect(await names({ rollup: false })).toEqual(['l1', 'zk', 'channels', 'sidechain']);
    expect(await names({ l1Nodes: 3 })).toEqual(['l1']);
    const stalled = await topologyOf({ ...flags, zkStall: true });
    expect(stalled.layers.find((l) => l.kind === 'zk')?.settings).toEqual({ stall: true });
    expect(applyTopology({}, stalled).zk).toEqual({ provers: 1, stall: true });
  });

  it('reads TOML and JSON, orders parents first, keeps settings', async () => {
    const toml = `[[layer]]\nname = "rollup"\nkind = "optimistic"\nparent = "base"\nchallengeWindow = 4\nmaliciousProposer = true\n\n[[layer]]\nname = "base"\nkind = "l1"\n`;
    const t = await parseTopologyText(toml, 'x.toml');
    expect(t.layers.map((l) => l.name)).toEqual(['base', 'rollup']);
    expect(t.layers[1]?.settings).toEqual({ challengeWindow: 4, maliciousProposer: true });
    const j = await parseTopologyText(JSON.stringify({ layers: [{ name: 'l1', kind: 'l1', blockTime: 2 }] }), 'x.json');
    const opts = applyTopology({}, j);
    expect(opts.rollup).toBe(false);
    expect(opts.blockTimeSeconds).toBe(2);
    expect(applyTopology({}, t).rollup).toEqual({ challengeWindow: 4, maliciousProposer: true });
  });

  it('rejects an unknown layer kind, naming the known ones', () => {
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'x', kind: 'plasma', parent: 'l1' }] })).toMatch(/layer "x": unknown kind "plasma"; known kinds: l1, optimistic/);
  });

  it('rejects a missing parent', () => {
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'l2', kind: 'optimistic', parent: 'nowhere' }] })).toMatch(/layer "l2": parent "nowhere" is not a layer of this topology \(layers: l1, l2\)/);
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'l2', kind: 'optimistic' }] })).toMatch(/layer "l2": a optimistic layer needs a parent/);
  });

  it('rejects a cycle', () => {
    expect(
      err({
        layers: [
          { name: 'l1', kind: 'l1' },
          { name: 'a', kind: 'optimistic', parent: 'b' },
          { name: 'b', kind: 'optimistic', parent: 'a' },
        ],
      }),
    ).toMatch(/cycle: a → b → a/);
  });

  it('rejects duplicates, bad names, unknown settings, bad node counts, wrong parent kinds, no root', () => {
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'l1', kind: 'l1' }] })).toMatch(/two layers are named "l1"/);
    expect(err({ layers: [{ name: 'L1!', kind: 'l1' }] })).toMatch(/"name" must be lower-case/);
    expect(err({ layers: [{ name: 'l1', kind: 'l1', colour: 'red' }] })).toMatch(/unknown setting "colour" for a l1 layer/);
    expect(err({ layers: [{ name: 'l1', kind: 'l1', nodes: 0 }] })).toMatch(/"nodes" must be a whole number from 1 to 16/);
    expect(err({ layers: [{ name: 'l1', kind: 'l1' }, { name: 'a', kind: 'optimistic', parent: 'l1' }, { name: 'b', kind: 'optimistic', parent: 'a' }] })).toMatch(
      /layer "b": a optimistic layer settles to a layer of kind l1, not to "a" \(optimistic\)/,
    );
    expect(err({ layers: [{ name: 'l1', kind: 'l1', parent: 'x' }] })).toMatch(/root chain and has no parent/);
    expect(err({ layers: [] })).toMatch(/needs at least one layer/);
    expect(err({ layers: [{ name: 'a', kind: 'l1' }, { name: 'b', kind: 'l1' }] })).toMatch(/exactly one root chain/);
    expect(err({ layer: [{ name: 'l1', kind: 'l1' }], extra: 1 })).toMatch(/unknown top-level key "extra"/);
  });

  it('names a file that is not TOML', async () => {
    await expect(parseTopologyText('[[layer]\nname=', 'bad.toml')).rejects.toThrow(/bad.toml is not valid TOML/);
  });
});
