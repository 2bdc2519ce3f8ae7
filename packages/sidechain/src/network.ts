/**
 * The sidechain's network over the project's libp2p stack: gossip of consensus messages
 * (proposals and votes) and of transaction batches, and request/response protocols for
 * catch-up sync (a peer's committed height; committed blocks with their certificates).
 * Implements the node's `NodeNetwork`, so `tx_sendRaw` on any validator reaches all of them.
 */
import type { NodeNetwork, StrataNode } from '@strata/node';
import { P2PNode, type GossipValidator, type P2POptions } from '@strata/p2p';
import { decode, encode, list, toHex, toStrataError, varBytes, type StrataError } from '@strata/primitives';
import { txHashOf } from '@strata/runtime';
import type { Logger } from 'pino';

/** Gossip topics and protocols. */
export const TOPIC_CONSENSUS = 'bft';
export const TOPIC_TXS = 'bft-txs';
export const PROTO_STATUS = 'bft-status/1';
export const PROTO_BLOCKS = 'bft-blocks/1';

/**
 * Most transactions in one gossiped batch: each one that is new costs a signature recovery, so
 * this bounds the work one message can force (a larger batch is rejected before any check).
 */
export const MAX_GOSSIP_TXS = 128;
const TxBatch = list(varBytes(512 * 1024), MAX_GOSSIP_TXS);

/** Decodes a gossiped transaction batch (DECODE_* beyond MAX_GOSSIP_TXS). */
export function decodeTxBatch(data: Uint8Array): Uint8Array[] {
  return decode(TxBatch, data, 2 * 1024 * 1024);
}

/** Longest a transaction waits in the gossip queue (ms). */
const TX_FLUSH_MS = 5;

/** Error codes that show a transaction is malformed or forged in itself (its sender is at fault). */
const FORGED_TX_CODES = new Set(['DECODE_TRUNCATED', 'DECODE_NON_CANONICAL', 'DECODE_OVERSIZED', 'DECODE_INVALID', 'INVALID_SIGNATURE', 'TX_WRONG_CHAIN']);

/**
 * Offers one gossiped batch to the mempool: transactions already known are skipped before any
 * signature check (a hash), and the first forged one (bad encoding or signature, other chain)
 * ends the batch, so a batch costs at most MAX_GOSSIP_TXS signature checks, and a forged batch
 * one. Runs in the topic's gossip validator, so a batch holding a forgery is rejected before it
 * is relayed. Returns how many were checked and submitted, and the forgery if any.
 */
export function admitGossipedTxs(raws: Uint8Array[], node: Pick<StrataNode, 'submitTx'> & { mempool: { has(hash: Uint8Array): boolean } }): { checked: number; submitted: number; forged: StrataError | undefined } {
  let checked = 0;
  let submitted = 0;
  for (const raw of raws.slice(0, MAX_GOSSIP_TXS)) {
    if (node.mempool.has(txHashOf(raw))) continue;
    checked++;
    try {
      node.submitTx(raw, { gossip: false });
      submitted++;
    } catch (e) {
      const err = toStrataError(e);
      if (FORGED_TX_CODES.has(err.code)) return { checked, submitted, forged: err };
      // a miss of the moment (nonce used, pool full, fee too low here): not the peer's fault
    }
  }
  return { checked, submitted, forged: undefined };
}

/** Limits of the sync protocols. */
export const STATUS_LIMITS = { maxRequestBytes: 64, maxResponseBytes: 256, timeoutMs: 3000 };
export const BLOCKS_LIMITS = { maxRequestBytes: 64, maxResponseBytes: 16 * 1024 * 1024, timeoutMs: 10_000 };

/** Options of a BftNetwork. */
export interface BftNetworkOptions extends Omit<P2POptions, 'networkId'> {
  /** Default: `sc<chainId>-<first 8 bytes of the genesis hash>`. */
  networkId?: string;
}

/** A sidechain node's network. */
export class BftNetwork implements NodeNetwork {
  p2p: P2PNode | undefined;
  private onConsensus: ((data: Uint8Array, from: string) => void) | undefined;
  private consensusValidator: GossipValidator = () => 'ignore';
  private txQueue: Uint8Array[] = [];
  private txTimer: NodeJS.Timeout | undefined;
  private handlers: { protocol: string; fn: (req: Uint8Array, from: string) => Promise<Uint8Array>; limits: typeof STATUS_LIMITS }[] = [];

  constructor(
    private readonly opts: BftNetworkOptions,
    private readonly log?: Logger,
  ) {}

  /** Sets the consensus topic's validator and handler (before `start`). */
  onConsensusMessage(validator: GossipValidator, handler: (data: Uint8Array, from: string) => void): void {
    this.consensusValidator = validator;
    this.onConsensus = handler;
  }

  /** Registers a request handler (before `start`). */
  handle(protocol: string, limits: typeof STATUS_LIMITS, fn: (req: Uint8Array, from: string) => Promise<Uint8Array>): void {
    this.handlers.push({ protocol, fn, limits });
  }

  async start(node: StrataNode): Promise<void> {
    const networkId = this.opts.networkId ?? `sc${node.opts.config.chainId}-${toHex(node.chain.genesisHash).slice(2, 18)}`;
    const { networkId: _ignored, ...rest } = this.opts;
    const p2p = await P2PNode.create({ ...rest, networkId }, this.log ? { logger: this.log } : {});
    p2p.subscribe(TOPIC_CONSENSUS, (d, f) => this.consensusValidator(d, f), (d, f) => this.onConsensus?.(d, f));
    // A batch is admitted in the validator, before gossipsub relays it: one with a forged
    // transaction is rejected (its sender penalized) and never forwarded. Accepting it on
    // decoding alone had every honest node relay an attacker's forged batches and be penalized
    // (then banned) by its own peers for them: one peer could split the validators apart.
    p2p.subscribe(
      TOPIC_TXS,
      (d) => {
        let raws: Uint8Array[];
        try {
          raws = decodeTxBatch(d);
        } catch {
          return 'reject';
        }
        const r = admitGossipedTxs(raws, node);
        if (r.forged) {
          this.log?.debug({ code: r.forged.code, checked: r.checked }, 'gossiped tx batch with a forged transaction rejected');
          return 'reject';
        }
        return 'accept';
      },
      () => {},
    );
    for (const h of this.handlers) p2p.handle(h.protocol, h.fn, h.limits);
    await p2p.start();
    this.p2p = p2p;
    node.log.info({ peerId: p2p.peerId, addrs: p2p.multiaddrs, networkId }, 'sidechain p2p listening');
  }

  async stop(): Promise<void> {
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    await this.p2p?.stop();
  }

  /** Publishes a consensus message (best effort). */
  publishConsensus(data: Uint8Array): void {
    this.p2p?.publish(TOPIC_CONSENSUS, data).catch(() => {});
  }

  broadcastBlock(): void {
    // Blocks travel inside proposals; committed ones by sync.
  }

  /**
   * Queues transactions for gossip: they leave in batches of up to MAX_GOSSIP_TXS, at the
   * latest TX_FLUSH_MS after the first one is queued (the node hands them over one by one as
   * RPC accepts them; a gossip message per transaction costs every peer a message's overhead).
   */
  broadcastTxs(raw: Uint8Array[]): void {
    for (const r of raw) this.txQueue.push(r);
    if (this.txQueue.length >= MAX_GOSSIP_TXS) this.flushTxs();
    else this.txTimer ??= setTimeout(() => this.flushTxs(), TX_FLUSH_MS);
  }

  private flushTxs(): void {
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    while (this.txQueue.length > 0) {
      const batch = this.txQueue.splice(0, MAX_GOSSIP_TXS);
      this.p2p?.publish(TOPIC_TXS, encode(TxBatch, batch)).catch(() => {});
    }
  }

  info(): { peerId: string; multiaddrs: string[]; networkId?: string } {
    return { peerId: this.p2p?.peerId ?? '', multiaddrs: this.p2p?.multiaddrs ?? [], ...(this.p2p ? { networkId: this.p2p.networkId } : {}) };
  }

  peers(): { id: string; addrs: string[]; score: number; direction: string }[] {
    return (this.p2p?.peers() ?? []).map((p) => ({ id: p.id, addrs: p.addrs, score: p.score, direction: p.direction }));
  }
}
