import { describe, expect, it } from 'vitest';
import { zeroCompute } from '../core/compute.js';
import type { SearchResult } from '../search/search.js';
import { makeTrajectory } from '../search/trajectories.js';
import { arithTask } from '../tasks/arith.js';
import { defaultRevisionFormat } from '../search/revision.js';
import { exactStepLabels, revisionRows, rolloutGroups, sequencePairs, sftRows, stepPairs } from './examples.js';

const task = arithTask({ ops: '+-', maxDigits: 2 });
const p = { id: 'arith-47+85', prompt: '47+85', answer: '132' };
const right = '7+5=12 w2 c1\n4+8+1=13 w132\nAnswer: 132';
const wrongCol = '7+5=12 w2 c1\n4+8+1=14 w142\nAnswer: 142';
const wrongFirst = '7+5=13 w3 c1\n4+8+1=13 w133\nAnswer: 133';
const cut = '7+5=12 w2 c1\n4+8+1=13 w13';
const result = (texts: string[], finish: ('stop' | 'length')[] = []): SearchResult => ({
  problemId: p.id, algo: 'sample', answer: null, best: null, compute: zeroCompute(),
  trajectories: texts.map((t, i) => makeTrajectory(task, p, t, finish[i] ?? 'stop', t.length)),
});

describe('examples from search results', () => {
  it('SFT rows keep verified, distinct, finished solutions, at most k per problem', () => {
    const rows = sftRows(task, [p], [result([right, right, wrongCol, cut])]);
    expect(rows).toEqual([{ problemId: p.id, prompt: 'Q: 47+85\n', completion: right }]);
    const alt = 'Plan: add columns right to left\n' + right;
    expect(sftRows(task, [p], [result([right, alt])], { filter: 'verified', maxPerProblem: 1, minAgreement: 0.5, minScore: 0.5 })).toHaveLength(1);
  });

  it('the process filter drops right answers reached through a wrong step or a wrong check, which the verifier keeps', () => {
    const luckyStep = '7+5=13 w2 c1\n4+8+1=13 w132\nAnswer: 132';
    const wrongCheck = '7+5=12 w2 c1\n4+8+1=13 w132\nCheck: 132-85=46 ok\nAnswer: 132';
    const goodCheck = '7+5=12 w2 c1\n4+8+1=13 w132\nCheck: 132-85=47 ok\nAnswer: 132';
    const config = { filter: 'process' as const, maxPerProblem: 4, minAgreement: 0.5, minScore: 0.5 };
    const texts = [luckyStep, wrongCheck, goodCheck, right, wrongCol];
    expect(sftRows(task, [p], [result(texts)]).map((r) => r.completion)).toEqual([luckyStep, wrongCheck, goodCheck, right]);
    expect(sftRows(task, [p], [result(texts)], config).map((r) => r.completion)).toEqual([goodCheck, right]);
  });

  it('the majority filter needs no gold answer and keeps what most samples agree on, right or wrong', () => {
    const wrongAgain = 'Plan: add columns right to left\n' + wrongCol;
    const rows = sftRows(task, [p], [result([wrongCol, wrongAgain, right])], { filter: 'majority', maxPerProblem: 4, minAgreement: 0.5, minScore: 0.5 });
    expect(rows.map((r) => r.completion)).toEqual([wrongCol, wrongAgain]);
    expect(sftRows(task, [p], [result([wrongCol, right, wrongFirst])], { filter: 'majority', maxPerProblem: 4, minAgreement: 0.5, minScore: 0.5 })).toEqual([]);
  });

  it('sequence pairs put a verified solution against a wrong one; step pairs split at the first wrong step', () => {
    expect(sequencePairs(task, [p], [result([right, wrongCol, cut])])).toEqual([{ problemId: p.id, prompt: 'Q: 47+85\n', chosen: right, rejected: wrongCol, level: 'sequence' }]);
    const pairs = stepPairs(task, [p], [result([right, wrongCol, wrongFirst])]);
    expect(pairs).toEqual([
      { problemId: p.id, prompt: 'Q: 47+85\n7+5=12 w2 c1\n', chosen: '4+8+1=13 w132\nAnswer: 132', rejected: '4+8+1=14 w142\nAnswer: 142', level: 'step' },
      { problemId: p.id, prompt: 'Q: 47+85\n', chosen: right, rejected: wrongFirst, level: 'step' },
    ]);
  });

  it('rollout groups carry outcome rewards and step rewards that stay 0 after the first wrong step', () => {
    const [g] = rolloutGroups(task, [p], [result([right, wrongCol, cut], ['stop', 'stop', 'length'])]);
    expect(g!.rollouts.map((r) => r.reward)).toEqual([1, 0, 0]);
    expect(g!.rollouts.map((r) => r.stepRewards)).toEqual([[1, 1, 1], [1, 0, 0], [1, 0]]); // a step cut mid-way is not a right step
    expect(g!.rollouts[2]!.truncated).toBe(true);
    const labels = exactStepLabels(task, [p], [result([wrongFirst])]);
    expect(labels[0]!.labels.hard).toEqual([0, 0, 0]);
    expect(labels[0]!.outcome).toBe(false);
  });

  it('revision rows write a kept solution after the nearest wrong attempts, laid out as revision search lays them out', () => {
    const alt = 'Plan: add columns right to left\n' + right;
    const rows = revisionRows(task, [p], [result([wrongFirst, right, wrongCol, cut, alt])]);
    // The first kept solution follows one attempt: the one sharing the most leading steps (wrongCol parts at step 2).
    expect(rows[0]).toEqual({ problemId: p.id, prompt: 'Q: 47+85\n' + wrongCol + '\nCheck: wrong. Correcting.\n', completion: right });
    expect(rows[0]!.prompt).toBe(defaultRevisionFormat('Q: 47+85\n', [{ text: wrongCol, score: 0 }], true));
    // The second follows two, the nearest last (alt shares no step with either: the earlier sample counts as nearer); a truncated sample is never an attempt.
    expect(rows[1]).toEqual({ problemId: p.id, prompt: defaultRevisionFormat('Q: 47+85\n', [{ text: wrongCol, score: 0 }, { text: wrongFirst, score: 0 }], true), completion: alt });
    // Attempts are dropped from the front until the row fits; none fits: no row. No wrong attempt: no row.
    const short = revisionRows(task, [p], [result([wrongFirst, right, wrongCol, alt])], undefined, { fits: (q) => q.length < 80 });
    expect(short.map((r) => r.prompt)).toEqual([rows[0]!.prompt, defaultRevisionFormat('Q: 47+85\n', [{ text: wrongFirst, score: 0 }], true)]);
    expect(revisionRows(task, [p], [result([wrongFirst, right])], undefined, { fits: () => false })).toEqual([]);
    expect(revisionRows(task, [p], [result([right, alt, cut])])).toEqual([]);
    // Without feedback the verdict is left out, as revision search without feedback shows it.
    expect(revisionRows(task, [p], [result([wrongCol, right])], undefined, { feedback: false })[0]!.prompt).toBe('Q: 47+85\n' + wrongCol + '\nCheck: Correcting.\n');
  });
});
