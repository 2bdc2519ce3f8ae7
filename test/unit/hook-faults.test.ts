/**
 * A module's begin/end-block hook that throws (issue 9, review leftover): the outcome is typed
 * and deterministic. The hook's state changes and events are dropped, a `hook_failed` event
 * names the module, hook and code, and the block proceeds, with one state root on every node.
 * Before, the producer could not build a block at all (every block ran the failing hook): the
 * chain halted.
 */
import { Chain, ChainStore } from '@strata/chain';
import { initHashing, StrataError, toHex } from '@strata/primitives';
import { bankModule, encodeTx, HOOK_FAILED_EVENT, type Module, ModuleRegistry, signTx, TRANSFER_COMPUTE, verifyRawTx } from '@strata/runtime';
import { openDatabase, stateKey } from '@strata/state';
import { afterAll, describe, expect, it } from 'vitest';
import { devConfig, keys, mineOn, tempDir } from '../helpers/chain.js';

await initHashing();
const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const config = devConfig();
const alice = keys[0]!;
const ARMED = stateKey('hooky', Uint8Array.of(1));
const BEGIN_MARK = stateKey('hooky', Uint8Array.of(2));
const END_MARK = stateKey('hooky', Uint8Array.of(3));

type Fault = 'typed' | 'foreign' | 'range';
/**
 * A module whose hooks write a mark every block and, once a transaction has armed it, throw
 * after writing (a typed error, a foreign TypeError, or an input-dependent RangeError).
 */
function hooky(fault: Fault, where: 'beginBlock' | 'endBlock'): Module {
  const boom = () => {
    if (fault === 'typed') throw new StrataError('TX_EXECUTION_FAILED', 'hook refuses this state');
    if (fault === 'range') return 1n / BigInt(0);
    throw new TypeError('a module bug: cannot read properties of undefined');
  };
  return {
    name: 'hooky',
    methods: {
      arm: (ctx) => ctx.view.put(ARMED, Uint8Array.of(1)),
    },
    beginBlock(ctx) {
      ctx.view.put(BEGIN_MARK, Uint8Array.of(ctx.block.height));
      ctx.emit('hooky', 'began', { height: ctx.block.height });
      if (where === 'beginBlock' && ctx.view.get(ARMED)) boom();
    },
    endBlock(ctx) {
      ctx.view.put(END_MARK, Uint8Array.of(ctx.block.height));
      ctx.emit('hooky', 'ended', { height: ctx.block.height });
      if (where === 'endBlock' && ctx.view.get(ARMED)) boom();
    },
  };
}

const warnings: { obj: Record<string, unknown>; msg?: string | undefined }[] = [];
const logger = { info() {}, debug() {}, warn: (obj: object, msg?: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) };

function open(modules: Module[]): Chain {
  const t = tempDir('strata-hook-');
  const store = new ChainStore(openDatabase({ path: t.dir }));
  cleanups.push(async () => {
    await store.close();
    t.cleanup();
  });
  return Chain.open(config, new ModuleRegistry(modules), store, { logger });
}

const armTx = (nonce: number) =>
  verifyRawTx(
    encodeTx(signTx({ chainId: config.chainId, nonce, fee: 10_000n, computeLimit: TRANSFER_COMPUTE, module: 'hooky', method: 'arm', args: new Uint8Array(0) }, alice.secretKey)),
  );

const value = (c: Chain, k: Uint8Array) => c.stateReader.get(k)?.[0];

describe('a begin/end-block hook that throws', () => {
  for (const fault of ['typed', 'foreign', 'range'] as const) {
    it(`endBlock throwing (${fault}): its writes roll back, the block proceeds, a second node imports it with the same root`, () => {
      const a = open([bankModule, hooky(fault, 'endBlock')]);
      const b = open([bankModule, hooky(fault, 'endBlock')]);
      const first = mineOn(a, []);
      expect(b.importBlock(first).status).toBe('head');
      expect(value(a, END_MARK)).toBe(1);
      // The armed block: the transaction's write stays, the failing hook's write does not.
      const built = a.buildBlock([armTx(0)], { producer: keys[3]!.address, timestamp: a.head.header.timestamp + 1000 });
      expect(built.execution.result.receipts[0]?.status).toBe('ok');
      const ev = built.execution.result.events;
      expect(ev).toContainEqual({ module: 'hooky', type: HOOK_FAILED_EVENT, data: { hook: 'endBlock', code: fault === 'typed' ? 'TX_EXECUTION_FAILED' : 'INTERNAL' } });
      // The failed hook's own event is dropped with its writes; the begin hook's stays.
      expect(ev.filter((e) => e.type === 'ended')).toEqual([]);
      expect(ev.filter((e) => e.type === 'began')).toHaveLength(1);
      const block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
      expect(a.importBlock(block, { verified: built.execution.txs, execution: built.execution }).status).toBe('head');
      expect(value(a, ARMED)).toBe(1);
      expect(value(a, END_MARK)).toBe(1);
      expect(value(a, BEGIN_MARK)).toBe(2);
      warnings.length = 0;
      expect(b.importBlock(block).status).toBe('head');
      expect(toHex(b.head.header.stateRoot)).toBe(toHex(a.head.header.stateRoot));
      // The operator sees it: one warning naming the module, the hook and the code.
      expect(warnings).toMatchObject([{ obj: { height: 2, module: 'hooky', hook: 'endBlock' }, msg: expect.stringContaining('hook failed') }]);
      // And the chain keeps going with the hook failing on every later block.
      const third = mineOn(a, []);
      expect(b.importBlock(third).status).toBe('head');
      expect(a.head.meta.height).toBe(3);
      expect(value(b, BEGIN_MARK)).toBe(3);
      expect(value(b, END_MARK)).toBe(1);
    });
  }

  it('beginBlock throwing: the same, and the block its transactions are in is valid', () => {
    const a = open([bankModule, hooky('foreign', 'beginBlock')]);
    const b = open([bankModule, hooky('foreign', 'beginBlock')]);
    const armed = mineOn(a, [armTx(0)]);
    const next = mineOn(a, []);
    expect(b.importBlock(armed).status).toBe('head');
    expect(b.importBlock(next).status).toBe('head');
    expect(value(b, BEGIN_MARK)).toBe(1);
    expect(value(b, END_MARK)).toBe(2);
    expect(toHex(b.head.header.stateRoot)).toBe(toHex(a.head.header.stateRoot));
  });
});
