// Proof-of-work search, run on a worker thread so the node's event loop keeps serving.
// Plain JavaScript on purpose: worker threads do not go through the TypeScript loader.
import { parentPort } from 'node:worker_threads';
import blake2b from 'blake2b-wasm';

await new Promise((resolve) => blake2b.ready(resolve));

function leq(a, b) {
  for (let i = 0; i < 32; i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return true;
}

parentPort.on('message', (m) => {
  const buf = new Uint8Array(m.header);
  const n = buf.length;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const target = new Uint8Array(m.target);
  const personal = new Uint8Array(m.personal);
  let nonce = BigInt(m.start);
  for (let i = 0; i < m.count; i++) {
    view.setBigUint64(n - 8, nonce);
    const h = blake2b(32, null, null, personal, true).update(buf).digest();
    if (leq(h, target)) {
      parentPort.postMessage({ id: m.id, nonce: nonce.toString(), tried: i + 1 });
      return;
    }
    nonce = (nonce + 1n) & 0xffffffffffffffffn;
  }
  parentPort.postMessage({ id: m.id, nonce: null, tried: m.count });
});
