import { decode, encode, list, str, struct, uint, uintBig, fixedBytes, type Codec, optional } from '@strata/primitives';
import type { Receipt } from './execute.js';
import type { RuntimeEvent } from './module.js';

interface StoredEvent {
  module: string;
  type: string;
  json: string;
}

const EventCodec: Codec<StoredEvent> = struct('Event', { module: str(32), type: str(64), json: str(1 << 20) });
const ErrorCodec = struct('ReceiptError', { code: str(64), message: str(4096) });
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

/** Canonical bytes of a receipt (what the receipts root commits to). */
export function encodeReceipt(r: Receipt): Uint8Array {
  return encode(StoredReceiptCodec, {
    txHash: r.txHash,
    ok: r.status === 'ok' ? 1 : 0,
    computeUsed: r.computeUsed,
    fee: r.fee,
    error: r.error,
    events: r.events.map(toStored),
  });
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
  if (s.error) r.error = s.error;
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
