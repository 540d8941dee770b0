import { arithPlan, type ArithProblem } from './arith.js';

const CORRECTION = /^Check: (.+) is (-?\d+), not (-?\d+)\. Correcting\.$/;

/**
 * Exact step checks of an arith solution: one verdict per line, judged against the problem's
 * operands (never against a reference text of the whole solution), so search and learning know
 * the first wrong step (process supervision, Lightman et al. 2023, here without a learned model).
 *
 * A line is right when it is what a correct trace may say next:
 * - `Plan:` the task's plan for the operation, as the first line;
 * - `Swap: b-a, negate` before the columns when the first number is the smaller;
 * - a column or partial-product step: the next expected one (any other is wrong, and the
 *   expected step stays the same, so a later line that gets back on track is right again);
 * - `Check: X is V, not W. Correcting.` right after a wrong step, naming the step it corrects;
 * - `Check: ... ok` after the last column; `Answer: N` with the right N after the last column.
 */
export function checkArithSteps(problem: ArithProblem, lines: readonly string[]): boolean[] {
  const plan = arithPlan(problem);
  let next = 0;
  let swapped = plan.swap === null;
  let afterWrong = false;
  const done = (): boolean => next === plan.steps.length;
  return lines.map((raw, i) => {
    const line = raw.trim();
    const wasWrong = afterWrong;
    afterWrong = false;
    if (line.startsWith('Plan:')) return i === 0 && line === plan.plan;
    if (line.startsWith('Swap:')) {
      const ok = !swapped && next === 0 && line === plan.swap;
      if (ok) swapped = true;
      return ok;
    }
    if (line.startsWith('Answer:')) return swapped && done() && line === plan.answer;
    const corr = CORRECTION.exec(line);
    if (corr) {
      const step = plan.steps[next];
      return wasWrong && step !== undefined && corr[1] === step.expr && Number(corr[2]) === step.value;
    }
    if (line.startsWith('Check:')) return swapped && done() && line === plan.check;
    const step = plan.steps[next];
    if (swapped && step !== undefined && line === step.text) {
      next++;
      return true;
    }
    afterWrong = true;
    return false;
  });
}

/** Index of the first wrong step, or -1 when every step is right. */
export function firstWrongStep(checks: readonly boolean[]): number {
  return checks.indexOf(false);
}
