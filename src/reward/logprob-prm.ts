import type { Policy } from '../policy/policy.js';
import { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore } from './reward.js';

/**
 * A process reward read from a language model's next-token probabilities: after each step the
 * PRM is asked for a verdict token, and the step's score is P(good) / (P(good) + P(bad)).
 * This is how generative PRMs trained as language models are read: Math-Shepherd (Wang et al.
 * 2024: a tag ` ки` after each step, candidates `+` / `-`) and RLHFlow's PRMs (Xiong et al. 2024:
 * each step a user turn, the assistant answering `+` or `-`). Any Policy with `logprobsOf` serves:
 * the built-in model, or a vLLM / `searchlearn serve` endpoint through the openai backend (echo).
 *
 * Cost: two scored continuations per step (good and bad), each one call; usage counts them and
 * the prompt tokens they read.
 */
export interface LogprobPrmConfig {
  /** The text whose next token is the verdict for step k (0-based): the item up to and including step k. */
  format: (item: RewardItem, k: number) => string;
  /** Verdict continuations. */
  good: string;
  bad: string;
  /** Normalize over {good, bad} (true) or report P(good) alone. */
  normalize: boolean;
  /** Step-score aggregation. Default 'min' (Lightman et al. 2023). */
  aggregation: Aggregation;
}

/** Math-Shepherd's input: `question step1 ки\nstep2 ки…`, verdict `+` / `-` after the tag. */
export function mathShepherdFormat(item: RewardItem, k: number): string {
  return `${item.problem.prompt} ${item.steps.slice(0, k + 1).map((s) => `${s} ки`).join('\n')}`;
}

/** RLHFlow's (Llama 3 chat) input: the first user turn holds the question and step 1, each later turn one step; `+` answers each. */
export function rlhflowFormat(item: RewardItem, k: number): string {
  const turn = (role: string, text: string): string => `<|start_header_id|>${role}<|end_header_id|>\n\n${text}<|eot_id|>`;
  let out = '<|begin_of_text|>';
  for (let j = 0; j <= k; j++) {
    out += turn('user', j === 0 ? `${item.problem.prompt} ${item.steps[0]}` : item.steps[j]!);
    out += j < k ? turn('assistant', '+') : '<|start_header_id|>assistant<|end_header_id|>\n\n';
  }
  return out;
}

export const defaultLogprobPrmConfig = {
  format: mathShepherdFormat,
  good: '+',
  bad: '-',
  normalize: true,
  aggregation: 'min',
} satisfies LogprobPrmConfig;

export function createLogprobPrm(policy: Policy, config: Partial<LogprobPrmConfig> = {}): RewardModel {
  const c: LogprobPrmConfig = { ...defaultLogprobPrmConfig, ...config };
  if (!policy.logprobsOf) throw new Error(`logprob PRM: ${policy.id} cannot score continuations (no logprobsOf); use the built-in model or a vLLM / searchlearn serve endpoint`);
  const logprobsOf = policy.logprobsOf.bind(policy);
  return {
    id: `logprob-prm:${policy.id}`,
    kind: 'process',
    // Search re-aggregates step scores with the reward's own choice (else 'last'): say which.
    aggregation: c.aggregation,
    async score(items) {
      const asks: { prefix: string; continuation: string }[] = [];
      const where: { item: number; step: number }[] = [];
      items.forEach((it, i) =>
        it.steps.forEach((_, k) => {
          const prefix = c.format(it, k);
          asks.push({ prefix, continuation: c.good }, { prefix, continuation: c.bad });
          where.push({ item: i, step: k });
        }),
      );
      const res = asks.length > 0 ? await logprobsOf(asks) : [];
      const stepScores: number[][] = items.map(() => []);
      where.forEach(({ item, step }, q) => {
        // A multi-token verdict's probability is the product over its tokens.
        const g = res[2 * q]!.logprobs.reduce((a, b) => a + b, 0);
        const b = res[2 * q + 1]!.logprobs.reduce((a, x) => a + x, 0);
        const m = Math.max(g, b);
        stepScores[item]![step] = c.normalize ? Math.exp(g - m) / (Math.exp(g - m) + Math.exp(b - m)) : Math.exp(g);
      });
      const scores: RewardScore[] = stepScores.map((s) => ({ score: aggregate(s, c.aggregation), stepScores: s }));
      return { scores, usage: { calls: res.length, tokens: res.reduce((t, r) => t + r.usage.promptTokens, 0) } };
    },
  };
}
