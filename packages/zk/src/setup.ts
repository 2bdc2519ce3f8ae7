/**
 * Circuit setup: compiles the batch circuit for a set of params with circom (WebAssembly) and
 * makes its Groth16 keys, cached under `.cache/zk/<circuit hash>/` (git-ignored build output).
 * A second run with an unchanged circuit finds `ready.json` and returns at once.
 *
 * DEV-ONLY, INSECURE keys: snarkjs's `powersoftau prepare phase2` takes hours at these sizes
 * here, so the dev setup derives τ, α, β, δ from a KNOWN toxic secret (`DEV_TOXIC_SECRET`) and
 * writes the proving key (snarkjs zkey format) directly: each wire's QAP polynomials are
 * evaluated at τ in the field and every key point is a fixed-base multiple of a generator
 * (fixed-base.ts). Anyone knowing the secret can forge proofs: never use these keys for value. For a real setup pass
 * `ptau` (a ceremony's prepared powers of tau) and then run `snarkjs zkey contribute` / `zkey
 * beacon` on the produced `circuit.zkey` as usual; the files are standard snarkjs files.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrataError } from '@strata/primitives';
import { getCurveFromName } from 'ffjavascript';
import * as snarkjs from 'snarkjs';
import { amountBits, BALANCE_BITS, checkZkParams, messageTag, type ZkParams } from './params.js';
import { FixedBase } from './fixed-base.js';
import { packageDir, packageVersion } from './package-dir.js';
import { FIELD } from './poseidon.js';

/** The documented dev-only toxic secret (INSECURE: it lets anyone forge proofs). */
export const DEV_TOXIC_SECRET = 'strata-zk-dev-toxic-secret/v1 (INSECURE: public, dev only)';

/** Progress callback: stage name and 0..1 within the whole setup. */
export type SetupProgress = (stage: string, fraction: number) => void;

/** A compiled circuit with its keys. */
export interface CircuitArtifacts {
  hash: string;
  dir: string;
  r1cs: string;
  wasm: string;
  zkey: string;
  /** snarkjs verification key JSON. */
  vk: SnarkVk;
  constraints: number;
  /** True when this call found everything cached. */
  cached: boolean;
  dev: boolean;
  /** sha256 of the zkey's header section when `vk` was exported from it (see {@link zkeyHeaderHash}). */
  zkeyHeader?: string;
}

/** snarkjs's verification key JSON (the fields used here). */
export interface SnarkVk {
  protocol: string;
  curve: string;
  nPublic: number;
  vk_alpha_1: string[];
  vk_beta_2: string[][];
  vk_gamma_2: string[][];
  vk_delta_2: string[][];
  IC: string[][];
}

const here = dirname(fileURLToPath(import.meta.url));
const CIRCUIT_FILE = resolve(here, '..', 'circuits', 'rollup.circom');

/** Default cache directory: `.cache/zk` at the repository root. */
export function defaultCacheDir(): string {
  return resolve(here, '..', '..', '..', '.cache', 'zk');
}

/** The circuit's main component for these params. */
export function circuitMain(p: ZkParams, includePath: string): string {
  return `pragma circom 2.0.0;\ninclude "${includePath}";\ncomponent main = Batch(${p.depth}, ${p.batchSize}, ${amountBits(p)}, ${BALANCE_BITS}, ${messageTag(p)});\n`;
}

/** Hash of everything the compiled circuit depends on. */
export function circuitHash(p: ZkParams): string {
  const h = createHash('sha256');
  h.update(readFileSync(CIRCUIT_FILE));
  h.update(circuitMain(p, 'rollup.circom'));
  for (const pkg of ['circom2', 'circomlib', 'snarkjs']) h.update(packageVersion(pkg));
  h.update('dev-setup/v2');
  return h.digest('hex').slice(0, 16);
}

/** Loads cached artifacts if present. */
export function loadArtifacts(p: ZkParams, cacheDir = defaultCacheDir()): CircuitArtifacts | undefined {
  const hash = circuitHash(p);
  const dir = join(cacheDir, hash);
  const ready = join(dir, 'ready.json');
  if (!existsSync(ready)) return undefined;
  const meta = JSON.parse(readFileSync(ready, 'utf8')) as { constraints: number; dev: boolean; zkeyHeader?: string };
  // circom emits its witness calculator as CommonJS; give it a .cjs twin inside this ESM repo.
  const wc = join(dir, 'main_js', 'witness_calculator.cjs');
  if (!existsSync(wc)) writeFileSync(wc, readFileSync(join(dir, 'main_js', 'witness_calculator.js')));
  return {
    hash,
    dir,
    r1cs: join(dir, 'main.r1cs'),
    wasm: join(dir, 'main_js', 'main.wasm'),
    zkey: join(dir, 'circuit.zkey'),
    vk: JSON.parse(readFileSync(join(dir, 'vk.json'), 'utf8')) as SnarkVk,
    constraints: meta.constraints,
    cached: true,
    // Not contributed to since a ptau setup: as forgeable as the dev keys, whatever ready.json says.
    dev: meta.dev || zkeyContributions(join(dir, 'circuit.zkey')) === 0,
    ...(meta.zkeyHeader ? { zkeyHeader: meta.zkeyHeader } : {}),
  };
}

/**
 * sha256 of a zkey file's header section (section 2: α, β, γ, δ and the sizes), read from the
 * file's first bytes. A phase-2 contribution (`snarkjs zkey contribute`) changes δ, hence the
 * verification key: a cached `vk.json` is only valid for the header it was exported from.
 */
export function zkeyHeaderHash(file: string): string {
  return createHash('sha256').update(zkeySection(file, 2, 1 << 16)).digest('hex');
}

/**
 * Phase-2 contributions recorded in a zkey (section 10: transcript hash, then their count). A
 * key made from a ptau and not yet contributed to has δ = the generator, known to everyone:
 * its proofs can be forged exactly as with the dev keys.
 */
export function zkeyContributions(file: string): number {
  const data = zkeySection(file, 10, 1 << 20);
  if (data.length < 68) throw new StrataError('CONFIG_INVALID', `${file} has a truncated contributions section`);
  return data.readUInt32LE(64);
}

/** One section of a zkey file, read by walking the section table (the big sections are skipped, not read). */
function zkeySection(file: string, type: number, maxBytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) < 12 || head.toString('latin1', 0, 4) !== 'zkey') throw new StrataError('CONFIG_INVALID', `${file} is not a zkey file`);
    const sections = head.readUInt32LE(8);
    let pos = 12;
    for (let i = 0; i < sections && i < 64; i++) {
      const sh = Buffer.alloc(12);
      if (readSync(fd, sh, 0, 12, pos) < 12) break;
      const size = Number(sh.readBigUInt64LE(4));
      if (sh.readUInt32LE(0) === type) {
        if (size > maxBytes) break;
        const data = Buffer.alloc(size);
        if (readSync(fd, data, 0, size, pos + 12) < size) break;
        return data;
      }
      pos += 12 + size;
    }
    throw new StrataError('CONFIG_INVALID', `${file} has no readable zkey section ${type}`);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file whole or not at all (provers and the operator may read the cache meanwhile). */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Compiles (if needed) and makes keys (if needed); returns the artifacts. */
export async function setupCircuit(pIn: ZkParams, opts: { cacheDir?: string; onProgress?: SetupProgress; ptau?: string } = {}): Promise<CircuitArtifacts> {
  const p = checkZkParams(pIn);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const hit = loadArtifacts(p, cacheDir);
  const progress = opts.onProgress ?? (() => {});
  if (hit) {
    // Asked for keys from a ceremony's ptau, the cache holds the forgeable dev ones: never hand those out.
    if (opts.ptau && hit.dev) {
      throw new StrataError('CONFIG_INVALID', `the key cache ${hit.dir} holds DEV-ONLY keys for this circuit; remove that directory (or pass another cache dir) to make keys from ${opts.ptau}`, { dir: hit.dir });
    }
    // The zkey changed since vk.json was exported (a contribution written over it, or a cache
    // from before this check): export its key again, else the rollup would be registered (or
    // proofs checked) with a key that is not the prover's.
    const header = zkeyHeaderHash(hit.zkey);
    if (hit.zkeyHeader !== header) {
      progress('verification key (zkey changed)', 0.95);
      const vk = (await snarkjs.zKey.exportVerificationKey(hit.zkey)) as SnarkVk;
      await terminateSnarkjs();
      writeAtomic(join(hit.dir, 'vk.json'), JSON.stringify(vk));
      const meta = JSON.parse(readFileSync(join(hit.dir, 'ready.json'), 'utf8')) as Record<string, unknown>;
      writeAtomic(join(hit.dir, 'ready.json'), JSON.stringify({ ...meta, zkeyHeader: header }));
      progress('cached', 1);
      return { ...hit, vk, zkeyHeader: header };
    }
    progress('cached', 1);
    return hit;
  }
  const hash = circuitHash(p);
  const dir = join(cacheDir, hash);
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    progress('compiling circuit', 0.02);
    writeFileSync(join(work, 'rollup.circom'), readFileSync(CIRCUIT_FILE));
    writeFileSync(join(work, 'main.circom'), circuitMain(p, 'rollup.circom'));
    await compile(work);
    progress('compiled', 0.3);
    const r1cs = readFileSync(join(work, 'main.r1cs'));
    const info = r1csInfo(r1cs);
    if (opts.ptau) {
      progress('groth16 keys (snarkjs zkey new)', 0.35);
      await snarkjs.zKey.newZKey(join(work, 'main.r1cs'), opts.ptau, join(work, 'circuit.zkey'));
    } else {
      await writeDevZkey(join(work, 'circuit.zkey'), r1cs, (f) => progress('dev keys (INSECURE known secret)', 0.3 + 0.65 * f));
    }
    progress('verification key', 0.95);
    const vk = (await snarkjs.zKey.exportVerificationKey(join(work, 'circuit.zkey'))) as SnarkVk;
    await terminateSnarkjs();
    writeFileSync(join(work, 'vk.json'), JSON.stringify(vk));
    writeFileSync(join(work, 'ready.json'), JSON.stringify({ constraints: info.nConstraints, dev: !opts.ptau, params: p, toxic: opts.ptau ? undefined : DEV_TOXIC_SECRET, zkeyHeader: zkeyHeaderHash(join(work, 'circuit.zkey')) }));
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } catch (e) {
    await terminateSnarkjs();
    rmSync(work, { recursive: true, force: true });
    throw e instanceof StrataError ? e : new StrataError('INTERNAL', `zk setup failed: ${(e as Error).message}`, {}, { cause: e });
  }
  progress('done', 1);
  return loadArtifacts(p, cacheDir) as CircuitArtifacts;
}

/** Ends the curve worker threads snarkjs keeps (they would hold the process open). */
export async function terminateSnarkjs(): Promise<void> {
  const g = globalThis as unknown as Record<string, { terminate?: () => Promise<void> } | undefined>;
  for (const name of ['curve_bn128']) {
    const c = g[name];
    if (c?.terminate) {
      await c.terminate();
      g[name] = undefined;
    }
  }
}

function compile(dir: string): Promise<void> {
  const cli = join(packageDir('circom2'), 'cli.js');
  const lib = join(packageDir('circomlib'), 'circuits');
  // circom2's WASI sandbox sees only the working directory and its parents, and fails on paths
  // that climb with '..': run it in the common ancestor of the work dir and circomlib.
  let root = dir;
  while (relative(root, lib).startsWith('..') && dirname(root) !== root) root = dirname(root);
  const rel = (x: string) => relative(root, x) || '.';
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [cli, rel(join(dir, 'main.circom')), '--r1cs', '--wasm', '--O2', '-l', rel(lib), '-o', rel(dir)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', fail);
    child.on('exit', (code) => {
      if (code === 0 && existsSync(join(dir, 'main.r1cs'))) ok();
      else fail(new StrataError('INTERNAL', `circom failed (exit ${code}): ${out.slice(-2000)}`));
    });
  });
}

interface R1csInfo {
  nWires: number;
  /** Byte offset of the constraints section's data. */
  constraintsOffset: number;
  nConstraints: number;
  nPubInputs: number;
  nOutputs: number;
}

/** Reads the r1cs header section (type 1). */
export function r1csInfo(buf: Uint8Array): R1csInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const nSections = v.getUint32(8, true);
  let pos = 12;
  let head: Omit<R1csInfo, 'constraintsOffset'> | undefined;
  let constraintsOffset = -1;
  for (let i = 0; i < nSections; i++) {
    const type = v.getUint32(pos, true);
    const size = Number(v.getBigUint64(pos + 4, true));
    pos += 12;
    if (type === 1) {
      const n8 = v.getUint32(pos, true);
      const q = pos + 4 + n8;
      head = { nWires: v.getUint32(q, true), nOutputs: v.getUint32(q + 4, true), nPubInputs: v.getUint32(q + 8, true), nConstraints: v.getUint32(q + 24, true) };
    }
    if (type === 2) constraintsOffset = pos;
    pos += size;
  }
  if (!head || constraintsOffset < 0) throw new StrataError('INTERNAL', 'r1cs file lacks its header or constraints section');
  return { ...head, constraintsOffset };
}

const modr = (x: bigint) => ((x % FIELD) + FIELD) % FIELD;
function powr(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = modr(b);
  let k = e;
  while (k > 0n) {
    if (k & 1n) r = (r * x) % FIELD;
    x = (x * x) % FIELD;
    k >>= 1n;
  }
  return r;
}
const invr = (x: bigint) => powr(x, FIELD - 2n);

/** Lagrange basis of the size-`m` domain (generator `w`) at τ, for indices `idx`. */
function lagrangeAt(tau: bigint, m: number, w: bigint, idx: (j: number) => number, count: number): bigint[] {
  const c = modr((powr(tau, BigInt(m)) - 1n) * invr(BigInt(m)));
  const wj: bigint[] = new Array(count);
  const den: bigint[] = new Array(count);
  for (let i = 0; i < count; i++) {
    wj[i] = powr(w, BigInt(idx(i)));
    den[i] = modr(tau - (wj[i] as bigint));
  }
  // batch inversion
  const pre: bigint[] = new Array(count);
  let acc = 1n;
  for (let i = 0; i < count; i++) {
    pre[i] = acc;
    acc = (acc * (den[i] as bigint)) % FIELD;
  }
  let inv = invr(acc);
  const out: bigint[] = new Array(count);
  for (let i = count - 1; i >= 0; i--) {
    const di = (inv * (pre[i] as bigint)) % FIELD;
    inv = (inv * (den[i] as bigint)) % FIELD;
    out[i] = (((c * (wj[i] as bigint)) % FIELD) * di) % FIELD;
  }
  return out;
}

/**
 * Writes a Groth16 proving key (snarkjs zkey format, no contributions yet) straight from the dev
 * toxic secret: every point is a fixed-base multiple of a generator. INSECURE by construction.
 */
async function writeDevZkey(file: string, r1cs: Uint8Array, progress: (f: number) => void): Promise<void> {
  const info = r1csInfo(r1cs);
  const curve = await getCurveFromName('bn128', true);
  try {
    const Fr = curve.Fr;
    const secret = (tag: string) => modr(BigInt(`0x${createHash('sha256').update(`${DEV_TOXIC_SECRET}/${tag}`).digest('hex')}`));
    const tau = secret('tau');
    const alpha = secret('alpha');
    const beta = secret('beta');
    const delta = secret('delta');
    const deltaInv = invr(delta);
    const nPub = info.nOutputs + info.nPubInputs;
    const nVars = info.nWires;
    const nC = info.nConstraints;
    let cirPower = 1;
    while (2 ** cirPower < nC + nPub + 1) cirPower++;
    const m = 2 ** cirPower;
    const wOf = (k: number) => Fr.toObject(Fr.w[k]) as bigint;
    const L = lagrangeAt(tau, m, wOf(cirPower), (j) => j, nC + nPub + 1);
    const u = new Array<bigint>(nVars).fill(0n);
    const v = new Array<bigint>(nVars).fill(0n);
    const w = new Array<bigint>(nVars).fill(0n);
    // coefficient section entries: matrix, constraint, signal, value·R² (snarkjs's form)
    const R = (1n << 256n) % FIELD;
    const R2 = (R * R) % FIELD;
    const coefs: [number, number, number, bigint][] = [];
    const dv = new DataView(r1cs.buffer, r1cs.byteOffset, r1cs.byteLength);
    let pos = info.constraintsOffset;
    const le = (at: number) => {
      let x = 0n;
      for (let i = 31; i >= 0; i--) x = (x << 8n) | BigInt(r1cs[at + i] as number);
      return x;
    };
    for (let c = 0; c < nC; c++) {
      const lc = L[c] as bigint;
      for (let mtx = 0; mtx < 3; mtx++) {
        const n = dv.getUint32(pos, true);
        pos += 4;
        for (let i = 0; i < n; i++) {
          const sig = dv.getUint32(pos, true);
          const coef = le(pos + 4);
          pos += 36;
          const t = (coef * lc) % FIELD;
          if (mtx === 0) u[sig] = ((u[sig] as bigint) + t) % FIELD;
          else if (mtx === 1) v[sig] = ((v[sig] as bigint) + t) % FIELD;
          else w[sig] = ((w[sig] as bigint) + t) % FIELD;
          if (mtx < 2) coefs.push([mtx, c, sig, (coef * R2) % FIELD]);
        }
      }
    }
    for (let s = 0; s <= nPub; s++) {
      u[s] = ((u[s] as bigint) + (L[nC + s] as bigint)) % FIELD;
      coefs.push([0, nC + s, s, R2 % FIELD]);
    }
    const mix = (i: number) => (beta * (u[i] as bigint) + alpha * (v[i] as bigint) + (w[i] as bigint)) % FIELD;
    const LH = lagrangeAt(tau, 2 * m, wOf(cirPower + 1), (i) => 2 * i + 1, m);
    const g1 = new FixedBase(curve, 'g1');
    const g2 = new FixedBase(curve, 'g2');
    const total = 4 * nVars + m + 3 * nVars;
    let done = 0;
    const tick = () => {
      if (++done % 1024 === 0) progress(done / total);
    };
    const tick3 = () => {
      tick();
      tick();
      tick();
    };
    const ic = g1.mulMany(Array.from({ length: nPub + 1 }, (_, i) => mix(i)), tick);
    const h = g1.mulMany(LH.map((x) => (x * deltaInv) % FIELD), tick);
    const cPts = g1.mulMany(Array.from({ length: nVars - nPub - 1 }, (_, i) => (mix(i + nPub + 1) * deltaInv) % FIELD), tick);
    const aPts = g1.mulMany(u, tick);
    const b1 = g1.mulMany(v, tick);
    const b2 = g2.mulMany(v, tick3);
    const [alpha1, beta1, delta1] = [g1.mulMany([alpha]), g1.mulMany([beta]), g1.mulMany([delta])];
    const [beta2, gamma2, delta2] = [g2.mulMany([beta]), g2.mulMany([1n]), g2.mulMany([delta])];
    const u32 = (x: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, x, true);
      return b;
    };
    const fe = (x: bigint) => {
      const b = new Uint8Array(32);
      let y = x;
      for (let i = 0; i < 32; i++) {
        b[i] = Number(y & 0xffn);
        y >>= 8n;
      }
      return b;
    };
    const coefBuf = new Uint8Array(4 + coefs.length * 44);
    coefBuf.set(u32(coefs.length), 0);
    coefs.forEach(([mtx, c, sig, val], i) => {
      const o = 4 + i * 44;
      coefBuf.set(u32(mtx), o);
      coefBuf.set(u32(c), o + 4);
      coefBuf.set(u32(sig), o + 8);
      coefBuf.set(fe(val), o + 12);
    });
    const header2 = Buffer.concat([u32(32), fe(curve.q as bigint), u32(32), fe(FIELD), u32(nVars), u32(nPub), u32(m), alpha1, beta1, beta2, gamma2, delta1, delta2]);
    // Contributions section: a transcript hash (here: of the dev secret's circuit, not snarkjs's
    // ceremony hash; `zkey verify` against a real ptau fails by design) and no contributions.
    const cs = createHash('sha512').update(DEV_TOXIC_SECRET).update(r1cs).digest();
    const sections: [number, Uint8Array][] = [
      [1, u32(1)],
      [2, header2],
      [4, coefBuf],
      [3, ic],
      [9, h],
      [8, cPts],
      [5, aPts],
      [6, b1],
      [7, b2],
      [10, Buffer.concat([cs, u32(0)])],
    ];
    const parts: Uint8Array[] = [Buffer.from('zkey'), u32(1), u32(sections.length)];
    for (const [id, data] of sections) {
      const sh = new Uint8Array(12);
      const d = new DataView(sh.buffer);
      d.setUint32(0, id, true);
      d.setBigUint64(4, BigInt(data.length), true);
      parts.push(sh, data);
    }
    writeFileSync(file, Buffer.concat(parts));
    progress(1);
  } finally {
    await curve.terminate();
  }
}
