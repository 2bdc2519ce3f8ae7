import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { StrataError } from '@strata/primitives';
import { defaultChainConfig, parseChainConfig, type ChainConfig } from '@strata/runtime';

/** Default L1 RPC endpoint: the devnet's. */
export const DEFAULT_RPC = 'http://127.0.0.1:8545';

/** Adds the options every client command shares. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('--rpc <url>', 'JSON-RPC endpoint of the node', process.env.STRATA_RPC ?? DEFAULT_RPC)
    .option('--json', 'print machine-readable JSON');
}

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
        process.stdout.write(`${JSON.stringify(chainConfigToJson(readChainConfig(flags.config)), null, 2)}\n`);
      } catch (e) {
        fail(true, e);
      }
    });
}
