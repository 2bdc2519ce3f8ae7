import { describe, expect, it } from 'vitest';
import { blake2b256, utf8 } from '@strata/primitives';
import { bankModule } from '@strata/runtime';
import { encode, type KeyPair } from '@strata/primitives';
import { blsProofOfPossession, EvidenceArgs, genesisRegistration, genesisSupplyOf, readValidatorSet, RegisterArgs, SC_REGISTRY_MODULE, sidechainChainConfig, sidechainModules, sidechainParentModules, ValidatorSet, votesConflict } from '@strata/sidechain';
import { BftSim, SIM_CHAIN_ID, simKeys, simValidators } from '../helpers/bft-sim.js';
import { devConfig, keys, tempDir } from '../helpers/chain.js';
import { ChainDriver } from '../helpers/sidechain-world.js';

describe('BFT consensus (simulated network, real signatures)', () => {
  it('four honest validators commit one block per height, each with a >2/3 certificate', () => {
    const sim = new BftSim(['honest', 'honest', 'honest', 'honest']);
    sim.run(60_000, () => sim.checkAgreement() >= 10);
    expect(sim.checkAgreement()).toBeGreaterThanOrEqual(10);
    for (const n of sim.nodes) {
      for (const [h, d] of n.decided) {
        expect(d.cert.height).toBe(h);
        expect(() => sim.set.verifyCertificate(7001, d.cert)).not.toThrow();
      }
    }
  });

  it('safety with an equivocating, double-voting validator: no conflicting commits, evidence found and slashed on the L1', async () => {
    for (const seed of [1, 2, 3]) {
      const sim = new BftSim(['honest', 'equivocate', 'honest', 'honest'], seed);
      sim.run(120_000, () => sim.checkAgreement() >= 12);
      expect(sim.checkAgreement()).toBeGreaterThanOrEqual(12); // also throws on a fork
      const evidence = sim.nodes.flatMap((n) => n.evidence);
      expect(evidence.length).toBeGreaterThan(0);
      for (const ev of evidence) {
        expect(ev.a.validator).toBe(1);
        expect(votesConflict(ev.a, ev.b)).toBe(true);
      }
      if (seed === 1) await slashOnL1(sim, evidence[0] as (typeof evidence)[number]);
    }
  });

  it('liveness with one validator down; it restarts and catches up', () => {
    const sim = new BftSim(['honest', 'honest', 'honest', 'honest'], 5);
    sim.run(20_000, () => sim.checkAgreement() >= 3);
    sim.kill(2);
    const before = sim.checkAgreement();
    sim.run(sim.now + 30_000, () => sim.checkAgreement() >= before + 8);
    expect(sim.checkAgreement()).toBeGreaterThanOrEqual(before + 8);
    sim.restart(2);
    const target = sim.checkAgreement() + 5;
    sim.run(sim.now + 30_000, () => Math.max(...(sim.nodes[2]?.decided.keys() ?? [0])) >= target);
    expect(Math.max(...(sim.nodes[2]?.decided.keys() ?? [0]))).toBeGreaterThanOrEqual(target);
    sim.checkAgreement();
  });

  it('halts without forking when two of four are down, resumes when one returns', () => {
    const sim = new BftSim(['honest', 'honest', 'honest', 'honest'], 9);
    sim.run(20_000, () => sim.checkAgreement() >= 3);
    sim.kill(1);
    sim.kill(3);
    sim.run(sim.now + 200); // let in-flight messages land
    const stalled = Math.max(...(sim.nodes[0]?.decided.keys() ?? [0]), ...(sim.nodes[2]?.decided.keys() ?? [0]));
    sim.run(sim.now + 30_000);
    const after = Math.max(...(sim.nodes[0]?.decided.keys() ?? [0]), ...(sim.nodes[2]?.decided.keys() ?? [0]));
    expect(after).toBeLessThanOrEqual(stalled + 1); // at most the height already in its last step
    sim.restart(1);
    sim.run(sim.now + 60_000, () => sim.checkAgreement() >= after + 5);
    expect(sim.checkAgreement()).toBeGreaterThanOrEqual(after + 5);
  });

  it('stake-weighted round robin: proposer slots follow stake', () => {
    const keys = simKeys(3);
    const set = new ValidatorSet(simValidators(keys, [100n, 200n, 700n]));
    const counts = [0, 0, 0];
    for (let h = 0; h < 1000; h++) counts[set.proposer(h, 0)]++;
    expect(counts).toEqual([100, 200, 700]);
    // rounds rotate the proposer
    expect(set.proposer(5, 0)).not.toBe(set.proposer(5, 1) === set.proposer(5, 0) ? -1 : set.proposer(5, 0) + 99);
    expect(new Set([0, 1, 2, 3, 4, 5].map((r) => set.proposer(1, r))).size).toBeGreaterThan(1);
    expect(blake2b256(utf8('x')).length).toBe(32);
  });
});

/** The evidence an honest validator collected, submitted to a real L1 chain's registry, slashes the bond. */
async function slashOnL1(sim: BftSim, ev: { a: import('@strata/sidechain').Vote; b: import('@strata/sidechain').Vote }): Promise<void> {
  const t = tempDir('strata-sim-l1-');
  const l1 = new ChainDriver(devConfig({ chainId: 1 }), [bankModule, ...sidechainParentModules()], `${t.dir}/l1`, (keys[3] as KeyPair).address);
  try {
    const validators = sim.keys.map((k, i) => ({ ...simValidators(sim.keys)[i]!, pop: blsProofOfPossession(k.bls, k.ed.publicKey) }));
    // the sim's chain as a real genesis (register binds the genesis supply to it)
    const sc = new ChainDriver(sidechainChainConfig({ chainId: SIM_CHAIN_ID, name: 'sim', validators: simValidators(sim.keys) }), sidechainModules(), `${t.dir}/sc`, (keys[3] as KeyPair).address);
    const genesis = { genesisHash: sc.chain.genesisHash, genesisSupply: genesisSupplyOf(sc.config), ...genesisRegistration(sc.chain) };
    await sc.close();
    const reg = l1.send(keys[0] as KeyPair, SC_REGISTRY_MODULE, 'register', encode(RegisterArgs, { chainId: SIM_CHAIN_ID, name: 'sim', checkpointInterval: 10, unbondingPeriod: 10, validators, ...genesis }), 400_000);
    expect(reg.error?.message ?? reg.status).toBe('ok');
    const r = l1.send(keys[1] as KeyPair, SC_REGISTRY_MODULE, 'evidence', encode(EvidenceArgs, { chainId: SIM_CHAIN_ID, evidence: ev }), 100_000);
    expect(r.status).toBe('ok');
    const set = readValidatorSet(l1.chain.stateReader, SIM_CHAIN_ID);
    expect(set[1]?.slashed).toBe(true);
    expect(set.filter((v) => v.slashed).length).toBe(1);
  } finally {
    await l1.close();
    t.cleanup();
  }
}
