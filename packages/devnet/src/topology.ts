/**
 * The devnet's topology: which layers run, how many nodes each has, and which chain each
 * settles to. `strata devnet` starts {@link DEFAULT_TOPOLOGY} (every layer built) unless
 * `--topology FILE` (TOML or JSON) says otherwise. The parser is pure and checks the whole
 * description before anything starts: unknown kinds, missing parents, cycles, duplicate names,
 * a parent of the wrong kind, and unknown settings are errors that name the layer.
 *
 * A new layer kind plugs in with one entry in {@link LAYER_KINDS} (what it may sit on, its
 * settings) and its start-up in devnet.ts.
 *
 * ```toml
 * [[layer]]
 * name = "l1"
 * kind = "l1"
 * nodes = 1
 *
 * [[layer]]
 * name = "l2"
 * kind = "optimistic"
 * parent = "l1"
 * challengeWindow = 10
 * ```
 */
import { StrataError } from '@strata/primitives';
import type { DevnetOptions } from './devnet.js';
import { DEVNET_ZK_BATCH, DEVNET_ZK_DEPTH } from './zk-circuit.js';

/** One layer of a topology. */
export interface LayerSpec {
  /** Unique name (`l1`, `l2`, …): the banner's, the explorer's and `--layer NAME`'s. */
  name: string;
  /** What it is: a key of {@link LAYER_KINDS}. */
  kind: string;
  /** The layer it settles to; absent only for the root L1. */
  parent?: string;
  /** Nodes of this layer (default 1). */
  nodes: number;
  /** Kind-specific settings (checked against the kind's list). */
  settings: Record<string, unknown>;
}

/** A checked topology: layers in start order (every parent before its children). */
export interface Topology {
  layers: LayerSpec[];
}

/** What the devnet knows about a kind of layer. */
export interface LayerKind {
  /** One line for messages and the banner. */
  description: string;
  /** Kinds this kind may settle to; empty for a root chain. */
  parents: string[];
  /** Allowed settings with a one-line meaning each. */
  settings: Record<string, string>;
  /** Most nodes of this kind the devnet can run. */
  maxNodes: number;
}

/** Every kind of layer the devnet can start. Other layers add their entry here. */
export const LAYER_KINDS: Record<string, LayerKind> = {
  l1: {
    description: 'proof-of-work L1 (dev sealing with one node, real PoW miners over libp2p with more)',
    parents: [],
    settings: { blockTime: 'seconds between blocks (0: a block per transaction batch)' },
    maxNodes: 16,
  },
  optimistic: {
    description: 'optimistic rollup (sequencer, batcher, proposer, challenger; fraud proofs by bisection)',
    parents: ['l1'],
    settings: { challengeWindow: 'challenge window in parent blocks', maliciousProposer: 'post a wrong output root now and then', blockTimeMs: 'L2 block interval (ms)' },
    maxNodes: 1,
  },
  l3: {
    description: 'L3 app chain: an optimistic rollup (token + AMM) whose parent is the optimistic L2; its batches, roots and disputes live on the L2',
    parents: ['optimistic'],
    settings: { challengeWindow: 'challenge window in L2 blocks', blockTimeMs: 'L3 block interval (ms)' },
    maxNodes: 1,
  },
  zk: {
    description: 'ZK-rollup (operator + Groth16 provers; one validity proof per batch checked on the parent); nodes = prover processes',
    parents: ['l1'],
    settings: { stall: 'the operator stops proving (watch exodus happen)', depth: 'account tree depth of the circuit (default 20; small ones set up in seconds)', batchSize: 'operations per proof (default 2)' },
    maxNodes: 4,
  },
  channels: {
    description: 'payment-channel network (Alice, Bob, Carol: two funded channels, HTLC payments, watchtower)',
    parents: ['l1'],
    settings: {},
    maxNodes: 3,
  },
  sidechain: {
    description: 'BFT sidechain (Tendermint-style validators staked on the parent, checkpoints signed by a quorum)',
    parents: ['l1'],
    settings: {},
    maxNodes: 16,
  },
};

/** The embedded default: every layer built so far. */
export const DEFAULT_TOPOLOGY: Topology = {
  layers: [
    { name: 'l1', kind: 'l1', nodes: 1, settings: {} },
    { name: 'l2', kind: 'optimistic', parent: 'l1', nodes: 1, settings: {} },
    { name: 'l3', kind: 'l3', parent: 'l2', nodes: 1, settings: {} },
    { name: 'zk', kind: 'zk', parent: 'l1', nodes: 1, settings: {} },
    { name: 'channels', kind: 'channels', parent: 'l1', nodes: 3, settings: {} },
    { name: 'sidechain', kind: 'sidechain', parent: 'l1', nodes: 4, settings: {} },
  ],
};

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const FIELDS = new Set(['name', 'kind', 'parent', 'nodes']);

function bad(message: string, meta: Record<string, unknown> = {}): never {
  throw new StrataError('CONFIG_INVALID', `topology: ${message}`, meta);
}

/**
 * Checks a topology description (the parsed TOML/JSON: `{ layer: [...] }` or `{ layers: [...] }`)
 * and returns it with parents ordered before children. Throws CONFIG_INVALID naming the fault.
 */
export function parseTopology(data: unknown, kinds: Record<string, LayerKind> = LAYER_KINDS): Topology {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) bad('must be an object with a "layer" (TOML [[layer]]) or "layers" list');
  const o = data as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'layer' && k !== 'layers') bad(`unknown top-level key "${k}"; expected "layer" or "layers"`);
  const list = o.layers ?? o.layer;
  if (!Array.isArray(list) || list.length === 0) bad('needs at least one layer ([[layer]] in TOML, "layers": [...] in JSON)');
  const specs: LayerSpec[] = [];
  const byName = new Map<string, LayerSpec>();
  for (const [i, raw] of (list as unknown[]).entries()) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad(`layer ${i + 1} must be a table/object`);
    const l = raw as Record<string, unknown>;
    const name = l.name;
    if (typeof name !== 'string' || !NAME.test(name)) bad(`layer ${i + 1}: "name" must be lower-case letters, digits and dashes, starting with a letter (got ${JSON.stringify(name)})`);
    if (byName.has(name)) bad(`two layers are named "${name}"`, { layer: name });
    const kind = l.kind;
    if (typeof kind !== 'string' || !(kind in kinds)) {
      bad(`layer "${name}": unknown kind ${JSON.stringify(kind)}; known kinds: ${Object.keys(kinds).join(', ')}`, { layer: name, kind });
    }
    const k = kinds[kind] as LayerKind;
    const parent = l.parent;
    if (parent !== undefined && (typeof parent !== 'string' || parent === '')) bad(`layer "${name}": "parent" must be a layer name`, { layer: name });
    if (k.parents.length === 0 && parent !== undefined) bad(`layer "${name}": a ${kind} layer is a root chain and has no parent (got parent "${parent}")`, { layer: name });
    if (k.parents.length > 0 && parent === undefined) bad(`layer "${name}": a ${kind} layer needs a parent (one of kind ${k.parents.join(' or ')})`, { layer: name });
    const nodes = l.nodes ?? 1;
    if (typeof nodes !== 'number' || !Number.isInteger(nodes) || nodes < 1 || nodes > k.maxNodes) bad(`layer "${name}": "nodes" must be a whole number from 1 to ${k.maxNodes}`, { layer: name });
    const settings: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(l)) {
      if (FIELDS.has(key)) continue;
      if (!(key in k.settings)) bad(`layer "${name}": unknown setting "${key}" for a ${kind} layer; known: ${Object.keys(k.settings).join(', ') || 'none'}`, { layer: name });
      settings[key] = v;
    }
    const spec: LayerSpec = { name, kind, nodes, settings, ...(parent !== undefined ? { parent } : {}) };
    specs.push(spec);
    byName.set(name, spec);
  }
  for (const s of specs) {
    if (s.parent === undefined) continue;
    const p = byName.get(s.parent);
    if (!p) bad(`layer "${s.name}": parent "${s.parent}" is not a layer of this topology (layers: ${specs.map((x) => x.name).join(', ')})`, { layer: s.name, parent: s.parent });
  }
  // Cycles: walk up from every layer; a walk that meets itself is a cycle.
  for (const s of specs) {
    const path = [s.name];
    let cur = s;
    while (cur.parent !== undefined) {
      if (path.includes(cur.parent)) bad(`cycle: ${[...path.slice(path.indexOf(cur.parent)), cur.parent].join(' → ')}`, { cycle: path });
      path.push(cur.parent);
      cur = byName.get(cur.parent) as LayerSpec;
    }
  }
  for (const s of specs) {
    if (s.parent === undefined) continue;
    const p = byName.get(s.parent) as LayerSpec;
    const allowed = (kinds[s.kind] as LayerKind).parents;
    if (!allowed.includes(p.kind)) bad(`layer "${s.name}": a ${s.kind} layer settles to a layer of kind ${allowed.join(' or ')}, not to "${p.name}" (${p.kind})`, { layer: s.name });
  }
  const roots = specs.filter((s) => s.parent === undefined);
  if (roots.length !== 1) bad(`needs exactly one root chain (a layer without parent), found ${roots.length}: ${roots.map((r) => r.name).join(', ')}`);
  // Start order: parents first (a breadth-first walk from the root).
  const ordered: LayerSpec[] = [];
  const queue = [roots[0] as LayerSpec];
  while (queue.length > 0) {
    const s = queue.shift() as LayerSpec;
    ordered.push(s);
    for (const c of specs) if (c.parent === s.name) queue.push(c);
  }
  return { layers: ordered };
}

/** Parses a topology file's text: TOML when the name ends in .toml, else JSON. */
export async function parseTopologyText(text: string, fileName: string): Promise<Topology> {
  let data: unknown;
  try {
    if (fileName.endsWith('.toml')) {
      const { parse } = await import('smol-toml');
      data = parse(text);
    } else data = JSON.parse(text);
  } catch (e) {
    throw new StrataError('CONFIG_INVALID', `topology file ${fileName} is not valid ${fileName.endsWith('.toml') ? 'TOML' : 'JSON'}: ${(e as Error).message}`);
  }
  return parseTopology(data);
}

/** The layer of `kind` in a topology, if any (the devnet runs at most one of some kinds today). */
export function layerOfKind(t: Topology, kind: string): LayerSpec | undefined {
  return t.layers.find((l) => l.kind === kind);
}

/**
 * The devnet options a topology stands for: the L1's node count and block time, and each
 * layer's settings (the optimistic rollup's window, malicious proposer, block time). Layers it
 * does not list are not started: ZK (`zk`, nodes = provers) and the L3 (`l3`, parent the
 * optimistic layer) are topology kinds like the others.
 */
export function applyTopology(opts: DevnetOptions, t: Topology): DevnetOptions {
  const l1 = t.layers.find((l) => l.kind === 'l1') as LayerSpec;
  const op = layerOfKind(t, 'optimistic');
  const num = (l: LayerSpec, k: string): number | undefined => {
    const v = l.settings[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= 0)) throw new StrataError('CONFIG_INVALID', `topology: layer "${l.name}": ${k} must be a non-negative number`, { layer: l.name });
    return v;
  };
  const out: DevnetOptions = { ...opts, l1Nodes: l1.nodes };
  const bt = num(l1, 'blockTime');
  if (bt !== undefined) out.blockTimeSeconds = bt;
  if (!op) out.rollup = false;
  else {
    const cw = num(op, 'challengeWindow');
    const bms = num(op, 'blockTimeMs');
    out.rollup = {
      ...(opts.rollup || {}),
      ...(cw !== undefined ? { challengeWindow: cw } : {}),
      ...(bms !== undefined ? { blockTimeMs: bms } : {}),
      ...(op.settings.maliciousProposer === true ? { maliciousProposer: true } : {}),
    };
  }
  const l3 = layerOfKind(t, 'l3');
  if (!l3) out.l3 = false;
  else {
    const cw = num(l3, 'challengeWindow');
    const bms = num(l3, 'blockTimeMs');
    out.l3 = { ...(opts.l3 || {}), ...(cw !== undefined ? { challengeWindow: cw } : {}), ...(bms !== undefined ? { blockTimeMs: bms } : {}) };
  }
  const zk = layerOfKind(t, 'zk');
  if (zk) {
    const depth = num(zk, 'depth');
    const batchSize = num(zk, 'batchSize');
    const base = opts.zk || {};
    const circuit = depth !== undefined || batchSize !== undefined ? { depth: depth ?? base.circuit?.depth ?? DEVNET_ZK_DEPTH, batchSize: batchSize ?? base.circuit?.batchSize ?? DEVNET_ZK_BATCH } : base.circuit;
    if (circuit && (circuit.depth < 2 || circuit.depth > 24 || circuit.batchSize < 1 || circuit.batchSize > 64))
      throw new StrataError('CONFIG_INVALID', `topology: layer "${zk.name}": depth must be 2..24 and batchSize 1..64`, { layer: zk.name });
    out.zk = { ...base, provers: zk.nodes, ...(zk.settings.stall === true ? { stall: true } : {}), ...(circuit ? { circuit } : {}) };
  } else out.zk = false;
  const ch = layerOfKind(t, 'channels');
  const sc = layerOfKind(t, 'sidechain');
  out.channels = !!ch;
  out.sidechain = sc ? { ...(opts.sidechain || {}), validators: sc.nodes } : false;
  if (ch && ch.nodes !== 3) throw new StrataError('CONFIG_INVALID', `topology: layer "${ch.name}": the devnet's channel network has 3 nodes (Alice, Bob, Carol)`, { layer: ch.name });
  if (op && l1.nodes > 1) throw new StrataError('CONFIG_INVALID', `topology: layer "${op.name}" needs a one-node L1 for now (the extra L1 processes run the bank module only); set nodes = 1 on "${l1.name}" or drop "${op.name}"`);
  for (const other of [l3, zk, ch, sc]) {
    if (other && l1.nodes > 1) throw new StrataError('CONFIG_INVALID', `topology: layer "${other.name}" needs a one-node L1 for now (the extra L1 processes run the bank module only); set nodes = 1 on "${l1.name}" or drop "${other.name}"`, { layer: other.name });
  }
  for (const kind of ['l3', 'zk', 'channels', 'sidechain']) {
    if (t.layers.filter((l) => l.kind === kind).length > 1) throw new StrataError('CONFIG_INVALID', `topology: the devnet runs one ${kind} layer for now`);
  }
  if (t.layers.filter((l) => l.kind === 'optimistic').length > 1) throw new StrataError('CONFIG_INVALID', 'topology: the devnet runs one optimistic rollup for now');
  return out;
}
