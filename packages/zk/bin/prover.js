#!/usr/bin/env node
// A prover process: `node packages/zk/bin/prover.js --operator URL [--id NAME] [--cache-dir DIR]`.
// The operator spawns these as its local provers; `strata zk prover` runs the same service.
// Runs the compiled entry (packages/cli/dist/prover.js) while it is fresh, else the sources through tsx.
import { compiledEntry } from '../../cli/bin/compiled.js';

const compiled = compiledEntry('prover');
let runProverMain;
if (compiled) ({ runProverMain } = await import(compiled));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runProverMain } = await import('../src/prover-main.ts'));
}
await runProverMain(process.argv.slice(2));
