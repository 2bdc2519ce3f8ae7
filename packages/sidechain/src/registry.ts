/**
 * The sidechain's settlement module in its parent chain's runtime: `sc_registry`. One module
 * instance hosts any number of sidechains, each keyed by its chain id (which must differ from
 * the parent's and every sibling's). It holds, per sidechain: the registration (name, genesis
 * hash, checkpoint interval, unbonding period), the validator set with stakes bonded on this
 * chain, pending set changes (applied at the next accepted checkpoint), checkpoints verified by
 * one BLS aggregate of more than 2/3 of the stake, double-sign evidence that slashes a bond,
 * and the bridge escrow (deposits; withdrawals by Merkle proof against a checkpointed root,
 * each paid once).
 */
import { blockHash, decodeHeader, encodeHeader } from '@strata/chain';
import {
  bigintToFixed,
  bool,
  bytesEqual,
  decode,
  encode,
  fixedBytes,
  list,
  StrataError,
  str,
  struct,
  toHex,
  uint,
  uintBig,
  utf8,
  varBytes,
  type Codec,
} from '@strata/primitives';
import { burn, claimChildChainId, moduleAddress, SUPPLY_KEY, transfer, type Module, type TxContext } from '@strata/runtime';
import { stateKey, verifyProof, type StateView } from '@strata/state';
import { SET_CHANGES_KEY, withdrawalKey, WithdrawalRecordCodec } from './bridge.js';
import { BLS_PUBKEY_LENGTH, BLS_SIGNATURE_LENGTH, ED_PUBKEY_LENGTH, verifyProofOfPossession } from './crypto.js';
import { CertificateCodec, EvidenceCodec, MAX_VALIDATORS, verifyVoteSignature, votesConflict } from './messages.js';
import { applySetChange, SET_BOND, SET_SLASH, SET_UNBOND, ValidatorSet, type Validator } from './validator-set.js';

/** Module name on the parent chain. */
export const SC_REGISTRY_MODULE = 'sc_registry';

/** Compute charged for an aggregate signature check (about 25 secp256k1 verifications). */
export const CHECKPOINT_COMPUTE = 40_000;
/** Compute charged for a proof-of-possession or evidence check. */
export const SIG_CHECK_COMPUTE = 30_000;

/** Share of a slashed bond paid to whoever submitted the evidence (basis points); the rest is burned. */
export const REPORTER_REWARD_BPS = 1_000;

const u64 = (n: number) => bigintToFixed(BigInt(n), 8);
const key = (id: number, tag: string, n?: number) => (n === undefined ? stateKey(SC_REGISTRY_MODULE, u64(id), utf8(tag)) : stateKey(SC_REGISTRY_MODULE, u64(id), utf8(tag), u64(n)));
const GLOBAL_COUNT = stateKey(SC_REGISTRY_MODULE, utf8('count'));
const globalIndex = (i: number) => stateKey(SC_REGISTRY_MODULE, utf8('index'), u64(i));
const nameKey = (name: string) => stateKey(SC_REGISTRY_MODULE, utf8('name'), utf8(name));

/**
 * The genesis fields of `register` for a sidechain chain: its genesis header and the Merkle
 * proof of its total supply against the genesis state root.
 */
export function genesisRegistration(chain: { blockAt(h: number): { header: Parameters<typeof blockHash>[0] } | undefined; proof(key: Uint8Array, root?: Uint8Array): { proof: Uint8Array[] } }): { genesisHeader: Uint8Array; supplyProof: Uint8Array[] } {
  const g = chain.blockAt(0);
  if (!g) throw new StrataError('SC_REGISTRY', 'the chain has no genesis block');
  return { genesisHeader: encodeHeader(g.header), supplyProof: chain.proof(SUPPLY_KEY, g.header.stateRoot).proof };
}

/** Escrow of a sidechain's bridge on the parent. */
export function sidechainEscrow(chainId: number): Uint8Array {
  return moduleAddress(`${SC_REGISTRY_MODULE}/${chainId}/escrow`);
}

/** Account holding a sidechain's validator bonds on the parent. */
export function sidechainBondPool(chainId: number): Uint8Array {
  return moduleAddress(`${SC_REGISTRY_MODULE}/${chainId}/bonds`);
}

// ---------------------------------------------------------------- records and args

/**
 * A validator as the registry holds it: keys, voting power (= its bond, except for a slashed
 * validator, whose bond is burned at once and whose power ends at the checkpoint that applies
 * the slash), the L1 account that bonded it.
 */
export interface BondedValidator extends Validator {
  owner: Uint8Array;
  slashed: boolean;
}

const BondedValidatorCodec: Codec<BondedValidator> = struct('BondedValidator', {
  edPub: fixedBytes(ED_PUBKEY_LENGTH),
  blsPub: fixedBytes(BLS_PUBKEY_LENGTH),
  producer: fixedBytes(20),
  power: uintBig(128),
  owner: fixedBytes(20),
  slashed: bool,
});
const SetCodec = list(BondedValidatorCodec, MAX_VALIDATORS);

/** A sidechain's registration. */
export interface SidechainRecord {
  chainId: number;
  name: string;
  owner: Uint8Array;
  genesisHash: Uint8Array;
  checkpointInterval: number;
  unbondingPeriod: number;
  registeredAt: number;
  /** Validator-set epoch (incremented when pending changes are applied). */
  epoch: number;
  checkpoints: number;
  lastCheckpointHeight: number;
  deposits: number;
  unbondings: number;
}

const RecordCodec: Codec<SidechainRecord> = struct('SidechainRecord', {
  chainId: uint,
  name: str(32),
  owner: fixedBytes(20),
  genesisHash: fixedBytes(32),
  checkpointInterval: uint,
  unbondingPeriod: uint,
  registeredAt: uint,
  epoch: uint,
  checkpoints: uint,
  lastCheckpointHeight: uint,
  deposits: uint,
  unbondings: uint,
});

/** A checkpoint accepted on the parent. */
export interface CheckpointRecord {
  height: number;
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  round: number;
  l1Height: number;
  epoch: number;
}

export const CheckpointRecordCodec: Codec<CheckpointRecord> = struct('CheckpointRecord', {
  height: uint,
  blockHash: fixedBytes(32),
  stateRoot: fixedBytes(32),
  round: uint,
  l1Height: uint,
  epoch: uint,
});

/** A deposit locked on the parent. */
export interface DepositRecord {
  id: number;
  from: Uint8Array;
  to: Uint8Array;
  amount: bigint;
  l1Height: number;
}

export const DepositRecordCodec: Codec<DepositRecord> = struct('DepositRecord', { id: uint, from: fixedBytes(20), to: fixedBytes(20), amount: uintBig(128), l1Height: uint });

/**
 * A validator-set change recorded on the parent (bond, unbond, slash), numbered from 0 per
 * sidechain. The sidechain's producer includes it once it is final here; the change takes
 * effect on both chains after the first checkpoint whose block includes it.
 */
export interface SetChangeRecord {
  id: number;
  kind: number;
  validator: BondedValidator;
  amount: bigint;
  l1Height: number;
}
const SetChangeRecordCodec: Codec<SetChangeRecord> = struct('ScSetChangeRecord', { id: uint, kind: uint, validator: BondedValidatorCodec, amount: uintBig(128), l1Height: uint });

/** Most recorded set changes not yet applied at a checkpoint (bounds the work of one checkpoint). */
export const MAX_PENDING_CHANGES = 256;

/** Stake leaving after the unbonding period. */
export interface UnbondingRecord {
  /** The leaving validator's ed25519 key (evidence can still slash it until release). */
  edPub: Uint8Array;
  owner: Uint8Array;
  amount: bigint;
  releaseHeight: number;
  claimed: boolean;
}
const UnbondingCodec: Codec<UnbondingRecord> = struct('Unbonding', { edPub: fixedBytes(ED_PUBKEY_LENGTH), owner: fixedBytes(20), amount: uintBig(128), releaseHeight: uint, claimed: bool });

/** A validator in a registration or bond: keys, stake, proof of possession of the BLS key. */
export interface ValidatorArg {
  edPub: Uint8Array;
  blsPub: Uint8Array;
  producer: Uint8Array;
  power: bigint;
  pop: Uint8Array;
}
const ValidatorArgCodec: Codec<ValidatorArg> = struct('ValidatorArg', {
  edPub: fixedBytes(ED_PUBKEY_LENGTH),
  blsPub: fixedBytes(BLS_PUBKEY_LENGTH),
  producer: fixedBytes(20),
  power: uintBig(128),
  pop: fixedBytes(BLS_SIGNATURE_LENGTH),
});

/** `sc_registry.register` */
export const RegisterArgs = struct('ScRegisterArgs', {
  chainId: uint,
  name: str(32),
  genesisHash: fixedBytes(32),
  checkpointInterval: uint,
  unbondingPeriod: uint,
  /**
   * Sum of the sidechain's genesis balances (validators' fee accounts and any other
   * allocation). Locked in the bridge escrow at registration: those coins are the same asset
   * as bridged ones and can be withdrawn, so without this backing a validator could withdraw
   * its genesis balance out of the depositors' escrow.
   */
  genesisSupply: uintBig(128),
  validators: list(ValidatorArgCodec, MAX_VALIDATORS),
  /** The sidechain's genesis header (its hash must be `genesisHash`). */
  genesisHeader: varBytes(4096),
  /** Merkle proof of the bank's total supply against the genesis state root (= `genesisSupply`). */
  supplyProof: list(varBytes(4096), 300),
});
/** `sc_registry.bond` (a new validator, or more stake for an existing one) */
export const BondArgs = struct('ScBondArgs', { chainId: uint, validator: ValidatorArgCodec });
/** `sc_registry.unbond` */
export const UnbondArgs = struct('ScUnbondArgs', { chainId: uint, edPub: fixedBytes(ED_PUBKEY_LENGTH) });
/** `sc_registry.claim` */
export const ClaimArgs = struct('ScClaimArgs', { chainId: uint, index: uint });
/** `sc_registry.checkpoint`: the sidechain header and its commit certificate. */
export const CheckpointArgs = struct('ScCheckpointArgs', {
  chainId: uint,
  header: varBytes(4096),
  certificate: CertificateCodec,
  /** Parent set changes the sidechain had included at this block (`sc_bridge` state). */
  setChanges: uint,
  /** Merkle proof of that count against the header's state root. */
  setProof: list(varBytes(4096), 300),
});
/** `sc_registry.evidence` */
export const EvidenceArgs = struct('ScEvidenceArgs', { chainId: uint, evidence: EvidenceCodec });
/** `sc_registry.deposit` */
export const ScDepositArgs = struct('ScDepositArgs', { chainId: uint, to: fixedBytes(20), amount: uintBig(128) });
/** `sc_registry.withdraw` */
export const ScL1WithdrawArgs = struct('ScL1WithdrawArgs', {
  chainId: uint,
  checkpoint: uint,
  withdrawal: WithdrawalRecordCodec,
  proof: list(varBytes(4096), 300),
});

// ---------------------------------------------------------------- readers

type Reader = Pick<StateView, 'get'>;

/** Reads a registration. */
export function readSidechain(r: Reader, chainId: number): SidechainRecord | undefined {
  const raw = r.get(key(chainId, 'record'));
  return raw ? decode(RecordCodec, raw) : undefined;
}

/** Chain ids of every registered sidechain, in registration order. */
export function listSidechains(r: Reader): number[] {
  const raw = r.get(GLOBAL_COUNT);
  const n = raw ? decode(uint, raw) : 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.get(globalIndex(i));
    if (id) out.push(decode(uint, id));
  }
  return out;
}

/** The validator set the next checkpoint is checked against. */
export function readValidatorSet(r: Reader, chainId: number): BondedValidator[] {
  const raw = r.get(key(chainId, 'set'));
  return raw ? decode(SetCodec, raw, 256 * 1024) : [];
}

/** Number of set changes recorded and number applied at accepted checkpoints. */
export function setChangeCounts(r: Reader, chainId: number): { recorded: number; applied: number } {
  const a = r.get(key(chainId, 'chgCount'));
  const b = r.get(key(chainId, 'chgApplied'));
  return { recorded: a ? decode(uint, a) : 0, applied: b ? decode(uint, b) : 0 };
}

/** Recorded set change `id`. */
export function readSetChangeRecord(r: Reader, chainId: number, id: number): SetChangeRecord | undefined {
  const raw = r.get(key(chainId, 'chg', id));
  return raw ? decode(SetChangeRecordCodec, raw) : undefined;
}

/** Recorded changes not yet applied at a checkpoint. */
export function readPending(r: Reader, chainId: number): SetChangeRecord[] {
  const { recorded, applied } = setChangeCounts(r, chainId);
  const out: SetChangeRecord[] = [];
  for (let i = applied; i < recorded; i++) out.push(readSetChangeRecord(r, chainId, i) as SetChangeRecord);
  return out;
}

/** Records a slash as a set change (the sidechain zeroes the power from the next checkpoint on). Never fails the evidence. */
function recordSlash(ctx: TxContext, chainId: number, v: BondedValidator): void {
  const { recorded, applied } = setChangeCounts(ctx.view, chainId);
  if (recorded - applied >= MAX_PENDING_CHANGES * 2) return;
  ctx.view.put(key(chainId, 'chg', recorded), encode(SetChangeRecordCodec, { id: recorded, kind: SET_SLASH, validator: { ...v, power: 0n }, amount: 0n, l1Height: ctx.block.height }));
  ctx.view.put(key(chainId, 'chgCount'), encode(uint, recorded + 1));
}

function recordChange(ctx: TxContext, chainId: number, kind: number, validator: BondedValidator, amount: bigint): number {
  const { recorded, applied } = setChangeCounts(ctx.view, chainId);
  if (recorded - applied >= MAX_PENDING_CHANGES) reg(`sidechain ${chainId} has ${MAX_PENDING_CHANGES} set changes waiting for a checkpoint; retry after the next one`, { reason: 'too-many-pending' });
  ctx.view.put(key(chainId, 'chg', recorded), encode(SetChangeRecordCodec, { id: recorded, kind, validator, amount, l1Height: ctx.block.height }));
  ctx.view.put(key(chainId, 'chgCount'), encode(uint, recorded + 1));
  return recorded;
}

/** Checkpoint `i` (0-based). */
export function readCheckpoint(r: Reader, chainId: number, i: number): CheckpointRecord | undefined {
  const raw = r.get(key(chainId, 'cp', i));
  return raw ? decode(CheckpointRecordCodec, raw) : undefined;
}

/** Deposit `i`. */
export function readDeposit(r: Reader, chainId: number, i: number): DepositRecord | undefined {
  const raw = r.get(key(chainId, 'dep', i));
  return raw ? decode(DepositRecordCodec, raw) : undefined;
}

/** Whether sidechain withdrawal `id` has been paid on the parent. */
export function isWithdrawn(r: Reader, chainId: number, id: number): boolean {
  return r.get(key(chainId, 'wd', id)) !== undefined;
}

/** Unbonding entry `i`. */
export function readUnbonding(r: Reader, chainId: number, i: number): UnbondingRecord | undefined {
  const raw = r.get(key(chainId, 'unb', i));
  return raw ? decode(UnbondingCodec, raw) : undefined;
}

/**
 * The consensus view of a bonded set: the set the sidechain uses for the heights the next
 * checkpoint covers. A slashed validator keeps its voting power (its bond is already burned)
 * until the slash change is included and checkpointed: the same boundary at which the
 * sidechain's own set drops it, so both chains always check certificates against one set.
 */
export function toValidatorSet(set: BondedValidator[]): ValidatorSet {
  return new ValidatorSet(set.map((v) => ({ edPub: v.edPub, blsPub: v.blsPub, producer: v.producer, power: v.power })));
}

// ---------------------------------------------------------------- the module

function reg(msg: string, meta: Record<string, unknown> = {}): never {
  throw new StrataError('SC_REGISTRY', msg, meta);
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

function requireChain(v: Reader, chainId: number): SidechainRecord {
  return readSidechain(v, chainId) ?? reg(`sidechain ${chainId} is not registered`, { chainId });
}

function checkValidatorArg(ctx: TxContext, a: ValidatorArg): void {
  if (a.power <= 0n) reg('validator stake must be positive');
  ctx.charge(SIG_CHECK_COMPUTE);
  if (!verifyProofOfPossession(a.blsPub, a.edPub, a.pop)) {
    reg(`validator ${toHex(a.edPub)}: the BLS proof of possession does not verify`, { reason: 'bad-pop' });
  }
}

function writeSet(v: StateView, chainId: number, set: BondedValidator[]): void {
  v.put(key(chainId, 'set'), encode(SetCodec, set));
}

const EpochKeysCodec = list(fixedBytes(ED_PUBKEY_LENGTH), MAX_VALIDATORS);

/** Records epoch `epoch`: the set's ed25519 keys in index order, used from sidechain height `start + 1` on. */
function writeEpoch(v: StateView, chainId: number, epoch: number, start: number, set: BondedValidator[]): void {
  v.put(key(chainId, 'epStart', epoch), encode(uint, start));
  v.put(key(chainId, 'epKeys', epoch), encode(EpochKeysCodec, set.map((x) => x.edPub)));
}

/**
 * The ed25519 key at `index` of the set the sidechain used at `height`, if this chain knows it:
 * heights up to the next checkpoint (later ones may already use a set not checkpointed here),
 * of a sidechain registered with epoch records. Binary search over the epochs' start heights.
 */
function epochKeyAt(ctx: TxContext, rec: SidechainRecord, height: number, index: number): Uint8Array | undefined {
  if (height < 1 || height > rec.lastCheckpointHeight + rec.checkpointInterval) return undefined;
  const startOf = (e: number): number | undefined => {
    const raw = ctx.view.get(key(rec.chainId, 'epStart', e));
    return raw ? decode(uint, raw) : undefined;
  };
  let lo = 0;
  let hi = rec.epoch;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const st = startOf(mid);
    if (st === undefined) return undefined;
    if (st < height) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return undefined;
  const raw = ctx.view.get(key(rec.chainId, 'epKeys', found));
  return raw ? decode(EpochKeysCodec, raw, 64 * 1024)[index] : undefined;
}

/**
 * Applies recorded set changes up to (not including) `upTo` at an accepted checkpoint: the
 * changes the sidechain included up to the checkpointed block, which it applies itself from the
 * next block on (the same `applySetChange` rule on both chains, so indexes and stakes agree).
 * A leaving validator's stake starts unbonding; slashed stake stays at 0.
 */
function applyChanges(ctx: TxContext, rec: SidechainRecord, upTo: number): void {
  const { applied } = setChangeCounts(ctx.view, rec.chainId);
  if (upTo <= applied) return;
  let set = readValidatorSet(ctx.view, rec.chainId);
  for (let id = applied; id < upTo; id++) {
    const c = readSetChangeRecord(ctx.view, rec.chainId, id) as SetChangeRecord;
    // Stake a validator added before evidence against it landed: the slash burned only the
    // bond in effect then; this part is burned now (a slashed validator's stake is never paid out).
    const target = c.kind === SET_BOND ? set.find((x) => bytesEqual(x.edPub, c.validator.edPub)) : undefined;
    if (target?.slashed && c.amount > 0n) {
      burn(ctx.view, sidechainBondPool(rec.chainId), c.amount);
      ctx.emit('slashed', { chainId: rec.chainId, change: id, edPub: toHex(c.validator.edPub), bond: c.amount.toString(), reward: '0' });
    }
    const r = applySetChange(set, { kind: c.kind, edPub: c.validator.edPub, blsPub: c.validator.blsPub, producer: c.validator.producer, amount: c.amount }, () => ({ ...c.validator, power: c.amount, slashed: false }));
    set = r.set;
    if (!r.applied) ctx.emit('validatorSetChangeSkipped', { chainId: rec.chainId, change: id, reason: c.kind === SET_UNBOND ? 'the last validator with power cannot leave' : 'not applicable' });
    const v = r.removed;
    if (v && !v.slashed && v.power > 0n) {
      const n = rec.unbondings++;
      ctx.view.put(key(rec.chainId, 'unb', n), encode(UnbondingCodec, { edPub: v.edPub, owner: v.owner, amount: v.power, releaseHeight: ctx.block.height + rec.unbondingPeriod, claimed: false }));
      ctx.emit('unbonding', { chainId: rec.chainId, index: n, owner: toHex(v.owner), amount: v.power.toString(), releaseHeight: ctx.block.height + rec.unbondingPeriod });
    }
  }
  writeSet(ctx.view, rec.chainId, set);
  ctx.view.put(key(rec.chainId, 'chgApplied'), encode(uint, upTo));
  rec.epoch++;
  writeEpoch(ctx.view, rec.chainId, rec.epoch, rec.lastCheckpointHeight, set);
  ctx.emit('validatorSetChanged', { chainId: rec.chainId, epoch: rec.epoch, validators: set.length, changes: upTo - applied });
}

/** The parent-chain modules of the sidechain layer (one module, any number of sidechains). */
export function sidechainParentModules(): Module[] {
  const registry: Module = {
    name: SC_REGISTRY_MODULE,
    methods: {
      register(ctx, args) {
        const a = decode(RegisterArgs, args, 256 * 1024);
        if (!NAME_RE.test(a.name)) reg(`sidechain name ${JSON.stringify(a.name)}: use 1-32 lowercase letters, digits and dashes`);
        if (a.chainId <= 0) reg('chain id must be positive');
        if (readSidechain(ctx.view, a.chainId)) reg(`chain id ${a.chainId} is already registered`, { reason: 'chain-id-taken' });
        // unique among every child of this chain (rollups of any kind too), not sidechains only
        claimChildChainId(ctx, a.chainId, `sidechain/${a.chainId}`, 'SC_REGISTRY');
        if (ctx.view.get(nameKey(a.name))) reg(`sidechain name ${a.name} is already registered`, { reason: 'name-taken' });
        if (a.checkpointInterval < 1 || a.checkpointInterval > 100_000) reg('checkpoint interval must be 1-100000 blocks');
        // A leaving validator's stake must stay slashable until evidence of what it signed last
        // can land here: at least one block, and no less than this chain's finality depth.
        const minUnbonding = Math.max(1, ctx.config.confirmations);
        if (a.unbondingPeriod < minUnbonding) reg(`unbonding period must be at least ${minUnbonding} blocks (this chain's finality depth)`, { reason: 'unbonding-too-short', min: minUnbonding });
        if (a.validators.length === 0) reg('a sidechain needs at least one validator');
        const seen = new Set<string>();
        const set: BondedValidator[] = [];
        let total = 0n;
        for (const v of a.validators) {
          const k = toHex(v.edPub);
          if (seen.has(k) || seen.has(toHex(v.blsPub))) reg(`validator key ${k} appears twice`);
          seen.add(k);
          seen.add(toHex(v.blsPub));
          checkValidatorArg(ctx, v);
          set.push({ edPub: v.edPub, blsPub: v.blsPub, producer: v.producer, power: v.power, owner: ctx.sender, slashed: false });
          total += v.power;
        }
        // genesisSupply is what the escrow must back: bind it to the genesis hash (the header's
        // state root holds the bank's supply), so the registrant cannot understate it.
        let genesis: ReturnType<typeof decodeHeader>;
        try {
          genesis = decodeHeader(a.genesisHeader);
        } catch (e) {
          return reg(`genesis header does not decode: ${(e as Error).message}`, { reason: 'bad-genesis' });
        }
        if (!bytesEqual(blockHash(genesis), a.genesisHash) || genesis.height !== 0 || genesis.chainId !== a.chainId) reg('the genesis header is not the genesis block of this chain id and genesis hash', { reason: 'bad-genesis' });
        ctx.charge(a.supplyProof.reduce((n, p) => n + Math.ceil(p.length / 32), 0) * ctx.config.compute.perWord * 4);
        let supplyRaw: Uint8Array | undefined;
        try {
          supplyRaw = verifyProof(genesis.stateRoot, SUPPLY_KEY, a.supplyProof).value;
        } catch (e) {
          return reg(`genesis supply proof: ${(e as Error).message}`, { reason: 'bad-genesis-supply' });
        }
        const supply = supplyRaw ? decode(uintBig(256), supplyRaw) : 0n;
        if (supply !== a.genesisSupply) reg(`genesis supply is ${supply} in the genesis state, not ${a.genesisSupply}`, { reason: 'bad-genesis-supply' });
        transfer(ctx.view, ctx.sender, sidechainBondPool(a.chainId), total);
        if (a.genesisSupply > 0n) transfer(ctx.view, ctx.sender, sidechainEscrow(a.chainId), a.genesisSupply);
        const rec: SidechainRecord = {
          chainId: a.chainId,
          name: a.name,
          owner: ctx.sender,
          genesisHash: a.genesisHash,
          checkpointInterval: a.checkpointInterval,
          unbondingPeriod: a.unbondingPeriod,
          registeredAt: ctx.block.height,
          epoch: 0,
          checkpoints: 0,
          lastCheckpointHeight: 0,
          deposits: 0,
          unbondings: 0,
        };
        ctx.view.put(key(a.chainId, 'record'), encode(RecordCodec, rec));
        writeSet(ctx.view, a.chainId, set);
        writeEpoch(ctx.view, a.chainId, 0, 0, set);
        ctx.view.put(nameKey(a.name), encode(uint, a.chainId));
        const cRaw = ctx.view.get(GLOBAL_COUNT);
        const count = cRaw ? decode(uint, cRaw) : 0;
        ctx.view.put(globalIndex(count), encode(uint, a.chainId));
        ctx.view.put(GLOBAL_COUNT, encode(uint, count + 1));
        ctx.emit('registered', { chainId: a.chainId, name: a.name, genesisHash: toHex(a.genesisHash), validators: set.length, stake: total.toString(), genesisSupply: a.genesisSupply.toString() });
      },

      bond(ctx, args) {
        const a = decode(BondArgs, args);
        const rec = requireChain(ctx.view, a.chainId);
        checkValidatorArg(ctx, a.validator);
        const set = readValidatorSet(ctx.view, a.chainId);
        const existing = set.find((x) => bytesEqual(x.edPub, a.validator.edPub));
        if (existing?.slashed) reg('a slashed validator cannot bond again');
        if (existing && !bytesEqual(existing.owner, ctx.sender)) reg('only the account that bonded a validator may add to its stake');
        const pending = readPending(ctx.view, a.chainId);
        if (!existing) {
          // Only the sidechain's owner admits a new validator (the set is the sidechain's
          // security: a stranger's keys must not join it by paying a bond).
          if (!bytesEqual(ctx.sender, rec.owner)) reg(`only the owner of sidechain ${a.chainId} may admit a new validator`, { reason: 'not-owner' });
          const joining = new Set(pending.filter((p) => p.kind === SET_BOND && !set.some((x) => bytesEqual(x.edPub, p.validator.edPub))).map((p) => toHex(p.validator.edPub)));
          joining.add(toHex(a.validator.edPub));
          if (set.length + joining.size > MAX_VALIDATORS) reg(`at most ${MAX_VALIDATORS} validators (counting pending bonds)`);
        }
        transfer(ctx.view, ctx.sender, sidechainBondPool(a.chainId), a.validator.power);
        const id = recordChange(ctx, a.chainId, SET_BOND, { ...(existing ?? a.validator), owner: existing?.owner ?? ctx.sender, slashed: false, power: 0n }, a.validator.power);
        ctx.emit('bondPending', { chainId: a.chainId, change: id, edPub: toHex(a.validator.edPub), amount: a.validator.power.toString() });
      },

      unbond(ctx, args) {
        const a = decode(UnbondArgs, args);
        requireChain(ctx.view, a.chainId);
        const v = readValidatorSet(ctx.view, a.chainId).find((x) => bytesEqual(x.edPub, a.edPub)) ?? reg(`validator ${toHex(a.edPub)} is not in the set`);
        if (!bytesEqual(v.owner, ctx.sender)) reg('only the account that bonded a validator may unbond it');
        const id = recordChange(ctx, a.chainId, SET_UNBOND, { ...v, power: 0n }, 0n);
        ctx.emit('unbondPending', { chainId: a.chainId, change: id, edPub: toHex(a.edPub) });
      },

      claim(ctx, args) {
        const a = decode(ClaimArgs, args);
        requireChain(ctx.view, a.chainId);
        const u = readUnbonding(ctx.view, a.chainId, a.index) ?? reg(`no unbonding entry ${a.index}`);
        if (u.claimed) reg(`unbonding entry ${a.index} was already claimed`);
        if (ctx.block.height < u.releaseHeight) reg(`unbonding entry ${a.index} is released at height ${u.releaseHeight}`, { releaseHeight: u.releaseHeight });
        transfer(ctx.view, sidechainBondPool(a.chainId), u.owner, u.amount);
        ctx.view.put(key(a.chainId, 'unb', a.index), encode(UnbondingCodec, { ...u, claimed: true }));
        ctx.emit('unbondClaimed', { chainId: a.chainId, index: a.index, amount: u.amount.toString() });
      },

      checkpoint(ctx, args) {
        const a = decode(CheckpointArgs, args);
        const rec = requireChain(ctx.view, a.chainId);
        const cp = (msg: string, reason: string, meta: Record<string, unknown> = {}): never => {
          throw new StrataError('SC_CHECKPOINT', msg, { reason, chainId: a.chainId, ...meta });
        };
        let header: ReturnType<typeof decodeHeader>;
        try {
          header = decodeHeader(a.header);
        } catch (e) {
          return cp(`checkpoint header does not decode: ${(e as Error).message}`, 'bad-header');
        }
        if (header.chainId !== a.chainId) cp(`checkpoint header is for chain ${header.chainId}, not ${a.chainId}`, 'wrong-chain');
        const expected = rec.lastCheckpointHeight + rec.checkpointInterval;
        if (header.height !== expected) cp(`checkpoint at height ${header.height}; the next one must be at height ${expected}`, 'wrong-height', { expected });
        const hash = blockHash(header);
        const cert = a.certificate;
        if (cert.height !== header.height || !bytesEqual(cert.blockHash, hash)) cp('certificate is for another block than the checkpoint header', 'certificate-mismatch');
        ctx.charge(CHECKPOINT_COMPUTE);
        toValidatorSet(readValidatorSet(ctx.view, a.chainId)).verifyCertificate(a.chainId, cert);
        // How many of our set changes the sidechain had included at this block, proven
        // against its state root: exactly those take effect now, on both chains.
        ctx.charge(a.setProof.reduce((n, p) => n + Math.ceil(p.length / 32), 0) * ctx.config.compute.perWord * 4);
        let included: Uint8Array | undefined;
        try {
          included = verifyProof(header.stateRoot, SET_CHANGES_KEY, a.setProof).value;
        } catch (e) {
          return cp(`set-change proof: ${(e as Error).message}`, 'bad-set-proof');
        }
        const n = included ? decode(uint, included) : 0;
        if (n !== a.setChanges) cp(`the checkpointed state includes ${n} set changes, not ${a.setChanges}`, 'bad-set-proof');
        const counts = setChangeCounts(ctx.view, a.chainId);
        if (n > counts.recorded || n < counts.applied) cp(`the checkpointed state includes ${n} set changes; this chain recorded ${counts.recorded}, ${counts.applied} applied`, 'bad-set-changes');
        const index = rec.checkpoints;
        ctx.view.put(key(a.chainId, 'cp', index), encode(CheckpointRecordCodec, { height: header.height, blockHash: hash, stateRoot: header.stateRoot, round: cert.round, l1Height: ctx.block.height, epoch: rec.epoch }));
        rec.checkpoints++;
        rec.lastCheckpointHeight = header.height;
        applyChanges(ctx, rec, n);
        ctx.view.put(key(a.chainId, 'record'), encode(RecordCodec, rec));
        ctx.emit('checkpoint', { chainId: a.chainId, index, height: header.height, blockHash: toHex(hash), stateRoot: toHex(header.stateRoot) });
      },

      evidence(ctx, args) {
        const a = decode(EvidenceArgs, args);
        requireChain(ctx.view, a.chainId);
        const { a: x, b: y } = a.evidence;
        const ev = (msg: string, reason: string): never => {
          throw new StrataError('SC_EVIDENCE', msg, { reason, chainId: a.chainId });
        };
        if (!votesConflict(x, y)) ev('the two votes do not conflict (same validator, height, round and type, different blocks)', 'not-conflicting');
        // The offender is found by key, not by index (indexes shift when the set changes): the
        // validator at the vote's index first, then the rest of the set, then stake still
        // unbonding (a validator cannot escape by leaving). Each candidate tried is metered.
        const signedBy = (edPub: Uint8Array): boolean => {
          ctx.charge(SIG_CHECK_COMPUTE);
          return verifyVoteSignature(a.chainId, x, edPub) && verifyVoteSignature(a.chainId, y, edPub);
        };
        const set = readValidatorSet(ctx.view, a.chainId);
        const order = [x.validator, ...set.keys()].filter((i, k, arr) => i < set.length && arr.indexOf(i) === k);
        const pool = sidechainBondPool(a.chainId);
        const pay = (bond: bigint): bigint => {
          const reward = (bond * BigInt(REPORTER_REWARD_BPS)) / 10_000n;
          if (reward > 0n) transfer(ctx.view, pool, ctx.sender, reward);
          if (bond - reward > 0n) burn(ctx.view, pool, bond - reward);
          return reward;
        };
        const slashMember = (i: number): void => {
          const v = set[i] as BondedValidator;
          if (v.slashed) ev(`validator ${i} was already slashed`, 'already-slashed');
          const bond = v.power;
          // The bond is burned now; the voting power stays until the slash change takes effect
          // at a checkpoint, as on the sidechain. Zeroing it here would make the L1 refuse the
          // certificates the running sidechain makes with the offender's precommit in them —
          // and a checkpoint height has only the one certificate: the bridge would stop for good.
          v.slashed = true;
          writeSet(ctx.view, a.chainId, set);
          recordSlash(ctx, a.chainId, v);
          const reward = pay(bond);
          ctx.emit('slashed', { chainId: a.chainId, validator: i, edPub: toHex(v.edPub), bond: bond.toString(), reward: reward.toString(), height: x.height, round: x.round });
        };
        const rec = readSidechain(ctx.view, a.chainId) as SidechainRecord;
        const slashable = (u: UnbondingRecord) => !u.claimed && u.amount > 0n && ctx.block.height < u.releaseHeight;
        const slashUnbonding = (n: number, u: UnbondingRecord): void => {
          const bond = u.amount;
          ctx.view.put(key(a.chainId, 'unb', n), encode(UnbondingCodec, { ...u, amount: 0n, claimed: true }));
          const reward = pay(bond);
          ctx.emit('slashed', { chainId: a.chainId, unbonding: n, edPub: toHex(u.edPub), bond: bond.toString(), reward: reward.toString(), height: x.height, round: x.round });
        };
        // The set of the vote's height is known here by index (one record per epoch): one
        // signature check finds the offender whatever the set size, then its stake by key.
        const known = epochKeyAt(ctx, rec, x.height, x.validator);
        if (known && signedBy(known)) {
          const i = set.findIndex((v) => bytesEqual(v.edPub, known));
          if (i >= 0) return slashMember(i);
          for (let n = rec.unbondings - 1; n >= 0 && n >= rec.unbondings - MAX_VALIDATORS; n--) {
            const u = readUnbonding(ctx.view, a.chainId, n) as UnbondingRecord;
            if (slashable(u) && bytesEqual(u.edPub, known)) return slashUnbonding(n, u);
          }
          ev(`validator ${toHex(known)} signed both votes but has no bond left here (released or slashed)`, 'not-bonded');
        }
        for (const i of order) {
          if (!signedBy((set[i] as BondedValidator).edPub)) continue;
          return slashMember(i);
        }
        for (let n = rec.unbondings - 1; n >= 0 && n >= rec.unbondings - MAX_VALIDATORS; n--) {
          const u = readUnbonding(ctx.view, a.chainId, n) as UnbondingRecord;
          if (!slashable(u) || !signedBy(u.edPub)) continue;
          return slashUnbonding(n, u);
        }
        ev("a vote signature does not verify against any bonded or unbonding validator's key", 'bad-signature');
      },

      deposit(ctx, args) {
        const a = decode(ScDepositArgs, args);
        const rec = requireChain(ctx.view, a.chainId);
        if (a.amount <= 0n) throw new StrataError('SC_BRIDGE', 'deposit amount must be positive');
        transfer(ctx.view, ctx.sender, sidechainEscrow(a.chainId), a.amount);
        const id = rec.deposits++;
        ctx.view.put(key(a.chainId, 'dep', id), encode(DepositRecordCodec, { id, from: ctx.sender, to: a.to, amount: a.amount, l1Height: ctx.block.height }));
        ctx.view.put(key(a.chainId, 'record'), encode(RecordCodec, rec));
        ctx.emit('deposit', { chainId: a.chainId, id, from: toHex(ctx.sender), to: toHex(a.to), amount: a.amount.toString() });
      },

      withdraw(ctx, args) {
        const a = decode(ScL1WithdrawArgs, args, 2 * 1024 * 1024);
        requireChain(ctx.view, a.chainId);
        const w = a.withdrawal;
        const bad = (msg: string, reason: string): never => {
          throw new StrataError('SC_BRIDGE', msg, { reason, chainId: a.chainId, id: w.id });
        };
        if (isWithdrawn(ctx.view, a.chainId, w.id)) bad(`withdrawal ${w.id} was already paid`, 'already-withdrawn');
        const cp = readCheckpoint(ctx.view, a.chainId, a.checkpoint) ?? bad(`no checkpoint ${a.checkpoint}`, 'unknown-checkpoint');
        ctx.charge(a.proof.reduce((n, p) => n + Math.ceil(p.length / 32), 0) * ctx.config.compute.perWord * 4);
        let proven: Uint8Array | undefined;
        try {
          proven = verifyProof(cp.stateRoot, withdrawalKey(w.id), a.proof).value;
        } catch (e) {
          return bad(`withdrawal proof: ${(e as Error).message}`, 'bad-proof');
        }
        if (!proven || !bytesEqual(proven, encode(WithdrawalRecordCodec, w))) bad(`withdrawal ${w.id} is not in checkpoint ${a.checkpoint}'s state`, 'not-in-state');
        ctx.view.put(key(a.chainId, 'wd', w.id), new Uint8Array([1]));
        transfer(ctx.view, sidechainEscrow(a.chainId), w.l1Recipient, w.amount);
        ctx.emit('withdrawn', { chainId: a.chainId, id: w.id, to: toHex(w.l1Recipient), amount: w.amount.toString(), checkpoint: a.checkpoint });
      },
    },
  };
  return [registry];
}
