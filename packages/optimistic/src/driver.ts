/** The driver loop every rollup role shares: the engine's one (`@strata/runtime`). */
export { Driver } from '@strata/runtime';
