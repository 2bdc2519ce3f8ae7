import { RpcServer, SubscriptionHub, type RpcServerOptions } from '@strata/rpc';
import type { StrataNode } from './node.js';
import { nodeRpcMethods } from './rpc-methods.js';
import { headerJson } from './views.js';

/** Starts the JSON-RPC server (HTTP + WebSocket on one port) for a node. */
export async function startRpc(node: StrataNode, opts: RpcServerOptions): Promise<RpcServer> {
  const server = new RpcServer(opts, { logger: node.log });
  const hub = new SubscriptionHub();
  server.registerAll(nodeRpcMethods(node, hub));
  node.on('head', (ref) => hub.publish('newHeads', headerJson(node.opts.config, ref)));
  await server.start();
  node.log.info({ http: server.url, ws: server.wsUrl }, 'JSON-RPC listening');
  return server;
}
