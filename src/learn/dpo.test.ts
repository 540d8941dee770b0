import { describe, expect, it } from 'vitest';
import type { Transformer } from '../nn/model.js';
import { defaultDpoConfig, dpoLearner } from './dpo.js';
import type { PreferencePair } from './examples.js';
import { frozenCopy, type StepMetrics } from './learner.js';
import { toyMeanReward, toyModel, toyPairs, toyTokenizer } from './learner-toy.js';
import { encodeSequences, sequenceLogprobs } from './logprobs.js';

/** Held-out DPO statistics: implicit-reward accuracy (policy vs reference) and the policy's own log-prob margin. */
function heldOut(model: Transformer, ref: Transformer, pairs: PreferencePair[]): { accuracy: number; margin: number } {
  const seqs = encodeSequences(pairs.flatMap((p) => [{ prompt: p.prompt, completion: p.chosen, eos: true }, { prompt: p.prompt, completion: p.rejected, eos: true }]), toyTokenizer, 16);
  const sum = (m: Transformer) => sequenceLogprobs(m, seqs, toyTokenizer.pad).map((a) => a.reduce((s, v) => s + v, 0));
  const pol = sum(model);
  const rf = sum(ref);
  let correct = 0;
  let margin = 0;
  for (let i = 0; i < pairs.length; i++) {
    if (pol[2 * i]! - rf[2 * i]! > pol[2 * i + 1]! - rf[2 * i + 1]!) correct++;
    margin += pol[2 * i]! - pol[2 * i + 1]!;
  }
  return { accuracy: correct / pairs.length, margin: margin / pairs.length };
}

const train = toyPairs(256, 1);
const test = toyPairs(200, 2);

describe('dpo learner', () => {
  it('learns "stop after a" from pairs: held-out accuracy and margin rise, and so does the reward of fresh samples', async () => {
    const model = toyModel(1);
    const ref = frozenCopy(model);
    const before = heldOut(model, ref, test);
    const rewardBefore = await toyMeanReward(model, 256, 99);
    const steps: StepMetrics[] = [];
    const planned: number[] = [];
    const res = await dpoLearner({ epochs: 3, optimizer: { ...defaultDpoConfig.optimizer, lr: 1e-3 } }).update(train, {
      policy: { model, tokenizer: toyTokenizer },
      reference: ref,
      seed: 0,
      onStep: (m) => steps.push(m),
      onPlan: (n) => planned.push(n),
    });
    const after = heldOut(model, ref, test);
    const rewardAfter = await toyMeanReward(model, 256, 99);
    // Measured: margin 0.37 → 3.8 nats, implicit-reward accuracy 0 (ties) → 0.84+, reward 0.125 → 0.79.
    expect(res.steps).toBe(48);
    expect(steps).toHaveLength(48);
    // The step count is announced once, before the first step (progress bars show it).
    expect(planned).toEqual([48]);
    expect(res.trainedTokens).toBeGreaterThan(0);
    expect(before.accuracy).toBe(0);
    expect(after.accuracy).toBeGreaterThan(0.8);
    expect(after.margin).toBeGreaterThan(before.margin + 2);
    expect(rewardBefore).toBeLessThan(0.25);
    expect(rewardAfter).toBeGreaterThan(0.6);
    // TRL's metric names, and sane values: the first step starts at the reference (loss ≈ log 2 + NLL).
    for (const k of ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'grad_norm']) expect(res.metrics).toHaveProperty(k);
    expect(steps[0]!['rewards/margins']).toBeCloseTo(0, 6);
    expect(steps[0]!.loss).toBeCloseTo(Math.log(2) + steps[0]!.nll_loss!, 4);
    expect(steps.at(-1)!['rewards/accuracies']).toBeGreaterThan(0.8);
  }, 120_000);

  it('fails the same objective when the pairs are reversed (the test can fail), and a tiny microbatch budget gives the same update', async () => {
    const swapped = train.map((p) => ({ ...p, chosen: p.rejected, rejected: p.chosen }));
    const model = toyModel(1);
    const ref = frozenCopy(model);
    await dpoLearner({ rpoAlpha: 0, optimizer: { ...defaultDpoConfig.optimizer, lr: 1e-3 } }).update(swapped, { policy: { model, tokenizer: toyTokenizer }, reference: ref, seed: 0 });
    expect(heldOut(model, ref, test).accuracy).toBeLessThan(0.2);
    // Microbatching (gradient accumulation) must not change the step: one pair per pass against all at once.
    const a = toyModel(3);
    const b = toyModel(3);
    const pairs = train.slice(0, 16);
    const cfg = { maxSteps: 2, warmupRatio: 0 };
    await dpoLearner(cfg).update(pairs, { policy: { model: a, tokenizer: toyTokenizer }, reference: frozenCopy(a), seed: 0 });
    await dpoLearner({ ...cfg, microBatchTokens: 1 }).update(pairs, { policy: { model: b, tokenizer: toyTokenizer }, reference: frozenCopy(b), seed: 0 });
    let diff = 0;
    for (let i = 0; i < a.params.length; i++) diff = Math.max(diff, Math.abs(a.params[i]! - b.params[i]!));
    expect(diff).toBeLessThan(1e-5);
  }, 120_000);

  it("with tokens 'divergence' sums each pair over the first token where chosen and rejected differ", async () => {
    const pairs = train.slice(0, 16);
    const model = toyModel(4);
    const seqs = encodeSequences(pairs.flatMap((p) => [{ prompt: p.prompt, completion: p.chosen, eos: true }, { prompt: p.prompt, completion: p.rejected, eos: true }]), toyTokenizer, 16);
    const lp = sequenceLogprobs(model, seqs, toyTokenizer.pad);
    let atDivergence = 0;
    let whole = 0;
    for (let i = 0; i < pairs.length; i++) {
      const c = seqs[2 * i]!;
      const r = seqs[2 * i + 1]!;
      let j = 0;
      while (c.ids[c.lossFrom + j] === r.ids[r.lossFrom + j]) j++;
      atDivergence += lp[2 * i]![j]! / pairs.length;
      whole += lp[2 * i]!.reduce((a, v) => a + v, 0) / pairs.length;
    }
    const first = async (tokens: 'sequence' | 'divergence') => {
      const steps: StepMetrics[] = [];
      const m = toyModel(4);
      await dpoLearner({ maxSteps: 1, batchSize: 16, tokens }).update(pairs, { policy: { model: m, tokenizer: toyTokenizer }, reference: frozenCopy(m), seed: 0, onStep: (x) => steps.push(x) });
      return steps[0]!['logps/chosen']!;
    };
    expect(await first('divergence')).toBeCloseTo(atDivergence, 4);
    expect(await first('sequence')).toBeCloseTo(whole, 4);
    expect(Math.abs(atDivergence - whole)).toBeGreaterThan(0.5);
  }, 60_000);

  it("with loss 'simpo' learns the same preference without a reference: the mean log-probability margin rises, the reference is never read", async () => {
    const model = toyModel(1);
    const untouched = toyModel(7);
    // A reference that would change the loss if it were read: SimPO must not look at it.
    const before = heldOut(model, untouched, test);
    const steps: StepMetrics[] = [];
    await dpoLearner({ loss: 'simpo', beta: 2, simpoGamma: 0.5, rpoAlpha: 0, epochs: 3, optimizer: { ...defaultDpoConfig.optimizer, lr: 1e-3 } }).update(train, {
      policy: { model, tokenizer: toyTokenizer },
      reference: untouched,
      seed: 0,
      onStep: (m) => steps.push(m),
    });
    const after = heldOut(model, untouched, test);
    expect(after.margin).toBeGreaterThan(before.margin + 2);
    // Its logps are means over tokens (SimPO's length normalization), and the first loss is −log σ(β·Δ − γ) of the untrained model.
    const m0 = steps[0]!;
    expect(Math.abs(m0['logps/chosen']!)).toBeLessThan(3);
    expect(m0['rewards/chosen']).toBeCloseTo(2 * m0['logps/chosen']!, 4);
    expect(steps.at(-1)!['rewards/accuracies']).toBeGreaterThan(0.8);
    // Reversed pairs learn the reverse (the test can fail).
    const swapped = toyModel(1);
    await dpoLearner({ loss: 'simpo', beta: 2, rpoAlpha: 0, optimizer: { ...defaultDpoConfig.optimizer, lr: 1e-3 } }).update(
      train.map((p) => ({ ...p, chosen: p.rejected, rejected: p.chosen })),
      { policy: { model: swapped, tokenizer: toyTokenizer }, reference: untouched, seed: 0 },
    );
    expect(heldOut(swapped, untouched, test).margin).toBeLessThan(before.margin);
  }, 120_000);
});
