import { afterEach, describe, expect, it } from 'vitest';
import { blockHash, meetsTarget, Miner, nextTarget, Mempool, type Block } from '@strata/chain';
import { bigintToFixed, bytesToBigint, initHashing, toHex } from '@strata/primitives';
import { bankModule, ModuleRegistry } from '@strata/runtime';
import { devConfig, keys, openChain, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const easy = `0x${'03'.padEnd(64, 'f')}`; // ~1 in 64 hashes

function powChain() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const cfg = devConfig({ pow: { enabled: true, initialTarget: easy, maxTarget: `0x${'f'.repeat(64)}`, retargetInterval: 4, maxAdjust: 4 }, targetBlockTimeMs: 10_000 });
  return { cfg, ...openChain(cfg, t.dir) };
}

describe('proof of work', () => {
  it('mines on a worker thread, and rejects a block whose hash misses its target', async () => {
    const { cfg, chain } = powChain();
    const miner = new Miner(5_000);
    try {
      const built = chain.buildBlock([transferTx(cfg, keys[0]!, keys[1]!.address, 1n, 0)], { producer: keys[2]!.address, timestamp: chain.head.header.timestamp + 10_000 });
      const sealed = await miner.mine(built.header);
      expect(sealed).toBeDefined();
      expect(meetsTarget(blockHash(sealed!), sealed!.target)).toBe(true);
      // Find a nonce that does NOT meet the target: the block is refused with BLOCK_BAD_POW.
      let bad = { ...built.header };
      for (let n = 0; n < 1000; n++) {
        bad = { ...built.header, nonce: bigintToFixed(BigInt(n), 8) };
        if (!meetsTarget(blockHash(bad), bad.target)) break;
      }
      const txs = built.execution.txs.map((t) => t.bytes);
      expect(() => chain.importBlock({ header: bad, txs })).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_POW' }));
      expect(chain.importBlock({ header: sealed!, txs }).status).toBe('head');
      // A wrong target is refused too, even with valid work for it.
      const b2 = chain.buildBlock([], { producer: keys[2]!.address, timestamp: chain.head.header.timestamp + 10_000 });
      const wrong = await miner.mine({ ...b2.header, target: bigintToFixed(BigInt(`0x${'f'.repeat(64)}`), 32) });
      expect(() => chain.importBlock({ header: wrong!, txs: [] })).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_TARGET' }));
    } finally {
      await miner.stop();
    }
  });

  it('retargets toward the block interval: fast blocks make the target harder, slow ones easier', async () => {
    const { chain } = powChain();
    const miner = new Miner(5_000);
    try {
      const mineWithGap = async (gap: number) => {
        const b = chain.buildBlock([], { producer: keys[2]!.address, timestamp: chain.head.header.timestamp + gap });
        const sealed = (await miner.mine(b.header))!;
        const block: Block = { header: sealed, txs: [] };
        chain.importBlock(block);
      };
      const t0 = bytesToBigint(chain.head.header.target);
      for (let i = 0; i < 9; i++) await mineWithGap(1_000); // 10x faster than the 10 s target
      const t1 = bytesToBigint(chain.head.header.target);
      expect(t1).toBeLessThan(t0);
      expect(t1).toBeGreaterThanOrEqual(t0 / 4n - 1n); // clamped by maxAdjust
      for (let i = 0; i < 4; i++) await mineWithGap(100_000); // 10x slower
      expect(bytesToBigint(chain.head.header.target)).toBeGreaterThan(t1);
    } finally {
      await miner.stop();
    }
  });

  it('nextTarget is the parent target off the retarget boundary and clamps on it', () => {
    const { cfg } = powChain();
    const t = bigintToFixed(1n << 200n, 32);
    expect(toHex(nextTarget(cfg, 5, t, 1000, 0))).toBe(toHex(t));
    const harder = bytesToBigint(nextTarget(cfg, 8, t, 1, 0));
    expect(harder).toBe((1n << 200n) / 4n);
  });
});

describe('mempool limits', () => {
  it('evicts the cheapest transaction when full, and refuses one that pays no more', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const cfg = devConfig();
    const { chain } = openChain(cfg, t.dir);
    const pool = new Mempool(cfg, new ModuleRegistry([bankModule]), { maxTxs: 3 });
    const acct = (a: Uint8Array) => chain.account(a);
    // Fees 11,000 / 10,000 / 12,000: the cheapest is the middle one, neither first nor last added.
    const held = [11_000n, 10_000n, 12_000n].map((fee, i) => transferTx(cfg, keys[i]!, keys[3]!.address, 1n, 0, fee));
    for (const [i, v] of held.entries()) pool.add(v, acct(keys[i]!.address));
    const cheap = transferTx(cfg, keys[3]!, keys[0]!.address, 1n, 0, 9_000n);
    expect(() => pool.add(cheap, acct(keys[3]!.address))).toThrow(expect.objectContaining({ code: 'MEMPOOL_FULL' }));
    const rich = transferTx(cfg, keys[3]!, keys[0]!.address, 1n, 0, 50_000n);
    const res = pool.add(rich, acct(keys[3]!.address));
    // Exactly the cheapest one goes; the others and the newcomer stay.
    expect(res.evicted).toBe(toHex(held[1]!.hash));
    expect(pool.size).toBe(3);
    expect(pool.has(held[1]!.hash)).toBe(false);
    expect(pool.has(held[0]!.hash)).toBe(true);
    expect(pool.has(held[2]!.hash)).toBe(true);
    expect(pool.has(rich.hash)).toBe(true);
  });
});
