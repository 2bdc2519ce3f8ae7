/**
 * Human-readable addresses: bech32m over the 20-byte address, with a prefix per layer
 * (`st` for the L1, others set by each chain's config), so an L1 address pasted into an L2
 * command is caught before any funds move.
 */
import { bech32m } from '@scure/base';
import { StrataError } from './errors.js';

/**
 * Address payload length (blake160 of the compressed public key). Defined here, not in keys.ts,
 * so that address helpers load without the key code (bip39 word list, secp256k1): the CLI's
 * client commands import only these.
 */
export const ADDRESS_LENGTH = 20;

/** Encodes 20 address bytes as bech32m with the given prefix. */
export function encodeAddress(prefix: string, address: Uint8Array): string {
  if (address.length !== ADDRESS_LENGTH) throw new StrataError('INVALID_ADDRESS', `address must be ${ADDRESS_LENGTH} bytes`);
  return bech32m.encode(prefix, bech32m.toWords(address));
}

/** Decodes a bech32m address; checks its prefix when given. */
export function decodeAddress(text: string, expectedPrefix?: string): Uint8Array {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32m.decode(text as `${string}1${string}`, 90);
  } catch (e) {
    throw new StrataError('INVALID_ADDRESS', `not a bech32m address: ${JSON.stringify(String(text).slice(0, 100))}`, {}, { cause: e });
  }
  if (expectedPrefix !== undefined && decoded.prefix !== expectedPrefix) {
    throw new StrataError('INVALID_ADDRESS', `address has prefix "${decoded.prefix}" but this chain uses "${expectedPrefix}"`, {
      expected: expectedPrefix,
      got: decoded.prefix,
    });
  }
  const bytes = bech32m.fromWords(decoded.words);
  if (bytes.length !== ADDRESS_LENGTH) throw new StrataError('INVALID_ADDRESS', `address payload must be ${ADDRESS_LENGTH} bytes`);
  return bytes;
}

/** Prefix of a bech32m address without validating the rest. */
export function addressPrefix(text: string): string {
  const i = text.lastIndexOf('1');
  return i > 0 ? text.slice(0, i) : '';
}
