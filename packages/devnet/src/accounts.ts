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

// Coin formatting lives in @strata/primitives (light enough for the CLI's client commands);
// re-exported here for the devnet's users.
export { COIN, formatCoins } from '@strata/primitives';
