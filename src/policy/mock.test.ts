import { describe, expect, it } from 'vitest';
import { policyConformanceSuite } from './conformance.js';
import { createMockPolicy, cut } from './mock.js';

// A script that writes words separated by spaces and lines, different per sample and seed.
const wordy = createMockPolicy((prefix, i, rng) => {
  const words = ['alpha', 'beta', 'gamma', 'delta'];
  let out = '';
  for (let k = 0; k < 6; k++) out += rng.choice(words) + (k % 3 === 2 ? '\n' : ' ');
  return `${prefix.length % 7}${i}${out}`;
});

policyConformanceSuite('mock', async () => wordy, { expectStopHit: true });

policyConformanceSuite('mock (skips must say why)', async () => createMockPolicy({ '*': ['abc def', 'xyz\nuvw', 'pq=rs tu'] }), {
  expectStopHit: true,
  skip: { seed: 'demonstrates a skip: this table script is tested for seeds below' },
});

describe('createMockPolicy', () => {
  it('cuts after the first stop string, keeping it, and at maxTokens', () => {
    expect(cut('ab\ncd\n', ['\n'], 10)).toEqual({ text: 'ab\n', finishReason: 'stop' });
    expect(cut('ab cd\nef', ['\n', ' '], 10)).toEqual({ text: 'ab ', finishReason: 'stop' });
    expect(cut('abcdef', ['\n'], 4)).toEqual({ text: 'abcd', finishReason: 'length' });
    // A stop string that would end past maxTokens does not count.
    expect(cut('abc\n', ['\n'], 3)).toEqual({ text: 'abc', finishReason: 'length' });
    expect(cut('abc', ['\n'], 3)).toEqual({ text: 'abc', finishReason: 'eos' });
    expect(cut('a\n\nb', ['\n\n'], 10)).toEqual({ text: 'a\n\n', finishReason: 'stop' });
  });

  it('takes the first option greedily from a table and samples the others', async () => {
    const policy = createMockPolicy({ 'Q:': ['A', 'B', 'C'], '*': 'default' });
    const greedy = await policy.generate({ prefixes: ['Q:', 'other'], n: 3, maxTokens: 10, temperature: 0 });
    expect(greedy.completions.map((s) => s.map((c) => c.text))).toEqual([
      ['A', 'A', 'A'],
      ['default', 'default', 'default'],
    ]);
    const sampled = await policy.generate({ prefixes: ['Q:'], n: 30, maxTokens: 10, seed: 3 });
    expect(new Set(sampled.completions[0]!.map((c) => c.text))).toEqual(new Set(['A', 'B', 'C']));
    await expect(createMockPolicy({ x: 'y' }).generate({ prefixes: ['z'], maxTokens: 3 })).rejects.toThrow(/no script entry/);
  });

  it('reproduces a seed and varies with it', async () => {
    const req = { prefixes: ['p'], n: 4, maxTokens: 40, seed: 11 };
    const a = await wordy.generate(req);
    const b = await wordy.generate(req);
    const c = await wordy.generate({ ...req, seed: 12 });
    expect(b.completions).toEqual(a.completions);
    expect(c.completions).not.toEqual(a.completions);
  });

  it('records every call and sums usage (1 token = 1 character, prompt counted once per prefix)', async () => {
    const policy = createMockPolicy(() => ({ text: 'xyz\nw', tokenLogprob: -0.25 }));
    const r1 = await policy.generate({ prefixes: ['ab', 'cde'], n: 2, stop: ['\n'], maxTokens: 10, logprobs: true });
    const r2 = await policy.generate({ prefixes: ['q'], n: 1, maxTokens: 2 });
    expect(policy.calls.map((c) => c.result)).toEqual([r1, r2]);
    expect(r1.usage).toEqual({ promptTokens: 5, cachedPromptTokens: 0, outputTokens: 16, calls: 1 });
    expect(r1.completions[0]![0]).toEqual({ text: 'xyz\n', finishReason: 'stop', tokens: 4, logprobs: [-0.25, -0.25, -0.25, -0.25] });
    expect(r2.completions[0]![0]).toEqual({ text: 'xy', finishReason: 'length', tokens: 2 });
    expect(policy.usage).toEqual({ promptTokens: 6, cachedPromptTokens: 0, outputTokens: 18, calls: 2 });
    policy.reset();
    expect(policy.calls).toHaveLength(0);
    expect(policy.usage.calls).toBe(0);
  });

  it('warns on options it ignores', async () => {
    const res = await wordy.generate({ prefixes: ['a'], maxTokens: 5, topK: 3, topP: 0.5 });
    expect(res.warnings).toHaveLength(2);
  });
});

describe('policyConformanceSuite', () => {
  it('refuses a skip that does not say why', () => {
    expect(() => policyConformanceSuite('bad', async () => wordy, { skip: { seed: ' ' } })).toThrow(/must say why/);
  });
});
