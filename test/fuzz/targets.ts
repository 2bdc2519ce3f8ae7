/**
 * What the fuzzer feeds: every decoder a peer, an RPC caller or an L1 block can reach —
 * transactions, blocks, headers, RLP, addresses, every p2p message (status, ranges, headers,
 * blocks, hashes, transaction batches, peer addresses, request/response frames, varints), the
 * rollup's operations, batch payloads and compressed batches — each with valid seeds; and every
 * L1 RPC method through the real dispatcher of an in-process node. A decoder passes an input by
 * returning (and then re-encoding to the very same bytes, where it has an encoder: canonical
 * form) or by throwing a StrataError with a code; anything else is a crash.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Block, BlockCodec, blockHash, decodeBlock, decodeHeader, encodeBlock, encodeHeader, HeaderCodec } from '@strata/chain';
import { StrataNode, nodeRpcMethods } from '@strata/node';
import {
  BlocksCodec,
  decodeRange,
  decodeStatus,
  encodeRange,
  encodeStatus,
  HashesCodec,
  HeadersCodec,
  StatusCodec,
  RangeRequestCodec,
  txBatchCodec,
} from '@strata/node';
import { compressBatch, decodeBatchPayload, decodeOp, decompressBatch, encodeBatchPayload, encodeOp, PostBatchArgsCodec } from '@strata/optimistic';
import { decodeResponseFrame, decodeVarint, encodeErrorFrame, encodeFrame, encodeResponseFrame, encodeVarint, FrameReader, PeerAddrsCodec, parsePeerAddr } from '@strata/p2p';
import {
  bytesEqual,
  type Codec,
  decode,
  decodeAddress,
  decodeRlp,
  encode,
  encodeAddress,
  encodeRlp,
  initHashing,
  isStrataError,
  toHex,
} from '@strata/primitives';
import { RpcServer, SubscriptionHub } from '@strata/rpc';
import { decodeTx, defaultChainConfig, encodeTx, parseChainConfig, SignedTxCodec, signTx, TRANSFER_COMPUTE, TransferArgsCodec, verifyRawTx } from '@strata/runtime';
import { deriveKeyPairs, DEV_MNEMONIC } from '@strata/primitives';
import pino from 'pino';

/** One decoder under fuzz. `run` throws on rejection; a crash is any non-StrataError throw or a failed `check`. */
export interface ByteTarget {
  name: string;
  seeds: Uint8Array[];
  run(input: Uint8Array): void;
  /** Largest input the mutator builds (default 64 KiB). */
  maxLen?: number;
  /**
   * Inputs per process in a long run: more are split across fresh child processes (each its own
   * heap). For the brotli decoder, which keeps ~14 KB per damaged stream in Node 20.
   */
  perProcess?: number;
}

/** Whether `e` is a typed rejection: a StrataError with a code. */
export function isTyped(e: unknown): boolean {
  return isStrataError(e) && typeof e.code === 'string' && e.code.length > 0;
}

/** Thrown by a target when a decoder accepted an input it cannot re-encode to the same bytes. */
export class NonCanonical extends Error {
  override name = 'NonCanonical';
}

function roundtrip<T>(codec: Codec<T>, input: Uint8Array, value: T): void {
  const again = encode(codec, value);
  if (!bytesEqual(again, input)) throw new NonCanonical(`${codec.name ?? 'codec'} accepted ${toHex(input).slice(0, 120)} which re-encodes differently`);
}

function codecTarget<T>(name: string, codec: Codec<T>, seeds: T[], maxBytes = 1 << 20): ByteTarget {
  return {
    name,
    seeds: seeds.map((s) => encode(codec, s)),
    run: (input) => roundtrip(codec, input, decode(codec, input, maxBytes)),
  };
}

const keys = deriveKeyPairs(DEV_MNEMONIC, 3);

/** The config the fuzz targets and the RPC node use. */
export const fuzzConfig = parseChainConfig(
  {
    blockReward: '0',
    pow: { enabled: false },
    genesis: { timestamp: 1_700_000_000_000, alloc: keys.map((k) => ({ address: toHex(k.address), balance: '1000000000000' })) },
  },
  defaultChainConfig(),
);

function sampleTxs(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) =>
    encodeTx(
      signTx(
        {
          chainId: fuzzConfig.chainId,
          nonce: i,
          fee: 10_000n + BigInt(i),
          computeLimit: TRANSFER_COMPUTE,
          module: 'bank',
          method: 'transfer',
          args: encode(TransferArgsCodec, { to: (keys[1] as { address: Uint8Array }).address, amount: BigInt(i + 1) }),
        },
        (keys[i % 3] as { secretKey: Uint8Array }).secretKey,
      ),
    ),
  );
}

function sampleBlock(txs: Uint8Array[]): Block {
  return {
    header: {
      version: 1,
      chainId: fuzzConfig.chainId,
      parentHash: new Uint8Array(32).fill(1),
      height: 7,
      timestamp: 1_700_000_007_000,
      txRoot: new Uint8Array(32).fill(2),
      stateRoot: new Uint8Array(32).fill(3),
      receiptRoot: new Uint8Array(32).fill(4),
      target: new Uint8Array(32).fill(0xff),
      producer: new Uint8Array(20).fill(5),
      extra: Uint8Array.of(1, 2, 3),
      nonce: new Uint8Array(8).fill(6),
    },
    txs,
  };
}

/** Every byte-level decoder target. */
export async function byteTargets(): Promise<ByteTarget[]> {
  await initHashing();
  const txs = sampleTxs(6);
  const block = sampleBlock(txs.slice(0, 3));
  const header = block.header;
  const status = { genesis: new Uint8Array(32).fill(9), headHash: blockHash(header), headHeight: 7, totalWork: 123456789n, finalizedHeight: 1 };
  const batchCodec = txBatchCodec(fuzzConfig.maxTxBytes);
  const pid = '12D3KooWRBhwfeP2Y7TCx1Q1X4ZmXqu8ARxGyLxRbEB8NuYbB4GS';
  const addrs = [`/ip4/127.0.0.1/tcp/30333/p2p/${pid}`, `/ip6/::1/tcp/1/p2p/${pid}`, `/dns4/example.org/tcp/4001/p2p/${pid}`];
  const transfer = encodeOp({ kind: 'transfer', nonce: 3, fee: 100n, to: { index: 2 }, amount: 55n, signature: new Uint8Array(65).fill(7) });
  const transferAddr = encodeOp({ kind: 'transfer', nonce: 0, fee: 1n, to: { address: new Uint8Array(20).fill(8) }, amount: 1n << 100n, signature: new Uint8Array(65).fill(9) });
  const rawOp = encodeOp({ kind: 'tx', raw: txs[0] as Uint8Array });
  const ops = [
    transfer,
    transferAddr,
    rawOp,
    encodeOp({ kind: 'deposit', depositId: 4, from: new Uint8Array(20).fill(1), to: new Uint8Array(20).fill(2), amount: 10n }),
    encodeOp({ kind: 'forced', queueIndex: 1, from: new Uint8Array(20).fill(3), raw: txs[1] as Uint8Array }),
    encodeOp({ kind: 'l1info', height: 300 }),
    encodeOp({
      kind: 'tokenDeposit',
      depositId: 2,
      from: new Uint8Array(20).fill(4),
      to: new Uint8Array(20).fill(5),
      parentToken: new Uint8Array(32).fill(6),
      originChainId: 1,
      originId: new Uint8Array(32).fill(7),
      symbol: 'TOK',
      decimals: 18,
      amount: 1000n,
    }),
  ];
  const payloads = [
    encodeBatchPayload([{ timestamp: 1_700_000_000_000, delayedReads: 0, ops: [transfer, rawOp] }]),
    encodeBatchPayload([
      { timestamp: 1_700_000_000_000, delayedReads: 1, ops: [transferAddr] },
      { timestamp: 1_700_000_001_000, delayedReads: 0, ops: [transfer, transfer] },
    ]),
  ];
  const frames = [encodeFrame(encodeStatus(status)), encodeFrame(new Uint8Array(0)), encodeResponseFrame(0, encodeRange({ start: 1, count: 5 })), encodeErrorFrame('NETWORK: no')];
  return [
    {
      name: 'tx (decodeTx, canonical)',
      seeds: txs,
      run: (b) => roundtrip(SignedTxCodec, b, decodeTx(b, fuzzConfig.maxTxBytes)),
    },
    {
      name: 'tx (verifyRawTx: decode + sender recovery)',
      seeds: txs,
      run: (b) => void verifyRawTx(b, fuzzConfig.maxTxBytes),
    },
    { name: 'block header', seeds: [encodeHeader(header)], run: (b) => roundtrip(HeaderCodec, b, decodeHeader(b)) },
    { name: 'block', seeds: [encodeBlock(block), encodeBlock(sampleBlock([])), encodeBlock(sampleBlock(txs))], run: (b) => roundtrip(BlockCodec, b, decodeBlock(b, 1 << 20)) },
    { name: 'rlp', seeds: [encodeRlp([Uint8Array.of(1), [Uint8Array.of(), new Uint8Array(60).fill(1)]]), encodeBlock(block)], run: (b) => void decodeRlp(b) },
    {
      name: 'address (bech32m text)',
      seeds: [encodeAddress(fuzzConfig.addressPrefix, (keys[0] as { address: Uint8Array }).address)].map((s) => new TextEncoder().encode(s)),
      maxLen: 200,
      run: (b) => void decodeAddress(new TextDecoder().decode(b), fuzzConfig.addressPrefix),
    },
    { name: 'p2p status/1', seeds: [encodeStatus(status)], run: (b) => roundtrip(StatusCodec, b, decodeStatus(b)) },
    { name: 'p2p range request', seeds: [encodeRange({ start: 0, count: 1024 }), encodeRange({ start: 5000, count: 1 })], run: (b) => roundtrip(RangeRequestCodec, b, decodeRange(b)) },
    codecTarget('p2p headers-by-range/1 response', HeadersCodec, [[encodeHeader(header), encodeHeader({ ...header, height: 8 })]]),
    codecTarget('p2p blocks response', BlocksCodec, [[encodeBlock(block), encodeBlock(sampleBlock([]))]], 1 << 22),
    codecTarget('p2p blocks-by-hash/1 request', HashesCodec, [[new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]]),
    codecTarget('p2p tx batch (gossip txs, mempool/1)', batchCodec, [txs, txs.slice(0, 1)], 1 << 22),
    {
      name: 'p2p peers/1 response',
      seeds: [encode(PeerAddrsCodec, addrs)],
      run: (b) => {
        const list = decode(PeerAddrsCodec, b, 1 << 16);
        roundtrip(PeerAddrsCodec, b, list);
        for (const a of list) {
          try {
            parsePeerAddr(a);
          } catch (e) {
            if (!isTyped(e)) throw e;
          }
        }
      },
    },
    { name: 'p2p multiaddr (peer exchange entry)', seeds: addrs.map((a) => new TextEncoder().encode(a)), maxLen: 300, run: (b) => void parsePeerAddr(new TextDecoder().decode(b)) },
    {
      name: 'p2p request/response frame (FrameReader + status byte)',
      seeds: frames,
      run: (b) => {
        const reader = new FrameReader(1024);
        const cut = b.length > 2 ? 1 + (b[0] as number) % (b.length - 1) : b.length;
        let frame = reader.push(b.subarray(0, cut));
        if (frame === null && cut < b.length) frame = reader.push(b.subarray(cut));
        if (frame !== null) decodeResponseFrame(frame, 512);
      },
    },
    {
      name: 'p2p varint',
      seeds: [encodeVarint(0), encodeVarint(127), encodeVarint(128), encodeVarint(2 ** 34)],
      maxLen: 16,
      run: (b) => {
        const v = decodeVarint(b);
        if (v !== null && !bytesEqual(encodeVarint(v.value), b.subarray(0, v.bytes))) throw new NonCanonical(`varint ${toHex(b)} accepted non-canonically`);
      },
    },
    {
      name: 'rollup op',
      seeds: ops,
      run: (b) => {
        const op = decodeOp(b);
        if (!bytesEqual(encodeOp(op), b)) throw new NonCanonical(`op ${toHex(b).slice(0, 120)} re-encodes differently`);
      },
    },
    { name: 'rollup batch payload', seeds: payloads, run: (b) => void decodeBatchPayload(b, 20_000) },
    {
      name: 'rollup compressed batch (brotli, capped) + payload',
      seeds: payloads.map(compressBatch),
      maxLen: 4096,
      perProcess: 50_000,
      run: (b) => void decodeBatchPayload(decompressBatch(b, 1 << 20), 20_000),
    },
    codecTarget('rollup postBatch args', PostBatchArgsCodec, [{ rollupId: 1, firstBlock: 3, data: compressBatch(payloads[0] as Uint8Array) }]),
  ];
}

/** An RPC method under fuzz: valid seed params for it. */
export interface RpcTarget {
  method: string;
  seeds: unknown[][];
}

/** An in-process node whose RPC dispatcher the fuzzer calls (no sockets: the same handlers). */
export interface RpcHarness {
  targets: RpcTarget[];
  /** Handles one body as an authorized WebSocket caller would (so admin and subscription methods run too). */
  call(body: string): Promise<string | undefined>;
  /** Puts the node back in dev sealing with no block timer (a fuzzed admin_setMining or dev_setBlockInterval may have changed them), so every method's run starts alike. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts a dev node with a few blocks and transactions and its full RPC method table. Calls go
 * through the dispatcher in-process (the HTTP path minus the socket) or, with `http`, over a
 * real HTTP server on 127.0.0.1 (port 0), with the admin token, on one keep-alive connection.
 */
export async function rpcHarness(opts: { http?: boolean } = {}): Promise<RpcHarness> {
  await initHashing();
  // A RAM disk where there is one: a million calls commit many lmdb transactions (dev_mine,
  // net_importBlock, dev_revert …), and the fsync of each would otherwise be most of the run.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'strata-fuzz-rpc-'));
  const logger = pino({ level: 'silent' }, pino.destination({ dest: '/dev/null', sync: true }));
  const node = await StrataNode.create({ dataDir: dir, config: fuzzConfig, mining: 'dev', blockTimeMs: 0, verifierThreads: 0 }, { logger });
  await node.start();
  const txs = sampleTxs(4);
  for (const t of txs.slice(0, 3)) node.submitTx(t);
  await node.mineBlocks(2);
  const adminToken = 'fuzz-admin-token';
  // Over HTTP the per-connection call budget would answer most of the run -32005: lifted here.
  // The node's own handler timeout (30 s): a fuzzed dev_mine of 10,000 blocks may take seconds on a loaded machine.
  const server = new RpcServer({ port: 0, adminToken, maxCallsPerSecond: 1_000_000_000 });
  const hub = new SubscriptionHub();
  const methods = nodeRpcMethods(node, hub);
  server.registerAll(methods);
  const closers: (() => void)[] = [];
  const ctx = { transport: 'ws' as const, authorized: true, notify: () => undefined, onClose: (fn: () => void) => void closers.push(fn) };
  const head = node.chain.head;
  const headHash = toHex(head.hash);
  const txHash = toHex(verifyRawTx(txs[0] as Uint8Array).hash);
  const addr = encodeAddress(fuzzConfig.addressPrefix, (keys[0] as { address: Uint8Array }).address);
  const blockHex = toHex(encodeBlock({ header: head.header, txs: node.chain.store.getBody(head.hash) ?? [] }));
  const pid = '12D3KooWRBhwfeP2Y7TCx1Q1X4ZmXqu8ARxGyLxRbEB8NuYbB4GS';
  const seeds: Record<string, unknown[][]> = {
    chain_getHead: [[]],
    chain_getBlockByNumber: [['0x1', true], ['latest', false], ['finalized']],
    chain_getBlockByHash: [[headHash, true], [headHash]],
    chain_getConfig: [[]],
    chain_subscribe: [['newHeads']],
    chain_unsubscribe: [['0x1']],
    tx_sendRaw: [[toHex(txs[3] as Uint8Array)]],
    tx_get: [[txHash]],
    tx_getReceipt: [[txHash]],
    tx_estimateFee: [['0xa0', '0x5208'], ['0x100'], []],
    state_getAccount: [[addr], [addr, 'latest']],
    state_getProof: [[addr], [addr, '0x1']],
    mempool_status: [[]],
    mempool_content: [[]],
    net_info: [[]],
    net_peers: [[]],
    net_syncStatus: [[]],
    admin_addPeer: [[`/ip4/127.0.0.1/tcp/1/p2p/${pid}`]],
    admin_disconnectPeer: [[pid]],
    admin_blockPeer: [[pid, 60]],
    admin_unblockPeer: [[pid]],
    admin_setMining: [['dev'], ['off']],
    net_importBlock: [[blockHex]],
    dev_mine: [['0x1'], []],
    dev_setBlockInterval: [[0]],
    dev_increaseTime: [[1]],
    dev_snapshot: [[]],
    dev_revert: [['0x1']],
    admin_nodeInfo: [[]],
    admin_setLogLevel: [['info']],
    admin_clearMempool: [[]],
  };
  const targets = Object.keys(methods).map((method) => ({ method, seeds: seeds[method] ?? [[]] }));
  let call = (body: string) => server.handle(body, ctx);
  if (opts.http) {
    await server.start();
    const url = server.url;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(() => agent.destroy());
    call = (body: string) =>
      new Promise<string | undefined>((resolve, reject) => {
        const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve(res.statusCode === 204 && text === '' ? undefined : text);
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
  }
  return {
    targets,
    call,
    reset: () => {
      node.setMiningMode('dev');
      node.setBlockInterval(0);
    },
    close: async () => {
      for (const c of closers.splice(0)) c();
      await server.stop();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
