/**
 * Atomic swaps between two Strata chains (the L1 and the optimistic L2, either way), with the
 * adjudicator's on-chain HTLCs: the initiator locks on chain X under H = sha256(s) until T1, the
 * counterparty locks on chain Y under the same H until T2 (shorter, so the initiator must reveal
 * s first), the initiator claims on Y revealing s, the counterparty reads s from Y's preimage
 * registry and claims on X. If anyone stops, both refund after their expiries.
 */
import { bytesEqual, StrataError, toHex, type KeyPair } from '@strata/primitives';
import type { Logger } from 'pino';
import { SwapClaimArgs, SwapLockArgs, SwapRefArgs, type SwapRecord } from './adjudicator.js';
import { AdjudicatorReader, sendAndWait, type ChainClient } from './chain-client.js';
import { random32, sha256 } from './crypto.js';
import { encode } from '@strata/primitives';

/** One side of a swap. */
export interface SwapLeg {
  chain: ChainClient;
  /** Who locks on this chain. */
  payer: KeyPair;
  /** Who may claim on this chain (its address on this chain). */
  receiver: Uint8Array;
  amount: bigint;
  /** Blocks from now until the lock expires. */
  timeout: number;
}

/** Blocks the initiator's lock must outlast the counterparty's own leg by (time to see the secret and claim). */
export const SWAP_EXPIRY_MARGIN = 2;

/**
 * The counterparty's check of the initiator's lock on chain X before it locks its own funds on
 * Y: the lock exists, is still locked, pays the agreed receiver (the counterparty's address on X)
 * the agreed amount under the agreed hash, and expires at least `ownTimeout + SWAP_EXPIRY_MARGIN`
 * blocks after X's current height — else the initiator could claim on Y with the secret and
 * refund its own lock before the counterparty can claim it. Throws SWAP_FAILED naming the field.
 */
export function checkInitiatorLock(
  lock: SwapRecord | undefined,
  agreed: { hash: Uint8Array; amount: bigint; receiver: Uint8Array; heightX: number; ownTimeout: number },
): void {
  const bad = (why: string, meta: Record<string, unknown> = {}): never => {
    throw new StrataError('SWAP_FAILED', `the initiator lock is not as agreed: ${why}`, meta);
  };
  if (!lock) throw new StrataError('SWAP_FAILED', 'the initiator lock is not as agreed: no lock on chain');
  if (lock.status !== 0) bad('not locked any more', { status: lock.status });
  if (!bytesEqual(lock.hash, agreed.hash)) bad('wrong payment hash');
  if (lock.amount !== agreed.amount) bad('wrong amount', { amount: lock.amount.toString(), agreed: agreed.amount.toString() });
  if (!bytesEqual(lock.receiver, agreed.receiver)) bad('it pays someone else', { receiver: toHex(lock.receiver), agreed: toHex(agreed.receiver) });
  const need = agreed.heightX + agreed.ownTimeout + SWAP_EXPIRY_MARGIN;
  if (lock.expiry < need) bad(`it expires at ${lock.expiry}, before ${need} (our leg + margin)`, { expiry: lock.expiry, needed: need });
}

/** The outcome of a swap. */
export interface SwapOutcome {
  status: 'completed' | 'refunded';
  hash: string;
  legs: { swapId: string; status: 'claimed' | 'refunded' }[];
}

/** Drives both sides of a swap (the initiator's leg first). `stopAfter` simulates a party walking away (tests, demos). */
export async function runAtomicSwap(
  initiator: SwapLeg,
  counterparty: SwapLeg,
  opts: {
    log?: Logger;
    stopAfter?: 'initiator-locked' | 'both-locked';
    waitBlocks?: (chain: ChainClient, height: number) => Promise<void>;
    /** A dishonest initiator's lock (tests, demos): another receiver, or a shorter expiry. */
    cheat?: { receiver?: Uint8Array; timeout?: number };
  } = {},
): Promise<SwapOutcome> {
  const log = opts.log;
  const secret = random32();
  const hash = sha256(secret);
  const idX = random32();
  const idY = random32();
  const hX = await initiator.chain.height();
  const hY = await counterparty.chain.height();
  const expX = hX + initiator.timeout;
  const expY = hY + counterparty.timeout;
  if (counterparty.timeout >= initiator.timeout) throw new StrataError('SWAP_FAILED', 'the counterparty leg must expire before the initiator leg');
  const lockedX = { receiver: opts.cheat?.receiver ?? initiator.receiver, expiry: opts.cheat?.timeout !== undefined ? hX + opts.cheat.timeout : expX };
  await sendAndWait(initiator.chain, initiator.payer, 'swapLock', encode(SwapLockArgs, { swapId: idX, receiver: lockedX.receiver, hash, expiry: lockedX.expiry, amount: initiator.amount }));
  log?.info({ swapId: toHex(idX), expiry: expX }, 'swap: initiator locked');
  const wait = opts.waitBlocks ?? (async (c: ChainClient, h: number) => {
    while ((await c.height()) <= h) {
      await c.mine(1);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const refund = async (leg: SwapLeg, id: Uint8Array, exp: number) => {
    await wait(leg.chain, exp);
    await sendAndWait(leg.chain, leg.payer, 'swapRefund', encode(SwapRefArgs, { swapId: id }));
    log?.info({ swapId: toHex(id) }, 'swap: refunded');
  };
  if (opts.stopAfter === 'initiator-locked') {
    await refund(initiator, idX, expX);
    return { status: 'refunded', hash: toHex(hash), legs: [{ swapId: toHex(idX), status: 'refunded' }] };
  }
  // the counterparty checks the initiator's lock before locking its own
  const rx = new AdjudicatorReader(initiator.chain);
  const lockX = await rx.swap(idX);
  try {
    checkInitiatorLock(lockX, { hash, amount: initiator.amount, receiver: initiator.receiver, heightX: await initiator.chain.height(), ownTimeout: counterparty.timeout });
  } catch (e) {
    log?.warn({ swapId: toHex(idX), error: (e as Error).message }, 'swap: counterparty refuses to lock');
    throw e;
  }
  await sendAndWait(counterparty.chain, counterparty.payer, 'swapLock', encode(SwapLockArgs, { swapId: idY, receiver: counterparty.receiver, hash, expiry: expY, amount: counterparty.amount }));
  log?.info({ swapId: toHex(idY), expiry: expY }, 'swap: counterparty locked');
  if (opts.stopAfter === 'both-locked') {
    await refund(counterparty, idY, expY);
    await refund(initiator, idX, expX);
    return { status: 'refunded', hash: toHex(hash), legs: [{ swapId: toHex(idX), status: 'refunded' }, { swapId: toHex(idY), status: 'refunded' }] };
  }
  // the initiator claims on Y, revealing the secret there
  const claimer = { ...counterparty, payer: initiatorClaimKey(initiator, counterparty) };
  await sendAndWait(claimer.chain, claimer.payer, 'swapClaim', encode(SwapClaimArgs, { swapId: idY, preimage: secret }));
  log?.info({ swapId: toHex(idY) }, 'swap: initiator claimed, secret revealed');
  // the counterparty learns it from Y's registry and claims on X
  const seen = await new AdjudicatorReader(counterparty.chain).preimage(hash);
  if (!seen) throw new StrataError('SWAP_FAILED', 'secret not visible on the counterparty chain');
  await sendAndWait(initiator.chain, counterpartyClaimKey(initiator, counterparty), 'swapClaim', encode(SwapClaimArgs, { swapId: idX, preimage: seen.preimage }));
  log?.info({ swapId: toHex(idX) }, 'swap: counterparty claimed; swap complete');
  return { status: 'completed', hash: toHex(hash), legs: [{ swapId: toHex(idX), status: 'claimed' }, { swapId: toHex(idY), status: 'claimed' }] };
}

/** Keys that claim: whoever is each leg's receiver must hold its key; the legs carry them as `claimKey`. */
const claimKeys = new WeakMap<SwapLeg, KeyPair>();
/** Attaches the key that claims a leg (the receiver's key on that leg's chain). */
export function withClaimKey(leg: SwapLeg, key: KeyPair): SwapLeg {
  claimKeys.set(leg, key);
  return leg;
}
function initiatorClaimKey(_i: SwapLeg, c: SwapLeg): KeyPair {
  const k = claimKeys.get(c);
  if (!k) throw new StrataError('SWAP_FAILED', 'no claim key for the counterparty leg');
  return k;
}
function counterpartyClaimKey(i: SwapLeg, _c: SwapLeg): KeyPair {
  const k = claimKeys.get(i);
  if (!k) throw new StrataError('SWAP_FAILED', 'no claim key for the initiator leg');
  return k;
}
