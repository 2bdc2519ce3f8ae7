/**
 * Node identity and bootnode re-dial over real TCP on 127.0.0.1: the ed25519 node key persists in
 * <dataDir>/p2p.key across restarts (same peer id), and a node re-dials its bootnode after the
 * bootnode restarts at the same address.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_KEY_FILE, P2PNode } from '@strata/p2p';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';

const NET = 'idtest';
const nodes: P2PNode[] = [];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-p2p-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

describe('p2p identity', () => {
  it('keeps the same peer id across restarts with the same dataDir', async () => {
    const dataDir = join(dir, 'node-a');
    const first = await P2PNode.create({ networkId: NET, dataDir });
    nodes.push(first);
    await first.start();
    const id = first.peerId;
    expect(first.multiaddrs.every((m) => m.endsWith(`/p2p/${id}`))).toBe(true);
    await first.stop();
    const keyFile = join(dataDir, NODE_KEY_FILE);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const keyBytes = await readFile(keyFile);

    const second = await P2PNode.create({ networkId: NET, dataDir });
    nodes.push(second);
    await second.start();
    expect(second.peerId).toBe(id);
    expect(await readFile(keyFile)).toEqual(keyBytes);

    const other = await P2PNode.create({ networkId: NET, dataDir: join(dir, 'node-b') });
    const fresh1 = await P2PNode.create({ networkId: NET });
    const fresh2 = await P2PNode.create({ networkId: NET });
    expect(new Set([id, other.peerId, fresh1.peerId, fresh2.peerId]).size).toBe(4);
  });

  it('refuses a corrupt key file with CONFIG_INVALID', async () => {
    const dataDir = join(dir, 'corrupt');
    const n = await P2PNode.create({ networkId: NET, dataDir });
    await writeFile(join(dataDir, NODE_KEY_FILE), Uint8Array.of(1, 2, 3));
    await expect(P2PNode.create({ networkId: NET, dataDir })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(n.peerId).toMatch(/^12D3KooW/);
  });

  it('re-dials a bootnode that comes back at the same address', async () => {
    const dataDir = join(dir, 'boot');
    const boot = await P2PNode.create({ networkId: NET, dataDir });
    nodes.push(boot);
    await boot.start();
    const addr = boot.multiaddrs[0] as string;
    const port = addr.split('/')[4];
    const follower = await P2PNode.create({ networkId: NET, bootnodes: [addr] });
    nodes.push(follower);
    const events: string[] = [];
    follower.on('peer:connect', (id) => events.push(`connect ${id === boot.peerId}`));
    follower.on('peer:disconnect', (id) => events.push(`disconnect ${id === boot.peerId}`));
    await follower.start();
    await follower.waitForPeers(1);

    await boot.stop();
    await waitFor(() => follower.peers().length === 0, 'the follower to notice');
    const again = await P2PNode.create({ networkId: NET, dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    nodes.push(again);
    await again.start();
    expect(again.peerId).toBe(boot.peerId);
    // First re-dial after 1 s of backoff.
    await follower.waitForPeers(1, 4000);
    expect(follower.peers()[0]?.id).toBe(boot.peerId);
    expect(events).toEqual(['connect true', 'disconnect true', 'connect true']);
  });
});
