#!/usr/bin/env node
/**
 * The `strata` command. Verb-noun commands; every command has --help, --json and a clear
 * error with a non-zero exit; client commands talk to a node over --rpc (default: the devnet).
 */
import { Command, Option } from 'commander';
import { registerBridgeCommands } from './commands/bridge.js';
import { registerChainCommands } from './commands/chain.js';
import { registerConfigCommand } from './commands/common.js';
import { registerDevnetCommand } from './commands/devnet.js';
import { registerNodeCommand } from './commands/node.js';
import { registerRollupCommands } from './commands/rollup.js';
import { registerZkCommands } from './commands/zk.js';
import { fail } from './output.js';

const program = new Command();
program
  .name('strata')
  .description('Strata: a multi-layer blockchain stack (L1 proof-of-work chain and the layers above it)')
  .version('0.1.0')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

registerDevnetCommand(program);
registerNodeCommand(program);
registerChainCommands(program);
registerBridgeCommands(program);
registerRollupCommands(program);
registerZkCommands(program);
registerConfigCommand(program);

program.addOption(new Option('--no-color', 'plain output').hideHelp());

program.exitOverride((err) => {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
  process.exit(err.exitCode || 1);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  fail(process.argv.includes('--json'), e);
}
