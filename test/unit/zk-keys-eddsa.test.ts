/**
 * The ZK layer's EdDSA-Poseidon (zkCrypto: circomlibjs' BabyJubjub points, our Poseidon,
 * @noble/hashes' BLAKE-512) gives exactly circomlibjs' buildEddsa keys and signatures, and each
 * side accepts the other's, so proofs over the circuit's EdDSAPoseidonVerifier still verify.
 * (zkCrypto used to be buildEddsa itself, which also built MiMC7, MiMCSponge, a Pedersen hash and
 * a second curve: seconds of every devnet start.)
 */
import { randomBytes } from 'node:crypto';
import { buildEddsa } from 'circomlibjs';
import { describe, expect, it } from 'vitest';
import { FIELD, zkCrypto } from '@strata/zk';

interface RefEddsa {
  F: { e(x: bigint): unknown; toObject(x: unknown): bigint };
  prv2pub(prv: Uint8Array): [unknown, unknown];
  signPoseidon(prv: Uint8Array, msg: unknown): { R8: [unknown, unknown]; S: bigint };
  verifyPoseidon(msg: unknown, sig: { R8: [unknown, unknown]; S: bigint }, pub: [unknown, unknown]): boolean;
}

const field = () => BigInt(`0x${randomBytes(32).toString('hex')}`) % FIELD;

describe('zkCrypto EdDSA-Poseidon', () => {
  it('keys and signatures equal circomlibjs buildEddsa, and verify across', async () => {
    const ref = (await buildEddsa()) as RefEddsa;
    const F = ref.F;
    const zk = await zkCrypto();
    for (let i = 0; i < 6; i++) {
      const prv = new Uint8Array(randomBytes(32));
      const msg = i === 0 ? 0n : i === 1 ? FIELD - 1n : field();
      const key = zk.keyFromPrivate(prv);
      const [rx, ry] = ref.prv2pub(prv);
      expect([key.ax, key.ay]).toEqual([F.toObject(rx), F.toObject(ry)]);
      const ours = zk.sign(key, msg);
      const theirs = ref.signPoseidon(prv, F.e(msg));
      expect(ours).toEqual({ r8x: F.toObject(theirs.R8[0]), r8y: F.toObject(theirs.R8[1]), s: theirs.S });
      expect(zk.verify(msg, ours, key.ax, key.ay)).toBe(true);
      expect(ref.verifyPoseidon(F.e(msg), { R8: [F.e(ours.r8x), F.e(ours.r8y)], S: ours.s }, [F.e(key.ax), F.e(key.ay)])).toBe(true);
      // A changed message, scalar, point or key is refused.
      expect(zk.verify((msg + 1n) % FIELD, ours, key.ax, key.ay)).toBe(false);
      expect(zk.verify(msg, { ...ours, s: ours.s + 1n }, key.ax, key.ay)).toBe(false);
      expect(zk.verify(msg, { ...ours, r8x: (ours.r8x + 1n) % FIELD }, key.ax, key.ay)).toBe(false);
      const other = zk.keyFromPrivate(new Uint8Array(randomBytes(32)));
      expect(zk.verify(msg, ours, other.ax, other.ay)).toBe(false);
    }
  }, 60_000);
});
