import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DecodeSequence } from '../nn/decode-session.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { EngineLoop, jobResult, type EngineJob, type JobSink } from './engine-loop.js';
import { writeTinyCheckpoint } from './testing.js';

/**
 * The synchronous core both schedulers drive (the server's thread and the engine thread): driven
 * turn by turn, with jobs and cancellations arriving between turns, it draws exactly the samples
 * each job draws alone, also several steps a turn.
 */
const dir = mkdtempSync(join(tmpdir(), 'searchlearn-engine-loop-'));
writeTinyCheckpoint(dir, { contextLength: 1024, seed: 5 });
const policy = BuiltinPolicy.load(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job = (over: Partial<EngineJob>): EngineJob => ({ prompts: ['1+2='], n: 2, maxTokens: 40, temperature: 1, topP: 1, topK: 0, stop: [], seed: 1, ...over });
const alone = async (j: EngineJob) => {
  const r = await policy.generate({ prefixes: j.prompts, n: j.n, maxTokens: j.maxTokens, temperature: j.temperature, stop: j.stop, seed: j.seed, logprobs: true });
  return r.completions.map((row) => row.map((c) => [c.text, c.finishReason, c.logprobs!.length]));
};
const texts = (seqs: DecodeSequence[][]) => jobResult(seqs, policy.tokenizer).samples.map((row) => row.map((x) => [x.text, x.finishReason, x.logprobs.length]));

/** A sink that records what the loop tells it. */
function sink(stream = false) {
  const got: { done?: DecodeSequence[][]; error?: unknown; streamed: string[][] } = { streamed: [] };
  const s: JobSink = {
    ...(stream ? { text: (p: number, j: number, delta: string) => ((got.streamed[p] ??= [])[j] = (got.streamed[p]?.[j] ?? '') + delta) } : {}),
    done: (seqs) => (got.done = seqs),
    fail: (e) => (got.error = e),
  };
  return { s, got };
}

describe('EngineLoop', () => {
  it('takes jobs and cancellations between turns and draws the samples each job draws alone, one or several steps a turn', async () => {
    for (const stepsPerTurn of [1, 3]) {
      const loop = new EngineLoop(policy.generator, { stepsPerTurn });
      const first = job({ prompts: ['1+2=', '3*4='], n: 2, maxTokens: 120, seed: 31, stop: ['+7'] });
      const late = job({ prompts: ['9-5='], n: 2, maxTokens: 50, seed: 32, temperature: 0.7 });
      const a = sink(true);
      const b = sink();
      const c = sink();
      loop.add(first, a.s);
      let turns = 0;
      let gone;
      while (loop.busy) {
        loop.turn();
        turns++;
        if (turns === 4) {
          loop.add(late, b.s);
          gone = loop.add(job({ maxTokens: 200, seed: 33 }), c.s);
        }
        if (turns === 10) loop.cancel(gone!, new Error('the client left'));
      }
      expect(texts(a.got.done!)).toEqual(await alone(first));
      expect(texts(b.got.done!)).toEqual(await alone(late));
      // The stream is the text but its last token and any tail that could begin a stop string (the server sends the rest with the end).
      a.got.done!.forEach((row, p) => row.forEach((x, j) => {
        const streamed = a.got.streamed[p]![j]!;
        expect(streamed.length).toBeGreaterThan(0);
        expect(x.sample.text.startsWith(streamed)).toBe(true);
      }));
      expect((c.got.error as Error).message).toBe('the client left');
      expect(c.got.done).toBeUndefined();
      expect(loop.stats).toMatchObject({ batches: 1, jobs: 3, joinedMidBatch: 2, cancelled: 1 });
      expect(loop.stats.steps).toBeGreaterThan(stepsPerTurn * (turns - 1));
    }
    expect(() => new EngineLoop(policy.generator, { stepsPerTurn: 0 })).toThrow('stepsPerTurn 0: expected an integer >= 1');
  });

  it('a queued job cancelled before its first turn never runs; a prompt that does not fit fails alone', () => {
    const loop = new EngineLoop(policy.generator);
    const a = sink();
    const b = sink();
    const c = sink();
    const r = loop.add(job({}), a.s);
    loop.add(job({ prompts: ['1'.repeat(2000)] }), b.s);
    loop.add(job({ n: 1, seed: 4 }), c.s);
    loop.cancel(r, new Error('gone'));
    loop.cancel(r, new Error('twice'));
    while (loop.busy) loop.turn();
    expect((a.got.error as Error).message).toBe('gone');
    expect((b.got.error as Error).message).toMatch(/does not fit the context length 1024/);
    expect(c.got.done).toHaveLength(1);
    expect(loop.stats).toMatchObject({ jobs: 1, cancelled: 1 });
  });

  it('a job whose stream throws leaves the batch; its neighbour completes with its own samples', async () => {
    const loop = new EngineLoop(policy.generator);
    const neighbour = job({ n: 1, maxTokens: 30, seed: 21 });
    const fails: unknown[] = [];
    loop.add(job({ maxTokens: 100, seed: 20 }), { text: () => { throw new Error('socket gone'); }, done: () => {}, fail: (e) => fails.push(e) });
    const ok = sink();
    loop.add(neighbour, ok.s);
    while (loop.busy) loop.turn();
    expect(fails.map((e) => (e as Error).message)).toEqual(['socket gone']);
    expect(texts(ok.got.done!)).toEqual(await alone(neighbour));
    expect(loop.stats.cancelled).toBe(1);
  });
});
