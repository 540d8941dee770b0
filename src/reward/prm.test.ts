import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { saveModel } from '../nn/model-io.js';
import { Transformer } from '../nn/model.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { valueModelFromPolicy } from '../nn/value-model.js';
import { encodeSolution, LearnedRewardModel, loadRewardModel } from './prm.js';
import type { RewardItem } from './reward.js';

const tok = new CharTokenizer('\n +0123456789:=ACQaenrsw');
const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, contextLength: 48, ropeTheta: 10000, normEps: 1e-5 };
const problem = { id: 'p', prompt: '1+2', answer: '3' };
const item = (steps: string[], complete = true): RewardItem => ({ problem, prompt: 'Q: 1+2\n', steps, complete });

function randomValueModel(seed = 4): Transformer {
  const policy = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  policy.init(new Rng(seed));
  const v = valueModelFromPolicy(policy);
  // A nonzero head, so scores differ by position.
  const w = v.weight('output.weight');
  const rng = new Rng(seed + 1);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.5;
  return v;
}

const dir = mkdtempSync(join(tmpdir(), 'prm-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LearnedRewardModel', () => {
  it('a process model gives one score per step (read at the step end) and aggregates them', async () => {
    const prm = new LearnedRewardModel(randomValueModel(), tok, { kind: 'process', aggregation: 'min' });
    const items = [item(['1+2=3', 'Answer: 3']), item(['1+2=4']), item([]), item(['2+1=3', 'ww', 'Answer: 3'])];
    const { scores, usage } = await prm.score(items);
    expect(scores.map((s) => s.stepScores!.length)).toEqual([2, 1, 0, 3]);
    for (const s of scores) {
      for (const v of s.stepScores!) expect(v > 0 && v < 1).toBe(true);
      if (s.stepScores!.length > 0) expect(s.score).toBe(Math.min(...s.stepScores!));
    }
    // The step score only depends on the text up to the step's end (causal model, padding after).
    const alone = await prm.score([item(['1+2=3'])]);
    expect(alone.scores[0]!.stepScores![0]).toBeCloseTo(scores[0]!.stepScores![0]!, 5);
    const tokens = items.reduce((s, it) => s + encodeSolution(tok, it.prompt, it.steps, '\n').ids.length, 0);
    expect(usage).toEqual({ calls: 1, tokens });
    expect(prm.usage).toEqual({ calls: 2, tokens: tokens + encodeSolution(tok, 'Q: 1+2\n', ['1+2=3'], '\n').ids.length });
  });

  it('an outcome model scores the last token; scoring is deterministic and batch-independent', async () => {
    const orm = new LearnedRewardModel(randomValueModel(), tok, { kind: 'outcome', batchSize: 2 });
    const items = [item(['1+2=3', 'Answer: 3']), item(['1+2=4', 'Answer: 4']), item(['Answer: 3'])];
    const a = (await orm.score(items)).scores;
    expect(a.every((s) => s.stepScores === undefined && s.score > 0 && s.score < 1)).toBe(true);
    const b = (await new LearnedRewardModel(orm.model, tok, { kind: 'outcome', batchSize: 8 }).score(items)).scores;
    b.forEach((s, i) => expect(s.score).toBeCloseTo(a[i]!.score, 5));
    // The outcome score of a solution is the process score of its last step.
    const p = (await new LearnedRewardModel(orm.model, tok, { kind: 'process', aggregation: 'last' }).score(items)).scores;
    p.forEach((s, i) => expect(s.score).toBeCloseTo(a[i]!.score, 5));
  });

  it('starts at ½ everywhere from a fresh value head', async () => {
    const policy = new Transformer(cfg, createOrtKernels({ threads: 1 }));
    policy.init(new Rng(1));
    const { scores } = await new LearnedRewardModel(valueModelFromPolicy(policy), tok).score([item(['1+2=3', 'Answer: 3'])]);
    expect(scores[0]!.stepScores).toEqual([0.5, 0.5]);
  });

  it('fails clearly on characters outside the tokenizer, on too-long solutions and on a policy model', async () => {
    const prm = new LearnedRewardModel(randomValueModel(), tok);
    await expect(prm.score([item(['1+2=3 ✓'])])).rejects.toThrow(/cannot tokenize the solution: unknown character "✓"/);
    await expect(prm.score([item(['1'.repeat(60)])])).rejects.toThrow(/exceeds the context length 48/);
    const policy = new Transformer(cfg, createOrtKernels({ threads: 1 }));
    expect(() => new LearnedRewardModel(policy, tok)).toThrow(/expected 1 \(a value model/);
  });
});

describe('loadRewardModel', () => {
  it('loads a reward checkpoint with its meta and scores as the saved model did', async () => {
    const model = randomValueModel(7);
    saveModel(join(dir, 'prm'), model, tok, { kind: 'process', aggregation: 'prod', task: 'arith', stepDelimiter: '\n' });
    const { reward, meta } = loadRewardModel(join(dir, 'prm'));
    expect(meta).toMatchObject({ kind: 'process', aggregation: 'prod', task: 'arith' });
    expect(reward.kind).toBe('process');
    expect(reward.id).toBe(`prm:${join(dir, 'prm')}`);
    const items = [item(['1+2=3', 'Answer: 3'])];
    const want = (await new LearnedRewardModel(model, tok, { aggregation: 'prod' }).score(items)).scores;
    const got = (await reward.score(items)).scores;
    expect(got[0]!.score).toBeCloseTo(want[0]!.score, 6);
    expect(loadRewardModel(join(dir, 'prm'), { aggregation: 'min' }).reward.options.aggregation).toBe('min');
  });

  it('rejects a policy checkpoint and a value model without reward meta', () => {
    const policy = new Transformer(cfg, createOrtKernels({ threads: 1 }));
    policy.init(new Rng(2));
    saveModel(join(dir, 'policy'), policy, tok);
    expect(() => loadRewardModel(join(dir, 'policy'))).toThrow(/not a reward model.*train-prm/);
    saveModel(join(dir, 'bare'), valueModelFromPolicy(policy), tok);
    expect(() => loadRewardModel(join(dir, 'bare'))).toThrow(/reward meta field "kind"/);
  });
});
