import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from './config.js';
import { DecodeSession, type DecodeRequest } from './decode-session.js';
import { Generator, type GeneratedSample } from './generate.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';

const tok = new CharTokenizer('abcdefghij0123456789 +=\n');
const tiny: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 2, nHeads: 2, dFF: 24, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };

function model(): Transformer {
  const m = new Transformer(tiny, createOrtKernels({ threads: 1 }));
  m.init(new Rng(1));
  // Sharp logits (as generate.test.ts): samples differ visibly with context and seed.
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 8;
  return m;
}

interface Req {
  prefix: string;
  n: number;
  seed: number;
  maxTokens: number;
  stop: string[];
  temperature: number;
}

const requests = (r: Req): DecodeRequest[] =>
  Array.from({ length: r.n }, (_, j) => ({ prefix: r.prefix, maxTokens: r.maxTokens, stop: r.stop, temperature: r.temperature, topP: 1, topK: 0, rngKey: `${r.seed}/0/${j}` }));

/** What Generator.generate gives the request alone (a fresh generator: no cache shared with the session). */
function alone(r: Req): GeneratedSample[] {
  return new Generator(model(), tok).generate([r.prefix], { n: r.n, maxTokens: r.maxTokens, stop: r.stop, temperature: r.temperature, seed: r.seed }).samples[0]!;
}

const view = (s: GeneratedSample) => [s.text, s.finishReason, s.tokenIds.join(' ')];

const reqs: Req[] = [
  { prefix: 'ab', n: 4, seed: 3, maxTokens: 20, stop: [], temperature: 1 },
  { prefix: 'c1+', n: 3, seed: 9, maxTokens: 30, stop: ['0', 'e'], temperature: 0.8 },
  { prefix: 'ab', n: 2, seed: 5, maxTokens: 12, stop: [], temperature: 1 },
  { prefix: 'j9 ', n: 5, seed: 1, maxTokens: 25, stop: ['\n'], temperature: 0 },
];

describe('DecodeSession (step-wise decoding for continuous batching)', () => {
  it('gives each request exactly what generate gives it alone, also when requests join mid-batch', () => {
    const want = reqs.map(alone);
    for (const [joinAt, opts] of [
      [[0, 0, 0, 0], {}],
      [[0, 1, 3, 7], {}],
      [[0, 5, 5, 2], {}],
      // Few slots (later sequences wait for one) and prompts prefilled one per step.
      [[0, 0, 2, 2], { maxBatch: 4, maxPrefillTokens: 3 }],
    ] as const) {
      const session = new DecodeSession(new Generator(model(), tok), opts);
      const got: ReturnType<DecodeSession['add']>[] = [];
      let steps = 0;
      let joinedWhileBusy = 0;
      while (got.length < reqs.length || session.size > 0) {
        reqs.forEach((r, k) => {
          if (got[k] === undefined && joinAt[k]! <= steps) {
            if (session.size > 0) joinedWhileBusy++;
            got[k] = session.add(requests(r));
          }
        });
        session.step();
        steps++;
      }
      if (joinAt.some((x) => x > 0)) expect(joinedWhileBusy).toBeGreaterThan(0);
      got.forEach((seqs, k) => expect(seqs.map((s) => view(s.sample))).toEqual(want[k]!.map(view)));
    }
  });

  it('streams text token by token: each step extends the text, and finished sequences leave at once', () => {
    const session = new DecodeSession(new Generator(model(), tok));
    const [short] = session.add(requests({ prefix: 'ab', n: 1, seed: 3, maxTokens: 2, stop: [], temperature: 1 }));
    const [long] = session.add(requests({ prefix: 'c1+', n: 1, seed: 3, maxTokens: 20, stop: [], temperature: 0 }));
    const texts: string[] = [];
    let shortGone = -1;
    for (let step = 0; session.size > 0; step++) {
      const ev = session.step();
      if (ev.finished.includes(short!)) shortGone = step;
      if (ev.advanced.includes(long!)) texts.push(long!.sample.text);
      if (step > 0 && !short!.done) expect(ev.advanced).toContain(short);
    }
    // Prefill at step 0, a token at steps 1 and 2: the short one ends at step 2 while the long one goes on.
    expect(shortGone).toBe(2);
    expect(long!.done).toBe(true);
    expect(texts.length).toBeGreaterThan(3);
    for (let i = 1; i < texts.length; i++) expect(texts[i]!.startsWith(texts[i - 1]!)).toBe(true);
  });

  it('a prompt already live in the session is computed once, whenever its second request joins', () => {
    const g = new Generator(model(), tok, { prefixCacheTokens: 0 });
    const session = new DecodeSession(g);
    const prefix = 'abcdefghij0123456789'; // + BOS = 21 tokens
    const first = session.add(requests({ prefix, n: 2, seed: 1, maxTokens: 10, stop: [], temperature: 1 }));
    session.step();
    session.step();
    const second = session.add(requests({ prefix, n: 1, seed: 2, maxTokens: 10, stop: [], temperature: 1 }));
    const before = g.engine.tokensComputed;
    session.drain();
    // Only generated tokens are computed after the prompt: each sample's tokens but its last
    // (never fed back), less the first request's first tokens, fed back before `before`.
    const fedBack = (s: (typeof first)[number]): number => s.sample.tokenIds.length - 1;
    const fed = [...first, ...second].reduce((t, s) => t + fedBack(s), 0) - first.filter((s) => fedBack(s) > 0).length;
    expect(g.engine.tokensComputed - before).toBe(fed);
    expect(second[0]!.cachedPromptTokens).toBe(21);
    expect(first[0]!.cachedPromptTokens).toBe(0);
  });

  it('a cancelled sequence leaves the batch, the others are unchanged, and KV memory comes back', () => {
    const g = new Generator(model(), tok, { prefixCacheTokens: 0 });
    const run = (cancelAt: number): { texts: string[]; bytes: number } => {
      const session = new DecodeSession(g);
      const a = session.add(requests({ prefix: 'ab', n: 3, seed: 4, maxTokens: 40, stop: [], temperature: 1 }));
      const b = session.add(requests({ prefix: 'c1+', n: 2, seed: 6, maxTokens: 40, stop: [], temperature: 1 }));
      for (let step = 0; session.size > 0; step++) {
        if (step === cancelAt) for (const s of a) session.cancel(s);
        session.step();
      }
      if (cancelAt >= 0) for (const s of a) expect(s.cancelled || s.done).toBe(true);
      return { texts: b.map((s) => s.sample.text), bytes: g.engine.kvStats.bytesInUse };
    };
    const full = run(-1);
    const cut = run(3);
    expect(cut.texts).toEqual(full.texts);
    // Nothing held once the session is empty (scratch space is the same in both runs).
    expect(cut.bytes).toBe(full.bytes);
  });
});
