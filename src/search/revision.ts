import type { Problem } from '../core/problem.js';
import type { Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
import { Meter } from './compute.js';
import type { SearchContext, SearchResult } from './search.js';
import { sampleEach } from './sample.js';
import { isSolution, selectAnswer, type Canonical, type Choice, type Selection } from './select.js';
import { contextRoom, makeTrajectory, scoreTrajectories, searchResult } from './trajectories.js';

/**
 * Sequential revision (Snell et al. 2024 §6; the roadmap's "sequential revisions"): the policy
 * writes an attempt, then writes a new one conditioned on its earlier attempts and, optionally,
 * on the reward model's verdict on them, until `attempts` or the budget runs out. The prompt
 * layout is a config function, so a model trained on another layout can be used.
 *
 * Default layout (the toy policy and the built-in tasks' traces read "Check:" lines):
 *
 *     <prompt><attempt 1>
 *     Check: wrong. Correcting.
 *     <attempt 2>
 *     Check: right. Correcting.
 *     <attempt 3 is generated here>
 *
 * "Check: ... Correcting." is the self-correction line of the built-in tasks' traces (policy
 * initialization teaches it), and it uses only characters of their alphabets.
 */
export interface Attempt {
  text: string;
  score?: number;
}

/** Builds the text the policy continues from the prompt and the earlier attempts in context. */
export type RevisionFormat = (prompt: string, previous: readonly Attempt[], feedback: boolean) => string;

export const defaultRevisionFormat: RevisionFormat = (prompt, previous, feedback) =>
  prompt +
  previous
    .map((a) => {
      const verdict = feedback && a.score !== undefined ? (a.score >= 0.5 ? ' right.' : ' wrong.') : '';
      return `${a.text}${a.text.endsWith('\n') ? '' : '\n'}Check:${verdict} Correcting.\n`;
    })
    .join('');

export interface RevisionConfig {
  /** Attempts in the chain (the first plus its revisions). */
  attempts: number;
  /** Earlier attempts kept in the prompt (most recent last). */
  context: number;
  /** Tell the policy what the reward model thought of each earlier attempt. */
  feedback: boolean;
  format: RevisionFormat;
  /**
   * The answer: the chain's last attempt, or a selection over all its attempts: the best-scored
   * (`best`), the most common answer (`majority`; Snell et al. 2024 also vote within a chain, and
   * it needs no reward model), or the reward-weighted vote (`weighted`).
   */
  select: 'last' | Selection;
  canonical?: Canonical;
  /** End a chain once an attempt scores at least this (null: never; e.g. 1 with the exact verifier). */
  stopAtScore: number | null;
  /**
   * Room a new attempt needs, as a multiple of the longest earlier attempt in the chain (plus 8
   * tokens); earlier attempts are dropped from the context only when less room than that is left.
   */
  attemptSlack: number;
  temperature: number;
  topP: number;
  aggregation: AggregationChoice;
}

/** Tokens to leave for the next attempt of a chain: slack × its longest attempt so far + 8. */
export function attemptRoom(previous: readonly Trajectory[], slack: number): number {
  if (previous.length === 0) return 0;
  return Math.ceil(slack * Math.max(...previous.map((t) => t.outputTokens))) + 8;
}

export const defaultRevisionConfig = {
  attempts: 16,
  // Snell et al. 2024 keep up to four previous attempts in the revision model's context.
  context: 4,
  feedback: true,
  format: defaultRevisionFormat,
  // Snell et al. 2024 select within a chain with the verifier: a revision can break a right answer.
  select: 'best',
  stopAtScore: null,
  // A revision a quarter longer than the longest earlier attempt still fits.
  attemptSlack: 1.25,
  temperature: 0.8,
  topP: 1,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
} satisfies RevisionConfig;

type ChainConfig = Omit<RevisionConfig, 'attempts' | 'select'>;

/**
 * Runs `chains` independent revision chains of up to `attempts` each in lockstep (one batched
 * policy call per round); returns the attempts of each chain in order.
 */
export async function revisionChains(
  problem: Problem,
  ctx: SearchContext,
  config: ChainConfig,
  chains: number,
  attempts: number,
  meter: Meter,
): Promise<Trajectory[][]> {
  const prompt = ctx.task.formatPrompt(problem);
  const out: Trajectory[][] = Array.from({ length: chains }, () => []);
  const stopped = new Set<number>();
  for (let round = 0; round < attempts; round++) {
    const live = out.map((_, i) => i).filter((i) => !stopped.has(i));
    // Whole attempts only: when the budget cannot hold one per chain, fewer chains go on.
    const { count, maxTokens } = meter.fit(live.length, ctx.maxTokens);
    if (count < 1) break;
    const active = live.slice(0, count);
    // Keep as many recent attempts as the policy's context holds with room for one more attempt.
    // The new attempt is budgeted from the earlier ones (revisions of one problem are about as long
    // as its first attempt), not at the sample cap: a 256-token model holds prompt + 200 tokens
    // only for the shortest prompts, so reserving the cap would drop every earlier attempt and
    // turn revision into independent sampling.
    const room = (text: string): number => contextRoom(ctx.policy, text);
    const plans = active.map((i) => {
      const need = Math.min(maxTokens, attemptRoom(out[i]!, config.attemptSlack));
      for (let keep = Math.min(config.context, out[i]!.length); keep > 0; keep--) {
        const text = config.format(prompt, out[i]!.slice(-keep), config.feedback);
        if (room(text) >= need) return { text, room: room(text) };
      }
      const text = config.format(prompt, [], config.feedback);
      return { text, room: room(text) };
    });
    const prefixes = plans.map((p) => p.text);
    const attemptTokens = Math.min(maxTokens, ...plans.map((p) => p.room));
    if (attemptTokens < 1) break;
    const completions = await sampleEach(ctx, meter, prefixes, 1, { maxTokens: attemptTokens, temperature: config.temperature, topP: config.topP });
    const fresh = completions.map((samples) => {
      const c = samples[0]!;
      return makeTrajectory(ctx.task, problem, c.text, c.finishReason, c.tokens, c.logprobs);
    });
    meter.samples += fresh.length;
    await scoreTrajectories(ctx, problem, prompt, fresh, config.aggregation, meter);
    fresh.forEach((t, j) => {
      const i = active[j]!;
      out[i]!.push(t);
      if (config.stopAtScore !== null && (t.score ?? -Infinity) >= config.stopAtScore) stopped.add(i);
    });
  }
  return out;
}

/** A chain's pick: its last attempt, or a selection over its attempts. */
export function chainChoice(chain: readonly Trajectory[], select: 'last' | Selection, canonical?: Canonical): Choice {
  if (select !== 'last') return selectAnswer(chain, select, canonical);
  // The last attempt that is a finished solution (an attempt cut short answers nothing).
  const best = [...chain].reverse().find(isSolution) ?? null;
  return { answer: best?.answer ?? null, best };
}

export async function revision(problem: Problem, ctx: SearchContext, config: RevisionConfig = defaultRevisionConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const [chain] = await revisionChains(problem, ctx, config, 1, config.attempts, meter);
  return searchResult(problem, 'revision', meter, chain!, chainChoice(chain!, config.select, config.canonical));
}
