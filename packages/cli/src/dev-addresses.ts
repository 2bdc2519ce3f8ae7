/**
 * The devnet's first dev accounts' addresses, precomputed, so that a client command given a dev
 * account index (`strata account balance 0`) does not derive keys: the derivation (bip39 seed,
 * bip32 path, secp256k1) loads about 100 ms of modules. test/unit/cli-dev-addresses.test.ts checks
 * these against the real derivation (`devAccounts` of @strata/devnet, DEV_MNEMONIC).
 * Beyond these, callers derive (see `devAddressHex`).
 */
import { encodeAddress, fromHex, StrataError, toHex } from '@strata/primitives';

/** Addresses (20 bytes, hex) of dev accounts 0–9 of DEV_MNEMONIC (path m/44'/309'/0'/0/i). */
export const DEV_ADDRESSES_HEX: readonly string[] = [
  '0xf55f519a13150562d4b45931fe7767687ead7e31',
  '0xfa2a852644ea80b5b4b14603f1a810eb35920a6b',
  '0x1ef3193edde52cf9601288a904fdf1fef303433b',
  '0x651405120ae2f7020b3c0ec9f533ce2c2e4e8bde',
  '0xacf8a215905316169a224849208ae3e5b54829b6',
  '0x74f9f9e8489e1161fc49667c7f9e0983803ffb52',
  '0x7801478b242fac69b6fa99f76869edcb55e577d4',
  '0x72367a1d0430d27a514109bc7a5194d4067a1385',
  '0x25ccd4af46afb347985fd163b4dad42abb2d5557',
  '0xcc4050fa207725ff24189a62838500d150633c63',
];

/** The 0x address (20 bytes) of dev account `index`: from the table when it has it, else derived. */
export async function devAddressHex(index: number): Promise<string> {
  const hex = DEV_ADDRESSES_HEX[index];
  if (hex !== undefined) return hex;
  const { deriveKeyPairs, DEV_MNEMONIC } = await import('./signing.js');
  const found = deriveKeyPairs(DEV_MNEMONIC, 1, index)[0];
  if (!found) throw new StrataError('INVALID_KEY', `no dev account ${index}`);
  return toHex(found.address);
}

/** Dev accounts 0..count-1 as `{ index, address }` (derived only past the table). */
export async function devAddresses(prefix: string, count: number): Promise<{ index: number; address: string }[]> {
  if (count <= DEV_ADDRESSES_HEX.length) return DEV_ADDRESSES_HEX.slice(0, count).map((hex, index) => ({ index, address: encodeAddress(prefix, fromHex(hex, 20)) }));
  const { deriveKeyPairs, DEV_MNEMONIC } = await import('./signing.js');
  return deriveKeyPairs(DEV_MNEMONIC, count).map((k, index) => ({ index, address: encodeAddress(prefix, k.address) }));
}
