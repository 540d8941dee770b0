import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from './config.js';
import { Generator } from './generate.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';
import { LmTrainer, makeBatch, encodeExamples, textToExamples } from './train.js';

const corpus = ['Q: 12+7\nA: 19', 'Q: 30+4\nA: 34', 'Q: 5+5\nA: 10', 'Q: 21+2\nA: 23'];
const tok = CharTokenizer.fromCorpus(corpus);
const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, contextLength: 32, ropeTheta: 10000, normEps: 1e-5 };

function freshModel(): Transformer {
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(11));
  return m;
}

describe('training', () => {
  it('masks prompts and padding: only completion tokens (and EOS) carry loss', () => {
    const enc = encodeExamples([{ prompt: 'Q: 5+5\n', completion: 'A: 10' }, { completion: 'A: 1' }], tok, 32);
    const b = makeBatch(enc, tok.pad);
    expect(b.T).toBe(enc[0]!.ids.length - 1);
    // Example 0: BOS + 7 prompt chars; targets from index 7 on ('A: 10' + EOS = 6 tokens) carry loss.
    const row0 = Array.from(b.mask.subarray(0, b.T));
    expect(row0.filter((x) => x > 0).length).toBe(6);
    expect(row0.slice(0, 7).every((x) => x === 0)).toBe(true);
    // Example 1 has no prompt: every token after BOS carries loss; its padding does not.
    const row1 = Array.from(b.mask.subarray(b.T, 2 * b.T));
    expect(row1.filter((x) => x > 0).length).toBe(5);
    expect(b.inputs[b.T + 10]).toBe(tok.pad);
  });

  it('overfits a tiny corpus to near-zero loss and then reproduces it greedily', () => {
    const m = freshModel();
    const examples = corpus.map((c) => ({ prompt: c.slice(0, c.indexOf('\n') + 1), completion: c.slice(c.indexOf('\n') + 1) }));
    const trainer = new LmTrainer(m, tok, examples, { steps: 250, batchSize: 8, warmupSteps: 10, seed: 1, optimizer: { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, clipNorm: 1 } });
    const first = trainer.trainStep().loss;
    let last = first;
    for (let i = 1; i < 250; i++) last = trainer.trainStep().loss;
    expect(first).toBeGreaterThan(1.5);
    expect(last).toBeLessThan(0.05);
    expect(trainer.evaluate(examples)).toBeLessThan(0.05);
    const g = new Generator(m, tok);
    const out = g.generate(examples.map((e) => e.prompt!), { maxTokens: 10, temperature: 0 });
    expect(out.samples.map((r) => r[0]!.text)).toEqual(examples.map((e) => e.completion));
  });

  it('is reproducible under a seed', () => {
    const run = (): number[] => {
      const t = new LmTrainer(freshModel(), tok, corpus.map((c) => ({ completion: c })), { steps: 5, batchSize: 4, seed: 3 });
      return [t.trainStep().loss, t.trainStep().loss, t.trainStep().loss];
    };
    expect(run()).toEqual(run());
  });

  it('cuts running text into overlapping windows', () => {
    const ex = textToExamples('abcdefghij', 4);
    expect(ex.map((e) => e.completion)).toEqual(['abcd', 'cdef', 'efgh', 'ghij']);
    expect(ex.map((e) => e.eos)).toEqual([false, false, false, true]);
  });
});

describe('gradient accumulation', () => {
  it('splitting a batch into microbatches gives the same update as one pass', () => {
    const examples = corpus.map((c) => ({ prompt: c.slice(0, 3), completion: c.slice(3) }));
    const run = (microBatchTokens: number): Float32Array => {
      const m = freshModel();
      const t = new LmTrainer(m, tok, examples, { steps: 2, batchSize: 8, seed: 5, microBatchTokens });
      t.trainStep();
      t.trainStep();
      return m.params.slice();
    };
    const whole = run(1 << 20);
    const split = run(20); // one or two rows per pass
    let maxDiff = 0;
    for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i]! - split[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  });
});
