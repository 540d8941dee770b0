import { describe, expect, it } from 'vitest';
import { getTask } from '../tasks/registry.js';
import { fromTrlStepwise, mcStepLabels, splitSolution, toTrlStepwise } from './mc-labels.js';
import { scriptedArithPolicy } from './reward-fixtures.js';

const task = getTask('arith');
const problems = task.problems('train', 3, 0);

describe('Monte-Carlo step labels (Math-Shepherd)', () => {
  it('labels each step by its rollouts: hard = any correct, soft = fraction correct; the last step by the outcome', async () => {
    const policy = scriptedArithPolicy(task, problems);
    const { rows, prefixes, rollouts } = await mcStepLabels(task, policy, problems, { samples: 2, rollouts: 8, seed: 1 });
    expect(rows).toHaveLength(6);
    for (const [i, row] of rows.entries()) {
      expect(row.problemId).toBe(problems[Math.floor(i / 2)]!.id);
      expect(row.prompt).toBe(task.formatPrompt(problems[Math.floor(i / 2)]!));
      expect(row.steps).toHaveLength(3);
      expect(row.steps[0]).toBe('Plan: add');
      const good = i % 2 === 0;
      expect(row.outcome).toBe(good);
      expect(row.steps[1]).toBe(good ? 'good step' : 'bad step');
      expect(row.labels.soft.slice(1)).toEqual(good ? [1, 1] : [0, 0]);
      expect(row.labels.hard.slice(1)).toEqual(good ? [1, 1] : [0, 0]);
      // After the plan, each rollout succeeds with probability ½: k·soft of them, an integer.
      const s = row.labels.soft[0]!;
      expect(Number.isInteger(s * 8)).toBe(true);
      expect(row.labels.hard[0]).toBe(s > 0 ? 1 : 0);
    }
    const planMean = rows.reduce((a, r) => a + r.labels.soft[0]!, 0) / rows.length;
    expect(planMean).toBeGreaterThan(0.2);
    expect(planMean).toBeLessThan(0.8);
    // The two samples of a problem share the plan prefix: rolled out once, labelled alike.
    expect(rows[0]!.labels.soft[0]).toBe(rows[1]!.labels.soft[0]);
    expect(prefixes).toBe(3 * 3);
    expect(rollouts).toBe(9 * 8);
    // One call samples the solutions, one rolls out every prefix (batched across problems).
    expect(policy.calls).toHaveLength(2);
    expect(policy.calls[1]!.request.prefixes).toHaveLength(9);
    expect(policy.calls[1]!.request.n).toBe(8);
  });

  it('is deterministic under a seed and with rollouts 0 gives every step the outcome label', async () => {
    const a = await mcStepLabels(task, scriptedArithPolicy(task, problems), problems, { samples: 2, rollouts: 4, seed: 5 });
    const b = await mcStepLabels(task, scriptedArithPolicy(task, problems), problems, { samples: 2, rollouts: 4, seed: 5 });
    expect(a.rows).toEqual(b.rows);
    const o = await mcStepLabels(task, scriptedArithPolicy(task, problems), problems, { samples: 2, rollouts: 0 });
    expect(o.rollouts).toBe(0);
    for (const r of o.rows) expect(r.labels.hard).toEqual(r.steps.map(() => (r.outcome ? 1 : 0)));
  });

  it('round-trips through TRL stepwise rows', async () => {
    const { rows } = await mcStepLabels(task, scriptedArithPolicy(task, problems), problems, { samples: 2, rollouts: 4 });
    const trl = rows.map(toTrlStepwise);
    expect(Object.keys(trl[0]!).slice(0, 3)).toEqual(['prompt', 'completions', 'labels']);
    expect(trl[1]!.labels).toEqual([true, false, false]);
    expect(trl.map((t, i) => fromTrlStepwise(JSON.parse(JSON.stringify(t)), i))).toEqual(rows);
  });

  it('splits on the delimiter without a trailing empty step', () => {
    expect(splitSolution('a\nb\n', '\n')).toEqual(['a', 'b']);
    expect(splitSolution('', '\n')).toEqual([]);
    expect(splitSolution('a\n\nb', '\n\n')).toEqual(['a', 'b']);
  });
});
