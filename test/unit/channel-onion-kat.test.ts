/**
 * Known answers of the Sphinx onion (onion.ts): a fixed session key, route and payment hash give
 * fixed packet and failure bytes. The vectors were made with the @noble HMAC/SHA-256/ChaCha20 the
 * onion first used; it now runs on node:crypto (OpenSSL), which must give the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { buildOnion, createFailure, peelOnion, secpPublic, sha256, wrapFailure } from '@strata/channels';
import { toHex } from '@strata/primitives';

const sk = (b: number) => new Uint8Array(32).fill(b);

describe('onion known answers', () => {
  it('packet and failure bytes are those of the @noble implementation', () => {
    const hops = [1, 2, 3].map((b, i) => ({
      key: secpPublic(sk(b)),
      payload: { next: i < 2 ? new Uint8Array(32).fill(10 + i) : new Uint8Array(0), amount: 1000n - BigInt(i), expiry: 100 - i * 6, secret: i === 2 ? new Uint8Array(32).fill(7) : new Uint8Array(0), total: i === 2 ? 998n : 0n },
    }));
    const hash = new Uint8Array(32).fill(5);
    const { packet, secrets } = buildOnion(hops, hash, sk(9));
    expect(toHex(sha256(packet))).toBe('0x8e71e65a2862566c0d65d672409a6eede06d77d7e1e110df469b8ffc5c057f71');
    const f = wrapFailure(secrets[0]!, createFailure(secrets[2]!, { code: 0x400f, data: new Uint8Array(0) }));
    expect(toHex(sha256(f))).toBe('0xb12cf68d12bd7fde0fab677e47cf5264d87ede8fef83af4f34ceb80f62de6c6a');
    const first = peelOnion(packet, sk(1), hash);
    expect(first.payload.amount).toBe(1000n);
  });
});
