import type { Problem } from '../core/problem.js';
import type { FinishReason, Trajectory } from '../core/trajectory.js';
import type { Aggregation } from '../reward/reward.js';
import { Meter } from './compute.js';
import { NO_PARENT, ROOT_INDEX, type SearchContext, type SearchResult, type SearchTree } from './search.js';
import { bestByScore } from './select.js';
import { addNode, newTree } from './tree.js';
import { isFinished, makeTrajectory, scorePaths, searchResult, splitSteps } from './trajectories.js';

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
 * so, as in mctx, each simulation evaluates exactly one new node. The answer follows the
 * most-visited (or highest-Q) path; the root's visit distribution is returned as
 * `actionWeights`, the policy-improvement target of AlphaZero and of the roadmap's learning step.
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
  /** Steps at most; nodes at this depth are terminal. */
  maxDepth: number;
  temperature: number;
  topP: number;
  aggregation: Aggregation;
  /** Priors from the policy's step probability exp(mean token logprob); else from sample counts. */
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
  maxDepth: 40,
  temperature: 0.8,
  topP: 1,
  aggregation: 'last',
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

  /** Samples k next steps below `node` and adds them as children; false when the budget has no room. */
  const expand = async (node: number): Promise<boolean> => {
    const maxTokens = meter.cap(config.numCandidates, ctx.maxTokens);
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
    // Identical steps are one action; their prior weights add up (sample counts without logprobs).
    const byStep = new Map<string, { weight: number; tokens: number; finishReason: FinishReason }>();
    for (const c of res.completions[0]!) {
      const weight = config.priorFromLogprobs && c.logprobs && c.tokens > 0 ? Math.exp(c.logprobs.reduce((a, b) => a + b, 0) / c.tokens) : 1;
      const seen = byStep.get(c.text);
      if (seen) seen.weight += weight;
      else byStep.set(c.text, { weight, tokens: c.tokens, finishReason: c.finishReason });
    }
    const total = [...byStep.values()].reduce((a, b) => a + b.weight, 0);
    const depth = depthOf(s, node) + 1;
    for (const [step, { weight, tokens, finishReason }] of byStep) {
      const text = s.text[node]! + step;
      const terminal = step === '' || depth >= config.maxDepth || isFinished(ctx.task, problem, text, finishReason);
      const child = addNode(s.tree, node, step, total > 0 ? weight / total : 1 / byStep.size, terminal);
      s.children[node]!.push(child);
      s.children.push([]);
      s.text.push(text);
      s.tokens.push(s.tokens[node]! + tokens);
      s.finishReason.push(finishReason);
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

  /** Rolls out from `node` to the end (temperature as configured); null when out of budget. */
  const rollout = async (node: number, temperature: number): Promise<Trajectory | null> => {
    const maxTokens = meter.cap(1, ctx.maxTokens);
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

  // The answer: follow the most-visited (or best-valued) visited children from the root.
  let end = ROOT_INDEX;
  for (;;) {
    const visited = s.children[end]!.filter((c) => s.tree.visits[c]! > 0);
    if (visited.length === 0) break;
    end = argmax(visited, (c) => (config.select === 'visits' ? [s.tree.visits[c]!, s.tree.q[c]!] : [s.tree.q[c]!, s.tree.visits[c]!]));
  }
  let best = s.trajectoryOf.get(end) ?? bestByScore(trajectories.filter((t) => t.text.startsWith(s.text[end]!)));
  // The chosen path has no finished continuation yet: finish it greedily if the budget allows.
  best ??= (await rollout(end, 0)) ?? bestByScore(trajectories);
  const rootChildren = s.children[ROOT_INDEX]!;
  const rootVisits = rootChildren.reduce((a, c) => a + s.tree.visits[c]!, 0);
  const actionWeights = rootChildren.map((c) => (rootVisits > 0 ? s.tree.visits[c]! / rootVisits : s.tree.prior[c]!));
  return searchResult(problem, 'mcts', meter, trajectories, { answer: best?.answer ?? null, best }, { tree: s.tree, actionWeights });
}

/**
 * PUCT (AlphaZero; mctx `muzero_action_selection` without the log term):
 *     argmax_a  Q(a) + c · P(a) · sqrt(N(node)) / (1 + N(a))
 * An unvisited child's Q is its parent's (first-play urgency as in Leela Zero / mctx's
 * `qtransform_by_parent_and_siblings`). Ties go to the higher prior, then the lower index, so the
 * descent is deterministic.
 */
export function selectChild(s: { tree: SearchTree; children: number[][] }, node: number, cPuct: number): number {
  const t = s.tree;
  const sqrtN = Math.sqrt(t.visits[node]!);
  return argmax(s.children[node]!, (c) => {
    const q = t.visits[c]! > 0 ? t.q[c]! : t.q[node]!;
    return [q + (cPuct * t.prior[c]! * sqrtN) / (1 + t.visits[c]!), t.prior[c]!];
  });
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
