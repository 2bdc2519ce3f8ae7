/**
 * Parent-chain JSON-RPC methods of the sidechain registry (`sidechain_*`), registered on the
 * parent's RPC server at composition time (devnet, `strata node`). Records travel as readable
 * fields; amounts as decimal strings, bytes as 0x hex.
 */
import type { Chain } from '@strata/chain';
import { fromQuantity, toHex } from '@strata/primitives';
import { RpcError, type MethodSpec } from '@strata/rpc';
import { childChainIdOwner, getAccount } from '@strata/runtime';
import {
  isWithdrawn,
  listSidechains,
  readCheckpoint,
  readDeposit,
  readPending,
  readSidechain,
  readUnbonding,
  readValidatorSet,
  sidechainBondPool,
  sidechainEscrow,
  type BondedValidator,
  readSetChangeRecord,
  setChangeCounts,
} from './registry.js';
import { SET_BOND, SET_SLASH, SET_UNBOND } from './validator-set.js';

const SET_KIND_NAMES: Record<number, string> = { [SET_BOND]: 'bond', [SET_UNBOND]: 'unbond', [SET_SLASH]: 'slash' };

function intParam(p: unknown[], i: number, name: string): number {
  const v = p[i];
  let n: number;
  try {
    n = typeof v === 'number' ? v : Number(fromQuantity(v));
  } catch {
    n = Number.NaN;
  }
  if (!Number.isSafeInteger(n) || n < 0) throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer`);
  return n;
}

function validatorJson(v: BondedValidator, i: number) {
  return { index: i, edPub: toHex(v.edPub), blsPub: toHex(v.blsPub), producer: toHex(v.producer), stake: (v.slashed ? 0n : v.power).toString(), votingPower: v.power.toString(), owner: toHex(v.owner), slashed: v.slashed };
}

/** The `sidechain_*` methods of a parent node. */
export function sidechainL1RpcMethods(node: { chain: Chain }): Record<string, MethodSpec> {
  const r = () => node.chain.stateReader;
  const summary = (id: number) => {
    const rec = readSidechain(r(), id);
    if (!rec) return null;
    const set = readValidatorSet(r(), id);
    return {
      chainId: rec.chainId,
      name: rec.name,
      owner: toHex(rec.owner),
      genesisHash: toHex(rec.genesisHash),
      checkpointInterval: rec.checkpointInterval,
      unbondingPeriod: rec.unbondingPeriod,
      registeredAt: rec.registeredAt,
      epoch: rec.epoch,
      checkpoints: rec.checkpoints,
      lastCheckpointHeight: rec.lastCheckpointHeight,
      deposits: rec.deposits,
      unbondings: rec.unbondings,
      validators: set.map(validatorJson),
      stake: set.reduce((a, v) => a + (v.slashed ? 0n : v.power), 0n).toString(),
      escrow: getAccount(r(), sidechainEscrow(id)).balance.toString(),
      bondPool: getAccount(r(), sidechainBondPool(id)).balance.toString(),
      pendingChanges: readPending(r(), id).map((p) => ({ id: p.id, kind: SET_KIND_NAMES[p.kind] ?? String(p.kind), edPub: toHex(p.validator.edPub), amount: p.amount.toString(), l1Height: p.l1Height })),
    };
  };
  return {
    sidechain_list: { maxParams: 0, description: 'Sidechains registered on this chain.', handler: () => listSidechains(r()).map(summary) },
    sidechain_get: { minParams: 1, maxParams: 1, description: 'A sidechain registration, its bonded validator set and bridge balances.', handler: (p) => summary(intParam(p, 0, 'chainId')) },
    sidechain_deposits: {
      minParams: 2,
      maxParams: 3,
      description: 'Deposits to a sidechain from an id on, each with whether it is final on this chain.',
      handler: (p) => {
        const id = intParam(p, 0, 'chainId');
        const from = intParam(p, 1, 'from');
        const max = Math.min(p[2] === undefined ? 100 : intParam(p, 2, 'max'), 500);
        const finalized = node.chain.finalized.meta.height;
        const out = [];
        for (let i = from; i < from + max; i++) {
          const d = readDeposit(r(), id, i);
          if (!d) break;
          out.push({ id: d.id, from: toHex(d.from), to: toHex(d.to), amount: d.amount.toString(), l1Height: d.l1Height, final: d.l1Height <= finalized });
        }
        return { finalizedHeight: finalized, head: node.chain.head.meta.height, deposits: out };
      },
    },
    sidechain_setChanges: {
      minParams: 2,
      maxParams: 3,
      description: 'Validator-set changes of a sidechain (bond, unbond, slash) from an id on, each with whether it is final on this chain; `applied` is how many took effect at accepted checkpoints.',
      handler: (p) => {
        const id = intParam(p, 0, 'chainId');
        const from = intParam(p, 1, 'from');
        const max = Math.min(p[2] === undefined ? 100 : intParam(p, 2, 'max'), 500);
        const finalized = node.chain.finalized.meta.height;
        const counts = setChangeCounts(r(), id);
        const out = [];
        for (let i = from; i < Math.min(from + max, counts.recorded); i++) {
          const c = readSetChangeRecord(r(), id, i);
          if (!c) break;
          const v = c.validator;
          out.push({ id: c.id, kind: c.kind, kindName: SET_KIND_NAMES[c.kind] ?? String(c.kind), edPub: toHex(v.edPub), blsPub: toHex(v.blsPub), producer: toHex(v.producer), amount: c.amount.toString(), l1Height: c.l1Height, final: c.l1Height <= finalized });
        }
        return { finalizedHeight: finalized, recorded: counts.recorded, applied: counts.applied, changes: out };
      },
    },
    sidechain_chainIdOwner: {
      minParams: 1,
      maxParams: 1,
      description: 'The child chain (e.g. `sidechain/77`, `zk/903`, `optimistic/901`) that holds a chain id on this chain, or null if it is free.',
      handler: (p) => childChainIdOwner({ view: r() as never, registry: node.chain.registry }, intParam(p, 0, 'chainId')) ?? null,
    },
    sidechain_checkpoint: {
      minParams: 2,
      maxParams: 2,
      description: 'Checkpoint `index` of a sidechain (height, block hash, state root).',
      handler: (p) => {
        const c = readCheckpoint(r(), intParam(p, 0, 'chainId'), intParam(p, 1, 'index'));
        return c ? { height: c.height, blockHash: toHex(c.blockHash), stateRoot: toHex(c.stateRoot), round: c.round, l1Height: c.l1Height, epoch: c.epoch } : null;
      },
    },
    sidechain_withdrawn: {
      minParams: 2,
      maxParams: 2,
      description: 'Whether a sidechain withdrawal id has been paid on this chain.',
      handler: (p) => isWithdrawn(r(), intParam(p, 0, 'chainId'), intParam(p, 1, 'id')),
    },
    sidechain_unbonding: {
      minParams: 2,
      maxParams: 2,
      handler: (p) => {
        const u = readUnbonding(r(), intParam(p, 0, 'chainId'), intParam(p, 1, 'index'));
        return u ? { owner: toHex(u.owner), amount: u.amount.toString(), releaseHeight: u.releaseHeight, claimed: u.claimed } : null;
      },
    },
  };
}
