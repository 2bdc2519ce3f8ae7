// bech32m (BIP 350) encoding of 20-byte addresses, so the page prints every address as the chains
// do (st1… on the L1, sl1… on the rollup) even where an RPC answers with 0x hex.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32M = 0x2bc830a3;

function polymod(values) {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= G[i];
  }
  return chk >>> 0;
}

function toWords(bytes) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/** bech32m of `hex` (0x + 40 hex digits) with `prefix`; anything else is returned unchanged. */
export function bech32m(prefix, hex) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(hex ?? '')) return hex;
  const bytes = hex
    .slice(2)
    .match(/../g)
    .map((x) => Number.parseInt(x, 16));
  const words = toWords(bytes);
  const hrp = [...prefix].map((c) => c.charCodeAt(0));
  const values = [...hrp.map((c) => c >> 5), 0, ...hrp.map((c) => c & 31), ...words, 0, 0, 0, 0, 0, 0];
  const mod = polymod(values) ^ BECH32M;
  const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
  return `${prefix}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}
