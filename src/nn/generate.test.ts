import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { configForSize, type ModelConfig } from './config.js';
import { cutAfterStop, Generator, type GeneratedSample } from './generate.js';
import { referenceKernels } from './kernels.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';

const tok = new CharTokenizer('abcdefghij0123456789 +=\n');
const tiny: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 2, nHeads: 2, dFF: 24, contextLength: 64, ropeTheta: 10000, normEps: 1e-5 };

function model(cfg: ModelConfig = tiny, seed = 1): Transformer {
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(seed));
  // Larger weights than the init so that logits vary strongly with context (a sharper test).
  for (let i = 0; i < m.params.length; i++) m.params[i]! *= 8;
  return m;
}

describe('KV-cache inference', () => {
  it('matches the full forward pass position by position, for prefill and for one-token steps', () => {
    const m = model();
    const ids = tok.encode('ab12 + 3c\nd', { bos: true });
    const full = m.forward(Int32Array.from(ids), 1, ids.length).data;
    const V = tok.vocabSize;
    const g = new Generator(m, tok);
    const seq = g.engine.newSequence(ids.length);
    const first = g.engine.append([seq], [ids.slice(0, 5)], true)[0]!;
    const rest: Float32Array[] = [];
    for (let t = 5; t < ids.length; t++) rest.push(g.engine.append([seq], [[ids[t]!]])[0]!);
    for (let t = 0; t < ids.length; t++) {
      const got = t < 5 ? first.subarray(t * V, (t + 1) * V) : rest[t - 5]!;
      for (let v = 0; v < V; v++) expect(got[v]).toBeCloseTo(full[t * V + v]!, 3);
    }
  });

  it('the same with the reference kernels', () => {
    const m = model();
    m.kernels = referenceKernels;
    const ids = tok.encode('9+9=18', { bos: true });
    const full = m.forward(Int32Array.from(ids), 1, ids.length).data;
    const g = new Generator(m, tok);
    const seq = g.engine.newSequence(ids.length);
    const last = g.engine.append([seq], [ids])[0]!;
    const V = tok.vocabSize;
    for (let v = 0; v < V; v++) expect(last[v]).toBeCloseTo(full[(ids.length - 1) * V + v]!, 4);
  });
});

describe('sampling', () => {
  it('is reproducible under a seed and differs across seeds', () => {
    const g = new Generator(model(), tok);
    const a = g.generate(['ab'], { n: 4, maxTokens: 12, seed: 5 }).samples[0]!.map((s) => s.text);
    const b = new Generator(model(), tok).generate(['ab'], { n: 4, maxTokens: 12, seed: 5 }).samples[0]!.map((s) => s.text);
    const c = g.generate(['ab'], { n: 4, maxTokens: 12, seed: 6 }).samples[0]!.map((s) => s.text);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('a sample does not depend on what else is in the batch', () => {
    const g = new Generator(model(), tok, { prefixCacheTokens: 0 });
    const alone = g.generate(['ab'], { n: 1, maxTokens: 10, seed: 3 }).samples[0]![0]!.text;
    const batched = g.generate(['ab', 'c1'], { n: 3, maxTokens: 10, seed: 3 }).samples[0]![0]!.text;
    expect(batched).toBe(alone);
  });

  it('counts gives each prefix its own number of samples, and usage is reported per prefix', () => {
    const g = new Generator(model(), tok, { prefixCacheTokens: 0 });
    const r = g.generate(['ab', 'c1', '9+'], { n: 1, counts: [2, 0, 3], maxTokens: 8, seed: 3 });
    expect(r.samples.map((row) => row.length)).toEqual([2, 0, 3]);
    expect(r.stats.perPrefix.map((p) => p.promptTokens)).toEqual([3, 3, 3]);
    expect(r.stats.perPrefix.map((p) => p.outputTokens)).toEqual(r.samples.map((row) => row.reduce((s, x) => s + x.tokenIds.length, 0)));
    expect(r.stats.outputTokens).toBe(r.stats.perPrefix.reduce((s, p) => s + p.outputTokens, 0));
    // A prefix's samples are the ones it gets alone with that n.
    expect(r.samples[2]!.map((x) => x.text)).toEqual(g.generate(['9+'], { n: 3, maxTokens: 8, seed: 3, sampleKey: (_i, j) => `3/2/${j}` }).samples[0]!.map((x) => x.text));
    expect(() => g.generate(['ab'], { n: 1, counts: [1, 2], maxTokens: 4 })).toThrow(/counts: 2 entries for 1 prefixes/);
  });

  it('keeps the batch full: a sample that ends makes room for the next, with the same samples as one wide batch', () => {
    const opts = { n: 6, maxTokens: 14, seed: 8, stop: ['='] };
    const wide = new Generator(model(), tok, { prefixCacheTokens: 0 }).generate(['ab', '9+'], opts);
    const g = new Generator(model(), tok, { prefixCacheTokens: 0, maxBatch: 3 });
    const rows: number[] = [];
    const append = g.engine.append.bind(g.engine);
    g.engine.append = (seqs, tokens, all) => {
      rows.push(seqs.length);
      return append(seqs, tokens, all);
    };
    const narrow = g.generate(['ab', '9+'], opts);
    const texts = (r: typeof wide) => r.samples.map((row) => row.map((x) => x.text));
    expect(texts(narrow)).toEqual(texts(wide));
    const lengths = narrow.samples.flat().map((x) => x.tokenIds.length);
    expect(new Set(lengths).size).toBeGreaterThan(1);
    // Each sample is fed back all but its last token; a window of 3 that waits for its longest
    // sample would need Σ_windows max(L − 1) decode steps, the refilled batch fewer.
    const decodeRows = rows.slice(1); // the first call is the prefill
    expect(decodeRows.reduce((a, b) => a + b, 0)).toBe(lengths.reduce((a, L) => a + L - 1, 0));
    let windowed = 0;
    for (let w = 0; w < lengths.length; w += 3) windowed += Math.max(...lengths.slice(w, w + 3).map((L) => L - 1));
    expect(decodeRows.length).toBeLessThan(windowed);
    expect(Math.max(...decodeRows)).toBe(3);
  });

  it('greedy is deterministic; stop strings end a sample and stay in its text; maxTokens is honoured', () => {
    const g = new Generator(model(), tok);
    const r = g.generate(['ab', 'cd'], { n: 3, maxTokens: 9, temperature: 0 });
    for (const row of r.samples) {
      expect(new Set(row.map((s) => s.text)).size).toBe(1);
      for (const s of row) expect(s.tokenIds.length).toBeLessThanOrEqual(9);
    }
    const stop = g.generate(['ab'], { n: 8, maxTokens: 40, stop: ['1', '2'], seed: 1 });
    for (const s of stop.samples[0]!) {
      if (s.finishReason === 'stop') {
        expect(/[12]$/.test(s.text)).toBe(true);
        expect(/[12]/.test(s.text.slice(0, -1))).toBe(false);
      } else expect(s.text).not.toMatch(/[12]/);
      expect(s.logprobs.length).toBe(s.tokenIds.length);
      for (const lp of s.logprobs) expect(lp).toBeLessThanOrEqual(0);
    }
  });

  it('cutAfterStop ends a stop-ended text just after its first stop string, tokens and logprobs with it', () => {
    const s: GeneratedSample = { text: 'ab=1\nc=2\n', tokenIds: [1, 2, 3, 4, 5, 6, 7, 8, 9], logprobs: [-1, -2, -3, -4, -5, -6, -7, -8, -9], finishReason: 'stop' };
    cutAfterStop(s, ['=2', '\n']);
    expect([s.text, s.tokenIds, s.logprobs]).toEqual(['ab=1\n', [1, 2, 3, 4, 5], [-1, -2, -3, -4, -5]]);
    const long: GeneratedSample = { ...s, text: 'ab\ncd', tokenIds: [1, 2, 3, 4, 5], finishReason: 'length' };
    cutAfterStop(long, ['\n']);
    expect(long.text).toBe('ab\ncd');
  });

  it('64 samples branching from one 100-token prefix compute that prefix once', () => {
    const m = model({ ...tiny, contextLength: 160 });
    const g = new Generator(m, tok);
    const prefix = 'abcdefghij'.repeat(10).slice(0, 99); // + BOS = 100 tokens
    const before = g.engine.tokensComputed;
    const r = g.generate([prefix], { n: 64, maxTokens: 8, seed: 2 });
    const generated = r.samples[0]!.reduce((s, x) => s + x.tokenIds.length, 0);
    // The prefix once, then each generated token but each sample's last (sampled, never fed back).
    const fedBack = r.samples[0]!.reduce((s, x) => s + Math.max(0, x.tokenIds.length - 1), 0);
    expect(g.engine.tokensComputed - before).toBe(100 + fedBack);
    expect(r.stats.promptTokens).toBe(100);
    expect(generated).toBe(r.stats.outputTokens);
    // Asked again, the prefix comes from the cache: only new tokens are computed.
    const again = g.engine.tokensComputed;
    const r2 = g.generate([prefix], { n: 2, maxTokens: 1, seed: 2 });
    expect(g.engine.tokensComputed).toBe(again);
    expect(r2.stats.cachedPromptTokens).toBe(100);
  });

  it('continuing from a tree node reuses the cached node prefix', () => {
    const g = new Generator(model(), tok);
    const steps = g.generate(['ab'], { n: 16, maxTokens: 30, stop: ['0', '5', 'a', 'e', 'i'], seed: 9 }).samples[0]!;
    const step = steps.find((s) => s.finishReason === 'stop' && s.tokenIds.length >= 2);
    expect(step).toBeDefined();
    const before = g.engine.tokensComputed;
    const r = g.generate(['ab' + step!.text], { n: 1, maxTokens: 1, seed: 1 });
    // Only the step's last token is new work (the rest of the node's prefix is cached).
    expect(g.engine.tokensComputed - before).toBe(1);
    expect(r.stats.cachedPromptTokens).toBe(tok.encode('ab' + step!.text, { bos: true }).length - 1);
  });

  it('logprobsOf agrees with the log-probabilities reported while sampling', () => {
    const g = new Generator(model(), tok);
    const s = g.generate(['c'], { n: 1, maxTokens: 10, seed: 4 }).samples[0]![0]!;
    const g2 = new Generator(model(), tok, { prefixCacheTokens: 0 });
    const [lp] = g2.logprobsOf([{ prefix: 'c', continuation: s.text }]);
    const expected = s.finishReason === 'eos' ? s.logprobs.slice(0, -1) : s.logprobs;
    expect(lp!.logprobs.length).toBe(expected.length);
    lp!.logprobs.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 3));
  });

  it('the demo size has about 0.4M parameters', () => {
    const m = new Transformer(configForSize('demo', 42), referenceKernels);
    expect(m.params.length).toBeGreaterThan(350_000);
    expect(m.params.length).toBeLessThan(550_000);
  });
});
