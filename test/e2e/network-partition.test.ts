/**
 * Partition and heal with three `strata node` processes on 127.0.0.1. The partition is made by
 * the operator controls: `admin_blockPeer` on both sides of every cut link (disconnect + refuse,
 * the same mechanism as a ban), lifted with `admin_unblockPeer` and a re-dial (`admin_addPeer`).
 * Both sides mine their own branch; after healing every node is on the heaviest branch with the
 * same state root, and the losing side's transaction is back in the mempools and then mined.
 */
import { readFileSync } from 'node:fs';
import { encode, initHashing, toHex } from '@strata/primitives';
import { defaultChainConfig, encodeTx, parseChainConfig, signTx, TRANSFER_COMPUTE, TransferArgsCodec } from '@strata/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { keys, tempDir } from '../helpers/chain.js';
import { type NodeProcess, peerIds, startNodeProcess, waitUntil, writeNetConfig } from '../helpers/node-process.js';
import { sleep } from '../helpers/wait.js';

await initHashing();
const procs: NodeProcess[] = [];
const dirs: (() => void)[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  for (const d of dirs) d();
});

const setMining = (nodes: NodeProcess[], mode: 'pow' | 'off') => Promise.all(nodes.map((n) => n.rpc.call('admin_setMining', [mode])));

describe('L1 network: partition and heal', () => {
  it('{A,B} | {C} mine apart; after healing all follow the heaviest chain and the losing side’s txs are re-mined', async () => {
    const t = tempDir('strata-part-');
    dirs.push(t.cleanup);
    // The shipped config: 6 confirmations. The partition outlasts them on both sides (blocks of
    // ~100k hashes: the longer partition must still finish on a loaded 2-core machine).
    const config = writeNetConfig(t.dir, { hashesPerBlock: 100_000 });
    const cfg = parseChainConfig(JSON.parse(readFileSync(config, 'utf8')), defaultChainConfig());
    const a = await startNodeProcess({ name: 'a', dataDir: `${t.dir}/a`, config, mine: true });
    const boot = a.endpoints.multiaddrs;
    const [b, c] = await Promise.all([
      startNodeProcess({ name: 'b', dataDir: `${t.dir}/b`, config, mine: true, bootnodes: boot }),
      startNodeProcess({ name: 'c', dataDir: `${t.dir}/c`, config, mine: true, bootnodes: boot }),
    ]);
    procs.push(a, b, c);
    await waitUntil(async () => (await Promise.all([a, b, c].map((n) => n.height()))).every((h) => h >= 4), 'a common chain of 4 blocks', 30_000);

    // Cut every link between {a, b} and {c}.
    const ids = { a: a.endpoints.peerId, b: b.endpoints.peerId, c: c.endpoints.peerId };
    await c.rpc.call('admin_blockPeer', [ids.a, 600]);
    await c.rpc.call('admin_blockPeer', [ids.b, 600]);
    await a.rpc.call('admin_blockPeer', [ids.c, 600]);
    await b.rpc.call('admin_blockPeer', [ids.c, 600]);
    await waitUntil(async () => (await peerIds(c)).length === 0, 'c to be cut off');
    expect(await peerIds(a)).toContain(ids.b);
    const forkHeight = await c.height();

    // One transaction on each side.
    const tx = (from: number, to: number) =>
      toHex(
        encodeTx(
          signTx(
            { chainId: cfg.chainId, nonce: 0, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: keys[to]!.address, amount: 1000n }) },
            keys[from]!.secretKey,
          ),
        ),
      );
    const txAB = await a.rpc.call<string>('tx_sendRaw', [tx(0, 1)]);
    const txC = await c.rpc.call<string>('tx_sendRaw', [tx(2, 3)]);
    await waitUntil(async () => (await c.rpc.call('tx_getReceipt', [txC])) !== null, 'c to mine its side’s tx', 30_000);
    await waitUntil(async () => (await a.rpc.call('tx_getReceipt', [txAB])) !== null, 'a/b to mine their side’s tx', 30_000);
    expect(cfg.confirmations).toBe(6);
    await waitUntil(async () => (await c.height()) >= forkHeight + cfg.confirmations + 2, 'c to build its own branch past its finality depth', 120_000);
    // Make {a, b} clearly heavier (fixed difficulty: work grows with height), then stop mining.
    await setMining([c], 'off');
    const cHeight = await c.height();
    await waitUntil(async () => (await a.height()) >= cHeight + 3, '{a,b} to outgrow c', 60_000);
    await setMining([a, b], 'off');
    await sleep(1000);
    await waitUntil(async () => (await a.head()).hash === (await b.head()).hash, 'a and b to agree', 15_000);
    const cHead = await c.head();
    const abHead = await a.head();
    expect(cHead.hash).not.toBe(abHead.hash);
    // c's finalized block is on its own branch: healing must revert it.
    const cFinal = await c.rpc.call<{ number: string; hash: string }>('chain_getHead', ['finalized']);
    expect(Number(cFinal.number)).toBeGreaterThan(forkHeight);
    expect(await a.rpc.call('tx_getReceipt', [txC])).toBeNull();

    // Heal.
    for (const [n, peers] of [[a, [ids.c]], [b, [ids.c]], [c, [ids.a, ids.b]]] as const) {
      for (const p of peers) await n.rpc.call('admin_unblockPeer', [p]);
    }
    await c.rpc.call('admin_addPeer', [boot[0]]);
    await waitUntil(async () => (await c.head()).hash === abHead.hash, 'c to reorganise onto the heaviest chain', 30_000);
    const heads = await Promise.all([a, b, c].map((n) => n.head()));
    expect(new Set(heads.map((h) => h.hash)).size).toBe(1);
    expect(new Set(heads.map((h) => h.stateRoot)).size).toBe(1);
    // c's transaction left the canonical chain and is pending again, on c and (re-gossiped) on a.
    expect(await c.rpc.call('tx_getReceipt', [txC])).toBeNull();
    const pending = async (n: NodeProcess) => (await n.rpc.call<{ hash: string }[]>('mempool_content')).map((x) => x.hash);
    expect(await pending(c)).toContain(txC);
    await waitUntil(async () => (await pending(a)).includes(txC), 'the orphaned tx to reach a’s mempool', 10_000);
    const log = readFileSync(`${t.dir}/c/c.log`, 'utf8');
    expect(log).toContain('"msg":"reorg"');
    // Mining resumes; the orphaned transaction is mined on the common chain.
    await setMining([a], 'pow');
    await waitUntil(async () => (await b.rpc.call('tx_getReceipt', [txC])) !== null, 'the orphaned tx to be mined again', 30_000);
    await setMining([a], 'off');
    await sleep(1000);
    await waitUntil(async () => {
      const hs = await Promise.all([a, b, c].map((n) => n.head()));
      return new Set(hs.map((h) => h.hash)).size === 1;
    }, 'all three to agree at the end', 15_000);
    expect(await c.rpc.call('tx_getReceipt', [txAB])).not.toBeNull();
  }, 200_000);
});
