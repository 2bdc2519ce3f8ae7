/**
 * A sidechain's spec: everything its nodes and the parent's registry must agree on — name,
 * chain id, the parent chain id, checkpoint interval, the genesis validator set, and the chain
 * config of the sidechain itself (the same runtime as the L1: bank plus `sc_bridge`).
 * Written once at launch to `spec.json`; every validator process reads it.
 */
import { fromHex, StrataError, toHex } from '@strata/primitives';
import { defaultChainConfig, parseChainConfig, chainConfigToJson, type ChainConfig, type GenesisAlloc } from '@strata/runtime';
import { DEFAULT_TIMEOUTS, type TimeoutConfig } from './consensus.js';
import { ValidatorSet, type Validator } from './validator-set.js';

/** A sidechain spec. */
export interface SidechainSpec {
  name: string;
  chainId: number;
  parentChainId: number;
  /** Sidechain blocks between checkpoints on the parent. */
  checkpointInterval: number;
  /** Parent blocks a leaving validator's stake stays bonded. */
  unbondingPeriod: number;
  validators: Validator[];
  chain: ChainConfig;
  timeouts: TimeoutConfig;
  /** Pause after a commit before the next height (ms); the block time when there are transactions. */
  commitTimeoutMs: number;
  /** Longest wait for transactions before an empty block (ms). */
  emptyBlockIntervalMs: number;
}

/** Genesis balance of each validator's fee (producer) account; backed in the escrow at registration. */
export const DEFAULT_FEE_BALANCE = 10_000_000_000n;

/** The chain config of a sidechain: dev-sealing rules (no PoW), instant finality, fee-paying validators. */
export function sidechainChainConfig(opts: { chainId: number; name: string; validators: Validator[]; feeBalance?: bigint; timestamp?: number; alloc?: GenesisAlloc[] }): ChainConfig {
  return parseChainConfig(
    {
      chainId: opts.chainId,
      name: opts.name,
      addressPrefix: 'sc',
      confirmations: 0,
      blockReward: '0',
      targetBlockTimeMs: 1000,
      pow: { enabled: false },
      genesis: {
        timestamp: opts.timestamp ?? 1_735_689_600_000,
        alloc: [...opts.validators.map((v) => ({ address: toHex(v.producer), balance: (opts.feeBalance ?? DEFAULT_FEE_BALANCE).toString() })), ...(opts.alloc ?? [])],
      },
    },
    defaultChainConfig(),
  );
}

/**
 * Total of a chain's genesis balances: what the registration must lock in the bridge escrow,
 * so that every coin on the sidechain is backed on the parent.
 */
export function genesisSupplyOf(chain: ChainConfig): bigint {
  return chain.genesis.alloc.reduce((n, a) => n + BigInt(a.balance), 0n);
}

/** Builds a spec with defaults. */
export function makeSidechainSpec(opts: {
  name: string;
  chainId: number;
  parentChainId: number;
  validators: Validator[];
  checkpointInterval?: number;
  unbondingPeriod?: number;
  timeouts?: TimeoutConfig;
  commitTimeoutMs?: number;
  emptyBlockIntervalMs?: number;
  /** Extra genesis balances (benchmarks, tests); a real sidechain is funded through the bridge. */
  alloc?: GenesisAlloc[];
}): SidechainSpec {
  if (opts.chainId === opts.parentChainId) throw new StrataError('CONFIG_INVALID', `sidechain chain id ${opts.chainId} equals its parent's`);
  new ValidatorSet(opts.validators);
  return {
    name: opts.name,
    chainId: opts.chainId,
    parentChainId: opts.parentChainId,
    checkpointInterval: opts.checkpointInterval ?? 10,
    unbondingPeriod: opts.unbondingPeriod ?? 20,
    validators: opts.validators,
    chain: sidechainChainConfig({ chainId: opts.chainId, name: opts.name, validators: opts.validators, ...(opts.alloc ? { alloc: opts.alloc } : {}) }),
    timeouts: opts.timeouts ?? DEFAULT_TIMEOUTS,
    commitTimeoutMs: opts.commitTimeoutMs ?? 20,
    emptyBlockIntervalMs: opts.emptyBlockIntervalMs ?? 1000,
  };
}

/** JSON form of a spec. */
export function specToJson(s: SidechainSpec): Record<string, unknown> {
  return {
    ...s,
    validators: s.validators.map((v) => ({ edPub: toHex(v.edPub), blsPub: toHex(v.blsPub), producer: toHex(v.producer), power: v.power.toString() })),
    chain: chainConfigToJson(s.chain),
  };
}

/** Parses the JSON form of a spec (CONFIG_INVALID on a bad field). */
export function specFromJson(j: Record<string, unknown>): SidechainSpec {
  try {
    const validators = (j.validators as Record<string, string>[]).map((v) => ({
      edPub: fromHex(String(v.edPub), 32),
      blsPub: fromHex(String(v.blsPub), 48),
      producer: fromHex(String(v.producer), 20),
      power: BigInt(String(v.power)),
    }));
    return {
      name: String(j.name),
      chainId: Number(j.chainId),
      parentChainId: Number(j.parentChainId),
      checkpointInterval: Number(j.checkpointInterval),
      unbondingPeriod: Number(j.unbondingPeriod),
      validators,
      chain: parseChainConfig(j.chain, defaultChainConfig()),
      timeouts: { ...DEFAULT_TIMEOUTS, ...(j.timeouts as Partial<TimeoutConfig>) },
      commitTimeoutMs: Number(j.commitTimeoutMs ?? 20),
      emptyBlockIntervalMs: Number(j.emptyBlockIntervalMs ?? 1000),
    };
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw new StrataError('CONFIG_INVALID', `sidechain spec: ${(e as Error).message}`);
  }
}

/** What a user of a sidechain trusts (L2BEAT-style), served by RPC and printed by the CLI. */
export function trustStatement(spec: Pick<SidechainSpec, 'validators' | 'checkpointInterval'>): Record<string, string> {
  return {
    type: 'sidechain (own BFT validator set; not a rollup)',
    stateValidation:
      'none on the parent chain: the L1 checks that more than 2/3 of the bonded stake signed each checkpoint (one BLS aggregate), not that the state transition is correct',
    safety: `more than 2/3 of the stake of the ${spec.validators.length} validators must be honest; if 1/3 or more collude they can halt the chain, and with more than 2/3 they can finalize any state, including a false one`,
    liveness: 'more than 2/3 of the stake must be online; otherwise the chain halts (it never forks) until enough validators return',
    bridge:
      'only as safe as the validators: withdrawals are paid against checkpointed state roots, so a >2/3 colluding set can sign a root that steals the escrow; there is no escape hatch or exit window',
    finality: `a block is final when committed (no reorgs); the parent learns of it at the next checkpoint (every ${spec.checkpointInterval} blocks)`,
    slashing: 'double-sign evidence (two conflicting signed votes) submitted by anyone burns the offender\'s bond on the parent (the reporter gets 10 %); its voting power ends at the checkpoint that applies the slash, on both chains; a validator that left can be slashed until its unbonding period ends',
    validatorSet: 'the sidechain owner admits new validators; a bonded validator may add stake without the owner, so one bonder can buy more than 2/3 of the power; set changes recorded on the parent take effect at the checkpoint of the block that includes them',
    genesis: 'the parent checks the genesis header and its total supply (backed in the escrow), not the rest of the chain config: users trust the owner that the spec mints nothing else (block reward 0)',
    dataAvailability: 'sidechain data lives only with its validators and full nodes; the parent stores checkpoint headers only',
  };
}
