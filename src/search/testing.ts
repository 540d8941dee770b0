import type { Problem } from '../core/problem.js';
import { Rng, hashString } from '../core/rng.js';
import { createMockPolicy, type MockPolicy } from '../policy/mock.js';
import type { RewardItem, RewardModel, RewardScore, RewardUsage } from '../reward/reward.js';
import { createVerifierReward } from '../reward/verifier.js';
import type { Task, VerifyResult } from '../tasks/task.js';
import type { SearchContext } from './search.js';

/**
 * A toy world for search tests: a task whose answer is reached by steps, a scripted policy that
 * writes each step right with probability p, and a noisy process reward. Search has something
 * to find here: one sample is right with probability p^steps, while a verifier or PRM can pick
 * (best-of-N) or steer to (beam, MCTS) the right chain.
 *
 *     Start 3. Add 5, 2, 7.      ← prompt
 *     3+5=8                      ← steps, delimiter "\n"
 *     8+2=10
 *     10+7=17
 *     Answer: 17                 ← final step (then eos)
 */

export interface ToyTaskOptions {
  /** Addition steps per problem (default 4). */
  steps?: number;
}

const STEP_RE = /^(-?\d+)\+(-?\d+)=(-?\d+)$/;
const ANSWER_RE = /Answer:\s*(-?\d+)\s*$/;

interface ToyMeta {
  start: number;
  addends: number[];
}

function metaOf(problem: Problem): ToyMeta {
  return problem.meta as unknown as ToyMeta;
}

/** Running sums: partial[j] is the value after step j. */
function partialSums(meta: ToyMeta): number[] {
  const out: number[] = [];
  let v = meta.start;
  for (const b of meta.addends) out.push((v += b));
  return out;
}

/** The gold answer of a one-step toy prompt (`Start s. Add a.`), read from the text a mock policy is given. */
export function toyGoldOf(prefix: string): number {
  const [start, add] = /Start (\d+)\. Add (\d+)/.exec(prefix)!.slice(1).map(Number);
  return start! + add!;
}

export function createToyTask(options: ToyTaskOptions = {}): Task {
  const k = options.steps ?? 4;
  return {
    name: 'toy-sum',
    stepDelimiter: '\n',
    problems(split, count, seed) {
      const rng = new Rng(`toy/${split}/${seed}`);
      return Array.from({ length: count }, (_, i) => {
        const start = rng.int(1, 9);
        const addends = Array.from({ length: k }, () => rng.int(1, 9));
        const total = addends.reduce((a, b) => a + b, start);
        return {
          id: `toy-${split}-${seed}-${i}`,
          prompt: `Start ${start}. Add ${addends.join(', ')}.`,
          answer: String(total),
          meta: { start, addends },
        };
      });
    },
    formatPrompt: (problem) => `${problem.prompt}\n`,
    verify(problem, solution): VerifyResult {
      const lines = solution.split('\n').filter((l) => l.trim() !== '');
      const last = lines.length > 0 ? ANSWER_RE.exec(lines[lines.length - 1]!) : null;
      if (!last) return { correct: false, extracted: null, reason: 'no answer found' };
      const correct = last[1] === problem.answer;
      return { correct, extracted: last[1]!, reason: correct ? 'matches gold' : `${last[1]} is not ${problem.answer}` };
    },
  };
}

export interface ToyPolicyOptions {
  /** Probability of writing each step right (default 0.6). */
  p?: number;
  /**
   * Probability of a right step in an attempt that follows earlier attempts in its context (after
   * a "Check:" line): a policy that learned to revise. Default: p (no better after a revision).
   */
  revisedP?: number;
  /** The policy's context length in tokens (characters); default 2^20. */
  contextLength?: number;
}

/**
 * The toy policy: it reads the problem from the prompt line and continues the current attempt
 * (the lines after the prompt or after the last "Check:" line, so revision prompts work), writing
 * every remaining step right with probability p, else 1 or 2 too high (errors never cancel, so
 * a sample is right with probability exactly p^steps), then "Answer: v".
 * Log-probabilities follow the first step written: log p when right, log((1-p)/2) when wrong.
 */
export function createToyPolicy(options: ToyPolicyOptions = {}): MockPolicy {
  const p0 = options.p ?? 0.6;
  return createMockPolicy(
    (prefix, _i, rng) => {
      const lines = prefix.split('\n');
      const head = /^Start (-?\d+)\. Add ([\d, ]+)\.$/.exec(lines[0]!);
      if (!head) throw new Error(`toy policy: not a toy prompt: ${JSON.stringify(lines[0])}`);
      const addends = head[2]!.split(',').map((s) => Number(s.trim()));
      let attemptStart = 1;
      lines.forEach((l, i) => {
        if (l.startsWith('Check:')) attemptStart = i + 1;
      });
      const p = attemptStart > 1 ? (options.revisedP ?? p0) : p0;
      // Only whole lines count: the prefix of a step-wise search ends with the delimiter.
      const done = lines.slice(attemptStart, lines.length - 1);
      if (done.some((l) => ANSWER_RE.test(l)) || ANSWER_RE.test(lines[lines.length - 1]!)) return '';
      let v = Number(head[1]);
      let k = 0;
      for (const l of done) {
        const m = STEP_RE.exec(l);
        if (m) {
          v = Number(m[3]);
          k++;
        }
      }
      let out = '';
      let firstRight: boolean | null = null;
      for (let j = k; j < addends.length; j++) {
        const right = rng.bernoulli(p);
        firstRight ??= right;
        const z = v + addends[j]! + (right ? 0 : rng.int(1, 2));
        out += `${v}+${addends[j]}=${z}\n`;
        v = z;
      }
      out += `Answer: ${v}`;
      const tokenLogprob = firstRight === null ? Math.log(0.99) : firstRight ? Math.log(p) : Math.log((1 - p) / 2);
      return { text: out, tokenLogprob };
    },
    { id: `toy-policy(p=${p0})`, ...(options.contextLength ? { contextLength: options.contextLength } : {}) },
  );
}

export interface ToyPrmOptions {
  /** Score noise: right steps score in (1-noise, 1], wrong ones in [0, noise) (default 0.3). */
  noise?: number;
}

/**
 * A process reward for the toy task: a step is good when its running value is the true partial
 * sum (so every step after a mistake is bad), scored with deterministic hash noise.
 */
export function createToyPrm(options: ToyPrmOptions = {}): RewardModel {
  const noise = options.noise ?? 0.3;
  return {
    id: `toy-prm(noise=${noise})`,
    kind: 'process',
    async score(items: RewardItem[]) {
      let tokens = 0;
      const scores: RewardScore[] = items.map((item) => {
        const sums = partialSums(metaOf(item.problem));
        const stepScores = item.steps.map((step, j) => {
          tokens += step.length;
          const m = STEP_RE.exec(step.trim());
          const a = ANSWER_RE.exec(step.trim());
          const good = m ? j < sums.length && Number(m[3]) === sums[j] : a ? a[1] === item.problem.answer : false;
          const u = hashString(`${item.problem.id}|${j}|${step}`) / 2 ** 32;
          return good ? 1 - noise * u : noise * u;
        });
        return { score: stepScores.length > 0 ? Math.min(...stepScores) : 0, stepScores };
      });
      return { scores, usage: { calls: items.length > 0 ? 1 : 0, tokens } };
    },
  };
}

export interface NoisyPrmOptions {
  /**
   * Within-problem AUC of every step score: the probability that a good step outscores a bad one
   * (default 0.75, about what a PRM trained on a small policy's own samples reaches). The toy PRM
   * above is near perfect (AUC 1); this one shows what search does with a realistic reward.
   */
  auc?: number;
}

/**
 * A process reward with a set AUC: a good step scores (u + δ)/(1 + δ), a bad one u/(1 + δ), u
 * uniform on [0, 1) from a hash of (problem, step index, step text). Two shifted uniforms give
 * AUC = 1/2 + δ − δ²/2, so δ = 1 − √(2(1 − auc)). Good and bad are the toy PRM's (right running
 * sum; every step after a mistake is bad; the answer step is good when the answer is right), so
 * with 'last' aggregation a whole solution's score has the same within-problem AUC.
 */
export function createNoisyPrm(options: NoisyPrmOptions = {}): RewardModel {
  const target = options.auc ?? 0.75;
  if (!(target >= 0.5 && target <= 1)) throw new Error(`noisy PRM: auc ${target} must be in [0.5, 1]`);
  const delta = 1 - Math.sqrt(2 * (1 - target));
  return {
    id: `noisy-prm(auc=${target})`,
    kind: 'process',
    aggregation: 'last',
    async score(items: RewardItem[]) {
      let tokens = 0;
      const scores: RewardScore[] = items.map((item) => {
        const sums = partialSums(metaOf(item.problem));
        const stepScores = item.steps.map((step, j) => {
          tokens += step.length;
          const m = STEP_RE.exec(step.trim());
          const a = ANSWER_RE.exec(step.trim());
          const priorGood = item.steps.slice(0, j).every((st, k) => {
            const mk = STEP_RE.exec(st.trim());
            return mk !== null && k < sums.length && Number(mk[3]) === sums[k];
          });
          const good = priorGood && (m ? j < sums.length && Number(m[3]) === sums[j] : a ? a[1] === item.problem.answer : false);
          // Rng, not the raw FNV hash: texts that differ in one digit must get independent noise.
          const u = new Rng(`noisy|${item.problem.id}|${j}|${step}`).next();
          return good ? (u + delta) / (1 + delta) : u / (1 + delta);
        });
        return { score: stepScores.length > 0 ? stepScores[stepScores.length - 1]! : 0, stepScores };
      });
      return { scores, usage: { calls: items.length > 0 ? 1 : 0, tokens } };
    },
  };
}

export interface RecordingReward extends RewardModel {
  /** Items of every score call, in order. */
  readonly calls: RewardItem[][];
  /** Usage summed over all calls. */
  readonly usage: RewardUsage;
}

/** Wraps a reward model to record its calls (to check a search's compute accounting). */
export function recordReward(inner: RewardModel): RecordingReward {
  const calls: RewardItem[][] = [];
  const usage: RewardUsage = { calls: 0, tokens: 0 };
  return {
    id: inner.id,
    kind: inner.kind,
    ...(inner.aggregation ? { aggregation: inner.aggregation } : {}),
    ...(inner.oracle !== undefined ? { oracle: inner.oracle } : {}),
    calls,
    usage,
    async score(items) {
      const res = await inner.score(items);
      calls.push(items);
      usage.calls += res.usage.calls;
      usage.tokens += res.usage.tokens;
      return res;
    },
  };
}

export interface ToyWorld {
  task: Task;
  policy: MockPolicy;
  reward: RecordingReward;
  problems: Problem[];
  /** A context for one search (fresh Rng from the seed). */
  context(seed: number | string, budget?: SearchContext['budget']): SearchContext;
}

export interface ToyWorldOptions extends ToyTaskOptions, ToyPolicyOptions, ToyPrmOptions, NoisyPrmOptions {
  /** 'prm' (default): the near-perfect toy PRM; 'noisy': a PRM of set AUC (`auc`); 'verifier': the exact verifier as outcome reward. */
  reward?: 'prm' | 'noisy' | 'verifier';
  count?: number;
  /** Tokens of one sample or step (default 64: a whole toy solution is ~40 characters). */
  maxTokens?: number;
}

/** Task, policy, reward and problems for a search test. */
export function toyWorld(options: ToyWorldOptions = {}): ToyWorld {
  const task = createToyTask(options);
  const policy = createToyPolicy(options);
  const reward = recordReward(options.reward === 'verifier' ? createVerifierReward(task) : options.reward === 'noisy' ? createNoisyPrm(options) : createToyPrm(options));
  const problems = task.problems('test', options.count ?? 20, 7);
  const maxTokens = options.maxTokens ?? 64;
  return {
    task,
    policy,
    reward,
    problems,
    context: (seed, budget = {}) => ({ task, policy, reward, rng: new Rng(seed), budget, maxTokens }),
  };
}

/** Fraction of the world's problems a search answers right (evaluation: compares to gold). */
export async function accuracy<C>(
  world: ToyWorld,
  search: (problem: Problem, ctx: SearchContext, config: C) => Promise<{ answer: string | null }>,
  config: C,
  budget: SearchContext['budget'] = {},
  seed: number | string = 0,
): Promise<number> {
  let right = 0;
  for (const p of world.problems) {
    const r = await search(p, world.context(`${seed}/${p.id}`, budget), config);
    if (r.answer === p.answer) right++;
  }
  return right / world.problems.length;
}
