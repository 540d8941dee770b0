import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultBestOfNConfig, bestOfN } from './best-of-n.js';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { backward, defaultMctsConfig, mcts, normalizedQ, selectChild } from './mcts.js';
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
    // exp(mean logprob) = 0.6 for the right step, 0.2 for each wrong one, counted once per distinct
    // step however often it was sampled (counts would estimate the same probability twice).
    const calls = world.policy.calls[0]!.result.completions[0]!;
    expect(calls.length).toBeGreaterThan(kids.length);
    const weight = (text: string) => (text === t.step[right!] ? 0.6 : 0.2);
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
    // Q normalized over parent and siblings: parent 0.2, a 0.2 → span 0 → both 0.
    // b: 0 + 1.25·0.3·√2/1 = 0.53 beats a: 0 + 1.25·0.7·√2/3 = 0.41.
    expect(selectChild(s, ROOT_INDEX, 1.25)).toBe(b);
  });

  it('normalizes Q over parent and siblings (mctx qtransform_by_parent_and_siblings), so small PRM differences steer', () => {
    const tree = newTree();
    const a = addNode(tree, ROOT_INDEX, 'a\n', 0.9, false);
    const b = addNode(tree, ROOT_INDEX, 'b\n', 0.1, false);
    const c = addNode(tree, ROOT_INDEX, 'c\n', 0, false);
    const s = { tree, children: [[a, b, c], [], [], []] };
    // PRM values that differ by hundredths: a 0.50 (prior 0.9), b 0.53 (prior 0.1).
    for (let i = 0; i < 3; i++) backward(tree, a, 0.5);
    for (let i = 0; i < 3; i++) backward(tree, b, 0.53);
    expect(normalizedQ(tree, ROOT_INDEX, [a, b, c]).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0, 1, 0]);
    // Raw Q: a wins on its prior (0.50 + 1.25·0.9·√6/4 = 1.19 vs 0.53 + 0.08 = 0.61).
    // Normalized: b wins (1 + 0.08 vs 0 + 0.69).
    expect(selectChild(s, ROOT_INDEX, 1.25)).toBe(b);
    // Unvisited children get the minimum of parent and siblings: c scores 0, not the parent's Q.
    const d = newTree();
    const x = addNode(d, ROOT_INDEX, 'x\n', 0.5, false);
    const y = addNode(d, ROOT_INDEX, 'y\n', 0.5, false);
    backward(d, x, 0.9);
    backward(d, x, 0.1);
    expect(normalizedQ(d, ROOT_INDEX, [x, y])).toEqual([0, 0]);
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
    // The golden file is checked in and never rewritten here: regenerate it by hand (and review the
    // diff) only when a change to the search is meant to change the tree.
    expect(existsSync(file)).toBe(true);
    expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    checkTree(t, 6);
  });
});
