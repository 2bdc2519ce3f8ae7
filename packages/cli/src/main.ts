#!/usr/bin/env node
/**
 * The `strata` command. Verb-noun commands; every command has --help, --json and a clear
 * error with a non-zero exit; client commands talk to a node over --rpc (default: the devnet).
 *
 * Commands load lazily: {@link COMMANDS} names each command module's top-level commands and how to
 * load it, and only the module of the command being run is imported (so `strata --help` and
 * `strata account balance` never load libp2p, lmdb or the node). To add commands, write
 * `commands/<layer>.ts` exporting a `register…(program)` function and add ONE line below.
 * Keep heavy imports (`@strata/node`, `@strata/devnet`, a layer's services) inside the actions
 * (`await import(...)`) when the module also holds light client commands.
 */
import { Command, Option } from 'commander';

/** A command module: its top-level command names with a one-line description, and its loader. */
interface LazyCommands {
  names: Record<string, string>;
  load: (program: Command) => Promise<void>;
}

// biome-ignore format: one line per command module
const COMMANDS: LazyCommands[] = [
  { names: { devnet: 'Run the local devnet: every Strata layer on this machine with funded dev accounts (what `npm start` runs)' }, load: async (p) => (await import('./commands/devnet.js')).registerDevnetCommand(p) },
  { names: { node: 'Run a Strata L1 node' }, load: async (p) => (await import('./commands/node.js')).registerNodeCommand(p) },
  { names: { account: 'Create, list and inspect accounts', send: 'Send coins: sign a transfer, submit it and wait for its receipt', block: 'Show a block', tx: 'Show a transaction and its receipt' }, load: async (p) => (await import('./commands/chain.js')).registerChainCommands(p) },
  { names: { bridge: 'Move coins between the L1 and the optimistic rollup (devnet defaults)' }, load: async (p) => (await import('./commands/bridge.js')).registerBridgeCommands(p) },
  { names: { rollup: 'Optimistic rollup roles and status' }, load: async (p) => (await import('./commands/rollup.js')).registerRollupCommands(p) },
  { names: { explorer: 'Serve the web explorer for running chains (default: the running devnet)' }, load: async (p) => (await import('./commands/explorer.js')).registerExplorerCommand(p) },
  { names: { token: 'User-defined tokens: create, mint, transfer, balance', amm: 'Constant-product AMM pools: pool, add, remove, swap, quote' }, load: async (p) => (await import('./commands/apps.js')).registerAppCommands(p) },
  { names: { channel: 'Payment channels: node, open, close, list, peers, invoice, pay, graph, balance, watchtower', swap: 'Atomic swaps between two Strata chains (hash-time-locked)' }, load: async (p) => (await import('./commands/channels.js')).registerChannelCommands(p) },
  { names: { sidechain: 'BFT sidechains: launch, list, status, deposit, withdraw, stop' }, load: async (p) => (await import('./commands/sidechain.js')).registerSidechainCommands(p) },
  { names: { zk: 'ZK-rollup: keys (setup), provers, deposit, transfer, withdraw, status, exit' }, load: async (p) => (await import('./commands/zk.js')).registerZkCommands(p) },
  { names: { config: 'Chain config files' }, load: async (p) => (await import('./commands/common.js')).registerConfigCommand(p) },
];

const program = new Command();
program
  .name('strata')
  .description('Strata: a multi-layer blockchain stack (L1 proof-of-work chain and the layers above it)')
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

program.addOption(new Option('--no-color', 'plain output').hideHelp());

program.exitOverride((err) => {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
  process.exit(err.exitCode || 1);
});

/** The first argument that is not an option: the command being run (undefined for `strata --help`). */
const wanted = process.argv.slice(2).find((a) => !a.startsWith('-'));
const wantedHelp = wanted === 'help' ? process.argv.slice(2).filter((a) => !a.startsWith('-'))[1] : undefined;
const target = wantedHelp ?? wanted;

try {
  for (const entry of COMMANDS) {
    if (target !== undefined && target in entry.names) await entry.load(program);
    else for (const [name, description] of Object.entries(entry.names)) program.command(name).description(description).allowUnknownOption().helpOption(false).action(async () => {});
  }
  // A command that is not registered: load everything so commander's suggestion ("did you mean")
  // and error text see the real commands.
  if (target !== undefined && target !== 'help' && !COMMANDS.some((e) => target in e.names)) {
    for (const c of [...program.commands]) (program as unknown as { commands: Command[] }).commands.splice(program.commands.indexOf(c), 1);
    for (const entry of COMMANDS) await entry.load(program);
  }
  await program.parseAsync(process.argv);
} catch (e) {
  (await import('./output.js')).fail(process.argv.includes('--json'), e);
}
