/**
 * The mempool: transactions waiting for a block. Per sender, transactions are kept by nonce
 * and only a gap-free run from the account's next nonce is executable; across senders, block
 * building takes the highest fee rate first. A transaction with the same sender and nonce
 * replaces the pending one only if it pays at least `replaceBumpPercent` more. Every rejection
 * is a StrataError whose code says why.
 */
import { StrataError, toHex } from '@strata/primitives';
import { checkTxStatic, minimumFee, type Account, type ChainConfig, type ModuleRegistry, type VerifiedTx } from '@strata/runtime';

/** Mempool settings (node-level, not protocol). */
export interface MempoolOptions {
  /** Most transactions held. Default 20,000. */
  maxTxs?: number;
  /** Most bytes held. Default 64 MiB. */
  maxBytes?: number;
  /** Most transactions per sender. Default 128. */
  maxPerSender?: number;
  /** How far ahead of the account nonce a transaction may be. Default 128. */
  maxNonceGap?: number;
  /** Fee increase needed to replace a pending transaction, percent. Default 10. */
  replaceBumpPercent?: number;
}

interface Entry {
  vtx: VerifiedTx;
  senderHex: string;
  hashHex: string;
  /** Fee per minimum fee, scaled by 1e6 (fee rate independent of size). */
  priority: bigint;
  seq: number;
}

/** Reads an account's nonce and balance at the current head. */
export type AccountReader = (address: Uint8Array) => Account;

/** Outcome of adding a transaction. */
export interface AddResult {
  hash: string;
  /** Hash of the transaction this one replaced, if any. */
  replaced?: string;
  /** Hash of a transaction evicted to make room, if any. */
  evicted?: string;
}

/** Mempool statistics. */
export interface MempoolStatus {
  count: number;
  bytes: number;
  senders: number;
  /** Executable now (gap-free from the account nonce). */
  pending: number;
  /** Waiting for an earlier nonce. */
  queued: number;
}

/** The transaction pool. */
export class Mempool {
  private readonly byHash = new Map<string, Entry>();
  private readonly bySender = new Map<string, Map<number, Entry>>();
  private bytes = 0;
  private seq = 0;
  private readonly o: Required<MempoolOptions>;

  constructor(
    private readonly config: ChainConfig,
    private readonly registry: ModuleRegistry,
    opts: MempoolOptions = {},
  ) {
    this.o = {
      maxTxs: opts.maxTxs ?? 20_000,
      maxBytes: opts.maxBytes ?? 64 * 1024 * 1024,
      maxPerSender: opts.maxPerSender ?? 128,
      maxNonceGap: opts.maxNonceGap ?? 128,
      replaceBumpPercent: opts.replaceBumpPercent ?? 10,
    };
  }

  get size(): number {
    return this.byHash.size;
  }

  has(hash: Uint8Array | string): boolean {
    return this.byHash.has(typeof hash === 'string' ? hash : toHex(hash));
  }

  get(hash: Uint8Array | string): VerifiedTx | undefined {
    return this.byHash.get(typeof hash === 'string' ? hash : toHex(hash))?.vtx;
  }

  /** Adds a transaction or throws the reason it cannot be accepted. */
  add(vtx: VerifiedTx, account: Account): AddResult {
    const hashHex = toHex(vtx.hash);
    if (this.byHash.has(hashHex)) throw new StrataError('TX_ALREADY_KNOWN', `transaction ${hashHex} is already in the mempool`, { hash: hashHex });
    checkTxStatic(this.config, this.registry, vtx);
    const { tx } = vtx;
    if (tx.nonce < account.nonce) {
      throw new StrataError('TX_NONCE_TOO_LOW', `nonce ${tx.nonce} was already used; the account's next nonce is ${account.nonce}`, {
        expected: account.nonce,
        got: tx.nonce,
      });
    }
    if (tx.nonce > account.nonce + this.o.maxNonceGap) {
      throw new StrataError('TX_NONCE_TOO_HIGH', `nonce ${tx.nonce} is more than ${this.o.maxNonceGap} ahead of the account's next nonce ${account.nonce}`, {
        expected: account.nonce,
        got: tx.nonce,
      });
    }
    const senderHex = toHex(vtx.sender);
    const queue = this.bySender.get(senderHex);
    const existing = queue?.get(tx.nonce);
    // Fees of the sender's other pending transactions must also be payable.
    let committed = tx.fee;
    if (queue) for (const e of queue.values()) if (e !== existing && e.vtx.tx.nonce < tx.nonce) committed += e.vtx.tx.fee;
    if (account.balance < committed) {
      throw new StrataError('TX_INSUFFICIENT_FUNDS', `balance ${account.balance} cannot pay the fees of this and the sender's earlier pending transactions (${committed})`, {
        balance: account.balance.toString(),
        needed: committed.toString(),
      });
    }
    const entry: Entry = { vtx, senderHex, hashHex, priority: priorityOf(this.config, vtx), seq: this.seq++ };
    const result: AddResult = { hash: hashHex };
    if (existing) {
      const needed = existing.vtx.tx.fee + (existing.vtx.tx.fee * BigInt(this.o.replaceBumpPercent)) / 100n;
      if (tx.fee < needed) {
        throw new StrataError('MEMPOOL_REPLACEMENT_UNDERPRICED', `a transaction with nonce ${tx.nonce} is pending; a replacement must pay at least ${needed}`, {
          pendingFee: existing.vtx.tx.fee.toString(),
          minimum: needed.toString(),
        });
      }
      this.removeEntry(existing);
      result.replaced = existing.hashHex;
    } else if (queue && queue.size >= this.o.maxPerSender) {
      throw new StrataError('MEMPOOL_SENDER_LIMIT', `sender already has ${queue.size} pending transactions (limit ${this.o.maxPerSender})`);
    }
    while (this.byHash.size >= this.o.maxTxs || this.bytes + vtx.bytes.length > this.o.maxBytes) {
      const victim = this.lowestEvictable();
      if (!victim || victim.priority >= entry.priority) {
        throw new StrataError('MEMPOOL_FULL', 'the mempool is full and this transaction pays no more than the cheapest one held; raise the fee');
      }
      this.removeEntry(victim);
      result.evicted = victim.hashHex;
    }
    this.insert(entry);
    return result;
  }

  private insert(e: Entry): void {
    this.byHash.set(e.hashHex, e);
    let q = this.bySender.get(e.senderHex);
    if (!q) {
      q = new Map();
      this.bySender.set(e.senderHex, q);
    }
    q.set(e.vtx.tx.nonce, e);
    this.bytes += e.vtx.bytes.length;
  }

  private removeEntry(e: Entry): void {
    this.byHash.delete(e.hashHex);
    const q = this.bySender.get(e.senderHex);
    q?.delete(e.vtx.tx.nonce);
    if (q && q.size === 0) this.bySender.delete(e.senderHex);
    this.bytes -= e.vtx.bytes.length;
  }

  /** The cheapest transaction that is last in its sender's queue (evicting it strands nothing). */
  private lowestEvictable(): Entry | undefined {
    let worst: Entry | undefined;
    for (const q of this.bySender.values()) {
      let last: Entry | undefined;
      for (const e of q.values()) if (!last || e.vtx.tx.nonce > last.vtx.tx.nonce) last = e;
      if (last && (!worst || last.priority < worst.priority)) worst = last;
    }
    return worst;
  }

  /** Removes transactions by hash (included in a block). */
  remove(hashes: Iterable<Uint8Array | string>): void {
    for (const h of hashes) {
      const e = this.byHash.get(typeof h === 'string' ? h : toHex(h));
      if (e) this.removeEntry(e);
    }
  }

  /** Drops transactions whose nonce is now used or whose fee can no longer be paid. */
  prune(accountOf: AccountReader): string[] {
    const dropped: string[] = [];
    for (const q of [...this.bySender.values()]) {
      const first = q.values().next().value as Entry | undefined;
      if (!first) continue;
      const acct = accountOf(first.vtx.sender);
      for (const e of [...q.values()]) {
        if (e.vtx.tx.nonce < acct.nonce) {
          this.removeEntry(e);
          dropped.push(e.hashHex);
        }
      }
    }
    return dropped;
  }

  /**
   * Picks transactions for a block: highest fee rate first, each sender's in nonce order
   * from its account nonce, within the byte and compute limits.
   */
  select(limits: { maxBytes: number; maxCompute: number }, accountOf: AccountReader): VerifiedTx[] {
    const heads: { entry: Entry; next: number; queue: Map<number, Entry> }[] = [];
    for (const q of this.bySender.values()) {
      const first = q.values().next().value as Entry | undefined;
      if (!first) continue;
      const nonce = accountOf(first.vtx.sender).nonce;
      const e = q.get(nonce);
      if (e) heads.push({ entry: e, next: nonce + 1, queue: q });
    }
    const heap = new MaxHeap(heads, (a, b) => cmpEntry(a.entry, b.entry));
    const out: VerifiedTx[] = [];
    let bytes = 0;
    let compute = 0;
    while (heap.size > 0) {
      const top = heap.pop() as (typeof heads)[number];
      const t = top.entry.vtx;
      if (bytes + t.bytes.length > limits.maxBytes || compute + t.tx.computeLimit > limits.maxCompute) {
        // This sender's run stops here; others may still fit.
        if (bytes >= limits.maxBytes || compute >= limits.maxCompute) break;
        continue;
      }
      out.push(t);
      bytes += t.bytes.length;
      compute += t.tx.computeLimit;
      const nxt = top.queue.get(top.next);
      if (nxt) heap.push({ entry: nxt, next: top.next + 1, queue: top.queue });
    }
    return out;
  }

  /** The nonce a sender's next transaction should use: after its gap-free pending run. */
  nextNonce(sender: Uint8Array, stateNonce: number): number {
    const q = this.bySender.get(toHex(sender));
    let n = stateNonce;
    while (q?.has(n)) n++;
    return n;
  }

  /** Every transaction held, in arrival order. */
  all(): VerifiedTx[] {
    return [...this.byHash.values()].sort((a, b) => a.seq - b.seq).map((e) => e.vtx);
  }

  status(accountOf?: AccountReader): MempoolStatus {
    let pending = 0;
    if (accountOf) {
      for (const q of this.bySender.values()) {
        const first = q.values().next().value as Entry | undefined;
        if (!first) continue;
        let n = accountOf(first.vtx.sender).nonce;
        while (q.has(n)) {
          pending++;
          n++;
        }
      }
    }
    return {
      count: this.byHash.size,
      bytes: this.bytes,
      senders: this.bySender.size,
      pending: accountOf ? pending : this.byHash.size,
      queued: accountOf ? this.byHash.size - pending : 0,
    };
  }
}

function priorityOf(config: ChainConfig, vtx: VerifiedTx): bigint {
  const min = minimumFee(config, vtx.bytes.length, vtx.tx.computeLimit);
  return (vtx.tx.fee * 1_000_000n) / (min > 0n ? min : 1n);
}

function cmpEntry(a: Entry, b: Entry): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? 1 : -1;
  return b.seq - a.seq; // earlier arrival first among equals
}

class MaxHeap<T> {
  private readonly a: T[];
  constructor(
    items: T[],
    private readonly cmp: (x: T, y: T) => number,
  ) {
    this.a = [];
    for (const i of items) this.push(i);
  }
  get size(): number {
    return this.a.length;
  }
  push(x: T): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i] as T, a[p] as T) <= 0) break;
      [a[i], a[p]] = [a[p] as T, a[i] as T];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l] as T, a[m] as T) > 0) m = l;
        if (r < a.length && this.cmp(a[r] as T, a[m] as T) > 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as T, a[i] as T];
        i = m;
      }
    }
    return top;
  }
}
