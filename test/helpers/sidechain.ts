/** Helpers for sidechain tests: in-process validator sets over real libp2p and lmdb. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { makeSidechainSpec, newValidatorKeys, validatorOf, ValidatorService, type SidechainSpec, type ValidatorKeys } from '@strata/sidechain';

export const FAST_TIMEOUTS = { proposeMs: 600, proposeDeltaMs: 200, prevoteMs: 300, prevoteDeltaMs: 150, precommitMs: 300, precommitDeltaMs: 150 };

export function makeTestSidechain(n: number, opts: { chainId?: number; parentChainId?: number; checkpointInterval?: number } = {}): { spec: SidechainSpec; keys: ValidatorKeys[] } {
  const keys = Array.from({ length: n }, () => newValidatorKeys());
  const spec = makeSidechainSpec({
    name: 'test-sc',
    chainId: opts.chainId ?? 4242,
    parentChainId: opts.parentChainId ?? 1,
    validators: keys.map((k) => validatorOf(k, 1000n)),
    checkpointInterval: opts.checkpointInterval ?? 5,
    timeouts: FAST_TIMEOUTS,
    emptyBlockIntervalMs: 300,
  });
  return { spec, keys };
}

export function tmp(prefix = 'strata-sc-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const quietLogger = () => pino({ level: process.env.SC_LOG ?? 'silent' });

export async function startInProcess(spec: SidechainSpec, keys: ValidatorKeys[], dir: string, extra: Partial<ConstructorParameters<typeof ValidatorService>[0]> = {}): Promise<ValidatorService[]> {
  const out: ValidatorService[] = [];
  for (let i = 0; i < keys.length; i++) {
    const boots = out.flatMap((v) => v.network.info().multiaddrs);
    const v = new ValidatorService({ spec, dir: join(dir, `v${i}`), keys: keys[i] as ValidatorKeys, bootnodes: boots, ...extra }, quietLogger().child({ v: i }));
    await v.start();
    out.push(v);
  }
  return out;
}
