/**
 * Work per gossiped transaction batch on a sidechain is bounded: at most MAX_GOSSIP_TXS
 * signature recoveries per message, known transactions cost no recovery, and the first forged
 * transaction ends the batch (real secp256k1 signatures, the node's own verifyRawTx).
 */
import { describe, expect, it } from 'vitest';
import { bytesKey, encode, type KeyPair } from '@strata/primitives';
import { encodeTx, signTx, TransferArgsCodec, txHashOf, verifyRawTx } from '@strata/runtime';
import { admitGossipedTxs, BftNetwork, decodeTxBatch, MAX_GOSSIP_TXS } from '@strata/sidechain';
import { keys } from '../helpers/chain.js';

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
});
