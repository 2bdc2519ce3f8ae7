#!/usr/bin/env node
// One sidechain validator process (started by `strata sidechain launch`): runs the TypeScript
// entry through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
