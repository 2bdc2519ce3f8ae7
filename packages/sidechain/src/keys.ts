/**
 * A validator's key file: the ed25519 seed (votes, proposals), the BLS seed (certificate
 * shares) and the secp256k1 secret of its producer account on the sidechain. Kept in the
 * validator's directory with mode 0600; dev launches generate them.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fromHex, keyPairFromSecret, StrataError, toHex, type KeyPair } from '@strata/primitives';
import { blsKeyFromSeed, blsProofOfPossession, edKeyFromSeed, randomSeed, type BlsKey, type EdKey } from './crypto.js';
import type { ValidatorArg } from './registry.js';
import type { Validator } from './validator-set.js';

/** Loaded validator keys. */
export interface ValidatorKeys {
  ed: EdKey;
  bls: BlsKey;
  producer: KeyPair;
}

/** Keys from their seeds. */
export function keysFromSeeds(edSeed: Uint8Array, blsSeed: Uint8Array, producerSecret: Uint8Array): ValidatorKeys {
  return { ed: edKeyFromSeed(edSeed), bls: blsKeyFromSeed(blsSeed), producer: keyPairFromSecret(producerSecret) };
}

const blsSeeds = new WeakMap<BlsKey, Uint8Array>();

/** Fresh keys that remember their BLS seed (so they can be saved). */
export function newValidatorKeys(): ValidatorKeys {
  const blsSeed = randomSeed();
  const k = keysFromSeeds(randomSeed(), blsSeed, randomSeed());
  blsSeeds.set(k.bls, blsSeed);
  return k;
}

/** Writes a key file (mode 0600). */
export function saveValidatorKeys(path: string, k: ValidatorKeys, blsSeed?: Uint8Array): void {
  const seed = blsSeed ?? blsSeeds.get(k.bls);
  if (!seed) throw new StrataError('INVALID_KEY', 'the BLS seed of these keys is unknown; create them with newValidatorKeys');
  writeFileSync(path, `${JSON.stringify({ ed25519Seed: toHex(k.ed.seed), blsSeed: toHex(seed), producerSecret: toHex(k.producer.secretKey) }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Reads a key file. */
export function loadValidatorKeys(path: string): ValidatorKeys {
  let j: Record<string, string>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (e) {
    throw new StrataError('INVALID_KEY', `cannot read validator key file ${path}: ${(e as Error).message}`);
  }
  const blsSeed = fromHex(String(j.blsSeed), 32);
  const k = keysFromSeeds(fromHex(String(j.ed25519Seed), 32), blsSeed, fromHex(String(j.producerSecret), 32));
  blsSeeds.set(k.bls, blsSeed);
  return k;
}

/** The validator entry of these keys with a stake. */
export function validatorOf(k: ValidatorKeys, power: bigint): Validator {
  return { edPub: k.ed.publicKey, blsPub: k.bls.publicKey, producer: k.producer.address, power };
}

/** The registry argument of these keys: the validator plus a BLS proof of possession. */
export function validatorArgOf(k: ValidatorKeys, power: bigint): ValidatorArg {
  return { ...validatorOf(k, power), pop: blsProofOfPossession(k.bls, k.ed.publicKey) };
}
