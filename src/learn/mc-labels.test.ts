import { describe, expect, it } from 'vitest';
import { getTask } from '../tasks/registry.js';
import { exactLabels, fromTrlStepwise, mcStepLabels, splitSolution, toTrlStepwise } from './mc-labels.js';
import { createMockPolicy } from '../policy/mock.js';
import { arithTask } from '../tasks/arith.js';
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

  it("exact labels come from the task's step checker, not from rollouts: a lucky right answer after a wrong step is labelled wrong", async () => {
    const arith = arithTask({ ops: '+-', maxDigits: 2 });
    const p = { id: 'arith-47+85', prompt: '47+85', answer: '132' };
    const texts = [
      '7+5=12 w2 c1\n4+8+1=13 w132\nAnswer: 132', // right throughout
      '7+5=13 w2 c1\n4+8+1=13 w132\nAnswer: 132', // wrong first step, right answer (luck)
      '7+5=12 w2 c1\n4+8+1=14 w142\nAnswer: 142', // wrong second step
      '7+5=12 w2 c1\n4+8+1=13 w132\nAnswer: 133', // right steps, wrong answer line
    ];
    const policy = createMockPolicy((_prefix, i) => texts[i % texts.length]!);
    const { rows, rollouts } = await mcStepLabels(arith, policy, [p], { samples: 4, rollouts: 8, source: 'exact' });
    expect(rollouts).toBe(0);
    expect(policy.calls).toHaveLength(1);
    expect(rows.map((r) => r.labels.hard)).toEqual([[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0]]);
    expect(rows.map((r) => r.outcome)).toEqual([true, true, false, false]);
    expect(rows.map((r) => r.labels.soft)).toEqual(rows.map((r) => r.labels.hard));
    expect(exactLabels(arith, p, texts[1]!.split('\n'), true)).toEqual([0, 0, 0]);
    // Monte-Carlo labels of the same lucky sample would call its first step right whenever a rollout recovers.
    const unchecked = Object.create(arith, { checkSteps: { value: undefined } }) as typeof arith;
    await expect(mcStepLabels(unchecked, policy, [p], { source: 'exact' })).rejects.toThrow(/has no step checker/);
  });
});
