/** The devnet topology parser: the default, TOML and JSON files, and every kind of mistake named. */
import { describe, expect, it } from 'vitest';
import { applyTopology, DEFAULT_TOPOLOGY, parseTopology, parseTopologyText } from '@strata/devnet';

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
    expect(parseTopology({ layers: DEFAULT_TOPOLOGY.layers.map(({ settings, ...l }) => ({ ...l, ...settings })) }).layers.map((l) => `${l.name}:${l.kind}:${l.parent ?? '-'}`)).toEqual(['l1:l1:-', 'l2:optimistic:l1', 'channels:channels:l1', 'sidechain:sidechain:l1']);
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
