/**
 * The node's JSON-RPC methods (documented in docs/rpc.md). Parameters are validated here and
 * bad ones rejected with -32602 naming the parameter; chain errors keep their StrataError code
 * in `error.data.code`.
 */
import { blockHash, decodeBlock, type BlockRef } from '@strata/chain';
import { bytesEqual, fromHex, fromQuantity, StrataError, toHex, toQuantity, encodeAddress } from '@strata/primitives';
import { RpcError, type SubscriptionHub, type MethodSpec } from '@strata/rpc';
import { accountKey, getAccount, minimumFee, parseAddress, TRANSFER_COMPUTE, txHashOf, type VerifiedTx } from '@strata/runtime';
import { TreeReader, verifyProof } from '@strata/state';
import type { StrataNode } from './node.js';
import { headerJson, lookupReceiptJson, txJson } from './views.js';

function param<T>(params: unknown[], i: number, name: string, parse: (v: unknown) => T): T {
  try {
    return parse(params[i]);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw RpcError.invalidParams(`invalid parameter ${i} (${name}): ${msg}`, { param: name });
  }
}

const hash32 = (v: unknown) => fromHex(String(v), 32);

/** Seconds as a JSON number, a decimal string or a 0x quantity. */
function seconds(v: unknown, max: number): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) n = Number(v);
  else if (typeof v === 'string' && v.startsWith('0x')) n = Number(fromQuantity(v));
  else n = Number.NaN;
  if (!Number.isFinite(n) || n < 0 || n > max) throw RpcError.invalidParams(`invalid parameter 0 (seconds): expected a number between 0 and ${max}`);
  return n;
}

function blockTag(node: StrataNode, v: unknown): BlockRef | undefined {
  const chain = node.chain;
  if (v === undefined || v === null || v === 'latest' || v === 'pending') return chain.head;
  if (v === 'finalized' || v === 'safe') return chain.finalized;
  if (v === 'earliest') return chain.blockAt(0);
  if (typeof v === 'string' && v.startsWith('0x') && v.length === 66) return chain.blockByHash(fromHex(v, 32));
  const n = fromQuantity(v);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new StrataError('INVALID_HEX', 'block number too large');
  return chain.blockAt(Number(n));
}

function tagParam(node: StrataNode, params: unknown[], i: number): BlockRef | undefined {
  const v = params[i];
  if (v !== undefined && v !== null && typeof v !== 'string') throw RpcError.invalidParams(`invalid parameter ${i} (block): expected a tag or 0x quantity`);
  return param(params, i, 'block', (x) => blockTag(node, x));
}

/** Transactions whose recovered senders the full-block cache keeps (all blocks together). */
const SENDER_CACHE_TXS = 50_000;

/**
 * Recovered transactions of recently asked-for blocks, by block hash (a block's body never
 * changes), so repeating `chain_getBlockByNumber(n, true)` costs one recovery per transaction
 * in all rather than one per call. Least recently used blocks go first.
 */
class SenderCache {
  private readonly blocks = new Map<string, VerifiedTx[]>();
  private txs = 0;
  get(key: string, compute: () => VerifiedTx[]): VerifiedTx[] {
    const hit = this.blocks.get(key);
    if (hit) {
      this.blocks.delete(key);
      this.blocks.set(key, hit);
      return hit;
    }
    const v = compute();
    if (v.length > SENDER_CACHE_TXS) return v;
    this.blocks.set(key, v);
    this.txs += v.length;
    for (const [k, old] of this.blocks) {
      if (this.txs <= SENDER_CACHE_TXS) break;
      this.blocks.delete(k);
      this.txs -= old.length;
    }
    return v;
  }
}

function blockJson(node: StrataNode, ref: BlockRef, full: boolean, cache?: SenderCache): Record<string, unknown> {
  const body = node.chain.store.getBody(ref.hash) ?? [];
  const recover = () => node.chain.verifyTxs(body);
  return {
    ...headerJson(node.opts.config, ref),
    size: toQuantity(body.reduce((n, b) => n + b.length, 0)),
    // Hashes need no signature recovery; only full transactions (with `from`) do.
    transactions: full
      ? (cache ? cache.get(toHex(ref.hash), recover) : recover()).map((t, index) =>
          txJson(node.opts.config, t, { blockHash: ref.hash, height: ref.meta.height, index }),
        )
      : body.map((raw) => toHex(txHashOf(raw))),
  };
}

/** Builds the node's RPC method table. `hub` carries `chain_subscribe` notifications. */
export function nodeRpcMethods(node: StrataNode, hub: SubscriptionHub): Record<string, MethodSpec> {
  const cfg = node.opts.config;
  const address = (v: unknown) => parseAddress(String(v), cfg.addressPrefix);
  const snapshots = new Map<string, Uint8Array>();
  const senders = new SenderCache();
  let snapshotSeq = 0;
  const netAdmin = () => {
    const admin = node.network?.admin;
    if (!admin) throw RpcError.methodNotSupported('this node runs without a p2p network');
    return admin;
  };
  const requireDev = () => {
    if (node.miningMode !== 'dev') throw RpcError.methodNotSupported('dev methods are only available on a node in dev mode (strata devnet)');
  };

  return {
    chain_getHead: {
      maxParams: 1,
      description: 'Head header; tag "latest" (default) or "finalized".',
      handler: (p) => {
        const tag = p[0] ?? 'latest';
        if (tag !== 'latest' && tag !== 'finalized') throw RpcError.invalidParams('invalid parameter 0 (tag): expected "latest" or "finalized"');
        return headerJson(cfg, tag === 'finalized' ? node.chain.finalized : node.chain.head);
      },
    },
    chain_getBlockByNumber: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const ref = tagParam(node, p, 0);
        return ref ? blockJson(node, ref, p[1] === true, senders) : null;
      },
    },
    chain_getBlockByHash: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const ref = node.chain.blockByHash(param(p, 0, 'hash', hash32));
        return ref ? blockJson(node, ref, p[1] === true, senders) : null;
      },
    },
    chain_getConfig: {
      maxParams: 0,
      handler: () => ({
        chainId: toQuantity(cfg.chainId),
        name: cfg.name,
        addressPrefix: cfg.addressPrefix,
        genesisHash: toHex(node.chain.genesisHash),
        targetBlockTimeMs: cfg.targetBlockTimeMs,
        maxBlockBytes: cfg.maxBlockBytes,
        maxBlockCompute: cfg.maxBlockCompute,
        maxTxBytes: cfg.maxTxBytes,
        confirmations: cfg.confirmations,
        fees: { perByte: toQuantity(cfg.fees.perByte), perCompute: toQuantity(cfg.fees.perCompute), burnBps: cfg.fees.burnBps },
        transferCompute: TRANSFER_COMPUTE,
        powEnabled: cfg.pow.enabled,
      }),
    },
    chain_subscribe: {
      minParams: 1,
      maxParams: 1,
      description: 'WebSocket only: "newHeads" notifies every new head.',
      handler: (p, ctx) => {
        if (p[0] !== 'newHeads') throw RpcError.invalidParams('invalid parameter 0 (kind): only "newHeads" is supported');
        return hub.add(ctx, 'newHeads');
      },
    },
    chain_unsubscribe: { minParams: 1, maxParams: 1, handler: (p, ctx) => hub.remove(String(p[0]), ctx) },
    tx_sendRaw: {
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        const raw = param(p, 0, 'tx', (v) => fromHex(String(v)));
        return toHex(node.submitTx(raw).hash);
      },
    },
    tx_get: {
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        const h = param(p, 0, 'hash', hash32);
        const found = node.chain.lookupTx(h);
        if (found) return txJson(cfg, found.tx, found);
        const pending = node.mempool.get(h);
        return pending ? txJson(cfg, pending) : null;
      },
    },
    tx_getReceipt: {
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        const found = node.chain.lookupTx(param(p, 0, 'hash', hash32));
        return found ? lookupReceiptJson(found) : null;
      },
    },
    tx_estimateFee: {
      minParams: 0,
      maxParams: 2,
      description: 'Minimum fee for a transaction of [bytes, computeLimit] (defaults: a plain transfer).',
      handler: (p) => {
        // Bounded quantities: a huge one would overflow the fee arithmetic (found by fuzzing).
        const small = (v: unknown) => {
          const n = fromQuantity(v);
          if (n > 0xffffffffn) throw new StrataError('INVALID_HEX', 'must be at most 0xffffffff');
          return Number(n);
        };
        const bytes = p[0] === undefined ? 160 : param(p, 0, 'bytes', small);
        const compute = p[1] === undefined ? TRANSFER_COMPUTE : param(p, 1, 'computeLimit', small);
        return toQuantity(minimumFee(cfg, bytes, compute));
      },
    },
    state_getAccount: {
      minParams: 1,
      maxParams: 2,
      handler: (p) => {
        const addr = param(p, 0, 'address', address);
        const ref = tagParam(node, p, 1);
        if (!ref) throw RpcError.notFound('unknown block');
        const isHead = bytesEqual(ref.hash, node.chain.head.hash);
        const reader = isHead ? node.chain.stateReader : new TreeReader(node.chain.nodeReader, ref.header.stateRoot);
        const a = getAccount(reader, addr);
        return {
          address: encodeAddress(cfg.addressPrefix, addr),
          balance: toQuantity(a.balance),
          nonce: toQuantity(a.nonce),
          // Nonce for the sender's next transaction, counting its pending mempool transactions.
          nextNonce: toQuantity(isHead ? node.mempool.nextNonce(addr, a.nonce) : a.nonce),
          blockNumber: toQuantity(ref.meta.height),
        };
      },
    },
    state_getProof: {
      minParams: 1,
      maxParams: 2,
      description: 'Merkle proof of an account (address) or of a raw 32-byte state key, at a block.',
      handler: (p) => {
        const raw = String(p[0]);
        const key = raw.startsWith('0x') && raw.length === 66 ? fromHex(raw, 32) : accountKey(param(p, 0, 'address', address));
        const ref = tagParam(node, p, 1);
        if (!ref) throw RpcError.notFound('unknown block');
        const { value, proof } = node.chain.proof(key, ref.header.stateRoot);
        verifyProof(ref.header.stateRoot, key, proof); // never serve a proof that does not verify
        return { key: toHex(key), value: value ? toHex(value) : null, proof: proof.map(toHex), stateRoot: toHex(ref.header.stateRoot), blockNumber: toQuantity(ref.meta.height), blockHash: toHex(ref.hash) };
      },
    },
    mempool_status: {
      maxParams: 0,
      handler: () => {
        const s = node.mempool.status((a) => node.chain.account(a));
        return { count: toQuantity(s.count), pending: toQuantity(s.pending), queued: toQuantity(s.queued), bytes: toQuantity(s.bytes), senders: toQuantity(s.senders) };
      },
    },
    mempool_content: {
      maxParams: 0,
      handler: () => node.mempool.all().slice(0, 1000).map((t) => txJson(cfg, t)),
    },
    net_info: {
      maxParams: 0,
      handler: () => ({
        genesisHash: toHex(node.chain.genesisHash),
        chainId: toQuantity(cfg.chainId),
        ...(node.network ? node.network.info() : { peerId: null, multiaddrs: [] }),
      }),
    },
    net_peers: { maxParams: 0, handler: () => node.network?.peers() ?? [] },
    net_syncStatus: {
      maxParams: 0,
      description: 'Block sync state: syncing, from which peer, last sync figures, known peer heads.',
      handler: () => netAdmin().syncStatus(),
    },
    admin_addPeer: {
      admin: true,
      minParams: 1,
      maxParams: 1,
      description: 'Dials a peer multiaddr (ending in /p2p/<peerId>).',
      handler: async (p) => {
        await netAdmin().addPeer(param(p, 0, 'multiaddr', (v) => String(v)));
        return true;
      },
    },
    admin_disconnectPeer: {
      admin: true,
      minParams: 1,
      maxParams: 1,
      description: 'Closes the connections to a peer (it may reconnect).',
      handler: async (p) => {
        await netAdmin().disconnectPeer(param(p, 0, 'peerId', (v) => String(v)));
        return true;
      },
    },
    admin_blockPeer: {
      admin: true,
      minParams: 1,
      maxParams: 2,
      description: 'Disconnects a peer and refuses it for N seconds (default 3600).',
      handler: (p) => {
        const peer = param(p, 0, 'peerId', (v) => String(v));
        const s = p[1] === undefined ? 3600 : seconds(p[1], 365 * 86_400);
        netAdmin().blockPeer(peer, s);
        return true;
      },
    },
    admin_unblockPeer: {
      admin: true,
      minParams: 1,
      maxParams: 1,
      description: 'Lifts a block or ban on a peer.',
      handler: (p) => {
        netAdmin().unblockPeer(param(p, 0, 'peerId', (v) => String(v)));
        return true;
      },
    },
    admin_setMining: {
      admin: true,
      minParams: 1,
      maxParams: 1,
      description: 'Block production at run time: "off", "pow" or "dev".',
      handler: (p) => {
        const mode = String(p[0]);
        if (mode !== 'off' && mode !== 'pow' && mode !== 'dev') throw RpcError.invalidParams('invalid parameter 0 (mode): expected "off", "pow" or "dev"');
        try {
          node.setMiningMode(mode);
        } catch (e) {
          // A mode this chain's config cannot take ("pow" on a dev chain) is the caller's bad
          // parameter: -32602 with CONFIG_INVALID in data (CONFIG_INVALID elsewhere is -32603).
          if (e instanceof StrataError && e.code === 'CONFIG_INVALID') throw RpcError.invalidParams(e.message, { code: e.code, meta: e.meta });
          throw e;
        }
        return true;
      },
    },
    chain_getReorgAlarm: {
      maxParams: 0,
      description: 'The reorg brake (--max-reorg-depth): null when not engaged, else the heavier branch it holds back.',
      handler: () => {
        const a = node.chain.reorgAlarm;
        if (!a) return null;
        return {
          branchHead: toHex(a.branchHead),
          branchHeight: toQuantity(a.branchHeight),
          branchWork: toQuantity(a.branchWork),
          depth: a.depth,
          forkHeight: toQuantity(a.forkHeight),
          maxReorgDepth: a.maxReorgDepth,
          head: toHex(node.chain.head.hash),
        };
      },
    },
    admin_releaseReorgBrake: {
      admin: true,
      maxParams: 0,
      description: 'Adopts the heavier branch the reorg brake holds back (the documented way out of the alarm).',
      handler: async () => {
        const res = await node.releaseReorgBrake();
        return { status: res.status, head: toHex(node.chain.head.hash), height: toQuantity(node.chain.head.meta.height), depth: res.reorg?.depth ?? 0 };
      },
    },
    net_importBlock: {
      minParams: 1,
      maxParams: 1,
      description: 'Submits a raw encoded block (as a peer would).',
      handler: async (p) => {
        const block = param(p, 0, 'block', (v) => decodeBlock(fromHex(String(v))));
        let res: Awaited<ReturnType<typeof node.importNetworkBlock>>;
        try {
          res = await node.importNetworkBlock(block, 'rpc');
        } catch (e) {
          // A block the chain refuses is the caller's bad parameter (-32602, its BLOCK_* code in
          // data), not a node fault: before, it was answered -32603 "internal error".
          if (e instanceof StrataError && e.code.startsWith('BLOCK_')) throw RpcError.invalidParams(e.message, { code: e.code, meta: e.meta });
          throw e;
        }
        return { status: res.status, hash: toHex(blockHash(block.header)), height: toQuantity(res.height) };
      },
    },
    dev_mine: {
      maxParams: 1,
      description: 'Mines N blocks now (default 1).',
      handler: async (p) => {
        requireDev();
        const n = p[0] === undefined ? 1 : Number(param(p, 0, 'count', fromQuantity));
        if (n < 1 || n > 10_000) throw RpcError.invalidParams('count must be between 1 and 10000');
        return headerJson(cfg, await node.mineBlocks(n));
      },
    },
    dev_setBlockInterval: {
      minParams: 1,
      maxParams: 1,
      description: 'Seconds between blocks; 0 seals a block on every transaction.',
      handler: (p) => {
        requireDev();
        const s = seconds(p[0], 86_400);
        node.setBlockInterval(Math.round(s * 1000));
        return true;
      },
    },
    dev_increaseTime: {
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        requireDev();
        const s = seconds(p[0], 10 * 365 * 86_400);
        node.timeOffsetMs += Math.round(s * 1000);
        return toQuantity(Math.floor(node.timeOffsetMs / 1000));
      },
    },
    dev_snapshot: {
      maxParams: 0,
      handler: () => {
        requireDev();
        const id = toQuantity(++snapshotSeq);
        snapshots.set(id, node.chain.head.hash);
        return id;
      },
    },
    dev_revert: {
      minParams: 1,
      maxParams: 1,
      handler: async (p) => {
        requireDev();
        const id = String(p[0]);
        const hash = snapshots.get(id);
        if (!hash) return false;
        await node.rewindTo(hash);
        // As anvil: a snapshot is consumed by revert, and later ones too.
        for (const k of [...snapshots.keys()]) if (fromQuantity(k) >= fromQuantity(id)) snapshots.delete(k);
        return true;
      },
    },
    admin_nodeInfo: {
      admin: true,
      maxParams: 0,
      handler: () => ({
        dataDir: node.opts.dataDir,
        mining: node.miningMode,
        blockIntervalMs: node.blockInterval,
        producer: encodeAddress(cfg.addressPrefix, node.producer),
        head: toQuantity(node.chain.head.meta.height),
        mempool: node.mempool.size,
        pid: process.pid,
      }),
    },
    admin_setLogLevel: {
      admin: true,
      minParams: 1,
      maxParams: 1,
      handler: (p) => {
        const level = String(p[0]);
        if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw RpcError.invalidParams('unknown log level');
        node.log.level = level;
        return true;
      },
    },
    admin_clearMempool: {
      admin: true,
      maxParams: 0,
      handler: () => {
        const all = node.mempool.all();
        node.mempool.remove(all.map((t) => t.hash));
        return toQuantity(all.length);
      },
    },
  };
}

