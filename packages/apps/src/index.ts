/**
 * @strata/apps — application modules any Strata chain composes into its runtime: `token`
 * (user-defined fungible tokens with an issuer, a cap and an origin kept across bridges) and
 * `amm` (constant-product pools over the native coin and tokens). Transactions calling their
 * methods flow in through the ordinary runtime; balances, pools and LP shares live in the
 * chain's authenticated state, so their execution is fraud-provable like any other module's.
 *
 * Compose at the top: `runtime: [bankModule, ...appModules(), ...settlementModules]`.
 */
import type { Module } from '@strata/runtime';
import { ammModule } from './amm.js';
import { tokenModule } from './token.js';

export * from './amm.js';
export * from './token.js';

/** Compute limit the CLI declares for token and AMM calls (each call is metered; unused compute is still paid). */
export const APP_CALL_COMPUTE = 12_000;

/** The app modules, in runtime order. */
export function appModules(): Module[] {
  return [tokenModule, ammModule];
}
