import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { StrataError } from '@strata/primitives';
import { defaultChainConfig, parseChainConfig, type ChainConfig } from '@strata/runtime';

// `clientOptions` lives in layers.ts (light: client commands import it without smol-toml and
// @strata/runtime); re-exported for the command modules that import it from here.
export { clientOptions, DEFAULT_RPC } from '../layers.js';

/** Reads a chain config file (JSON, or TOML when the name ends in .toml). */
export function readChainConfig(path: string | undefined, base: ChainConfig = defaultChainConfig()): ChainConfig {
  if (!path) return base;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StrataError('CONFIG_INVALID', `cannot read config file ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.toml') ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    throw new StrataError('CONFIG_INVALID', `config file ${path} is not valid ${path.endsWith('.toml') ? 'TOML' : 'JSON'}: ${(e as Error).message}`);
  }
  return parseChainConfig(data, base);
}

/** Node network settings from a file (JSON, or TOML when the name ends in .toml). */
export function readNetworkSettings(path: string): { listen?: string[]; announce?: string[]; bootnodes?: string[]; banSeconds?: number; maxConnections?: number; targetPeers?: number; discoveryIntervalMs?: number; localNetwork?: boolean; peerExchange?: boolean } {
  let data: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    data = path.endsWith('.toml') ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    throw new StrataError('CONFIG_INVALID', `cannot read network settings ${path}: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== 'object') throw new StrataError('CONFIG_INVALID', `network settings ${path} must be an object`);
  const o = data as Record<string, unknown>;
  const out: { listen?: string[]; announce?: string[]; bootnodes?: string[]; banSeconds?: number; maxConnections?: number; targetPeers?: number; discoveryIntervalMs?: number; localNetwork?: boolean; peerExchange?: boolean } = {};
  for (const k of ['listen', 'announce', 'bootnodes'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new StrataError('CONFIG_INVALID', `network settings ${path}: ${k} must be an array of multiaddr strings`);
    out[k] = v as string[];
  }
  for (const k of ['localNetwork', 'peerExchange'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new StrataError('CONFIG_INVALID', `network settings ${path}: ${k} must be true or false`);
    out[k] = v;
  }
  for (const k of ['banSeconds', 'maxConnections', 'targetPeers', 'discoveryIntervalMs'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0)) throw new StrataError('CONFIG_INVALID', `network settings ${path}: ${k} must be a non-negative number`);
    out[k] = v;
  }
  return out;
}

/** Parses a non-negative integer option. */
export function intOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new StrataError('CONFIG_INVALID', `${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

/** Parses a non-negative number option. */
export function numberOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new StrataError('CONFIG_INVALID', `${name} must be a non-negative number, got "${v}"`);
    return n;
  };
}

/** `strata config show`: prints the chain config a node would use (defaults, or a file's). */
export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('Chain config files')
    .command('show')
    .description('Print the effective chain config (defaults merged with --config FILE) as JSON, ready to edit')
    .option('--config <file>', 'chain config file (JSON or TOML)')
    .option('--json', 'print machine-readable JSON (the default output is JSON too)')
    .action(async (flags: { config?: string }) => {
      const { chainConfigToJson } = await import('@strata/runtime');
      const { fail } = await import('../output.js');
      try {
        // The defaults of `strata node`: proof of work on.
        const base = defaultChainConfig();
        const cfg = readChainConfig(flags.config, { ...base, pow: { ...base.pow, enabled: true } });
        process.stdout.write(`${JSON.stringify(chainConfigToJson(cfg), null, 2)}\n`);
      } catch (e) {
        fail(true, e);
      }
    });
}
