import type { Policy } from '../policy/policy.js';
import { aggregate, type Aggregation, type RewardItem, type RewardModel, type RewardScore, type RewardUsage } from './reward.js';

/**
 * Internal guidance: the policy judging its own steps, with no second model (the roadmap's
 * self-evaluation; Xie et al. 2023 "Self-Evaluation Guided Beam Search"; Kadavath et al. 2022
 * "Language Models (Mostly) Know What They Know"). Two process rewards:
 *
 * - **self-verdict**: after each step the policy is made to write its own `Check:` line (the
 *   self-evaluation behaviour policy initialization taught it) and the step scores the share of
 *   sampled verdicts that end in `ok` rather than `Correcting.` (Self-consistency over verdicts,
 *   as in Xie et al.'s sampled self-evaluation.) Costs `samples` short generations per step.
 * - **confidence**: the step's mean token log-probability under the policy, exp'd into (0, 1]
 *   (the "P(True)"-free signal of Kadavath et al.; Wang & Zhou 2024 use the policy's own
 *   confidence to pick paths). One scoring pass per solution.
 *
 * Neither reads the gold answer: both are deployable test-time rewards (`oracle: false`), and the
 * tokens they spend count as reward tokens, so tables compare them with a learned PRM at equal
 * measured compute.
 */

/** A RewardModel that says whether it reads the gold answer (see the report's `isOracle`). */
export type LabelledRewardModel = RewardModel & { readonly oracle: boolean };

/** Lines that are commentary or bookkeeping, not work to judge: they inherit the previous step's score. */
const NOT_WORK = /^(Check:|Plan:|Answer:|back$)/;

/** True when a step is a work line (the lines the self-verdict reward forces a check after). */
export function isWorkStep(step: string): boolean {
  return step.trim() !== '' && !NOT_WORK.test(step.trim());
}

export interface SelfVerdictConfig {
  /** Verdicts sampled after each work step. Default 4. */
  samples: number;
  /** Sampling temperature of the verdicts. Default 1 (the policy's own distribution). */
  temperature: number;
  /** Longest Check line, in tokens. Default 48 (arith and countdown checks are under 40 characters). */
  maxTokens: number;
  /** How step scores become one score. Default 'min' (a solution is as good as its worst step). */
  aggregation: Aggregation;
  /** What the Check line starts with (the tasks' traces write `Check:`). */
  cue: string;
  /** Seed of the verdict samples (with the item's text, so repeated calls agree). Default 0. */
  seed: number;
}

export const defaultSelfVerdictConfig = {
  samples: 4,
  temperature: 1,
  maxTokens: 48,
  aggregation: 'min',
  cue: 'Check:',
  seed: 0,
} satisfies SelfVerdictConfig;

/**
 * The verdict a Check line gives: 1 for `ok`, 0 for `Correcting` (or "not"), null when it says
 * neither (cut by the length limit, or some other text).
 */
export function verdictOf(line: string): 1 | 0 | null {
  const t = line.trim();
  if (/correcting\.?$/i.test(t) || /\bnot\b/.test(t)) return 0;
  if (/\bok$/i.test(t)) return 1;
  return null;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Step scores where only work steps were judged: the others inherit the last judged score (1 before any). */
function fill(steps: readonly string[], judged: Map<number, number>): number[] {
  let last = 1;
  return steps.map((_, k) => (last = judged.get(k) ?? last));
}

/** The self-verdict process reward (see the file comment). */
export function createSelfVerdictReward(policy: Policy, stepDelimiter: string, config: Partial<SelfVerdictConfig> = {}): LabelledRewardModel {
  const c = { ...defaultSelfVerdictConfig, ...config };
  if (!Number.isInteger(c.samples) || c.samples < 1) throw new Error(`self-verdict: samples must be a positive integer, got ${c.samples}`);
  return {
    id: `self-verdict(n=${c.samples},T=${c.temperature})`,
    kind: 'process',
    // Search re-aggregates step scores with the reward's own choice (else 'last'): say which.
    aggregation: c.aggregation,
    oracle: false,
    async score(items: RewardItem[]) {
      const usage: RewardUsage = { calls: 0, tokens: 0 };
      // One request per distinct prefix; the samples of a prefix share its computation.
      const wanted: { item: number; step: number; prefix: string }[] = [];
      items.forEach((it, i) => {
        it.steps.forEach((s, k) => {
          if (!isWorkStep(s)) return;
          const prefix = it.prompt + it.steps.slice(0, k + 1).join(stepDelimiter) + stepDelimiter + c.cue;
          if (policy.countTokens(prefix) + c.maxTokens > policy.contextLength) return;
          wanted.push({ item: i, step: k, prefix });
        });
      });
      const judged = items.map(() => new Map<number, number>());
      if (wanted.length > 0) {
        const r = await policy.generate({
          prefixes: wanted.map((w) => w.prefix),
          n: c.samples,
          stop: [stepDelimiter],
          maxTokens: c.maxTokens,
          temperature: c.temperature,
          seed: (c.seed + hash(wanted.map((w) => w.prefix).join('\u0000'))) >>> 0,
        });
        usage.calls += r.usage.calls;
        usage.tokens += r.usage.promptTokens + r.usage.outputTokens;
        wanted.forEach((w, j) => {
          const verdicts = r.completions[j]!.map((s) => verdictOf(s.text));
          // A sample with no verdict counts as half: it neither vouches for the step nor rejects it.
          const score = verdicts.reduce<number>((a, v) => a + (v === null ? 0.5 : v), 0) / verdicts.length;
          judged[w.item]!.set(w.step, score);
        });
      }
      const scores: RewardScore[] = items.map((it, i) => {
        const stepScores = fill(it.steps, judged[i]!);
        return { score: aggregate(stepScores, c.aggregation), stepScores };
      });
      return { scores, usage };
    },
  };
}

export interface ConfidenceConfig {
  /** How step scores become one score. Default 'min'. */
  aggregation: Aggregation;
  /** The reward's id in tables (default 'confidence'; another policy's confidence names it). */
  id?: string;
}

export const defaultConfidenceConfig = { aggregation: 'min' } satisfies ConfidenceConfig;

/**
 * Splits per-token log-probabilities of `steps.join(delimiter)` into steps (the delimiter before
 * a step counts with it) and returns exp(mean) per step, 1 for an empty step.
 */
export function stepConfidences(policy: Pick<Policy, 'countTokens'>, steps: readonly string[], delimiter: string, logprobs: readonly number[]): number[] {
  const out: number[] = [];
  let start = 0;
  for (let k = 0; k < steps.length; k++) {
    const end = Math.min(logprobs.length, policy.countTokens(steps.slice(0, k + 1).join(delimiter)));
    const span = logprobs.slice(start, end);
    out.push(span.length === 0 ? 1 : Math.exp(span.reduce((a, b) => a + b, 0) / span.length));
    start = Math.max(start, end);
  }
  return out;
}

/** The confidence process reward (see the file comment). Needs a policy with `logprobsOf`. */
export function createConfidenceReward(policy: Policy, stepDelimiter: string, config: Partial<ConfidenceConfig> = {}): LabelledRewardModel {
  const c = { ...defaultConfidenceConfig, ...config };
  const logprobsOf = policy.logprobsOf?.bind(policy);
  if (!logprobsOf) throw new Error(`confidence reward: policy ${policy.id} gives no log-probabilities of given text (logprobsOf); use a built-in or GGUF policy`);
  return {
    id: c.id ?? 'confidence',
    kind: 'process',
    // Search re-aggregates step scores with the reward's own choice (else 'last'): say which.
    aggregation: c.aggregation,
    oracle: false,
    async score(items: RewardItem[]) {
      const usage: RewardUsage = { calls: 0, tokens: 0 };
      if (items.length === 0) return { scores: [], usage };
      const rs = await logprobsOf(items.map((it) => ({ prefix: it.prompt, continuation: it.steps.join(stepDelimiter) })));
      usage.calls += 1;
      const scores = items.map((it, i) => {
        const r = rs[i]!;
        usage.tokens += r.usage.promptTokens + r.logprobs.length;
        const stepScores = stepConfidences(policy, it.steps, stepDelimiter, r.logprobs);
        return { score: aggregate(stepScores, c.aggregation), stepScores };
      });
      return { scores, usage };
    },
  };
}
