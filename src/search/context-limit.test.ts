import { describe, expect, it } from 'vitest';
import { beam, defaultBeamConfig } from './beam.js';
import { defaultDvtsConfig, dvts } from './dvts.js';
import { defaultMctsConfig, mcts } from './mcts.js';
import { isSolution } from './select.js';
import { toyWorld } from './testing.js';

/**
 * Step-level searches at the policy's context limit. The mock refuses a prompt that leaves no
 * position to write, as the built-in engine does, so a search that sends a partial solution
 * which filled the context throws (beam did, on the 256-token model: a step that ended on the
 * context's last position became the next round's prompt). Swept over context lengths so that
 * some step ends exactly at the limit; with 8 steps a whole toy solution (about 110 tokens)
 * does not fit below 100.
 */
describe('step-level search at the context limit', () => {
  const searches = {
    beam: (w: ReturnType<typeof toyWorld>, i: number) => beam(w.problems[0]!, w.context(`b/${i}`), { ...defaultBeamConfig, n: 8, beamWidth: 2 }),
    dvts: (w: ReturnType<typeof toyWorld>, i: number) => dvts(w.problems[0]!, w.context(`d/${i}`), { ...defaultDvtsConfig, n: 8, beamWidth: 2 }),
    mcts: (w: ReturnType<typeof toyWorld>, i: number) => mcts(w.problems[0]!, w.context(`m/${i}`), { ...defaultMctsConfig, numSimulations: 12, numCandidates: 3 }),
  };
  for (const [name, run] of Object.entries(searches)) {
    it(`${name} ends partial solutions that fill the context as cut, and never sends them`, async () => {
      let finishedSome = 0;
      for (let contextLength = 48; contextLength <= 130; contextLength++) {
        const w = toyWorld({ count: 1, steps: 8, contextLength, maxTokens: 64 });
        const prompt = w.task.formatPrompt(w.problems[0]!);
        const r = await run(w, contextLength);
        for (const c of w.policy.calls) for (const p of c.request.prefixes) expect(p.length + 1).toBeLessThan(contextLength);
        for (const t of r.trajectories) expect(prompt.length + t.text.length + 1).toBeLessThanOrEqual(contextLength);
        // A partial solution ended at the wall is cut, and a cut one never wins.
        if (r.best) expect(isSolution(r.best)).toBe(true);
        if (r.answer !== null) finishedSome++;
        // Below a whole solution's length nothing can finish, and no answer is made up.
        if (contextLength < 90) expect(r.answer).toBeNull();
      }
      // Where the context holds a solution, the search still finds answers.
      expect(finishedSome).toBeGreaterThan(5);
    });
  }
});
