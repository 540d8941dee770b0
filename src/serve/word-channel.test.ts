import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ChannelReader, ChannelWriter, channelMemory, RecordReader, RecordWriter } from './word-channel.js';

/**
 * The engine thread's channel: records arrive whole and in order, across the ring's end and when
 * the ring is full (those go through the port); the engine thread's sleep and wake-up across
 * threads are run by server.test.ts (an idle engine thread woken by every request).
 */
const record = (k: number, len: number) => Int32Array.from({ length: len }, (_, i) => k * 1000 + i);

describe('word channel', () => {
  it('delivers records in order across the ring end and through the port when the ring is full', () => {
    const mem = channelMemory(64);
    const ports = new MessageChannel();
    const w = new ChannelWriter(mem, ports.port1);
    const r = new ChannelReader(mem, ports.port2);
    const sent: Int32Array[] = [];
    const got: number[][] = [];
    // Lengths that wrap the ring at every offset; every third round the reader falls behind, so
    // records go through the port between ring records.
    for (let k = 0; k < 300; k++) {
      const x = record(k, (k * 7) % 40);
      sent.push(x);
      w.write(x);
      if (k % 3 !== 0) for (let y = r.read(); y; y = r.read()) got.push([...y]);
    }
    for (let y = r.read(); y; y = r.read()) got.push([...y]);
    expect(got).toEqual(sent.map((x) => [...x]));
    expect(w.ported).toBeGreaterThan(10);
    expect(w.ported).toBeLessThan(250);
    // A record longer than the ring goes through the port whole.
    const big = record(9, 500);
    w.write(big);
    expect([...r.read()!]).toEqual([...big]);
    expect(r.read()).toBeUndefined();
    ports.port1.close();
  });

  it('records read back exactly: doubles, strings with any code unit, id and number lists', () => {
    const w = new RecordWriter();
    const s = 'a\u00e9\u4e2d\ud83d\ude00\u0000' + 'x'.repeat(10_000);
    const words = w.reset().int(-7).num(0.1 + 0.2).num(-Infinity).str(s).str('').ints([3, 0, 2 ** 31 - 1]).nums([Math.PI, -0.5]).words();
    const r = new RecordReader(words.slice());
    expect([r.int(), r.num(), r.num(), r.str(), r.str(), r.ints(), r.nums()]).toEqual([-7, 0.1 + 0.2, -Infinity, s, '', [3, 0, 2 ** 31 - 1], [Math.PI, -0.5]]);
    expect(() => r.int()).toThrow('record: read past its end');
  });

  it('wait sleeps until its timeout with nothing written, and returns at once when a record waits (also one sent through the port)', () => {
    const mem = channelMemory(16);
    const ports = new MessageChannel();
    const w = new ChannelWriter(mem, ports.port1);
    const r = new ChannelReader(mem, ports.port2);
    let t0 = performance.now();
    r.wait(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    w.write(Int32Array.of(1, 2));
    t0 = performance.now();
    r.wait(10_000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect([...r.read()!]).toEqual([1, 2]);
    w.write(record(1, 40));
    t0 = performance.now();
    r.wait(10_000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.read()).toHaveLength(40);
    ports.port1.close();
  });
});
