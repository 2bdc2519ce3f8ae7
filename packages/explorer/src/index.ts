/**
 * @strata/explorer — the web explorer across every layer. What flows through it: each layer's
 * JSON-RPC (polled by {@link LayerWatcher}, proxied read-only to the page over HTTP and
 * WebSocket) in, and out a web app served as plain ES modules (no build step), an event feed
 * (server-sent events) of what users care about on every layer, and layer up/down status.
 * The devnet starts it beside the chains; `strata explorer --rpc URL…` starts it against any.
 */
export { coins, type ExplorerLayer, type LayerStatus, LayerWatcher, type LayerWatcherOptions, MODULE_PREFIX_KIND } from './indexer.js';
export { EventFeed, type EventText, type FeedEvent, MODULE_EVENT_TEXT } from './events.js';
export { type Explorer, type ExplorerOptions, startExplorer } from './server.js';
export { ExplorerApi, type SearchHit } from './api.js';
export { buildLayerTree, discoverLayers, type EndpointProbe, parseEndpointSpec } from './discover.js';
export { channelsRisk, l1Risk, optimisticRisk, type RiskRow, sidechainRisk, type ZkRollupJson, zkRisk } from './risk.js';
