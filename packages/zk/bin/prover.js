#!/usr/bin/env node
// A prover process: `node packages/zk/bin/prover.js --operator URL [--id NAME] [--cache-dir DIR]`.
// The operator spawns these as its local provers; `strata zk prover` runs the same service.
import { register } from 'tsx/esm/api';

register();
const { runProverMain } = await import('../src/prover-main.ts');
await runProverMain(process.argv.slice(2));
