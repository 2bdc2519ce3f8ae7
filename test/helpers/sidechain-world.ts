/**
 * An in-process L1 chain with the sidechain registry, and a sidechain chain (bank + sc_bridge)
 * whose blocks are certified by real BLS precommit signatures of its validators. Both are real
 * `Chain`s over lmdb; no network. For the registry and bridge rules.
 */
import { blockHash, Chain, ChainStore, type Block } from '@strata/chain';
import { toHex, type KeyPair } from '@strata/primitives';
import { bankModule, encodeTx, getAccount, getSupply, minimumFee, ModuleRegistry, signTx, verifyRawTx, type ChainConfig, type Receipt, type VerifiedTx } from '@strata/runtime';
import {
  bitmapSet,
  blsAggregate,
  blsSign,
  genesisSupplyOf,
  bridgeTotals,
  PRECOMMIT,
  sidechainChainConfig,
  sidechainEscrow,
  sidechainModules,
  sidechainParentModules,
  validatorArgOf,
  validatorOf,
  voteDigest,
  newValidatorKeys,
  type Certificate,
  type ValidatorKeys,
} from '@strata/sidechain';
import { openDatabase } from '@strata/state';
import { devConfig, keys as l1Keys, tempDir } from './chain.js';

export { l1Keys };

export class ChainDriver {
  readonly chain: Chain;
  private nonces = new Map<string, number>();
  constructor(
    readonly config: ChainConfig,
    modules: ReturnType<typeof sidechainModules>,
    dir: string,
    readonly producer: Uint8Array,
  ) {
    this.chain = Chain.open(config, new ModuleRegistry(modules), new ChainStore(openDatabase({ path: dir })));
  }

  tx(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit = 100_000): VerifiedTx {
    const k = toHex(key.address);
    const nonce = this.nonces.get(k) ?? this.chain.account(key.address).nonce;
    this.nonces.set(k, nonce + 1);
    const probe = encodeTx(signTx({ chainId: this.config.chainId, nonce, fee: 0n, computeLimit, module, method, args }, key.secretKey));
    const fee = minimumFee(this.config, probe.length + 16, computeLimit);
    return verifyRawTx(encodeTx(signTx({ chainId: this.config.chainId, nonce, fee, computeLimit, module, method, args }, key.secretKey)));
  }

  /** Builds and imports a block with `txs`; returns it and its receipts. */
  mine(txs: VerifiedTx[] = [], producer = this.producer): { block: Block; receipts: Receipt[] } {
    const built = this.chain.buildBlock(txs, { producer, timestamp: this.chain.head.header.timestamp + 1000 });
    if (built.rejected.length) throw new Error(`rejected: ${built.rejected.map((r) => r.error.message).join('; ')}`);
    const block: Block = { header: built.header, txs: built.execution.txs.map((t) => t.bytes) };
    const res = this.chain.importBlock(block, { verified: built.execution.txs, execution: built.execution });
    this.nonces.clear();
    return { block, receipts: this.chain.receipts(res.hash) ?? [] };
  }

  /** Sends one transaction in its own block; returns its receipt. */
  send(key: KeyPair, module: string, method: string, args: Uint8Array, computeLimit = 100_000): Receipt {
    return this.mine([this.tx(key, module, method, args, computeLimit)]).receipts[0] as Receipt;
  }

  close(): Promise<void> {
    return this.chain.store.close();
  }
}

export class SidechainWorld {
  readonly l1: ChainDriver;
  readonly sc: ChainDriver;
  readonly validators: ValidatorKeys[];
  private readonly cleanup: () => void;
  readonly chainId = 5151;

  constructor(n = 4) {
    const t = tempDir('strata-scw-');
    this.cleanup = t.cleanup;
    this.l1 = new ChainDriver(devConfig({ chainId: 1, confirmations: 2 }), [bankModule, ...sidechainParentModules()], `${t.dir}/l1`, (l1Keys[3] as KeyPair).address);
    this.validators = Array.from({ length: n }, () => newValidatorKeys());
    const vals = this.validators.map((k) => validatorOf(k, 1000n));
    this.sc = new ChainDriver(sidechainChainConfig({ chainId: this.chainId, name: 'world', validators: vals, feeBalance: 100_000_000n }), sidechainModules(), `${t.dir}/sc`, (this.validators[0] as ValidatorKeys).producer.address);
  }

  /** Total sidechain genesis balance (what `register` locks in the escrow). */
  get genesisSupply(): bigint {
    return genesisSupplyOf(this.sc.config);
  }

  validatorArgs(power = 1000n) {
    return this.validators.map((k) => validatorArgOf(k, power));
  }

  /** A certificate for sidechain block `block` signed by the validators at `signers`. */
  certify(block: Block, signers: number[], round = 0, keys: ValidatorKeys[] = this.validators): Certificate {
    const hash = blockHash(block.header);
    const msg = voteDigest(this.chainId, PRECOMMIT, block.header.height, round, hash);
    const bits = new Uint8Array(Math.ceil(keys.length / 8));
    for (const i of signers) bitmapSet(bits, i);
    return { height: block.header.height, round, blockHash: hash, signers: bits, aggregate: blsAggregate(signers.map((i) => blsSign((keys[i] as ValidatorKeys).bls, msg))) };
  }

  /** Sum of the balances of `addrs` on a chain (with module accounts) equals its supply. */
  conserved(driver: ChainDriver, addrs: Uint8Array[]): { sum: bigint; supply: bigint } {
    const r = driver.chain.stateReader;
    const sum = addrs.reduce((a, x) => a + getAccount(r, x).balance, 0n);
    return { sum, supply: getSupply(r) };
  }

  escrow(): bigint {
    return getAccount(this.l1.chain.stateReader, sidechainEscrow(this.chainId)).balance;
  }

  bridge() {
    return bridgeTotals(this.sc.chain.stateReader);
  }

  async close(): Promise<void> {
    await this.l1.close();
    await this.sc.close();
    this.cleanup();
  }
}

