/**
 * What the CLI needs to derive keys and sign (bip39/bip32, secp256k1, the runtime's transaction
 * codecs), in one module that commands load in the action that signs:
 * `const S = await import('../signing.js')`. Light modules must not import these statically, nor
 * `await import('@strata/primitives')` (a barrel loaded dynamically becomes a bundle entry, and
 * every static import of it then loads all of it): see test/unit/cli-import-graph.test.ts.
 */
export { deriveKeyPairs, DEV_MNEMONIC, encode, keyPairFromSecret, randomKeyPair } from '@strata/primitives';
export { encodeTx, parseAddress, signTx, TRANSFER_COMPUTE, TransferArgsCodec } from '@strata/runtime';
