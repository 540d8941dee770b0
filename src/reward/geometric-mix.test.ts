import { describe, expect, it } from 'vitest';
import type { RewardItem, RewardModel, RewardScore } from './reward.js';
import { geometricMix } from './geometric-mix.js';

/** A process reward that gives fixed step scores per solution (by its first step's text). */
function fixed(id: string, table: Record<string, number[]>, extra: Partial<RewardModel> = {}): RewardModel {
  return {
    id,
    kind: 'process',
    aggregation: 'min',
    ...extra,
    async score(items: RewardItem[]) {
      const scores: RewardScore[] = items.map((it) => {
        const s = table[it.steps[0]!]!;
        return { score: Math.min(...s), stepScores: s };
      });
      return { scores, usage: { calls: 1, tokens: 10 * items.length } };
    },
  };
}

const problem = { id: 'p', prompt: 'q', answer: '1' };
const item = (first: string): RewardItem => ({ problem, prompt: 'q\n', steps: [first, 'x', 'y'], complete: true });

describe('geometricMix (Xie et al. 2023: conf^λ · eval^(1−λ) per step)', () => {
  const evaluator = fixed('prm', { a: [0.9, 0.8, 0.1], b: [0.5, 0.5, 0.5] });
  const confidence = fixed('confidence', { a: [0.9, 0.9, 0.9], b: [0.4, 0.9, 0.1] });

  it('mixes step by step, then aggregates with the evaluator’s aggregation; λ 0 and 1 are each reward alone', async () => {
    const r = geometricMix(evaluator, confidence, { lambda: 0.5 });
    const { scores, usage } = await r.score([item('a'), item('b')]);
    expect(scores[0]!.stepScores).toEqual([0.9, Math.sqrt(0.72), Math.sqrt(0.09)].map((x) => expect.closeTo(x, 12)));
    expect(scores[0]!.score).toBeCloseTo(0.3, 12);
    // b: min over sqrt(0.2), sqrt(0.45), sqrt(0.05): the mix ranks b (0.224) below a (0.3), where the evaluator alone ranks b (0.5) above a (0.1).
    expect(scores[1]!.score).toBeCloseTo(Math.sqrt(0.05), 12);
    expect(usage).toEqual({ calls: 2, tokens: 40 });
    expect(r.id).toBe('prm+confidence=0.5');
    expect(r.aggregation).toBe('min');
    const alone = async (lambda: number) => (await geometricMix(evaluator, confidence, { lambda }).score([item('a'), item('b')])).scores.map((s) => s.score);
    expect(await alone(0)).toEqual([0.1, 0.5].map((x) => expect.closeTo(x, 12)));
    expect(await alone(1)).toEqual([0.9, 0.1].map((x) => expect.closeTo(x, 12)));
  });

  it("keeps the evaluator's oracle flag and kind; an outcome evaluator mixes with the confidence's min", async () => {
    expect(geometricMix(fixed('v', {}, { oracle: true }), confidence).oracle).toBe(true);
    expect(geometricMix(evaluator, confidence).oracle).toBe(false);
    const orm: RewardModel = { id: 'orm', kind: 'outcome', score: async (items) => ({ scores: items.map(() => ({ score: 0.64 })), usage: { calls: 1, tokens: 1 } }) };
    const r = geometricMix(orm, confidence, { lambda: 0.5 });
    expect(r.kind).toBe('outcome');
    const [s] = (await r.score([item('b')])).scores;
    expect(s!.stepScores).toBeUndefined();
    expect(s!.score).toBeCloseTo(Math.sqrt(0.64 * 0.1), 12);
  });

  it('rejects a weight outside [0, 1]', () => {
    expect(() => geometricMix(evaluator, confidence, { lambda: 1.5 })).toThrow('confidence weight must be in [0, 1], got 1.5');
    expect(() => geometricMix(evaluator, confidence, { lambda: Number.NaN })).toThrow(/got NaN/);
  });
});
