/** Coin amounts: base units and their human form (used by the CLI, the devnet banner, the explorer). */

/** Base units per coin (8 decimals, as CKB's shannons). */
export const COIN = 100_000_000n;

/** Formats base units as coins with up to 8 decimals. */
export function formatCoins(units: bigint, symbol = 'STRA'): string {
  const whole = units / COIN;
  const frac = (units % COIN).toString().padStart(8, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} ${symbol}`;
}
