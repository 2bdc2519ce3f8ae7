/**
 * Invoices in the BOLT 11 shape: bech32, human-readable part `ln<chain prefix><amount>`, then a
 * timestamp and tagged fields (payment hash, payment secret, expiry, description, payee key,
 * min final expiry delta) and the payee's ed25519 signature over the hrp and the data.
 *
 * Deviation from BOLT 11: amounts are plain base units (no m/u/n/p multipliers), the signature is
 * ed25519 (the payee's node key) instead of a recoverable secp256k1 signature, and the payee key is
 * always included.
 */
import { bech32 } from '@scure/base';
import { concatBytes, decode, encode, fixedBytes, StrataError, struct, toHex, uint, utf8, varBytes } from '@strata/primitives';
import { edVerifyAsync } from './crypto-pool.js';
import { edSignMsg, edVerifyMsg, type EdKey } from './crypto.js';

/** A decoded invoice. */
export interface Invoice {
  /** Chain prefix (e.g. `st` for the devnet L1, `sl` for its L2). */
  chainPrefix: string;
  /** Amount in base units (0: any amount). */
  amount: bigint;
  /** Creation time, seconds since the epoch. */
  timestamp: number;
  paymentHash: Uint8Array;
  paymentSecret: Uint8Array;
  /** Seconds after `timestamp` the invoice stays payable. */
  expiry: number;
  description: string;
  payee: Uint8Array;
  /** Blocks the final HTLC must have left before its expiry. */
  minFinalExpiry: number;
  signature: Uint8Array;
}

const BodyCodec = struct('InvoiceBody', {
  timestamp: uint,
  paymentHash: fixedBytes(32),
  paymentSecret: fixedBytes(32),
  expiry: uint,
  description: varBytes(639),
  payee: fixedBytes(32),
  minFinalExpiry: uint,
});

const hrpOf = (prefix: string, amount: bigint) => `ln${prefix}${amount > 0n ? amount.toString() : ''}`;

function body(inv: Omit<Invoice, 'signature'>): Uint8Array {
  return encode(BodyCodec, {
    timestamp: inv.timestamp,
    paymentHash: inv.paymentHash,
    paymentSecret: inv.paymentSecret,
    expiry: inv.expiry,
    description: utf8(inv.description),
    payee: inv.payee,
    minFinalExpiry: inv.minFinalExpiry,
  });
}

/** Encodes and signs an invoice with the payee's node key. */
export function encodeInvoice(inv: Omit<Invoice, 'signature' | 'payee'>, payeeKey: EdKey): string {
  if (!/^[a-z]{1,10}$/.test(inv.chainPrefix)) throw new StrataError('CHANNEL_INVOICE', 'chain prefix must be 1-10 lowercase letters');
  const full = { ...inv, payee: payeeKey.publicKey };
  const b = body(full);
  const hrp = hrpOf(inv.chainPrefix, inv.amount);
  const sig = edSignMsg(payeeKey, concatBytes(utf8(hrp), b));
  return bech32.encode(hrp, bech32.toWords(concatBytes(b, sig)), false);
}

/** Decodes an invoice and checks its signature; `expectPrefix` refuses invoices of another chain. CHANNEL_INVOICE on any fault. */
export function decodeInvoice(text: string, expectPrefix?: string): Invoice {
  const { invoice, signed } = parseInvoice(text, expectPrefix);
  if (!edVerifyMsg(invoice.payee, signed, invoice.signature)) throw badSignature();
  return invoice;
}

/**
 * {@link decodeInvoice} with the signature checked on libuv's thread pool rather than the
 * caller's event loop (a paying node checks one per payment); the same result and errors.
 */
export async function decodeInvoiceAsync(text: string, expectPrefix?: string): Promise<Invoice> {
  const { invoice, signed } = parseInvoice(text, expectPrefix);
  if (!(await edVerifyAsync(invoice.payee, signed, invoice.signature))) throw badSignature();
  return invoice;
}

const badSignature = () => new StrataError('CHANNEL_INVOICE', 'invoice signature does not verify against its payee key');

/** Decodes without checking the signature: the invoice and the bytes its signature covers. */
function parseInvoice(text: string, expectPrefix?: string): { invoice: Invoice; signed: Uint8Array } {
  let hrp: string;
  let data: Uint8Array;
  try {
    const d = bech32.decode(text.toLowerCase() as `${string}1${string}`, false);
    hrp = d.prefix;
    data = bech32.fromWords(d.words);
  } catch (e) {
    throw new StrataError('CHANNEL_INVOICE', `not a bech32 invoice: ${(e as Error).message}`);
  }
  const m = /^ln([a-z]+?)(\d*)$/.exec(hrp);
  if (!m) throw new StrataError('CHANNEL_INVOICE', `invoice prefix ${hrp} is not ln<chain><amount>`);
  const chainPrefix = m[1] as string;
  if (expectPrefix !== undefined && chainPrefix !== expectPrefix) throw new StrataError('CHANNEL_INVOICE', `invoice is for chain "${chainPrefix}", this node pays on "${expectPrefix}"`);
  if (data.length < 64) throw new StrataError('CHANNEL_INVOICE', 'invoice too short');
  const b = data.subarray(0, data.length - 64);
  const signature = data.slice(data.length - 64);
  let f: ReturnType<typeof BodyCodec.fromItem>;
  try {
    f = decode(BodyCodec, b);
  } catch (e) {
    throw new StrataError('CHANNEL_INVOICE', `invoice fields are malformed: ${(e as Error).message}`);
  }
  const amount = m[2] ? BigInt(m[2]) : 0n;
  const invoice: Invoice = {
    chainPrefix,
    amount,
    timestamp: f.timestamp,
    paymentHash: f.paymentHash,
    paymentSecret: f.paymentSecret,
    expiry: f.expiry,
    description: new TextDecoder().decode(f.description),
    payee: f.payee,
    minFinalExpiry: f.minFinalExpiry,
    signature,
  };
  return { invoice, signed: concatBytes(utf8(hrp), b) };
}

/** True when the invoice's expiry has passed at `nowSeconds`. */
export function invoiceExpired(inv: Pick<Invoice, 'timestamp' | 'expiry'>, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  return nowSeconds > inv.timestamp + inv.expiry;
}

/** JSON view of an invoice. */
export function invoiceJson(inv: Invoice): Record<string, unknown> {
  return {
    chainPrefix: inv.chainPrefix,
    amount: inv.amount.toString(),
    timestamp: inv.timestamp,
    expiry: inv.expiry,
    paymentHash: toHex(inv.paymentHash),
    description: inv.description,
    payee: toHex(inv.payee),
    minFinalExpiry: inv.minFinalExpiry,
  };
}
