import type { Problem } from '../core/problem.js';
import type { FinishReason, Trajectory } from '../core/trajectory.js';
import type { AggregationChoice } from './trajectories.js';
import { Meter } from './compute.js';
import { NO_PARENT, ROOT_INDEX, type SearchContext, type SearchResult, type SearchTree } from './search.js';
import { bestByScore, isSolution } from './select.js';
import { addNode, newTree } from './tree.js';
import { contextRoom, isCut, isFinished, makeTrajectory, scorePaths, searchResult, splitSteps } from './trajectories.js';

/**
 * Monte Carlo tree search over reasoning steps, in mctx's shape (google-deepmind/mctx
 * `search.py`): the tree is flat arrays (`SearchTree`, ROOT_INDEX 0, NO_PARENT -1) and each
 * simulation runs three named steps,
 *
 *     simulate  descend from the root by PUCT until an unevaluated node or a terminal one;
 *               a node whose children were never sampled is expanded on the way (`expand`:
 *               sample k candidate next steps, identical steps merged, priors from the policy)
 *     evaluate  value of that one new node: the PRM's score of its path ('reward'), or the
 *               outcome reward of a rollout from it to the end ('rollout')
 *     backward  add the value into visits and mean value Q of every node up to the root
 *
 * so, as in mctx, each simulation evaluates exactly one new node. PUCT compares children by Q
 * normalized over the parent and its siblings (mctx's `qtransform_by_parent_and_siblings`), so a
 * PRM whose values differ by hundredths still steers against the prior. The answer follows the
 * robust path (most visits, AlphaZero) while it is well visited, then the best finished solution
 * below it, else one greedy completion whose tokens were reserved before the simulations began.
 * The root's visit distribution is returned as `actionWeights`, the policy-improvement target of
 * AlphaZero and of the roadmap's learning step.
 *
 * A step cut at its token cap is not a node (not a step, and not a finished solution): cut by the
 * budget it ends the search; cut at the full cap it is a runaway, dropped.
 *
 * Tree invariant (checked in tests): visits(n) = own(n) + Σ visits(children of n), where own is
 * 0 for the root, 1 for an evaluated non-terminal node, and the number of times a terminal node
 * was reached. Q is a mean of rewards, so it lies within the rewards' range ([0, 1] for PRMs and
 * verifiers).
 */
export interface MctsConfig {
  /** Simulations (each evaluates one node); the budget may end the search sooner. */
  numSimulations: number;
  /** Candidate next steps sampled when a node is expanded (k). */
  numCandidates: number;
  /** Exploration constant of PUCT. */
  cPuct: number;
  /** Leaf values from the reward model's step score, from a rollout's outcome, or 'auto' (process → reward, outcome → rollout). */
  evaluate: 'auto' | 'reward' | 'rollout';
  /** Answer path: most visits (AlphaZero's move choice) or highest Q. */
  select: 'visits' | 'value';
  /** The answer path descends only into children visited at least this often (a 1-visit node is one PRM call, not evidence). */
  minVisits: number;
  /** Steps at most; nodes at this depth are terminal. */
  maxDepth: number;
  temperature: number;
  topP: number;
  aggregation: AggregationChoice;
  /**
   * Priors from the policy's step probability exp(mean token logprob) of each distinct step
   * (counted once however often it was sampled); else from sample counts. Not both: counts
   * already estimate the probability, and multiplying them by it would count it twice.
   */
  priorFromLogprobs: boolean;
}

export const defaultMctsConfig = {
  numSimulations: 16,
  // rStar-Math (Guan et al. 2025) and TS-LLM (Feng et al. 2023) sample a handful of candidate steps per node.
  numCandidates: 4,
  // MuZero's pb_c_init, mctx's default for `muzero_policy`.
  cPuct: 1.25,
  evaluate: 'auto',
  // AlphaZero (Silver et al. 2018) acts by visit count: robust to a lucky single high value.
  select: 'visits',
  minVisits: 2,
  maxDepth: 40,
  temperature: 0.8,
  topP: 1,
  // The reward model's own aggregation (the one it was trained and measured with), else 'last'.
  aggregation: 'reward',
  // A length-normalized step probability, as in TS-LLM's and ReST-MCTS*'s priors.
  priorFromLogprobs: true,
} satisfies MctsConfig;

/** The search's state: the public tree plus what simulations need (mctx keeps the same in `Tree`). */
interface State {
  tree: SearchTree;
  children: number[][];
  /** Solution text of the path to each node, and its generated tokens. */
  text: string[];
  tokens: number[];
  finishReason: FinishReason[];
  evaluated: boolean[];
  /** The trajectory a terminal node became, by node. */
  trajectoryOf: Map<number, Trajectory>;
}

export async function mcts(problem: Problem, ctx: SearchContext, config: MctsConfig = defaultMctsConfig): Promise<SearchResult> {
  const meter = new Meter(ctx.budget);
  const prompt = ctx.task.formatPrompt(problem);
  const mode = config.evaluate === 'auto' ? (ctx.reward.kind === 'process' ? 'reward' : 'rollout') : config.evaluate;
  const s: State = { tree: newTree(), children: [[]], text: [''], tokens: [0], finishReason: ['stop'], evaluated: [true], trajectoryOf: new Map() };
  const trajectories: Trajectory[] = [];

  // The final greedy completion's tokens are set aside up front (when the budget caps tokens), so
  // the answer path can always be finished.
  const reserve = ctx.budget.outputTokens !== undefined ? Math.min(ctx.maxTokens, ctx.budget.outputTokens) : 0;
  const capFor = (count: number): number => Math.max(0, Math.min(ctx.maxTokens, Math.floor((meter.remaining().outputTokens - reserve) / count)));

  /** Samples k next steps below `node` and adds them as children; false when the budget has no room. */
  const expand = async (node: number): Promise<boolean> => {
    const maxTokens = capFor(config.numCandidates);
    if (maxTokens < 1) return false;
    const res = await ctx.policy.generate({
      prefixes: [prompt + s.text[node]!],
      n: config.numCandidates,
      stop: [ctx.task.stepDelimiter],
      maxTokens,
      temperature: config.temperature,
      topP: config.topP,
      logprobs: config.priorFromLogprobs,
      seed: ctx.rng.seed(),
      signal: ctx.signal,
    });
    meter.policy(res.usage);
    // Identical steps are one action. Its prior: the step's own probability (logprobs), or how
    // often it was sampled (no logprobs) -- one estimate, not their product.
    const byStep = new Map<string, { weight: number; tokens: number; finishReason: FinishReason }>();
    let cutByBudget = false;
    for (const c of res.completions[0]!) {
      if (isCut(ctx.task, problem, s.text[node]! + c.text, c.finishReason)) {
        cutByBudget ||= maxTokens < ctx.maxTokens;
        continue;
      }
      const useLogprobs = config.priorFromLogprobs && c.logprobs !== undefined && c.tokens > 0;
      const weight = useLogprobs ? Math.exp(c.logprobs!.reduce((a, b) => a + b, 0) / c.tokens) : 1;
      const seen = byStep.get(c.text);
      if (seen) seen.weight += useLogprobs ? 0 : weight;
      else byStep.set(c.text, { weight, tokens: c.tokens, finishReason: c.finishReason });
    }
    if (byStep.size === 0) {
      if (cutByBudget) return false;
      // Every candidate ran away past the cap: a dead end, valued 0, not a solution.
      s.tree.terminal[node] = true;
      s.finishReason[node] = 'length';
      s.tree.reward[node] = 0;
      return true;
    }
    const total = [...byStep.values()].reduce((a, b) => a + b.weight, 0);
    const depth = depthOf(s, node) + 1;
    for (const [step, { weight, tokens, finishReason }] of byStep) {
      const text = s.text[node]! + step;
      const ended = step === '' || isFinished(ctx.task, problem, text, finishReason);
      // A step that fills the context leaves a node that cannot be continued: a cut dead end (valued 0).
      const full = !ended && contextRoom(ctx.policy, prompt + text) < 1;
      const terminal = ended || full || depth >= config.maxDepth;
      const child = addNode(s.tree, node, step, total > 0 ? weight / total : 1 / byStep.size, terminal);
      s.children[node]!.push(child);
      s.children.push([]);
      s.text.push(text);
      s.tokens.push(s.tokens[node]! + tokens);
      s.finishReason.push(full ? 'length' : finishReason);
      s.evaluated.push(false);
    }
    return true;
  };

  /** Descends by PUCT, expanding evaluated leaves on the way; the node to evaluate, or null when out of budget. */
  const simulate = async (): Promise<number | null> => {
    let node = ROOT_INDEX;
    for (;;) {
      if (s.tree.terminal[node]) return node;
      if (s.children[node]!.length === 0) {
        if (!s.evaluated[node]) return node;
        if (!(await expand(node))) return null;
        if (s.tree.terminal[node]) return node;
      }
      node = selectChild(s, node, config.cPuct);
    }
  };

  /** A complete trajectory's score; registers it (one more sample). */
  const finishTrajectory = async (text: string, finishReason: FinishReason, tokens: number): Promise<Trajectory> => {
    const t = makeTrajectory(ctx.task, problem, text, finishReason, tokens);
    const [sc] = await scorePaths(ctx, problem, prompt, [{ steps: t.steps, complete: finishReason !== 'length' }], config.aggregation, meter);
    t.score = sc!.score;
    if (sc!.stepScores) t.stepScores = sc!.stepScores;
    trajectories.push(t);
    meter.samples++;
    return t;
  };

  /** Rolls out from `node` to the end; null when out of budget. Only the final completion may spend the reserve. */
  const rollout = async (node: number, temperature: number, final = false): Promise<Trajectory | null> => {
    const maxTokens = final ? meter.cap(1, ctx.maxTokens) : capFor(1);
    if (maxTokens < 1 || meter.samplesLeft() < 1) return null;
    const res = await ctx.policy.generate({ prefixes: [prompt + s.text[node]!], n: 1, maxTokens, temperature, topP: config.topP, seed: ctx.rng.seed(), signal: ctx.signal });
    meter.policy(res.usage);
    const c = res.completions[0]![0]!;
    return finishTrajectory(s.text[node]! + c.text, c.finishReason, s.tokens[node]! + c.tokens);
  };

  /** The value of one node (cached for terminal nodes); null when out of budget. */
  const evaluate = async (node: number): Promise<number | null> => {
    if (s.evaluated[node]) return s.tree.reward[node]!;
    let value: number;
    if (s.tree.terminal[node]) {
      if (s.finishReason[node] === 'length') {
        s.evaluated[node] = true;
        s.tree.reward[node] = 0;
        return 0;
      }
      if (meter.samplesLeft() < 1) return null;
      const t = await finishTrajectory(s.text[node]!, s.finishReason[node]!, s.tokens[node]!);
      s.trajectoryOf.set(node, t);
      value = t.score!;
    } else if (mode === 'reward') {
      const [sc] = await scorePaths(ctx, problem, prompt, [{ steps: splitSteps(s.text[node]!, ctx.task.stepDelimiter), complete: false }], config.aggregation, meter);
      value = sc!.score;
    } else {
      const t = await rollout(node, config.temperature);
      if (t === null) return null;
      value = t.score!;
    }
    s.evaluated[node] = true;
    s.tree.reward[node] = value;
    return value;
  };

  for (let sim = 0; sim < config.numSimulations; sim++) {
    const leaf = await simulate();
    if (leaf === null) break;
    const value = await evaluate(leaf);
    if (value === null) break;
    backward(s.tree, leaf, value);
  }

  // The answer: follow the robust path (most visits, or best Q) through well-visited children;
  // there, a finished solution it reached, else the best-scored finished solution below it, else
  // one greedy completion (its tokens were reserved), else the best solution found anywhere.
  let end = ROOT_INDEX;
  for (;;) {
    const visited = s.children[end]!.filter((c) => s.tree.visits[c]! >= config.minVisits);
    if (visited.length === 0) break;
    end = argmax(visited, (c) => (config.select === 'visits' ? [s.tree.visits[c]!, s.tree.q[c]!] : [s.tree.q[c]!, s.tree.visits[c]!]));
  }
  const reached = s.trajectoryOf.get(end);
  let best = reached && isSolution(reached) ? reached : bestByScore(trajectories.filter((t) => t.text.startsWith(s.text[end]!)));
  if (best === null && !s.tree.terminal[end]) {
    const t = await rollout(end, 0, true);
    if (t && isSolution(t)) best = t;
  }
  best ??= bestByScore(trajectories);
  const rootChildren = s.children[ROOT_INDEX]!;
  const rootVisits = rootChildren.reduce((a, c) => a + s.tree.visits[c]!, 0);
  const actionWeights = rootChildren.map((c) => (rootVisits > 0 ? s.tree.visits[c]! / rootVisits : s.tree.prior[c]!));
  return searchResult(problem, 'mcts', meter, trajectories, { answer: best?.answer ?? null, best }, { tree: s.tree, actionWeights });
}

/**
 * PUCT (AlphaZero; mctx `muzero_action_selection` without the log term):
 *     argmax_a  Q̂(a) + c · P(a) · sqrt(N(node)) / (1 + N(a))
 * with Q̂ from `normalizedQ` (mctx's `qtransform_by_parent_and_siblings`). Ties go to the higher
 * prior, then the lower index, so the descent is deterministic.
 */
export function selectChild(s: { tree: SearchTree; children: number[][] }, node: number, cPuct: number): number {
  const t = s.tree;
  const kids = s.children[node]!;
  const q = normalizedQ(t, node, kids);
  const sqrtN = Math.sqrt(t.visits[node]!);
  const best = argmax(
    kids.map((_, i) => i),
    (i) => [q[i]! + (cPuct * t.prior[kids[i]!]! * sqrtN) / (1 + t.visits[kids[i]!]!), t.prior[kids[i]!]!],
  );
  return kids[best]!;
}

/**
 * Children's Q rescaled to [0, 1] over the parent's value and its visited children's Q, with
 * unvisited children given the minimum (mctx `qtransform_by_parent_and_siblings`, epsilon 1e-8).
 * Raw PRM values of siblings often differ by hundredths; unnormalized, c · P · √N swamps them and
 * the search follows the prior instead of the reward.
 */
export function normalizedQ(tree: SearchTree, node: number, children: readonly number[]): number[] {
  const parent = tree.q[node]!;
  const visited = children.filter((c) => tree.visits[c]! > 0).map((c) => tree.q[c]!);
  const lo = Math.min(parent, ...visited);
  const hi = Math.max(parent, ...visited);
  const span = Math.max(hi - lo, 1e-8);
  return children.map((c) => ((tree.visits[c]! > 0 ? tree.q[c]! : lo) - lo) / span);
}

/** Adds `value` into the visit count and running mean Q of `leaf` and every ancestor. */
export function backward(tree: SearchTree, leaf: number, value: number): void {
  for (let n = leaf; n !== NO_PARENT; n = tree.parent[n]!) {
    tree.visits[n]! += 1;
    tree.q[n]! += (value - tree.q[n]!) / tree.visits[n]!;
  }
}

/** The item with the lexicographically largest key (earliest on ties). */
function argmax(items: readonly number[], key: (i: number) => number[]): number {
  let best = items[0]!;
  let bestKey = key(best);
  for (const i of items.slice(1)) {
    const k = key(i);
    for (let j = 0; j < k.length; j++) {
      if (k[j]! > bestKey[j]!) {
        best = i;
        bestKey = k;
        break;
      }
      if (k[j]! < bestKey[j]!) break;
    }
  }
  return best;
}

function depthOf(s: State, node: number): number {
  let d = 0;
  for (let n = node; n !== ROOT_INDEX; n = s.tree.parent[n]!) d++;
  return d;
}
