/**
 * One slice of a fuzz target in a process of its own, started by `npm run fuzz` (test/fuzz/run.ts)
 * for targets that must not share a heap or a node across a whole million inputs:
 * - the compressed-batch decoder, because Node 20's brotli decoder keeps ~14 KB for every damaged
 *   stream it has seen, even after GC (a fresh process per slice frees it);
 * - RPC methods, so that each slice starts on a fresh dev node with a fresh lmdb store in a temp
 *   dir (`dev_mine`, `net_importBlock`, `dev_revert`… otherwise grow the chain for the rest of the run).
 *
 * `child.ts --kind bytes|rpc --index I --n N --seed S [--max-seconds X]` runs N inputs of target I
 * and prints its FuzzResult as one JSON line on stdout (the last line).
 */
import { type FuzzResult, fuzzBytes, fuzzRpc } from './fuzz.js';
import { byteTargets, rpcHarness } from './targets.js';

if (!process.argv.includes('--stacks')) Error.stackTraceLimit = 0;

const args = process.argv.slice(2);
const flag = (name: string): string => {
  const i = args.indexOf(name);
  const v = i >= 0 ? args[i + 1] : undefined;
  if (v === undefined) throw new Error(`child.ts: missing ${name}`);
  return v;
};
const kind = flag('--kind');
const index = Number(flag('--index'));
const n = Number(flag('--n'));
const seed = Number(flag('--seed'));
const maxSeconds = args.includes('--max-seconds') ? Number(flag('--max-seconds')) : Number.POSITIVE_INFINITY;
let unhandled = 0;
process.on('unhandledRejection', (e) => {
  unhandled++;
  console.error('unhandled rejection during fuzzing:', e);
});

let r: FuzzResult;
if (kind === 'bytes') {
  const t = (await byteTargets())[index];
  if (!t) throw new Error(`no byte target ${index}`);
  r = fuzzBytes(t, n, seed, maxSeconds);
} else {
  const h = await rpcHarness({ http: kind === 'http' });
  try {
    const t = h.targets[index];
    if (!t) throw new Error(`no rpc target ${index}`);
    r = await fuzzRpc(h, t, n, seed, maxSeconds);
  } finally {
    await h.close();
  }
}
process.stdout.write(`${JSON.stringify({ ...r, unhandled, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
process.exit(0);
