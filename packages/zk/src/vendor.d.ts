// Minimal typings of the untyped JavaScript packages this layer uses.
declare module 'circomlibjs' {
  export function buildEddsa(): Promise<unknown>;
  export function buildBabyjub(): Promise<unknown>;
  export function buildPoseidonReference(): Promise<unknown>;
}
declare module 'snarkjs' {
  export const groth16: {
    prove(zkey: string | Uint8Array, witness: string | Uint8Array, logger?: unknown): Promise<{ proof: unknown; publicSignals: string[] }>;
    verify(vk: unknown, publicSignals: string[], proof: unknown): Promise<boolean>;
  };
  export const wtns: {
    calculate(input: Record<string, unknown>, wasm: string | Uint8Array, out: string | { type: 'mem' }): Promise<void>;
  };
  export const zKey: {
    newZKey(r1cs: string, ptau: string, zkey: string, logger?: unknown): Promise<unknown>;
    beacon(oldZkey: string, newZkey: string, name: string, beaconHash: string, numIterationsExp: number, logger?: unknown): Promise<unknown>;
    exportVerificationKey(zkey: string, logger?: unknown): Promise<unknown>;
  };
}
declare module 'ffjavascript' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped dependency
  export function getCurveFromName(name: string, singleThread?: boolean): Promise<any>;
}
