import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Synthetic run directories for the report's tests: every input the report reads, in the
 * formats the loop, eval and trainers write, with numbers from a seeded generator (no model is
 * run). `skill` shifts the curves so that two runs are told apart on shared axes.
 */

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FixtureOptions {
  seed: number;
  skill: number;
  /** Problems per saved search file. */
  problems: number;
  /** Policy-initialization steps logged. */
  trainSteps: number;
  /** Nodes of the MCTS tree saved for each problem. */
  treeNodes: number;
}

export const defaultFixtureOptions = { seed: 1, skill: 0.5, problems: 40, trainSteps: 600, treeNodes: 200 } satisfies FixtureOptions;

const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

const compute = (outputTokens: number) => ({ promptTokens: outputTokens, cachedPromptTokens: 0, outputTokens, policyCalls: 8, rewardCalls: 8, rewardTokens: outputTokens, wallMs: 12 });

/** A random MCTS-like tree of `nodes` nodes with arithmetic steps, and its most-visited terminal. */
export function syntheticTree(nodes: number, rand: () => number) {
  const tree = { parent: [-1], step: [''], visits: [nodes], q: [0.5], prior: [1], reward: [null] as (number | null)[], terminal: [false] };
  const depth = [0];
  for (let i = 1; i < nodes; i++) {
    // Prefer recent nodes as parents so the tree is deep as well as wide.
    const p = Math.max(0, Math.min(i - 1, Math.floor(i - 1 - rand() * Math.min(i, 40))));
    const d = depth[p]! + 1;
    const a = Math.floor(rand() * 90) + 10;
    const b = Math.floor(rand() * 90) + 10;
    const terminal = d >= 3 && rand() < 0.35;
    tree.parent.push(p);
    tree.step.push(terminal ? `Answer: ${a + b}\n` : `${a} + ${b} = ${a + b}\n`);
    tree.visits.push(Math.max(1, Math.floor((nodes / (i + 1)) * rand() * 4)));
    tree.q.push(Math.round(rand() * 1000) / 1000);
    tree.prior.push(Math.round(rand() * 1000) / 1000);
    tree.reward.push(terminal ? (rand() < 0.5 ? 1 : 0) : Math.round(rand() * 1000) / 1000);
    tree.terminal.push(terminal);
    depth.push(d);
  }
  // Every search ends somewhere: small trees get one terminal at their last node.
  if (!tree.terminal.some(Boolean) && nodes > 1) {
    tree.terminal[nodes - 1] = true;
    tree.step[nodes - 1] = 'Answer: 1';
    tree.reward[nodes - 1] = 1;
  }
  return tree;
}

function steps(problem: number, k: number, wrong: boolean): string[] {
  return [`Plan: add ${problem} and ${k % 3}.\n`, `${problem} + ${k % 3} = ${problem + (k % 3)}\n`, `Check: ${problem + (k % 3)} - ${k % 3} = ${problem}\n`, `Answer: ${wrong ? problem + 1 : problem + (k % 3)}`];
}

/** One best-of-N / beam style result: trajectories sharing step prefixes, scored by a PRM. */
function trajectoryResult(problem: number, algo: string, budget: number, rand: () => number, skill: number) {
  const trajectories = Array.from({ length: Math.min(budget, 8) }, (_, k) => {
    const wrong = rand() > skill;
    const s = steps(problem, k, wrong);
    const stepScores = s.map(() => Math.round((wrong ? 0.3 : 0.5) * 1000 + rand() * 400) / 1000);
    return { text: s.join(''), steps: s, answer: s[3]!.replace('Answer: ', ''), finishReason: 'stop', outputTokens: 30, stepScores, score: Math.min(...stepScores), correct: !wrong };
  });
  const best = trajectories.reduce((a, b) => (b.score > a.score ? b : a));
  return { problemId: `p${problem}`, algo, answer: best.answer, best, trajectories, compute: compute(30 * trajectories.length), correct: best.correct, budget };
}

function treeResult(problem: number, nodes: number, rand: () => number) {
  const tree = syntheticTree(nodes, rand);
  let end = -1;
  for (let i = 0; i < nodes; i++) if (tree.terminal[i] && (end < 0 || tree.visits[i]! > tree.visits[end]!)) end = i;
  const path: string[] = [];
  for (let k = end; k > 0; k = tree.parent[k]!) path.unshift(tree.step[k]!);
  const correct = tree.reward[end] === 1;
  const best = { text: path.join(''), steps: path, answer: path[path.length - 1]!.replace('Answer: ', '').trim(), finishReason: 'stop', outputTokens: 40, score: tree.q[end]!, correct };
  return { problemId: `p${problem}`, algo: 'mcts', answer: best.answer, best, trajectories: [best], tree, compute: compute(nodes * 10), correct, budget: 16 };
}

/** Writes a complete synthetic run directory and returns its path. */
export function writeFixtureRun(dir: string, options: Partial<FixtureOptions> = {}): string {
  const o: FixtureOptions = { ...defaultFixtureOptions, ...options };
  const rand = mulberry32(o.seed);
  mkdirSync(join(dir, 'search'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ command: 'loop --task arith --iterations 4', seed: o.seed }, null, 2));

  const metrics: unknown[] = [];
  const t = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  for (let s = 1; s <= o.trainSteps; s++) metrics.push({ time: t(s), step: s, 'train/loss': 3 * Math.exp(-s / 150) + 0.2 * rand() + 0.3, 'train/lr': 3e-3, 'train/grad_norm': 1 + rand() });
  metrics.push({ time: t(o.trainSteps + 1), 'eval/greedy_accuracy': 0.3 * o.skill + 0.1, 'eval/output_tokens': 42 });
  for (let it = 0; it <= 4; it++) {
    for (const control of [false, true]) {
      const gain = control ? 0.01 * it : 0.08 * it * o.skill;
      const row: Record<string, unknown> = { time: t(1000 + it), event: 'iteration', iteration: it, 'tokens/searched': 20000 * (it + 1), 'tokens/trained': 5000 * (it + 1), 'eval/search_accuracy': Math.min(1, 0.45 + gain), 'eval/output_tokens': 300 };
      if (control) row.control = true;
      ['d1', 'd2', 'd3'].forEach((d, k) => {
        const base = 0.6 - 0.2 * k;
        row[`eval/greedy/${d}`] = Math.min(1, base + gain);
        row[`eval/pass@1/${d}`] = Math.min(1, base + gain - 0.05);
        row[`eval/pass@8/${d}`] = Math.min(1, base + gain + 0.2);
      });
      if (!control) row['search/selected_reward'] = Math.min(1, 0.6 + 0.09 * it);
      if (!control && it > 0) {
        row['data/problems_solved'] = Math.min(1, 0.2 * it * o.skill);
        row['data/problems_stuck'] = 0.5 * (1 - Math.min(1, 0.2 * it * o.skill));
      }
      metrics.push(row);
    }
    if (it > 0) {
      for (let s = 1; s <= 30; s++) metrics.push({ time: t(2000 + it * 100 + s), event: 'train', iteration: it, step: s, loss: 1 / (it + s / 10), kl: 0.01 * s * rand(), entropy: 1.5 - 0.02 * s, reward: 0.4 + 0.01 * s, 'completions/mean_length': 40 + 5 * rand(), grad_norm: rand() });
    }
    metrics.push({ time: t(3000 + it), event: 'prm', iteration: it, 'prm/auc': 0.7 + 0.04 * it, 'prm/per_problem_auc': 0.6 + 0.05 * it, ...(it === 4 ? { 'prm/calibration': [0.1, 0.3, 0.5, 0.7, 0.9].map((p) => ({ predicted: p, observed: Math.min(1, p * (0.8 + 0.3 * rand())), count: 50 })) } : {}) });
  }
  writeFileSync(join(dir, 'metrics.jsonl'), jsonl(metrics) + '{"time": "cut short\n');

  const evalRows: unknown[] = [{ algo: 'greedy', budget: 1, accuracy: 0.3 * o.skill + 0.1, problems: o.problems, output_tokens: 42, policy_calls: 1, reward_calls: 0, wall_ms: 900 }];
  for (const budget of [4, 16, 64]) {
    const lift = Math.log2(budget) / 6;
    evalRows.push({ algo: 'majority', budget, accuracy: Math.min(1, 0.35 + 0.3 * lift * o.skill), problems: o.problems, output_tokens: 42 * budget, policy_calls: budget, reward_calls: 0, wall_ms: 100 * budget, reward: 'verifier:arith', oracle: false });
    evalRows.push({ algo: 'best-of-n', budget, accuracy: Math.min(1, 0.4 + 0.5 * lift), problems: o.problems, output_tokens: 42 * budget, policy_calls: budget, reward_calls: budget, wall_ms: 100 * budget, reward: 'verifier:arith', oracle: true });
    evalRows.push({ algo: 'best-of-n', budget, accuracy: Math.min(1, 0.38 + 0.35 * lift * o.skill), problems: o.problems, output_tokens: 44 * budget, policy_calls: budget, reward_calls: budget, reward_tokens: 44 * budget, wall_ms: 120 * budget, reward: 'prm:runs/prm', oracle: false });
    evalRows.push({ algo: 'mcts', budget, accuracy: Math.min(1, 0.36 + 0.4 * lift * o.skill), problems: o.problems, output_tokens: 30 * budget, policy_calls: 3 * budget, reward_calls: 3 * budget, wall_ms: 150 * budget, reward: 'prm:runs/prm', oracle: false });
  }
  writeFileSync(join(dir, 'eval.jsonl'), jsonl(evalRows));

  const searches: unknown[] = [];
  for (const budget of [4, 16]) for (let p = 0; p < o.problems; p++) searches.push(trajectoryResult(p, 'best-of-n', budget, rand, o.skill));
  for (let p = 0; p < Math.min(o.problems, 10); p++) searches.push(trajectoryResult(p, 'beam', 8, rand, o.skill));
  for (let p = 0; p < Math.min(o.problems, 10); p++) searches.push(treeResult(p, o.treeNodes, rand));
  writeFileSync(join(dir, 'search', 'eval.jsonl'), jsonl(searches) + 'not json\n');
  for (let it = 1; it <= 3; it++) {
    const rows = Array.from({ length: 10 }, (_, p) => {
      const r = trajectoryResult(p, 'best-of-n', 8, rand, Math.max(0.1, o.skill - 0.1 * it));
      // The loop pushes the reward up over iterations while accuracy lags (over-optimization).
      r.best = { ...r.best, score: Math.min(1, r.best.score + 0.1 * it) };
      const { budget: _b, ...rest } = r;
      return rest;
    });
    writeFileSync(join(dir, 'search', `iter-${it}.jsonl`), jsonl(rows));
  }
  return dir;
}
