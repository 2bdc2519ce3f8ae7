/**
 * Consensus messages and their canonical encodings: proposals, votes (prevote / precommit),
 * commit certificates and double-sign evidence. Every signed digest names the sidechain's
 * chain id, the message kind, height and round (DESIGN rule 8), so a signature can never be
 * replayed on another chain, height, round or step.
 */
import {
  blake2b256Parts,
  bytesEqual,
  decode,
  encode,
  fixedBytes,
  StrataError,
  struct,
  toHex,
  uint,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';
import { BLS_SIGNATURE_LENGTH, ED_SIGNATURE_LENGTH, edSign, edVerify, type EdKey } from './crypto.js';

/** Vote kinds (as CometBFT's SignedMsgType). */
export const PREVOTE = 1;
export const PRECOMMIT = 2;
export type VoteType = typeof PREVOTE | typeof PRECOMMIT;

/** The nil block id: a vote for no block. */
export const NIL = new Uint8Array(32);

/** Whether a block id is nil. */
export function isNil(id: Uint8Array): boolean {
  return bytesEqual(id, NIL);
}

/** A signed vote. `bls` carries the BLS signature of a non-nil precommit (empty otherwise). */
export interface Vote {
  type: number;
  height: number;
  round: number;
  blockHash: Uint8Array;
  validator: number;
  signature: Uint8Array;
  bls: Uint8Array;
}

/** A signed proposal. `polRound` is the proof-of-lock round + 1 (0 = none), so it stays unsigned. */
export interface Proposal {
  height: number;
  round: number;
  polRound: number;
  block: Uint8Array;
  proposer: number;
  signature: Uint8Array;
}

/**
 * A commit certificate: more than 2/3 of the stake precommitted `blockHash` at `height` in
 * `round`. `signers` is a bitmap over the validator set; `aggregate` is the BLS aggregate of
 * their precommit signatures (all over the same digest).
 */
export interface Certificate {
  height: number;
  round: number;
  blockHash: Uint8Array;
  signers: Uint8Array;
  aggregate: Uint8Array;
}

/** Two conflicting votes by one validator for one height, round and type. */
export interface Evidence {
  a: Vote;
  b: Vote;
}

export const VoteCodec: Codec<Vote> = struct('Vote', {
  type: uint,
  height: uint,
  round: uint,
  blockHash: fixedBytes(32),
  validator: uint,
  signature: fixedBytes(ED_SIGNATURE_LENGTH),
  bls: varBytes(BLS_SIGNATURE_LENGTH),
});

/** Largest block carried in a proposal. */
export const MAX_PROPOSAL_BLOCK_BYTES = 2 * 1024 * 1024;

export const ProposalCodec: Codec<Proposal> = struct('Proposal', {
  height: uint,
  round: uint,
  polRound: uint,
  block: varBytes(MAX_PROPOSAL_BLOCK_BYTES),
  proposer: uint,
  signature: fixedBytes(ED_SIGNATURE_LENGTH),
});

/** Most validators in one set. */
export const MAX_VALIDATORS = 256;

export const CertificateCodec: Codec<Certificate> = struct('Certificate', {
  height: uint,
  round: uint,
  blockHash: fixedBytes(32),
  signers: varBytes(MAX_VALIDATORS / 8),
  aggregate: fixedBytes(BLS_SIGNATURE_LENGTH),
});

export const EvidenceCodec: Codec<Evidence> = struct('Evidence', { a: VoteCodec, b: VoteCodec });

/** A consensus message on the wire. */
export type ConsensusMessage = { kind: 'proposal'; proposal: Proposal } | { kind: 'vote'; vote: Vote };

// `seq` is not signed: it makes a re-broadcast of the same message a distinct gossip message
// (gossipsub drops exact duplicates it has seen).
const WireCodec = struct('BftWire', { kind: uint, seq: uint, body: varBytes(MAX_PROPOSAL_BLOCK_BYTES + 1024) });

/** Encodes a consensus message for gossip. */
export function encodeMessage(m: ConsensusMessage, seq = 0): Uint8Array {
  return m.kind === 'proposal'
    ? encode(WireCodec, { kind: 1, seq, body: encode(ProposalCodec, m.proposal) })
    : encode(WireCodec, { kind: 2, seq, body: encode(VoteCodec, m.vote) });
}

/** Decodes a consensus message (typed DecodeError on bad input). */
export function decodeMessage(b: Uint8Array): ConsensusMessage {
  const w = decode(WireCodec, b, MAX_PROPOSAL_BLOCK_BYTES + 2048);
  if (w.kind === 1) return { kind: 'proposal', proposal: decode(ProposalCodec, w.body, MAX_PROPOSAL_BLOCK_BYTES + 1024) };
  if (w.kind === 2) return { kind: 'vote', vote: decode(VoteCodec, w.body, 1024) };
  throw new StrataError('DECODE_INVALID', `unknown consensus message kind ${w.kind}`);
}

const VOTE_PERSONAL = utf8('strata-bft-vote!');
const PROPOSAL_PERSONAL = utf8('strata-bft-prop!');

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** The digest a vote signs (ed25519) and a precommit signs again (BLS). */
export function voteDigest(chainId: number, type: number, height: number, round: number, blockHash: Uint8Array): Uint8Array {
  return blake2b256Parts([u64(chainId), u64(type), u64(height), u64(round), blockHash], VOTE_PERSONAL);
}

/** The digest a proposal signs: it binds the block hash, not the block bytes. */
export function proposalDigest(chainId: number, height: number, round: number, polRound: number, blockHash: Uint8Array): Uint8Array {
  return blake2b256Parts([u64(chainId), u64(height), u64(round), u64(polRound), blockHash], PROPOSAL_PERSONAL);
}

/** Checks a vote's ed25519 signature against the validator's public key. */
export function verifyVoteSignature(chainId: number, v: Vote, edPub: Uint8Array): boolean {
  if (v.type !== PREVOTE && v.type !== PRECOMMIT) return false;
  return edVerify(edPub, voteDigest(chainId, v.type, v.height, v.round, v.blockHash), v.signature);
}

/** Signs a proposal with an ed25519 key (callers go through the PrivValidator for the double-sign guard). */
export function signProposalRaw(chainId: number, key: EdKey, p: Omit<Proposal, 'signature'>, blockHash: Uint8Array): Proposal {
  return { ...p, signature: edSign(key, proposalDigest(chainId, p.height, p.round, p.polRound, blockHash)) };
}

/** Checks whether two votes conflict (same validator, height, round, type; different block). */
export function votesConflict(a: Vote, b: Vote): boolean {
  return a.validator === b.validator && a.type === b.type && a.height === b.height && a.round === b.round && !bytesEqual(a.blockHash, b.blockHash);
}

/** Short description for logs. */
export function voteLabel(v: Vote): string {
  return `${v.type === PREVOTE ? 'prevote' : 'precommit'} h=${v.height} r=${v.round} v=${v.validator} ${isNil(v.blockHash) ? 'nil' : toHex(v.blockHash).slice(0, 10)}`;
}

/** Signer bitmap helpers. */
export function bitmapSet(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
}
export function bitmapHas(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

