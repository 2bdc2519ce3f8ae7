/**
 * Watches the L1 transactions a role sends until they are included: a move counts as made only
 * once its receipt is `ok`. A transaction that failed, or that no L1 block holds after
 * `retryAfterL1Blocks` (dropped from the pool, replaced, reorged out), is forgotten so the role
 * decides again from the game as L1 now holds it — and re-sends if the move is still due.
 */
import { toHex, toStrataError, type KeyPair } from '@strata/primitives';
import type { RollupLogger } from './derivation.js';
import type { RollupNode } from './rollup-node.js';

interface Pending {
  hash: Uint8Array;
  sentAt: number;
  what: string;
}

/** In-flight L1 transactions of one role, by the tag of the action they carry. */
export class TxTracker {
  private readonly pending = new Map<string, Pending>();
  constructor(
    private readonly node: RollupNode,
    private readonly log: RollupLogger,
    private readonly role: string,
    private readonly retryAfterL1Blocks = 3,
  ) {}

  /** Whether an action with this tag is waiting for inclusion. */
  has(tag: string): boolean {
    return this.pending.has(tag);
  }

  /** Number of actions waiting for inclusion. */
  get size(): number {
    return this.pending.size;
  }

  /** Sends an action unless one with the same tag is in flight; resolves true when sent. */
  async send(tag: string, key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit: number, what: string): Promise<boolean> {
    if (this.pending.has(tag)) return false;
    try {
      const hash = await this.node.l1.send(key, module, method, args, computeLimit);
      this.pending.set(tag, { hash, sentAt: this.node.l1Status.height, what });
      return true;
    } catch (e) {
      const err = toStrataError(e);
      this.log.warn({ role: this.role, action: what, code: err.code, error: err.message }, 'L1 refused the transaction; will decide again');
      return false;
    }
  }

  /** Checks every in-flight action: included ones are done, failed or lost ones are forgotten. */
  async reconcile(): Promise<void> {
    const height = this.node.l1Status.height;
    for (const [tag, p] of [...this.pending]) {
      const r = await this.node.l1.receipt(p.hash).catch(() => undefined);
      if (r?.status === 'ok') {
        this.pending.delete(tag);
      } else if (r?.status === 'failed') {
        this.pending.delete(tag);
        this.log.warn({ role: this.role, action: p.what, tx: toHex(p.hash), error: r.error }, 'L1 transaction failed; deciding again from L1 state');
      } else if (!r && height >= p.sentAt + this.retryAfterL1Blocks) {
        this.pending.delete(tag);
        this.log.warn({ role: this.role, action: p.what, tx: toHex(p.hash), sentAt: p.sentAt, l1Height: height }, 'L1 transaction not included (dropped or replaced); re-sending if still due');
      }
    }
  }
}
