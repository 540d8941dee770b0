import { describe, expect, it } from 'vitest';
import { frozenCopy } from './learner.js';
import { TOY_PROMPT, toyMeanReward, toyModel, toyPairs, toyTokenizer } from './learner-toy.js';
import { sftLearner } from './sft.js';

describe('sft learner (expert iteration)', () => {
  it('cloning solutions that stop after an "a" lifts the toy reward far above the untrained model', async () => {
    const model = toyModel(3);
    const before = await toyMeanReward(model, 200, 11);
    const rows = toyPairs(200, 5).map((p) => ({ problemId: p.problemId, prompt: TOY_PROMPT, completion: p.chosen }));
    const r = await sftLearner({ steps: 60, batchSize: 32, lr: 1e-2 }).update(rows, { policy: { model, tokenizer: toyTokenizer }, reference: frozenCopy(model), seed: 0 });
    const after = await toyMeanReward(model, 200, 11);
    expect(before).toBeLessThan(0.45);
    expect(after).toBeGreaterThan(0.85);
    expect(r.steps).toBe(60);
    expect(r.trainedTokens).toBeGreaterThan(60 * 32 * 2);
    expect(r.metrics['loss']).toBeGreaterThan(0);
  });

  it("restart mode begins from the loop's initial policy (ReST-EM), continue mode from the current one", async () => {
    const initial = toyModel(3);
    const drifted = toyModel(4);
    const rows = [{ problemId: 'x', prompt: TOY_PROMPT, completion: 'a' }];
    const r = sftLearner({ steps: 1, lr: 1e-9, mode: 'restart' });
    await r.update(rows, { policy: { model: drifted, tokenizer: toyTokenizer }, reference: frozenCopy(drifted), initial, seed: 0 });
    let maxDiff = 0;
    for (let i = 0; i < initial.params.length; i++) maxDiff = Math.max(maxDiff, Math.abs(initial.params[i]! - drifted.params[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    await expect(r.update(rows, { policy: { model: drifted, tokenizer: toyTokenizer }, reference: frozenCopy(drifted), seed: 0 })).rejects.toThrow(/initial policy/);
  });
});
