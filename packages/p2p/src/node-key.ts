/**
 * The node's long-lived identity: an ed25519 key whose public half is the libp2p peer id. Kept in
 * `<dataDir>/p2p.key` (libp2p protobuf encoding, mode 0600) so a restarted node keeps its peer id
 * and bootnode addresses stay valid.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { StrataError } from '@strata/primitives';

/** File name of the node key inside the data directory. */
export const NODE_KEY_FILE = 'p2p.key';

/**
 * Loads the node key from `<dataDir>/p2p.key`, creating it on first use; without `dataDir`
 * returns a fresh key. Throws CONFIG_INVALID if the file exists but is not an ed25519 key.
 */
export async function loadOrCreateNodeKey(dataDir?: string): Promise<PrivateKey> {
  if (dataDir === undefined) return generateKeyPair('Ed25519');
  const file = join(dataDir, NODE_KEY_FILE);
  let bytes: Uint8Array | undefined;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StrataError('CONFIG_INVALID', `cannot read node key ${file}: ${(e as Error).message}; check permissions`, { file }, { cause: e });
    }
  }
  if (bytes !== undefined) {
    let key: PrivateKey;
    try {
      key = privateKeyFromProtobuf(bytes);
    } catch (e) {
      throw new StrataError('CONFIG_INVALID', `node key ${file} is corrupt; restore it, or delete it to start with a new peer id`, { file }, { cause: e });
    }
    if (key.type !== 'Ed25519') {
      throw new StrataError('CONFIG_INVALID', `node key ${file} is a ${key.type} key, expected Ed25519; delete it to start with a new peer id`, { file });
    }
    return key;
  }
  const key = await generateKeyPair('Ed25519');
  try {
    await mkdir(dataDir, { recursive: true });
    // Write then rename so a crash never leaves a half-written key behind.
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    throw new StrataError('CONFIG_INVALID', `cannot write node key ${file}: ${(e as Error).message}; check that dataDir is writable`, { file }, { cause: e });
  }
  return key;
}

/** The peer id of the node key in `dataDir` (created on first use), e.g. to hand out bootnode addresses before a node starts. */
export async function nodePeerId(dataDir: string): Promise<string> {
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  return peerIdFromPrivateKey(await loadOrCreateNodeKey(dataDir)).toString();
}
