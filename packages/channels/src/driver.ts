/** The driver loop every role shares (one implementation, in primitives). */
export { Driver } from '@strata/primitives';
