/** `strata explorer --rpc URL…`: the web explorer against any running Strata chains. */
import type { Command } from 'commander';
import { StrataError } from '@strata/primitives';
import { checkArgs } from '../args.js';
import { readDevnetEndpoints } from '../layers.js';
import { intOption } from './common.js';

interface ExplorerFlags {
  rpc: string[];
  host: string;
  port: number;
  json?: boolean;
}

export function registerExplorerCommand(program: Command): void {
  program
    .command('explorer')
    .description('Serve the web explorer for running chains (default: every layer of the running devnet)')
    .option('--rpc <url...>', 'chain RPC endpoints, each URL or name=URL, in any order (each chain is asked what it is and which of the others is its parent)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'explorer port', intOption('--port'), 8645)
    .option('--json', 'print the URL as JSON')
    .action(async (flags: ExplorerFlags) => {
      checkArgs((c) => {
        for (const r of flags.rpc ?? []) c.url('--rpc', r.replace(/^[a-z][a-z0-9-]*=/, ''));
      });
      let layers: { name: string; kind: string; parent: string | null; rpc: string; ws: string }[];
      if (flags.rpc?.length) {
        // Each chain says what it is and which of the others is its parent (a rollup's host
        // answers for its inbox; the ZK-rollup, sidechain and channel nodes name their parent
        // chain's id): the order of the flags does not matter.
        const { discoverLayers } = await import('@strata/explorer');
        layers = await discoverLayers(flags.rpc);
      } else {
        const running = readDevnetEndpoints();
        if (!running) throw new StrataError('INVALID_ARGUMENT', 'no devnet is running here; pass the chains with --rpc URL (the L1 and the layers on it, in any order)');
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
