#!/usr/bin/env node
// Repository-local entry of the `strata` command (the same as `npx strata` after npm install).
await import('../packages/cli/bin/strata.js');
