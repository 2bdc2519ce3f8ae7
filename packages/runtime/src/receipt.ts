import {
  decode,
  encode,
  fixedBytes,
  list,
  optional,
  rlpHeaderSize,
  str,
  struct,
  uint,
  uintBig,
  utf8Bytes,
  writeRlpHeader,
  type Codec,
} from '@strata/primitives';
import type { Receipt } from './execute.js';
import type { RuntimeEvent } from './module.js';

interface StoredEvent {
  module: string;
  type: string;
  json: string;
}

const EventCodec: Codec<StoredEvent> = struct('Event', { module: str(32), type: str(64), json: str(1 << 20) });
// Consensus bytes of a failure: its stable code only, never the message text (DESIGN rule 9).
const ErrorCodec = struct('ReceiptError', { code: str(64) });
const StoredReceiptCodec = struct('Receipt', {
  txHash: fixedBytes(32),
  ok: uint,
  computeUsed: uint,
  fee: uintBig(128),
  error: optional(ErrorCodec),
  events: list(EventCodec, 10_000),
});

/** Codec of an event list (block-level events). */
export const EventListCodec: Codec<StoredEvent[]> = list(EventCodec, 100_000);

function toStored(e: RuntimeEvent): StoredEvent {
  return { module: e.module, type: e.type, json: JSON.stringify(e.data) };
}

function fromStored(e: StoredEvent): RuntimeEvent {
  return { module: e.module, type: e.type, data: JSON.parse(e.json) as RuntimeEvent['data'] };
}

/**
 * Canonical bytes of a receipt (what the receipts root commits to): status, compute, fee, the
 * error's stable code and the events. The error message is not part of them.
 */
export function encodeReceipt(r: Receipt): Uint8Array {
  return encodeReceiptFast(r) ?? encodeReceiptGeneric(r);
}

/** The receipt codec's own encoding: every receipt the fast path declines. */
function encodeReceiptGeneric(r: Receipt): Uint8Array {
  return encode(StoredReceiptCodec, {
    txHash: r.txHash,
    ok: r.status === 'ok' ? 1 : 0,
    computeUsed: r.computeUsed,
    fee: r.fee,
    error: r.error ? { code: r.error.code } : undefined,
    events: r.events.map(toStored),
  });
}

// Fast path of encodeReceipt: sizes every field, then writes the RLP straight into one buffer.
// It handles receipts the codec encodes (ASCII or UTF-8 strings within their limits, fees below
// 2^53) and returns undefined for anything else, which the codec then encodes or rejects.

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** A string field ready to write: the string itself when ASCII (its UTF-8), else its bytes. */
type Utf8 = string | Uint8Array;

/** Strings longer than this are checked and written by the engine (regex, encodeInto). */
const SHORT_STRING = 16;
/** Matches any UTF-16 unit outside ASCII (surrogates included). */
const NON_ASCII_RE = /[\u0080-\uffff]/;
const utf8Encoder = new TextEncoder();

function prepare(s: string): Utf8 {
  const n = s.length;
  if (n > SHORT_STRING) return NON_ASCII_RE.test(s) ? utf8Bytes(s) : s;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return utf8Bytes(s);
  return s;
}

/** Encoded size of a string field (`.length` is its UTF-8 size in both forms). */
function stringSize(u: Utf8): number {
  const n = u.length;
  // A one-byte UTF-8 string is one ASCII byte, encoded as itself.
  return n === 1 ? 1 : rlpHeaderSize(n) + n;
}

function writeString(out: Uint8Array, pos: number, u: Utf8): number {
  const n = u.length;
  if (n === 1) {
    out[pos] = typeof u === 'string' ? u.charCodeAt(0) : (u[0] as number);
    return pos + 1;
  }
  const at = writeRlpHeader(out, pos, n, 0x80);
  if (typeof u !== 'string') out.set(u, at);
  else if (n <= SHORT_STRING) for (let i = 0; i < n; i++) out[at + i] = u.charCodeAt(i);
  else utf8Encoder.encodeInto(u, out.subarray(at, at + n)); // ASCII: n bytes, as the codec writes
  return at + n;
}

/** Encoded size of a safe unsigned integer. */
function uintSize(v: number): number {
  if (v < 0x80) return 1;
  let n = 0;
  for (let x = v; x > 0; x = Math.floor(x / 256)) n++;
  return 1 + n;
}

function writeUint(out: Uint8Array, pos: number, v: number): number {
  if (v === 0) {
    out[pos] = 0x80;
    return pos + 1;
  }
  if (v < 0x80) {
    out[pos] = v;
    return pos + 1;
  }
  const n = uintSize(v) - 1;
  out[pos] = 0x80 + n;
  for (let i = n, x = v; i >= 1; i--, x = Math.floor(x / 256)) out[pos + i] = x % 256;
  return pos + 1 + n;
}

function encodeReceiptFast(r: Receipt): Uint8Array | undefined {
  const { txHash, status, computeUsed, fee, error, events } = r;
  if (!(txHash instanceof Uint8Array) || txHash.length !== 32) return undefined;
  if (!Number.isSafeInteger(computeUsed) || computeUsed < 0) return undefined;
  if (typeof fee !== 'bigint' || fee < 0n || fee > MAX_SAFE_BIG) return undefined;
  if (!Array.isArray(events) || events.length > 10_000) return undefined;
  const feeNum = Number(fee);
  let code: Utf8 | undefined;
  let errorSize = 1;
  if (error !== undefined) {
    if (typeof error !== 'object' || error === null || typeof error.code !== 'string') return undefined;
    code = prepare(error.code);
    if (code.length > 64) return undefined;
    const fields = stringSize(code);
    const struct = rlpHeaderSize(fields) + fields;
    errorSize = rlpHeaderSize(struct) + struct;
  }
  const strings: Utf8[] = [];
  const eventSizes: number[] = [];
  let eventsPayload = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (typeof e !== 'object' || e === null) return undefined;
    const { module, type } = e;
    const json = JSON.stringify(e.data) as string | undefined;
    if (typeof module !== 'string' || typeof type !== 'string' || typeof json !== 'string') return undefined;
    const m = prepare(module);
    const t = prepare(type);
    const j = prepare(json);
    if (m.length > 32 || t.length > 64 || j.length > 1 << 20) return undefined;
    const fields = stringSize(m) + stringSize(t) + stringSize(j);
    eventSizes.push(fields);
    eventsPayload += rlpHeaderSize(fields) + fields;
    strings.push(m, t, j);
  }
  const payload = 33 + 1 + uintSize(computeUsed) + uintSize(feeNum) + errorSize + rlpHeaderSize(eventsPayload) + eventsPayload;
  const out = new Uint8Array(rlpHeaderSize(payload) + payload);
  let p = writeRlpHeader(out, 0, payload, 0xc0);
  out[p] = 0xa0;
  out.set(txHash, p + 1);
  p += 33;
  out[p++] = status === 'ok' ? 1 : 0x80;
  p = writeUint(out, p, computeUsed);
  p = writeUint(out, p, feeNum);
  if (code === undefined) {
    out[p++] = 0xc0;
  } else {
    const fields = stringSize(code);
    p = writeRlpHeader(out, p, rlpHeaderSize(fields) + fields, 0xc0);
    p = writeRlpHeader(out, p, fields, 0xc0);
    p = writeString(out, p, code);
  }
  p = writeRlpHeader(out, p, eventsPayload, 0xc0);
  for (let i = 0; i < eventSizes.length; i++) {
    p = writeRlpHeader(out, p, eventSizes[i] as number, 0xc0);
    p = writeString(out, p, strings[3 * i] as Utf8);
    p = writeString(out, p, strings[3 * i + 1] as Utf8);
    p = writeString(out, p, strings[3 * i + 2] as Utf8);
  }
  return out;
}

/** Decodes a receipt. */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  const s = decode(StoredReceiptCodec, bytes);
  const r: Receipt = {
    txHash: s.txHash,
    status: s.ok === 1 ? 'ok' : 'failed',
    computeUsed: s.computeUsed,
    fee: s.fee,
    events: s.events.map(fromStored),
  };
  if (s.error) r.error = { code: s.error.code, message: '' };
  return r;
}

/** Encodes block-level events. */
export function encodeEvents(events: RuntimeEvent[]): Uint8Array {
  return encode(EventListCodec, events.map(toStored));
}

/** Decodes block-level events. */
export function decodeEvents(bytes: Uint8Array): RuntimeEvent[] {
  return decode(EventListCodec, bytes).map(fromStored);
}
