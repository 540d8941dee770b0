import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { JobResult, SampleJob } from './batcher.js';
import { ContinuousBatcher } from './continuous-batcher.js';
import { EngineThreadScheduler } from './engine-thread.js';
import { writeTinyCheckpoint } from './testing.js';

/**
 * The engine thread answers what the server's own thread answers for the same jobs: the same text
 * (rebuilt there from token ids), token strings, finish reasons, prompt tokens and streams, and
 * log-probabilities equal to float rounding (a row's logits move in the last bits with the
 * batch it shares a forward pass with, and the two runs batch differently; the engine thread also
 * decodes with its weights compiled as constants, whose packed GEMMs round otherwise: logprobs
 * of up to 5.4 nats moved by up to 7e-5, where both paths' logits, of up to 32, lie within 8e-4
 * of the plain-TS reference's). With a ring of 64
 * words most records go through the port instead, in order.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-engine-thread-'));
writeTinyCheckpoint(dir, { contextLength: 256, seed: 5 });
const policy = BuiltinPolicy.load(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job = (over: Partial<SampleJob>): SampleJob => ({ prompts: ['1+2='], n: 2, maxTokens: 40, temperature: 1, topP: 1, topK: 0, stop: [], seed: 1, signal: new AbortController().signal, ...over });
const jobs = (): SampleJob[] => [
  job({ prompts: ['1+2=', '3*4='], n: 3, maxTokens: 60, seed: 11, stop: ['+7', 'e'] }),
  job({ prompts: ['9-5='], n: 1, maxTokens: 100, seed: 12, temperature: 0.7, topK: 5 }),
  job({ prompts: ['Hello'], n: 4, maxTokens: 30, seed: 13, topP: 0.9 }),
  job({ prompts: ['1+2='], n: 2, maxTokens: 0 + 25, seed: 11 }),
];

/** Exact fields as they are, log-probabilities apart; cached prompt tokens left out (each side has its own prefix cache). */
const comparable = (r: JobResult) => ({ promptTokens: r.promptTokens, samples: r.samples.map((row) => row.map(({ logprobs: _, ...x }) => x)) });
const logprobs = (r: JobResult) => r.samples.flat().flatMap((x) => x.logprobs);
function expectSame(b: JobResult[], a: JobResult[]): void {
  expect(b.map(comparable)).toEqual(a.map(comparable));
  const [x, y] = [b.flatMap(logprobs), a.flatMap(logprobs)];
  expect(x.length).toBe(y.length);
  expect(Math.max(...x.map((v, i) => Math.abs(v - y[i]!)))).toBeLessThan(2e-4);
}

async function runAll(s: { submit(j: SampleJob): Promise<JobResult> }, stream: boolean): Promise<{ results: JobResult[]; streamed: string[][][] }> {
  const streamed: string[][][] = [];
  const results = await Promise.all(
    jobs().map((j, k) => {
      streamed[k] = j.prompts.map(() => new Array<string>(j.n).fill(''));
      return s.submit(stream ? { ...j, onText: (p, i, delta) => (streamed[k]![p]![i] += delta) } : j);
    }),
  );
  return { results, streamed };
}

describe('engine thread', () => {
  for (const ring of [1 << 20, 64]) {
    it(`answers what the server's own thread answers (ring of ${ring} words)`, async () => {
      const here = new ContinuousBatcher(policy);
      const there = new EngineThreadScheduler(policy, {}, ring);
      try {
        const a = await runAll(here, true);
        const b = await runAll(there, true);
        expectSame(b.results, a.results);
        expect(b.streamed).toEqual(a.streamed);
        expect(a.results.flatMap((r) => r.samples.flat().map((x) => x.finishReason))).toEqual(expect.arrayContaining(['stop', 'length']));
        expect(there.stats).toMatchObject({ jobs: 4, cancelled: 0 });
        expect(there.stats.steps).toBeGreaterThan(20);
        expect(there.stats.generationMs).toBeGreaterThan(0);
      } finally {
        await there.close();
      }
    });
  }

  it('a prompt that does not fit fails alone; a job cancelled mid-generation frees its place; the thread sleeps and wakes for the next job', async () => {
    const there = new EngineThreadScheduler(policy);
    try {
      const tooLong = there.submit(job({ prompts: ['1'.repeat(300)] }));
      await expect(tooLong).rejects.toThrow('prompt of 301 tokens does not fit the context length 256');
      const gone = new AbortController();
      const long = there.submit(job({ maxTokens: 200, seed: 3, signal: gone.signal, onText: () => gone.abort(new Error('the client left')) }));
      const beside = job({ n: 1, maxTokens: 30, seed: 21 });
      const ok = there.submit(beside);
      await expect(long).rejects.toThrow('the client left');
      const mine = await ok;
      const alone = await new ContinuousBatcher(policy).submit(beside);
      expectSame([mine], [alone]);
      // Idle now: the next job wakes it.
      await new Promise((r) => setTimeout(r, 50));
      expectSame([await there.submit(beside)], [alone]);
      await expect(there.submit(job({ prompts: ['\u00e9'] }))).rejects.toThrow(/unknown character/);
      // A stream that throws fails its own job; the engine drops it and answers the next.
      await expect(there.submit(job({ maxTokens: 200, seed: 3, onText: () => { throw new Error('socket gone'); } }))).rejects.toThrow('socket gone');
      expectSame([await there.submit(beside)], [alone]);
      for (let t = 0; t < 100 && there.stats.cancelled < 2; t++) await new Promise((r) => setTimeout(r, 10));
      expect(there.stats.cancelled).toBe(2);
    } finally {
      await there.close();
    }
  });
});
