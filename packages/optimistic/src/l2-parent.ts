/**
 * An optimistic L2 as the PARENT of another rollup (an L3). Nothing in the rollup roles assumes
 * their parent is the L1: they see it through an `L1Client`, and this file gives one over an L2
 * node (`ParentRollupClient`, in-process) and the same JSON-RPC methods the L1 serves
 * (`rollupParentRpcMethods`, so `RpcL1Client` works against an L2's endpoint unchanged).
 *
 * What a "parent block" is on an L2: an L2 block (height = its number, its hash and timestamp),
 * whose transactions to the child's settlement modules (`op_bridge/<id>`, `op_inbox/<id>`,
 * `op_disputes/<id>`, in the L2 runtime through `RollupConfig.l2Modules`) are read back from
 * its operations with their result status. Time (challenge windows, game clocks) counts the
 * L2's L1 origin (`parentModules(cfg, { clock: l1OriginClock })`), never L2 blocks, which the L2
 * sequencer makes at will; the parent's finalized head is the L2's finalized head: an L3 block is
 * final when its batch sits in an L2 block whose own batch is final on the L1.
 *
 * The L2 runs no end-of-block hooks, so a child of an L2 sets `forcedInclusion: 'call'`: anyone
 * calls `op_inbox.includeForced` once the sequencing window (in L2 blocks) has passed.
 */
import { fromHex, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { RpcError, type MethodSpec } from '@strata/rpc';
import { decodeTx, encodeTx, minimumFee, signTx } from '@strata/runtime';
import type { StateReader } from '@strata/state';
import type { RollupConfig } from './config.js';
import type { L1BlockData } from './derivation.js';
import type { L1Client } from './l1-client.js';
import { InboxMetaCodec } from './inbox-core.js';
import { decodeOp } from './ops.js';
import { readL1Origin } from './stf.js';
import {
  GameCodec,
  OutputCodec,
  OutputsMetaCodec,
  readGame,
  readInboxMeta,
  readOutput,
  readOutputsMeta,
  readTokenWithdrawalState,
  ForceTxArgs,
  readWithdrawalState,
  rollupModuleNames,
} from './parent-modules.js';
import type { RollupNode } from './rollup-node.js';
import { encode, fromQuantity, optional, struct, uint } from '@strata/primitives';

/** Compute a forced L2 transaction (`op_inbox.forceTx` on the L1) declares. */
const FORCE_TX_COMPUTE = 20_000;

/** A sequencing window no parent reaches (forced inclusion off); kept for configs that want none. */
export const L3_SEQUENCING_WINDOW = 2 ** 31;

/** An L2 block seen as a parent block: its transactions to child rollup `rollupId`'s modules, with status. */
export function l2ParentBlockData(node: RollupNode, height: number, rollupId: number): L1BlockData | undefined {
  const b = node.chain.get(height);
  if (!b) return undefined;
  const n = rollupModuleNames(rollupId);
  const mine = new Set([n.bridge, n.inbox, n.disputes]);
  const txs: L1BlockData['txs'] = [];
  b.results.forEach((r, i) => {
    // Compact transfers and deposits never call a settlement module; skipped ops changed nothing.
    if (r.status === 'skipped' || (r.kind !== 'tx' && r.kind !== 'forced') || !r.sender) return;
    // The block's execution already verified the signature and recorded the sender: decode the
    // transaction only (no signature check per op per read — this runs for every parent block a
    // child derives and for every `rollup_l1Block` call, on any block height a caller names).
    let tx: { module: string; method: string; args: Uint8Array };
    try {
      const op = decodeOp(b.allOps[i] as Uint8Array);
      if (op.kind !== 'tx' && op.kind !== 'forced') return;
      tx = decodeTx(op.raw);
    } catch {
      return;
    }
    if (mine.has(tx.module)) txs.push({ module: tx.module, method: tx.method, args: tx.args, sender: r.sender, ok: r.status === 'ok' });
  });
  return { height: b.number, hash: b.hash, parentHash: b.parentHash, timestamp: b.timestamp, txs };
}

/**
 * L1Client over in-process L2 nodes: reads from `read` (e.g. the L2 verifier a challenger
 * trusts), sends to `sequencer` (the L2's only entry for transactions).
 */
export class ParentRollupClient implements L1Client {
  /** Transactions sent and not yet in the `read` node's chain, for the forced-inclusion fallback. */
  private readonly sent = new Map<string, { raw: Uint8Array; key: KeyPair; sentAt: number; forced: boolean }>();
  constructor(
    private readonly read: RollupNode,
    private readonly child: RollupConfig,
    private readonly sequencer: RollupNode = read,
    /**
     * `forceAfterL1Blocks`: a transaction `read` has not seen included this many L1 blocks after it
     * was sent (the L2 sequencer censors it or lost it) is queued on the L1 by `op_inbox.forceTx`
     * of the L2, paid by the same key there: the L2 must include it within its sequencing window.
     * A challenger's or defender's move thus lands in L1 time whatever the L2 sequencer does.
     */
    private readonly opts: { forceAfterL1Blocks?: number } = {},
  ) {}
  /** Forces, through the L2's inbox on the L1, every sent transaction overdue in `read`'s chain. */
  private async forceOverdue(): Promise<void> {
    const after = this.opts.forceAfterL1Blocks;
    if (after === undefined) return;
    const l1Height = this.sequencer.l1Status.height;
    for (const [h, s] of this.sent) {
      if (this.read.chain.txLocation(fromHex(h, 32))) {
        this.sent.delete(h);
        continue;
      }
      if (s.forced) {
        // Forced long ago and still not seen (e.g. its nonce went to another tx): stop tracking it.
        if (l1Height > s.sentAt + after + 256) this.sent.delete(h);
        continue;
      }
      if (l1Height < s.sentAt + after) continue;
      s.forced = true;
      const l2 = this.sequencer.opts.rollup.rollupId;
      await this.sequencer.l1.send(s.key, rollupModuleNames(l2).inbox, 'forceTx', encode(ForceTxArgs, { rollupId: l2, raw: s.raw }), FORCE_TX_COMPUTE);
    }
  }
  private reader(): StateReader {
    return this.read.chain.reader();
  }
  async head() {
    await this.forceOverdue().catch(() => undefined); // retried at the next head() until it goes out
    const h = this.read.chain.head;
    return { height: h.number, hash: h.hash, finalized: this.read.heads().finalized, clock: readL1Origin(this.read.chain.reader()) };
  }
  async block(height: number) {
    return l2ParentBlockData(this.read, height, this.child.rollupId);
  }
  async outputsMeta() {
    return readOutputsMeta(this.reader(), this.child.rollupId);
  }
  async output(i: number) {
    return readOutput(this.reader(), this.child.rollupId, i);
  }
  async game(g: number) {
    return readGame(this.reader(), this.child.rollupId, g);
  }
  async withdrawalState(id: number) {
    return readWithdrawalState(this.reader(), this.child.rollupId, id);
  }
  async tokenWithdrawalState(id: number) {
    return readTokenWithdrawalState(this.reader(), this.child.rollupId, id);
  }
  async balance(address: Uint8Array) {
    return this.read.chain.account(address).balance;
  }
  async send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number) {
    const cfg = this.sequencer.env.config;
    const base = { chainId: cfg.chainId, nonce: this.sequencer.nextNonce(key.address), fee: 0n, computeLimit, module, method, args };
    const probe = encodeTx(signTx(base, key.secretKey)).length + 24;
    const raw = encodeTx(signTx({ ...base, fee: minimumFee(cfg, probe, computeLimit) }, key.secretKey));
    const hash = this.sequencer.submitTx(raw).hash;
    if (this.opts.forceAfterL1Blocks !== undefined) this.sent.set(toHex(hash), { raw, key, sentAt: this.sequencer.l1Status.height, forced: false });
    return hash;
  }
  async receipt(hash: Uint8Array) {
    const loc = this.read.chain.txLocation(hash);
    if (!loc) return undefined;
    const r = this.read.chain.get(loc.number)?.results[loc.index];
    if (!r) return undefined;
    return { status: r.status === 'ok' ? ('ok' as const) : ('failed' as const), height: loc.number, ...(r.error ? { error: r.error } : {}) };
  }
}

const WdWire = struct('WithdrawalL1Wire', { proven: optional(struct('P', { outputIndex: uint, l1Height: uint })), finalized: uint });

function intParam(p: unknown[], i: number, name: string): number {
  const v = p[i];
  let n = Number.NaN;
  try {
    n = typeof v === 'number' ? v : Number(fromQuantity(v));
  } catch {
    // reported below
  }
  if (!Number.isSafeInteger(n) || n < 0) throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer`);
  return n;
}

/**
 * The parent-side rollup methods (`rollup_l1Block`, `rollup_inbox`, `rollup_outputsMeta`,
 * `rollup_output`, `rollup_game`, `rollup_withdrawalL1`) served by an L2 for its children, in
 * the L1's wire shapes, so a child's roles use `RpcL1Client` against the L2's RPC.
 */
export function rollupParentRpcMethods(node: RollupNode, children: RollupConfig[]): Record<string, MethodSpec> {
  const r = () => node.chain.reader();
  const known = new Set(children.map((c) => c.rollupId));
  const rid = (p: unknown[], i: number): number => {
    if (p.length <= i) {
      if (children.length === 1) return (children[0] as RollupConfig).rollupId;
      throw RpcError.invalidParams(`parameter ${i} (rollupId) is required: this chain settles rollups ${[...known].join(', ')}`);
    }
    const n = intParam(p, i, 'rollupId');
    if (!known.has(n)) throw RpcError.invalidParams(`unknown rollup ${n}; this chain settles ${[...known].join(', ')}`);
    return n;
  };
  if (children.length === 0) throw new StrataError('CONFIG_INVALID', 'rollupParentRpcMethods needs at least one child rollup');
  return {
    rollup_l1Block: {
      minParams: 1,
      maxParams: 2,
      description: "A parent block's transactions to a child rollup's modules, with status (here: an L2 block).",
      handler: (p) => {
        const b = l2ParentBlockData(node, intParam(p, 0, 'height'), rid(p, 1));
        if (!b) return null;
        return {
          height: b.height,
          hash: toHex(b.hash),
          parentHash: toHex(b.parentHash),
          timestamp: b.timestamp,
          txs: b.txs.map((t) => ({ module: t.module, method: t.method, args: toHex(t.args), sender: toHex(t.sender), ok: t.ok })),
        };
      },
    },
    rollup_inbox: { maxParams: 1, handler: (p) => ({ raw: toHex(encode(InboxMetaCodec, readInboxMeta(r(), rid(p, 0)))), ...readInboxMeta(r(), rid(p, 0)) }) },
    rollup_outputsMeta: { maxParams: 1, handler: (p) => ({ raw: toHex(encode(OutputsMetaCodec, readOutputsMeta(r(), rid(p, 0)))), ...readOutputsMeta(r(), rid(p, 0)) }) },
    rollup_output: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const o = readOutput(r(), rid(p, 1), intParam(p, 0, 'index'));
        return o ? { raw: toHex(encode(OutputCodec, o)), l2Block: o.l2Block, stateRoot: toHex(o.stateRoot), l1Height: o.l1Height, status: o.status, openGames: o.openGames } : null;
      },
    },
    rollup_game: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const g = readGame(r(), rid(p, 1), intParam(p, 0, 'gameId'));
        return g ? { raw: toHex(encode(GameCodec, g)), outputIndex: g.outputIndex, lo: g.lo, hi: g.hi, turn: g.turn, status: g.status, moves: g.moves } : null;
      },
    },
    rollup_withdrawalL1: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const w = readWithdrawalState(r(), rid(p, 1), intParam(p, 0, 'id'));
        return { raw: toHex(encode(WdWire, { proven: w.proven, finalized: w.finalized ? 1 : 0 })), ...w };
      },
    },
    rollup_tokenWithdrawalL1: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const w = readTokenWithdrawalState(r(), rid(p, 1), intParam(p, 0, 'id'));
        return { raw: toHex(encode(WdWire, { proven: w.proven, finalized: w.finalized ? 1 : 0 })), ...w };
      },
    },
  };
}
