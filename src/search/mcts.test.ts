import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultBestOfNConfig, bestOfN } from './best-of-n.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { backward, defaultMctsConfig, mcts, selectChild } from './mcts.js';
import { matchedBudget } from './registry.js';
import { NO_PARENT, ROOT_INDEX, type SearchTree } from './search.js';
import { accuracy, toyWorld } from './testing.js';
import { addNode, childrenOf, newTree } from './tree.js';

/** mcts.ts's documented invariants. */
function checkTree(tree: SearchTree, simulations: number): void {
  const n = tree.parent.length;
  for (const field of ['step', 'visits', 'q', 'prior', 'reward', 'terminal'] as const) expect(tree[field]).toHaveLength(n);
  expect(tree.parent[ROOT_INDEX]).toBe(NO_PARENT);
  for (let i = 0; i < n; i++) {
    const kids = childrenOf(tree, i);
    const sumKids = kids.reduce((a, c) => a + tree.visits[c]!, 0);
    if (i !== ROOT_INDEX) expect(tree.parent[i]).toBeLessThan(i);
    if (i === ROOT_INDEX) expect(tree.visits[i]).toBe(sumKids);
    else if (tree.terminal[i]) expect(kids).toHaveLength(0);
    else if (tree.visits[i]! > 0) expect(tree.visits[i]).toBe(1 + sumKids);
    else expect(kids).toHaveLength(0);
    // Evaluated exactly when visited; Q a mean of rewards in [0, 1].
    expect(tree.reward[i] === null).toBe(i === ROOT_INDEX || tree.visits[i] === 0);
    expect(tree.q[i]).toBeGreaterThanOrEqual(0);
    expect(tree.q[i]).toBeLessThanOrEqual(1);
    if (kids.length > 0) expect(kids.reduce((a, c) => a + tree.prior[c]!, 0)).toBeCloseTo(1, 9);
  }
  expect(tree.visits[ROOT_INDEX]).toBeLessThanOrEqual(simulations);
}

describe('mcts', () => {
  it('keeps the tree invariants (visits = own + Σ children, Q in range, priors normalized)', async () => {
    for (const reward of ['prm', 'verifier'] as const) {
      const world = toyWorld({ count: 8, reward });
      for (const p of world.problems) {
        const r = await mcts(p, world.context(`inv/${p.id}`), { ...defaultMctsConfig, numSimulations: 24 });
        checkTree(r.tree!, 24);
        expect(r.tree!.visits[ROOT_INDEX]).toBe(24);
        const w = r.actionWeights!;
        expect(w).toHaveLength(childrenOf(r.tree!, ROOT_INDEX).length);
        expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }
    }
  });

  it('stops within a short budget and keeps the invariants', async () => {
    const world = toyWorld({ count: 5 });
    for (const p of world.problems) {
      const r = await mcts(p, world.context(`b/${p.id}`, { outputTokens: 40 }), { ...defaultMctsConfig, numSimulations: 100 });
      expect(r.compute.outputTokens).toBeLessThanOrEqual(40);
      checkTree(r.tree!, 100);
    }
  });

  it('takes priors from the policy’s step probability, or from sample counts without logprobs', async () => {
    const world = toyWorld({ count: 1, p: 0.6 });
    const p = world.problems[0]!;
    const r = await mcts(p, world.context(1), { ...defaultMctsConfig, numSimulations: 1, numCandidates: 8 });
    const t = r.tree!;
    const kids = childrenOf(t, ROOT_INDEX);
    const right = kids.find((c) => t.step[c] === `${p.meta!.start}+${(p.meta!.addends as number[])[0]}=${Number(p.meta!.start) + (p.meta!.addends as number[])[0]!}\n`);
    expect(right).toBeDefined();
    // exp(mean logprob) = 0.6 for the right step, 0.2 for each wrong one (times how often each was sampled).
    const calls = world.policy.calls[0]!.result.completions[0]!;
    const weight = (text: string) => calls.filter((c) => c.text === text).length * (text === t.step[right!] ? 0.6 : 0.2);
    const total = kids.reduce((a, c) => a + weight(t.step[c]!), 0);
    for (const c of kids) expect(t.prior[c]).toBeCloseTo(weight(t.step[c]!) / total, 9);
    world.policy.reset();
    const u = await mcts(p, world.context(1), { ...defaultMctsConfig, numSimulations: 1, numCandidates: 8, priorFromLogprobs: false });
    const uc = world.policy.calls[0]!.result.completions[0]!;
    for (const c of childrenOf(u.tree!, ROOT_INDEX)) expect(u.tree!.prior[c]).toBeCloseTo(uc.filter((x) => x.text === u.tree!.step[c]).length / 8, 9);
  });

  it('selects by PUCT and backs values up as running means', () => {
    const tree = newTree();
    const a = addNode(tree, ROOT_INDEX, 'a\n', 0.7, false);
    const b = addNode(tree, ROOT_INDEX, 'b\n', 0.3, false);
    const s = { tree, children: [[a, b], [], []] };
    // No visits yet: Q ties at the parent's, the higher prior wins.
    expect(selectChild(s, ROOT_INDEX, 1.25)).toBe(a);
    backward(tree, a, 0.1);
    backward(tree, a, 0.3);
    expect(tree.visits).toEqual([2, 2, 0]);
    expect(tree.q[a]).toBeCloseTo(0.2, 12);
    expect(tree.q[ROOT_INDEX]).toBeCloseTo(0.2, 12);
    // b: 0.2 + 1.25·0.3·√2/1 = 0.73 beats a: 0.2 + 1.25·0.7·√2/3 = 0.61.
    expect(selectChild(s, ROOT_INDEX, 1.25)).toBe(b);
  });

  it('answers by most visits or by best value', async () => {
    const world = toyWorld({ count: 6 });
    for (const p of world.problems) {
      for (const select of ['visits', 'value'] as const) {
        const r = await mcts(p, world.context(`s/${p.id}`), { ...defaultMctsConfig, numSimulations: 32, select });
        expect(r.best).not.toBeNull();
        expect(r.answer).toBe(r.best!.answer);
      }
    }
  });

  it('beats greedy and best-of-N at matched budget on a hard toy task (PRM evaluation)', async () => {
    const world = toyWorld({ count: 40, p: 0.4, steps: 6 });
    const budget = matchedBudget(16, 64);
    const g = await accuracy(world, greedy, defaultGreedyConfig, budget);
    const b = await accuracy(world, bestOfN, { ...defaultBestOfNConfig, n: 16 }, budget);
    const m = await accuracy(world, mcts, { ...defaultMctsConfig, numSimulations: 64 }, budget);
    expect(g).toBeLessThan(0.1);
    expect(b).toBeLessThan(0.25);
    // Well above sampling, though below beam here: without progressive widening a node whose k
    // candidates are all wrong is a dead end (0.6^4 per step at k = 4), and mean backup lets
    // exploration of wrong children dilute a right node's Q.
    expect(m).toBeGreaterThan(b + 0.2);
  });

  it('mostly solves the standard toy task, where greedy mostly fails', async () => {
    const world = toyWorld({ count: 40, p: 0.6, steps: 4 });
    const budget = matchedBudget(16, 64);
    const g = await accuracy(world, greedy, defaultGreedyConfig, budget);
    const m = await accuracy(world, mcts, { ...defaultMctsConfig, numSimulations: 64 }, budget);
    expect(g).toBeLessThan(0.3);
    expect(m).toBeGreaterThan(0.7);
  });

  it('beats greedy with rollouts scored by the exact verifier', async () => {
    const world = toyWorld({ count: 40, p: 0.6, reward: 'verifier' });
    const g = await accuracy(world, greedy, defaultGreedyConfig);
    const m = await accuracy(world, mcts, { ...defaultMctsConfig, numSimulations: 16, evaluate: 'rollout' });
    expect(m - g).toBeGreaterThan(0.4);
  });

  it('reproduces a golden tree', async () => {
    const world = toyWorld({ count: 1, steps: 2 });
    const r = await mcts(world.problems[0]!, world.context('golden'), { ...defaultMctsConfig, numSimulations: 6, numCandidates: 2 });
    const round = (xs: (number | null)[]) => xs.map((x) => (x === null ? null : Math.round(x * 1e6) / 1e6));
    const t = r.tree!;
    const got = { problem: world.problems[0]!.prompt, answer: r.answer, actionWeights: round(r.actionWeights!), tree: { ...t, q: round(t.q), prior: round(t.prior), reward: round(t.reward) } };
    const file = new URL('./testdata/mcts-golden.json', import.meta.url);
    if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, JSON.stringify(got, null, 2) + '\n');
    expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    checkTree(t, 6);
  });
});
