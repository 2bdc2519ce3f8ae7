import { afterEach, describe, expect, it } from 'vitest';
import { blockHash, Mempool, merkleRoot, type Block } from '@strata/chain';
import { initHashing, toHex } from '@strata/primitives';
import { bankModule, getAccount, ModuleRegistry } from '@strata/runtime';
import { devConfig, keys, mineOn, openChain, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function fresh(overrides: Record<string, unknown> = {}) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const cfg = devConfig(overrides);
  return { cfg, ...openChain(cfg, t.dir), dir: t.dir };
}

const [alice, bob, carol] = keys as [typeof keys[0], typeof keys[0], typeof keys[0]];

describe('chain', () => {
  it('applies transfers, pays fees to the producer and persists across reopen', () => {
    const { cfg, chain, store, dir } = fresh();
    const before = chain.account(alice.address).balance;
    mineOn(chain, [transferTx(cfg, alice, bob.address, 500n, 0)]);
    expect(chain.head.meta.height).toBe(1);
    expect(chain.account(alice.address).balance).toBe(before - 500n - 10_000n);
    expect(chain.account(bob.address).balance).toBe(before + 500n);
    expect(chain.account(keys[3]!.address).balance).toBe(before + 10_000n);
    const root = chain.head.header.stateRoot;
    store.env.close();
    const again = openChain(cfg, dir);
    expect(toHex(again.chain.head.header.stateRoot)).toBe(toHex(root));
    expect(again.chain.account(bob.address).balance).toBe(before + 500n);
  });

  it('rejects a double spend and a replayed nonce; a block containing one is invalid', () => {
    const { cfg, chain } = fresh();
    const t1 = transferTx(cfg, alice, bob.address, 1n, 0);
    mineOn(chain, [t1]);
    // Replay: the same signed transaction again.
    const built = chain.buildBlock([t1], { producer: carol.address, timestamp: chain.head.header.timestamp + 1 });
    expect(built.rejected[0]?.error.code).toBe('TX_NONCE_TOO_LOW');
    // Double spend: spend more than the balance.
    const big = transferTx(cfg, bob, carol.address, 10n ** 15n, 0);
    const b2 = chain.buildBlock([big], { producer: carol.address, timestamp: chain.head.header.timestamp + 1 });
    expect(b2.execution.result.receipts[0]?.status).toBe('failed');
    expect(b2.execution.result.receipts[0]?.error?.code).toBe('TX_INSUFFICIENT_FUNDS');
    // A forged block that includes the replayed tx (with a correct tx root, so only the replay
    // is wrong) is rejected as a whole.
    const forged: Block = { header: { ...built.header, txRoot: merkleRoot([t1.hash]) }, txs: [t1.bytes] };
    expect(() => chain.importBlock(forged)).toThrow(expect.objectContaining({ code: 'BLOCK_INVALID', message: expect.stringMatching(/nonce/) }));
    expect(chain.head.meta.height).toBe(1);
  });

  it('mempool states a reason for each rejection', () => {
    const { cfg, chain } = fresh();
    const pool = new Mempool(cfg, new ModuleRegistry([bankModule]));
    const acct = (a: Uint8Array) => chain.account(a);
    const low = transferTx(cfg, alice, bob.address, 1n, 0, 1n);
    expect(() => pool.add(low, acct(alice.address))).toThrowError(/below the minimum/);
    // (was a try/catch whose assertion passed when nothing threw)
    expect(() => pool.add(low, acct(alice.address))).toThrow(expect.objectContaining({ code: 'TX_FEE_TOO_LOW' }));
    const ok = transferTx(cfg, alice, bob.address, 1n, 0, 10_000n);
    pool.add(ok, acct(alice.address));
    expect(() => pool.add(ok, acct(alice.address))).toThrowError(/already in the mempool/);
    const same = transferTx(cfg, alice, bob.address, 2n, 0, 10_500n);
    expect(() => pool.add(same, acct(alice.address))).toThrow(expect.objectContaining({ code: 'MEMPOOL_REPLACEMENT_UNDERPRICED' }));
    const bump = transferTx(cfg, alice, bob.address, 2n, 0, 11_000n);
    expect(pool.add(bump, acct(alice.address)).replaced).toBe(toHex(ok.hash));
    const far = transferTx(cfg, alice, bob.address, 1n, 500, 10_000n);
    expect(() => pool.add(far, acct(alice.address))).toThrow(expect.objectContaining({ code: 'TX_NONCE_TOO_HIGH' }));
    // Selection respects nonce order and fee priority.
    pool.add(transferTx(cfg, alice, bob.address, 1n, 1, 10_000n), acct(alice.address));
    pool.add(transferTx(cfg, bob, alice.address, 1n, 0, 50_000n), acct(bob.address));
    const sel = pool.select({ maxBytes: 1e6, maxCompute: 1e7 }, acct);
    expect(sel.map((t) => [toHex(t.sender), t.tx.nonce])).toEqual([
      [toHex(bob.address), 0],
      [toHex(alice.address), 0],
      [toHex(alice.address), 1],
    ]);
  });

  it('reorgs to a heavier branch: balances follow that branch and orphaned txs come back', () => {
    const a = fresh();
    const b = fresh();
    // Common prefix.
    const p1 = mineOn(a.chain, [transferTx(a.cfg, alice, bob.address, 7n, 0)]);
    b.chain.importBlock(p1);
    // Branch A: one block paying carol. Branch B: two blocks paying bob.
    const toCarol = transferTx(a.cfg, alice, carol.address, 1000n, 1);
    const a2 = mineOn(a.chain, [toCarol], undefined, alice.address);
    const b2 = mineOn(b.chain, [transferTx(b.cfg, bob, alice.address, 5n, 0)], p1.header.timestamp + 500);
    const b3 = mineOn(b.chain, [], p1.header.timestamp + 900);
    expect(toHex(a.chain.head.hash)).toBe(toHex(blockHash(a2.header)));
    const r1 = a.chain.importBlock(b2);
    expect(r1.status).toBe('side');
    const r2 = a.chain.importBlock(b3);
    expect(r2.status).toBe('reorg');
    expect(r2.reorg?.depth).toBe(1);
    expect(r2.reorg?.orphaned.map((t) => toHex(t.hash))).toEqual([toHex(toCarol.hash)]);
    expect(toHex(a.chain.head.header.stateRoot)).toBe(toHex(b.chain.head.header.stateRoot));
    for (const k of keys) expect(a.chain.account(k.address)).toEqual(b.chain.account(k.address));
    expect(getAccount(a.chain.stateReader, carol.address).balance).toBe(1_000_000_000_000n);
    expect(a.chain.lookupTx(toCarol.hash)).toBeUndefined();
  });

  it('refuses blocks with a bad state root, bad tx root or bad timestamp', () => {
    const { cfg, chain } = fresh();
    const built = chain.buildBlock([transferTx(cfg, alice, bob.address, 1n, 0)], { producer: carol.address, timestamp: chain.head.header.timestamp + 10 });
    const txs = built.execution.txs.map((t) => t.bytes);
    const bad = (patch: object) => ({ header: { ...built.header, ...patch }, txs });
    expect(() => chain.importBlock(bad({ stateRoot: new Uint8Array(32).fill(1) }))).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_STATE_ROOT' }));
    expect(() => chain.importBlock(bad({ txRoot: new Uint8Array(32).fill(1) }))).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_TX_ROOT' }));
    expect(() => chain.importBlock(bad({ timestamp: chain.head.header.timestamp }))).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_TIMESTAMP' }));
    expect(chain.head.meta.height).toBe(0);
    chain.importBlock({ header: built.header, txs });
    expect(chain.head.meta.height).toBe(1);
  });
});

describe('conservation', () => {
  it('after random blocks of transfers (some failing), balances sum to the supply; fees move, nothing is created', async () => {
    const fc = (await import('fast-check')).default;
    const { getSupply } = await import('@strata/runtime');
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.record({ from: fc.integer({ min: 0, max: 3 }), to: fc.integer({ min: 0, max: 3 }), amount: fc.bigInt({ min: 0n, max: 2_000_000_000_000n }) }), { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        (blocks) => {
          const { cfg, chain } = fresh();
          const genesisSupply = getSupply(chain.stateReader);
          expect(genesisSupply).toBe(4n * 1_000_000_000_000n);
          const nonces = [0, 0, 0, 0];
          for (const b of blocks) {
            const txs = b.map((t) => transferTx(cfg, keys[t.from]!, keys[t.to]!.address, t.amount, nonces[t.from]!++));
            const built = chain.buildBlock(txs, { producer: keys[3]!.address, timestamp: chain.head.header.timestamp + 1 });
            // A transaction that could not pay its fee is dropped; keep our nonces in step.
            for (const r of built.rejected) nonces[keys.findIndex((k) => toHex(k.address) === toHex(r.vtx.sender))]!--;
            chain.importBlock({ header: built.header, txs: built.execution.txs.map((t) => t.bytes) }, { verified: built.execution.txs });
            const sum = keys.reduce((s, k) => s + chain.account(k.address).balance, 0n);
            expect(sum).toBe(getSupply(chain.stateReader));
            expect(sum).toBe(genesisSupply);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('signature recovery', () => {
  it('the worker pool recovers the same senders as the single-thread path, reuses already-verified transactions, and names a bad one', async () => {
    const { TxVerifier } = await import('@strata/chain');
    const cfg = devConfig();
    const txs = Array.from({ length: 40 }, (_, i) => transferTx(cfg, keys[i % 3]!, keys[3]!.address, BigInt(i + 1), Math.floor(i / 3)));
    const pool = new TxVerifier(2);
    try {
      const out = await pool.verify(txs.map((t) => t.bytes));
      expect(out.map((v) => toHex(v.sender))).toEqual(txs.map((t) => toHex(t.sender)));
      // A cached entry is used as is (its signature is not recovered again).
      const marker = { ...txs[5]!, sender: new Uint8Array(20).fill(0xee) };
      const cachedRun = await pool.verify(txs.map((t) => t.bytes), undefined, (h) => (toHex(h) === toHex(txs[5]!.hash) ? marker : undefined));
      expect(toHex(cachedRun[5]!.sender)).toBe(toHex(marker.sender));
      expect(toHex(cachedRun[6]!.sender)).toBe(toHex(txs[6]!.sender));
      const bad = new Uint8Array(txs[7]!.bytes);
      bad[bad.length - 1] = 9; // recovery id out of range
      await expect(pool.verify([...txs.slice(0, 7).map((t) => t.bytes), bad, ...txs.slice(8).map((t) => t.bytes)])).rejects.toMatchObject({
        code: 'INVALID_SIGNATURE',
        meta: { index: 7 },
      });
    } finally {
      await pool.stop();
    }
  });
});
