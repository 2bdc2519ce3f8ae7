/**
 * One chain-id record shared by every settlement module of a chain (rule 10): a child chain's
 * id must differ from its parent's and from every sibling's, whatever kind of child it is
 * (optimistic rollup, ZK-rollup, sidechain, …). Otherwise two children sharing an id would
 * accept each other's signed transactions (replay). Children composed into the runtime
 * (`Module.settles`) are known from the module registry; children registered by a transaction
 * claim their id here, in state, under `chain_ids/<id>` → the instance that owns it.
 */
import { bigintToFixed, StrataError, utf8, type ErrorCode } from '@strata/primitives';
import { stateKey } from '@strata/state';
import type { Module, TxContext } from './module.js';

const claimKey = (chainId: number) => stateKey('chain_ids', bigintToFixed(BigInt(chainId), 8));

/** The instance (e.g. `sidechain/77`, `zk/903`, `optimistic/901`) that holds a child chain id here, if any. */
export function childChainIdOwner(ctx: Pick<TxContext, 'view' | 'registry'>, chainId: number): string | undefined {
  const raw = ctx.view.get(claimKey(chainId));
  if (raw) return new TextDecoder().decode(raw);
  return ctx.registry.childChains().get(chainId);
}

/**
 * Claims `chainId` for `instance` (idempotent for the same instance). Throws `code` with
 * reason `chain-id-parent` for the parent's own id, `chain-id-taken` when another child —
 * of any kind — holds it.
 */
export function claimChildChainId(ctx: Pick<TxContext, 'view' | 'registry' | 'config'>, chainId: number, instance: string, code: ErrorCode): void {
  if (chainId === ctx.config.chainId) throw new StrataError(code, `chain id ${chainId} is the parent chain's own`, { reason: 'chain-id-parent', chainId });
  const owner = childChainIdOwner(ctx, chainId);
  if (owner !== undefined && owner !== instance) throw new StrataError(code, `chain id ${chainId} is already used by ${owner} on this chain; every child chain needs its own id`, { reason: 'chain-id-taken', chainId, owner });
  if (!ctx.view.get(claimKey(chainId))) ctx.view.put(claimKey(chainId), utf8(instance));
}

/**
 * For a child composed into the runtime (`Module.settles`): throws `code` (reason
 * `chain-id-taken`) if a child registered by transaction already claimed `chainId`. Read only.
 */
export function checkChildChainId(ctx: Pick<TxContext, 'view'>, chainId: number, instance: string, code: ErrorCode): void {
  const raw = ctx.view.get(claimKey(chainId));
  const owner = raw ? new TextDecoder().decode(raw) : undefined;
  if (owner !== undefined && owner !== instance) throw new StrataError(code, `chain id ${chainId} is already used by ${owner} on this chain; this rollup needs its own id`, { reason: 'chain-id-taken', chainId, owner });
}

/**
 * Chain ids of every chain settled by `modules` (a child runtime's modules) and their
 * descendants: what a settlement module of that child declares as `settles.descendants` on
 * its parent, so ids stay unique down the whole tree, not only among siblings.
 */
export function descendantChainIds(modules: readonly Module[]): number[] {
  const out = new Set<number>();
  for (const m of modules) {
    if (!m.settles) continue;
    out.add(m.settles.chainId);
    for (const d of m.settles.descendants ?? []) out.add(d);
  }
  return [...out];
}
