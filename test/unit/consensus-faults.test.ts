/**
 * Consensus output depends only on consensus input (DESIGN rule 9): a receipt root hashes a
 * failure's stable code, never its message text; a storage fault aborts the import (which is
 * retried) and is never recorded as a failed transaction or an invalid block. And the timestamp
 * rules: above the median of the last 11 blocks, at most a bounded drift ahead of the clock.
 */
import { type Block, Chain, ChainStore, MEDIAN_TIME_SPAN, medianTimestamp } from '@strata/chain';
import { StrataNode } from '@strata/node';
import { bytesEqual, encodeAddress, initHashing, isEngineExhaustion, StrataError, toHex } from '@strata/primitives';
import { accountKey, bankModule, encodeTx, ModuleRegistry, signTx, TRANSFER_COMPUTE, verifyRawTx, type Module } from '@strata/runtime';
import { openDatabase } from '@strata/state';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, keys, mineOn, tempDir, transferTx } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const config = devConfig();
const [alice, bob] = [keys[0]!, keys[1]!];

/** A module whose one method always fails with the given text (the code is fixed). */
function probe(text: string): Module {
  return {
    name: 'probe',
    methods: {
      fail: () => {
        throw new StrataError('TX_EXECUTION_FAILED', text);
      },
    },
  };
}

function open(modules: Module[] = [bankModule]): Chain {
  const t = tempDir('strata-cf-');
  const store = new ChainStore(openDatabase({ path: t.dir }));
  cleanups.push(async () => {
    await store.close();
    t.cleanup();
  });
  return Chain.open(config, new ModuleRegistry(modules), store);
}

function probeTx(nonce: number) {
  return verifyRawTx(
    encodeTx(signTx({ chainId: config.chainId, nonce, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'probe', method: 'fail', args: new Uint8Array(0) }, alice.secretKey)),
  );
}

/** Makes the next `times` reads of `key` from the flat state table fail as a disk would. */
function failReads(chain: Chain, key: Uint8Array, times = 1): { hits: () => number } {
  const flat = chain.store.state.flat;
  const orig = flat.get.bind(flat);
  let left = times;
  let hits = 0;
  flat.get = ((k: Uint8Array) => {
    if (left > 0 && bytesEqual(k, key)) {
      left--;
      hits++;
      throw new Error('EIO: simulated read error');
    }
    return orig(k);
  }) as typeof flat.get;
  return { hits: () => hits };
}

describe('receipts hash stable codes, not message text', () => {
  it('a node whose module words the failure differently imports the same block', () => {
    const a = open([bankModule, probe('first wording of the failure')]);
    const b = open([bankModule, probe('the failure, reworded in a later release')]);
    const block = mineOn(a, [probeTx(0)]);
    expect(a.receipts(a.head.hash)?.[0]).toMatchObject({ status: 'failed', error: { code: 'TX_EXECUTION_FAILED', message: 'first wording of the failure' } });
    // Today's receipt root hashed the message: this import failed with BLOCK_INVALID.
    expect(b.importBlock(block).status).toBe('head');
    expect(toHex(b.head.header.receiptRoot)).toBe(toHex(a.head.header.receiptRoot));
    // Each node keeps its own text beside the receipt for people.
    expect(b.receipts(b.head.hash)?.[0]?.error).toEqual({ code: 'TX_EXECUTION_FAILED', message: 'the failure, reworded in a later release' });
  });
});

describe('a storage fault is no verdict', () => {
  it('a read fault inside a transaction aborts the import; the retry imports the block with an ok receipt', () => {
    const a = open();
    const b = open();
    const block = mineOn(a, [transferTx(config, alice, bob.address, 7n, 0)]);
    const fault = failReads(b, accountKey(bob.address));
    // Today: the fault became a `failed` receipt, the state root differed, the block was "invalid".
    expect(() => b.importBlock(block)).toThrow(expect.objectContaining({ code: 'STORAGE_FAULT' }));
    expect(fault.hits()).toBe(1);
    expect(b.head.meta.height).toBe(0);
    expect(b.store.getMeta(a.head.hash)).toBeUndefined();
    expect(b.importBlock(block).status).toBe('head');
    expect(b.receipts(b.head.hash)?.[0]?.status).toBe('ok');
    expect(toHex(b.head.header.stateRoot)).toBe(toHex(a.head.header.stateRoot));
  });

  it('a fault while executing a heavier branch leaves its blocks unjudged; the next block completes the reorg', () => {
    const a = open();
    const b = open();
    mineOn(b, [], undefined, keys[2]!.address); // b's own branch: one block
    const branch = [mineOn(a, [transferTx(config, alice, bob.address, 9n, 0)]), mineOn(a, []), mineOn(a, [])];
    expect(b.importBlock(branch[0]!).status).toBe('side');
    const fault = failReads(b, accountKey(bob.address));
    // Block 2 makes a's branch heavier: the reorg executes block 1, whose read faults.
    expect(() => b.importBlock(branch[1]!)).toThrow(expect.objectContaining({ code: 'STORAGE_FAULT' }));
    expect(fault.hits()).toBe(1);
    expect(b.store.getMeta(a.blockAt(1)!.hash)?.status).toBe('stored'); // today: 'invalid' for ever
    expect(b.head.meta.height).toBe(1);
    expect(b.importBlock(branch[2]!).status).toBe('reorg');
    expect(toHex(b.head.hash)).toBe(toHex(a.head.hash));
  });

  it('a node retries a faulted network import and counts the fault, not a rejected block', async () => {
    const a = open();
    const block = mineOn(a, [transferTx(config, alice, bob.address, 3n, 0)]);
    const t = tempDir('strata-cfn-');
    const node = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger: pino({ level: 'silent' }) });
    cleanups.push(async () => {
      await node.stop();
      t.cleanup();
    });
    const fault = failReads(node.chain, accountKey(bob.address), 2);
    const res = await node.importNetworkBlock(block, 'peer');
    expect(res.status).toBe('head');
    expect(fault.hits()).toBe(2);
    expect(await node.metrics.registry.getSingleMetricAsString('strata_import_local_faults_total')).toMatch(/reason="STORAGE_FAULT"} 2/);
    expect(await node.metrics.registry.getSingleMetricAsString('strata_blocks_rejected_total')).not.toMatch(/} \d/);
    expect(node.chain.receipts(node.chain.head.hash)?.[0]?.status).toBe('ok');
  });

  it('a commit fault in a sync batch aborts the whole batch (nothing half written); the retry imports it', async () => {
    const a = open();
    const blocks: Block[] = [];
    for (let i = 0; i < 4; i++) blocks.push(mineOn(a, [transferTx(config, alice, bob.address, 1n, i)]));
    const t = tempDir('strata-cfb-');
    const node = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger: pino({ level: 'silent' }) });
    cleanups.push(async () => {
      await node.stop();
      t.cleanup();
    });
    const undo = node.chain.store.state.undo;
    const orig = undo.putSync.bind(undo);
    let calls = 0;
    undo.putSync = ((k: Uint8Array, v: Uint8Array) => {
      // The third block's undo log write fails once, after two blocks were staged in the batch.
      if (++calls === 3) throw new Error('ENOSPC: simulated full disk');
      return orig(k, v);
    }) as typeof undo.putSync;
    const res = await node.importNetworkBlocks(blocks, 'peer');
    expect(res.failure).toBeUndefined();
    expect(res.results.map((r) => r.status)).toEqual(['head', 'head', 'head', 'head']);
    expect(calls).toBe(3 + 4);
    expect(toHex(node.chain.head.hash)).toBe(toHex(a.head.hash));
    expect(toHex(node.chain.head.header.stateRoot)).toBe(toHex(a.head.header.stateRoot));
    expect(node.chain.account(bob.address)).toEqual(a.account(bob.address));
  });
});

describe('timestamps', () => {
  /** A chain of `n` blocks 1 s apart, then one stamped `ahead` ms after the last. */
  function timeline(n: number) {
    const c = open();
    const t0 = c.head.header.timestamp;
    for (let i = 1; i <= n; i++) mineOn(c, [], t0 + i * 1000);
    return { c, t0 };
  }

  it('median of the last 11', () => {
    expect(MEDIAN_TIME_SPAN).toBe(11);
    expect(medianTimestamp([5, 1, 9])).toBe(5);
    const { c, t0 } = timeline(12);
    // Blocks 2..12 are t0+2000..t0+12000: the median is block 7's time.
    expect(c.medianTimePast(c.head.header)).toBe(t0 + 7000);
  });

  it('a block below its parent but above the median is valid (one early-stamped block cannot drag time forward)', () => {
    const { c, t0 } = timeline(12);
    const other = open();
    for (let h = 1; h <= 12; h++) other.importBlock({ header: c.blockAt(h)!.header, txs: [] });
    // A miner stamps a block 10 s ahead (within the drift bound)…
    mineOn(c, [], t0 + 22_000);
    other.importBlock({ header: c.head.header, txs: [] });
    // …the next honest block is stamped by its own clock, before its parent: valid under MTP.
    const built = c.buildBlock([], { producer: keys[3]!.address, timestamp: t0 + 14_000, timestampFloor: 'median' });
    const honest = { header: built.header, txs: [] };
    c.importBlock(honest, { verified: [], execution: built.execution });
    expect(honest.header.timestamp).toBe(t0 + 14_000);
    expect(other.importBlock(honest).status).toBe('head'); // today: BLOCK_BAD_TIMESTAMP
  });

  it('a block at or below the median is refused', () => {
    const { c, t0 } = timeline(12);
    const b = open();
    for (let h = 1; h <= 11; h++) b.importBlock({ header: c.blockAt(h)!.header, txs: [] });
    const twelfth = c.blockAt(12)!;
    // Re-stamp block 12 at the median of blocks 1..11 (block 6's time): refused.
    const built = b.buildBlock([], { producer: keys[3]!.address, timestamp: 0, timestampFloor: 'median' });
    expect(built.header.timestamp).toBe(t0 + 6000 + 1); // the builder respects the consensus floor
    expect(b.buildBlock([], { producer: keys[3]!.address, timestamp: 0 }).header.timestamp).toBe(t0 + 11_000 + 1); // default: after the parent
    const atMedian = { header: { ...built.header, timestamp: t0 + 6000 }, txs: [] };
    expect(() => b.importBlock(atMedian)).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_TIMESTAMP' }));
    expect(b.importBlock({ header: twelfth.header, txs: [] }).status).toBe('head');
  });

  it('a block too far ahead of the clock is refused for now, not marked invalid, and accepted later', () => {
    const { c } = timeline(2);
    const b = open();
    for (let h = 1; h <= 2; h++) b.importBlock({ header: c.blockAt(h)!.header, txs: [] });
    const future = mineOn(c, [], c.head.header.timestamp + 60_000);
    const now = c.blockAt(2)!.header.timestamp;
    expect(() => b.importBlock(future, { now })).toThrow(expect.objectContaining({ code: 'BLOCK_BAD_TIMESTAMP' }));
    expect(b.store.getMeta(c.head.hash)).toBeUndefined();
    expect(() => b.importBlock(future, { now: future.header.timestamp - 15_001 })).toThrow(/ahead of this node's clock/);
    expect(b.importBlock(future, { now: future.header.timestamp - 15_000 }).status).toBe('head');
  });

  it('a node refuses a network block more than maxFutureMs ahead of its clock', async () => {
    const c = open();
    const block = mineOn(c, [], Date.now() + 120_000);
    const t = tempDir('strata-cft-');
    const node = await StrataNode.create({ dataDir: t.dir, config, verifierThreads: 0 }, { logger: pino({ level: 'silent' }) });
    cleanups.push(async () => {
      await node.stop();
      t.cleanup();
    });
    await expect(node.importNetworkBlock(block, 'peer')).rejects.toMatchObject({ code: 'BLOCK_BAD_TIMESTAMP' });
    node.timeOffsetMs = 110_000; // the clock catches up
    expect((await node.importNetworkBlock(block, 'peer')).status).toBe('head');
    void encodeAddress;
  });
});

describe('an engine fault in one candidate does not halt block production', () => {
  it('a transaction that exhausts the stack is left out of the block this node builds; the others go in', () => {
    const recurse = (n: number): number => recurse(n + 1) + 1;
    const deep: Module = { name: 'deep', methods: { dive: () => void recurse(0) } };
    const chain = open([bankModule, deep]);
    const bad = verifyRawTx(
      encodeTx(signTx({ chainId: config.chainId, nonce: 0, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'deep', method: 'dive', args: new Uint8Array(0) }, bob.secretKey)),
    );
    const good = transferTx(config, alice, bob.address, 5n, 0);
    // Before: buildBlock threw ENGINE_FAULT for the whole block, and since the transaction stays
    // in the pool, every later attempt did too: one transaction stopped the producer for ever.
    const built = chain.buildBlock([bad, good], { producer: alice.address, timestamp: chain.head.header.timestamp + 1000 });
    expect(built.execution.txs.map((t) => toHex(t.hash))).toEqual([toHex(good.hash)]);
    expect(built.rejected.map((r) => r.error.code)).toEqual(['ENGINE_FAULT']);
  });
});

describe('engine exhaustion: only a stack overflow (probed on this engine) is a local fault', () => {
  // Stack limits differ between machines: a stack overflow is the engine's, never the input's.
  // It is recognised by the engine's own wording, probed at load, so a V8 that rewords it
  // still agrees with itself. Every other RangeError is the input's and fails the call.
  const diveTx = () =>
    verifyRawTx(
      encodeTx(signTx({ chainId: config.chainId, nonce: 0, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'deep', method: 'dive', args: new Uint8Array(0) }, bob.secretKey)),
    );

  it('a real stack overflow from a module is an engine fault: left out of the built block, never a failed receipt', () => {
    const recurse = (n: number): number => recurse(n + 1) + 1;
    const chain = open([bankModule, { name: 'deep', methods: { dive: () => void recurse(0) } }]);
    const built = chain.buildBlock([diveTx()], { producer: alice.address, timestamp: chain.head.header.timestamp + 1000 });
    expect(built.execution.txs).toHaveLength(0);
    expect(built.rejected.map((r) => r.error.code)).toEqual(['ENGINE_FAULT']);
  });

  it("stack overflow and a failed buffer allocation are recognised by this engine's own wording (probed), not a hard-coded text", () => {
    const recurse = (n: number): number => recurse(n + 1) + 1;
    let overflow: unknown;
    try {
      recurse(0);
    } catch (e) {
      overflow = e;
    }
    expect(isEngineExhaustion(overflow)).toBe(true);
    expect(isEngineExhaustion(new RangeError('Division by zero'))).toBe(false);
    let alloc: unknown;
    try {
      void new ArrayBuffer(Number.MAX_SAFE_INTEGER);
    } catch (e) {
      alloc = e;
    }
    expect(isEngineExhaustion(alloc)).toBe(true);
    expect(isEngineExhaustion(new Error((overflow as Error).message))).toBe(false);
  });

  // Input-dependent RangeErrors are deterministic: the same on every node. Treating them as
  // engine faults let any sender make a producer drop its tx (fine) but let a block producer
  // put one in a block that every other node then refused to judge and retried for ever
  // (a consensus DoS; the fork choice kept the block as the heaviest candidate).
  const deterministic: [string, () => unknown][] = [
    ['bigint division by zero', () => 1n / (0n as bigint)],
    ['a negative bigint exponent', () => 2n ** (-1n as bigint)],
    ['a non-integer number to BigInt', () => BigInt(1.5)],
    ['an invalid array length', () => new Array(-1)],
    ['a bad toString radix', () => (255).toString(99)],
    ['an invalid typed array length', () => new Uint8Array(-1)],
    ['a negative repeat count', () => 'x'.repeat(-1)],
    ['a DataView read out of bounds', () => new DataView(new ArrayBuffer(1)).getUint32(0)],
    ['a Buffer read out of range (ERR_OUT_OF_RANGE)', () => Buffer.alloc(1).readUInt32BE(0)],
  ];
  it.each(deterministic)('a deterministic RangeError (%s) is a failed receipt, the block is built with it', (_what, fn) => {
    const chain = open([bankModule, { name: 'deep', methods: { dive: () => void fn() } }]);
    const built = chain.buildBlock([diveTx()], { producer: alice.address, timestamp: chain.head.header.timestamp + 1000 });
    expect(built.rejected).toHaveLength(0);
    expect(built.execution.result.receipts.map((r) => r.status)).toEqual(['failed']);
  });

  it('a block carrying a tx that divides by zero is imported by every node (same failed receipt), not retried for ever', () => {
    // The producer's module fails the call with the code a foreign error maps to (INTERNAL);
    // the importer's module divides by zero. Receipts hash the code only, so the roots agree.
    const producer = open([
      bankModule,
      {
        name: 'deep',
        methods: {
          dive: () => {
            throw new StrataError('INTERNAL', 'x');
          },
        },
      },
    ]);
    const block = mineOn(producer, [diveTx()]);
    const chain = open([bankModule, { name: 'deep', methods: { dive: () => void (1n / (0n as bigint)) } }]);
    expect(chain.importBlock(block).status).toBe('head');
    expect(chain.receipts(chain.head.hash)?.[0]).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
    expect(toHex(chain.head.header.receiptRoot)).toBe(toHex(producer.head.header.receiptRoot));
  });

  it('a block carrying such a transaction is not judged: the import aborts with ENGINE_FAULT, the block is not marked invalid', () => {
    // Built by a producer on which the method succeeds; imported where it overflows.
    const ok: Module = { name: 'deep', methods: { dive: () => undefined } };
    const producer = open([bankModule, ok]);
    const block = mineOn(producer, [diveTx()]);
    const recurse = (n: number): number => recurse(n + 1) + 1;
    const chain = open([bankModule, { name: 'deep', methods: { dive: () => void recurse(0) } }]);
    expect(() => chain.importBlock(block)).toThrow(expect.objectContaining({ code: 'ENGINE_FAULT' }));
    expect(chain.head.meta.height).toBe(0);
    expect(chain.store.getMeta(producer.head.hash)?.status).not.toBe('invalid');
  });
});
