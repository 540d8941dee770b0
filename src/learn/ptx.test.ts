import { describe, expect, it } from 'vitest';
import { sequenceLogprobs, encodeSequences } from './logprobs.js';
import { grpoLearner } from './grpo.js';
import { frozenCopy, type StepMetrics } from './learner.js';
import { dpoLearner } from './dpo.js';
import { TOY_PROMPT, toyModel, toyPairs, toyRollouts, toyTokenizer } from './learner-toy.js';
import { ppoLearner } from './ppo.js';
import { defaultPtxConfig } from './ptx.js';

/** A replayed trace the toy's reward does not ask for: the replay term alone can teach it. */
const replay = [{ problemId: 'init', prompt: TOY_PROMPT, completion: 'bcbb' }];
const logpOfReplay = (model: ReturnType<typeof toyModel>): number => {
  const seqs = encodeSequences([{ prompt: TOY_PROMPT, completion: 'bcbb', eos: true }], toyTokenizer, model.config.contextLength);
  return sequenceLogprobs(model, seqs, toyTokenizer.pad)[0]!.reduce((a, b) => a + b, 0);
};

async function run(kind: 'grpo' | 'ppo', ptxCoef: number): Promise<{ before: number; after: number; steps: StepMetrics[]; first: { tokens: number; steps: number } }> {
  const model = toyModel(1);
  const reference = frozenCopy(model);
  const before = logpOfReplay(model);
  // A toy's learning rate (the default 1e-4 moves it little in a few steps).
  const common = { ptxCoef, ptxBatch: 8, optimizer: { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 } };
  const learner = kind === 'grpo' ? grpoLearner({ ...common, miniBatch: 32 }) : ppoLearner({ ...common, epochs: 1, targetKl: 0 });
  const steps: StepMetrics[] = [];
  let first = { tokens: 0, steps: 0 };
  for (let it = 0; it < 4; it++) {
    const groups = await toyRollouts(model, 8, 8, 500 + it);
    const r = await learner.update(groups, { policy: { model, tokenizer: toyTokenizer }, reference, replay: () => replay, seed: it, onStep: (m) => steps.push(m) });
    if (it === 0) first = { tokens: r.trainedTokens, steps: r.steps };
  }
  return { before, after: logpOfReplay(model), steps, first };
}

describe('the replay term (PPO-ptx)', () => {
  it('is on by default, at weight 1', () => {
    expect(defaultPtxConfig.ptxCoef).toBe(1);
  });

  it('dpo: the same term, beside the NLL on the chosen', async () => {
    const gain = async (ptxCoef: number): Promise<{ gain: number; ptx: number[] }> => {
      const model = toyModel(1);
      const before = logpOfReplay(model);
      const steps: StepMetrics[] = [];
      await dpoLearner({ ptxCoef, ptxBatch: 8, optimizer: { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 } }).update(toyPairs(64, 3), { policy: { model, tokenizer: toyTokenizer }, reference: frozenCopy(model), replay: () => replay, seed: 1, onStep: (m) => steps.push(m) });
      return { gain: logpOfReplay(model) - before, ptx: steps.flatMap((m) => (m['ptx_loss'] === undefined ? [] : [m['ptx_loss']])) };
    };
    const on = await gain(1);
    const off = await gain(0);
    expect(on.gain).toBeGreaterThan(off.gain + 1);
    expect(on.ptx.length).toBeGreaterThan(0);
    expect(off.ptx).toEqual([]);
  });

  for (const kind of ['grpo', 'ppo'] as const) {
    it(`${kind}: with ptxCoef the replayed trace's likelihood rises and ptx_loss falls; without, neither is reported`, async () => {
      const on = await run(kind, 1);
      const off = await run(kind, 0);
      expect(on.after - on.before).toBeGreaterThan(1);
      expect(on.after - on.before).toBeGreaterThan(off.after - off.before + 1);
      const ptx = on.steps.map((m) => m['ptx_loss']!);
      expect(ptx.every(Number.isFinite)).toBe(true);
      expect(ptx.at(-1)!).toBeLessThan(ptx[0]!);
      expect(off.steps.some((m) => 'ptx_loss' in m)).toBe(false);
      // The replayed rows are trained tokens too, counted as the learners count theirs (ids − 1: BOS,
      // "q", 4 letters and EOS make 6 positions), × 8 rows a step; the first update sees the same rollouts either way.
      expect(on.first.tokens - off.first.tokens).toBe(on.first.steps * 8 * 6);
    });
  }
});
