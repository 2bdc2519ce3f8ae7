/**
 * Which layer each of a list of RPC endpoints is, and which of them is its parent, asked from the
 * chains themselves (`strata explorer --rpc URL…`, where no devnet file says it):
 * - an optimistic rollup answers `rollup_getConfig` (its `rollupId`); its parent is the endpoint
 *   that hosts that rollup's settlement modules, i.e. answers `rollup_inbox [rollupId]` (an L1
 *   hosting the L2, or an L2 hosting an L3; any other chain refuses the id);
 * - a ZK-rollup answers `zk_info` with its `l1ChainId`;
 * - a sidechain answers `sidechain_info` with its `parentChainId`;
 * - a channel node answers `channel_getInfo` with the `chainId` of the chain its channels are on;
 * - any other chain (`chain_getConfig` only) is a root.
 * Chain ids are matched against what each endpoint's `chain_getConfig` reports.
 * {@link buildLayerTree} is the pure part, tested on its own; {@link discoverLayers} does the I/O.
 */
import { StrataError } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { type ExplorerLayer, kindIs } from './indexer.js';

/** What one endpoint said about itself. */
export interface EndpointProbe {
  /** `name=` given by the user, if any. */
  name?: string;
  rpc: string;
  /** `chain_getConfig`'s chain id, when it answers it. */
  chainId?: number;
  /** What it is, from the first of the methods above that it answers. */
  role: { kind: 'chain' } | { kind: 'optimistic'; rollupId: number } | { kind: 'zk'; parentChainId: number } | { kind: 'sidechain'; parentChainId: number } | { kind: 'channels'; parentChainId: number };
  /** Indexes (into the probe list) of the endpoints hosting this endpoint's rollup (optimistic only). */
  hostedBy?: number[];
}

const SPEC_NAME = /^([a-z][a-z0-9-]*)=(.+)$/;

/** Splits `name=URL` into its parts (`URL` alone: no name). */
export function parseEndpointSpec(spec: string): { name?: string; rpc: string } {
  const m = spec.match(SPEC_NAME);
  return m ? { name: m[1] as string, rpc: m[2] as string } : { rpc: spec };
}

/**
 * The layers, parents first, each with its parent's name. Names not given are chosen as the
 * devnet's: `l1` for a root chain, `l2` and `l3` for rollups by depth, `zk`, `sidechain`,
 * `channels` (a suffix `-2`, `-3`… when taken). An optimistic rollup whose parent is itself a
 * rollup has kind `l3`. Throws INVALID_ARGUMENT when a layer's parent is not among the
 * endpoints, or two endpoints both claim to be it.
 */
export function buildLayerTree(probes: EndpointProbe[]): ExplorerLayer[] {
  const parentOf = probes.map((p, i): number | null => {
    const r = p.role;
    if (r.kind === 'chain') return null;
    if (r.kind === 'optimistic') {
      const hosts = (p.hostedBy ?? []).filter((h) => h !== i);
      if (hosts.length === 1) return hosts[0] as number;
      if (hosts.length === 0) throw new StrataError('INVALID_ARGUMENT', `--rpc ${p.rpc} is optimistic rollup ${r.rollupId}, but none of the other endpoints hosts it (answers rollup_inbox ${r.rollupId}); pass its parent's RPC too`);
      throw new StrataError('INVALID_ARGUMENT', `--rpc ${p.rpc}: rollup ${r.rollupId} is hosted by more than one endpoint (${hosts.map((h) => probes[h]?.rpc).join(', ')})`);
    }
    const want = r.parentChainId;
    const hosts = probes.map((q, j) => (j !== i && q.chainId === want && q.role.kind !== 'zk' && q.role.kind !== 'channels' ? j : -1)).filter((j) => j >= 0);
    const what = r.kind === 'channels' ? 'channel node on chain' : `${r.kind} on parent chain`;
    if (hosts.length === 1) return hosts[0] as number;
    if (hosts.length === 0) throw new StrataError('INVALID_ARGUMENT', `--rpc ${p.rpc} is a ${what} ${want}, but none of the other endpoints is chain ${want}; pass its RPC too`);
    throw new StrataError('INVALID_ARGUMENT', `--rpc ${p.rpc}: more than one endpoint is chain ${want} (${hosts.map((h) => probes[h]?.rpc).join(', ')})`);
  });
  // Depth from the roots (a cycle cannot happen: a parent hosts its child's modules, and chain
  // ids are matched to chains, but a bad endpoint could still claim one: refuse it).
  const depth = (i: number, seen = new Set<number>()): number => {
    if (seen.has(i)) throw new StrataError('INVALID_ARGUMENT', `--rpc ${probes[i]?.rpc}: its parents form a cycle`);
    seen.add(i);
    const p = parentOf[i];
    return p === null || p === undefined ? 0 : depth(p, seen) + 1;
  };
  const depths = probes.map((_p, i) => depth(i));
  const kinds = probes.map((p, i): string => {
    const r = p.role;
    if (r.kind === 'chain') return 'l1';
    if (r.kind !== 'optimistic') return r.kind;
    const parent = parentOf[i] as number;
    return (probes[parent] as EndpointProbe).role.kind === 'optimistic' ? 'l3' : 'optimistic';
  });
  const taken = new Set(probes.map((p) => p.name).filter((n): n is string => n !== undefined));
  const names = probes.map((p, i): string => {
    if (p.name) return p.name;
    const kind = kinds[i] as string;
    const base = kindIs(kind, 'optimistic') || kind === 'l1' ? `l${(depths[i] as number) + 1}` : kind;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  });
  const order = probes.map((_p, i) => i).sort((a, b) => (depths[a] as number) - (depths[b] as number) || a - b);
  return order.map((i) => {
    const p = probes[i] as EndpointProbe;
    const parent = parentOf[i];
    return { name: names[i] as string, kind: kinds[i] as string, parent: parent === null || parent === undefined ? null : (names[parent] as string), rpc: p.rpc, ws: p.rpc.replace(/^http/, 'ws') };
  });
}

async function answers<T>(client: RpcClient, method: string, params: unknown[] = []): Promise<T | undefined> {
  try {
    return await client.call<T>(method, params);
  } catch (e) {
    if ((e as { code?: string }).code === 'NETWORK') throw e;
    return undefined; // method not found, unknown rollup id, …
  }
}

/** Asks every endpoint what it is (see the module comment) and builds the tree. */
export async function discoverLayers(specs: string[], opts: { timeoutMs?: number } = {}): Promise<ExplorerLayer[]> {
  const parsed = specs.map(parseEndpointSpec);
  const clients = parsed.map((s) => new RpcClient(s.rpc, { timeoutMs: opts.timeoutMs ?? 3000 }));
  const probes = await Promise.all(
    parsed.map(async (s, i): Promise<EndpointProbe> => {
      const c = clients[i] as RpcClient;
      try {
        const [cfg, rollup, zk, sidechain, channels] = await Promise.all([
          answers<{ chainId: string }>(c, 'chain_getConfig'),
          answers<{ rollupId: number }>(c, 'rollup_getConfig'),
          answers<{ l1ChainId: number }>(c, 'zk_info'),
          answers<{ parentChainId: number }>(c, 'sidechain_info'),
          answers<{ chainId: number }>(c, 'channel_getInfo'),
        ]);
        const chainId = cfg ? Number(BigInt(cfg.chainId)) : undefined;
        const role: EndpointProbe['role'] = rollup
          ? { kind: 'optimistic', rollupId: rollup.rollupId }
          : zk
            ? { kind: 'zk', parentChainId: zk.l1ChainId }
            : sidechain
              ? { kind: 'sidechain', parentChainId: sidechain.parentChainId }
              : channels
                ? { kind: 'channels', parentChainId: channels.chainId }
                : { kind: 'chain' };
        if (!cfg && role.kind === 'chain') throw new StrataError('INVALID_ARGUMENT', `--rpc ${s.rpc}: the endpoint answers none of chain_getConfig, rollup_getConfig, zk_info, sidechain_info, channel_getInfo: not a Strata chain`);
        return { ...(s.name ? { name: s.name } : {}), rpc: s.rpc, ...(chainId !== undefined ? { chainId } : {}), role };
      } catch (e) {
        if ((e as { code?: string }).code === 'NETWORK') throw new StrataError('NETWORK', `--rpc ${s.rpc}: no chain answers there (${(e as Error).message})`);
        throw e;
      }
    }),
  );
  // Who hosts each optimistic rollup: ask every chain endpoint for its inbox.
  await Promise.all(
    probes.map(async (p, i) => {
      const r = p.role;
      if (r.kind !== 'optimistic') return;
      const hosts = await Promise.all(
        probes.map(async (q, j) => (j !== i && q.chainId !== undefined && (q.role.kind === 'chain' || q.role.kind === 'optimistic' || q.role.kind === 'sidechain') && (await answers(clients[j] as RpcClient, 'rollup_inbox', [r.rollupId])) !== undefined ? j : -1)),
      );
      p.hostedBy = hosts.filter((j) => j >= 0);
    }),
  );
  return buildLayerTree(probes);
}
