/**
 * The watchtower (BOLT 13's shape): clients send one encrypted justice blob per revoked state.
 * The blob is keyed by a hint derived from the revoked state's hash and encrypted
 * (ChaCha20-Poly1305) under a key derived from the same hash, so the tower learns nothing —
 * not the channel, not the amounts, not even which blobs belong together — until that exact state
 * is published on chain. Then the close log hands the tower the state hash; the hint finds the
 * blob, the key opens it, and the tower publishes the penalty with the breacher's own revocation.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bigintToFixed, blake2b256Parts, concatBytes, decode, encode, fixedBytes, fromHex, StrataError, struct, toHex, toStrataError, uint, utf8, type KeyPair } from '@strata/primitives';
import { RpcClient, RpcError, RpcServer, type MethodSpec } from '@strata/rpc';
import type { Logger } from 'pino';
import { PenalizeArgs } from './adjudicator.js';
import { AdjudicatorReader, sendAndWait, type ChainClient } from './chain-client.js';
import { edSignMsg, edVerifyMsg, sha256, type EdKey } from './crypto.js';
import { Driver } from './driver.js';
import { ChannelMetrics } from './metrics.js';
import { stateHash, type ChannelState } from './state.js';
import { ChannelStore } from './store.js';

/** What the tower needs to punish one revoked state. */
export interface Justice {
  channelId: Uint8Array;
  version: number;
  sig: Uint8Array;
}
const JusticeCodec = struct('Justice', { channelId: fixedBytes(32), version: uint, sig: fixedBytes(64) });

const NONCE = new Uint8Array(12);
/** Hint (16 bytes) under which a blob for a state with this hash is filed. */
export function towerHint(hash: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('strata-tower-hint'), hash)).subarray(0, 16);
}
function towerKey(hash: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('strata-tower-key!'), hash));
}

// `b:<hint>:<first 16 bytes of the blob's sha256>` (records of older versions: `b:<hint>`; both
// are found by the hint prefix)
function blobKey(hint: Uint8Array, blob: Uint8Array): string {
  return `b:${toHex(hint)}:${toHex(sha256(blob).subarray(0, 16))}`;
}

/** The client side: the blob for a revoked state. */
export function towerBlobFor(revoked: ChannelState, justice: Justice): { hint: Uint8Array; blob: Uint8Array } {
  const h = stateHash(revoked);
  // each key encrypts exactly one message, so a fixed nonce is safe
  return { hint: towerHint(h), blob: chacha20poly1305(towerKey(h), NONCE).encrypt(encode(JusticeCodec, justice)) };
}

/** How a channel node reaches a tower. */
export interface TowerClient {
  /** Sends blobs; `client` (the channel node's key) signs the submission, which the tower's per-client quota counts against. */
  submit(blobs: { hint: Uint8Array; blob: Uint8Array }[], client?: EdKey): Promise<void>;
}

const SUBMIT_PERSONAL = utf8('strata-tower-sub');
/** What a client signs for one `tower_submit`: every hint and blob, in order. */
export function towerSubmitDigest(items: { hint: Uint8Array; blob: Uint8Array }[]): Uint8Array {
  return blake2b256Parts(items.flatMap((i) => [i.hint, bigintToFixed(BigInt(i.blob.length), 4), i.blob]), SUBMIT_PERSONAL);
}

/** TowerClient over the tower's JSON-RPC (`tower_submit`). */
export class RpcTowerClient implements TowerClient {
  private readonly rpc: RpcClient;
  constructor(url: string) {
    this.rpc = new RpcClient(url);
  }
  async submit(blobs: { hint: Uint8Array; blob: Uint8Array }[], client?: EdKey): Promise<void> {
    const list = blobs.map((b) => [toHex(b.hint), toHex(b.blob)]);
    await this.rpc.call('tower_submit', client ? [list, { client: toHex(client.publicKey), sig: toHex(edSignMsg(client, towerSubmitDigest(blobs))) }] : [list]);
  }
}

/** Settings of a watchtower. */
export interface WatchtowerOptions {
  dataDir: string;
  /** Wallet that pays the penalty transactions' fees. */
  key: KeyPair;
  pollMs?: number;
  /** Most blobs kept (oldest are not evicted: submissions beyond it are refused). */
  maxBlobs?: number;
  /** Most blobs one client (one signing key) may keep here. Default 100,000. */
  maxBlobsPerClient?: number;
  /** Most blobs kept for unsigned submissions, all such clients together. Default 1,000. */
  maxAnonymousBlobs?: number;
}

/** Default per-client quota of a watchtower. */
export const TOWER_CLIENT_QUOTA = 100_000;

/** The watchtower service: blob store, close-log scanner, JSON-RPC. */
export class WatchtowerService {
  readonly metrics: ChannelMetrics;
  private readonly store: ChannelStore;
  private readonly driver: Driver;
  private readonly reader: AdjudicatorReader;
  private scanned = 0;
  private blobs = 0;
  private accepting: Promise<unknown> = Promise.resolve();
  private server: RpcServer | undefined;

  constructor(
    private readonly opts: WatchtowerOptions,
    private readonly deps: { chain: ChainClient; logger: Logger; metrics?: ChannelMetrics },
  ) {
    this.store = ChannelStore.open(opts.dataDir, { flushMs: 0 }); // an acknowledged blob is on disk: fsync per commit (few, small)
    this.metrics = deps.metrics ?? new ChannelMetrics();
    this.reader = new AdjudicatorReader(deps.chain);
    this.scanned = this.store.get<number>('scanned') ?? 0;
    this.blobs = this.store.list('b:').length;
    this.driver = new Driver('watchtower', opts.pollMs ?? 500, () => this.tick(), deps.logger, () => this.metrics.loopErrors.inc({ role: 'watchtower' }));
  }

  /**
   * Stores blobs; returns how many were new. `client` is the submitting key (its signature
   * checked by the RPC method), or undefined for an unsigned submission. Refused whole
   * (CHANNEL_LIMIT, nothing stored) when it would take the client past its quota or the tower
   * past `maxBlobs`.
   */
  accept(items: { hint: Uint8Array; blob: Uint8Array }[], client?: Uint8Array): Promise<number> {
    // one at a time: the quota and the blob count are read, checked and written as one step
    // (concurrent submissions each read the same committed count and together passed the quota)
    const run = this.accepting.then(() => this.acceptNow(items, client));
    this.accepting = run.catch(() => undefined);
    return run;
  }

  private async acceptNow(items: { hint: Uint8Array; blob: Uint8Array }[], client?: Uint8Array): Promise<number> {
    const max = this.opts.maxBlobs ?? 1_000_000;
    const quota = client ? (this.opts.maxBlobsPerClient ?? TOWER_CLIENT_QUOTA) : (this.opts.maxAnonymousBlobs ?? 1_000);
    const who = client ? toHex(client) : 'anonymous';
    const fresh: { hint: Uint8Array; blob: Uint8Array }[] = [];
    const seen = new Set<string>();
    for (const it of items) {
      if (it.hint.length !== 16 || it.blob.length > 256) throw new StrataError('CHANNEL_INVALID', 'a blob has a 16-byte hint and at most 256 bytes');
      // filed under hint and content: anyone may add a blob under a hint, nobody can pre-empt
      // another's (the breacher knows the revoked state's hash, so its hint, before the victim
      // files the real blob there)
      const k = blobKey(it.hint, it.blob);
      if (seen.has(k) || this.store.get(k)) continue;
      seen.add(k);
      fresh.push(it);
    }
    const used = this.store.get<number>(`q:${who}`) ?? 0;
    if (used + fresh.length > quota) throw new StrataError('CHANNEL_LIMIT', `client ${who.slice(0, 18)} would hold ${used + fresh.length} blobs, over its quota of ${quota}`, { client: who, used, quota });
    if (this.blobs + fresh.length > max) throw new StrataError('CHANNEL_LIMIT', `the tower holds ${this.blobs} blobs; ${fresh.length} more would pass its limit ${max}`);
    for (const it of fresh) void this.store.put(blobKey(it.hint, it.blob), it.blob);
    await this.store.put(`q:${who}`, used + fresh.length);
    this.blobs += fresh.length;
    this.metrics.towerBlobs.inc(fresh.length);
    return fresh.length;
  }

  /** Scans new close-log entries; punishes breaches it holds blobs for. */
  async tick(): Promise<void> {
    const count = await this.reader.closeCount();
    while (this.scanned < count) {
      const e = await this.reader.closeEntry(this.scanned);
      if (e) {
        const blobs = this.store.list<Uint8Array>(`b:${toHex(towerHint(e.stateHash))}`).map(([, b]) => b);
        if (blobs.length > 0) await this.punish(e.stateHash, blobs);
      }
      this.scanned++;
      await this.store.put('scanned', this.scanned);
    }
  }

  private async punish(hash: Uint8Array, blobs: Uint8Array[]): Promise<void> {
    let j: Justice | undefined;
    for (const blob of blobs) {
      try {
        j = decode(JusticeCodec, chacha20poly1305(towerKey(hash), NONCE).decrypt(blob));
        break;
      } catch {
        // someone else's (or junk) under the same hint: try the next one
      }
    }
    if (!j) {
      this.deps.logger.warn({ hint: toHex(towerHint(hash)), blobs: blobs.length }, 'watchtower: no blob under this hint decrypts (not ours to act on)');
      return;
    }
    const rec = await this.reader.channel(j.channelId);
    if (!rec || rec.status !== 1) return;
    try {
      await sendAndWait(this.deps.chain, this.opts.key, 'penalize', encode(PenalizeArgs, j));
      this.metrics.towerPenalties.inc();
      this.deps.logger.warn({ channelId: toHex(j.channelId), revokedVersion: j.version }, 'watchtower: breach punished, penalty published');
    } catch (e) {
      this.deps.logger.warn({ channelId: toHex(j.channelId), error: toStrataError(e).message }, 'watchtower: penalty failed');
    }
  }

  /** RPC methods: `tower_submit([[hint, blob], …])`, `tower_info`. */
  rpcMethods(): Record<string, MethodSpec> {
    return {
      tower_submit: {
        minParams: 1,
        maxParams: 2,
        description: 'Stores encrypted justice blobs: [[hint(16 bytes hex), blob(hex)], …] (at most 10,000 per call).',
        handler: async (p) => {
          const list = p[0];
          if (!Array.isArray(list) || list.length > 10_000) throw RpcError.invalidParams('parameter 0 must be a list of at most 10000 [hint, blob] pairs');
          const items = list.map((x, i) => {
            try {
              return { hint: fromHex(String((x as unknown[])[0]), 16), blob: fromHex(String((x as unknown[])[1])) };
            } catch (e) {
              throw RpcError.invalidParams(`item ${i}: ${(e as Error).message}`);
            }
          });
          let client: Uint8Array | undefined;
          if (p[1] !== undefined) {
            const auth = p[1] as { client?: unknown; sig?: unknown };
            let key: Uint8Array;
            let sig: Uint8Array;
            try {
              key = fromHex(String(auth?.client), 32);
              sig = fromHex(String(auth?.sig), 64);
            } catch (e) {
              throw RpcError.invalidParams(`parameter 1: expected { client: 32-byte key, sig: 64-byte signature }: ${(e as Error).message}`);
            }
            if (!edVerifyMsg(key, towerSubmitDigest(items), sig)) throw RpcError.invalidParams('parameter 1: the client signature does not cover these blobs');
            client = key;
          }
          return { stored: await this.accept(items, client) };
        },
      },
      tower_info: { maxParams: 0, handler: () => ({ blobs: this.blobs, scannedCloses: this.scanned, wallet: toHex(this.opts.key.address) }) },
    };
  }

  async start(rpc?: { host?: string; port?: number }): Promise<string | undefined> {
    this.driver.start();
    if (rpc) {
      this.server = new RpcServer({ host: rpc.host ?? '127.0.0.1', port: rpc.port ?? 0 }, { logger: this.deps.logger });
      this.server.registerAll(this.rpcMethods());
      await this.server.start();
      this.deps.logger.info({ rpc: this.server.url, blobs: this.blobs }, 'watchtower started');
      return this.server.url;
    }
    return undefined;
  }

  /** Runs one scan now (tests). */
  async poll(): Promise<void> {
    await this.driver.kick();
  }

  async stop(): Promise<void> {
    await this.driver.stop();
    await this.server?.stop();
    await this.store.close();
  }
}
