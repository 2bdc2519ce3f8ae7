/**
 * Payment-path crypto off the node's event loop. Under load a paying node's single thread is the
 * bottleneck (the `channels` bench, docs/channels.md): per payment it checked the invoice's
 * ed25519 signature (~0.1 ms) and ran the onion's secp256k1 session (a key, one ECDH per hop
 * and the blinding: ~0.1 ms per hop) on that thread. Here the first runs on libuv's thread pool
 * (node:crypto's callback form: ~15 µs of the loop instead of ~100) and the second on one worker
 * thread with the same native addon (~12 µs of the loop per round trip). Where the addon cannot
 * load in a worker, or the worker dies, the work runs inline as before: same bytes, same errors.
 */
import { verify as edVerifyCb } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StrataError } from '@strata/primitives';
import { edPublicObject, nativeOnionCurve } from './crypto.js';
import type { OnionSession } from './onion.js';

/**
 * Verifies an ed25519 signature on the thread pool; false on any malformed input (never
 * rejects), as {@link edVerifyMsg}.
 */
export function edVerifyAsync(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (sig.length !== 64) return Promise.resolve(false);
  const o = edPublicObject(pub);
  if (!o) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      edVerifyCb(null, msg, o, sig, (e, ok) => resolve(!e && ok));
    } catch {
      resolve(false);
    }
  });
}

// The worker is CommonJS evaluated from this string (no separate file to locate from the bundled
// CLI or from the TypeScript sources); it needs only node:crypto and the addon's path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, randomBytes } = require('node:crypto');
const s = require(workerData.addon);
const sha = (a, b) => createHash('sha256').update(a).update(b).digest();
parentPort.on('message', (m) => {
  try {
    let sk = m.sessionKey;
    if (!sk) do sk = new Uint8Array(randomBytes(32)); while (!s.privateKeyVerify(sk));
    let e = Uint8Array.from(sk);
    const first = s.publicKeyCreate(e, true);
    let E = first;
    const secrets = [];
    for (let i = 0; i < m.keys.length; i++) {
      const ss = s.ecdh(m.keys[i], e);
      secrets.push(Uint8Array.from(ss));
      if (i < m.keys.length - 1) {
        const blind = sha(E, ss);
        e = s.privateKeyTweakMul(Uint8Array.from(e), blind);
        E = s.publicKeyTweakMul(E, blind, true);
      }
    }
    parentPort.postMessage({ id: m.id, sessionKey: sk, ephemeral: Uint8Array.from(first), secrets });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  resolve: (s: OnionSession) => void;
  reject: (e: unknown) => void;
}

/** The onion-session worker (one per process, started on first use, never keeps the process alive). */
class OnionWorker {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Called once when the worker stops (the daemon logs it). */
  readonly failureListeners = new Set<(reason: string) => void>();
  /** Sessions the worker has returned. */
  done = 0;

  private readonly drained = new Set<() => void>();

  /** Resolves once no session is on the worker (at once when none is), or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(t);
        self.drained.delete(done);
        resolve();
      }
      this.drained.add(done);
    });
  }

  /** What an operator sees: where sessions run, how many wait, how many ran. */
  status(): OnionWorkerStatus {
    return { mode: this.broken || !nativeOnionCurve() ? 'inline' : 'worker', pending: this.pending.size, done: this.done };
  }

  /** Runs `session(keys)` in the worker, or returns undefined when it is not available. */
  run(keys: Uint8Array[], sessionKey?: Uint8Array): Promise<OnionSession> | undefined {
    const w = this.get();
    if (!w) return undefined;
    const id = ++this.nextId;
    return new Promise<OnionSession>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref();
      // copies: a view's whole backing buffer (a Buffer pool slab) would be cloned otherwise
      w.postMessage({ id, keys: keys.map((k) => Uint8Array.from(k)), sessionKey: sessionKey && Uint8Array.from(sessionKey) });
    });
  }

  private get(): Worker | undefined {
    if (this.broken || !nativeOnionCurve()) return undefined;
    if (this.worker) return this.worker;
    let addon: string;
    try {
      addon = createRequire(import.meta.url).resolve('secp256k1/bindings');
    } catch {
      this.broken = true;
      return undefined;
    }
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon } });
    w.unref();
    w.on('message', (m: { id: number; error?: string; sessionKey: Uint8Array; ephemeral: Uint8Array; secrets: Uint8Array[] }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.done++;
      if (this.pending.size === 0) {
        w.unref();
        for (const d of [...this.drained]) d();
      }
      if (m.error !== undefined) p.reject(new StrataError('CHANNEL_ONION', `onion: invalid hop key (${m.error})`, { reason: m.error }));
      else p.resolve({ sessionKey: new Uint8Array(m.sessionKey), ephemeral: new Uint8Array(m.ephemeral), secrets: m.secrets.map((x) => new Uint8Array(x)) });
    });
    const fail = (e: unknown) => {
      // the worker is gone: what it held is rejected (each caller retries inline), later calls run inline
      if (!this.broken) {
        const why = `the onion worker stopped (${String(e)}); onion sessions run on the main thread from now on`;
        process.emitWarning(why, { code: 'STRATA_ONION_WORKER' });
        for (const l of this.failureListeners) {
          try {
            l(why);
          } catch {
            // a listener's failure is not the pool's
          }
        }
      }
      this.broken = true;
      this.worker = undefined;
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(new StrataError('CHANNEL_ONION', 'the onion worker stopped', {}, { cause: e }));
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit ${code}`)));
    this.worker = w;
    return w;
  }
}

const onionWorker = new OnionWorker();

/** The onion worker's state (one per process, shared by every channel node in it). */
export interface OnionWorkerStatus {
  /** 'worker' while sessions run on the worker thread; 'inline' without the addon or after the worker died. */
  mode: 'worker' | 'inline';
  /** Sessions waiting for the worker now. */
  pending: number;
  /** Sessions the worker has returned since the process started. */
  done: number;
}

/** Where onion sessions run and how many wait (metrics, `channel_info`). */
export function onionWorkerStatus(): OnionWorkerStatus {
  return onionWorker.status();
}

/**
 * Waits (at most `timeoutMs`) until no onion session is on the worker thread. A process that
 * exits while the worker is inside the native addon aborts ("terminate called after throwing an
 * instance of 'Napi::Error'": the addon's call into a terminating environment throws a C++
 * exception nothing can catch), so a channel node drains it in `stop()`; an idle worker exits
 * cleanly with the process.
 */
export function drainOnionWorker(timeoutMs = 2000): Promise<void> {
  return onionWorker.drain(timeoutMs);
}

/** Registers `fn` to hear (once) that the worker stopped; returns the unregister function. */
export function onOnionWorkerFailure(fn: (reason: string) => void): () => void {
  onionWorker.failureListeners.add(fn);
  return () => onionWorker.failureListeners.delete(fn);
}

/**
 * The onion session of a route (a fresh session key unless given, the ephemeral key, one shared
 * secret per hop) computed on the worker thread; inline where the worker is unavailable.
 * Rejects CHANNEL_ONION on an invalid hop key, as {@link routeSecrets} throws.
 */
export async function onionSessionAsync(hopKeys: Uint8Array[], inline: (keys: Uint8Array[], sessionKey?: Uint8Array) => OnionSession, sessionKey?: Uint8Array): Promise<OnionSession> {
  const job = onionWorker.run(hopKeys, sessionKey);
  if (!job) return inline(hopKeys, sessionKey);
  try {
    return await job;
  } catch (e) {
    if (e instanceof StrataError && e.code === 'CHANNEL_ONION' && e.message.startsWith('the onion worker stopped')) return inline(hopKeys, sessionKey);
    throw e;
  }
}
