/** Polls `cond` until true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, everyMs = 200): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** In-process polling (cheap conditions): a short timeout and a 20 ms interval. */
export const waitFor = (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> => waitUntil(cond, what, timeoutMs, 20);
