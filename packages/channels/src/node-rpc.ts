/**
 * The channel node's JSON-RPC (the shape of the other nodes: JSON-RPC 2.0 over HTTP and
 * WebSocket, hex bytes, decimal-string amounts, typed errors). Methods: channel_getInfo,
 * channel_connect, channel_peers, channel_open, channel_close, channel_list, channel_balance,
 * channel_invoice, channel_decodeInvoice, channel_listInvoices, channel_pay, channel_graph.
 */
import { fromHex, toHex } from '@strata/primitives';
import { RpcError, RpcServer, type MethodSpec } from '@strata/rpc';
import type { Logger } from 'pino';
import type { ChannelNode } from './channel-node.js';
import { decodeInvoice, invoiceJson } from './invoice.js';

function amountParam(v: unknown, i: number, name: string): bigint {
  try {
    const s = String(v);
    const n = s.startsWith('0x') ? BigInt(s) : BigInt(s.replace(/_/g, ''));
    if (n < 0n) throw new Error('negative');
    return n;
  } catch {
    throw RpcError.invalidParams(`invalid parameter ${i} (${name}): expected a non-negative integer amount`);
  }
}
function bytesParam(v: unknown, i: number, name: string, len?: number): Uint8Array {
  try {
    return fromHex(String(v), len);
  } catch (e) {
    throw RpcError.invalidParams(`invalid parameter ${i} (${name}): ${(e as Error).message}`);
  }
}

/** The method table of a channel node. */
export function channelNodeRpcMethods(node: ChannelNode): Record<string, MethodSpec> {
  return {
    channel_getInfo: { maxParams: 0, description: 'Node key, peer id, addresses, wallet, chain.', handler: () => node.info() },
    channel_connect: {
      minParams: 1,
      maxParams: 1,
      description: 'Connects to a channel node by multiaddr (…/p2p/<peerId>); returns its node key.',
      handler: async (p) => {
        const key = await node.connect(String(p[0]));
        await node.syncGraph(key).catch(() => 0);
        return { nodeKey: toHex(key) };
      },
    },
    channel_peers: { maxParams: 0, handler: () => node.peers() },
    channel_open: {
      minParams: 2,
      maxParams: 3,
      description: 'Opens a channel: [peer node key or multiaddr, capacity, push?]; funds it on chain and announces it.',
      handler: async (p) => {
        const who = String(p[0]);
        const peer = who.startsWith('/') ? await node.connect(who) : bytesParam(who, 0, 'peer', 32);
        const id = await node.openChannel(peer, amountParam(p[1], 1, 'capacity'), p[2] === undefined ? 0n : amountParam(p[2], 2, 'push'));
        return { channelId: toHex(id) };
      },
    },
    channel_close: {
      minParams: 1,
      maxParams: 2,
      description: 'Closes a channel: [channelId, force?]; cooperative by default, unilateral with force.',
      handler: async (p) => node.closeChannel(bytesParam(p[0], 0, 'channelId', 32), p[1] === true),
    },
    channel_list: { maxParams: 0, handler: () => node.list() },
    channel_balance: { maxParams: 0, handler: () => node.balance() },
    channel_invoice: {
      minParams: 1,
      maxParams: 3,
      description: 'Creates an invoice: [amount, description?, expirySeconds?].',
      handler: (p) => node.createInvoice(amountParam(p[0], 0, 'amount'), p[1] === undefined ? '' : String(p[1]), p[2] === undefined ? 3600 : Number(p[2])),
    },
    channel_decodeInvoice: { minParams: 1, maxParams: 1, handler: (p) => invoiceJson(decodeInvoice(String(p[0]))) },
    channel_listInvoices: { maxParams: 0, handler: () => node.invoices() },
    channel_pay: {
      minParams: 1,
      maxParams: 2,
      description: 'Pays an invoice: [invoice, {maxParts?}]; multi-hop, multi-path when needed.',
      handler: (p) => node.pay(String(p[0]), (p[1] as { maxParts?: number } | undefined) ?? {}),
    },
    channel_graph: { maxParams: 0, handler: () => node.graph.toJson() },
  };
}

/** Serves a channel node's RPC; resolves once listening. */
export async function startChannelRpc(node: ChannelNode, opts: { host?: string; port?: number }, logger?: Logger): Promise<RpcServer> {
  const server = new RpcServer({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 }, { logger });
  server.registerAll(channelNodeRpcMethods(node));
  await server.start();
  return server;
}
