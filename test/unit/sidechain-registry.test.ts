import { afterEach, describe, expect, it } from 'vitest';
import { encodeBlock, type Block } from '@strata/chain';
import { bytesEqual, decode, encode, toHex, type KeyPair } from '@strata/primitives';
import { getAccount, moduleAddress, TransferArgsCodec, type Receipt } from '@strata/runtime';
import {
  blsProofOfPossession,
  BondArgs,
  CheckpointArgs,
  checkpointArgs,
  deriveValidators,
  genesisRegistration,
  readSetChangeRecord,
  readUnbonding,
  SetChangeArgs,
  validatorOf,
  ClaimArgs,
  decodeProposedBlock,
  edSign,
  EvidenceArgs,
  isWithdrawn,
  MintArgs,
  NIL,
  newValidatorKeys,
  PREVOTE,
  readCheckpoint,
  readSidechain,
  readValidatorSet,
  RegisterArgs,
  SC_BRIDGE_MODULE,
  SC_REGISTRY_MODULE,
  ScDepositArgs,
  ScL1WithdrawArgs,
  ScWithdrawArgs,
  sidechainBondPool,
  sidechainEscrow,
  UnbondArgs,
  validatorArgOf,
  voteDigest,
  withdrawalKey,
  readWithdrawal,
  sidechainL1RpcMethods,
  evidenceComputeLimit,
  SIG_CHECK_COMPUTE,
  validatorSetLines,
  type RegistrySet,
  type Vote,
} from '@strata/sidechain';
import { l1Keys, SidechainWorld } from '../helpers/sidechain-world.js';

const alice = l1Keys[0] as KeyPair;
const bob = l1Keys[1] as KeyPair;
let world: SidechainWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function failed(r: Receipt, code: string, text: string): void {
  expect(r.status).toBe('failed');
  expect(r.error?.code).toBe(code);
  expect(r.error?.message).toContain(text);
}

function register(w: SidechainWorld, interval = 2, unbondingPeriod = 3): Receipt {
  return w.l1.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId: w.chainId, name: 'alpha', genesisHash: w.sc.chain.genesisHash, checkpointInterval: interval, unbondingPeriod, genesisSupply: w.genesisSupply, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) }), 400_000);
}

/** Mines sidechain blocks up to `height` (with optional txs in the first one). */
function scMineTo(w: SidechainWorld, height: number, first: ReturnType<SidechainWorld['sc']['tx']>[] = []): Block {
  let last: Block | undefined;
  let txs = first;
  while (w.sc.chain.head.meta.height < height) {
    last = w.sc.mine(txs).block;
    txs = [];
  }
  return last as Block;
}

function postCheckpoint(w: SidechainWorld, block: Block, signers = [0, 1, 2], tweak?: (c: ReturnType<SidechainWorld['certify']>) => void, keys?: SidechainWorld['validators']): Receipt {
  const cert = w.certify(block, signers, 0, keys);
  tweak?.(cert);
  return w.l1.send(bob, SC_REGISTRY_MODULE, 'checkpoint', checkpointArgs(w.sc.chain, w.chainId, block.header, cert), 100_000);
}

/** The sidechain producer's tx including parent set change `id` (as the engine builds it once the change is final). */
function includeChange(w: SidechainWorld, id: number) {
  const c = readSetChangeRecord(w.l1.chain.stateReader, w.chainId, id)!;
  return w.sc.tx(w.validators[0]!.producer, SC_BRIDGE_MODULE, 'setChange', encode(SetChangeArgs, { changeId: id, kind: c.kind, edPub: c.validator.edPub, blsPub: c.validator.blsPub, producer: c.validator.producer, amount: c.amount }), 10_000);
}

/** Every account that can hold coins in these tests, on both chains. */
function accounts(w: SidechainWorld): Uint8Array[] {
  return [...l1Keys.map((k) => k.address), ...w.validators.map((v) => v.producer.address), sidechainEscrow(w.chainId), sidechainBondPool(w.chainId), moduleAddress('none')];
}

function checkConservation(w: SidechainWorld, deposited: bigint, withdrawn: bigint): void {
  const l1 = w.conserved(w.l1, accounts(w));
  expect(l1.sum).toBe(l1.supply);
  // the escrow backs the whole sidechain supply: the genesis balances (locked at registration) and every deposit
  expect(w.escrow()).toBe(w.genesisSupply + deposited - withdrawn);
  const sc = w.conserved(w.sc, accounts(w));
  expect(sc.sum).toBe(sc.supply);
  const t = w.bridge();
  // sidechain supply = genesis fee balances + minted − burned
  expect(sc.supply).toBe(w.genesisSupply + t.minted - t.burned);
  expect(w.escrow()).toBeGreaterThanOrEqual(sc.supply);
  // nothing is minted that was not locked, nothing paid out that was not burned
  expect(t.minted).toBeLessThanOrEqual(deposited);
  expect(withdrawn).toBeLessThanOrEqual(t.burned);
}

describe('sc_registry on the L1', () => {
  it('registers a sidechain once; its chain id must differ from the parent and siblings; stake is bonded', () => {
    world = new SidechainWorld();
    const w = world;
    const before = getAccount(w.l1.chain.stateReader, alice.address).balance;
    expect(register(w).status).toBe('ok');
    expect(getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance).toBe(4000n);
    expect(before - getAccount(w.l1.chain.stateReader, alice.address).balance).toBeGreaterThan(4000n);
    failed(register(w), 'SC_REGISTRY', 'already registered');
    failed(w.l1.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId: 1, name: 'beta', genesisHash: new Uint8Array(32), checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: 0n, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) }), 400_000), 'SC_REGISTRY', "parent chain's own");
    failed(w.l1.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId: 77, name: 'alpha', genesisHash: new Uint8Array(32), checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: 0n, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) }), 400_000), 'SC_REGISTRY', 'name alpha is already registered');
    // a rogue BLS key without a valid proof of possession is refused
    const k = newValidatorKeys();
    const rogue = { ...validatorArgOf(k, 10n), pop: blsProofOfPossession(newValidatorKeys().bls, k.ed.publicKey) };
    failed(w.l1.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId: 78, name: 'gamma', genesisHash: new Uint8Array(32), checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: 0n, validators: [rogue], ...genesisRegistration(w.sc.chain) }), 400_000), 'SC_REGISTRY', 'proof of possession');
    expect(readSidechain(w.l1.chain.stateReader, 78)).toBeUndefined();
  });

  it('refuses an unbonding period below the finality depth, and a genesis supply the genesis state does not hold', async () => {
    world = new SidechainWorld();
    const w = world;
    const args = { chainId: w.chainId, name: 'alpha', genesisHash: w.sc.chain.genesisHash, checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: w.genesisSupply, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) };
    const send = (over: Partial<typeof args>) => w.l1.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { ...args, ...over }), 400_000);
    // unbonding 0 would let a validator leave before evidence of its last votes can land
    failed(send({ unbondingPeriod: 0 }), 'SC_REGISTRY', 'unbonding period must be at least 2');
    failed(send({ unbondingPeriod: 1 }), 'SC_REGISTRY', 'unbonding period must be at least 2');
    // an understated supply would leave validators' genesis coins unbacked in the escrow
    failed(send({ genesisSupply: w.genesisSupply - 1n }), 'SC_REGISTRY', `genesis supply is ${w.genesisSupply} in the genesis state`);
    failed(send({ genesisSupply: 0n }), 'SC_REGISTRY', 'genesis supply');
    // a genesis header of another chain, a truncated or foreign proof
    const other = new SidechainWorld();
    try {
      failed(send({ ...genesisRegistration(other.sc.chain) }), 'SC_REGISTRY', 'not the genesis block');
      failed(send({ supplyProof: args.supplyProof.slice(1) }), 'SC_REGISTRY', 'genesis supply');
      failed(send({ supplyProof: genesisRegistration(other.sc.chain).supplyProof }), 'SC_REGISTRY', 'genesis supply');
    } finally {
      await other.close();
    }
    expect(readSidechain(w.l1.chain.stateReader, w.chainId)).toBeUndefined();
    expect(send({}).status).toBe('ok');
  });

  it('accepts a checkpoint signed by >2/3 of the stake; rejects too little stake, forged aggregates, wrong heights and chains with their reason', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2);
    const b2 = scMineTo(w, 2);
    failed(postCheckpoint(w, b2, [0, 1]), 'SC_CHECKPOINT', '2000 of 4000 stake, not more than 2/3');
    // forged: the bitmap claims 3 signers, the aggregate holds only 2 of their signatures
    failed(postCheckpoint(w, b2, [0, 1, 2], (c) => { c.aggregate = w.certify(b2, [0, 1]).aggregate; }), 'SC_CHECKPOINT', 'aggregate signature does not verify');
    // forged: signatures over another block id
    const b1 = w.sc.chain.blockAt(1) as { header: Block['header'] };
    failed(postCheckpoint(w, b2, [0, 1, 2], (c) => { c.aggregate = w.certify({ header: b1.header, txs: [] }, [0, 1, 2]).aggregate; }), 'SC_CHECKPOINT', 'aggregate signature does not verify');
    // forged: keys outside the set sign
    const outsiders = [newValidatorKeys(), newValidatorKeys(), newValidatorKeys()];
    failed(postCheckpoint(w, b2, [0, 1, 2], (c) => { c.aggregate = w.certify(b2, [0, 1, 2], 0, outsiders).aggregate; }), 'SC_CHECKPOINT', 'aggregate signature does not verify');
    // a bitmap naming validators that do not exist
    failed(postCheckpoint(w, b2, [0, 1, 2], (c) => { c.signers = new Uint8Array([0b10000111]); }), 'SC_CHECKPOINT', 'outside the set');
    // the certificate of another block
    failed(postCheckpoint(w, b2, [0, 1, 2], (c) => { c.blockHash = new Uint8Array(32).fill(1); }), 'SC_CHECKPOINT', 'another block');
    // a block that is not the next checkpoint height
    failed(postCheckpoint(w, b1 as Block, [0, 1, 2]), 'SC_CHECKPOINT', 'must be at height 2');
    expect(readSidechain(w.l1.chain.stateReader, w.chainId)?.checkpoints).toBe(0);
    const ok = postCheckpoint(w, b2, [0, 2, 3]);
    expect(ok.status).toBe('ok');
    const cp = readCheckpoint(w.l1.chain.stateReader, w.chainId, 0);
    expect(cp?.height).toBe(2);
    expect(bytesEqual(cp?.stateRoot as Uint8Array, b2.header.stateRoot)).toBe(true);
    // replaying the same checkpoint is refused (next one is at height 4)
    failed(postCheckpoint(w, b2, [0, 1, 2]), 'SC_CHECKPOINT', 'must be at height 4');
  });

  it('deposit, sidechain transfer, withdrawal by Merkle proof against a checkpoint; a second withdrawal fails; conservation after every block', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 3);
    let deposited = 0n;
    let withdrawn = 0n;
    checkConservation(w, deposited, withdrawn);
    const user = l1Keys[2] as KeyPair;
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'deposit', encode(ScDepositArgs, { chainId: w.chainId, to: user.address, amount: 5_000_000n }), 10_000).status).toBe('ok');
    deposited += 5_000_000n;
    checkConservation(w, deposited, withdrawn);
    // the producer mints the deposit on the sidechain (validators check it against the L1)
    const v0 = w.validators[0]!.producer;
    const mint = w.sc.tx(v0, SC_BRIDGE_MODULE, 'mint', encode(MintArgs, { depositId: 0, to: user.address, amount: 5_000_000n }), 10_000);
    expect(w.sc.mine([mint]).receipts[0]?.status).toBe('ok');
    checkConservation(w, deposited, withdrawn);
    // replaying the mint, or minting by a non-producer, fails
    const replay = w.sc.tx(v0, SC_BRIDGE_MODULE, 'mint', encode(MintArgs, { depositId: 0, to: user.address, amount: 5_000_000n }), 10_000);
    expect(w.sc.mine([replay]).receipts[0]?.error?.message).toContain('out of order');
    const stranger = w.sc.tx(user, SC_BRIDGE_MODULE, 'mint', encode(MintArgs, { depositId: 1, to: user.address, amount: 1n }), 10_000);
    expect(w.sc.mine([stranger]).receipts[0]?.error?.message).toContain('only the block producer');
    // transfer on the sidechain, then withdraw
    const carol = l1Keys[3] as KeyPair;
    const xfer = w.sc.tx(user, 'bank', 'transfer', encode(TransferArgsCodec, { to: carol.address, amount: 1_000_000n }), 5_000);
    expect(w.sc.mine([xfer]).receipts[0]?.status).toBe('ok');
    const wd = w.sc.tx(carol, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: user.address, amount: 700_000n }), 10_000);
    expect(w.sc.mine([wd]).receipts[0]?.status).toBe('ok');
    checkConservation(w, deposited, withdrawn);
    const cpBlock = scMineTo(w, 6);
    expect(postCheckpoint(w, w.sc.chain.blockAt(3) as unknown as Block).status).toBe('ok');
    expect(postCheckpoint(w, cpBlock).status).toBe('ok');
    const root = cpBlock.header.stateRoot;
    const rec = readWithdrawal(w.sc.chain.stateReader, 0)!;
    const { proof } = w.sc.chain.proof(withdrawalKey(0), root);
    const args = (x = rec, p = proof, checkpoint = 1) => encode(ScL1WithdrawArgs, { chainId: w.chainId, checkpoint, withdrawal: x, proof: p });
    // tampered amount, another recipient, a proof against an older checkpoint (before the burn)
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args({ ...rec, amount: 7_000_000n }), 50_000), 'SC_BRIDGE', "not in checkpoint 1's state");
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args({ ...rec, l1Recipient: bob.address }), 50_000), 'SC_BRIDGE', 'not in checkpoint');
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args(rec, proof, 0), 50_000), 'SC_BRIDGE', '');
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args(rec, proof.slice(0, -1)), 50_000), 'SC_BRIDGE', 'withdrawal proof');
    const userBefore = getAccount(w.l1.chain.stateReader, user.address).balance;
    const ok = w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args(), 50_000);
    expect(ok.status).toBe('ok');
    withdrawn += 700_000n;
    expect(getAccount(w.l1.chain.stateReader, user.address).balance - userBefore).toBe(700_000n);
    expect(isWithdrawn(w.l1.chain.stateReader, w.chainId, 0)).toBe(true);
    checkConservation(w, deposited, withdrawn);
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', args(), 50_000), 'SC_BRIDGE', 'already paid');
    checkConservation(w, deposited, withdrawn);
  });

  it("a validator withdrawing its genesis fee balance is paid from the registration's backing, not from depositors' escrow", () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 3);
    const user = l1Keys[2] as KeyPair;
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'deposit', encode(ScDepositArgs, { chainId: w.chainId, to: user.address, amount: 5_000_000n }), 10_000).status).toBe('ok');
    const v0 = w.validators[0]!.producer;
    const mint = w.sc.tx(v0, SC_BRIDGE_MODULE, 'mint', encode(MintArgs, { depositId: 0, to: user.address, amount: 5_000_000n }), 10_000);
    // the validator burns 5_000_000 of its genesis (unbridged) balance, the user burns its deposit
    const wdV = w.sc.tx(v0, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: bob.address, amount: 5_000_000n }), 10_000);
    const wdU = w.sc.tx(user, SC_BRIDGE_MODULE, 'withdraw', encode(ScWithdrawArgs, { l1Recipient: user.address, amount: 4_000_000n }), 10_000);
    expect(w.sc.mine([mint, wdV, wdU]).receipts.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    const cpBlock = scMineTo(w, 3);
    expect(postCheckpoint(w, cpBlock).status).toBe('ok');
    const pay = (id: number) => {
      const rec = readWithdrawal(w.sc.chain.stateReader, id)!;
      const { proof } = w.sc.chain.proof(withdrawalKey(id), cpBlock.header.stateRoot);
      return w.l1.send(bob, SC_REGISTRY_MODULE, 'withdraw', encode(ScL1WithdrawArgs, { chainId: w.chainId, checkpoint: 0, withdrawal: rec, proof }), 50_000);
    };
    expect(pay(0).status).toBe('ok');
    // the depositor is still paid in full
    expect(pay(1).status).toBe('ok');
    checkConservation(w, 5_000_000n, 9_000_000n);
  });

  it('double-sign evidence slashes the bond once; non-conflicting or forged evidence is rejected', () => {
    world = new SidechainWorld();
    const w = world;
    register(w);
    const k = w.validators[1]!;
    const vote = (blockHash: Uint8Array, type = PREVOTE): Vote => ({ type, height: 7, round: 1, blockHash, validator: 1, signature: edSign(k.ed, voteDigest(w.chainId, type, 7, 1, blockHash)), bls: new Uint8Array(0) });
    const a = vote(new Uint8Array(32).fill(9));
    const b = vote(NIL);
    const send = (ev: { a: Vote; b: Vote }) => w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: w.chainId, evidence: ev }), 400_000);
    failed(send({ a, b: a }), 'SC_EVIDENCE', 'do not conflict');
    failed(send({ a, b: { ...b, round: 2 } }), 'SC_EVIDENCE', 'do not conflict');
    failed(send({ a, b: { ...b, signature: edSign(w.validators[2]!.ed, voteDigest(w.chainId, PREVOTE, 7, 1, NIL)) } }), 'SC_EVIDENCE', 'does not verify');
    // signed for another chain id: not evidence here
    failed(send({ a, b: { ...b, signature: edSign(k.ed, voteDigest(999, PREVOTE, 7, 1, NIL)) } }), 'SC_EVIDENCE', 'does not verify');
    const bobBefore = getAccount(w.l1.chain.stateReader, bob.address).balance;
    const supplyBefore = w.conserved(w.l1, accounts(w)).supply;
    const r = send({ a, b });
    expect(r.status).toBe('ok');
    const set = readValidatorSet(w.l1.chain.stateReader, w.chainId);
    expect(set[1]?.slashed).toBe(true);
    expect(getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance).toBe(3000n);
    // reporter gets 10 % of the 1000 bond (minus the fee it paid), 900 is burned
    expect(getAccount(w.l1.chain.stateReader, bob.address).balance - bobBefore + r.fee).toBe(100n);
    expect(supplyBefore - w.conserved(w.l1, accounts(w)).supply).toBe(900n);
    failed(send({ a, b }), 'SC_EVIDENCE', 'already slashed');
    expect(postCheckpoint(w, scMineTo(w, 2), [0, 2, 3]).status).toBe('ok');
  });

  it('a slash does not freeze the bridge: the certificate the sidechain made with the offender in it still checkpoints; its power ends on both chains at the same boundary', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 3);
    const k = w.validators[1]!;
    const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height: 1, round: 0, blockHash, validator: 1, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, 1, 0, blockHash)), bls: new Uint8Array(0) });
    expect(w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(3)), b: vote(NIL) } }), 400_000).status).toBe('ok');
    expect(getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance).toBe(3000n);
    // The running sidechain still counts validator 1 (the slash is not included yet): it commits
    // block 2 with the precommits of 0, 1 and 2 (3000 of 4000). That certificate is the only one
    // block 2 will ever have; refusing it would stop every later checkpoint and withdrawal.
    const genesis = w.validators.map((v) => validatorOf(v, 1000n));
    const b2 = scMineTo(w, 2);
    expect(deriveValidators(genesis, w.sc.chain.stateReader, 0)[1]?.power).toBe(1000n);
    expect(postCheckpoint(w, b2, [0, 1, 2]).status).toBe('ok');
    // the operator's view (`strata sidechain status`): both sets, the slash waiting for a checkpoint
    const l1Rpc = sidechainL1RpcMethods({ chain: w.l1.chain });
    const status = (boundary: number) => {
      const info = { validator: 0, validators: deriveValidators(genesis, w.sc.chain.stateReader, boundary).map((v, index) => ({ index, edPub: toHex(v.edPub), stake: v.power.toString() })) };
      return validatorSetLines(info, l1Rpc.sidechain_get!.handler([w.chainId], {} as never) as RegistrySet).join('\n');
    };
    expect(status(2)).toContain('4 validators, stake 4000');
    expect(status(2)).toContain('1 slashed; 1 change waiting for a checkpoint');
    expect(status(2)).toContain('change 0: slash');
    expect(status(2)).toContain('use the same set');
    // the producer includes the slash (change 0); it takes effect after the checkpoint at 4, on both chains
    scMineTo(w, 3, [includeChange(w, 0)]);
    expect(postCheckpoint(w, scMineTo(w, 4), [0, 1, 2]).status).toBe('ok');
    expect(status(4)).toContain('4 validators, stake 3000');
    expect(status(4)).toContain('0 changes waiting');
    expect(status(4)).toContain('use the same set');
    expect(status(2)).toContain('sets differ');
    expect(deriveValidators(genesis, w.sc.chain.stateReader, 4)[1]?.power).toBe(0n);
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId)[1]?.power).toBe(0n);
    // from then on the offender's signature counts for nothing: 0,1,2 is 2000 of 3000
    const b6 = scMineTo(w, 6);
    failed(postCheckpoint(w, b6, [0, 1, 2]), 'SC_CHECKPOINT', '2000 of 3000 stake, not more than 2/3');
    expect(postCheckpoint(w, b6, [0, 2, 3]).status).toBe('ok');
    // the bond was burned once, at the evidence: nothing more left the pool
    expect(getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance).toBe(3000n);
  });

  it('a stranger cannot freeze checkpoints by bonding validators; recorded changes never make a checkpoint fail', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 3);
    // only the owner admits validators: a stranger's five 1-unit bonds are refused
    for (let i = 0; i < 5; i++) failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'bond', encode(BondArgs, { chainId: w.chainId, validator: validatorArgOf(newValidatorKeys(), 1n) }), 100_000), 'SC_REGISTRY', 'only the owner');
    expect(postCheckpoint(w, scMineTo(w, 2)).status).toBe('ok');
    // the owner unbonding every validator: the last one is held (a chain never loses its whole set)
    for (const v of w.validators) expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: v.ed.publicKey }), 100_000).status).toBe('ok');
    // not included by the sidechain yet: the next checkpoint is checked against the same set
    expect(postCheckpoint(w, scMineTo(w, 4)).status).toBe('ok');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId).length).toBe(4);
    scMineTo(w, 5, [0, 1, 2, 3].map((i) => includeChange(w, i)));
    expect(postCheckpoint(w, scMineTo(w, 6)).status).toBe('ok');
    const set = readValidatorSet(w.l1.chain.stateReader, w.chainId);
    expect(set.length).toBe(1);
    expect(bytesEqual(set[0]!.edPub, w.validators[3]!.ed.publicKey)).toBe(true);
    expect(deriveValidators(w.validators.map((k) => validatorOf(k, 1000n)), w.sc.chain.stateReader, 6).map((v) => v.edPub)).toEqual(set.map((v) => v.edPub));
    // the remaining validator alone signs the next checkpoint (index 0 of the new set)
    expect(postCheckpoint(w, scMineTo(w, 8), [0], undefined, [w.validators[3]!]).status).toBe('ok');
  });

  it('stake a slashed validator had added before the evidence landed is burned too, not left in the bond pool for no one', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 3);
    const k = w.validators[1]!;
    const pool = () => getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance;
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'bond', encode(BondArgs, { chainId: w.chainId, validator: validatorArgOf(k, 500n) }), 100_000).status).toBe('ok');
    const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height: 1, round: 0, blockHash, validator: 1, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, 1, 0, blockHash)), bls: new Uint8Array(0) });
    expect(w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(3)), b: vote(NIL) } }), 400_000).status).toBe('ok');
    expect(pool()).toBe(3500n); // the 1000 bond is gone, the pending 500 not yet
    expect(postCheckpoint(w, scMineTo(w, 2, [includeChange(w, 0), includeChange(w, 1)])).status).toBe('ok');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId)[1]?.power).toBe(0n);
    // the pool holds exactly the stake of the three others: nothing stranded
    expect(pool()).toBe(3000n);
    const l1 = w.conserved(w.l1, accounts(w));
    expect(l1.sum).toBe(l1.supply);
  });

  it('evidence against a validator that left a 12-validator set fits the compute limit the relayer gives it', () => {
    world = new SidechainWorld(12);
    const w = world;
    register(w, 2, 5);
    const k = w.validators[11]!;
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: k.ed.publicKey }), 100_000).status).toBe('ok');
    expect(postCheckpoint(w, scMineTo(w, 2, [includeChange(w, 0)]), [0, 1, 2, 3, 4, 5, 6, 7, 8]).status).toBe('ok');
    const rec = readSidechain(w.l1.chain.stateReader, w.chainId)!;
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId).length).toBe(11);
    // it double-signed at height 1, as validator 11 of the old set: the L1 tries the 11 members, then the unbonding entry
    const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height: 1, round: 0, blockHash, validator: 11, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, 1, 0, blockHash)), bls: new Uint8Array(0) });
    const args = encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(1)), b: vote(NIL) } });
    expect(evidenceComputeLimit(11, rec.unbondings)).toBeGreaterThan(12 * SIG_CHECK_COMPUTE);
    // the L1 knows the set of height 1 (epoch 0) by index: one candidate, whatever the set size
    const r = w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', args, 2 * SIG_CHECK_COMPUTE + 20_000);
    expect(r.error?.message ?? r.status).toBe('ok');
    expect(readUnbonding(w.l1.chain.stateReader, w.chainId, 0)?.amount).toBe(0n);
  });

  it('evidence finds the offender by the set of the vote\'s height: after an unbond shifted the indexes, one signature check', () => {
    world = new SidechainWorld(12);
    const w = world;
    register(w, 2, 5);
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: w.validators[0]!.ed.publicKey }), 100_000).status).toBe('ok');
    expect(postCheckpoint(w, scMineTo(w, 2, [includeChange(w, 0)]), [0, 1, 2, 3, 4, 5, 6, 7, 8]).status).toBe('ok');
    // validator 11 of the genesis set is index 10 from height 3 on; it double-signs at height 3 (as 10) and at height 1 (as 11)
    const k = w.validators[11]!;
    const ev = (height: number, index: number) => {
      const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height, round: 0, blockHash, validator: index, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, height, 0, blockHash)), bls: new Uint8Array(0) });
      return encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(1)), b: vote(NIL) } });
    };
    const r = w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', ev(1, 11), 2 * SIG_CHECK_COMPUTE + 20_000);
    expect(r.error?.message ?? r.status).toBe('ok');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId)[10]?.slashed).toBe(true);
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', ev(3, 10), 2 * SIG_CHECK_COMPUTE + 20_000), 'SC_EVIDENCE', 'already slashed');
  });

  it('unbonding every validator with power leaves the last one held even when a slashed (powerless) one remains: no set of zero power on either chain', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 3);
    const k = w.validators[0]!;
    const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height: 1, round: 0, blockHash, validator: 0, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, 1, 0, blockHash)), bls: new Uint8Array(0) });
    expect(w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(3)), b: vote(NIL) } }), 400_000).status).toBe('ok');
    // validators 1, 2 and 3 leave (change 0 is the slash of validator 0)
    for (const v of w.validators.slice(1)) expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: v.ed.publicKey }), 100_000).status).toBe('ok');
    expect(postCheckpoint(w, scMineTo(w, 2, [0, 1, 2, 3].map((i) => includeChange(w, i))), [1, 2, 3]).status).toBe('ok');
    const genesis = w.validators.map((v) => validatorOf(v, 1000n));
    const derived = deriveValidators(genesis, w.sc.chain.stateReader, 2);
    // the sidechain must still have a set that can sign (the engine builds a ValidatorSet of it)
    expect(derived.reduce((a, v) => a + v.power, 0n)).toBe(1000n);
    const l1Set = readValidatorSet(w.l1.chain.stateReader, w.chainId);
    expect(l1Set.map((v) => [v.edPub, v.power])).toEqual(derived.map((v) => [v.edPub, v.power]));
    // the one left signs the next checkpoint (index 1 of [slashed 0, validator 3])
    expect(postCheckpoint(w, scMineTo(w, 4), [1], undefined, [w.validators[0]!, w.validators[3]!]).status).toBe('ok');
  });

  it('bond and unbond take effect at the checkpoint of the block that includes them, on both chains; unbonded stake is claimable after the unbonding period', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 6);
    const newcomer = newValidatorKeys();
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'bond', encode(BondArgs, { chainId: w.chainId, validator: validatorArgOf(newcomer, 2000n) }), 100_000), 'SC_REGISTRY', 'only the owner');
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'bond', encode(BondArgs, { chainId: w.chainId, validator: validatorArgOf(newcomer, 2000n) }), 100_000).status).toBe('ok');
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: w.validators[3]!.ed.publicKey }), 100_000), 'SC_REGISTRY', 'only the account that bonded');
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: w.validators[3]!.ed.publicKey }), 100_000).status).toBe('ok');
    // the sidechain has not included the changes: checkpoint 2 leaves the L1 set as it is
    // (the old registry applied them here, to a set the running sidechain did not use)
    expect(postCheckpoint(w, scMineTo(w, 2), [0, 1, 2]).status).toBe('ok');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId).some((v) => bytesEqual(v.edPub, w.validators[3]!.ed.publicKey))).toBe(true);
    expect(readSidechain(w.l1.chain.stateReader, w.chainId)?.epoch).toBe(0);
    // a checkpoint that lies about the included changes is refused
    scMineTo(w, 3, [includeChange(w, 0), includeChange(w, 1)]);
    const b4 = scMineTo(w, 4);
    const lie = checkpointArgs(w.sc.chain, w.chainId, b4.header, w.certify(b4, [0, 1, 2]));
    const dec = decode(CheckpointArgs, lie);
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'checkpoint', encode(CheckpointArgs, { ...dec, setChanges: 1 }), 100_000), 'SC_CHECKPOINT', 'includes 2 set changes, not 1');
    failed(w.l1.send(bob, SC_REGISTRY_MODULE, 'checkpoint', encode(CheckpointArgs, { ...dec, setChanges: 0, setProof: [] }), 100_000), 'SC_CHECKPOINT', 'set-change proof');
    // block 4 is still signed by the old set; accepting it applies the two included changes
    expect(postCheckpoint(w, b4, [0, 1, 2]).status).toBe('ok');
    const set = readValidatorSet(w.l1.chain.stateReader, w.chainId);
    expect(set.length).toBe(4);
    expect(set.some((v) => bytesEqual(v.edPub, newcomer.ed.publicKey) && v.power === 2000n)).toBe(true);
    expect(set.some((v) => bytesEqual(v.edPub, w.validators[3]!.ed.publicKey))).toBe(false);
    expect(readSidechain(w.l1.chain.stateReader, w.chainId)?.epoch).toBe(1);
    // the sidechain derives the same set (order and stakes) for heights 5…6
    const derived = deriveValidators(w.validators.map((k) => validatorOf(k, 1000n)), w.sc.chain.stateReader, 4);
    expect(derived.map((v) => [v.edPub, v.power])).toEqual(set.map((v) => [v.edPub, v.power]));
    // from now on the removed validator's signature no longer counts and the newcomer's does
    const b6 = scMineTo(w, 6);
    const keysNow = [w.validators[0]!, w.validators[1]!, w.validators[2]!, newcomer];
    failed(postCheckpoint(w, b6, [0, 1, 2], undefined, keysNow), 'SC_CHECKPOINT', 'not more than 2/3'); // 3000 of 5000
    failed(postCheckpoint(w, b6, [0, 1, 3], undefined, [w.validators[0]!, w.validators[1]!, w.validators[2]!, w.validators[3]!]), 'SC_CHECKPOINT', 'does not verify'); // the old validator at index 3
    expect(postCheckpoint(w, b6, [0, 1, 3], undefined, keysNow).status).toBe('ok');
    const claim = () => w.l1.send(alice, SC_REGISTRY_MODULE, 'claim', encode(ClaimArgs, { chainId: w.chainId, index: 0 }), 10_000);
    failed(claim(), 'SC_REGISTRY', 'released at height');
    const release = readUnbonding(w.l1.chain.stateReader, w.chainId, 0)!.releaseHeight;
    while (w.l1.chain.head.meta.height + 1 < release) w.l1.mine();
    const before = getAccount(w.l1.chain.stateReader, alice.address).balance;
    const r = claim();
    expect(r.status).toBe('ok');
    expect(getAccount(w.l1.chain.stateReader, alice.address).balance - before + r.fee).toBe(1000n);
    failed(claim(), 'SC_REGISTRY', 'already claimed');
  });

  it('a checkpoint whose state includes set changes the parent never recorded is refused', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 3);
    const fake = newValidatorKeys();
    const tx = w.sc.tx(w.validators[0]!.producer, SC_BRIDGE_MODULE, 'setChange', encode(SetChangeArgs, { changeId: 0, kind: 1, edPub: fake.ed.publicKey, blsPub: fake.bls.publicKey, producer: fake.producer.address, amount: 10_000n }), 10_000);
    failed(postCheckpoint(w, scMineTo(w, 2, [tx])), 'SC_CHECKPOINT', 'this chain recorded 0');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId).length).toBe(4);
  });

  it('a proposed block whose body does not match its header (same id, other bytes) is rejected', () => {
    world = new SidechainWorld();
    const w = world;
    const user = l1Keys[2] as KeyPair;
    const { block } = w.sc.mine([w.sc.tx(w.validators[0]!.producer, 'bank', 'transfer', encode(TransferArgsCodec, { to: user.address, amount: 5n }), 5_000)]);
    expect(bytesEqual(decodeProposedBlock(encodeBlock(block)).hash, w.sc.chain.head.hash)).toBe(true);
    expect(() => decodeProposedBlock(encodeBlock({ header: block.header, txs: [] }))).toThrow(/tx root/);
  });

  it('a validator that double-signed cannot escape slashing by unbonding (evidence is matched by key, not index)', () => {
    world = new SidechainWorld();
    const w = world;
    register(w, 2, 5);
    const k = w.validators[3]!;
    const vote = (blockHash: Uint8Array): Vote => ({ type: PREVOTE, height: 1, round: 0, blockHash, validator: 3, signature: edSign(k.ed, voteDigest(w.chainId, PREVOTE, 1, 0, blockHash)), bls: new Uint8Array(0) });
    expect(w.l1.send(alice, SC_REGISTRY_MODULE, 'unbond', encode(UnbondArgs, { chainId: w.chainId, edPub: k.ed.publicKey }), 100_000).status).toBe('ok');
    expect(postCheckpoint(w, scMineTo(w, 2, [includeChange(w, 0)])).status).toBe('ok');
    expect(readValidatorSet(w.l1.chain.stateReader, w.chainId).length).toBe(3);
    const pool = () => getAccount(w.l1.chain.stateReader, sidechainBondPool(w.chainId)).balance;
    const before = pool();
    const r = w.l1.send(bob, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: w.chainId, evidence: { a: vote(new Uint8Array(32).fill(1)), b: vote(NIL) } }), 400_000);
    expect(r.status).toBe('ok');
    expect(before - pool()).toBe(1000n);
    // nothing left to claim after the unbonding period
    w.l1.mine();
    w.l1.mine();
    w.l1.mine();
    w.l1.mine();
    w.l1.mine();
    failed(w.l1.send(alice, SC_REGISTRY_MODULE, 'claim', encode(ClaimArgs, { chainId: w.chainId, index: 0 }), 10_000), 'SC_REGISTRY', 'already claimed');
  });
});
