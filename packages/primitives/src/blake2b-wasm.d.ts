declare module 'blake2b-wasm' {
  interface Blake2bHasher {
    update(input: Uint8Array): Blake2bHasher;
    digest(): Uint8Array;
  }
  interface Blake2bFactory {
    (outlen: number, key: Uint8Array | null, salt: Uint8Array | null, personal: Uint8Array | null, noAssert?: boolean): Blake2bHasher;
    ready(cb: (err?: Error) => void): void;
    SUPPORTED: boolean;
  }
  const blake2b: Blake2bFactory;
  export default blake2b;
}
