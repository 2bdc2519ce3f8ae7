/**
 * secp256k1 recoverable signatures (65 bytes: r ‖ s ‖ recovery id, as CKB and Ethereum) and
 * key handling. The native `secp256k1` addon is used on the hot path when its prebuilt binary
 * loads; otherwise `@noble/curves` (about 20x slower) is used. Both produce identical bytes.
 */
import { createRequire } from 'node:module';
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { secp256k1 as NobleSecp } from '@noble/curves/secp256k1.js';
import { validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { StrataError } from './errors.js';
import { blake160 } from './hash.js';

interface NativeSecp {
  ecdsaSign(msg: Uint8Array, sk: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCreate(sk: Uint8Array, compressed: boolean): Uint8Array;
  privateKeyVerify(sk: Uint8Array): boolean;
}

function loadNative(): NativeSecp | undefined {
  try {
    const require = createRequire(import.meta.url);
    // bindings.js throws when no prebuilt binary matches; index.js would silently use elliptic.
    return require('secp256k1/bindings') as NativeSecp;
  } catch {
    return undefined;
  }
}

let native = loadNative();

let nobleLib: typeof NobleSecp | undefined;
/** The pure-JS backend, loaded on first use (a process with the native addon never pays for it). */
function nobleSecp(): typeof NobleSecp {
  nobleLib ??= (createRequire(import.meta.url)('@noble/curves/secp256k1.js') as { secp256k1: typeof NobleSecp }).secp256k1;
  return nobleLib;
}

/** Which secp256k1 backend is active: `native` (addon) or `noble` (pure JS). */
export function secpBackend(): 'native' | 'noble' {
  return native ? 'native' : 'noble';
}

/** Switches to the pure-JS backend (tests of the fallback; machines without the addon use it anyway). */
export function useNobleSecp256k1(): void {
  native = undefined;
}

/** Signature length: r(32) ‖ s(32) ‖ recid(1). */
export const SIGNATURE_LENGTH = 65;

/** Signs a 32-byte digest; returns r ‖ s ‖ recid (low-s). */
export function sign(digest: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (digest.length !== 32) throw new StrataError('INVALID_KEY', 'digest must be 32 bytes');
  if (native) {
    const { signature, recid } = native.ecdsaSign(digest, secretKey);
    const out = new Uint8Array(65);
    out.set(signature, 0);
    out[64] = recid;
    return out;
  }
  const s = nobleSecp().sign(digest, secretKey, { prehash: false, format: 'recovered' });
  const out = new Uint8Array(65);
  out.set(s.subarray(1), 0);
  out[64] = s[0] as number;
  return out;
}

/**
 * Recovers the compressed public key that made `signature` over `digest`. Throws
 * INVALID_SIGNATURE for malformed or non-recoverable signatures (including high-s).
 */
export function recoverPublicKey(digest: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== 65) throw new StrataError('INVALID_SIGNATURE', `signature must be 65 bytes, got ${signature.length}`);
  const recid = signature[64] as number;
  if (recid > 3) throw new StrataError('INVALID_SIGNATURE', `recovery id ${recid} out of range`);
  // Reject high-s (malleable) signatures so every signed object has one valid signature.
  if ((signature[32] as number) > 0x7f) {
    // Quick check on the top byte first; exact comparison below.
    const s = BigInt(`0x${Buffer.from(signature.subarray(32, 64)).toString('hex')}`);
    if (s > HALF_N) throw new StrataError('INVALID_SIGNATURE', 'signature has a high s value (malleable)');
  }
  try {
    if (native) return native.ecdsaRecover(signature.subarray(0, 64), recid, digest, true);
    const rec = new Uint8Array(65);
    rec[0] = recid;
    rec.set(signature.subarray(0, 64), 1);
    return nobleSecp().recoverPublicKey(rec, digest, { prehash: false });
  } catch (e) {
    throw new StrataError('INVALID_SIGNATURE', 'signature does not recover to a public key', {}, { cause: e });
  }
}

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** Compressed (33-byte) public key of a secret key. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new StrataError('INVALID_KEY', 'secret key must be 32 bytes');
  if (native) {
    if (!native.privateKeyVerify(secretKey)) throw new StrataError('INVALID_KEY', 'secret key out of range');
    return native.publicKeyCreate(secretKey, true);
  }
  return nobleSecp().getPublicKey(secretKey, true);
}

/** Address bytes (blake160 of the compressed public key), as CKB's default lock. */
export function addressOfPublicKey(publicKey: Uint8Array): Uint8Array {
  return blake160(publicKey);
}

/** Recovers the signer's 20-byte address. */
export function recoverAddress(digest: Uint8Array, signature: Uint8Array): Uint8Array {
  return addressOfPublicKey(recoverPublicKey(digest, signature));
}

/** A key pair with its address. */
export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  address: Uint8Array;
}

/** Builds a key pair from a secret key. */
export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, address: addressOfPublicKey(publicKey) };
}

/** A fresh random key pair. */
export function randomKeyPair(): KeyPair {
  for (;;) {
    const sk = new Uint8Array(randomBytes(32));
    try {
      return keyPairFromSecret(sk);
    } catch {
      // astronomically unlikely out-of-range key; draw again
    }
  }
}

/** The well-known development mnemonic (the same one anvil and hardhat use). Never use it for real funds. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

/** Derivation path prefix for Strata accounts (BIP44, coin type 309 as CKB). */
export const DERIVATION_PREFIX = "m/44'/309'/0'/0";

/** Derives `count` key pairs from a BIP39 mnemonic at m/44'/309'/0'/0/i. */
export function deriveKeyPairs(mnemonic: string, count: number, start = 0): KeyPair[] {
  if (!validateMnemonic(mnemonic, wordlist)) throw new StrataError('INVALID_KEY', 'invalid BIP39 mnemonic');
  // BIP39 seed = PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic", 2048 rounds, 64 bytes): the same
  // bytes as @scure/bip39's mnemonicToSeedSync, and BIP32 private derivation below, through
  // node:crypto and the native secp256k1 addon (the pure-JS ones cost each CLI run ~150 ms; a
  // unit test checks both against @scure/bip32).
  const seed = pbkdf2Sync(mnemonic.normalize('NFKD'), 'mnemonic', 2048, 64, 'sha512');
  let node = bip32Master(seed);
  for (const step of DERIVATION_PREFIX.split('/').slice(1)) node = bip32Child(node, step.endsWith("'") ? Number(step.slice(0, -1)) + HARDENED : Number(step));
  const out: KeyPair[] = [];
  for (let i = start; i < start + count; i++) out.push(keyPairFromSecret(bip32Child(node, i).key));
  return out;
}

const HARDENED = 0x80000000;
const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A BIP32 extended private key. */
interface Bip32Node {
  key: Uint8Array;
  chainCode: Uint8Array;
}

function bip32Master(seed: Uint8Array): Bip32Node {
  const i = createHmac('sha512', 'Bitcoin seed').update(seed).digest();
  return { key: new Uint8Array(i.subarray(0, 32)), chainCode: new Uint8Array(i.subarray(32)) };
}

/** BIP32 CKDpriv: hardened children hash the private key, normal ones the compressed public key. */
function bip32Child(parent: Bip32Node, index: number): Bip32Node {
  const data = new Uint8Array(37);
  if (index >= HARDENED) data.set(parent.key, 1);
  else data.set(publicKeyOf(parent.key), 0);
  new DataView(data.buffer).setUint32(33, index >>> 0);
  const i = createHmac('sha512', parent.chainCode).update(data).digest();
  const il = BigInt(`0x${i.subarray(0, 32).toString('hex')}`);
  const k = (il + BigInt(`0x${Buffer.from(parent.key).toString('hex')}`)) % CURVE_N;
  // Probability below 2^-127 (BIP32 says: proceed with the next index); a dev key never hits it.
  if (il >= CURVE_N || k === 0n) throw new StrataError('INVALID_KEY', `BIP32 derivation produced an invalid key at index ${index}`);
  return { key: new Uint8Array(Buffer.from(k.toString(16).padStart(64, '0'), 'hex')), chainCode: new Uint8Array(i.subarray(32)) };
}
