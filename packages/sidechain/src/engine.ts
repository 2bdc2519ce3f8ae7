/**
 * The BFT engine of a sidechain node (`NodeOptions.engine`): runs the Tendermint state
 * machine for the node's chain. It proposes blocks built from the mempool (with the mints of
 * L1-final deposits first), checks proposals by executing them on the head, imports decided
 * blocks with their commit certificates, gossips proposals and votes, re-broadcasts its own
 * messages for peers that missed them, and catches up by syncing committed blocks with
 * certificates from peers. With a PrivValidator it is a validator; without, a full node.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { blockHash, decodeBlock, encodeBlock, merkleRoot, type Block, type Execution } from '@strata/chain';
import type { BlockEngine, StrataNode } from '@strata/node';
import { bigintToFixed, blake2b256, bytesEqual, bytesKey, decode, encode, fromHex, list, StrataError, struct, toHex, toStrataError, uint, varBytes, type KeyPair } from '@strata/primitives';
import { encodeTx, minimumFee, signTx, txHashOf, verifyRawTx, type VerifiedTx } from '@strata/runtime';
import { binaryDb, openDatabase } from '@strata/state';
import { bridgeTotals, deriveValidators, MintArgs, SC_BRIDGE_MODULE, SetChangeArgs, setChangeCount } from './bridge.js';
import { edVerify } from './crypto.js';
import { ConsensusState, type LockState, type Timeout } from './consensus.js';
import { CertificateCodec, decodeMessage, encodeMessage, PRECOMMIT, proposalDigest, verifyVoteSignature, type Certificate, type ConsensusMessage, type Evidence } from './messages.js';
import { SidechainMetrics } from './metrics.js';
import { BLOCKS_LIMITS, type BftNetwork, PROTO_BLOCKS, PROTO_STATUS, STATUS_LIMITS } from './network.js';
import type { PrivValidator } from './privval.js';
import type { DepositRecord } from './registry.js';
import type { SidechainSpec } from './spec.js';
import { ValidatorSet, type SetChange } from './validator-set.js';

/** Where final L1 deposits (and validator-set changes) come from (the L1 watcher). */
export interface DepositSource {
  /** Deposit `id` if it is final on the parent chain. */
  finalDeposit(id: number): DepositRecord | undefined;
  /** Validator-set change `id` if it is final on the parent chain. */
  finalSetChange?(id: number): SetChange | undefined;
}

/** Options of the engine. */
export interface BftEngineOptions {
  spec: SidechainSpec;
  /** Directory for the certificate store and the lock file (not the node's data dir). */
  consensusDir: string;
  privval?: PrivValidator;
  /** secp256k1 key of this validator's producer account (signs its mint transactions). */
  producerKey?: KeyPair;
  deposits?: DepositSource;
  /** Re-broadcast own messages of the current height this often (default 1000 ms). */
  rebroadcastMs?: number;
  /** Ask peers for their height this often (default 1500 ms). */
  syncIntervalMs?: number;
  /** Most future drift of a proposal's timestamp (default 5000 ms). */
  maxFutureMs?: number;
}

const SyncReq = struct('BftSyncReq', { from: uint, count: uint });
const SyncItem = struct('BftSyncItem', { block: varBytes(8 * 1024 * 1024), cert: varBytes(1024) });
const SyncResp = list(SyncItem, 64);
const StatusResp = struct('BftStatus', { height: uint });

const MINT_COMPUTE = 6_000;

interface Checked {
  block: Block;
  verified: VerifiedTx[];
  execution: Execution;
}

/** The BFT engine. */
export class BftEngine implements BlockEngine {
  readonly metrics: SidechainMetrics;
  consensus!: ConsensusState;
  private node!: StrataNode;
  private readonly genesisSet: ValidatorSet;
  /** Sets of the newest checkpoint periods (boundary → set of heights boundary+1 … boundary+interval). */
  private readonly periods = new Map<number, ValidatorSet>();
  private newestBoundary = -1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;
  private certs!: ReturnType<typeof binaryDb>;
  private db!: ReturnType<typeof openDatabase>;
  private readonly checked = new Map<string, Checked>();
  private readonly decoded = new Map<string, { block: Block; hash: Uint8Array }>();
  private heightStartedAt = Date.now();
  private lastCommitAt = Date.now();
  private seq = 0;
  private syncing = false;
  private importing = false;
  private readonly lockPath: string;
  /** Called with each committed height (tests, benchmarks). */
  onCommit: ((height: number, cert: Certificate) => void) | undefined;
  /** Called with double-sign evidence (the relayer posts it to the parent). */
  onEvidence: ((ev: Evidence) => void) | undefined;

  constructor(
    readonly opts: BftEngineOptions,
    readonly network: BftNetwork,
    private readonly log: Logger,
    metrics?: SidechainMetrics,
  ) {
    this.metrics = metrics ?? new SidechainMetrics();
    this.genesisSet = new ValidatorSet(opts.spec.validators);
    this.lockPath = join(opts.consensusDir, 'lock.json');
    network.onConsensusMessage(
      (d) => this.validateGossip(d),
      (d) => this.onGossip(d),
    );
    network.handle(PROTO_STATUS, STATUS_LIMITS, async () => encode(StatusResp, { height: this.node.chain.head.meta.height }));
    network.handle(PROTO_BLOCKS, BLOCKS_LIMITS, async (req) => this.serveBlocks(req));
  }

  /** This node's validator index at the next height (-1 for a full node or a non-member). */
  get index(): number {
    return this.opts.privval ? this.validators.indexOf(this.opts.privval.ed.publicKey) : -1;
  }

  /** The validator set of the next height. */
  get validators(): ValidatorSet {
    return this.node ? (this.setFor(this.node.chain.head.meta.height + 1) ?? this.genesisSet) : this.genesisSet;
  }

  /**
   * The validator set of sidechain height `h`: the genesis set with every parent set change
   * included at or before the last checkpoint height below `h` (a change included in block
   * `c ≤ boundary` takes effect at `boundary + 1`; the parent applies it when it accepts the
   * checkpoint at `boundary`). Undefined if that boundary is past our head (not yet known).
   */
  setFor(h: number): ValidatorSet | undefined {
    const interval = this.opts.spec.checkpointInterval;
    const boundary = Math.floor(Math.max(0, h - 1) / interval) * interval;
    const cached = this.periods.get(boundary);
    if (cached) return cached;
    if (!this.node || boundary > this.node.chain.head.meta.height) return undefined;
    const set = boundary === 0 ? this.genesisSet : new ValidatorSet(deriveValidators(this.opts.spec.validators, this.node.chain.stateReader, boundary));
    // Keep the newest few periods: heights are decided in the newest, and late votes of the
    // previous one keep arriving after a boundary (each would otherwise re-derive the set).
    if (boundary > this.newestBoundary) {
      const before = this.periods.get(this.newestBoundary);
      this.newestBoundary = boundary;
      if (before && before !== set && !sameSet(before, set)) this.log.info({ fromHeight: boundary + 1, validators: set.size, power: set.totalPower.toString(), index: this.opts.privval ? set.indexOf(this.opts.privval.ed.publicKey) : -1 }, 'validator set changed');
    }
    this.periods.set(boundary, set);
    if (this.periods.size > 4) this.periods.delete(Math.min(...this.periods.keys()));
    return set;
  }

  private requireSet(h: number): ValidatorSet {
    const s = this.setFor(h);
    if (!s) throw new StrataError('SC_CONSENSUS', `the validator set of height ${h} is not known yet (head ${this.node.chain.head.meta.height})`);
    return s;
  }

  async start(node: StrataNode): Promise<void> {
    this.node = node;
    this.db = openDatabase({ path: this.opts.consensusDir });
    this.certs = binaryDb(this.db, 'certs');
    this.running = true;
    const spec = this.opts.spec;
    this.consensus = new ConsensusState(
      { chainId: spec.chainId, validators: (h) => this.requireSet(h), ...(this.opts.privval ? { privval: this.opts.privval } : {}), timeouts: spec.timeouts },
      {
        propose: (h) => this.propose(h),
        blockId: (b) => this.decodeCached(b).hash,
        validate: (h, b) => this.validate(h, b),
      },
      {
        broadcast: (m) => this.publish(m),
        schedule: (t, ms) => this.schedule(t, ms),
        decided: (h, b, cert) => void this.onDecided(h, b, cert),
        evidence: (ev) => {
          this.metrics.evidence.inc();
          this.log.warn({ validator: ev.a.validator, height: ev.a.height, round: ev.a.round, type: ev.a.type }, 'double-sign evidence');
          this.onEvidence?.(ev);
        },
        missingBlock: (h) => {
          this.log.info({ height: h }, 'a block was committed without us; syncing');
          void this.syncOnce();
        },
        saveLock: (l) => this.saveLock(l),
        log: (msg, f) => this.log.debug(f ?? {}, msg),
      },
    );
    this.log.info({ validator: this.index, validators: this.validators.size, chainId: spec.chainId, height: node.chain.head.meta.height }, 'bft engine started');
    this.enterHeight();
    this.every(this.opts.rebroadcastMs ?? 1000, () => this.rebroadcast());
    this.every(this.opts.syncIntervalMs ?? 1500, () => void this.syncOnce());
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    while (this.importing || this.syncing) await new Promise((r) => setTimeout(r, 10));
    await this.db?.close();
  }

  private every(ms: number, fn: () => void): void {
    const tick = () => {
      if (!this.running) return;
      try {
        fn();
      } catch (e) {
        this.log.warn({ err: toStrataError(e).message }, 'bft loop error');
      }
      const t = setTimeout(tick, ms);
      this.timers.add(t);
    };
    const t = setTimeout(tick, ms);
    this.timers.add(t);
  }

  private schedule(t: Timeout, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.running) return;
      this.consensus.handleTimeout(t);
      this.metrics.round.set(this.consensus.round);
    }, ms);
    this.timers.add(timer);
  }

  // ---------------------------------------------------------------- heights

  private enterHeight(): void {
    const h = this.node.chain.head.meta.height + 1;
    this.checked.clear();
    this.decoded.clear();
    this.consensus.startHeight(h, this.loadLock(h));
    this.heightStartedAt = Date.now();
    this.metrics.height.set(h);
    this.metrics.round.set(0);
    this.waitForWork(h);
  }

  /** Begins round 0 when there is something to commit, or after the empty-block interval. */
  private waitForWork(h: number): void {
    const spec = this.opts.spec;
    const check = () => {
      if (!this.running || this.consensus.height !== h || this.consensus.step !== 'newHeight') return;
      const due = Date.now() - this.lastCommitAt >= spec.emptyBlockIntervalMs;
      if (due || this.node.mempool.size > 0 || this.pendingMints().length > 0 || this.pendingSetChanges().length > 0) {
        this.consensus.begin();
        return;
      }
      const t = setTimeout(check, 10);
      this.timers.add(t);
    };
    const t = setTimeout(check, spec.commitTimeoutMs);
    this.timers.add(t);
  }

  private async onDecided(h: number, bytes: Uint8Array, cert: Certificate): Promise<void> {
    this.importing = true;
    try {
      const { block, hash } = this.decodeCached(bytes);
      const c = this.checked.get(bytesKey(hash));
      this.certs.putSync(heightKey(h), encode(CertificateCodec, cert));
      await this.node.importDecided(block, c ? { verified: c.verified, execution: c.execution } : {}, 'bft');
      this.metrics.commits.inc();
      this.metrics.roundsPerHeight.observe(cert.round);
      this.metrics.commitSeconds.observe((Date.now() - this.heightStartedAt) / 1000);
      this.lastCommitAt = Date.now();
      this.log.info({ height: h, hash: toHex(hash), round: cert.round, txs: block.txs.length, signers: this.requireSet(h).powerOf(cert.signers).toString() }, 'block committed');
      this.onCommit?.(h, cert);
    } catch (e) {
      // A local fault (disk): the decision stands; sync re-imports it from peers.
      this.log.warn({ height: h, err: toStrataError(e).message }, 'importing a committed block failed; will sync');
    } finally {
      this.importing = false;
    }
    if (this.running) this.enterHeight();
  }

  private loadLock(h: number): LockState | undefined {
    if (!existsSync(this.lockPath)) return undefined;
    try {
      const j = JSON.parse(readFileSync(this.lockPath, 'utf8')) as { height: number; lockedRound: number; lockedBlock: string };
      if (j.height !== h) return undefined;
      return { height: j.height, lockedRound: j.lockedRound, lockedBlock: fromHex(j.lockedBlock) };
    } catch {
      return undefined;
    }
  }

  private saveLock(l: LockState): void {
    writeDurably(this.lockPath, JSON.stringify({ height: l.height, lockedRound: l.lockedRound, lockedBlock: l.lockedBlock ? toHex(l.lockedBlock) : '0x' }));
  }

  // ---------------------------------------------------------------- blocks

  private decodeCached(bytes: Uint8Array): { block: Block; hash: Uint8Array } {
    const k = bytesKey(blake2b256(bytes));
    let d = this.decoded.get(k);
    if (!d) {
      d = decodeProposedBlock(bytes);
      if (this.decoded.size > 64) this.decoded.clear();
      this.decoded.set(k, d);
    }
    return d;
  }

  /** Deposits final on the parent and not yet minted here, in order. */
  private pendingMints(): DepositRecord[] {
    const src = this.opts.deposits;
    if (!src || !this.opts.producerKey) return [];
    const out: DepositRecord[] = [];
    let id = bridgeTotals(this.node.chain.stateReader).nextDeposit;
    for (let i = 0; i < 100; i++, id++) {
      const d = src.finalDeposit(id);
      if (!d) break;
      out.push(d);
    }
    return out;
  }

  /** Parent set changes final there and not yet included here, in order. */
  private pendingSetChanges(): { id: number; change: SetChange }[] {
    const src = this.opts.deposits;
    if (!src?.finalSetChange || !this.opts.producerKey) return [];
    const out: { id: number; change: SetChange }[] = [];
    let id = setChangeCount(this.node.chain.stateReader);
    for (let i = 0; i < 64; i++, id++) {
      const c = src.finalSetChange(id);
      if (!c) break;
      out.push({ id, change: c });
    }
    return out;
  }

  private mintTxs(): VerifiedTx[] {
    const key = this.opts.producerKey;
    if (!key) return [];
    const cfg = this.node.opts.config;
    let nonce = this.node.chain.account(key.address).nonce;
    const sign = (method: string, args: Uint8Array) => {
      const fee = minimumFee(cfg, 400, MINT_COMPUTE);
      return verifyRawTx(encodeTx(signTx({ chainId: cfg.chainId, nonce: nonce++, fee, computeLimit: MINT_COMPUTE, module: SC_BRIDGE_MODULE, method, args }, key.secretKey)));
    };
    return [
      ...this.pendingSetChanges().map(({ id, change: c }) => sign('setChange', encode(SetChangeArgs, { changeId: id, kind: c.kind, edPub: c.edPub, blsPub: c.blsPub, producer: c.producer, amount: c.amount }))),
      ...this.pendingMints().map((d) => sign('mint', encode(MintArgs, { depositId: d.id, to: d.to, amount: d.amount }))),
    ];
  }

  private propose(h: number): Uint8Array {
    const producer = this.opts.producerKey?.address ?? this.requireSet(h).at(Math.max(0, this.index)).producer;
    const mints = this.mintTxs();
    const built = this.node.buildCandidate({ producer, timestamp: Math.max(Date.now(), this.node.chain.head.header.timestamp + 1), leading: mints });
    if (built.header.height !== h) throw new Error(`head moved: building ${built.header.height}, deciding ${h}`);
    const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    const hash = blockHash(block.header);
    this.checked.set(bytesKey(hash), { block, verified: built.execution.txs, execution: built.execution });
    if (mints.length) this.metrics.depositsMinted.inc(mints.length);
    return encodeBlock(block);
  }

  private validate(h: number, bytes: Uint8Array): boolean {
    const { block, hash } = this.decodeCached(bytes);
    const chain = this.node.chain;
    const head = chain.head;
    const why = (reason: string): boolean => {
      this.log.info({ height: h, hash: toHex(hash), reason }, 'proposal rejected');
      return false;
    };
    if (block.header.height !== h) return why(`height ${block.header.height}`);
    if (!bytesEqual(block.header.parentHash, head.hash)) return why('parent is not our head');
    try {
      chain.checkHeader(block.header, hash, head);
    } catch (e) {
      return why(toStrataError(e).message);
    }
    if (block.header.timestamp > Date.now() + (this.opts.maxFutureMs ?? 5000)) return why('timestamp too far in the future');
    const set = this.setFor(h);
    if (!set) return why('validator set of this height not known');
    if (!set.validators.some((v) => bytesEqual(v.producer, block.header.producer))) return why('producer is not a validator');
    let verified: VerifiedTx[];
    try {
      // Transactions gossiped to us were verified on admission: reuse them (same hash = same bytes).
      const max = this.node.opts.config.maxTxBytes;
      verified = block.txs.map((raw) => this.node.mempool.get(txHashOf(raw)) ?? verifyRawTx(raw, max));
    } catch (e) {
      return why(toStrataError(e).message);
    }
    // Mints must match deposits that are final on the parent (validators check the L1, the
    // runtime checks order and that only the producer mints).
    for (const t of verified) {
      if (t.tx.module === SC_BRIDGE_MODULE && t.tx.method === 'setChange') {
        const a = tryDecode(() => decode(SetChangeArgs, t.tx.args));
        if (!a) return why('malformed set change');
        const c = this.opts.deposits?.finalSetChange?.(a.changeId);
        if (!c || c.kind !== a.kind || !bytesEqual(c.edPub, a.edPub) || !bytesEqual(c.blsPub, a.blsPub) || !bytesEqual(c.producer, a.producer) || c.amount !== a.amount) {
          return why(`set change ${a.changeId} does not match a final parent set change`);
        }
        continue;
      }
      if (t.tx.module !== SC_BRIDGE_MODULE || t.tx.method !== 'mint') continue;
      let a: { depositId: number; to: Uint8Array; amount: bigint };
      try {
        a = decode(MintArgs, t.tx.args);
      } catch {
        return why('malformed mint');
      }
      const d = this.opts.deposits?.finalDeposit(a.depositId);
      if (!d || !bytesEqual(d.to, a.to) || d.amount !== a.amount) return why(`mint of deposit ${a.depositId} does not match a final L1 deposit`);
    }
    if (!bytesEqual(merkleRoot(verified.map((t) => t.hash)), block.header.txRoot)) return why('tx root does not match the transactions');
    let execution: Execution;
    try {
      execution = chain.execute(head.header.stateRoot, chain.store.state.flatReader, chain.store.state.nodeReader, block.header, verified);
    } catch (e) {
      return why(toStrataError(e).message);
    }
    if (!bytesEqual(execution.stateRoot, block.header.stateRoot)) return why('state root does not match execution');
    if (!bytesEqual(execution.receiptRoot, block.header.receiptRoot)) return why('receipt root does not match execution');
    this.checked.set(bytesKey(hash), { block, verified, execution });
    return true;
  }

  // ---------------------------------------------------------------- gossip

  private publish(m: ConsensusMessage): void {
    this.network.publishConsensus(encodeMessage(m, this.seq++));
  }

  private rebroadcast(): void {
    if (this.consensus.step === 'commit') return;
    for (const m of this.consensus.ownMessages.slice(-4)) this.publish(m);
  }

  private validateGossip(data: Uint8Array): 'accept' | 'reject' | 'ignore' {
    let m: ConsensusMessage;
    try {
      m = decodeMessage(data);
    } catch {
      this.metrics.messagesRejected.inc({ reason: 'decode' });
      return 'reject';
    }
    if (m.kind === 'vote') {
      const v = m.vote;
      if (v.height + 1 < this.consensus.height || v.height > this.consensus.height + 1) return 'ignore';
      const set = this.setFor(v.height);
      if (!set) return 'ignore';
      if (v.validator >= set.size) return 'reject';
      if (!verifyVoteSignature(this.opts.spec.chainId, v, set.at(v.validator).edPub)) {
        this.metrics.messagesRejected.inc({ reason: 'signature' });
        return 'reject';
      }
      return 'accept';
    }
    const p = m.proposal;
    if (p.height + 1 < this.consensus.height || p.height > this.consensus.height + 1) return 'ignore';
    const set = this.setFor(p.height);
    if (!set) return 'ignore';
    if (p.proposer >= set.size || p.proposer !== set.proposer(p.height, p.round)) return 'reject';
    // Relay only proposals the named proposer signed (and whose body matches the header).
    let id: Uint8Array;
    try {
      id = this.decodeCached(p.block).hash;
    } catch {
      this.metrics.messagesRejected.inc({ reason: 'decode' });
      return 'reject';
    }
    if (!edVerify(set.at(p.proposer).edPub, proposalDigest(this.opts.spec.chainId, p.height, p.round, p.polRound, id), p.signature)) {
      this.metrics.messagesRejected.inc({ reason: 'signature' });
      return 'reject';
    }
    return 'accept';
  }

  private onGossip(data: Uint8Array): void {
    if (!this.running || this.importing) {
      // The next height replays nothing from gossip: peers re-broadcast their messages.
      return;
    }
    let m: ConsensusMessage;
    try {
      m = decodeMessage(data);
    } catch {
      return;
    }
    const h = m.kind === 'vote' ? m.vote.height : m.proposal.height;
    if (h > this.consensus.height + 1) void this.syncOnce();
    const res = this.consensus.handleMessage(m);
    this.metrics.votesReceived.inc({ kind: m.kind === 'vote' ? (m.vote.type === PRECOMMIT ? 'precommit' : 'prevote') : 'proposal', result: res });
    this.metrics.round.set(this.consensus.round);
  }

  // ---------------------------------------------------------------- sync

  /** The certificate of a committed height. */
  certificate(height: number): Certificate | undefined {
    const raw = this.certs?.get(heightKey(height));
    return raw ? decode(CertificateCodec, raw) : undefined;
  }

  private async serveBlocks(req: Uint8Array): Promise<Uint8Array> {
    const r = decode(SyncReq, req);
    const items: { block: Uint8Array; cert: Uint8Array }[] = [];
    let bytes = 0;
    for (let h = r.from; h < r.from + Math.min(r.count, 64); h++) {
      const ref = this.node.chain.blockAt(h);
      const cert = this.certs.get(heightKey(h));
      if (!ref || !cert) break;
      const body = this.node.chain.store.getBody(ref.hash);
      if (!body) break;
      const block = encodeBlock({ header: ref.header, txs: body });
      bytes += block.length;
      if (bytes > 12 * 1024 * 1024) break;
      items.push({ block, cert });
    }
    return encode(SyncResp, items);
  }

  /** Asks peers for their height and imports committed blocks (with certificates) we lack. */
  async syncOnce(): Promise<number> {
    const p2p = this.network.p2p;
    if (this.syncing || !p2p || !this.running) return 0;
    this.syncing = true;
    let imported = 0;
    try {
      for (const peer of p2p.peers()) {
        let height: number;
        try {
          height = decode(StatusResp, await p2p.request(peer.id, PROTO_STATUS, new Uint8Array(0), STATUS_LIMITS)).height;
        } catch {
          continue;
        }
        while (this.running && height > this.node.chain.head.meta.height) {
          const from = this.node.chain.head.meta.height + 1;
          const items = decode(SyncResp, await p2p.request(peer.id, PROTO_BLOCKS, encode(SyncReq, { from, count: 32 }), BLOCKS_LIMITS), 16 * 1024 * 1024);
          if (items.length === 0) break;
          const before = imported;
          for (const it of items) {
            const block = decodeBlock(it.block);
            const cert = decode(CertificateCodec, it.cert);
            const hash = blockHash(block.header);
            if (cert.height !== block.header.height || !bytesEqual(cert.blockHash, hash)) {
              p2p.penalize(peer.id, 50, 'sync certificate for another block');
              throw new Error('certificate does not match block');
            }
            if (block.header.height !== this.node.chain.head.meta.height + 1) break;
            this.requireSet(block.header.height).verifyCertificate(this.opts.spec.chainId, cert);
            this.importing = true;
            try {
              this.certs.putSync(heightKey(block.header.height), it.cert);
              await this.node.importDecided(block, {}, 'bft-sync');
            } finally {
              this.importing = false;
            }
            imported++;
            this.metrics.syncedBlocks.inc();
            this.onCommit?.(block.header.height, cert);
          }
          // A peer that claims a height but serves nothing importable (e.g. old blocks again)
          // must not keep this loop, and with it every other sync, busy for ever.
          if (imported === before) {
            p2p.penalize(peer.id, 20, 'sync served no next block');
            break;
          }
        }
      }
    } catch (e) {
      this.log.info({ err: toStrataError(e).message }, 'sync attempt failed');
    } finally {
      this.syncing = false;
    }
    if (imported > 0) {
      this.lastCommitAt = Date.now();
      this.log.info({ imported, height: this.node.chain.head.meta.height }, 'caught up from peers');
      if (this.running && this.consensus.height <= this.node.chain.head.meta.height) this.enterHeight();
    }
    return imported;
  }
}

/**
 * Decodes a proposed block and its id (the header hash), checking that the body matches the
 * header's tx root: otherwise a peer could pair a proposer's signed header with another body
 * (same id, different bytes) and get that body kept and voted on. Throws DECODE_INVALID.
 */
export function decodeProposedBlock(bytes: Uint8Array): { block: Block; hash: Uint8Array } {
  const block = decodeBlock(bytes);
  if (!bytesEqual(merkleRoot(block.txs.map((raw) => txHashOf(raw))), block.header.txRoot)) {
    throw new StrataError('DECODE_INVALID', 'block transactions do not match the header tx root');
  }
  return { block, hash: blockHash(block.header) };
}

function tryDecode<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function sameSet(a: ValidatorSet, b: ValidatorSet): boolean {
  return a.size === b.size && a.validators.every((v, i) => bytesEqual(v.edPub, b.at(i).edPub) && v.power === b.at(i).power);
}

function heightKey(h: number): Uint8Array {
  return bigintToFixed(BigInt(h), 8);
}

/** Writes a small file atomically and durably (temp file, fsync, rename). */
export function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
