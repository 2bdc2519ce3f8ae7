/**
 * L2 operations and the batch wire format. One operation is one step of the L2 state
 * transition (and one step of a fraud proof): a compact transfer, a generic signed L2
 * transaction, a deposit from L1, or a forced transaction queued on L1. Encodings are compact
 * (LEB128 varints, accounts by index) because batches pay per byte on L1; decoding is strict
 * (no overlong varints, no trailing bytes) so every operation has exactly one encoding.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zc } from 'node:zlib';
import { blake2b256, blake2b256Parts, bigintToFixed, StrataError, utf8 } from '@strata/primitives';

/** Operation kinds (first byte of an operation). */
export const OP_TRANSFER = 0;
export const OP_TX = 1;
export const OP_DEPOSIT = 2;
export const OP_FORCED = 3;
/**
 * The sequencer's L1-origin marker (OP Stack's L1 attributes): "from here on this L2 block's L1
 * origin is L1 block `height`". Only the sequencer writes it (in batches); the inbox refuses one
 * naming an L1 block not before the batch's own, and execution ignores one that goes backwards,
 * so the origin never runs ahead of L1 nor back. Settlement modules the L2 hosts for a child
 * (an L3) measure their windows and clocks in it: L1 time, which the L2 sequencer cannot speed up.
 */
export const OP_L1INFO = 4;
/**
 * A token deposit from the parent's bridge: the parent escrowed `amount` of its token
 * `parentToken` (whose identity, origin chain and id, it carries) and the child mints the
 * wrapped form 1:1. Like a coin deposit, only the parent's bridge creates one (never a batch).
 */
export const OP_TOKEN_DEPOSIT = 5;

/** A decoded L2 operation. */
export type L2Op =
  | { kind: 'transfer'; nonce: number; fee: bigint; to: { index: number } | { address: Uint8Array }; amount: bigint; signature: Uint8Array }
  | { kind: 'tx'; raw: Uint8Array }
  | { kind: 'deposit'; depositId: number; from: Uint8Array; to: Uint8Array; amount: bigint }
  | { kind: 'forced'; queueIndex: number; from: Uint8Array; raw: Uint8Array }
  | { kind: 'l1info'; height: number }
  | {
      kind: 'tokenDeposit';
      depositId: number;
      from: Uint8Array;
      to: Uint8Array;
      parentToken: Uint8Array;
      originChainId: number;
      originId: Uint8Array;
      symbol: string;
      decimals: number;
      amount: bigint;
    };

const MAX_RAW_TX = 128 * 1024;

function invalid(msg: string): never {
  throw new StrataError('L2_INVALID_BATCH', msg);
}

/** Growable byte writer with LEB128 varints. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  varint(v: number | bigint): this {
    let x = BigInt(v);
    if (x < 0n) invalid('varints are unsigned');
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.byte(b);
    } while (x > 0n);
    return this;
  }
  get length(): number {
    return this.len;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Strict byte reader: canonical varints only, bounds-checked. */
export class ByteReader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  byte(): number {
    if (this.pos >= this.buf.length) invalid('truncated: unexpected end of data');
    return this.buf[this.pos++] as number;
  }
  bytes(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) invalid(`truncated: wanted ${n} bytes`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  varintBig(maxBytes = 19): bigint {
    let x = 0n;
    let shift = 0n;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.byte();
      x |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) invalid('non-canonical varint (overlong)');
        return x;
      }
      shift += 7n;
    }
    return invalid('varint too long');
  }
  varint(): number {
    const v = this.varintBig(8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid('varint exceeds 2^53');
    return Number(v);
  }
}

/** Encodes one operation. */
export function encodeOp(op: L2Op): Uint8Array {
  const w = new ByteWriter();
  writeOp(w, op);
  return w.finish();
}

function writeOp(w: ByteWriter, op: L2Op): void {
  switch (op.kind) {
    case 'transfer':
      w.byte(OP_TRANSFER).varint(op.nonce).varint(op.fee);
      if ('index' in op.to) w.varint(op.to.index + 1);
      else w.varint(0).bytes(op.to.address);
      w.varint(op.amount).bytes(op.signature);
      return;
    case 'tx':
      w.byte(OP_TX).varint(op.raw.length).bytes(op.raw);
      return;
    case 'deposit':
      w.byte(OP_DEPOSIT).varint(op.depositId).bytes(op.from).bytes(op.to).varint(op.amount);
      return;
    case 'forced':
      w.byte(OP_FORCED).varint(op.queueIndex).bytes(op.from).varint(op.raw.length).bytes(op.raw);
      return;
    case 'l1info':
      w.byte(OP_L1INFO).varint(op.height);
      return;
    case 'tokenDeposit': {
      const sym = new TextEncoder().encode(op.symbol);
      w.byte(OP_TOKEN_DEPOSIT).varint(op.depositId).bytes(op.from).bytes(op.to).bytes(op.parentToken).varint(op.originChainId).bytes(op.originId);
      w.varint(sym.length).bytes(sym).varint(op.decimals).varint(op.amount);
      return;
    }
  }
}

// Fatal: bytes that are not UTF-8 are refused, not replaced. `ignoreBOM`: a leading U+FEFF stays
// in the string, so two byte strings never decode to one symbol (one encoding per operation).
const SYMBOL_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeSymbol(bytes: Uint8Array): string {
  try {
    return SYMBOL_DECODER.decode(bytes);
  } catch {
    return invalid('token symbol is not UTF-8');
  }
}

function readOp(r: ByteReader): L2Op {
  const kind = r.byte();
  switch (kind) {
    case OP_TRANSFER: {
      const nonce = r.varint();
      const fee = r.varintBig();
      const ref = r.varint();
      const to = ref === 0 ? { address: r.bytes(20) } : { index: ref - 1 };
      const amount = r.varintBig();
      if (amount >= 1n << 128n || fee >= 1n << 128n) invalid('amount or fee exceeds 128 bits');
      return { kind: 'transfer', nonce, fee, to, amount, signature: r.bytes(65) };
    }
    case OP_TX: {
      const n = r.varint();
      if (n > MAX_RAW_TX) invalid(`transaction of ${n} bytes exceeds ${MAX_RAW_TX}`);
      return { kind: 'tx', raw: r.bytes(n) };
    }
    case OP_DEPOSIT:
      return { kind: 'deposit', depositId: r.varint(), from: r.bytes(20), to: r.bytes(20), amount: r.varintBig() };
    case OP_FORCED: {
      const queueIndex = r.varint();
      const from = r.bytes(20);
      const n = r.varint();
      if (n > MAX_RAW_TX) invalid(`transaction of ${n} bytes exceeds ${MAX_RAW_TX}`);
      return { kind: 'forced', queueIndex, from, raw: r.bytes(n) };
    }
    case OP_L1INFO:
      return { kind: 'l1info', height: r.varint() };
    case OP_TOKEN_DEPOSIT: {
      const depositId = r.varint();
      const from = r.bytes(20);
      const to = r.bytes(20);
      const parentToken = r.bytes(32);
      const originChainId = r.varint();
      const originId = r.bytes(32);
      const n = r.varint();
      if (n > 12) invalid('token symbol longer than 12 bytes');
      const symbol = decodeSymbol(r.bytes(n));
      const decimals = r.varint();
      const amount = r.varintBig();
      if (amount >= 1n << 128n) invalid('amount exceeds 128 bits');
      return { kind: 'tokenDeposit', depositId, from, to, parentToken, originChainId, originId, symbol, decimals, amount };
    }
    default:
      return invalid(`unknown operation kind ${kind}`);
  }
}

/** Decodes exactly one operation (no trailing bytes); throws L2_INVALID_BATCH. */
export function decodeOp(bytes: Uint8Array): L2Op {
  const r = new ByteReader(bytes);
  const op = readOp(r);
  if (!r.done) invalid('trailing bytes after operation');
  return op;
}

/** One L2 block as carried in a batch. */
export interface BatchBlock {
  timestamp: number;
  /** Delayed (L1-queued) operations read at the start of this block. */
  delayedReads: number;
  /** Sequenced operations (kinds transfer, tx and l1info only), encoded. */
  ops: Uint8Array[];
}

/** Encodes the uncompressed batch payload: block count, then each block (timestamps as deltas). */
export function encodeBatchPayload(blocks: BatchBlock[]): Uint8Array {
  const w = new ByteWriter();
  w.varint(blocks.length);
  let prevTs = 0;
  blocks.forEach((b, i) => {
    if (i > 0 && b.timestamp <= prevTs) invalid('batch block timestamps must increase');
    w.varint(i === 0 ? b.timestamp : b.timestamp - prevTs).varint(b.delayedReads).varint(b.ops.length);
    for (const op of b.ops) w.bytes(op);
    prevTs = b.timestamp;
  });
  return w.finish();
}

/**
 * Decodes a batch payload. Only sequencer operation kinds are accepted (a batch can never carry
 * a deposit: only the L1 bridge creates those). Throws L2_INVALID_BATCH.
 */
export function decodeBatchPayload(payload: Uint8Array, maxOps: number): BatchBlock[] {
  const r = new ByteReader(payload);
  const n = r.varint();
  if (n < 1) invalid('batch carries no blocks');
  if (n > maxOps + 1) invalid(`batch declares ${n} blocks`);
  const out: BatchBlock[] = [];
  let ts = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = r.varint();
    if (i > 0 && d === 0) invalid('batch block timestamps must increase');
    ts = i === 0 ? d : ts + d;
    const delayedReads = r.varint();
    const count = r.varint();
    total += count + delayedReads;
    if (total > maxOps) invalid(`batch exceeds ${maxOps} operations`);
    const ops: Uint8Array[] = [];
    for (let j = 0; j < count; j++) {
      const start = r.pos;
      const op = readOp(r);
      if (op.kind !== 'transfer' && op.kind !== 'tx' && op.kind !== 'l1info') invalid(`a batch may not carry a ${op.kind} operation`);
      ops.push(r.buf.slice(start, r.pos));
    }
    out.push({ timestamp: ts, delayedReads, ops });
  }
  if (!r.done) invalid('trailing bytes after the last block');
  return out;
}

/**
 * Compute units (times the chain's `perWord`) the inbox charges per 32 bytes of brotli window a
 * batch declares and per 32 bytes it decompresses to (the compressed data itself pays 1).
 * Measured on Node 20 (quiet machine): the slowest streams decode at ~0.24 us per 32 bytes out,
 * a bomb's at ~0.10 us and its window fill at ~0.06 us, while the chain's other work costs
 * ~0.075 us a unit (a signature check: 1,000 units, ~75 us). At 1 unit a word one block's
 * compute (1.6M) bought ~51 MB of decompression, ~0.2-0.4 s of every node's CPU quiet and
 * ~1 s loaded, per 8 s block; at 3 it buys ~17 MB, at most ~130 ms at the slowest rate (under
 * 2 % of the block time). The largest honest batch (4 MiB out, 4 MiB window) costs ~0.8M: it
 * still fits a block.
 */
export const DECOMPRESS_WORD_COMPUTE = 3;

/** Largest brotli window a batch may declare besides its rollup's `maxBatchBytes`: 2^22 - 16 bytes. */
export const MAX_BATCH_WINDOW_BYTES = (1 << 22) - 16;

/** The brotli window bits a batch of `payloadBytes` is compressed with: the smallest window that holds it (10..22). */
function batchLgwin(payloadBytes: number): number {
  let w = 10;
  while (w < 22 && (1 << w) - 16 < payloadBytes) w++;
  return w;
}

/**
 * The window (bytes) `compressBatch` declares for a payload of `payloadBytes`: the inbox charges
 * it up front (see {@link brotliWindowBytes}), so a batcher budgets its compute with it.
 */
export function batchWindowBytes(payloadBytes: number): number {
  return (1 << batchLgwin(payloadBytes)) - 16;
}

/**
 * Compresses a batch payload (brotli, max quality: batches are written once and read by all),
 * with the smallest window that holds the payload (no match reaches further anyway; the inbox
 * charges the declared window).
 */
export function compressBatch(payload: Uint8Array): Uint8Array {
  return new Uint8Array(
    brotliCompressSync(payload, {
      params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: payload.length, [zc.BROTLI_PARAM_LGWIN]: batchLgwin(payload.length) },
    }),
  );
}

/**
 * The sliding-window size a brotli stream declares in its first bits (RFC 7932 §9.1:
 * (1 << WBITS) - 16 bytes). The decoder may fill a ring buffer of up to this size before any
 * output limit is checked, so a 50-byte stream declaring 16 MiB costs ~100 ms whatever the cap:
 * the inbox refuses windows above its limit and charges the rest. Throws L2_INVALID_BATCH on an
 * empty stream or a large-window one (not RFC 7932; the decoder refuses it too).
 */
export function brotliWindowBytes(data: Uint8Array): number {
  if (data.length === 0) invalid('batch data is empty');
  const b = (data[0] as number) | ((data[1] ?? 0) << 8);
  let wbits: number;
  if ((b & 1) === 0) wbits = 16;
  else if (((b >> 1) & 7) !== 0) wbits = 17 + ((b >> 1) & 7);
  else {
    const m = (b >> 4) & 7;
    if (m === 1) invalid('batch data declares a large brotli window (not RFC 7932)');
    wbits = m === 0 ? 17 : 8 + m;
  }
  return (1 << wbits) - 16;
}

/** Decompresses a batch with a hard cap on the output (zip-bomb guard); throws L2_INVALID_BATCH. */
export function decompressBatch(data: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return new Uint8Array(brotliDecompressSync(data, { maxOutputLength: maxBytes }));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new StrataError('L2_INVALID_BATCH', `batch does not decompress within ${maxBytes} bytes: ${msg}`);
  }
}

const LEAF_PERSONAL = utf8('strata-l2-opleaf');

/** Hash of an operation's bytes. */
export function opHash(op: Uint8Array): Uint8Array {
  return blake2b256(op, LEAF_PERSONAL);
}

/**
 * Leaf committing an operation to its place: the L2 block number and timestamp it executes in.
 * Batch records on L1 hold the Merkle root of their leaves; a one-step proof opens one leaf.
 */
export function opLeaf(blockNumber: number, timestamp: number, hash: Uint8Array): Uint8Array {
  return blake2b256Parts([bigintToFixed(BigInt(blockNumber), 8), bigintToFixed(BigInt(timestamp), 8), hash], LEAF_PERSONAL);
}
