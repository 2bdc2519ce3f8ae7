/**
 * Gossip throughput between in-process nodes over loopback TCP: one publisher, one receiver
 * (one hop) and a second receiver behind it (two hops). Run: npx tsx packages/p2p/bench/gossip-throughput.ts [count] [bytes]
 */
import { P2PNode } from '@strata/p2p';

const count = Number(process.argv[2] ?? 5000);
const size = Number(process.argv[3] ?? 256);
const NET = 'bench';

const a = await P2PNode.create({ networkId: NET });
await a.start();
const b = await P2PNode.create({ networkId: NET, bootnodes: a.multiaddrs });
await b.start();
const c = await P2PNode.create({ networkId: NET, bootnodes: b.multiaddrs });
await c.start();
let gotB = 0;
let gotC = 0;
let doneB = 0;
let doneC = 0;
a.subscribe('t', () => 'accept', () => {});
b.subscribe('t', () => 'accept', () => {
  if (++gotB === count) doneB = performance.now();
});
c.subscribe('t', () => 'accept', () => {
  if (++gotC === count) doneC = performance.now();
});
const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
};
await until(() => a.topicPeers('t').includes(b.peerId) && b.meshPeers('t').includes(c.peerId), 10_000);
const t0 = performance.now();
const msg = new Uint8Array(size);
const view = new DataView(msg.buffer);
for (let i = 0; i < count; i++) {
  view.setUint32(0, i); // unique content, unique message id
  await a.publish('t', msg.slice());
}
const published = performance.now();
await until(() => gotC === count && gotB === count, 60_000);
const fmt = (done: number, got: number) => (done ? `${Math.round(count / ((done - t0) / 1000))} msg/s` : `only ${got}/${count}`);
console.log(`${count} x ${size} B: publish ${Math.round(count / ((published - t0) / 1000))} msg/s; 1 hop ${fmt(doneB, gotB)}; 2 hops ${fmt(doneC, gotC)}`);
await Promise.all([a.stop(), b.stop(), c.stop()]);
