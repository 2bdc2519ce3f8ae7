/**
 * The JSON shape of a transaction, shared by every chain's RPC (`tx_get`, blocks with full
 * transactions): hashes and bytes as 0x hex, quantities as 0x hex without leading zeros
 * (EIP-1474), addresses as bech32m with the chain's prefix.
 */
import { decode, encodeAddress, toHex, toQuantity } from '@strata/primitives';
import { TransferArgsCodec } from './bank.js';
import type { VerifiedTx } from './tx.js';

/** Where a transaction was included, if it was. */
export interface TxInclusion {
  blockHash: Uint8Array;
  height: number;
  index: number;
}

/** JSON of a transaction (with `to` and `amount` for a bank transfer). */
export function txToJson(addressPrefix: string, v: VerifiedTx, where?: TxInclusion): Record<string, unknown> {
  const t = v.tx;
  const out: Record<string, unknown> = {
    hash: toHex(v.hash),
    from: encodeAddress(addressPrefix, v.sender),
    chainId: toQuantity(t.chainId),
    nonce: toQuantity(t.nonce),
    fee: toQuantity(t.fee),
    computeLimit: toQuantity(t.computeLimit),
    module: t.module,
    method: t.method,
    args: toHex(t.args),
    signature: toHex(t.signature),
    size: toQuantity(v.bytes.length),
    blockHash: where ? toHex(where.blockHash) : null,
    blockNumber: where ? toQuantity(where.height) : null,
    index: where ? toQuantity(where.index) : null,
  };
  if (t.module === 'bank' && t.method === 'transfer') {
    try {
      const a = decode(TransferArgsCodec, t.args);
      out.to = encodeAddress(addressPrefix, a.to);
      out.amount = toQuantity(a.amount);
    } catch {
      // a malformed transfer still shows its raw args
    }
  }
  return out;
}
