/**
 * Consensus guard for the import fast paths: a fixed stream of blocks (fresh recipients, repeat
 * recipients, senders paying each other, self-transfers, failing transfers, a side branch and a
 * reorg onto it) must give exactly the state and receipt roots the code gave before the fast
 * paths (the constants below were computed on the code of `d1784b5`). The stream is imported
 * from its encoded bytes through the worker pool, as a node syncs, and built by a producer.
 */
import { describe, expect, it } from 'vitest';
import { Chain, ChainStore, decodeBlock, encodeBlock, TxVerifier, type Block } from '@strata/chain';
import { blake2b256, encode, initHashing, keyPairFromSecret, toHex, type KeyPair } from '@strata/primitives';
import {
  bankModule,
  defaultChainConfig,
  encodeTx,
  ModuleRegistry,
  parseChainConfig,
  signTx,
  TRANSFER_COMPUTE,
  TransferArgsCodec,
  verifyRawTx,
  type ChainConfig,
  type VerifiedTx,
} from '@strata/runtime';
import { EMPTY_ROOT, MemoryNodeStore, openDatabase, SparseMerkleTree } from '@strata/state';
import { tempDir } from '../helpers/chain.js';

await initHashing();

const senders: KeyPair[] = Array.from({ length: 40 }, (_, i) => keyPairFromSecret(blake2b256(new Uint8Array([77, i]))));
const cfg: ChainConfig = parseChainConfig(
  { genesis: { timestamp: 1_700_000_000_000, alloc: senders.map((k, i) => ({ address: toHex(k.address), balance: String(1_000_000_000 + i) })) } },
  defaultChainConfig(),
);
const open = (dir: string): Chain => Chain.open(cfg, new ModuleRegistry([bankModule]), new ChainStore(openDatabase({ path: dir })));
const fresh = (b: number, i: number): Uint8Array => blake2b256(new Uint8Array([78, b, i])).subarray(0, 20);

/** The transactions of block `b` (nonces from `nonces`, updated). */
function txsFor(b: number, nonces: number[], salt = 0): VerifiedTx[] {
  const out: VerifiedTx[] = [];
  for (let i = 0; i < 120; i++) {
    const s = (i * 7 + b + salt) % senders.length;
    const kind = (i + b + salt) % 5;
    // 0: fresh recipient, 1: a recipient of an earlier block, 2: another sender, 3: self, 4: more than the balance (fails)
    const to = kind === 0 ? fresh(b + salt * 50, i) : kind === 1 ? fresh(Math.max(0, b - 1), i % 60) : kind === 3 ? (senders[s] as KeyPair).address : (senders[(s + 3) % senders.length] as KeyPair).address;
    const amount = kind === 4 ? 10n ** 15n : BigInt(1 + ((i * 31 + b) % 1000));
    const tx = signTx(
      { chainId: cfg.chainId, nonce: nonces[s] as number, fee: 2_000n + BigInt(i % 3), computeLimit: TRANSFER_COMPUTE, module: 'bank', method: 'transfer', args: encode(TransferArgsCodec, { to, amount }) },
      (senders[s] as KeyPair).secretKey,
    );
    nonces[s] = (nonces[s] as number) + 1;
    out.push(verifyRawTx(encodeTx(tx)));
  }
  return out;
}

function produce(dir: string): { main: Block[]; side: Block[] } {
  const chain = open(dir);
  const nonces = senders.map(() => 0);
  const main: Block[] = [];
  const mine = (b: number, txs: VerifiedTx[], producer: Uint8Array, ts: number): Block => {
    const built = chain.buildBlock(txs, { producer, timestamp: ts });
    expect(built.rejected).toEqual([]);
    const block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    void b;
    return block;
  };
  for (let b = 0; b < 5; b++) main.push(mine(b, txsFor(b, nonces), new Uint8Array(20).fill(b), cfg.genesis.timestamp + (b + 1) * 1000));
  // A heavier side branch from height 3: three blocks on block 3 (heights 4-6), other txs and producer.
  const fork = main[2] as Block;
  const sideChain = open(`${dir}-side`);
  for (const blk of main.slice(0, 3)) sideChain.importBlock(blk);
  const sideNonces = senders.map((k) => sideChain.account(k.address).nonce);
  const side: Block[] = [];
  for (let b = 0; b < 3; b++) {
    const built = sideChain.buildBlock(txsFor(b + 3, sideNonces, 1), { producer: new Uint8Array(20).fill(200 + b), timestamp: fork.header.timestamp + (b + 1) * 777 });
    const block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    sideChain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    side.push(block);
  }
  return { main, side };
}

/** State and receipt roots of the stream, as computed by the code before the fast paths. */
const EXPECTED_MAIN: [string, string][] = [
  ['0x4da163efbbd510194de87c372a8f59d7ab4013caf939e92bd322739d69ea5c19', '0x57c0462e53a752f0bae711dd5a697a1d637063398676addc0d9a4b3bfd0ae27f'],
  ['0x5ade0ca360d0c5690a4274025a000946afac213b4c2a056517e2e8b050bac99c', '0xe412077dfc67b1b2c108113f31614cd1eda0c9d6c0cd6f78c51729ed1f0b7ab1'],
  ['0xdd1a754f07330e4a8e5abfff2813b3d410018cb577d460953e6db94d6d42ffcf', '0xb33d7ddacd95b265fbdae40cfeac86f44467aaec0d556edfa472e91100145896'],
  ['0x07e8ae6c28f8bb96c55df7b29f582f8388bbc79ad19264df8b8c86cedd5dce69', '0xf29145cb978786202400b18846b7a184911a87b41c9692ffbe3f60fb78ef3bfc'],
  ['0x0e0883d9d6bf8d63ae1720714fb576aadeadcc47b150f6427a51871baefcf145', '0x14ac1cc2ffc707c0e174ec41178bd73a9a61086f5e454861f3036398a7178a06'],
];
const EXPECTED_SIDE: [string, string][] = [
  ['0x0cec3fe1e3e78230fb0abf815e67fd873221db61227bab32c8e311862da2df41', '0x16c58567eb1334eec85a1e60dd9105a7ed05df661e1d4d0ec75a70c6dcfab106'],
  ['0xcc498e7e713f603367a9b2452dcc1a1d111a8efa8e4efa5529997f19d5e0fdb1', '0x7dcaadb596a932124c467b60a255e8cd09b5947760d43893b1368af5b0652423'],
  ['0xc477ea43fbb16f98e5b1706e2cb3c93eacfb505268c98ebb31bdf55ac4626b11', '0xb63b32024be38ec20a5e60e71cfe0c3115ebb2ed1c433d38a3a1cc35adca274b'],
];
const EXPECTED_LEAVES = 239;

describe('block stream imports to the roots of the reference code', () => {
  it('same state and receipt roots from bytes through the worker pool, through a reorg, and in a fresh tree', async () => {
    const t = tempDir('strata-roots-');
    try {
      const { main, side } = produce(`${t.dir}/p`);
      const roots = (bs: Block[]) => bs.map((b) => [toHex(b.header.stateRoot), toHex(b.header.receiptRoot)]);
      if (process.env.PRINT_ROOTS) console.log(JSON.stringify({ main: roots(main), side: roots(side) }));
      expect(roots(main)).toEqual(EXPECTED_MAIN);
      expect(roots(side)).toEqual(EXPECTED_SIDE);

      // A node importing the encoded stream: recovery on the worker pool, execution checks every root.
      const node = open(`${t.dir}/n`);
      const verifier = new TxVerifier(1);
      try {
        for (const bytes of main.map(encodeBlock)) {
          const blk = decodeBlock(bytes);
          const verified = verifier.verify(blk.txs);
          verifier.help(verified);
          expect(node.importBlock(blk, { verified: await verified }).status).toBe('head');
        }
        const results = side.map((blk) => node.importBlock(decodeBlock(encodeBlock(blk))).status);
        expect(results).toEqual(['side', 'side', 'reorg']);
      } finally {
        await verifier.stop();
      }
      expect(toHex(node.head.header.stateRoot)).toBe((EXPECTED_SIDE[2] as [string, string])[0]);

      // Every account the stream touched reads the same from the flat table and from the tree,
      // and the head root rebuilt from the flat table alone in a fresh in-memory tree matches.
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (const { key, value } of node.store.state.flat.getRange()) entries.push({ key: new Uint8Array(key), value: new Uint8Array(value) });
      expect(entries.length).toBe(EXPECTED_LEAVES);
      const tree = new SparseMerkleTree(node.nodeReader);
      for (const e of entries) expect(toHex(tree.get(node.head.header.stateRoot, e.key) as Uint8Array)).toBe(toHex(e.value));
      const rebuilt = new SparseMerkleTree(new MemoryNodeStore()).update(EMPTY_ROOT, entries);
      expect(toHex(rebuilt.root)).toBe(toHex(node.head.header.stateRoot));
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
