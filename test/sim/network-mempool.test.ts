/**
 * In-process nodes over libp2p on 127.0.0.1: a node that joins late pulls its peer's pending
 * transactions once after the handshake (mempool/1), instead of anyone re-broadcasting them;
 * the protocol refuses a malformed request and costs the sender score.
 */
import { type P2PNetwork, PROTO_MEMPOOL, PROTOCOL_LIMITS, txBatchCodec } from '@strata/node';
import { decode, initHashing, toHex } from '@strata/primitives';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, keys, transferTx } from '../helpers/chain.js';
import { simNode, stopSimNodes } from '../helpers/sim-node.js';
import { waitUntil } from '../helpers/wait.js';

await initHashing();
afterAll(stopSimNodes);

const config = devConfig({ pow: { enabled: false } });
const node = (name: string, bootnodes: string[] = []) => simNode(name, config, { bootnodes });

describe('mempool/1: pending transactions pulled after the handshake', () => {
  it('a node that joins late gets the pending transactions of its peer', async () => {
    const a = await node('mp-a');
    // Submitted while a has no peers: nothing is gossiped to anyone.
    const pending = [0, 1, 2].map((i) => transferTx(config, keys[i]!, keys[3]!.address, 5n, 0));
    for (const t of pending) a.submitTx(t.bytes);
    const b = await node('mp-b', a.network!.info().multiaddrs);
    await waitUntil(() => pending.every((t) => b.mempool.has(t.hash)), 'b to hold a’s pending transactions', 10_000, 25);
    expect(b.mempool.all().map((t) => toHex(t.hash)).sort()).toEqual(pending.map((t) => toHex(t.hash)).sort());
  });

  it('answers with a bounded batch, and refuses a malformed request at a cost to the sender', async () => {
    const a = await node('mp-c');
    a.submitTx(transferTx(config, keys[0]!, keys[1]!.address, 1n, 0).bytes);
    const b = await node('mp-d');
    const p2p = (b.network as P2PNetwork).p2p!;
    const peer = a.network!.info().peerId;
    await p2p.dial(a.network!.info().multiaddrs[0]!);
    const batch = decode(txBatchCodec(config.maxTxBytes), await p2p.request(peer, PROTO_MEMPOOL, new Uint8Array(0), PROTOCOL_LIMITS.mempool), 1 << 23);
    expect(batch).toHaveLength(1);
    await expect(p2p.request(peer, PROTO_MEMPOOL, Uint8Array.of(1), PROTOCOL_LIMITS.mempool)).rejects.toThrow();
    expect((a.network as P2PNetwork).p2p!.scoreOf(b.network!.info().peerId)).toBeLessThan(0);
  });
});
