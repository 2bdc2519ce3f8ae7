/**
 * Entry of one validator process: `validator.js --dir <validator dir> [--l1 <url>]
 * [--rpc-port N] [--p2p-port N] [--bootnodes a,b] [--relayer-key <file>] [--log-level L]`.
 * Reads `<dir>/../spec.json` and `<dir>/keys.json`, starts the ValidatorService, writes
 * `<dir>/endpoints.json` and prints one JSON line when ready; stops cleanly on SIGINT/SIGTERM.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { fromHex, keyPairFromSecret } from '@strata/primitives';
import { loadValidatorKeys } from './keys.js';
import { specFromJson } from './spec.js';
import { ValidatorService } from './validator.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const dir = arg('dir');
if (!dir) {
  process.stderr.write('usage: validator.js --dir <validator dir> [--l1 url] [--rpc-port n] [--p2p-port n] [--bootnodes a,b] [--relayer-key file]\n');
  process.exit(2);
}
const spec = specFromJson(JSON.parse(readFileSync(arg('spec') ?? join(dirname(dir), 'spec.json'), 'utf8')) as Record<string, unknown>);
const keys = loadValidatorKeys(join(dir, 'keys.json'));
const relayerFile = arg('relayer-key');
const relayerKey = relayerFile ? keyPairFromSecret(fromHex(readFileSync(relayerFile, 'utf8').trim(), 32)) : undefined;
const host = arg('host') ?? '127.0.0.1';
const logger = pino({ level: arg('log-level') ?? 'info' }, pino.destination(arg('log-file') ?? 1));
const l1 = arg('l1');
const svc = new ValidatorService(
  {
    spec,
    dir,
    keys,
    ...(l1 ? { l1Url: l1 } : {}),
    ...(relayerKey ? { relayerKey } : {}),
    host,
    rpcPort: Number(arg('rpc-port') ?? 0),
    p2pListen: [`/ip4/${host}/tcp/${Number(arg('p2p-port') ?? 0)}`],
    bootnodes: (arg('bootnodes') ?? '').split(',').filter(Boolean),
  },
  logger.child({ sidechain: spec.name }),
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  // Never linger: a stop that hangs (a stuck socket) still ends the process.
  setTimeout(() => process.exit(0), 8000).unref();
  await svc.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// Started by a devnet: exit with it, even if it was killed without a chance to stop us.
const parentPid = Number(arg('parent-pid') ?? 0);
if (parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      void stop();
    }
  }, 1000).unref();
}
// Test hook: SIGKILL this process right after the last-sign state of a vote is on disk
// (before the vote is sent), to check that a restart never signs a conflicting one.
const crashStep = arg('crash-after-sign');
const crashAfterHeight = Number(arg('crash-after-height') ?? 0);
try {
  await svc.start();
} catch (e) {
  logger.error({ err: (e as Error).message }, 'validator failed to start');
  process.exit(1);
}
if (crashStep && svc.privval) {
  const step = crashStep === 'prevote' ? 2 : 3;
  svc.privval.afterPersist = (st) => {
    if (st.step === step && st.height >= crashAfterHeight) {
      writeFileSync(join(dir, 'crashed.json'), JSON.stringify({ height: st.height, round: st.round, step: st.step }));
      process.kill(process.pid, 'SIGKILL');
    }
  };
}
const endpoints = { pid: process.pid, validator: svc.engine.index, rpc: svc.rpcUrl, ws: svc.rpc.wsUrl, p2p: svc.network.info().multiaddrs };
writeFileSync(join(dir, 'endpoints.json'), `${JSON.stringify(endpoints)}\n`);
process.stdout.write(`${JSON.stringify({ ready: true, ...endpoints })}\n`);
