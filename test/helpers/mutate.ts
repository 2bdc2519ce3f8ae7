import fc from 'fast-check';

/** A few byte edits: delete (op 0), insert (op 1) or overwrite (op 2) at a position. */
export type ByteEdit = { at: number; op: number; byte: number };

/** Deletes, inserts and overwrites a few bytes. */
export const editsArb: fc.Arbitrary<ByteEdit[]> = fc.array(fc.record({ at: fc.nat(), op: fc.integer({ min: 0, max: 2 }), byte: fc.integer({ min: 0, max: 255 }) }), {
  minLength: 1,
  maxLength: 4,
});

/** `bytes` with `edits` applied (positions wrap around the current length). */
export function mutate(bytes: Uint8Array, edits: ByteEdit[]): Uint8Array {
  const m = Array.from(bytes);
  for (const e of edits) {
    const i = e.at % (m.length + 1);
    if (e.op === 0) m.splice(i, 1);
    else if (e.op === 1) m.splice(i, 0, e.byte);
    else if (i < m.length) m[i] = e.byte;
  }
  return Uint8Array.from(m);
}
