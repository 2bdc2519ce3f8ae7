/**
 * The rollup's batch decoding on hostile bytes (issue 9): every rejection is a typed
 * L2_INVALID_BATCH, never a foreign exception (found by `npm run fuzz`), and each accepted
 * operation has exactly one encoding.
 */
import { decodeBatchPayload, decodeOp, encodeBatchPayload, encodeOp, OP_TOKEN_DEPOSIT } from '@strata/optimistic';
import { isStrataError } from '@strata/primitives';
import { describe, expect, it } from 'vitest';

const tokenDeposit = (symbol: string) =>
  encodeOp({
    kind: 'tokenDeposit',
    depositId: 1,
    from: new Uint8Array(20).fill(1),
    to: new Uint8Array(20).fill(2),
    parentToken: new Uint8Array(32).fill(3),
    originChainId: 7,
    originId: new Uint8Array(32).fill(4),
    symbol,
    decimals: 18,
    amount: 5n,
  });

/** The op with its symbol bytes replaced (same length). */
function withSymbolBytes(op: Uint8Array, symbol: Uint8Array): Uint8Array {
  // kind, depositId (1 byte), from, to, parentToken, originChainId (1 byte), originId, length.
  const at = 1 + 1 + 20 + 20 + 32 + 1 + 32 + 1;
  const out = op.slice();
  out.set(symbol, at);
  return out;
}

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('batch decoding on hostile bytes', () => {
  it('a token deposit whose symbol is not UTF-8 is a typed L2_INVALID_BATCH (was a TypeError), in an op and in a batch payload', () => {
    const good = tokenDeposit('TOK');
    expect(good[0]).toBe(OP_TOKEN_DEPOSIT);
    expect(decodeOp(good)).toMatchObject({ kind: 'tokenDeposit', symbol: 'TOK' });
    const bad = withSymbolBytes(good, Uint8Array.of(0xff, 0xfe, 0x80));
    const e1 = caught(() => decodeOp(bad));
    expect(isStrataError(e1) && e1.code).toBe('L2_INVALID_BATCH');
    const payload = encodeBatchPayload([{ timestamp: 1, delayedReads: 0, ops: [bad] }]);
    const e2 = caught(() => decodeBatchPayload(payload, 100));
    expect(isStrataError(e2) && e2.code).toBe('L2_INVALID_BATCH');
  });

  it('a symbol with a leading byte-order mark keeps it: one encoding per operation', () => {
    const op = tokenDeposit('\uFEFFAB');
    const back = decodeOp(op) as { symbol: string };
    expect(back.symbol).toBe('\uFEFFAB');
    expect(Buffer.from(encodeOp(decodeOp(op))).equals(Buffer.from(op))).toBe(true);
  });
});
