/**
 * Which endpoint a client command talks to. A running devnet writes its layers to
 * `$STRATA_HOME/devnet.json` (default `~/.strata/devnet.json`; only devnets on fixed ports, not
 * port-0 test devnets); `--layer NAME` picks one of them (`l1`, `l2`, … as the banner names
 * them), `--rpc URL` overrides everything, and without either the L1 default applies.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StrataError } from '@strata/primitives';

/** One layer of a running devnet, as `strata devnet --json` lists it. */
export interface LayerEndpoint {
  name: string;
  kind: string;
  parent: string | null;
  rpc: string;
  ws: string;
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
