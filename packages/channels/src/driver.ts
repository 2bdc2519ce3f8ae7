/** The driver loop every channel role shares: the engine's one (`@strata/runtime`). */
export { Driver } from '@strata/runtime';
