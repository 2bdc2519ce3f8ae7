import { deriveKeyPairs, DEV_MNEMONIC, encodeAddress, toHex, type KeyPair } from '@strata/primitives';

/** A dev account as printed in the banner. */
export interface DevAccount {
  index: number;
  address: string;
  addressHex: string;
  secretKey: string;
  keys: KeyPair;
}

/** Derives the devnet's funded accounts from the (well-known) dev mnemonic. */
export function devAccounts(prefix: string, count = 10, mnemonic = DEV_MNEMONIC): DevAccount[] {
  return deriveKeyPairs(mnemonic, count).map((k, index) => ({
    index,
    address: encodeAddress(prefix, k.address),
    addressHex: toHex(k.address),
    secretKey: toHex(k.secretKey),
    keys: k,
  }));
}

/** Base units per coin (8 decimals, as CKB's shannons). */
export const COIN = 100_000_000n;

/** Formats base units as coins with up to 8 decimals. */
export function formatCoins(units: bigint, symbol = 'STRA'): string {
  const whole = units / COIN;
  const frac = (units % COIN).toString().padStart(8, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} ${symbol}`;
}
