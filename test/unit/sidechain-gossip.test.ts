/**
 * Work per gossiped transaction batch on a sidechain is bounded: at most MAX_GOSSIP_TXS
 * signature recoveries per message, known transactions cost no recovery, and the first forged
 * transaction ends the batch (real secp256k1 signatures, the node's own verifyRawTx).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { bytesKey, encode, list, varBytes, type KeyPair } from '@strata/primitives';
import { P2PNode } from '@strata/p2p';
import { encodeTx, signTx, TransferArgsCodec, txHashOf, verifyRawTx } from '@strata/runtime';
import { admitGossipedTxs, BftNetwork, decodeTxBatch, MAX_GOSSIP_TXS, TOPIC_TXS } from '@strata/sidechain';
import { keys } from '../helpers/chain.js';
import { sleep, waitFor } from '../helpers/wait.js';

const alice = keys[0] as KeyPair;

function txs(n: number, from = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    encodeTx(signTx({ chainId: 5151, nonce: from + i, fee: 1_000_000n, computeLimit: 5_000, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: (keys[1] as KeyPair).address, amount: 1n }) }, alice.secretKey)),
  );
}

/** A node's admission path: signature recovery on submit (counted), a mempool of hashes. */
function node() {
  const pool = new Set<string>();
  let recoveries = 0;
  return {
    get recoveries() {
      return recoveries;
    },
    mempool: { has: (h: Uint8Array) => pool.has(bytesKey(h)) },
    submitTx(raw: Uint8Array) {
      recoveries++;
      const v = verifyRawTx(raw);
      pool.add(bytesKey(v.hash));
      return v;
    },
  };
}

describe('sidechain tx gossip', () => {
  it('one batch forces at most MAX_GOSSIP_TXS signature checks; known txs cost none; a forged tx ends the batch', () => {
    expect(MAX_GOSSIP_TXS).toBeLessThanOrEqual(128);
    const n = node();
    const big = txs(300);
    const r = admitGossipedTxs(big, n as never);
    expect(r.checked).toBe(MAX_GOSSIP_TXS);
    expect(n.recoveries).toBe(MAX_GOSSIP_TXS);
    // the same batch again: every one is known, no recovery at all
    const again = admitGossipedTxs(big.slice(0, MAX_GOSSIP_TXS), n as never);
    expect(again.checked).toBe(0);
    expect(n.recoveries).toBe(MAX_GOSSIP_TXS);
    // a malformed transaction first: one check, the rest of the batch is never looked at
    const forged = txs(50, 1000);
    const bad = forged[0]!.slice(0, -3); // truncated: cannot decode
    const before = n.recoveries;
    const f = admitGossipedTxs([bad, ...forged.slice(1)], n as never);
    expect(f.forged?.code).toMatch(/SIGNATURE|DECODE/);
    expect(n.recoveries - before).toBe(1);
    expect(txHashOf(bad)).not.toEqual(txHashOf(forged[0]!));
  });

  it('transactions handed over one by one leave in batches, not one gossip message each', async () => {
    const net = new BftNetwork({ dataDir: '/nonexistent', listen: [], bootnodes: [] });
    const sent: Uint8Array[][] = [];
    // the libp2p node's publish, recorded (the batching is in front of it)
    net.p2p = { publish: async (_topic: string, data: Uint8Array) => void sent.push(decodeTxBatch(data)) } as never;
    const all = txs(300);
    for (const raw of all) net.broadcastTxs([raw]);
    await new Promise((r) => setTimeout(r, 30));
    expect(sent.length).toBe(3);
    expect(sent.map((b) => b.length)).toEqual([MAX_GOSSIP_TXS, MAX_GOSSIP_TXS, 300 - 2 * MAX_GOSSIP_TXS]);
    expect(sent.flat()).toEqual(all);
    // a lone transaction still leaves within a few milliseconds
    net.broadcastTxs([all[0]!]);
    await new Promise((r) => setTimeout(r, 30));
    expect(sent.length).toBe(4);
    net.p2p = undefined;
    await net.stop();
  });

  it('a batch with a forged transaction is not relayed: the peer that sent it loses score, the honest relay does not (real libp2p)', async () => {
    const NET = 'sc-gossip-relay';
    const fake = () => {
      const n = node();
      return Object.assign(n, { opts: { config: { chainId: 5151 } }, log: pino({ level: 'silent' }) });
    };
    const hNode = fake();
    const vNode = fake();
    const honest = new BftNetwork({ networkId: NET });
    await honest.start(hNode as never);
    const h = honest.p2p!;
    const victim = new BftNetwork({ networkId: NET, bootnodes: h.multiaddrs });
    const attacker = await P2PNode.create({ networkId: NET, bootnodes: h.multiaddrs });
    try {
      await victim.start(vNode as never);
      const v = victim.p2p!;
      attacker.subscribe(TOPIC_TXS, () => 'accept', () => {});
      await attacker.start();
      await h.waitForPeers(2);
      await waitFor(() => attacker.topicPeers(TOPIC_TXS).includes(h.peerId) && h.meshPeers(TOPIC_TXS).includes(v.peerId), 'the tx topic mesh attacker - honest - victim');
      const batch = (raws: Uint8Array[]) => encode(list(varBytes(512 * 1024), MAX_GOSSIP_TXS), raws);
      // a good batch travels two hops
      const good = txs(3);
      await attacker.publish(TOPIC_TXS, batch(good));
      await waitFor(() => vNode.mempool.has(txHashOf(good[2]!)), 'good batch at the victim');
      // forged batches (a truncated tx first): the honest node must not relay them
      for (let i = 0; i < 6; i++) {
        const f = txs(2, 100 + i * 2);
        await attacker.publish(TOPIC_TXS, batch([f[0]!.slice(0, -3), f[1]!]));
      }
      await sleep(800);
      expect(v.scoreOf(h.peerId)).toBe(0);
      expect(v.isBanned(h.peerId)).toBe(false);
      expect(h.scoreOf(attacker.peerId)).toBeLessThan(0);
      // and a good batch afterwards still reaches the victim through the honest node
      const later = txs(2, 500);
      await attacker.publish(TOPIC_TXS, batch(later)).catch(() => {});
      await waitFor(() => vNode.mempool.has(txHashOf(later[1]!)) || h.isBanned(attacker.peerId), 'later batch at the victim (or the attacker banned)');
      expect(v.peers().some((p) => p.id === h.peerId)).toBe(true);
    } finally {
      await attacker.stop();
      await victim.stop();
      await honest.stop();
    }
  });
});
