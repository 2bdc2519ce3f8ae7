/** Output helpers: human text or `--json`, and one error path with a non-zero exit. */
import { isStrataError } from '@strata/primitives';
import { RpcError } from '@strata/rpc';

/** Prints a result as JSON (bigints as strings) or as text. */
export function print(json: boolean, value: unknown, text?: () => string): void {
  if (json) process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  else process.stdout.write(`${text ? text() : JSON.stringify(value, null, 2)}\n`);
}

/** Prints an error (as JSON with --json) and exits with status 1. */
export function fail(json: boolean, e: unknown): never {
  let body: { code: string; message: string; rpcCode?: number; data?: unknown };
  if (e instanceof RpcError) {
    const data = e.data as { code?: string } | undefined;
    body = { code: data?.code ?? 'RPC_ERROR', message: e.message, rpcCode: e.rpcCode, data: e.data };
  } else if (isStrataError(e)) body = { code: e.code, message: e.message };
  else body = { code: 'ERROR', message: e instanceof Error ? e.message : String(e) };
  if (json) process.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  else process.stderr.write(`error: ${body.message}${body.code && body.code !== 'ERROR' ? ` (${body.code})` : ''}\n`);
  process.exit(1);
}
