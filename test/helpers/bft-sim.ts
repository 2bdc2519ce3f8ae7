/**
 * Deterministic simulation of BFT validators: each runs the real ConsensusState (real ed25519
 * and BLS signatures, real privval) over a virtual clock and an in-memory network with seeded
 * delays. A byzantine validator is a script that signs whatever it likes with the raw keys.
 */
import { blake2b256, bytesEqual, decode, encode, struct, toHex, uint, utf8, varBytes } from '@strata/primitives';
import {
  blsKeyFromSeed,
  blsSign,
  ConsensusState,
  edKeyFromSeed,
  edSign,
  encodeMessage,
  MemorySignStateStore,
  PRECOMMIT,
  PREVOTE,
  PrivValidator,
  proposalDigest,
  ValidatorSet,
  voteDigest,
  type BlsKey,
  type Certificate,
  type ConsensusMessage,
  type EdKey,
  type Evidence,
  type Timeout,
  type TimeoutConfig,
  type Validator,
  type Vote,
} from '@strata/sidechain';

export const SIM_CHAIN_ID = 7001;

const SimBlock = struct('SimBlock', { height: uint, proposer: uint, salt: varBytes(32) });

export function simBlock(height: number, proposer: number, salt = 'a'): Uint8Array {
  return encode(SimBlock, { height, proposer, salt: utf8(salt) });
}

export interface SimKeys {
  ed: EdKey;
  bls: BlsKey;
}

export function simKeys(n: number): SimKeys[] {
  return Array.from({ length: n }, (_, i) => ({
    ed: edKeyFromSeed(blake2b256(utf8(`sim-ed-${i}`))),
    bls: blsKeyFromSeed(blake2b256(utf8(`sim-bls-${i}`))),
  }));
}

export function simValidators(keys: SimKeys[], powers?: bigint[]): Validator[] {
  return keys.map((k, i) => ({ edPub: k.ed.publicKey, blsPub: k.bls.publicKey, producer: new Uint8Array(20).fill(i + 1), power: powers?.[i] ?? 100n }));
}

interface Event {
  at: number;
  seq: number;
  fn: () => void;
}

/** Behaviour of a node in the sim. */
export type Behaviour = 'honest' | 'silent' | 'equivocate';

export interface SimNode {
  index: number;
  behaviour: Behaviour;
  state?: ConsensusState | undefined;
  decided: Map<number, { id: string; cert: Certificate }>;
  evidence: Evidence[];
  down: boolean;
}

/** Fast timeouts for the virtual clock. */
export const SIM_TIMEOUTS: TimeoutConfig = { proposeMs: 300, proposeDeltaMs: 100, prevoteMs: 200, prevoteDeltaMs: 100, precommitMs: 200, precommitDeltaMs: 100 };

export class BftSim {
  now = 0;
  private seq = 0;
  private queue: Event[] = [];
  private rand: () => number;
  readonly nodes: SimNode[] = [];
  readonly set: ValidatorSet;
  readonly keys: SimKeys[];
  /** Height each node will decide up to. */
  maxHeight = 1_000_000;

  constructor(behaviours: Behaviour[], seed = 1) {
    let s = seed >>> 0 || 1;
    this.rand = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4294967296;
    };
    this.keys = simKeys(behaviours.length);
    this.set = new ValidatorSet(simValidators(this.keys));
    behaviours.forEach((b, i) => {
      const node: SimNode = { index: i, behaviour: b, decided: new Map(), evidence: [], down: b === 'silent' };
      this.nodes.push(node);
      if (b === 'honest') this.boot(node);
    });
  }

  private at(delay: number, fn: () => void): void {
    this.queue.push({ at: this.now + delay, seq: this.seq++, fn });
  }

  /** (Re)starts an honest node from its last decided height (its privval survives). */
  private pvs = new Map<number, PrivValidator>();
  boot(node: SimNode): void {
    const k = this.keys[node.index] as SimKeys;
    let pv = this.pvs.get(node.index);
    if (!pv) {
      pv = new PrivValidator(SIM_CHAIN_ID, k.ed, k.bls, new MemorySignStateStore());
      this.pvs.set(node.index, pv);
    }
    node.down = false;
    const st = new ConsensusState(
      { chainId: SIM_CHAIN_ID, validators: () => this.set, privval: pv, timeouts: SIM_TIMEOUTS },
      {
        propose: (h) => simBlock(h, node.index),
        blockId: (b) => blake2b256(b),
        validate: (h, b) => decodeHeight(b) === h,
      },
      {
        broadcast: (m) => this.broadcast(node.index, m),
        schedule: (t: Timeout, ms) => this.at(ms, () => node.state === st && !node.down && st.handleTimeout(t)),
        decided: (h, block, cert) => {
          node.decided.set(h, { id: toHex(blake2b256(block)), cert });
          if (h < this.maxHeight) {
            this.at(5, () => {
              if (node.state !== st || node.down) return;
              st.startHeight(h + 1);
              st.begin();
            });
          }
        },
        evidence: (ev) => node.evidence.push(ev),
        missingBlock: (h) => this.catchUp(node, h),
        saveLock: () => {},
      },
    );
    node.state = st;
    // As the real driver does: re-broadcast this height's own messages now and then, so a
    // peer that was down when they were first sent still gets them.
    const tick = () => {
      if (node.state !== st || node.down) return;
      for (const m of st.ownMessages.slice(-4)) this.broadcast(node.index, m);
      this.at(1000, tick);
    };
    this.at(1000, tick);
    const next = Math.max(0, ...node.decided.keys()) + 1;
    st.startHeight(next);
    this.at(1, () => st.begin());
  }

  /** A node that missed a block learns it from a peer that decided it (sync). */
  private catchUp(node: SimNode, h: number): void {
    const peer = this.nodes.find((p) => p.decided.has(h));
    const d = peer?.decided.get(h);
    if (!d || !node.state) return;
    node.decided.set(h, d);
    const st = node.state;
    this.at(5, () => {
      if (node.state !== st) return;
      st.startHeight(h + 1);
      st.begin();
    });
  }

  kill(i: number): void {
    const n = this.nodes[i] as SimNode;
    n.down = true;
    n.state = undefined;
  }

  restart(i: number): void {
    const n = this.nodes[i] as SimNode;
    // A restarted validator first syncs the blocks it missed.
    const best = Math.max(0, ...this.nodes.flatMap((p) => [...p.decided.keys()]));
    for (let h = 1; h <= best; h++) {
      const d = this.nodes.find((p) => p !== n && p.decided.has(h))?.decided.get(h);
      if (d && !n.decided.has(h)) n.decided.set(h, d);
    }
    this.boot(n);
  }

  private broadcast(from: number, m: ConsensusMessage): void {
    for (const n of this.nodes) {
      if (n.index === from) continue;
      this.at(1 + Math.floor(this.rand() * 10), () => this.deliver(n, m));
    }
  }

  private deliver(n: SimNode, m: ConsensusMessage): void {
    if (n.down) return;
    if (n.behaviour === 'equivocate') {
      this.byzantineReact(n, m);
      return;
    }
    // Gossip: an accepted message, or a valid vote that conflicts with one already seen, is relayed.
    const k = `${n.index}:${toHex(blake2b256(encodeMessage(m)))}`;
    const evBefore = n.evidence.length;
    const res = n.state?.handleMessage(m);
    if (this.relayed.has(k)) return;
    if (res === 'ok' || n.evidence.length > evBefore) {
      this.relayed.add(k);
      this.broadcast(n.index, m);
    }
  }
  private relayed = new Set<string>();

  /** Runs the clock until `until` (virtual ms) or the predicate holds. */
  run(until: number, stop?: () => boolean): void {
    while (this.queue.length) {
      if (stop?.()) return;
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const e = this.queue[0] as Event;
      if (e.at > until) break;
      this.queue.shift();
      this.now = e.at;
      e.fn();
    }
    this.now = Math.max(this.now, until);
  }

  // ------------------------------------------------------------ the byzantine script

  private byzRounds = new Set<string>();

  /**
   * The equivocating validator: whenever it sees any message of (height, round) it proposes
   * two different blocks when it is the proposer (one to each half of the peers), and
   * prevotes and precommits BOTH a block of the round and nil, to different peers.
   */
  private byzantineReact(n: SimNode, m: ConsensusMessage): void {
    const height = m.kind === 'proposal' ? m.proposal.height : m.vote.height;
    const round = m.kind === 'proposal' ? m.proposal.round : m.vote.round;
    const key = `${height}/${round}`;
    if (this.byzRounds.has(key)) {
      if (m.kind === 'proposal') this.byzVoteFor(n, height, round, blake2b256(m.proposal.block));
      return;
    }
    this.byzRounds.add(key);
    const k = this.keys[n.index] as SimKeys;
    const peers = this.nodes.filter((p) => p.index !== n.index);
    const half = Math.ceil(peers.length / 2);
    if (this.set.proposer(height, round) === n.index) {
      const a = simBlock(height, n.index, 'A');
      const b = simBlock(height, n.index, 'B');
      peers.forEach((p, i) => {
        const block = i < half ? a : b;
        const id = blake2b256(block);
        const proposal = { height, round, polRound: 0, block, proposer: n.index, signature: edSign(k.ed, proposalDigest(SIM_CHAIN_ID, height, round, 0, id)) };
        this.at(1, () => this.deliver(p, { kind: 'proposal', proposal }));
      });
      this.byzVoteFor(n, height, round, blake2b256(a), blake2b256(b));
    }
    if (m.kind === 'proposal') this.byzVoteFor(n, height, round, blake2b256(m.proposal.block));
  }

  private byzVoted = new Set<string>();
  private byzVoteFor(n: SimNode, height: number, round: number, id: Uint8Array, other: Uint8Array = new Uint8Array(32)): void {
    const key = `${height}/${round}/${toHex(id)}`;
    if (this.byzVoted.has(key)) return;
    this.byzVoted.add(key);
    const k = this.keys[n.index] as SimKeys;
    const peers = this.nodes.filter((p) => p.index !== n.index);
    const half = Math.ceil(peers.length / 2);
    const vote = (type: number, h: Uint8Array): Vote => {
      const d = voteDigest(SIM_CHAIN_ID, type, height, round, h);
      return { type, height, round, blockHash: h, validator: n.index, signature: edSign(k.ed, d), bls: type === PRECOMMIT && !bytesEqual(h, new Uint8Array(32)) ? blsSign(k.bls, d) : new Uint8Array(0) };
    };
    peers.forEach((p, i) => {
      const h = i < half ? id : other;
      this.at(2, () => this.deliver(p, { kind: 'vote', vote: vote(PREVOTE, h) }));
      this.at(3, () => this.deliver(p, { kind: 'vote', vote: vote(PRECOMMIT, h) }));
    });
  }

  /** Honest nodes' decisions must agree at every height. Returns the highest common height. */
  checkAgreement(): number {
    const honest = this.nodes.filter((n) => n.behaviour === 'honest');
    const heights = new Set(honest.flatMap((n) => [...n.decided.keys()]));
    for (const h of heights) {
      const ids = new Set(honest.map((n) => n.decided.get(h)?.id).filter((x) => x !== undefined));
      if (ids.size > 1) throw new Error(`fork at height ${h}: ${[...ids].join(', ')}`);
    }
    return Math.min(...honest.filter((n) => !n.down).map((n) => Math.max(0, ...n.decided.keys())));
  }
}

function decodeHeight(b: Uint8Array): number {
  try {
    return decode(SimBlock, b).height;
  } catch {
    return -1;
  }
}
