// Recovers secp256k1 public keys for jobs of (digest, signature) pairs in shared memory, on a
// worker thread. Threads claim 32-entry chunks of a job with an atomic counter, so the main
// thread can take a share (TxVerifier.help). The thread completing the last chunk reports it.
// Each claimed chunk is signed with this worker's id (`owner`) and marked in `done` when
// finished, so the main thread can redo the chunks of a worker that died (TxVerifier.reclaim).
// Plain JavaScript on purpose: worker threads do not go through the TypeScript loader.
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

const require = createRequire(import.meta.url);
let recover;
try {
  const native = require('secp256k1/bindings');
  recover = (sig, recid, digest) => native.ecdsaRecover(sig, recid, digest, true);
} catch {
  const { secp256k1 } = await import('@noble/curves/secp256k1.js');
  recover = (sig, recid, digest) => {
    const rec = new Uint8Array(65);
    rec[0] = recid;
    rec.set(sig, 1);
    return secp256k1.recoverPublicKey(rec, digest, { prehash: false });
  };
}
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const CHUNK = 32;
const ENTRY = 97;

parentPort.on('message', (m) => {
  const { id, count, input, output, ctl, owner, done, wid } = m;
  const chunks = Math.ceil(count / CHUNK);
  for (let c = Atomics.add(ctl, 0, 1); c < chunks; c = Atomics.add(ctl, 0, 1)) {
    // Sign the claim: if this thread dies mid-chunk, the importing thread redoes the chunk.
    Atomics.store(owner, c, wid);
    const hi = Math.min(count, (c + 1) * CHUNK);
    for (let i = c * CHUNK; i < hi; i++) {
      const o = i * ENTRY;
      // Copies out of shared memory: the native binding wants ordinary buffers.
      const digest = input.slice(o, o + 32);
      const sig = input.slice(o + 32, o + 96);
      const recid = input[o + 96];
      try {
        if (recid > 3) continue;
        if (sig[32] > 0x7f) {
          const s = BigInt(`0x${Buffer.from(sig.subarray(32, 64)).toString('hex')}`);
          if (s > HALF_N) continue;
        }
        output.set(recover(sig, recid, digest), i * 33);
      } catch {
        // leave zeros: the caller reports the signature as invalid
      }
    }
    // Count each chunk once, even if a reclaiming thread redid it meanwhile.
    if (Atomics.compareExchange(done, c, 0, 1) === 0 && Atomics.add(ctl, 1, 1) + 1 === chunks) parentPort.postMessage({ id });
  }
});
