/**
 * The fuzz loop: feeds mutated inputs to one target and sorts the outcomes — accepted, rejected
 * with a typed error, or a crash (an untyped throw, a non-canonical acceptance, an RPC answer
 * that is not JSON-RPC or an internal error). Used by `npm run fuzz` and by the short run in
 * `npm test`.
 */
import { type ByteTarget, isTyped, type RpcHarness, type RpcTarget } from './targets.js';
import { mutateBytes, mutateRequest, Rng } from './mutator.js';

/** A crash found by the fuzzer: the input (hex or JSON text) and what went wrong. */
export interface Crash {
  input: string;
  error: string;
}

/** What one target's run produced. */
export interface FuzzResult {
  name: string;
  inputs: number;
  accepted: number;
  rejected: number;
  crashes: Crash[];
  ms: number;
  /** Slowest single input, ms. */
  slowestMs: number;
  /** Typed rejection codes seen, with counts. */
  codes: Record<string, number>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Runs `n` mutated inputs (or until `maxSeconds`) through a byte-level decoder. */
export function fuzzBytes(t: ByteTarget, n: number, seed: number, maxSeconds = Number.POSITIVE_INFINITY): FuzzResult {
  const rng = new Rng(seed);
  const r: FuzzResult = { name: t.name, inputs: 0, accepted: 0, rejected: 0, crashes: [], ms: 0, slowestMs: 0, codes: {} };
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  // Seeds themselves must pass (accepted or typed-rejected).
  for (const s of t.seeds) {
    try {
      t.run(s);
    } catch (e) {
      if (!isTyped(e)) throw e;
    }
  }
  for (let i = 0; i < n; i++) {
    const input = mutateBytes(rng, t.seeds, t.maxLen);
    const t0 = performance.now();
    try {
      t.run(input);
      r.accepted++;
    } catch (e) {
      if (isTyped(e)) {
        r.rejected++;
        const code = (e as { code: string }).code;
        r.codes[code] = (r.codes[code] ?? 0) + 1;
      } else if (r.crashes.length < 20) r.crashes.push({ input: hex(input), error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      else r.crashes.push({ input: '', error: '' });
    }
    const dt = performance.now() - t0;
    if (dt > r.slowestMs) r.slowestMs = dt;
    r.inputs++;
    if ((i & 1023) === 0 && performance.now() > deadline) break;
  }
  r.ms = performance.now() - started;
  return r;
}

/** Whether an RPC answer is well-formed JSON-RPC and, if an error, a typed one. */
function judgeRpc(out: string | undefined): { ok: boolean; error?: string; code?: number } {
  if (out === undefined) return { ok: true };
  let msg: unknown;
  try {
    msg = JSON.parse(out);
  } catch {
    return { ok: false, error: `answer is not JSON: ${out.slice(0, 200)}` };
  }
  const one = (m: unknown): { ok: boolean; error?: string; code?: number } => {
    if (m === null || typeof m !== 'object') return { ok: false, error: 'answer is not an object' };
    const o = m as { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown; data?: { code?: unknown } } };
    if (o.jsonrpc !== '2.0') return { ok: false, error: 'answer lacks jsonrpc 2.0' };
    if (o.error === undefined) return { ok: true };
    if (!Number.isInteger(o.error.code) || typeof o.error.message !== 'string') return { ok: false, error: `malformed error ${JSON.stringify(o.error).slice(0, 200)}` };
    // A foreign exception surfaces as a generic internal error: the handler was not typed.
    if (o.error.data?.code === 'INTERNAL' && String(o.error.message).startsWith('internal error')) return { ok: false, error: `untyped handler error: ${o.error.message}` };
    if (String(o.error.message).includes('timed out after')) return { ok: false, error: `handler timed out: ${o.error.message}` };
    return { ok: true, code: o.error.code as number };
  };
  if (Array.isArray(msg)) {
    for (const m of msg) {
      const j = one(m);
      if (!j.ok) return j;
    }
    return { ok: true };
  }
  return one(msg);
}

/** Runs `n` mutated requests (or until `maxSeconds`) through one RPC method. */
export async function fuzzRpc(h: RpcHarness, t: RpcTarget, n: number, seed: number, maxSeconds = Number.POSITIVE_INFINITY): Promise<FuzzResult> {
  const rng = new Rng(seed);
  const r: FuzzResult = { name: `rpc ${t.method}`, inputs: 0, accepted: 0, rejected: 0, crashes: [], ms: 0, slowestMs: 0, codes: {} };
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  h.reset();
  for (let i = 0; i < n; i++) {
    const body = mutateRequest(rng, t.method, t.seeds);
    const t0 = performance.now();
    let verdict: { ok: boolean; error?: string; code?: number };
    try {
      verdict = judgeRpc(await h.call(body));
    } catch (e) {
      verdict = { ok: false, error: `dispatcher threw: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!verdict.ok) {
      if (r.crashes.length < 20) r.crashes.push({ input: body.slice(0, 2000), error: verdict.error ?? '' });
      else r.crashes.push({ input: '', error: '' });
    } else if (verdict.code !== undefined) {
      r.rejected++;
      r.codes[String(verdict.code)] = (r.codes[String(verdict.code)] ?? 0) + 1;
    } else r.accepted++;
    const dt = performance.now() - t0;
    if (dt > r.slowestMs) r.slowestMs = dt;
    r.inputs++;
    if ((i & 255) === 0 && performance.now() > deadline) break;
  }
  r.ms = performance.now() - started;
  return r;
}
