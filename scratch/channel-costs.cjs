// Per-operation costs behind docs/channels.md, session 9 (run from the repo root: node scratch/channel-costs.cjs):
// secp256k1 (native addon) ECDH and key ops, ed25519 sign/verify inline and on libuv's pool (CPU per verify),
// HMAC/sha256/chacha20 of an onion layer, v8.serialize of a channel record with 100 HTLCs.
const s = require('secp256k1');
const crypto = require('crypto');
let sk = crypto.randomBytes(32); const pk = s.publicKeyCreate(crypto.randomBytes(32), true);
function bench(name, fn, n = 5000) { for (let i = 0; i < 200; i++) fn(); const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) fn(); console.log(name, (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1), 'us'); }
bench('ecdh', () => s.ecdh(pk, sk));
bench('ecdh-out', () => s.ecdh(pk, sk, {}, new Uint8Array(32)));
bench('pubCreate', () => s.publicKeyCreate(sk, true));
bench('tweakMul', () => s.publicKeyTweakMul(pk, sk, true));
const ed = crypto.generateKeyPairSync('ed25519'); const msg = crypto.randomBytes(100); const sig = crypto.sign(null, msg, ed.privateKey);
bench('edSign', () => crypto.sign(null, msg, ed.privateKey));
bench('edVerify', () => crypto.verify(null, msg, ed.publicKey, sig));
bench('hmac', () => crypto.createHmac('sha256', sk).update(msg).digest());
bench('sha256', () => crypto.createHash('sha256').update(msg).digest());
const big = crypto.randomBytes(1366);
bench('chacha1366', () => { const c = crypto.createCipheriv('chacha20', sk, Buffer.alloc(16)); c.update(big); c.final(); });
const v8 = require('v8');
const st = { version: 5, balanceA: 10n**12n, balanceB: 10n**12n, htlcs: Array.from({length: 100}, (_, i) => ({ id: i, offerer: 0, amount: 1000n, hash: new Uint8Array(crypto.randomBytes(32)), expiry: 1234 })) };
const rec = { id: new Uint8Array(32), state: st, round: { next: st, updates: st.htlcs.map(h => ({kind:'add', ...h, onion: new Uint8Array(0)})) } };
bench('v8ser rec100', () => v8.serialize(rec), 2000);
console.log('size', v8.serialize(rec).length);
bench('v8deser rec100', () => v8.deserialize(v8.serialize(rec)), 1000);
const msg2 = crypto.randomBytes(120); const sig2 = crypto.sign(null, msg2, ed.privateKey);
async function run(n) {
  let done = 0; let resolveAll; const all = new Promise(r => resolveAll = r);
  const t0 = process.hrtime.bigint(); const c0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  for (let i = 0; i < n; i++) crypto.verify(null, msg2, ed.publicKey, sig2, (e, ok) => { if (++done === n) resolveAll(); });
  const t1 = process.hrtime.bigint();
  await all;
  const t2 = process.hrtime.bigint(); const c = process.cpuUsage(c0); const elu = performance.eventLoopUtilization(elu0);
  console.log(`n=${n} issue ${(Number(t1-t0)/n/1000).toFixed(1)}us/op, total wall ${(Number(t2-t0)/1e6).toFixed(0)}ms, cpu ${((c.user+c.system)/n).toFixed(1)}us/op, loop active ${(elu.active*1000/n).toFixed(1)}us/op`);
}
(async () => { await run(2000); await run(5000); })();
