import { describe, expect, it } from 'vitest';
import { zeroCompute } from '../core/compute.js';
import type { SearchResult } from '../search/search.js';
import { makeTrajectory } from '../search/trajectories.js';
import { arithTask } from '../tasks/arith.js';
import { createToyTask } from '../search/testing.js';
import { stuckProfile } from './stuck.js';

const task = arithTask({ ops: '+-', maxDigits: 2 });
const p = { id: 'arith-47+85', prompt: '47+85', answer: '132' };
const q = { id: 'arith-36+27', prompt: '36+27', answer: '63' };
const right = '7+5=12 w2 c1\n4+8+1=13 w132\nAnswer: 132';
const tens14 = '7+5=12 w2 c1\n4+8+1=14 w142\nAnswer: 142';
const tens15 = '7+5=12 w2 c1\n4+8+1=15 w152\nAnswer: 152';
const units13 = '7+5=13 w3 c1\n4+8+1=13 w133\nAnswer: 133';
const result = (problem: typeof p, texts: string[]): SearchResult => ({
  problemId: problem.id, algo: 'sample', answer: null, best: null, compute: zeroCompute(),
  trajectories: texts.map((t) => makeTrajectory(task, problem, t, 'stop', t.length)),
});

describe('stuck problems (a step no right prefix gets right)', () => {
  it('counts an unsolved problem as stuck only when every trajectory reaching the step with a right prefix wrote it wrong', () => {
    // p: the tens column is wrong in all 4 samples that get the units right (systematic): stuck.
    // q: only 3 samples reach its tens column with the units right, too few to call it stuck.
    const qTens = '6+7=13 w3 c1\n3+2+1=7 w73\nAnswer: 73';
    const qUnits = '6+7=12 w2 c1\n3+2+1=6 w62\nAnswer: 62';
    const profile = stuckProfile(task, [p, q], [result(p, [tens14, tens15, tens14, tens15, units13]), result(q, [qTens, qTens, qUnits, qUnits, qTens])]);
    expect(profile).toEqual({ unsolved: 2, stuck: 1 });
    // One right sample solves p, and a fourth sample at q's tens column makes q stuck.
    expect(stuckProfile(task, [p, q], [result(p, [tens14, tens15, tens14, right]), result(q, [qTens, qTens, qUnits, qTens, qTens])])).toEqual({ unsolved: 1, stuck: 1 });
    // A tens column right once (in a sample that then fails its check) is not stuck.
    const qCheckWrong = '6+7=13 w3 c1\n3+2+1=6 w63\nCheck: 63-27=35 ok\nAnswer: 63';
    expect(stuckProfile(task, [q], [result(q, [qTens, qTens, qTens, qTens, qCheckWrong])])).toEqual({ unsolved: 1, stuck: 0 });
  });

  it('needs enough trajectories at the step to call it stuck, and a task with step checks', () => {
    expect(stuckProfile(task, [p], [result(p, [tens14, tens15, units13])])).toEqual({ unsolved: 1, stuck: 0 });
    expect(stuckProfile(task, [p], [result(p, [tens14, tens15, units13])], 2)).toEqual({ unsolved: 1, stuck: 1 });
    expect(stuckProfile(createToyTask(), [], [])).toBeNull();
  });
});
