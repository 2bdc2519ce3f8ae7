/**
 * @strata/runtime — the pure state transition shared by every chain. Transactions (signed
 * envelopes calling a module method) flow in; state changes through a StateView and receipts
 * flow out. Modules plug in through `ModuleRegistry`; the bank module holds the native coin.
 */
export * from './bank.js';
export * from './chain-ids.js';
export * from './config.js';
export * from './driver.js';
export * from './execute.js';
export * from './module.js';
export * from './receipt.js';
export * from './tx.js';
export * from './json.js';
