/** The layer tree `strata explorer --rpc` builds from what each endpoint says about itself. */
import { buildLayerTree, type EndpointProbe, parseEndpointSpec } from '@strata/explorer';
import { describe, expect, it } from 'vitest';

const L1: EndpointProbe = { rpc: 'http://h:1', chainId: 1337, role: { kind: 'chain' } };
const L2: EndpointProbe = { rpc: 'http://h:2', chainId: 901, role: { kind: 'optimistic', rollupId: 901 } };
const L3: EndpointProbe = { rpc: 'http://h:3', chainId: 902, role: { kind: 'optimistic', rollupId: 902 } };
const tree = (ps: EndpointProbe[]) => buildLayerTree(ps).map((l) => `${l.name}:${l.kind}<${l.parent ?? '-'}`);

describe('buildLayerTree', () => {
  it('every layer kind under its own parent, whatever the order given', () => {
    const probes: EndpointProbe[] = [
      { ...L3, hostedBy: [4] },
      { rpc: 'http://h:5', role: { kind: 'zk', parentChainId: 1337 } },
      { rpc: 'http://h:6', role: { kind: 'channels', parentChainId: 901 } }, // channels on the L2
      { rpc: 'http://h:7', chainId: 1437, role: { kind: 'sidechain', parentChainId: 1337 } },
      { ...L2, hostedBy: [5] },
      L1,
    ];
    expect(tree(probes)).toEqual(['l1:l1<-', 'zk:zk<l1', 'sidechain:sidechain<l1', 'l2:optimistic<l1', 'l3:l3<l2', 'channels:channels<l2']);
  });

  it('two roots get distinct names; user names are kept', () => {
    expect(tree([L1, { ...L1, rpc: 'http://h:9', chainId: 7 }])).toEqual(['l1:l1<-', 'l1-2:l1<-']);
    expect(tree([{ ...L1, name: 'base' }, { ...L2, hostedBy: [0] }])).toEqual(['base:l1<-', 'l2:optimistic<base']);
  });

  it('refuses a layer whose parent is not given, or claimed twice', () => {
    expect(() => buildLayerTree([L1, { ...L3, hostedBy: [] }])).toThrow(/optimistic rollup 902, but none of the other endpoints hosts it/);
    expect(() => buildLayerTree([L1, { ...L1, rpc: 'http://h:8' }, { ...L2, hostedBy: [0, 1] }])).toThrow(/hosted by more than one endpoint/);
    expect(() => buildLayerTree([L1, { rpc: 'http://h:5', role: { kind: 'zk', parentChainId: 42 } }])).toThrow(/none of the other endpoints is chain 42/);
    expect(() => buildLayerTree([{ ...L2, hostedBy: [1] }, { ...L3, hostedBy: [0] }])).toThrow(/cycle/);
  });

  it('parses name=URL', () => {
    expect(parseEndpointSpec('l2=http://h:2')).toEqual({ name: 'l2', rpc: 'http://h:2' });
    expect(parseEndpointSpec('http://h:2')).toEqual({ rpc: 'http://h:2' });
  });
});
