import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

/** A pino logger to stdout (JSON lines) or to a file. */
export function createLogger(opts: { level?: string; file?: string }): Logger {
  const level = opts.level ?? process.env.STRATA_LOG_LEVEL ?? 'info';
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: opts.file, sync: true }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}
