import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chain, ChainStore, type Block } from '@strata/chain';
import { deriveKeyPairs, DEV_MNEMONIC, encode, toHex, type KeyPair } from '@strata/primitives';
import {
  bankModule,
  defaultChainConfig,
  encodeTx,
  ModuleRegistry,
  parseChainConfig,
  signTx,
  TRANSFER_COMPUTE,
  TransferArgsCodec,
  verifyRawTx,
  type ChainConfig,
  type VerifiedTx,
} from '@strata/runtime';
import { openDatabase } from '@strata/state';

export const keys: KeyPair[] = deriveKeyPairs(DEV_MNEMONIC, 4);

export function devConfig(overrides: Record<string, unknown> = {}): ChainConfig {
  return parseChainConfig({
    blockReward: '0',
    genesis: { timestamp: 1_700_000_000_000, alloc: keys.map((k) => ({ address: toHex(k.address), balance: '1000000000000' })) },
    ...overrides,
  }, defaultChainConfig());
}

export function tempDir(prefix = 'strata-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openChain(config: ChainConfig, dir: string): { chain: Chain; store: ChainStore } {
  const store = new ChainStore(openDatabase({ path: dir }));
  const chain = Chain.open(config, new ModuleRegistry([bankModule]), store);
  return { chain, store };
}

export function transferTx(config: ChainConfig, from: KeyPair, to: Uint8Array, amount: bigint, nonce: number, fee = 10_000n): VerifiedTx {
  const tx = signTx(
    {
      chainId: config.chainId,
      nonce,
      fee,
      computeLimit: TRANSFER_COMPUTE,
      module: 'bank',
      method: 'transfer',
      args: encode(TransferArgsCodec, { to, amount }),
    },
    from.secretKey,
  );
  return verifyRawTx(encodeTx(tx));
}

/** Builds and imports a block on the head (dev PoW: any nonce). */
export function mineOn(chain: Chain, txs: VerifiedTx[], timestamp?: number, producer = keys[3]!.address): Block {
  const built = chain.buildBlock(txs, { producer, timestamp: timestamp ?? chain.head.header.timestamp + 1000 });
  const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
  chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
  return block;
}
