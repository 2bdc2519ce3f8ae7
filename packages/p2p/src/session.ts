/**
 * Request/response over one long-lived stream per peer and protocol (a "session"), for protocols
 * that exchange many small messages with one peer (payment-channel commitment rounds): opening a
 * yamux stream and negotiating its protocol for every request costs several round trips, a
 * session costs one frame each way.
 *
 * Wire: a sequence of varint length-prefixed frames. Inside a frame, byte 0 is the kind
 * (0 request, 1 ok response, 2 error response), then a varint request id, then the payload (the
 * request, the response body, or a UTF-8 error message). Requests on one session may be answered
 * out of order. Limits: a frame over `maxFrameBytes` aborts the session; at most
 * `maxInFlight` unanswered requests per inbound session (more aborts it). Pure framing helpers
 * and the session class; P2PNode wires them to libp2p streams, bans and rate limits.
 */
import type { Stream } from '@libp2p/interface';
import { DecodeError, StrataError } from '@strata/primitives';
import { decodeVarint, encodeVarint, MAX_ERROR_MESSAGE_BYTES } from './frame.js';
import { toPlainBytes } from './stream-io.js';

/** Frame kinds inside a session. */
export const SESSION_KIND = { REQUEST: 0, OK: 1, ERROR: 2 } as const;

/** Options of a session protocol. */
export interface SessionOptions {
  /** Largest frame either way (after the length prefix). */
  maxFrameBytes: number;
  /** Per-request timeout of the requester, ms. */
  timeoutMs: number;
  /** Most unanswered requests a peer may have on one inbound session. Default 64. */
  maxInFlight?: number;
  /**
   * Most answer bytes an inbound session may hold unsent (the peer does not grant the window:
   * it does not read); beyond, the session is aborted. Default 4 × maxFrameBytes + 1 MiB.
   */
  maxUnsentBytes?: number;
}

/** Encodes one session frame (length prefix included). */
export function encodeSessionFrame(kind: number, id: number, payload: Uint8Array): Uint8Array {
  const idBytes = encodeVarint(id);
  const inner = 1 + idBytes.length + payload.length;
  const len = encodeVarint(inner);
  const out = new Uint8Array(len.length + inner);
  out.set(len, 0);
  out[len.length] = kind;
  out.set(idBytes, len.length + 1);
  out.set(payload, len.length + 1 + idBytes.length);
  return out;
}

/** Decodes the inside of a session frame. Throws DECODE_INVALID. */
export function decodeSessionFrame(inner: Uint8Array): { kind: number; id: number; payload: Uint8Array } {
  if (inner.length < 2) throw new DecodeError('DECODE_INVALID', 'session frame too short');
  const kind = inner[0] as number;
  if (kind > SESSION_KIND.ERROR) throw new DecodeError('DECODE_INVALID', `unknown session frame kind ${kind}`);
  const v = decodeVarint(inner, 1);
  if (v === null) throw new DecodeError('DECODE_INVALID', 'truncated session request id');
  return { kind, id: v.value, payload: inner.subarray(1 + v.bytes) };
}

/**
 * Splits a byte stream into frames; throws DECODE_OVERSIZED as soon as a prefix announces more
 * than `maxBytes` (before buffering it), DECODE_INVALID on a bad prefix.
 */
export class FrameSplitter {
  // received bytes not yet returned, as the chunks they came in (a frame trickled in small chunks
  // is copied once, when complete: re-concatenating the buffer per chunk was quadratic)
  private chunks: Uint8Array[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private total = 0; // unconsumed bytes
  private want: { prefix: number; size: number } | undefined;
  constructor(private readonly maxBytes: number) {}
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.want === undefined) {
        const v = decodeVarint(this.peek(Math.min(5, this.total)), 0);
        if (v === null) break;
        if (v.value > this.maxBytes) throw new DecodeError('DECODE_OVERSIZED', `session frame of ${v.value} bytes exceeds the limit of ${this.maxBytes}`, { size: v.value, limit: this.maxBytes });
        this.want = { prefix: v.bytes, size: v.value };
      }
      if (this.total < this.want.prefix + this.want.size) break;
      this.take(this.want.prefix);
      out.push(this.take(this.want.size));
      this.want = undefined;
    }
    return out;
  }
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let got = 0;
    for (let i = 0; got < n; i++) {
      const c = this.chunks[i] as Uint8Array;
      const from = i === 0 ? this.head : 0;
      const k = Math.min(n - got, c.length - from);
      out.set(c.subarray(from, from + k), got);
      got += k;
    }
    return out;
  }
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(n - got, c.length - this.head);
      out.set(c.subarray(this.head, this.head + k), got);
      got += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.total -= n;
    return out;
  }
}

async function sendBytes(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain();
}

/** The requester's side of a session: one outbound stream, requests matched to answers by id. */
export class ClientSession {
  private nextId = 1;
  private readonly slots: (() => void)[] = [];
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  // ids whose caller timed out: the server may still be working on them (it counts them against
  // its in-flight limit) and an honest late answer is dropped, not treated as a protocol violation
  private readonly abandoned = new Set<number>();
  private readonly splitter: FrameSplitter;
  closed = false;

  constructor(
    private readonly stream: Stream,
    private readonly opts: SessionOptions,
    private readonly onBroken: (e: StrataError) => void,
  ) {
    this.splitter = new FrameSplitter(opts.maxFrameBytes + 16);
    stream.addEventListener('message', (evt) => {
      try {
        for (const f of this.splitter.push(toPlainBytes(evt.data))) this.onFrame(decodeSessionFrame(f));
      } catch (e) {
        this.fail(e instanceof StrataError ? e : new DecodeError('DECODE_INVALID', String(e)));
      }
    });
    stream.addEventListener('close', () => this.fail(new StrataError('NETWORK', 'session stream closed')));
  }

  private onFrame(f: { kind: number; id: number; payload: Uint8Array }): void {
    if (f.kind !== SESSION_KIND.REQUEST && this.abandoned.delete(f.id)) {
      this.release();
      return;
    }
    const p = this.pending.get(f.id);
    if (!p || f.kind === SESSION_KIND.REQUEST) throw new DecodeError('DECODE_INVALID', `unexpected session frame (kind ${f.kind}, id ${f.id})`);
    this.pending.delete(f.id);
    clearTimeout(p.timer);
    this.release();
    if (f.kind === SESSION_KIND.OK) p.resolve(f.payload);
    else p.reject(new StrataError('NETWORK', `peer failed the request: ${new TextDecoder().decode(f.payload.subarray(0, MAX_ERROR_MESSAGE_BYTES))}`, { remoteError: new TextDecoder().decode(f.payload.subarray(0, MAX_ERROR_MESSAGE_BYTES)) }));
  }

  private fail(e: StrataError): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.abandoned.clear();
    for (const w of this.slots.splice(0)) w();
    try {
      this.stream.abort(e);
    } catch {
      // already closed
    }
    this.onBroken(e);
  }

  /**
   * Sends one request and resolves with the answer (NETWORK on a remote error, timeout or a
   * broken session). At most `maxInFlight` requests are outstanding (the server's limit): more
   * wait here for a free slot.
   */
  async request(req: Uint8Array, timeoutMs = this.opts.timeoutMs): Promise<Uint8Array> {
    const max = this.opts.maxInFlight ?? 64;
    while (!this.closed && this.pending.size + this.abandoned.size >= max) {
      if (this.abandoned.size >= max) {
        // every slot is held by a request the server never answered: start over on a fresh stream
        this.fail(new StrataError('NETWORK', `session stalled: ${max} requests unanswered`, { stalled: true }));
        break;
      }
      await new Promise<void>((r) => this.slots.push(r));
    }
    if (this.closed) return Promise.reject(new StrataError('NETWORK', 'session closed before the request was sent', { unsent: true }));
    return this.send(req, timeoutMs);
  }

  private release(): void {
    this.slots.shift()?.();
  }

  private send(req: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new StrataError('NETWORK', 'session closed'));
    if (req.length > this.opts.maxFrameBytes) return Promise.reject(new StrataError('DECODE_OVERSIZED', `request of ${req.length} bytes exceeds ${this.opts.maxFrameBytes}`));
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.abandoned.add(id);
        reject(new StrataError('NETWORK', `session request timed out after ${timeoutMs} ms`, { timeout: true }));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      sendBytes(this.stream, encodeSessionFrame(SESSION_KIND.REQUEST, id, req)).catch((e) => this.fail(new StrataError('NETWORK', `session write failed: ${(e as Error).message}`)));
    });
  }

  close(): void {
    this.fail(new StrataError('NETWORK', 'session closed locally'));
  }
}

/**
 * Serves one inbound session stream: each request frame goes to `handler`; its result (or error
 * message) goes back with the request's id. `admit` is asked before each request (rate limit);
 * `punish` is told of protocol violations, after which the stream is aborted.
 */
export function serveSession(
  stream: Stream,
  opts: SessionOptions,
  handler: (req: Uint8Array) => Promise<Uint8Array>,
  admit: () => boolean,
  punish: (e: StrataError) => void,
): void {
  const splitter = new FrameSplitter(opts.maxFrameBytes + 16);
  const maxInFlight = opts.maxInFlight ?? 64;
  let inFlight = 0;
  let dead = false;
  const kill = (e: StrataError) => {
    if (dead) return;
    dead = true;
    punish(e);
    try {
      stream.abort(e);
    } catch {
      // already closed
    }
  };
  const maxUnsent = opts.maxUnsentBytes ?? 4 * opts.maxFrameBytes + (1 << 20);
  const answer = (kind: number, id: number, payload: Uint8Array) => {
    if (dead) return;
    const frame = encodeSessionFrame(kind, id, payload);
    // libp2p's yamux buffers writes without limit while the peer withholds its window
    if (stream.writeBufferLength + frame.length > maxUnsent) {
      dead = true;
      try {
        stream.abort(new StrataError('NETWORK', `the peer does not read its answers (${stream.writeBufferLength} bytes unsent)`));
      } catch {
        // already closed
      }
      return;
    }
    sendBytes(stream, frame).catch(() => undefined);
  };
  stream.addEventListener('message', (evt) => {
    if (dead) return;
    let frames: Uint8Array[];
    try {
      frames = splitter.push(toPlainBytes(evt.data));
    } catch (e) {
      kill(e instanceof StrataError ? e : new DecodeError('DECODE_INVALID', String(e)));
      return;
    }
    for (const raw of frames) {
      let f: { kind: number; id: number; payload: Uint8Array };
      try {
        f = decodeSessionFrame(raw);
        if (f.kind !== SESSION_KIND.REQUEST) throw new DecodeError('DECODE_INVALID', 'a response frame on an inbound session');
      } catch (e) {
        kill(e instanceof StrataError ? e : new DecodeError('DECODE_INVALID', String(e)));
        return;
      }
      if (inFlight >= maxInFlight) {
        kill(new StrataError('NETWORK', `more than ${maxInFlight} unanswered requests on one session`));
        return;
      }
      if (!admit()) {
        answer(SESSION_KIND.ERROR, f.id, new TextEncoder().encode('NETWORK: request rate exceeded'));
        continue;
      }
      inFlight++;
      const id = f.id;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StrataError('NETWORK', `handler timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      });
      Promise.race([Promise.resolve().then(() => handler(f.payload)), timeout])
        .then(
          (body) => {
            if (!(body instanceof Uint8Array)) answer(SESSION_KIND.ERROR, id, new TextEncoder().encode('INTERNAL: handler returned no bytes'));
            else if (body.length > opts.maxFrameBytes) answer(SESSION_KIND.ERROR, id, new TextEncoder().encode(`DECODE_OVERSIZED: response of ${body.length} bytes`));
            else answer(SESSION_KIND.OK, id, body);
          },
          (e: unknown) => {
            const msg = e instanceof StrataError ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
            answer(SESSION_KIND.ERROR, id, new TextEncoder().encode(msg).subarray(0, MAX_ERROR_MESSAGE_BYTES));
          },
        )
        .finally(() => {
          clearTimeout(timer);
          inFlight--;
        });
    }
  });
}
