/**
 * Coalesces a connection's socket writes per event-loop turn. libp2p's TCP connection writes
 * every buffer it is handed with its own `socket.write`, and above it noise hands over each
 * encrypted message as two buffers (length prefix, ciphertext) while yamux sends a window update
 * for every data frame it receives: one session message cost four write syscalls each way. Here
 * the socket is corked at the first write of a turn and uncorked from `setImmediate` (the check
 * phase right after the poll phase that ran the I/O callbacks), so everything written in that
 * turn — a window update and the answer computed in the same microtask run, or the two halves of
 * a noise message — leaves in one `writev`.
 *
 * Only the framing of bytes on the socket changes: what is written, its order, encryption,
 * back-pressure (`write()` still returns false past the high-water mark and 'drain' still
 * follows the flush) and every limit above are untouched. `end()` flushes corked data itself.
 *
 * It is installed by wrapping the transport's upgrader, the one place libp2p hands over the raw
 * connection, without touching the transport's code; a connection that does not look like
 * @libp2p/tcp's (a `socket` that can cork, an own `sendData`) is left as is.
 */
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface';

interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

type SendData = (data: unknown) => unknown;

function isCorkable(s: unknown): s is Corkable {
  const o = s as Partial<Corkable> | null;
  return o != null && typeof o.cork === 'function' && typeof o.uncork === 'function';
}

/** Makes `maConn` cork its socket for the rest of the event-loop turn at each first write. */
export function batchWrites<T extends MultiaddrConnection>(maConn: T): T {
  const c = maConn as unknown as { socket?: unknown; sendData?: SendData };
  const socket = c.socket;
  const send = c.sendData;
  if (!isCorkable(socket) || typeof send !== 'function') return maConn;
  let corked = false;
  const flush = (): void => {
    if (!corked) return;
    corked = false;
    socket.uncork();
  };
  c.sendData = function (this: unknown, data: unknown) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    const r = send.call(this, data);
    // past the high-water mark: flush now (the caller waits for 'drain', which a cork held to the
    // end of the turn would delay by a whole event-loop iteration)
    if (corked && (socket as unknown as { writableNeedDrain?: boolean }).writableNeedDrain) flush();
    return r;
  };
  return maConn;
}

function batchingUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === 'upgradeInbound') return (maConn: MultiaddrConnection, opts: never) => target.upgradeInbound(batchWrites(maConn), opts);
      if (prop === 'upgradeOutbound') return (maConn: MultiaddrConnection, opts: never) => target.upgradeOutbound(batchWrites(maConn), opts);
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Wraps a transport factory (tcp()) so that each of its connections batches its writes. */
export function withWriteBatching<C>(factory: (components: C) => Transport): (components: C) => Transport {
  return (components) => {
    const t = factory(components);
    const dial = t.dial.bind(t);
    const createListener = t.createListener.bind(t);
    t.dial = (ma, options) => dial(ma, { ...options, upgrader: batchingUpgrader(options.upgrader) });
    t.createListener = (options) => createListener({ ...options, upgrader: batchingUpgrader(options.upgrader) });
    return t;
  };
}
