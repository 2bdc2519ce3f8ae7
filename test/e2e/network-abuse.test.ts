/**
 * Misbehaving peers against two honest `strata node` processes (real TCP on 127.0.0.1): a peer
 * gossiping garbage bytes, blocks with bad proof of work, a bad state root or a bad signature,
 * or a flood of oversized messages is penalised, disconnected and refused, while the honest
 * nodes keep mining, agreeing and serving RPC.
 */
import { readFileSync } from 'node:fs';
import { type Block, type BlockHeader, blockHash, decodeBlock, encodeBlock, meetsTarget, merkleRoot } from '@strata/chain';
import { BlocksCodec, encodeRange, networkIdOf, PROTO_BLOCKS_RANGE, PROTO_STATUS, PROTOCOL_LIMITS, TOPIC_BLOCKS, TOPIC_TXS } from '@strata/node';
import { P2PNode } from '@strata/p2p';
import { decode, encode, fromHex, initHashing } from '@strata/primitives';
import { decodeTx, defaultChainConfig, encodeTx, parseChainConfig, signTx, TRANSFER_COMPUTE, TransferArgsCodec, txHashOf } from '@strata/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { keys, tempDir } from '../helpers/chain.js';
import { type NodeProcess, peerIds, startNodeProcess, waitUntil, writeNetConfig } from '../helpers/node-process.js';

await initHashing();
const procs: NodeProcess[] = [];
const attackers: P2PNode[] = [];
const dirs: (() => void)[] = [];

afterAll(async () => {
  await Promise.all(attackers.map((a) => a.stop()));
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  for (const d of dirs) d();
});

/** A raw peer on the honest nodes' network that answers the status handshake with an echo. */
async function attacker(genesis: string, target: NodeProcess, maxGossipBytes?: number): Promise<P2PNode> {
  const p = await P2PNode.create({ networkId: networkIdOf(fromHex(genesis, 32)), ...(maxGossipBytes ? { maxGossipBytes } : {}) });
  attackers.push(p);
  p.subscribe(TOPIC_BLOCKS, () => 'accept', () => undefined);
  p.subscribe(TOPIC_TXS, () => 'accept', () => undefined);
  p.handle(PROTO_STATUS, async (req) => req, PROTOCOL_LIMITS.status);
  await p.start();
  await p.dial(target.endpoints.multiaddrs[0] as string);
  await waitUntil(() => p.topicPeers(TOPIC_BLOCKS).includes(target.endpoints.peerId), 'attacker to join the blocks topic', 20_000, 50);
  return p;
}

/** Builds a child of `parent` with the given body and roots; mines a nonce unless `badPow`. */
function child(parent: Block, txs: Uint8Array[], opts: { badPow?: boolean; stateRoot?: Uint8Array } = {}): Block {
  const ph = parent.header;
  const header: BlockHeader = {
    ...ph,
    parentHash: blockHash(ph),
    height: ph.height + 1,
    timestamp: Math.max(Date.now(), ph.timestamp + 1),
    txRoot: merkleRoot(txs.map((t) => txHashOf(t))),
    stateRoot: opts.stateRoot ?? crypto.getRandomValues(new Uint8Array(32)),
    receiptRoot: merkleRoot([]),
    nonce: new Uint8Array(8),
  };
  const view = new DataView(header.nonce.buffer);
  for (let n = 0; ; n++) {
    view.setUint32(4, n);
    const ok = meetsTarget(blockHash(header), header.target);
    if (ok !== !!opts.badPow) return { header: { ...header, nonce: Uint8Array.from(header.nonce) }, txs };
  }
}

describe('L1 network: misbehaving peers', () => {
  it('disconnects and refuses peers sending garbage, invalid blocks or oversized floods; honest nodes carry on', async () => {
    const t = tempDir('strata-abuse-');
    dirs.push(t.cleanup);
    const config = writeNetConfig(t.dir);
    const cfg = parseChainConfig(JSON.parse(readFileSync(config, 'utf8')), defaultChainConfig());
    const a = await startNodeProcess({ name: 'a', dataDir: `${t.dir}/a`, config, mine: true });
    const b = await startNodeProcess({ name: 'b', dataDir: `${t.dir}/b`, config, mine: true, bootnodes: a.endpoints.multiaddrs });
    procs.push(a, b);
    await waitUntil(async () => (await a.height()) >= 3, 'a few blocks');
    const genesis = a.endpoints.genesis;
    // Pause mining so the forged blocks extend the real head (a block on a lighter side branch is
    // only stored, not executed, until its branch becomes the heaviest — as in Bitcoin).
    await Promise.all([a, b].map((n) => n.rpc.call('admin_setMining', ['off'])));
    await new Promise((r) => setTimeout(r, 1000));
    // Two miners stopped at once can sit on two branches of equal work, which the heaviest-work
    // rule leaves as they are (first seen wins): then a extends its branch by one block, and b
    // must follow it. Used before the attacks and after them.
    const agree = (label: string) =>
      waitUntil(
        async () => {
          if ((await a.head()).hash === (await b.head()).hash) return true;
          const h = await a.height();
          await a.rpc.call('admin_setMining', ['pow']);
          await waitUntil(async () => (await a.height()) > h, 'a to mine one more block', 15_000);
          await a.rpc.call('admin_setMining', ['off']);
          await new Promise((r) => setTimeout(r, 1000));
          return (await a.head()).hash === (await b.head()).hash;
        },
        label,
        45_000,
      );
    await agree('a and b to agree before the attacks');

    // The current head block, fetched over blocks-by-range as any peer would (right before each
    // forgery, so the forged block extends the real head and is fully executed).
    const headOf = async (p: P2PNode): Promise<Block> => {
      const headHeight = await a.height();
      const resp = await p.request(a.endpoints.peerId, PROTO_BLOCKS_RANGE, encodeRange({ start: headHeight, count: 1 }), PROTOCOL_LIMITS.blocks);
      const blk = decodeBlock(decode(BlocksCodec, resp, resp.length)[0] as Uint8Array);
      expect(blk.header.height).toBe(headHeight);
      return blk;
    };

    const signed = signTx(
      { chainId: cfg.chainId, nonce: 0, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to: keys[1]!.address, amount: 5n }) },
      keys[0]!.secretKey,
    );
    const badSig = decodeTx(encodeTx(signed));
    badSig.signature[10]! ^= 0xff;
    const attacks: { name: string; maxGossipBytes?: number; send: (p: P2PNode) => Promise<void> }[] = [
      {
        name: 'garbage bytes',
        send: async (p) => {
          for (let i = 0; i < 3; i++) await p.publish(TOPIC_BLOCKS, crypto.getRandomValues(new Uint8Array(200 + i)));
        },
      },
      { name: 'bad proof of work', send: async (p) => p.publish(TOPIC_BLOCKS, encodeBlock(child(await headOf(p), [], { badPow: true }))) },
      { name: 'bad state root', send: async (p) => p.publish(TOPIC_BLOCKS, encodeBlock(child(await headOf(p), []))) },
      { name: 'bad signature', send: async (p) => p.publish(TOPIC_BLOCKS, encodeBlock(child(await headOf(p), [encodeTx(badSig)]))) },
      {
        name: 'oversized flood',
        maxGossipBytes: 3 * 1024 * 1024,
        send: async (p) => {
          for (let i = 0; i < 6; i++) {
            const big = new Uint8Array(2 * 1024 * 1024 + 100_000);
            big[0] = i;
            await p.publish(TOPIC_TXS, big);
          }
        },
      },
    ];
    for (const atk of attacks) {
      const p = await attacker(genesis, a, atk.maxGossipBytes);
      // A forged block can land on a branch that just became a side branch (a and b mine);
      // side blocks are stored unexecuted, so resend on top of the new head until punished.
      let disconnected = false;
      for (let attempt = 0; attempt < 4 && !disconnected; attempt++) {
        await atk.send(p);
        disconnected = await waitUntil(async () => !(await peerIds(a)).includes(p.peerId), `a to disconnect the peer sending ${atk.name}`, 8_000).then(
          () => true,
          () => false,
        );
      }
      expect(disconnected, `a disconnects the peer sending ${atk.name}`).toBe(true);
      // Refused for a while: a reconnection is closed again at once.
      await p.dial(a.endpoints.multiaddrs[0] as string).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      expect(await peerIds(a), `${atk.name}: reconnection refused`).not.toContain(p.peerId);
      await p.stop();
    }
    const log = readFileSync(`${t.dir}/a/a.log`, 'utf8');
    for (const reason of ['BLOCK_BAD_POW', 'BLOCK_BAD_STATE_ROOT', 'malformed block gossip', 'peer banned']) expect(log).toContain(reason);
    expect(log).toMatch(/invalid block from peer.*"reason":"BLOCK_INVALID"|"reason":"BLOCK_INVALID".*invalid block from peer/);

    // The honest nodes still mine, agree and answer RPC; they never dropped each other.
    expect(await peerIds(a)).toContain(b.endpoints.peerId);
    expect((await a.head()).hash).toBe((await b.head()).hash);
    await Promise.all([a, b].map((n) => n.rpc.call('admin_setMining', ['pow'])));
    const h1 = await a.height();
    await waitUntil(async () => (await a.height()) >= h1 + 3 && (await b.height()) >= h1 + 3, 'honest nodes to keep producing', 30_000);
    await Promise.all([a, b].map((n) => n.rpc.call('admin_setMining', ['off'])));
    await new Promise((r) => setTimeout(r, 1000));
    await agree('a and b to agree');
  }, 120_000);
});
