/**
 * Wire framing for request/response streams: an unsigned LEB128 varint length followed by that
 * many bytes. A request is one frame holding the request payload; a response is one frame whose
 * first byte is a status (0 = ok, 1 = error) followed by the payload or a UTF-8 error message.
 * Pure functions, no I/O.
 */
import { DecodeError } from '@strata/primitives';

/** Response status byte: the payload that follows is the handler's response. */
export const STATUS_OK = 0;
/** Response status byte: the payload that follows is a UTF-8 error message. */
export const STATUS_ERROR = 1;
/** Longest error message (bytes of UTF-8) carried in an error frame; longer ones are truncated. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Longest varint accepted: 5 bytes encodes up to 2^35 - 1, far above any frame limit. */
const MAX_VARINT_BYTES = 5;

/** Encodes a non-negative safe integer as an unsigned LEB128 varint. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new DecodeError('DECODE_INVALID', `varint must be a non-negative safe integer, got ${n}`, { value: n });
  }
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/**
 * Decodes an unsigned LEB128 varint at `offset`. Returns `null` when `buf` ends before the varint
 * does (read more bytes and retry); throws DECODE_INVALID for a non-canonical (zero-padded) or
 * over-long varint.
 */
export function decodeVarint(buf: Uint8Array, offset = 0): { value: number; bytes: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const pos = offset + i;
    if (pos >= buf.length) return null;
    const b = buf[pos] as number;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      // A final 0x00 byte after a continuation byte is a zero-padded, non-canonical encoding.
      if (b === 0 && i > 0) throw new DecodeError('DECODE_INVALID', 'non-canonical varint length prefix');
      return { value, bytes: i + 1 };
    }
    scale *= 0x80;
  }
  throw new DecodeError('DECODE_INVALID', `varint length prefix longer than ${MAX_VARINT_BYTES} bytes`);
}

/** Prefixes `payload` with its varint length. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const prefix = encodeVarint(payload.length);
  const out = new Uint8Array(prefix.length + payload.length);
  out.set(prefix, 0);
  out.set(payload, prefix.length);
  return out;
}

/** Builds a response frame: varint length, status byte, body. */
export function encodeResponseFrame(status: typeof STATUS_OK | typeof STATUS_ERROR, body: Uint8Array): Uint8Array {
  const inner = new Uint8Array(1 + body.length);
  inner[0] = status;
  inner.set(body, 1);
  return encodeFrame(inner);
}

/** Builds an error response frame carrying `message` (truncated to MAX_ERROR_MESSAGE_BYTES). */
export function encodeErrorFrame(message: string): Uint8Array {
  let body = new TextEncoder().encode(message);
  if (body.length > MAX_ERROR_MESSAGE_BYTES) body = body.subarray(0, MAX_ERROR_MESSAGE_BYTES);
  return encodeResponseFrame(STATUS_ERROR, body);
}

/** A decoded response frame. */
export type ResponseFrame = { status: 'ok'; body: Uint8Array } | { status: 'error'; message: string };

/**
 * Parses the inside of a response frame (status byte + body), enforcing `maxResponseBytes` on ok
 * bodies and MAX_ERROR_MESSAGE_BYTES on error messages. Throws DECODE_INVALID / DECODE_OVERSIZED.
 */
export function decodeResponseFrame(inner: Uint8Array, maxResponseBytes: number): ResponseFrame {
  if (inner.length === 0) throw new DecodeError('DECODE_INVALID', 'empty response frame (missing status byte)');
  const status = inner[0];
  const body = inner.subarray(1);
  if (status === STATUS_OK) {
    if (body.length > maxResponseBytes) {
      throw new DecodeError('DECODE_OVERSIZED', `response of ${body.length} bytes exceeds the limit of ${maxResponseBytes}`, {
        size: body.length,
        limit: maxResponseBytes,
      });
    }
    return { status: 'ok', body };
  }
  if (status === STATUS_ERROR) {
    if (body.length > MAX_ERROR_MESSAGE_BYTES) {
      throw new DecodeError('DECODE_OVERSIZED', `error message of ${body.length} bytes exceeds ${MAX_ERROR_MESSAGE_BYTES}`, {
        size: body.length,
        limit: MAX_ERROR_MESSAGE_BYTES,
      });
    }
    return { status: 'error', message: new TextDecoder('utf-8', { fatal: false }).decode(body) };
  }
  throw new DecodeError('DECODE_INVALID', `unknown response status byte ${status}`, { status });
}

/** Largest frame (after the length prefix) a requester accepts for a given `maxResponseBytes`. */
export function maxResponseFrameBytes(maxResponseBytes: number): number {
  return 1 + Math.max(maxResponseBytes, MAX_ERROR_MESSAGE_BYTES);
}

/**
 * Incremental reader of exactly one length-prefixed frame. Feed it chunks; it throws
 * DECODE_OVERSIZED as soon as the prefix announces more than `maxBytes` (before buffering the
 * payload) and DECODE_INVALID on a bad prefix or on bytes after the frame.
 */
export class FrameReader {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private expected: { headerBytes: number; length: number } | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Bytes received so far. */
  get receivedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk; returns the frame payload once complete, otherwise `null`. */
  push(chunk: Uint8Array): Uint8Array | null {
    if (chunk.length === 0) return null;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.expected === null) {
      const head = this.flatten();
      const v = decodeVarint(head);
      if (v === null) return null;
      if (v.value > this.maxBytes) {
        throw new DecodeError('DECODE_OVERSIZED', `frame of ${v.value} bytes exceeds the limit of ${this.maxBytes}`, {
          size: v.value,
          limit: this.maxBytes,
        });
      }
      this.expected = { headerBytes: v.bytes, length: v.value };
    }
    const total = this.expected.headerBytes + this.expected.length;
    if (this.buffered < total) return null;
    if (this.buffered > total) {
      throw new DecodeError('DECODE_INVALID', `${this.buffered - total} unexpected bytes after the frame`, {
        extra: this.buffered - total,
      });
    }
    return this.flatten().subarray(this.expected.headerBytes);
  }

  private flatten(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const out = new Uint8Array(this.buffered);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    this.chunks.length = 0;
    this.chunks.push(out);
    return out;
  }
}
