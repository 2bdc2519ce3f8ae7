/** The CLI's precomputed dev account addresses are the real derivation's (DEV_MNEMONIC). */
import { devAccounts } from '@strata/devnet';
import { describe, expect, it } from 'vitest';
import { DEV_ADDRESSES_HEX, devAddresses, devAddressHex } from '../../packages/cli/src/dev-addresses.js';

describe('CLI dev addresses', () => {
  it('the table equals devAccounts() of the devnet, under any prefix', async () => {
    const real = devAccounts('st', DEV_ADDRESSES_HEX.length);
    expect(DEV_ADDRESSES_HEX).toEqual(real.map((a) => a.addressHex));
    expect(await devAddresses('l2st', 10)).toEqual(devAccounts('l2st', 10).map((a) => ({ index: a.index, address: a.address })));
    expect(await devAddressHex(3)).toBe(real[3]?.addressHex);
  });

  it('past the table the addresses are derived', async () => {
    const real = devAccounts('st', 13);
    expect(await devAddressHex(12)).toBe(real[12]?.addressHex);
    expect((await devAddresses('st', 13)).map((a) => a.address)).toEqual(real.map((a) => a.address));
  });
});
