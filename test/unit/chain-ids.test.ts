/**
 * One chain-id record across every settlement module of a parent (rule 10): a sidechain cannot
 * take an optimistic rollup's or a ZK-rollup's id, a ZK-rollup cannot take a sidechain's, and
 * an optimistic rollup composed later with a sidechain's id takes no deposits. Real chains
 * over lmdb, real transactions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encode, type KeyPair } from '@strata/primitives';
import { bankModule, childChainIdOwner, type Module, type Receipt } from '@strata/runtime';
import { DepositArgs, DepositTokenArgs, defaultRollupConfig, parentModules, rollupModuleNames } from '@strata/optimistic';
import { freeChildChainId, genesisRegistration, RegisterArgs, SC_REGISTRY_MODULE, sidechainL1RpcMethods, sidechainParentModules } from '@strata/sidechain';
import { RegisterArgs as ZkRegisterArgs, VK_BYTES, ZK_MODULE, zkParentModules } from '@strata/zk';
import { devConfig, tempDir } from '../helpers/chain.js';
import { ChainDriver, l1Keys, SidechainWorld } from '../helpers/sidechain-world.js';

const alice = l1Keys[0] as KeyPair;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function failed(r: Receipt, text: string): void {
  expect(r.status).toBe('failed');
  expect(r.error?.message).toContain(text);
}

function l1(dir: string, modules: Module[]): ChainDriver {
  const d = new ChainDriver(devConfig({ chainId: 1, confirmations: 2 }), [bankModule, ...modules], dir, (l1Keys[3] as KeyPair).address);
  return d;
}

describe('one chain-id record for every child of a parent', () => {
  it('a sidechain cannot reuse a rollup id, nor a ZK-rollup a sidechain id; an optimistic rollup composed later with a sidechain id takes no deposits', async () => {
    const t = tempDir('strata-chainids-');
    const w = new SidechainWorld(); // a real sidechain genesis (chain id 5151)
    cleanups.push(t.cleanup, () => w.close());
    const op = parentModules(defaultRollupConfig({ rollupId: 901 }));
    let chain = l1(t.dir, [...sidechainParentModules(), ...zkParentModules(), ...op]);
    const sc = (chainId: number) =>
      chain.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId, name: `sc${chainId}`, genesisHash: w.sc.chain.genesisHash, checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: w.genesisSupply, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) }), 400_000);
    const zk = (rollupId: number) => chain.send(alice, ZK_MODULE, 'register', encode(ZkRegisterArgs, { rollupId, depth: 4, batchSize: 2, unit: 1n, priorityDeadline: 5, maxBatchGap: 0, vk: new Uint8Array(VK_BYTES) }), 100_000);
    // a sidechain with the optimistic rollup's id (or the parent's own) is refused
    failed(sc(901), 'chain id 901 is already used by optimistic/901');
    failed(sc(1), "parent chain's own");
    // a sidechain registers 5151; a ZK-rollup with that id is refused before anything else is checked
    expect(sc(5151).status).toBe('ok');
    expect(childChainIdOwner({ view: { get: (k: Uint8Array) => chain.chain.stateReader.get(k) } as never, registry: chain.chain.registry }, 5151)).toBe('sidechain/5151');
    failed(zk(5151), 'chain id 5151 is already used by sidechain/5151');
    failed(zk(901), 'already used by optimistic/901');
    // the parent restarted with an optimistic rollup of id 5151 composed in: it takes no deposits
    await chain.close();
    chain = l1(t.dir, [...sidechainParentModules(), ...zkParentModules(), ...op, ...parentModules(defaultRollupConfig({ rollupId: 5151 }))]);
    cleanups.push(() => chain.close());
    failed(chain.send(alice, rollupModuleNames(5151).bridge, 'deposit', encode(DepositArgs, { rollupId: 5151, to: alice.address, amount: 10n }), 100_000), 'chain id 5151 is already used by sidechain/5151');
    // …nor token deposits
    const tokenArgs = encode(DepositTokenArgs, { rollupId: 5151, to: alice.address, token: new Uint8Array(32), originChainId: 1, originId: new Uint8Array(32), symbol: 'GOLD', decimals: 6, amount: 10n });
    failed(chain.send(alice, rollupModuleNames(5151).bridge, 'depositToken', tokenArgs, 100_000), 'chain id 5151 is already used by sidechain/5151');
    // the rollup with its own id still does
    expect(chain.send(alice, rollupModuleNames(901).bridge, 'deposit', encode(DepositArgs, { rollupId: 901, to: alice.address, amount: 10n }), 100_000).status).toBe('ok');
    // `sidechain launch` picks a free id from what the parent's RPC says holds each one
    const rpc = sidechainL1RpcMethods({ chain: chain.chain });
    const parent = { chainIdOwner: async (id: number) => rpc.sidechain_chainIdOwner!.handler([id], {} as never) as string | null };
    expect(await parent.chainIdOwner(5151)).toBe('sidechain/5151');
    expect(await parent.chainIdOwner(901)).toBe('optimistic/901');
    expect(await parent.chainIdOwner(5152)).toBeNull();
    // from 5151 on: the sidechain's id and a locally known one are skipped; the op rollup's too
    expect(await freeChildChainId(parent, 1, 5151, new Set([5152]))).toBe(5153);
    expect(await freeChildChainId(parent, 1, 900)).toBe(900);
    expect(await freeChildChainId(parent, 1, 901)).toBe(902);
    expect(await freeChildChainId(parent, 1, 1)).toBe(2);
  });

  it("a grandchild's id is taken too: no sidechain or ZK-rollup on the L1 under the id of the L2's L3, and no L3 with the L1's id", async () => {
    const t = tempDir('strata-chainids-gc-');
    const w = new SidechainWorld();
    cleanups.push(t.cleanup, () => w.close());
    // the L2 (901) settles an L3 (902) in its own runtime; the L1 composes the L2's settlement modules
    const l2 = defaultRollupConfig({ rollupId: 901, l2Modules: parentModules(defaultRollupConfig({ rollupId: 902 })) });
    const chain = l1(t.dir, [...sidechainParentModules(), ...zkParentModules(), ...parentModules(l2)]);
    cleanups.push(() => chain.close());
    const sc = (chainId: number) =>
      chain.send(alice, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId, name: `sc${chainId}`, genesisHash: w.sc.chain.genesisHash, checkpointInterval: 2, unbondingPeriod: 3, genesisSupply: w.genesisSupply, validators: w.validatorArgs(), ...genesisRegistration(w.sc.chain) }), 400_000);
    // a transaction signed for the L3 would verify on a sidechain with id 902
    failed(sc(902), 'chain id 902 is already used by optimistic/901');
    failed(chain.send(alice, ZK_MODULE, 'register', encode(ZkRegisterArgs, { rollupId: 902, depth: 4, batchSize: 2, unit: 1n, priorityDeadline: 5, maxBatchGap: 0, vk: new Uint8Array(VK_BYTES) }), 100_000), 'chain id 902 is already used');
    // an L3 under the L1's own id is refused when the L1 opens
    const bad = defaultRollupConfig({ rollupId: 901, l2Modules: parentModules(defaultRollupConfig({ rollupId: 1 })) });
    expect(() => l1(`${t.dir}/bad`, parentModules(bad))).toThrow(/chain id 1/);
  });
});
