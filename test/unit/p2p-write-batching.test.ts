import net from 'node:net';
import type { MultiaddrConnection } from '@libp2p/interface';
import { batchWrites } from '@strata/p2p';
import { describe, expect, it } from 'vitest';

// a stand-in for @libp2p/tcp's connection: one socket.write per buffer handed over
function fakeConn(socket: net.Socket) {
  return {
    socket,
    sendData(data: Uint8Array[]) {
      let canSendMore = true;
      for (const b of data) canSendMore = socket.write(b);
      return { sentBytes: data.reduce((n, b) => n + b.length, 0), canSendMore };
    },
  };
}

async function socketPair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => a.once('connect', () => r()));
  const b = await accepted;
  return {
    a,
    b,
    close: () => {
      a.destroy();
      b.destroy();
      server.close();
    },
  };
}

function countWrites(socket: net.Socket): () => number {
  // biome-ignore lint/suspicious/noExplicitAny: instrumentation of a Node internal
  const s = socket as any;
  const orig = s._writeGeneric;
  let n = 0;
  s._writeGeneric = function (...args: unknown[]) {
    n++;
    return orig.apply(this, args);
  };
  return () => n;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('p2p socket write batching', () => {
  it('sends everything written in one event-loop turn with one write, in order', async () => {
    const { a, b, close } = await socketPair();
    try {
      const writes = countWrites(a);
      const conn = batchWrites(fakeConn(a) as unknown as MultiaddrConnection) as unknown as ReturnType<typeof fakeConn>;
      const got: Buffer[] = [];
      b.on('data', (d: Buffer) => got.push(d));
      conn.sendData([Uint8Array.of(1, 2), Uint8Array.of(3)]);
      await Promise.resolve();
      conn.sendData([Uint8Array.of(4, 5, 6)]);
      expect(writes()).toBe(0); // corked until the turn ends
      await tick();
      expect(writes()).toBe(1);
      conn.sendData([Uint8Array.of(7)]); // a later turn: corked again, flushed again
      await tick();
      expect(writes()).toBe(2);
      for (let i = 0; i < 50 && Buffer.concat(got).length < 7; i++) await new Promise((r) => setTimeout(r, 10));
      expect([...Buffer.concat(got)]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      close();
    }
  });

  it('keeps back-pressure: write() past the high-water mark still reports it and drain follows the flush', async () => {
    const { a, b, close } = await socketPair();
    try {
      const conn = batchWrites(fakeConn(a) as unknown as MultiaddrConnection) as unknown as ReturnType<typeof fakeConn>;
      let received = 0;
      b.on('data', (d: Buffer) => {
        received += d.length;
      });
      const r = conn.sendData([new Uint8Array(a.writableHighWaterMark + 1)]);
      expect(r.canSendMore).toBe(false);
      await new Promise<void>((res) => a.once('drain', () => res()));
      for (let i = 0; i < 50 && received < a.writableHighWaterMark + 1; i++) await new Promise((res) => setTimeout(res, 10));
      expect(received).toBe(a.writableHighWaterMark + 1);
    } finally {
      close();
    }
  });

  it('end() flushes corked bytes; a connection without a corkable socket is left alone', async () => {
    const { a, b, close } = await socketPair();
    try {
      const conn = batchWrites(fakeConn(a) as unknown as MultiaddrConnection) as unknown as ReturnType<typeof fakeConn>;
      const got: Buffer[] = [];
      b.on('data', (d: Buffer) => got.push(d));
      const ended = new Promise<void>((r) => b.once('end', () => r()));
      conn.sendData([Uint8Array.of(9, 9)]);
      a.end();
      await ended;
      expect([...Buffer.concat(got)]).toEqual([9, 9]);
      const plain = { sendData: () => ({ sentBytes: 0, canSendMore: true }) };
      const orig = plain.sendData;
      batchWrites(plain as unknown as MultiaddrConnection);
      expect(plain.sendData).toBe(orig);
    } finally {
      close();
    }
  });
});
