/**
 * The L2 node's JSON-RPC: the L1's method names where they apply (chain_getHead,
 * chain_getBlockByNumber, tx_sendRaw, tx_getReceipt, state_getAccount, mempool_status…) plus
 * rollup methods: the three heads, output roots with their status, a withdrawal's stage and proof.
 */
import { bytesEqual, encodeAddress, fromHex, fromQuantity, toHex, toQuantity } from '@strata/primitives';
import { RpcError, RpcServer, SubscriptionHub, type MethodSpec, type RpcServerOptions } from '@strata/rpc';
import { accountKey, parseAddress, txToJson, type VerifiedTx } from '@strata/runtime';
import { verifyProof } from '@strata/state';
import type { L2Block } from './l2-chain.js';
import { GAME_CHALLENGER_WON, GAME_OPEN, GAME_PROPOSER_WON, TURN_PROPOSER } from './parent-modules.js';
import { isOutputFinalView, tokenWithdrawalStage, withdrawalStage } from './withdrawal-stage.js';
import type { RollupNode } from './rollup-node.js';
import { getTokenWithdrawal, getWithdrawal, l1DataSize, readL1Origin } from './stf.js';

/** Most withdrawals one `rollup_list*Withdrawals` call stages (the newest; each stage reads the parent). */
export const MAX_LISTED_WITHDRAWALS = 256;

/**
 * The withdrawal ids a listing stages: those `who` sent or receives (from the chain's
 * per-account index, checked against the local record before any parent read), or everyone's,
 * the newest `MAX_LISTED_WITHDRAWALS` of them — so one call's work is bounded whatever the
 * chain's other withdrawals (before, every withdrawal ever made was read from the state tree).
 */
function listed(node: RollupNode, token: boolean, who: Uint8Array | undefined, record: (id: number) => { l2Sender: Uint8Array; l1Recipient: Uint8Array } | undefined): number[] {
  const candidates = who
    ? node.chain.withdrawalsOf(who, token, MAX_LISTED_WITHDRAWALS)
    : node.chain.recentWithdrawals(token, MAX_LISTED_WITHDRAWALS);
  return candidates.filter((id) => {
    const r = record(id);
    return !!r && (!who || bytesEqual(r.l2Sender, who) || bytesEqual(r.l1Recipient, who));
  });
}

function blockJson(node: RollupNode, b: L2Block, full: boolean): Record<string, unknown> {
  const o = node.derivation.originOf(b.number);
  return {
    number: toQuantity(b.number),
    hash: toHex(b.hash),
    parentHash: toHex(b.parentHash),
    timestamp: toQuantity(b.timestamp),
    stateRoot: toHex(b.stateRoot),
    operations: b.allOps.length,
    l1Origin: o ? toQuantity(o.l1Height) : null,
    // The L1 origin the block's state carries: the clock of the children it settles.
    ...(node.hostsChildren ? { l1Clock: toQuantity(readL1Origin(node.chain.reader(b.stateRoot))) } : {}),
    transactions: full
      ? b.results.map((r, i) => ({ index: i, kind: r.kind, status: r.status, hash: r.txHash ? toHex(r.txHash) : null, error: r.error ?? null, events: r.events }))
      : b.results.filter((r) => r.txHash).map((r) => toHex(r.txHash as Uint8Array)),
  };
}

/** The L1's `tx_get` shape (`txToJson` from @strata/runtime), with L2 addresses. */
function txJson(node: RollupNode, v: VerifiedTx, where?: { block: L2Block; index: number }): Record<string, unknown> {
  return txToJson(node.env.config.addressPrefix, v, where ? { blockHash: where.block.hash, height: where.block.number, index: where.index } : undefined);
}

/** The `newHeads` notification of an L2 block: the shape `chain_getHead` returns. */
export function l2HeadJson(node: RollupNode, b: L2Block): Record<string, unknown> {
  return blockJson(node, b, false);
}

/**
 * Builds the L2 RPC method table. `hub` carries `chain_subscribe` ("newHeads") notifications;
 * whoever serves the table publishes to it ({@link startL2Rpc} does).
 */
export function l2RpcMethods(node: RollupNode, hub: SubscriptionHub = new SubscriptionHub()): Record<string, MethodSpec> {
  const prefix = node.env.config.addressPrefix;
  const hash32 = (v: unknown, i = 0) => {
    try {
      return fromHex(String(v), 32);
    } catch (e) {
      throw RpcError.invalidParams(`invalid parameter ${i} (hash): ${(e as Error).message}`);
    }
  };
  const addr = (v: unknown) => {
    try {
      return parseAddress(String(v), prefix);
    } catch (e) {
      throw RpcError.invalidParams(`invalid parameter 0 (address): ${(e as Error).message}`);
    }
  };
  const tagged = (tag: unknown): number => {
    const h = node.heads();
    if (tag === undefined || tag === null || tag === 'latest' || tag === 'unsafe') return h.unsafe;
    if (tag === 'safe') return h.safe;
    if (tag === 'finalized') return h.finalized;
    return Number(fromQuantity(tag));
  };
  return {
    chain_getHead: { maxParams: 1, handler: (p) => blockJson(node, node.chain.get(tagged(p[0])) as L2Block, false) },
    chain_getBlockByNumber: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const b = node.chain.get(tagged(p[0]));
        return b ? blockJson(node, b, p[1] === true) : null;
      },
    },
    chain_getConfig: {
      maxParams: 0,
      handler: () => ({ chainId: toQuantity(node.env.config.chainId), name: node.env.config.name, addressPrefix: prefix, rollupId: node.opts.rollup.rollupId, challengeWindow: node.opts.rollup.challengeWindow, fees: { perByte: '0x0', perCompute: toQuantity(node.env.config.fees.perCompute), burnBps: 0 } }),
    },
    rollup_getConfig: {
      maxParams: 0,
      description: "The rollup's protocol parameters (what the L1 modules enforce): windows in L1 blocks, bonds, batcher, limits.",
      handler: () => {
        const c = node.opts.rollup;
        return {
          rollupId: c.rollupId,
          l2ChainId: c.l2ChainId,
          l2AddressPrefix: c.l2AddressPrefix,
          batcher: toHex(c.batcher),
          challengeWindow: c.challengeWindow,
          clockBlocks: c.clockBlocks,
          proposerBond: c.proposerBond.toString(),
          challengerBond: c.challengerBond.toString(),
          bondBurnBps: c.bondBurnBps,
          sequencingWindow: c.sequencingWindow,
          maxBatchBytes: c.maxBatchBytes,
          maxBatchOps: c.maxBatchOps,
          maxTimestampDriftMs: c.maxTimestampDriftMs,
        };
      },
    },
    chain_subscribe: {
      minParams: 1,
      maxParams: 1,
      description: 'WebSocket only: "newHeads" notifies every new L2 head (sequenced or derived).',
      handler: (p, ctx) => {
        if (p[0] !== 'newHeads') throw RpcError.invalidParams('invalid parameter 0 (kind): only "newHeads" is supported');
        return hub.add(ctx, 'newHeads');
      },
    },
    chain_unsubscribe: { minParams: 1, maxParams: 1, handler: (p, ctx) => hub.remove(String(p[0]), ctx) },
    tx_sendRaw: { minParams: 1, maxParams: 1, handler: (p) => toHex(node.submitTx(fromHex(String(p[0]))).hash) },
    tx_get: {
      minParams: 1,
      maxParams: 1,
      description: 'A transaction by hash: included (with its block) or still in the sequencer pool; null when unknown.',
      handler: (p) => {
        const h = hash32(p[0]);
        const loc = node.chain.txLocation(h);
        if (loc) {
          const v = node.chain.txAt(loc.number, loc.index);
          if (v) return txJson(node, v, { block: node.chain.get(loc.number) as L2Block, index: loc.index });
        }
        const pending = node.pooledTx(h);
        return pending ? txJson(node, pending) : null;
      },
    },
    tx_getReceipt: {
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        const loc = node.chain.txLocation(fromHex(String(p[0]), 32));
        if (!loc) return null;
        const b = node.chain.get(loc.number) as L2Block;
        const r = b.results[loc.index];
        if (!r) return null;
        const h = node.heads();
        return { transactionHash: String(p[0]), blockNumber: toQuantity(loc.number), status: r.status === 'ok' ? '0x1' : '0x0', error: r.error ?? null, events: r.events, l1Fee: toQuantity(r.l1Fee ?? 0n), l1DataSize: toQuantity(r.l1Fee === undefined || b.allOps[loc.index] === undefined ? 0 : l1DataSize(b.allOps[loc.index] as Uint8Array)), safety: loc.number <= h.finalized ? 'finalized' : loc.number <= h.safe ? 'safe' : 'unsafe' };
      },
    },
    state_getAccount: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const a = addr(p[0]);
        const n = tagged(p[1]);
        const b = node.chain.get(n) as L2Block;
        const acct = node.chain.account(a, b.stateRoot);
        return { address: encodeAddress(prefix, a), balance: toQuantity(acct.balance), nonce: toQuantity(acct.nonce), nextNonce: toQuantity(node.isSequencer ? node.nextNonce(a) : acct.nonce), blockNumber: toQuantity(n) };
      },
    },
    state_getProof: {
      minParams: 1,
      maxParams: 2,
      description: 'Merkle proof of an account (address) or of a raw 32-byte state key (token balances, pools), at an L2 block.',
      handler: (p) => {
        const raw = String(p[0]);
        const key = raw.startsWith('0x') && raw.length === 66 ? hash32(raw) : accountKey(addr(p[0]));
        const n = tagged(p[1]);
        const b = node.chain.get(n);
        if (!b) throw RpcError.notFound(`no L2 block ${n}`);
        const { value, proof } = node.chain.proof(key, b.stateRoot);
        verifyProof(b.stateRoot, key, proof); // never serve a proof that does not verify
        return { key: toHex(key), value: value ? toHex(value) : null, proof: proof.map(toHex), stateRoot: toHex(b.stateRoot), blockNumber: toQuantity(n), blockHash: toHex(b.hash) };
      },
    },
    mempool_status: { maxParams: 0, handler: () => ({ count: toQuantity(node.poolSize) }) },
    rollup_getHeads: {
      maxParams: 0,
      description: "The unsafe (sequenced), safe (batch on the parent) and finalized (batch final on the parent) heads, and the parent's head and finalized height.",
      handler: () => {
        const h = node.heads();
        // `parent`: the chain this rollup settles on (the L1 for an L2, the L2 for an L3); its
        // finalized head bounds this rollup's. `l1` is the same object, kept for older clients.
        return { unsafe: h.unsafe, safe: h.safe, finalized: h.finalized, l1: node.l1Status, parent: node.l1Status };
      },
    },
    rollup_getOutputs: {
      maxParams: 0,
      handler: async () => {
        const meta = await node.l1.outputsMeta();
        const out = [];
        for (let i = Math.max(0, meta.count - 50); i < meta.count; i++) {
          const o = await node.l1.output(i);
          if (!o) continue;
          const local = node.chain.rootAfterOps(o.opEnd);
          out.push({
            index: i,
            l2Block: o.l2Block,
            stateRoot: toHex(o.stateRoot),
            l1Height: o.l1Height,
            status: o.status === 1 ? 'discarded' : (await isOutputFinalView(node, i)) ? 'final' : o.openGames > 0 ? 'disputed' : 'in challenge window',
            matchesLocal: local ? toHex(local) === toHex(o.stateRoot) : null,
          });
        }
        return out;
      },
    },
    rollup_getGames: {
      maxParams: 0,
      description: 'Dispute games on L1 (the latest 50): output, range, moves, status and winner.',
      handler: async () => {
        const meta = await node.l1.outputsMeta();
        const out = [];
        for (let id = Math.max(0, meta.gameCount - 50); id < meta.gameCount; id++) {
          const g = await node.l1.game(id);
          if (!g) continue;
          const status = g.status === GAME_OPEN ? 'open' : g.status === GAME_CHALLENGER_WON ? 'challenger won' : g.status === GAME_PROPOSER_WON ? 'proposer won' : 'void';
          out.push({ id, outputIndex: g.outputIndex, lo: g.lo, hi: g.hi, moves: g.moves, turn: g.turn === TURN_PROPOSER ? 'proposer' : 'challenger', status, challenger: toHex(g.challenger), proposer: toHex(g.proposer), challengerBond: g.bond.toString() });
        }
        return out;
      },
    },
    rollup_getWithdrawal: {
      minParams: 1,
      maxParams: 1,
      description: "A withdrawal's stage (waiting for root, in challenge window, ready, finalized), record and proof.",
      handler: async (p) => {
        const s = await withdrawalStage(node, Number(p[0]));
        if (!s) return null;
        return {
          id: s.record.id,
          from: toHex(s.record.l2Sender),
          to: toHex(s.record.l1Recipient),
          amount: s.record.amount.toString(),
          l2Block: s.l2Block,
          stage: s.stage,
          outputIndex: s.outputIndex ?? null,
          readyAtL1: s.readyAt ?? null,
          proof: s.proof ? s.proof.map(toHex) : null,
        };
      },
    },
    rollup_getTokenWithdrawal: {
      minParams: 1,
      maxParams: 1,
      description: "A token withdrawal's stage, record (token = the parent's id) and proof.",
      handler: async (p) => {
        const s = await tokenWithdrawalStage(node, Number(p[0]));
        if (!s) return null;
        return {
          id: s.record.id,
          from: toHex(s.record.l2Sender),
          to: toHex(s.record.l1Recipient),
          token: toHex(s.record.token),
          amount: s.record.amount.toString(),
          l2Block: s.l2Block,
          stage: s.stage,
          outputIndex: s.outputIndex ?? null,
          readyAtL1: s.readyAt ?? null,
          proof: s.proof ? s.proof.map(toHex) : null,
        };
      },
    },
    rollup_listTokenWithdrawals: {
      minParams: 0,
      maxParams: 1,
      handler: async (p) => {
        const who = p[0] === undefined ? undefined : addr(p[0]);
        const out = [];
        const reader = node.chain.reader();
        for (const id of listed(node, true, who, (id) => getTokenWithdrawal(reader, id))) {
          const s = await tokenWithdrawalStage(node, id);
          if (!s) continue;
          out.push({ id, token: toHex(s.record.token), amount: s.record.amount.toString(), to: toHex(s.record.l1Recipient), stage: s.stage, outputIndex: s.outputIndex ?? null, readyAtL1: s.readyAt ?? null });
        }
        return out;
      },
    },
    rollup_listWithdrawals: {
      minParams: 0,
      maxParams: 1,
      handler: async (p) => {
        const who = p[0] === undefined ? undefined : addr(p[0]);
        const out = [];
        const reader = node.chain.reader();
        for (const id of listed(node, false, who, (id) => getWithdrawal(reader, id))) {
          const s = await withdrawalStage(node, id);
          if (!s) continue;
          out.push({ id, amount: s.record.amount.toString(), to: toHex(s.record.l1Recipient), stage: s.stage, outputIndex: s.outputIndex ?? null, readyAtL1: s.readyAt ?? null });
        }
        return out;
      },
    },
  };
}

/** Settings of {@link startL2Rpc}: the RPC server's. */
export type L2RpcOptions = RpcServerOptions;

/**
 * Serves an L2 node's JSON-RPC (HTTP and WebSocket on one port): {@link l2RpcMethods} plus
 * `newHeads` notifications for every new head of `node`. Resolves once listening; stop the
 * returned server with `stop()` (the head listener is removed with it).
 */
export async function startL2Rpc(node: RollupNode, opts: L2RpcOptions, deps: NonNullable<ConstructorParameters<typeof RpcServer>[1]> = {}): Promise<RpcServer> {
  const server = new RpcServer(opts, deps);
  const hub = server.subscriptions;
  server.registerAll(l2RpcMethods(node, hub));
  const off = node.onHead((b) => hub.publish('newHeads', l2HeadJson(node, b)));
  const stop = server.stop.bind(server);
  server.stop = async () => {
    off();
    await stop();
  };
  await server.start();
  return server;
}
