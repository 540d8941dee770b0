import { Rng } from '../core/rng.js';
import type { ModelConfig } from '../nn/config.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import type { PreferencePair, RolloutGroup } from './examples.js';

/**
 * A toy objective for the learners' tests, one they can fail on: from the prompt "q", a tiny
 * random model writes letters from {a, b, c} and stops; a completion earns 1 when it stopped by
 * itself (EOS) right after an "a", 0 otherwise. The untrained model earns about 0.25 (it stops
 * after one of three letters, and sometimes runs out of tokens); a learner must find the rule
 * "stop after a, not after b or c" from rewards or preferences alone.
 * Steps are separated by "c" (so PPO's process rewards have steps to score).
 */
export const toyTokenizer = new CharTokenizer('abcq');
export const TOY_PROMPT = 'q';
export const TOY_DELIMITER = 'c';
export const TOY_MAX_TOKENS = 8;

export const toyConfig: ModelConfig = { vocabSize: toyTokenizer.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, contextLength: 16, ropeTheta: 10000, normEps: 1e-5 };

export function toyModel(seed = 1): Transformer {
  const m = new Transformer(toyConfig, createOrtKernels({ threads: 1 }));
  m.init(new Rng(seed));
  return m;
}

export function toyReward(text: string, finishReason: string): number {
  return finishReason === 'eos' && text.endsWith('a') ? 1 : 0;
}

/** A process reward per step: 1 for a step that ends in "a" (a hint toward the outcome, as a PRM would give). */
export function toyStepRewards(steps: string[]): number[] {
  return steps.map((s) => (s.endsWith('a') ? 1 : 0));
}

/** `groups` groups of `n` fresh samples at temperature 1 (a new policy each call: the prefix cache must not outlive an update). */
export async function toyRollouts(model: Transformer, groups: number, n: number, seed: number): Promise<RolloutGroup[]> {
  const policy = new BuiltinPolicy(model, toyTokenizer, { prefixCacheTokens: 0 });
  const res = await policy.generate({ prefixes: Array.from({ length: groups }, () => TOY_PROMPT), n, maxTokens: TOY_MAX_TOKENS, temperature: 1, seed });
  return res.completions.map((row, g) => ({
    problemId: `toy-${g}`,
    prompt: TOY_PROMPT,
    delimiter: TOY_DELIMITER,
    rollouts: row.map((c) => {
      const steps = c.text.split(TOY_DELIMITER);
      return { text: c.text, reward: toyReward(c.text, c.finishReason), steps, stepRewards: toyStepRewards(steps), truncated: c.finishReason === 'length' };
    }),
  }));
}

/** Mean reward of `n` fresh samples. */
export async function toyMeanReward(model: Transformer, n: number, seed: number): Promise<number> {
  const groups = await toyRollouts(model, 1, n, seed);
  const rs = groups[0]!.rollouts.map((r) => r.reward);
  return rs.reduce((a, b) => a + b, 0) / rs.length;
}

/** Random preference pairs: chosen ends in "a", rejected in "b" or "c" (both of 1–6 letters). */
export function toyPairs(count: number, seed: number): PreferencePair[] {
  const rng = new Rng(seed);
  const word = (last: string): string => {
    const len = rng.int(0, 5);
    let s = '';
    for (let i = 0; i < len; i++) s += rng.choice(['a', 'b', 'c']);
    return s + last;
  };
  return Array.from({ length: count }, (_, i) => ({ problemId: `toy-${i}`, prompt: TOY_PROMPT, chosen: word('a'), rejected: word(rng.choice(['b', 'c'])), level: 'sequence' as const }));
}
