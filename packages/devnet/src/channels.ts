/**
 * The devnet's payment-channel network, as Polar sets one up: three channel nodes (Alice, Bob,
 * Carol) on the L1 with the channels Alice–Bob and Bob–Carol funded, announced and in everyone's
 * graph, so `strata channel pay` from Alice to Carol works right after start. Each node has its
 * data dir under the devnet's, a dev account as wallet, and its JSON-RPC on L1 port + 20/21/22.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ChannelMetrics, ChannelNode, RpcChainClient, startChannelRpc } from '@strata/channels';
import { bytesEqual, fromHex, toHex, toStrataError } from '@strata/primitives';
import type { RpcServer } from '@strata/rpc';
import type { DevAccount } from './accounts.js';

/** The three devnet channel nodes, in order. */
export const CHANNEL_NODE_NAMES = ['alice', 'bob', 'carol'] as const;
export type ChannelNodeName = (typeof CHANNEL_NODE_NAMES)[number];
/** Channel node RPC port = L1 port + this + index (8565, 8566, 8567 for the default 8545). */
export const CHANNEL_RPC_PORT_OFFSET = 20;
/** Dev accounts that fund the channel nodes' wallets (1, 2, 3; the roles of the other layers use the last ones). */
export const CHANNEL_WALLET_ACCOUNTS = [1, 2, 3] as const;
/** Capacity of each devnet channel, base units. */
export const DEVNET_CHANNEL_CAPACITY = 10_000_000n;

/** The RPC URL of a devnet channel node (what `--node alice|bob|carol` resolves to). */
export function devnetChannelRpcUrl(name: ChannelNodeName, l1Port = 8545, host = '127.0.0.1'): string {
  return `http://${host}:${l1Port + CHANNEL_RPC_PORT_OFFSET + CHANNEL_NODE_NAMES.indexOf(name)}`;
}

/** A running devnet channel network. */
export interface DevnetChannels {
  nodes: { name: ChannelNodeName; node: ChannelNode; rpc: RpcServer; rpcUrl: string }[];
  /** Alice–Bob and Bob–Carol channel ids (hex). */
  channels: string[];
  stop(): Promise<void>;
}

/** Starts Alice, Bob and Carol against the L1 RPC, opens and announces the two channels (or resumes them). */
export async function startDevnetChannels(
  l1RpcUrl: string,
  accounts: DevAccount[],
  opts: { dataDir: string; host: string; l1Port: number },
  logger: Logger,
): Promise<DevnetChannels> {
  const log = logger.child({ layer: 'channels' });
  const metrics = new ChannelMetrics();
  const nodes: DevnetChannels['nodes'] = [];
  try {
    for (const [i, name] of CHANNEL_NODE_NAMES.entries()) {
      const wallet = accounts[CHANNEL_WALLET_ACCOUNTS[i] as number] as DevAccount;
      const node = await ChannelNode.create(
        { dataDir: join(opts.dataDir, 'channels', name), alias: name, walletKey: wallet.keys.secretKey, pollMs: 500, toSelfDelay: 6 },
        { chain: new RpcChainClient(l1RpcUrl), logger: log, metrics },
      );
      await node.start();
      const rpc = await startChannelRpc(node, { host: opts.host, port: opts.l1Port === 0 ? 0 : opts.l1Port + CHANNEL_RPC_PORT_OFFSET + i }, log);
      nodes.push({ name, node, rpc, rpcUrl: rpc.url });
    }
    const [alice, bob, carol] = nodes.map((n) => n.node) as [ChannelNode, ChannelNode, ChannelNode];
    const bobKey = await alice.connect(bob.p2p.multiaddrs[0] as string);
    const carolKey = await bob.connect(carol.p2p.multiaddrs[0] as string);
    const existing = (from: ChannelNode, peer: Uint8Array) => from.list().find((c) => c.status === 'open' && c.initiator === true && bytesEqual(fromHex(String(c.peer), 32), peer));
    const found = (from: ChannelNode, peer: Uint8Array) => {
      const c = existing(from, peer);
      return c ? fromHex(String(c.channelId), 32) : undefined;
    };
    const ab = found(alice, bobKey) ?? (await alice.openChannel(bobKey, DEVNET_CHANNEL_CAPACITY));
    const bc = found(bob, carolKey) ?? (await bob.openChannel(carolKey, DEVNET_CHANNEL_CAPACITY));
    // announced and in Alice's graph with both directions' policies before the banner prints
    const deadline = Date.now() + 20_000;
    for (;;) {
      const g = alice.graph;
      const ready = [ab, bc].every((id) => {
        const c = g.channel(id);
        return c?.policies[0] && c.policies[1];
      });
      if (ready) break;
      if (Date.now() > deadline) {
        log.warn('channel graph not complete after 20 s; payments may need a moment');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log.info({ alice: nodes[0]?.rpcUrl, bob: nodes[1]?.rpcUrl, carol: nodes[2]?.rpcUrl }, 'channel network ready: Alice–Bob and Bob–Carol');
    return {
      nodes,
      channels: [toHex(ab), toHex(bc)],
      async stop() {
        for (const n of nodes.reverse()) {
          await n.rpc.stop().catch(() => undefined);
          await n.node.stop().catch((e) => log.warn({ error: toStrataError(e).message }, 'channel node stop failed'));
        }
      },
    };
  } catch (e) {
    for (const n of nodes) {
      await n.rpc.stop().catch(() => undefined);
      await n.node.stop().catch(() => undefined);
    }
    throw e;
  }
}
