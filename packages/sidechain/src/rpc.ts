/**
 * The sidechain's own JSON-RPC methods, served beside the node's standard ones
 * (`chain_*`, `tx_*`, `state_*` …): consensus state, commit certificates, the withdrawal
 * record and proof a user needs on the parent, and the trust statement.
 */
import type { StrataNode } from '@strata/node';
import { fromQuantity, toHex } from '@strata/primitives';
import { RpcError, type MethodSpec } from '@strata/rpc';
import { readWithdrawal, withdrawalKey, bridgeTotals } from './bridge.js';
import type { BftEngine } from './engine.js';
import { trustStatement, type SidechainSpec } from './spec.js';

function intParam(p: unknown[], i: number, name: string): number {
  let n: number;
  try {
    n = typeof p[i] === 'number' ? (p[i] as number) : Number(fromQuantity(p[i]));
  } catch {
    n = Number.NaN;
  }
  if (!Number.isSafeInteger(n) || n < 0) throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer`);
  return n;
}

/** `sidechain_*` methods of a sidechain node. */
export function sidechainRpcMethods(node: StrataNode, engine: BftEngine, spec: SidechainSpec, extra: () => Record<string, unknown> = () => ({})): Record<string, MethodSpec> {
  return {
    sidechain_info: {
      maxParams: 0,
      description: 'The sidechain: name, chain ids, validators, checkpoint interval, and what its users trust.',
      handler: () => ({
        name: spec.name,
        chainId: spec.chainId,
        parentChainId: spec.parentChainId,
        checkpointInterval: spec.checkpointInterval,
        engine: 'bft',
        validator: engine.index,
        // The set of the next height (genesis set plus the parent's set changes in effect).
        validators: engine.validators.validators.map((v, i) => ({ index: i, edPub: toHex(v.edPub), blsPub: toHex(v.blsPub), producer: toHex(v.producer), stake: v.power.toString() })),
        genesisValidators: spec.validators.length,
        trust: trustStatement(spec),
        ...extra(),
      }),
    },
    sidechain_consensusState: { maxParams: 0, description: 'Height, round, step, lock and vote tallies of this node.', handler: () => engine.consensus.status() },
    sidechain_certificate: {
      minParams: 1,
      maxParams: 1,
      description: 'Commit certificate of a height: signer bitmap and BLS aggregate of the precommits.',
      handler: (p) => {
        const h = intParam(p, 0, 'height');
        const c = engine.certificate(h);
        const ref = node.chain.blockAt(h);
        const set = engine.setFor(h) ?? engine.validators;
        return c ? { height: c.height, round: c.round, blockHash: toHex(c.blockHash), signers: toHex(c.signers), aggregate: toHex(c.aggregate), stake: set.powerOf(c.signers).toString(), totalStake: set.totalPower.toString(), stateRoot: ref ? toHex(ref.header.stateRoot) : null } : null;
      },
    },
    sidechain_withdrawal: {
      minParams: 1,
      maxParams: 2,
      description: 'Withdrawal `id` and its Merkle proof against the state root of block `height` (default head).',
      handler: (p) => {
        const id = intParam(p, 0, 'id');
        const ref = p[1] === undefined ? node.chain.head : node.chain.blockAt(intParam(p, 1, 'height'));
        if (!ref) throw RpcError.notFound('unknown block');
        const w = readWithdrawal(node.chain.stateReader, id);
        if (!w) return null;
        const { proof } = node.chain.proof(withdrawalKey(id), ref.header.stateRoot);
        return { id: w.id, l1Recipient: toHex(w.l1Recipient), amount: w.amount.toString(), height: ref.meta.height, stateRoot: toHex(ref.header.stateRoot), proof: proof.map(toHex) };
      },
    },
    sidechain_bridge: {
      maxParams: 0,
      description: 'Bridge counters of the head state: next deposit id, next withdrawal id, minted and burned totals.',
      handler: () => {
        const t = bridgeTotals(node.chain.stateReader);
        return { nextDeposit: t.nextDeposit, nextWithdrawal: t.nextWithdrawal, minted: t.minted.toString(), burned: t.burned.toString() };
      },
    },
  };
}
