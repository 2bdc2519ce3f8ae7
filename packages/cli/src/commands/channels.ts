/**
 * `strata channel node | watchtower | open | close | list | peers | invoice | pay | graph | balance`
 * and `strata swap`: run a channel node or a watchtower, and talk to a channel node over its
 * JSON-RPC (`--node-rpc URL`, or on the devnet `--node alice|bob|carol`, default alice).
 */
import type { Command } from 'commander';
import { ChannelNode, DEFAULT_CLOSE_CONFIRMATIONS, ForcedInclusionChainClient, RpcChainClient, RpcTowerClient, runAtomicSwap, startChannelRpc, WatchtowerService, withClaimKey, type ChainClient } from '@strata/channels';
import { CHANNEL_NODE_NAMES, devAccounts, devnetChannelRpcUrl, type ChannelNodeName } from '@strata/devnet';
import { fromHex, keyPairFromSecret, StrataError, type KeyPair } from '@strata/primitives';
import { RpcClient } from '@strata/rpc';
import { readDevnetEndpoints, resolveLayer } from '../layers.js';
import { createLogger } from '../logger.js';
import { fail, print } from '../output.js';

interface ClientFlags {
  node: string;
  nodeRpc?: string;
  layer?: string;
  json?: boolean;
}

/**
 * The channel node's RPC: `--node-rpc`, else node `--node` of the channels layer `--layer` names
 * (default: the running devnet's channel network), else the devnet's default ports.
 */
export function channelNodeRpc(f: Pick<ClientFlags, 'node' | 'nodeRpc' | 'layer'>): string {
  if (f.nodeRpc) return f.nodeRpc;
  if (f.layer !== undefined || readDevnetEndpoints()) {
    const { layer } = resolveLayer(f.layer, ['channels'], 'channels');
    const members = layer.members ?? [{ name: CHANNEL_NODE_NAMES[0], rpc: layer.rpc }];
    const m = members.find((x) => x.name === f.node);
    if (!m) throw new StrataError('CONFIG_INVALID', `--node must be one of ${members.map((x) => x.name).join(', ')} on layer ${layer.name} (or give --node-rpc URL)`);
    return m.rpc;
  }
  if (!(CHANNEL_NODE_NAMES as readonly string[]).includes(f.node)) throw new StrataError('CONFIG_INVALID', `--node must be one of ${CHANNEL_NODE_NAMES.join(', ')} (or give --node-rpc URL)`);
  const l1Port = Number(process.env.STRATA_DEVNET_PORT ?? 8545);
  return devnetChannelRpcUrl(f.node as ChannelNodeName, l1Port);
}

function clientOf(f: ClientFlags): RpcClient {
  return new RpcClient(channelNodeRpc(f), { timeoutMs: 120_000 });
}

/** The two chains of `strata swap`: `--l1-rpc`/`--l2-rpc`, else layer `--layer` (default l2) and its parent. */
export function swapEndpoints(f: { l1Rpc?: string; l2Rpc?: string; layer?: string }): { l1Rpc: string; l2Rpc: string; names: [string, string] } {
  const env = (k: string) => (f.layer === undefined ? process.env[k] : undefined);
  let found: ReturnType<typeof resolveLayer> | undefined;
  const pair = () => (found ??= resolveLayer(f.layer, ['optimistic', 'l3'], 'l2'));
  const l2Rpc = f.l2Rpc ?? env('STRATA_L2_RPC') ?? pair().layer.rpc;
  const l1Rpc = f.l1Rpc ?? env('STRATA_RPC') ?? pair().parent?.rpc ?? 'http://127.0.0.1:8545';
  return { l1Rpc, l2Rpc, names: found ? [found.parent?.name ?? 'l1', found.layer.name] : ['l1', 'l2'] };
}

function keyOf(v: string, what: string): KeyPair {
  if (/^\d+$/.test(v)) {
    const a = devAccounts('st', Number(v) + 1)[Number(v)];
    if (!a) throw new StrataError('INVALID_KEY', `no dev account ${v}`);
    return a.keys;
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(v)) return keyPairFromSecret(fromHex(v, 32));
  throw new StrataError('INVALID_KEY', `${what} must be a dev account index or a 0x secret key`);
}

function amount(v: string, name: string): string {
  if (!/^\d+$/.test(v) || BigInt(v) === 0n) throw new StrataError('CONFIG_INVALID', `${name} must be a positive whole number of base units`);
  return v;
}

function client(cmd: Command): Command {
  return cmd
    .option('--node <name>', 'devnet channel node: alice, bob or carol', 'alice')
    .option('--layer <name>', 'the channels layer of the running devnet (default: its channel network)')
    .option('--node-rpc <url>', 'channel node JSON-RPC endpoint (overrides --node and --layer)')
    .option('--json', 'print machine-readable JSON');
}

/** Runs `fn` against the chosen node and prints the result. */
function act<T>(f: ClientFlags, fn: (c: RpcClient) => Promise<T>, text: (r: T) => string): Promise<void> {
  return fn(clientOf(f)).then(
    (r) => print(!!f.json, r, () => text(r)),
    (e) => fail(!!f.json, e),
  );
}

export function registerChannelCommands(program: Command): void {
  /** The parent chain's client; on an optimistic L2 with `--force-via-l1`, one that forces censored transactions through the L1 inbox. */
  const parentClient = (f: { chainRpc: string; forceViaL1?: string; rollupId?: string; forceAfter: string }): ChainClient => {
    const l2 = new RpcChainClient(f.chainRpc);
    if (!f.forceViaL1) return l2;
    const rollupId = Number(f.rollupId);
    const after = Number(f.forceAfter);
    if (f.rollupId === undefined || !Number.isInteger(rollupId) || rollupId < 0) throw new StrataError('CONFIG_INVALID', '--force-via-l1 needs --rollup-id <id> (the L2\'s rollup id on that L1)');
    if (!Number.isInteger(after) || after < 1) throw new StrataError('CONFIG_INVALID', '--force-after must be a positive number of L1 blocks');
    return new ForcedInclusionChainClient(l2, { l1Url: f.forceViaL1, rollupId, forceAfterL1Blocks: after });
  };
  const forceOptions = (c: Command): Command =>
    c
      .option('--force-via-l1 <url>', 'parent is an optimistic L2: force transactions its sequencer leaves out through the L1 inbox at this L1 JSON-RPC')
      .option('--rollup-id <id>', "with --force-via-l1: the L2's rollup id on the L1")
      .option('--force-after <l1Blocks>', 'with --force-via-l1: L1 blocks a transaction may stay out of the L2 before it is forced', '4');

  const ch = program.command('channel').description('Payment channels: run a channel node or watchtower, open, pay, close (Lightning-style)');

  forceOptions(ch.command('node'))
    .description('Run a channel node daemon: node key, libp2p peers, channels in lmdb, JSON-RPC')
    .requiredOption('--chain-rpc <url>', 'JSON-RPC of the parent chain (L1 or L2) running the channel adjudicator')
    .requiredOption('--data-dir <dir>', 'data directory (identity, channels database, p2p key)')
    .option('--alias <name>', 'name announced to the network', 'node')
    .option('--host <host>', 'RPC host', '127.0.0.1')
    .option('--port <port>', 'RPC port (0: a free one)', '0')
    .option('--listen <multiaddr>', 'libp2p listen address', '/ip4/127.0.0.1/tcp/0')
    .option('--peer <multiaddr...>', 'channel nodes to connect to at start')
    .option('--wallet-key <0xsecret|index>', 'wallet key on the parent chain (default: generated, kept in the data dir)')
    .option('--watchtower <url>', 'watchtower JSON-RPC to send justice blobs to')
    .option('--to-self-delay <blocks>', 'dispute delay of the channels this node opens (on the devnet L2 at least 25: 2 × sequencing window + force-after + 1)', '6')
    .option('--close-confirmations <blocks>', "blocks a final on-chain close (or an HTLC's expiry) must be deep before our HTLCs it lacks fail back off chain (the L1's finality depth; on an L2, L1-origin blocks)", String(DEFAULT_CLOSE_CONFIRMATIONS))
    .option('--log-level <level>', 'log level', 'info')
    .action(async (f: { chainRpc: string; dataDir: string; alias: string; host: string; port: string; listen: string; peer?: string[]; walletKey?: string; watchtower?: string; toSelfDelay: string; closeConfirmations: string; logLevel: string; forceViaL1?: string; rollupId?: string; forceAfter: string }) => {
      try {
        const logger = createLogger({ level: f.logLevel });
        const toSelfDelay = Number(f.toSelfDelay);
        if (!Number.isInteger(toSelfDelay) || toSelfDelay < 1 || toSelfDelay > 2016) throw new StrataError('CONFIG_INVALID', `--to-self-delay must be a whole number of blocks from 1 to 2016, got ${f.toSelfDelay}`);
        const closeConfirmations = Number(f.closeConfirmations);
        const node = await ChannelNode.create(
          { dataDir: f.dataDir, alias: f.alias, listen: [f.listen], bootnodes: f.peer ?? [], toSelfDelay, closeConfirmations, ...(f.walletKey ? { walletKey: keyOf(f.walletKey, '--wallet-key').secretKey } : {}) },
          { chain: parentClient(f), logger, ...(f.watchtower ? { tower: new RpcTowerClient(f.watchtower) } : {}) },
        );
        await node.start();
        for (const p of f.peer ?? []) await node.connect(p).catch((e) => logger.warn({ peer: p, error: (e as Error).message }, 'cannot connect to peer'));
        const rpc = await startChannelRpc(node, { host: f.host, port: Number(f.port) }, logger);
        logger.info({ rpc: rpc.url, nodeKey: node.info().nodeKey, addrs: node.p2p.multiaddrs }, 'channel node running (Ctrl-C stops)');
        process.stdout.write(`channel node ${f.alias}: RPC ${rpc.url}  p2p ${node.p2p.multiaddrs[0] ?? ''}\n`);
        const stop = async () => {
          await rpc.stop();
          await node.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop());
        process.on('SIGTERM', () => void stop());
      } catch (e) {
        fail(false, e);
      }
    });

  forceOptions(ch.command('watchtower'))
    .description('Run a watchtower: stores encrypted justice blobs, publishes penalties for breaches')
    .requiredOption('--chain-rpc <url>', 'JSON-RPC of the parent chain')
    .requiredOption('--data-dir <dir>', 'data directory')
    .option('--key <0xsecret|index>', 'key that pays penalty fees (default: dev account 3)', '3')
    .option('--host <host>', 'RPC host', '127.0.0.1')
    .option('--port <port>', 'RPC port (0: a free one)', '0')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (f: { chainRpc: string; dataDir: string; key: string; host: string; port: string; logLevel: string; forceViaL1?: string; rollupId?: string; forceAfter: string }) => {
      try {
        const logger = createLogger({ level: f.logLevel });
        const tower = new WatchtowerService({ dataDir: f.dataDir, key: keyOf(f.key, '--key') }, { chain: parentClient(f), logger });
        const url = await tower.start({ host: f.host, port: Number(f.port) });
        process.stdout.write(`watchtower: RPC ${url}\n`);
        const stop = async () => {
          await tower.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop());
        process.on('SIGTERM', () => void stop());
      } catch (e) {
        fail(false, e);
      }
    });

  client(ch.command('open').description('Open a channel to a peer: fund it on chain and announce it'))
    .argument('<peer>', 'peer node key (0x…, connected) or multiaddr (…/p2p/<id>)')
    .argument('<capacity>', 'base units locked in the channel')
    .option('--push <units>', 'base units given to the peer at open', '0')
    .action((peer: string, capacity: string, f: ClientFlags & { push: string }) =>
      act(f, (c) => c.call<{ channelId: string }>('channel_open', [peer, amount(capacity, '<capacity>'), f.push]), (r) => `channel ${r.channelId} open and announced`),
    );

  client(ch.command('close').description('Close a channel: cooperatively (one transaction), or --force (unilateral, waits out the dispute delay)'))
    .argument('<channelId>', 'channel id (0x…)')
    .option('--force', 'unilateral close with the latest signed state')
    .action((id: string, f: ClientFlags & { force?: boolean }) =>
      act(f, (c) => c.call<{ how: string; height: number }>('channel_close', [id, !!f.force]), (r) => `channel closed (${r.how}) at block ${r.height}`),
    );

  client(ch.command('list').description('List channels with balances'))
    .action((f: ClientFlags) =>
      act(
        f,
        (c) => c.call<{ channelId: string; peerAlias: string | null; peer: string; status: string; capacity: string; local: string; remote: string; htlcs: number }[]>('channel_list'),
        (r) => (r.length === 0 ? 'no channels' : r.map((x) => `${x.channelId.slice(0, 18)}…  ${x.status.padEnd(7)}  peer ${x.peerAlias ?? x.peer.slice(0, 14)}  capacity ${x.capacity}  local ${x.local}  remote ${x.remote}${x.htlcs ? `  htlcs ${x.htlcs}` : ''}`).join('\n')),
      ),
    );

  client(ch.command('peers').description('List connected peers (--connect <multiaddr> to add one)'))
    .option('--connect <multiaddr>', 'connect to this channel node first')
    .action((f: ClientFlags & { connect?: string }) =>
      act(
        f,
        async (c) => {
          if (f.connect) await c.call('channel_connect', [f.connect]);
          return c.call<{ alias: string; nodeKey: string; peerId: string; channels: number }[]>('channel_peers');
        },
        (r) => (r.length === 0 ? 'no peers' : r.map((p) => `${p.alias.padEnd(8)} ${p.nodeKey}  channels ${p.channels}`).join('\n')),
      ),
    );

  client(ch.command('invoice').description('Create an invoice (BOLT 11 style, bech32)'))
    .argument('<amount>', 'base units')
    .option('--description <text>', 'what it is for', '')
    .option('--expiry <seconds>', 'how long it can be paid', '3600')
    .action((amt: string, f: ClientFlags & { description: string; expiry: string }) =>
      act(f, (c) => c.call<{ invoice: string; paymentHash: string }>('channel_invoice', [amount(amt, '<amount>'), f.description, Number(f.expiry)]), (r) => r.invoice),
    );

  client(ch.command('pay').description('Pay an invoice (multi-hop, onion-routed, multi-path when needed)'))
    .argument('<invoice>', 'the invoice text')
    .option('--max-parts <n>', 'most parts a multi-path payment splits into', '8')
    .action((inv: string, f: ClientFlags & { maxParts: string }) =>
      act(
        f,
        (c) => c.call<{ preimage: string; amount: string; fee: string; parts: number; routes: { hops: string[] }[]; ms: number }>('channel_pay', [inv, { maxParts: Number(f.maxParts) }]),
        (r) => `paid ${r.amount} (fee ${r.fee}) in ${r.ms} ms over ${r.parts} route(s): ${r.routes.map((x) => x.hops.join(' → ')).join(' | ')}\npreimage ${r.preimage}`,
      ),
    );

  client(ch.command('graph').description('The channel graph this node knows'))
    .action((f: ClientFlags) =>
      act(
        f,
        (c) => c.call<{ nodes: { alias: string; nodeKey: string }[]; channels: { channelId: string; nodeA: string; nodeB: string; capacity: string }[] }>('channel_graph'),
        (r) => {
          const name = (k: string) => r.nodes.find((n) => n.nodeKey === k)?.alias ?? k.slice(0, 14);
          return [`${r.nodes.length} nodes, ${r.channels.length} channels`, ...r.channels.map((x) => `  ${name(x.nodeA)} — ${name(x.nodeB)}  capacity ${x.capacity}  ${x.channelId.slice(0, 18)}…`)].join('\n');
        },
      ),
    );

  client(ch.command('balance').description('On-chain wallet balance and the sum of channel balances'))
    .action((f: ClientFlags) =>
      act(f, (c) => c.call<{ onchain: string; channels: string; pending: string; wallet: string }>('channel_balance'), (r) => `on chain ${r.onchain}  in channels ${r.channels}  pending out ${r.pending}  (wallet ${r.wallet})`),
    );

  program
    .command('swap')
    .description('Atomic swap between the L1 and the optimistic L2 (hash-time-locked on both; completes on both or refunds on both)')
    .option('--from <chain>', 'chain the initiator pays on: l1 or l2', 'l1')
    .requiredOption('--amount <units>', 'what the initiator locks')
    .option('--receive <units>', 'what the counterparty locks (default: the same)')
    .option('--initiator <account>', 'initiator: dev account index or 0x secret', '0')
    .option('--counterparty <account>', 'counterparty: dev account index or 0x secret', '1')
    .option('--layer <name>', 'the rollup layer to swap with, against its parent (default l2, with l1; l3 swaps with l2)')
    .option('--l1-rpc <url>', 'parent chain JSON-RPC (overrides --layer; default $STRATA_RPC or the layer\'s parent)')
    .option('--l2-rpc <url>', 'rollup JSON-RPC (overrides --layer; default $STRATA_L2_RPC or the layer\'s)')
    .option('--timeout <blocks>', "initiator's lock in blocks (the counterparty's is half)", '40')
    .option('--abandon', 'the counterparty walks away after both lock: demonstrates the refunds')
    .option('--json', 'print machine-readable JSON')
    .action(async (f: { from: string; amount: string; receive?: string; initiator: string; counterparty: string; l1Rpc?: string; l2Rpc?: string; layer?: string; timeout: string; abandon?: boolean; json?: boolean }) => {
      try {
        if (f.from !== 'l1' && f.from !== 'l2') throw new StrataError('CONFIG_INVALID', '--from must be l1 or l2');
        const i = keyOf(f.initiator, '--initiator');
        const c = keyOf(f.counterparty, '--counterparty');
        const ends = swapEndpoints(f);
        const l1 = new RpcChainClient(ends.l1Rpc);
        const l2 = new RpcChainClient(ends.l2Rpc);
        const [x, y] = f.from === 'l1' ? [l1, l2] : [l2, l1];
        const t = Number(f.timeout);
        const legX = withClaimKey({ chain: x, payer: i, receiver: c.address, amount: BigInt(amount(f.amount, '--amount')), timeout: t }, c);
        const legY = withClaimKey({ chain: y, payer: c, receiver: i.address, amount: BigInt(amount(f.receive ?? f.amount, '--receive')), timeout: Math.max(2, Math.floor(t / 2)) }, i);
        const logger = createLogger({ level: f.json ? 'silent' : 'info' });
        const r = await runAtomicSwap(legX, legY, { log: logger, ...(f.abandon ? { stopAfter: 'both-locked' as const } : {}) });
        print(!!f.json, r, () => `swap ${r.status}: ${r.legs.map((l) => `${l.swapId.slice(0, 18)}… ${l.status}`).join(', ')}`);
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
