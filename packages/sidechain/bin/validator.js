#!/usr/bin/env node
// One sidechain validator process (started by `strata sidechain launch`): the compiled entry
// (packages/cli/dist/validator.js) while it is fresh, else the TypeScript entry through tsx.
import { compiledEntry } from '../../cli/bin/compiled.js';

const compiled = compiledEntry('validator');
if (compiled) await import(compiled);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
