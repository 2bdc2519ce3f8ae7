/** The driver loop every ZK role shares (the engine's one, `@strata/runtime`) and the roles' logger shape. */
export { Driver } from '@strata/runtime';

/** Logger shape the roles use (pino-compatible). */
export interface ZkLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything. */
export const silentLogger: ZkLogger = { info() {}, warn() {} };

