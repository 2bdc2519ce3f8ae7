/**
 * Runtime shims that libp2p needs on Node 20. This module has no imports, so importing it first
 * from the package entry runs it before any libp2p module is evaluated.
 *
 * Current libp2p (and its helpers: yamux, mortice, it-queue, abort-error) call
 * `Promise.withResolvers`, which Node only ships from 22. Without it, streams fail at runtime
 * with "Promise.withResolvers is not a function".
 */

interface WithResolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

type PromiseCtorWithResolvers = PromiseConstructor & { withResolvers?: <T>() => WithResolvers<T> };

const P = Promise as PromiseCtorWithResolvers;

if (typeof P.withResolvers !== 'function') {
  // Defined non-enumerable, like the native method, so nothing iterating Promise sees it.
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(this: PromiseConstructor): WithResolvers<T> {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/** True once the shims are installed (always, after this module has been evaluated). */
export const POLYFILLS_INSTALLED = true;
