/** The ZK roles' logger shape; the driver loop itself is the shared one in primitives. */
export { Driver } from '@strata/primitives';

/** Logger shape the roles use (pino-compatible). */
export interface ZkLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything. */
export const silentLogger: ZkLogger = { info() {}, warn() {} };

