/**
 * Reading and writing single length-prefixed frames on a libp2p v3 stream (an event target that
 * emits 'message', 'end' and 'close'), with size limits enforced as bytes arrive and an abort
 * signal for timeouts.
 */
import type { Stream } from '@libp2p/interface';
import { DecodeError, StrataError } from '@strata/primitives';
import { FrameReader } from './frame.js';

/** A plain Uint8Array view of a chunk (libp2p hands out Buffers and Uint8ArrayLists). */
export function toPlainBytes(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  const b = data instanceof Uint8Array ? data : data.subarray();
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function abortReason(signal: AbortSignal, what: string): StrataError {
  const r: unknown = signal.reason;
  if (r instanceof StrataError) return r;
  const timedOut = r instanceof Error && r.name === 'TimeoutError';
  return new StrataError('NETWORK', timedOut ? `timed out ${what}` : `aborted ${what}`, { timeout: timedOut });
}

/**
 * Reads exactly one frame of at most `maxBytes` from `stream`. Rejects with DECODE_OVERSIZED as
 * soon as the length prefix is too large, DECODE_INVALID on a malformed or truncated frame, and
 * NETWORK when the stream is reset or `signal` fires (meta.timeout = true on a timeout).
 */
export function readFrame(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const reader = new FrameReader(maxBytes);
    let settled = false;
    const cleanup = (): void => {
      settled = true;
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('end', onEnd);
      stream.removeEventListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (e: StrataError): void => {
      if (settled) return;
      cleanup();
      reject(e);
    };
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
      if (settled) return;
      try {
        const frame = reader.push(toPlainBytes(evt.data));
        if (frame !== null) {
          cleanup();
          resolve(frame);
        }
      } catch (e) {
        fail(e instanceof StrataError ? e : new DecodeError('DECODE_INVALID', String(e)));
      }
    };
    // 'end' also fires just before 'close' on a reset or abort: only a deliberate half-close
    // (the remote closed its writable end) with an incomplete frame is the peer's fault.
    const onEnd = (): void => {
      if (stream.status === 'reset' || stream.status === 'aborted') {
        fail(new StrataError('NETWORK', `stream ${stream.status} before a complete frame`));
        return;
      }
      fail(new DecodeError('DECODE_INVALID', `stream ended after ${reader.receivedBytes} bytes, before a complete frame`, { received: reader.receivedBytes }));
    };
    const onClose = (evt: { error?: Error }): void => {
      // A graceful close can precede delivery of still-buffered bytes; 'message'/'end' follow.
      if (evt.error === undefined && stream.readBufferLength > 0) return;
      fail(
        new StrataError('NETWORK', `stream closed before a complete frame${evt.error ? ` (${evt.error.message})` : ''}`, {}, { cause: evt.error }),
      );
    };
    const onAbort = (): void => fail(abortReason(signal, 'waiting for a frame'));
    if (signal.aborted) return onAbort();
    stream.addEventListener('message', onMessage);
    stream.addEventListener('end', onEnd);
    stream.addEventListener('close', onClose);
    signal.addEventListener('abort', onAbort);
    // 'end' fires once; if it already has, and nothing is buffered, no frame can arrive.
    if (stream.readableEnded && stream.readBufferLength === 0) onEnd();
    else if (stream.status !== 'open' && stream.readBufferLength === 0) onClose({});
  });
}

/** Writes `bytes`, then closes the writable end, waiting until the data is handed to the transport. */
export async function writeAndClose(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw abortReason(signal, 'before writing');
  try {
    if (!stream.send(bytes)) await stream.onDrain({ signal });
    await stream.close({ signal });
  } catch (e) {
    if (signal.aborted) throw abortReason(signal, 'writing a frame');
    throw new StrataError('NETWORK', `stream write failed: ${(e as Error).message}`, {}, { cause: e });
  }
}
