/**
 * The events a user cares about on every layer, as one feed: deposit made and credited, batch
 * posted, root proposed, dispute opened / moved / resolved, withdrawal started / ready /
 * finalized, transfers. Each event has a human line (the devnet prints it; the explorer shows
 * it) and its data. Layers add formatters for their settlement modules' receipt events to
 * {@link MODULE_EVENT_TEXT} (key `module.type`).
 */
import { EventEmitter } from 'node:events';

/** One event of the feed. */
export interface FeedEvent {
  /** Sequence number in this feed. */
  seq: number;
  /** Layer the event is about (a rollup's settlement events on L1 are about the rollup). */
  layer: string;
  /** Layer whose block carried it. */
  chain: string;
  /** Short machine name: `deposit`, `batch`, `output`, `game.opened`, `withdrawal.ready`, … */
  kind: string;
  /** One human line. */
  text: string;
  block?: number;
  tx?: string;
  data: Record<string, unknown>;
  /** ms since epoch when the feed saw it. */
  time: number;
  /** Seen while catching up with history at start (not printed as news). */
  replay?: boolean;
}

/** How a receipt event of a settlement module reads to people; `undefined` skips it. */
export type EventText = (d: Record<string, string | number | boolean>, ctx: { chain: string; child: string; coins: (units: string) => string; addr: (hex: string, layer: string) => string }) =>
  | { kind: string; text: string; layer?: string }
  | undefined;

/** Receipt events of the L1 settlement modules, by `module.type`. */
export const MODULE_EVENT_TEXT: Record<string, EventText> = {
  'op_bridge.deposit': (d, c) => ({ kind: 'deposit', layer: c.child, text: `deposit #${d.id}: ${c.coins(String(d.amount))} from ${c.addr(String(d.from), c.chain)} locked on ${c.chain} for ${c.addr(String(d.to), c.child)}` }),
  'op_bridge.withdrawalProven': (d, c) => ({ kind: 'withdrawal.proven', layer: c.child, text: `withdrawal #${d.id} proven on ${c.chain} against output ${d.outputIndex}` }),
  'op_bridge.withdrawalFinalized': (d, c) => ({ kind: 'withdrawal.finalized', layer: c.child, text: `withdrawal #${d.id} finalized: ${c.coins(String(d.amount))} paid to ${c.addr(String(d.to), c.chain)} on ${c.chain}` }),
  'op_inbox.batch': (d, c) => ({ kind: 'batch', layer: c.child, text: `batch ${d.index} posted to ${c.chain}: L2 blocks #${d.firstBlock}–#${Number(d.firstBlock) + Number(d.blocks) - 1}, ${d.ops} ops, ${d.bytes} B` }),
  'op_inbox.forcedTx': (d, c) => ({ kind: 'forced', layer: c.child, text: `forced transaction queued on ${c.chain} (${d.bytes} B)` }),
  'op_inbox.forcedInclusion': (d, c) => ({ kind: 'forced.included', layer: c.child, text: `sequencing window expired: ${d.ops} queued ops force-included as L2 block #${d.block}` }),
  'op_disputes.outputProposed': (d, c) => ({ kind: 'output', layer: c.child, text: `output root ${d.index} proposed for L2 block #${d.l2Block}: ${String(d.stateRoot).slice(0, 18)}…` }),
  'op_disputes.gameOpened': (d, c) => ({ kind: 'game.opened', layer: c.child, text: `DISPUTE game ${d.gameId} opened against output ${d.outputIndex} (ops ${d.lo}–${d.hi})` }),
  'op_disputes.gameMove': (d, c) => ({
    kind: 'game.move',
    layer: c.child,
    // The root's side (proposer, or a bonded defender) posts a midpoint root; the challenger agrees or not.
    text: `dispute game ${d.gameId} move ${d.move}: ${d.by} ${d.by === 'challenger' ? `${d.agree ? 'agrees' : 'disagrees'} → ops ${d.lo}–${d.hi}` : `posts the root at op ${d.mid}`}`,
  }),
  'op_disputes.gameStep': (d, c) => ({ kind: 'game.step', layer: c.child, text: `dispute game ${d.gameId}: ${c.chain} re-executed op ${d.op} (one-step proof)` }),
  'op_disputes.gameResolved': (d, c) => ({
    kind: 'game.resolved',
    layer: c.child,
    text: `dispute game ${d.gameId} resolved: ${d.winner} won (${d.reason})${d.discarded ? `; outputs ${d.discarded} discarded` : ''}`,
  }),
  'channels.channelOpened': (d, c) => ({ kind: 'channel.funded', layer: c.child, text: `channel ${String(d.channelId).slice(0, 12)}… funded on ${c.chain}: capacity ${c.coins(String(d.capacity))}` }),
  'channels.channelClosing': (d, c) => ({ kind: 'channel.closing', layer: c.child, text: `channel ${String(d.channelId).slice(0, 12)}… closing on ${c.chain} at state ${d.version} (dispute until ${c.chain} block #${d.disputeEnd})` }),
  'channels.channelClosed': (d, c) => ({ kind: 'channel.closed', layer: c.child, text: `channel ${String(d.channelId).slice(0, 12)}… closed (${d.how}): ${c.coins(String(d.balanceA))} / ${c.coins(String(d.balanceB))}` }),
  'channels.channelPenalized': (d, c) => ({ kind: 'channel.penalized', layer: c.child, text: `channel ${String(d.channelId).slice(0, 12)}… PENALTY: a revoked state ${d.revokedVersion} was published; ${c.coins(String(d.amount))} to the other side` }),
  'channels.htlcClaimed': (d, c) => ({ kind: 'channel.htlc', layer: c.child, text: `HTLC ${d.index} of channel ${String(d.channelId).slice(0, 12)}… claimed on ${c.chain}: ${c.coins(String(d.amount))}` }),
  'sc_bridge.minted': (d, c) => ({ kind: 'deposit.credited', text: `deposit #${d.depositId} credited on ${c.chain}: ${c.coins(String(d.amount))} to ${c.addr(String(d.to), c.chain)}` }),
  'sc_bridge.withdrawal': (d, c) => ({ kind: 'withdrawal.started', text: `withdrawal #${d.id} started on ${c.chain}: ${c.coins(String(d.amount))} (paid on the parent after a checkpoint covers it)` }),
  'sc_registry.registered': (d, c) => ({ kind: 'sidechain.registered', layer: c.child, text: `sidechain ${d.name} (chain ${d.chainId}) registered on ${c.chain}: ${d.validators} validators, stake ${c.coins(String(d.stake))}` }),
  'sc_registry.checkpoint': (d, c) => ({ kind: 'checkpoint', layer: c.child, text: `checkpoint ${d.index} accepted on ${c.chain}: sidechain block #${d.height} ${String(d.blockHash).slice(0, 14)}…` }),
  'sc_registry.deposit': (d, c) => ({ kind: 'deposit', layer: c.child, text: `sidechain deposit #${d.id}: ${c.coins(String(d.amount))} locked on ${c.chain}` }),
  'sc_registry.withdrawn': (d, c) => ({ kind: 'withdrawal.finalized', layer: c.child, text: `sidechain withdrawal #${d.id} paid on ${c.chain}: ${c.coins(String(d.amount))} (checkpoint ${d.checkpoint})` }),
  'sc_registry.slashed': (d, c) => ({ kind: 'slashed', layer: c.child, text: `validator ${d.validator} SLASHED on ${c.chain} (double sign at height ${d.height}): bond ${c.coins(String(d.bond))}` }),
  'sc_registry.validatorSetChanged': (d, c) => ({ kind: 'validators', layer: c.child, text: `sidechain validator set changed: epoch ${d.epoch}, ${d.validators} validators` }),
};

/** A bounded in-memory feed of events with listeners. */
export class EventFeed extends EventEmitter {
  private readonly events: FeedEvent[] = [];
  private seq = 0;

  constructor(private readonly max = 2000) {
    super();
  }

  /** Adds an event and tells listeners (`'event'`). */
  push(e: Omit<FeedEvent, 'seq' | 'time'> & { time?: number }): FeedEvent {
    const full: FeedEvent = { ...e, seq: ++this.seq, time: e.time ?? Date.now() };
    this.events.push(full);
    if (this.events.length > this.max) this.events.splice(0, this.events.length - this.max);
    this.emit('event', full);
    return full;
  }

  /** The latest `n` events, oldest first. */
  recent(n = 200): FeedEvent[] {
    return this.events.slice(-n);
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(fn: (e: FeedEvent) => void): () => void {
    this.on('event', fn);
    return () => this.off('event', fn);
  }
}
