import { describe, expect, it } from 'vitest';
import { defaultGreedyConfig, greedy } from './greedy.js';
import { defaultRevisionConfig, defaultRevisionFormat, revision } from './revision.js';
import { accuracy, toyWorld } from './testing.js';

describe('revision', () => {
  it('conditions each attempt on the earlier ones with the reward’s verdict', async () => {
    const world = toyWorld({ count: 1, reward: 'verifier' });
    const problem = world.problems[0]!;
    const prompt = world.task.formatPrompt(problem);
    const r = await revision(problem, world.context(1), { ...defaultRevisionConfig, attempts: 3 });
    const prefixes = world.policy.calls.map((c) => c.request.prefixes[0]);
    expect(prefixes).toHaveLength(3);
    expect(prefixes[0]).toBe(prompt);
    const [a1, a2] = r.trajectories;
    const verdict = (s: number | undefined) => (s === 1 ? 'right' : 'wrong');
    expect(prefixes[1]).toBe(`${prompt}${a1!.text}\nCheck: ${verdict(a1!.score)}. Correcting.\n`);
    expect(prefixes[2]).toBe(`${prefixes[1]}${a2!.text}\nCheck: ${verdict(a2!.score)}. Correcting.\n`);
  });

  it('keeps only the last `context` attempts in the prompt, and no verdicts without feedback', async () => {
    const world = toyWorld({ count: 1 });
    const problem = world.problems[0]!;
    const r = await revision(problem, world.context(2), { ...defaultRevisionConfig, attempts: 4, context: 1, feedback: false });
    const last = world.policy.calls[3]!.request.prefixes[0]!;
    expect(last).toBe(defaultRevisionFormat(world.task.formatPrompt(problem), [r.trajectories[2]!], false));
    expect(last).toContain('Check: Correcting.');
    expect(last.match(/Check:/g)).toHaveLength(1);
  });

  it('uses a custom prompt format', async () => {
    const world = toyWorld({ count: 1 });
    const format = (prompt: string, previous: readonly { text: string }[]) => `${prompt}${previous.map((a) => `${a.text}\nCheck: try again\n`).join('')}`;
    await revision(world.problems[0]!, world.context(3), { ...defaultRevisionConfig, attempts: 2, format });
    expect(world.policy.calls[1]!.request.prefixes[0]).toMatch(/Check: try again\n$/);
  });

  it('stops once an attempt scores stopAtScore, and answers last or best', async () => {
    const world = toyWorld({ count: 10, reward: 'verifier' });
    for (const p of world.problems) {
      const r = await revision(p, world.context(`s/${p.id}`), { ...defaultRevisionConfig, attempts: 8, stopAtScore: 1, select: 'last' });
      const firstRight = r.trajectories.findIndex((t) => t.score === 1);
      expect(r.trajectories.length).toBe(firstRight >= 0 ? firstRight + 1 : 8);
      expect(r.best).toBe(r.trajectories[r.trajectories.length - 1]);
      const b = await revision(p, world.context(`s/${p.id}`), { ...defaultRevisionConfig, attempts: 8, select: 'best' });
      expect(b.best!.score).toBe(Math.max(...b.trajectories.map((t) => t.score!)));
      // majority: the chain's most common answer, whatever the reward said.
      const m = await revision(p, world.context(`s/${p.id}`), { ...defaultRevisionConfig, attempts: 8, select: 'majority' });
      const counts = new Map<string, number>();
      for (const t of m.trajectories) if (t.answer !== null && t.finishReason !== 'length') counts.set(t.answer.trim(), (counts.get(t.answer.trim()) ?? 0) + 1);
      if (m.answer !== null) expect(counts.get(m.answer.trim())).toBe(Math.max(...counts.values()));
    }
  });

  it('keeps earlier attempts in context at the real model’s context length (256), budgeting the new attempt', async () => {
    // The built-in arith model: 256-token context, 200-token sample cap. Reserving the cap for the
    // new attempt would leave 55 tokens, too few for prompt + one attempt: no attempt would ever
    // be in context and "revision" would be independent samples.
    const world = toyWorld({ count: 5, contextLength: 256, maxTokens: 200 });
    for (const problem of world.problems) {
      world.policy.reset();
      const r = await revision(problem, world.context(`ctx/${problem.id}`), { ...defaultRevisionConfig, attempts: 4 });
      const prefixes = world.policy.calls.map((c) => c.request.prefixes[0]!);
      for (let k = 1; k < 4; k++) {
        expect(prefixes[k]).toContain(r.trajectories[k - 1]!.text);
        expect(prefixes[k]!.length + 1 + world.policy.calls[k]!.request.maxTokens).toBeLessThanOrEqual(256);
      }
    }
  });

  it('beats as many independent attempts when the policy can revise (PRM, no gold answer)', async () => {
    // A policy that writes right steps with p = 0.5 alone, 0.8 after seeing earlier attempts.
    // Conditioning on nothing (context 0) is plain sampling; this test fails if revision drops
    // its attempts from the context.
    const world = toyWorld({ count: 60, p: 0.5, revisedP: 0.8, contextLength: 256, maxTokens: 200 });
    const independent = await accuracy(world, revision, { ...defaultRevisionConfig, attempts: 8, context: 0 });
    const revised = await accuracy(world, revision, { ...defaultRevisionConfig, attempts: 8 });
    expect(revised - independent).toBeGreaterThan(0.1);
  });

  it('beats greedy with a PRM', async () => {
    const world = toyWorld({ count: 60 });
    const g = await accuracy(world, greedy, defaultGreedyConfig);
    const r = await accuracy(world, revision, { ...defaultRevisionConfig, attempts: 8 });
    expect(r - g).toBeGreaterThan(0.4);
  });
});
