/**
 * Finality of an output is O(1) (issue 8, item 2): 20,000 outputs are proposed one per L1 block
 * through the real `op_disputes` module, and a withdrawal proven against the last one finalizes
 * with the compute the CLI declares (5,000 units), metered by the real runtime (`applyTx`).
 */
import { describe, expect, it } from 'vitest';
import { encode, initHashing } from '@strata/primitives';
import {
  defaultRollupConfig,
  escrowAddress,
  FinalizeWithdrawalArgs,
  parentModules,
  ProposeArgs,
  ProveWithdrawalArgs,
  readOutputsMeta,
  readWithdrawalState,
  rollupModuleNames,
  StateInboxStore,
  withdrawalKey,
  WithdrawalCodec,
  type WithdrawalRecord,
} from '@strata/optimistic';
import { applyTx, bankModule, defaultChainConfig, encodeTx, getAccount, ModuleRegistry, putAccount, signTx, verifyRawTx, type BlockContext, type TxContext } from '@strata/runtime';
import { EMPTY_ROOT, MemoryNodeStore, OverlayView, SparseMerkleTree, TreeReader } from '@strata/state';
import { keys } from '../helpers/chain.js';

await initHashing();

describe('optimistic rollup: O(1) output finality', () => {
  it('a withdrawal against output 20,000 finalizes within the 5,000 compute the CLI declares', () => {
    const user = keys[0]!;
    const proposer = keys[1]!;
    const cfg = defaultRollupConfig({ batcher: proposer.address, challengeWindow: 10 });
    const names = rollupModuleNames(cfg.rollupId);
    const modules = parentModules(cfg);
    const registry = new ModuleRegistry([bankModule, ...modules]);
    const config = defaultChainConfig({ chainId: 1 });
    const view = new OverlayView({ get: () => undefined });
    putAccount(view, user.address, { balance: 10n ** 15n, nonce: 0 });
    putAccount(view, proposer.address, { balance: 10n ** 18n, nonce: 0 });

    // The L2 state every output claims: it holds withdrawal 0.
    const w: WithdrawalRecord = { id: 0, l2Sender: user.address, l1Recipient: user.address, amount: 1_000n };
    const mem = new MemoryNodeStore();
    const l2 = new OverlayView(new TreeReader(mem, EMPTY_ROOT));
    l2.put(withdrawalKey(0), encode(WithdrawalCodec, w));
    const tree = new SparseMerkleTree(mem);
    const up = tree.update(EMPTY_ROOT, l2.changes());
    mem.addAll(up.newNodes);
    const root = up.root;

    const disputes = modules.find((m) => m.name === names.disputes)!;
    const store = new StateInboxStore(view, cfg.rollupId);
    const N = 20_000;
    const blockCtx = (height: number): BlockContext => ({ view, config, block: { height, timestamp: height * 1000, producer: proposer.address }, emit() {}, registry });
    const txCtx = (height: number): TxContext => ({
      view,
      config,
      block: { height, timestamp: height * 1000, producer: proposer.address },
      sender: proposer.address,
      txHash: new Uint8Array(32),
      txIndex: 0,
      charge() {},
      emit() {},
      registry,
    });
    // Escrow funded as deposits would have (the withdrawal pays out of it).
    putAccount(view, escrowAddress(cfg.rollupId), { balance: 1_000n, nonce: 0 });
    for (let i = 0; i < N; i++) {
      const h = i + 1;
      store.setBatch(i, { l1Height: h, firstBlock: i + 1, blockCount: 1, firstOp: i, opCount: 1, opsRoot: new Uint8Array(32), lastTimestamp: h, forced: 0 });
      store.setMeta({ ...store.meta(), batchCount: i + 1, blockCount: i + 1, opCount: i + 1 });
      disputes.methods.propose!(txCtx(h), encode(ProposeArgs, { rollupId: cfg.rollupId, batchIndex: i, stateRoot: root }));
      disputes.endBlock!(blockCtx(h));
    }
    expect(readOutputsMeta(view, cfg.rollupId).count).toBe(N);

    let nonce = 0;
    const send = (height: number, method: string, args: Uint8Array, computeLimit: number) => {
      const tx = signTx({ chainId: 1, nonce: nonce++, fee: 10n ** 9n, computeLimit, module: names.bridge, method, args }, user.secretKey);
      return applyTx(view, { config, registry, block: { height, timestamp: height * 1000, producer: proposer.address } }, verifyRawTx(encodeTx(tx)), 0);
    };
    const last = N - 1;
    const proof = tree.prove(root, withdrawalKey(0));
    const proved = send(N, 'proveWithdrawal', encode(ProveWithdrawalArgs, { rollupId: cfg.rollupId, outputIndex: last, withdrawal: w, proof }), 40_000);
    expect(proved.status).toBe('ok');
    const h = N + cfg.challengeWindow;
    for (let x = N + 1; x <= h; x++) disputes.endBlock!(blockCtx(x));
    const before = getAccount(view, user.address).balance;
    const r = send(h, 'finalizeWithdrawal', encode(FinalizeWithdrawalArgs, { rollupId: cfg.rollupId, id: 0 }), 5_000);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('ok');
    expect(r.computeUsed).toBeLessThan(5_000);
    expect(readWithdrawalState(view, cfg.rollupId, 0).finalized).toBe(true);
    expect(getAccount(view, user.address).balance - before).toBe(1_000n - 10n ** 9n);
  }, 60_000);
});
