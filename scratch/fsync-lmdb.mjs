// Probe: fsync (lmdb env.sync) durations of a channel-store-like write pattern: 1,500 rounds of 6 commits
// (3 invoice-like records + one 150-HTLC channel record each), one sync per round.
// `node scratch/fsync-lmdb.mjs`; PREALLOC_MB=64 extends data.mdb with zeros after open first.
import { open } from 'lmdb';
import { mkdirSync, mkdtempSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { serialize } from 'node:v8';
import { randomBytes } from 'node:crypto';
const prealloc = Number(process.env.PREALLOC_MB ?? 0);
const dir = mkdtempSync('/tmp/fsl-');
const db = open({ path: `${dir}/db`, encoding: 'binary', noSync: true });
db.putSync('x', Buffer.from('y'));
if (prealloc) { const fd = openSync(`${dir}/db/data.mdb`, 'r+'); const st = statSync(`${dir}/db/data.mdb`).size; const z = Buffer.alloc(1 << 20); for (let i = 0; i < prealloc; i++) writeSync(fd, z, 0, z.length, st + i * z.length); (await import('node:fs')).fsyncSync(fd); closeSync(fd); }
const sync = () => new Promise((r, j) => db.sync((e) => (e ? j(e) : r())));
const lat = [];
const t0 = performance.now();
let k = 0;
for (let round = 0; round < 1500; round++) {
  // a round: ~6 commits of: invoice-like records (growing), a channel record (overwritten)
  for (let c = 0; c < 6; c++) {
    db.transactionSync(() => {
      for (let j = 0; j < 3; j++) db.putSync(`inv:${(k++).toString().padStart(10, '0')}`, serialize({ preimage: randomBytes(32), secret: randomBytes(32), amount: 1000n, status: 'paid', t: Date.now() }));
      db.putSync('ch:1', serialize({ htlcs: Array.from({ length: 150 }, (_, i) => ({ id: i, amount: 1000n, hash: randomBytes(32), expiry: 100 })) }));
    });
  }
  const s = performance.now(); await sync(); lat.push(performance.now() - s);
}
lat.sort((a, b) => a - b);
console.log(`prealloc ${prealloc} MB: fsync p50 ${lat[750].toFixed(3)} p90 ${lat[1350].toFixed(3)} p99 ${lat[1485].toFixed(3)} max ${lat[1499].toFixed(3)} ms; file ${(statSync(`${dir}/db/data.mdb`).size / 1e6).toFixed(1)} MB; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
