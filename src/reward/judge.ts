import type { Policy } from '../policy/policy.js';
import type { RewardItem, RewardModel, RewardScore } from './reward.js';

/**
 * An LLM judge as an outcome reward (Zheng et al. 2023, "Judging LLM-as-a-judge"; the generative
 * verifier of Zhang et al. 2024 reads P("Yes") the same way): the judge model reads the problem
 * and a finished solution and is asked whether it is correct.
 *
 * | mode | score | cost per solution |
 * |---|---|---|
 * | `logprob` | P(yes) / (P(yes) + P(no)) from `logprobsOf` | 2 scored continuations |
 * | `sample` | share of `samples` sampled verdicts that start with yes | 1 call with n = samples |
 *
 * Unfinished solutions score 0 without a call (as the verifier does): a judge of outcomes has
 * nothing to judge yet.
 */
export interface JudgeConfig {
  mode: 'logprob' | 'sample';
  /** The judge's prompt for one solution; its continuation is the verdict. */
  template: (item: RewardItem, solution: string) => string;
  /** Joins steps into the solution text shown to the judge. */
  stepDelimiter: string;
  yes: string;
  no: string;
  /** Sampled verdicts per solution (mode 'sample'). */
  samples: number;
  temperature: number;
  /** Tokens of one sampled verdict. */
  maxTokens: number;
  seed: number;
}

export const defaultJudgeConfig = {
  mode: 'logprob',
  template: (item: RewardItem, solution: string) => `Problem:\n${item.problem.prompt}\n\nSolution:\n${solution}\n\nIs the solution correct? Answer Yes or No.\nAnswer:`,
  stepDelimiter: '\n\n',
  yes: ' Yes',
  no: ' No',
  // Self-consistency over verdicts: 5 is cheap and already smooths single-sample noise.
  samples: 5,
  temperature: 1,
  maxTokens: 4,
  seed: 0,
} satisfies JudgeConfig;

export function createJudge(policy: Policy, config: Partial<JudgeConfig> = {}): RewardModel {
  const c: JudgeConfig = { ...defaultJudgeConfig, ...config };
  if (c.mode === 'logprob' && !policy.logprobsOf) throw new Error(`judge: ${policy.id} cannot score continuations (no logprobsOf); use mode 'sample' or a backend with logprobs`);
  const yesWord = c.yes.trim().toLowerCase();
  let calls = 0;
  return {
    id: `judge(${c.mode}):${policy.id}`,
    kind: 'outcome',
    async score(items) {
      const scores: RewardScore[] = items.map(() => ({ score: 0 }));
      const done = items.map((it, i) => ({ i, prompt: c.template(it, it.steps.join(c.stepDelimiter)) })).filter(({ i }) => items[i]!.complete);
      const usage = { calls: 0, tokens: 0 };
      if (done.length === 0) return { scores, usage };
      if (c.mode === 'logprob') {
        const res = await policy.logprobsOf!(done.flatMap(({ prompt }) => [{ prefix: prompt, continuation: c.yes }, { prefix: prompt, continuation: c.no }]));
        done.forEach(({ i }, q) => {
          const y = res[2 * q]!.logprobs.reduce((a, b) => a + b, 0);
          const n = res[2 * q + 1]!.logprobs.reduce((a, b) => a + b, 0);
          const m = Math.max(y, n);
          scores[i] = { score: Math.exp(y - m) / (Math.exp(y - m) + Math.exp(n - m)) };
        });
        usage.calls = res.length;
        usage.tokens = res.reduce((t, r) => t + r.usage.promptTokens, 0);
        return { scores, usage };
      }
      const res = await policy.generate({ prefixes: done.map((d) => d.prompt), n: c.samples, maxTokens: c.maxTokens, temperature: c.temperature, seed: c.seed + 7919 * calls++ });
      done.forEach(({ i }, q) => {
        const verdicts = res.completions[q]!;
        scores[i] = { score: verdicts.filter((v) => v.text.trim().toLowerCase().startsWith(yesWord)).length / verdicts.length };
      });
      usage.calls = res.usage.calls;
      usage.tokens = res.usage.promptTokens + res.usage.outputTokens;
      return { scores, usage };
    },
  };
}
