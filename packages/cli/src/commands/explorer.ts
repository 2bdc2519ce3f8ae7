/** `strata explorer --rpc URL…`: the web explorer against any running Strata chains. */
import type { Command } from 'commander';
import { StrataError } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { checkArgs } from '../args.js';
import { readDevnetEndpoints } from '../layers.js';
import { intOption } from './common.js';

interface ExplorerFlags {
  rpc: string[];
  host: string;
  port: number;
  json?: boolean;
}

/** `name=URL` or `URL`; the kind is asked from the chain (a rollup answers rollup_getConfig). */
async function describe(spec: string, i: number): Promise<{ name: string; kind: string; parent: string | null; rpc: string; ws: string }> {
  const m = spec.match(/^([a-z][a-z0-9-]*)=(.+)$/);
  const rpc = m ? (m[2] as string) : spec;
  const client = new RpcClient(rpc, { timeoutMs: 3000 });
  let kind = 'l1';
  try {
    await client.call('rollup_getConfig');
    kind = 'optimistic';
  } catch (e) {
    if ((e as { code?: string }).code === 'NETWORK') throw new StrataError('NETWORK', `--rpc ${rpc}: no chain answers there (${(e as Error).message})`);
  }
  return { name: m ? (m[1] as string) : `l${i + 1}`, kind, parent: null, rpc, ws: rpc.replace(/^http/, 'ws') };
}

export function registerExplorerCommand(program: Command): void {
  program
    .command('explorer')
    .description('Serve the web explorer for running chains (default: every layer of the running devnet)')
    .option('--rpc <url...>', 'chain RPC endpoints, each URL or name=URL (an L1 first, then the layers on it)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'explorer port', intOption('--port'), 8645)
    .option('--json', 'print the URL as JSON')
    .action(async (flags: ExplorerFlags) => {
      checkArgs((c) => {
        for (const r of flags.rpc ?? []) c.url('--rpc', r.replace(/^[a-z][a-z0-9-]*=/, ''));
      });
      let layers: { name: string; kind: string; parent: string | null; rpc: string; ws: string }[];
      if (flags.rpc?.length) {
        layers = await Promise.all(flags.rpc.map(describe));
        const root = layers.find((l) => l.kind !== 'optimistic');
        for (const l of layers) if (l.kind === 'optimistic') l.parent = root?.name ?? null;
      } else {
        const running = readDevnetEndpoints();
        if (!running) throw new StrataError('INVALID_ARGUMENT', 'no devnet is running here; pass the chains with --rpc URL (an L1 first, then its layers)');
        layers = running.layers;
      }
      const { startExplorer } = await import('@strata/explorer');
      const ex = await startExplorer({ host: flags.host, port: flags.port, layers });
      const { print } = await import('../output.js');
      print(!!flags.json, { url: ex.url, layers }, () => [`  Strata explorer  ${ex.url}`, ...layers.map((l) => `    ${l.name.padEnd(4)} ${l.kind.padEnd(11)} ${l.rpc}`), '', '  Ctrl-C stops it.'].join('\n'));
      const stop = async () => {
        await ex.stop();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
    });
}
