/**
 * Validator keys: ed25519 (node:crypto) signs every vote and proposal; BLS12-381
 * (`@chainsafe/blst`) signs precommits a second time so that a commit certificate is one
 * aggregate signature. BLS public keys are registered with a proof of possession, which
 * defeats rogue-key attacks on same-message aggregation.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as edSignRaw, verify as edVerifyRaw, type KeyObject } from 'node:crypto';
import { aggregateSignatures, fastAggregateVerify, PublicKey, SecretKey, Signature, verify as blsVerifyRaw } from '@chainsafe/blst';
import { blake2b256Parts, bytesKey, StrataError, utf8 } from '@strata/primitives';

/** Length of an ed25519 public key and signature. */
export const ED_PUBKEY_LENGTH = 32;
export const ED_SIGNATURE_LENGTH = 64;
/** Compressed BLS12-381 public key (G1) and signature (G2). */
export const BLS_PUBKEY_LENGTH = 48;
export const BLS_SIGNATURE_LENGTH = 96;

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const pubCache = new Map<string, KeyObject>();

function edPublicKeyObject(pub: Uint8Array): KeyObject {
  const k = bytesKey(pub);
  let o = pubCache.get(k);
  if (!o) {
    if (pub.length !== ED_PUBKEY_LENGTH) throw new StrataError('INVALID_KEY', `ed25519 public key must be ${ED_PUBKEY_LENGTH} bytes`);
    try {
      o = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    } catch {
      throw new StrataError('INVALID_KEY', 'not an ed25519 public key');
    }
    if (pubCache.size > 10_000) pubCache.clear();
    pubCache.set(k, o);
  }
  return o;
}

/** An ed25519 key pair held as node:crypto key objects. */
export interface EdKey {
  seed: Uint8Array;
  publicKey: Uint8Array;
  privateObject: KeyObject;
}

/** Ed25519 key from a 32-byte seed. */
export function edKeyFromSeed(seed: Uint8Array): EdKey {
  if (seed.length !== 32) throw new StrataError('INVALID_KEY', 'ed25519 seed must be 32 bytes');
  const privateObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateObject).export({ format: 'der', type: 'spki' });
  return { seed, publicKey: new Uint8Array(spki.subarray(spki.length - 32)), privateObject };
}

/** Signs a message with ed25519. */
export function edSign(key: EdKey, msg: Uint8Array): Uint8Array {
  return new Uint8Array(edSignRaw(null, msg, key.privateObject));
}

/** Verifies an ed25519 signature; false for malformed keys or signatures. */
export function edVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== ED_SIGNATURE_LENGTH) return false;
  try {
    return edVerifyRaw(null, msg, edPublicKeyObject(pub), sig);
  } catch {
    return false;
  }
}

/** A BLS key pair. */
export interface BlsKey {
  secret: SecretKey;
  publicKey: Uint8Array;
}

/** BLS key from 32 bytes of input keying material. */
export function blsKeyFromSeed(ikm: Uint8Array): BlsKey {
  const secret = SecretKey.fromKeygen(ikm);
  return { secret, publicKey: secret.toPublicKey().toBytes(true) };
}

/** Signs with BLS (min-pk, standard DST). */
export function blsSign(key: BlsKey, msg: Uint8Array): Uint8Array {
  return key.secret.sign(msg).toBytes(true);
}

const blsPubCache = new Map<string, PublicKey>();

/** Parses and group-checks a compressed BLS public key (cached). */
export function blsPublicKey(pub: Uint8Array): PublicKey {
  const k = bytesKey(pub);
  let o = blsPubCache.get(k);
  if (!o) {
    if (pub.length !== BLS_PUBKEY_LENGTH) throw new StrataError('INVALID_KEY', `BLS public key must be ${BLS_PUBKEY_LENGTH} bytes`);
    try {
      o = PublicKey.fromBytes(pub, true);
    } catch {
      throw new StrataError('INVALID_KEY', 'not a valid BLS12-381 public key');
    }
    if (blsPubCache.size > 10_000) blsPubCache.clear();
    blsPubCache.set(k, o);
  }
  return o;
}

function blsSignature(sig: Uint8Array): Signature | undefined {
  if (sig.length !== BLS_SIGNATURE_LENGTH) return undefined;
  try {
    return Signature.fromBytes(sig, true, true);
  } catch {
    return undefined;
  }
}

/** Verifies one BLS signature; false for anything malformed. */
export function blsVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const s = blsSignature(sig);
  if (!s) return false;
  try {
    return blsVerifyRaw(msg, blsPublicKey(pub), s);
  } catch {
    return false;
  }
}

/** Verifies an aggregate of signatures by `pubs` over one message; false for anything malformed. */
export function blsFastAggregateVerify(pubs: Uint8Array[], msg: Uint8Array, aggregate: Uint8Array): boolean {
  if (pubs.length === 0) return false;
  const s = blsSignature(aggregate);
  if (!s) return false;
  try {
    return fastAggregateVerify(msg, pubs.map(blsPublicKey), s);
  } catch {
    return false;
  }
}

/** Aggregates compressed BLS signatures (each group-checked). */
export function blsAggregate(sigs: Uint8Array[]): Uint8Array {
  const parsed = sigs.map((s) => {
    const p = blsSignature(s);
    if (!p) throw new StrataError('INVALID_SIGNATURE', 'cannot aggregate a malformed BLS signature');
    return p;
  });
  return aggregateSignatures(parsed, false).toBytes(true);
}

const POP_PERSONAL = utf8('strata-bls-pop!!');

/** The message of a BLS proof of possession: binds the BLS key to the ed25519 identity. */
export function popMessage(blsPub: Uint8Array, edPub: Uint8Array): Uint8Array {
  return blake2b256Parts([blsPub, edPub], POP_PERSONAL);
}

/** Proof of possession of a BLS key. */
export function blsProofOfPossession(key: BlsKey, edPub: Uint8Array): Uint8Array {
  return blsSign(key, popMessage(key.publicKey, edPub));
}

/** Checks a proof of possession. */
export function verifyProofOfPossession(blsPub: Uint8Array, edPub: Uint8Array, pop: Uint8Array): boolean {
  return blsVerify(blsPub, popMessage(blsPub, edPub), pop);
}

/** 32 random bytes. */
export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
