/**
 * Which endpoint a client command talks to. A running devnet writes its layers to
 * `$STRATA_HOME/devnet.json` (default `~/.strata/devnet.json`; only devnets on fixed ports, not
 * port-0 test devnets); `--layer NAME` picks one of them (`l1`, `l2`, … as the banner names
 * them), `--rpc URL` overrides everything, and without either the L1 default applies.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { StrataError } from '@strata/primitives';

/** One layer of a running devnet, as `strata devnet --json` lists it. */
export interface LayerEndpoint {
  name: string;
  kind: string;
  parent: string | null;
  rpc: string;
  ws: string;
  /** Nodes of the layer with their own RPC (channel nodes, sidechain validators). */
  members?: { name: string; rpc: string }[];
}

/** What a devnet publishes for clients. */
export interface DevnetEndpoints {
  pid: number;
  layers: LayerEndpoint[];
  explorer?: string;
}

/** Default endpoints when no devnet file exists (the devnet's default ports). */
export const DEFAULT_LAYER_RPC: Record<string, string> = { l1: 'http://127.0.0.1:8545', l2: 'http://127.0.0.1:8546', l3: 'http://127.0.0.1:8547', zk: 'http://127.0.0.1:8548' };

/** `$STRATA_HOME` or `~/.strata`. */
export function strataHome(): string {
  return process.env.STRATA_HOME ?? join(homedir(), '.strata');
}

/** The endpoints file of the running devnet, if any (a file left by a dead devnet is ignored). */
export function readDevnetEndpoints(): DevnetEndpoints | undefined {
  try {
    const e = JSON.parse(readFileSync(join(strataHome(), 'devnet.json'), 'utf8')) as DevnetEndpoints;
    try {
      process.kill(e.pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    }
    return e;
  } catch {
    return undefined;
  }
}

/**
 * The RPC URL for a command: `--rpc` if given, else `--layer`'s (default `fallbackLayer`) from
 * the running devnet, else that layer's default port.
 */
export function resolveRpc(flags: { rpc?: string | undefined; layer?: string | undefined }, fallbackLayer = 'l1', envVar = 'STRATA_RPC'): string {
  if (flags.rpc) return flags.rpc;
  const layer = flags.layer ?? fallbackLayer;
  const env = process.env[envVar];
  if (!flags.layer && env) return env;
  const running = readDevnetEndpoints();
  const found = running?.layers.find((l) => l.name === layer);
  if (found) return found.rpc;
  if (running) throw new StrataError('INVALID_ARGUMENT', `--layer ${JSON.stringify(layer)}: the running devnet has no such layer; it has ${running.layers.map((l) => l.name).join(', ')}`);
  const def = DEFAULT_LAYER_RPC[layer];
  if (def) return def;
  throw new StrataError('INVALID_ARGUMENT', `--layer ${JSON.stringify(layer)}: no devnet is running to say where it is; pass --rpc URL`);
}

const LOCAL = 'http://127.0.0.1';
/** The default devnet's layers on its default ports (used when no devnet file says otherwise). */
export const DEFAULT_LAYERS: LayerEndpoint[] = [
  { name: 'l1', kind: 'l1', parent: null, rpc: `${LOCAL}:8545`, ws: 'ws://127.0.0.1:8545' },
  { name: 'l2', kind: 'optimistic', parent: 'l1', rpc: `${LOCAL}:8546`, ws: 'ws://127.0.0.1:8546' },
  { name: 'l3', kind: 'l3', parent: 'l2', rpc: `${LOCAL}:8547`, ws: 'ws://127.0.0.1:8547' },
  { name: 'zk', kind: 'zk', parent: 'l1', rpc: `${LOCAL}:8548`, ws: 'ws://127.0.0.1:8548' },
  {
    name: 'channels',
    kind: 'channels',
    parent: 'l1',
    rpc: `${LOCAL}:8565`,
    ws: 'ws://127.0.0.1:8565',
    members: [
      { name: 'alice', rpc: `${LOCAL}:8565` },
      { name: 'bob', rpc: `${LOCAL}:8566` },
      { name: 'carol', rpc: `${LOCAL}:8567` },
    ],
  },
  { name: 'sidechain', kind: 'sidechain', parent: 'l1', rpc: `${LOCAL}:8575`, ws: 'ws://127.0.0.1:8575' },
];

/** A layer and its parent, for commands that talk to both (zk, swap, sidechain, channel). */
export interface ResolvedLayer {
  layer: LayerEndpoint;
  parent: LayerEndpoint | undefined;
}

/**
 * The layer `--layer NAME` names (default: the running devnet's first layer of `kinds[0]`, else
 * `fallback`), checked to be one of `kinds`, with its parent. From the running devnet's file, or
 * the default devnet's ports when none runs. Throws INVALID_ARGUMENT naming what exists.
 */
export function resolveLayer(name: string | undefined, kinds: string[], fallback: string): ResolvedLayer {
  const running = readDevnetEndpoints();
  const list = running?.layers ?? DEFAULT_LAYERS;
  const want = name ?? list.find((l) => kinds.includes(l.kind))?.name ?? fallback;
  const layer = list.find((l) => l.name === want);
  const where = running ? 'the running devnet' : 'the default devnet (none is running)';
  if (!layer) throw new StrataError('INVALID_ARGUMENT', `--layer ${JSON.stringify(want)}: ${where} has no such layer; it has ${list.map((l) => `${l.name} (${l.kind})`).join(', ')}`);
  if (!kinds.includes(layer.kind)) {
    const fits = list.filter((l) => kinds.includes(l.kind)).map((l) => l.name);
    throw new StrataError('INVALID_ARGUMENT', `--layer ${want} is a ${layer.kind} layer; this command needs a layer of kind ${kinds.join(' or ')}${fits.length ? ` (${where}: ${fits.join(', ')})` : ''}`);
  }
  const parent = layer.parent === null ? undefined : list.find((l) => l.name === layer.parent);
  return { layer, parent };
}

/** Default L1 RPC endpoint: the devnet's. */
export const DEFAULT_RPC = 'http://127.0.0.1:8545';

/**
 * Adds the options every client command shares: `--rpc URL`, `--layer NAME` (see layers.ts), `--json`.
 * Before the action runs, `--rpc` is resolved (an explicit `--rpc` wins, else the layer's endpoint),
 * so an action may read `opts.rpc` directly.
 */
export function clientOptions(cmd: Command, defaultLayer = 'l1'): Command {
  return cmd
    .option('--rpc <url>', `JSON-RPC endpoint of the node (default: the --layer's endpoint of the running devnet, $STRATA_RPC, or ${DEFAULT_RPC})`)
    .option('--layer <name>', `which layer of the running devnet to talk to (l1, l2, l3, … as its banner lists them)`, defaultLayer)
    .option('--json', 'print machine-readable JSON')
    .hook('preAction', (c) => {
      const rpc = c.getOptionValue('rpc') as string | undefined;
      const layer = c.getOptionValue('layer') as string | undefined;
      c.setOptionValue('rpc', resolveRpc({ rpc, layer }));
    });
}
