/**
 * The channel layer's crypto: ed25519 node and channel keys through `node:crypto` with cached
 * KeyObjects (sign ~28k/s, verify ~9k/s here), sha256 payment hashes, and the secp256k1 ECDH
 * the onion needs — the native `secp256k1` addon when its binary loads (the project's hot-path
 * choice), else `@noble/curves`.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as edSign, verify as edVerify, type KeyObject, createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { StrataError, toHex } from '@strata/primitives';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An ed25519 key pair with its KeyObjects cached (the raw 32-byte seed never leaves it). */
export interface EdKey {
  /** 32-byte seed. */
  readonly secret: Uint8Array;
  /** 32-byte public key. */
  readonly publicKey: Uint8Array;
  readonly privateObject: KeyObject;
}

/** Builds an ed25519 key from a 32-byte seed. */
export function edKeyFromSecret(secret: Uint8Array): EdKey {
  if (secret.length !== 32) throw new StrataError('INVALID_KEY', 'an ed25519 secret is 32 bytes');
  const privateObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateObject).export({ format: 'der', type: 'spki' });
  return { secret: Uint8Array.from(secret), publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)), privateObject };
}

/** A fresh random ed25519 key. */
export function randomEdKey(): EdKey {
  return edKeyFromSecret(new Uint8Array(randomBytes(32)));
}

const pubCache = new Map<string, KeyObject>();

/** The cached KeyObject of a 32-byte ed25519 public key; undefined when it is not one. */
export function edPublicObject(pub: Uint8Array): KeyObject | undefined {
  if (pub.length !== 32) return undefined;
  const k = toHex(pub);
  let o = pubCache.get(k);
  if (!o) {
    try {
      o = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    } catch {
      return undefined;
    }
    if (pubCache.size > 10_000) pubCache.clear();
    pubCache.set(k, o);
  }
  return o;
}

/** Signs a message (ed25519, 64 bytes). */
export function edSignMsg(key: EdKey, msg: Uint8Array): Uint8Array {
  return new Uint8Array(edSign(null, msg, key.privateObject));
}

/** Verifies an ed25519 signature; false on any malformed input (never throws). */
export function edVerifyMsg(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  const o = edPublicObject(pub);
  if (!o) return false;
  try {
    return edVerify(null, msg, o, sig);
  } catch {
    return false;
  }
}

/** sha256 (payment hashes are sha256 of the preimage, as in Lightning). */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** sha256 through @noble/hashes (used where the onion follows BOLT 4 byte for byte). */
export function sha256Noble(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** 32 random bytes. */
export function random32(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

// ---------------------------------------------------------------- secp256k1 for the onion

interface NativeEcdh {
  ecdh(pub: Uint8Array, sk: Uint8Array): Uint8Array;
  publicKeyCreate(sk: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyTweakMul(pub: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  privateKeyTweakMul(sk: Uint8Array, tweak: Uint8Array): Uint8Array;
  publicKeyVerify(pub: Uint8Array): boolean;
}

function loadNative(): NativeEcdh | undefined {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings') as NativeEcdh;
  } catch {
    return undefined;
  }
}
let native = loadNative();

/** True while the onion's curve operations run on the native addon (not after {@link useNobleOnionCurve}). */
export function nativeOnionCurve(): boolean {
  return native !== undefined;
}

/** Switches the onion's curve operations to @noble/curves (tests of the fallback). */
export function useNobleOnionCurve(): void {
  native = undefined;
}

const N = noble.Point.Fn.ORDER;
const toScalar = (b: Uint8Array): bigint => {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
};
const fromScalar = (v: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
};

/** A fresh secp256k1 secret key. */
export function secpRandomSecret(): Uint8Array {
  return noble.utils.randomSecretKey();
}

/** Compressed public key of a secp256k1 secret. */
export function secpPublic(sk: Uint8Array): Uint8Array {
  return native ? new Uint8Array(native.publicKeyCreate(sk, true)) : noble.getPublicKey(sk, true);
}

/** BOLT 4 shared secret: sha256 of the compressed ECDH point. Throws CHANNEL_ONION on a bad point. */
export function ecdhSecret(pub: Uint8Array, sk: Uint8Array): Uint8Array {
  try {
    if (native) return new Uint8Array(native.ecdh(pub, sk));
    const p = noble.Point.fromBytes(pub).multiply(toScalar(sk));
    return sha256Noble(p.toBytes(true));
  } catch (e) {
    throw new StrataError('CHANNEL_ONION', 'onion: invalid ephemeral key', {}, { cause: e });
  }
}

/** pub · tweak (blinding of the ephemeral key). */
export function secpTweakPublic(pub: Uint8Array, tweak: Uint8Array): Uint8Array {
  try {
    if (native) return new Uint8Array(native.publicKeyTweakMul(pub, tweak, true));
    return noble.Point.fromBytes(pub).multiply(toScalar(tweak) % N).toBytes(true);
  } catch (e) {
    throw new StrataError('CHANNEL_ONION', 'onion: invalid ephemeral key', {}, { cause: e });
  }
}

/** sk · tweak mod n. */
export function secpTweakSecret(sk: Uint8Array, tweak: Uint8Array): Uint8Array {
  if (native) return new Uint8Array(native.privateKeyTweakMul(Uint8Array.from(sk), tweak));
  return fromScalar((toScalar(sk) * toScalar(tweak)) % N);
}
