/**
 * ChainConfig: the protocol parameters of one chain. Immutable once the chain starts: every
 * node of a network must use the same values, and the genesis block commits to them.
 */
import { StrataError } from '@strata/primitives';

/** Costs of metered operations, in compute units (as CKB counts cycles). */
export interface ComputeSchedule {
  /** Charged once per transaction. */
  txBase: number;
  /** One secp256k1 signature check. */
  sigVerify: number;
  /** One state read. */
  stateRead: number;
  /** One state write or delete. */
  stateWrite: number;
  /** Per 32 bytes hashed or copied by a module (batches, proofs). */
  perWord: number;
}

/** Fee schedule: a transaction pays for its bytes and its declared compute. */
export interface FeeSchedule {
  perByte: bigint;
  perCompute: bigint;
  /** Share of each fee burned, in basis points (0–10,000); the rest goes to the block producer. */
  burnBps: number;
}

/** Proof-of-work parameters. */
export interface PowConfig {
  /** When false (dev mode) any nonce is valid and blocks are sealed instantly. */
  enabled: boolean;
  /** Target of the first block (a header hash must be ≤ target), as 0x hex. */
  initialTarget: string;
  /** Retarget every this many blocks, toward `targetBlockTimeMs`. */
  retargetInterval: number;
  /** Maximum factor of one retarget step (Bitcoin uses 4). */
  maxAdjust: number;
  /** Easiest target allowed (0x hex). */
  maxTarget: string;
}

/** One genesis allocation. */
export interface GenesisAlloc {
  /** bech32m address or 0x hex of 20 bytes. */
  address: string;
  /** Balance in base units, decimal string. */
  balance: string;
}

/** The protocol parameters of a chain. */
export interface ChainConfig {
  chainId: number;
  name: string;
  /** bech32m prefix of this chain's addresses. */
  addressPrefix: string;
  targetBlockTimeMs: number;
  maxBlockBytes: number;
  maxBlockCompute: number;
  maxTxBytes: number;
  /** Blocks on top of a block before it is final. */
  confirmations: number;
  fees: FeeSchedule;
  compute: ComputeSchedule;
  /** Base units minted to the producer of each block (default 100 STRA; the devnet uses 0). */
  blockReward: bigint;
  pow: PowConfig;
  genesis: { timestamp: number; alloc: GenesisAlloc[]; extraData?: string };
}

/** CKB-shaped defaults: ~600 KB of block data and a compute budget for ~1,000 plain transfers. */
export const DEFAULT_COMPUTE: ComputeSchedule = { txBase: 150, sigVerify: 1000, stateRead: 20, stateWrite: 100, perWord: 1 };

/** Compute limit a plain transfer declares (what it is metered at, with a little headroom). */
export const TRANSFER_COMPUTE = 1_600;

/** Default chain config for a dev L1. */
export function defaultChainConfig(overrides: Partial<ChainConfig> = {}): ChainConfig {
  return {
    chainId: 1,
    name: 'strata-l1',
    addressPrefix: 'st',
    targetBlockTimeMs: 8_000,
    maxBlockBytes: 600_000,
    maxBlockCompute: 1_000 * TRANSFER_COMPUTE,
    maxTxBytes: 512 * 1024,
    confirmations: 6,
    fees: { perByte: 1n, perCompute: 1n, burnBps: 0 },
    compute: DEFAULT_COMPUTE,
    blockReward: 10_000_000_000n,
    pow: {
      enabled: false,
      initialTarget: `0x${'00003fff'.padEnd(64, 'f')}`,
      retargetInterval: 10,
      maxAdjust: 4,
      maxTarget: `0x${'0'.repeat(1)}${'f'.repeat(63)}`,
    },
    genesis: { timestamp: 1_700_000_000_000, alloc: [] },
    ...overrides,
  };
}

function bad(field: string, why: string): never {
  throw new StrataError('CONFIG_INVALID', `chain config: ${field} ${why}`, { field });
}

/**
 * Parses and checks a chain config from JSON-ish input (as read from a file): big integers
 * may be strings or numbers. Throws CONFIG_INVALID naming the field at fault.
 */
export function parseChainConfig(input: unknown, base: ChainConfig = defaultChainConfig()): ChainConfig {
  if (typeof input !== 'object' || input === null) bad('(root)', 'must be an object');
  const o = input as Record<string, unknown>;
  const num = (k: string, v: unknown, min = 0): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(k, `must be an integer ≥ ${min}`);
    return v;
  };
  const big = (k: string, v: unknown): bigint => {
    try {
      const b = BigInt(v as string);
      if (b < 0n) bad(k, 'must be ≥ 0');
      return b;
    } catch {
      return bad(k, 'must be an integer (number or decimal string)');
    }
  };
  const cfg: ChainConfig = structuredClone(base);
  if (o.chainId !== undefined) cfg.chainId = num('chainId', o.chainId, 1);
  if (o.name !== undefined) cfg.name = typeof o.name === 'string' ? o.name : bad('name', 'must be a string');
  if (o.addressPrefix !== undefined) {
    if (typeof o.addressPrefix !== 'string' || !/^[a-z]{1,10}$/.test(o.addressPrefix)) bad('addressPrefix', 'must be 1–10 lower-case letters');
    cfg.addressPrefix = o.addressPrefix;
  }
  if (o.targetBlockTimeMs !== undefined) cfg.targetBlockTimeMs = num('targetBlockTimeMs', o.targetBlockTimeMs, 1);
  if (o.maxBlockBytes !== undefined) cfg.maxBlockBytes = num('maxBlockBytes', o.maxBlockBytes, 1024);
  if (o.maxBlockCompute !== undefined) cfg.maxBlockCompute = num('maxBlockCompute', o.maxBlockCompute, 1);
  if (o.maxTxBytes !== undefined) cfg.maxTxBytes = num('maxTxBytes', o.maxTxBytes, 128);
  if (o.confirmations !== undefined) cfg.confirmations = num('confirmations', o.confirmations, 0);
  if (o.blockReward !== undefined) cfg.blockReward = big('blockReward', o.blockReward);
  if (o.fees !== undefined) {
    const f = o.fees as Record<string, unknown>;
    if (f.perByte !== undefined) cfg.fees.perByte = big('fees.perByte', f.perByte);
    if (f.perCompute !== undefined) cfg.fees.perCompute = big('fees.perCompute', f.perCompute);
    if (f.burnBps !== undefined) {
      cfg.fees.burnBps = num('fees.burnBps', f.burnBps);
      if (cfg.fees.burnBps > 10_000) bad('fees.burnBps', 'must be ≤ 10000');
    }
  }
  if (o.compute !== undefined) {
    const c = o.compute as Record<string, unknown>;
    for (const k of Object.keys(DEFAULT_COMPUTE) as (keyof ComputeSchedule)[]) {
      if (c[k] !== undefined) cfg.compute[k] = num(`compute.${k}`, c[k]);
    }
  }
  if (o.pow !== undefined) {
    const p = o.pow as Record<string, unknown>;
    if (p.enabled !== undefined) cfg.pow.enabled = p.enabled === true;
    for (const k of ['initialTarget', 'maxTarget'] as const) {
      if (p[k] !== undefined) {
        if (typeof p[k] !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(p[k] as string)) bad(`pow.${k}`, 'must be 0x hex of at most 32 bytes');
        cfg.pow[k] = p[k] as string;
      }
    }
    if (p.retargetInterval !== undefined) cfg.pow.retargetInterval = num('pow.retargetInterval', p.retargetInterval, 1);
    if (p.maxAdjust !== undefined) cfg.pow.maxAdjust = num('pow.maxAdjust', p.maxAdjust, 1);
  }
  if (o.genesis !== undefined) {
    const g = o.genesis as Record<string, unknown>;
    if (g.timestamp !== undefined) cfg.genesis.timestamp = num('genesis.timestamp', g.timestamp);
    if (g.extraData !== undefined) cfg.genesis.extraData = String(g.extraData);
    if (g.alloc !== undefined) {
      if (!Array.isArray(g.alloc)) bad('genesis.alloc', 'must be an array of {address, balance}');
      cfg.genesis.alloc = g.alloc.map((a: unknown, i: number) => {
        const e = a as Record<string, unknown>;
        if (typeof e?.address !== 'string') bad(`genesis.alloc[${i}].address`, 'must be a string');
        return { address: e.address, balance: big(`genesis.alloc[${i}].balance`, e.balance).toString() };
      });
    }
  }
  if (cfg.maxTxBytes > cfg.maxBlockBytes) bad('maxTxBytes', 'must not exceed maxBlockBytes');
  return Object.freeze(cfg);
}

/** JSON form of a chain config (bigints as decimal strings). */
export function chainConfigToJson(cfg: ChainConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(cfg, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}
