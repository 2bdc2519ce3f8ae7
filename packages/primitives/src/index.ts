/**
 * @strata/primitives — the bottom of the stack: bytes and hex, canonical encoding, hashing
 * (blake2b-256 with CKB's personalization, sha256), secp256k1 recoverable signatures, HD dev
 * keys, bech32m addresses and the typed error classes every other package throws.
 */
export * from './address.js';
export * from './bytes.js';
export * from './coins.js';
export * from './encoding.js';
export * from './errors.js';
export * from './hash.js';
export * from './keys.js';
