// Recovers secp256k1 public keys for batches of (digest, signature) pairs on a worker thread.
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

parentPort.on('message', (m) => {
  const input = new Uint8Array(m.data);
  const count = m.count;
  const out = new Uint8Array(count * 33);
  for (let i = 0; i < count; i++) {
    const o = i * 97;
    const digest = input.subarray(o, o + 32);
    const sig = input.subarray(o + 32, o + 96);
    const recid = input[o + 96];
    try {
      if (recid > 3) continue;
      if (sig[32] > 0x7f) {
        const s = BigInt(`0x${Buffer.from(sig.subarray(32, 64)).toString('hex')}`);
        if (s > HALF_N) continue;
      }
      out.set(recover(sig, recid, digest), i * 33);
    } catch {
      // leave zeros: the caller reports the signature as invalid
    }
  }
  parentPort.postMessage({ id: m.id, data: out }, [out.buffer]);
});
