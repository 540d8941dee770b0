import { countdownMove, STEP, verifyCountdown, type CountdownProblem } from './countdown.js';
import { apply, type CountdownOp } from './countdown-solve.js';

const CORRECTION = /^Check: (\d+)([-+*/])(\d+) is (-?\d+), not (-?\d+)\. Correcting\.$/;

/**
 * Exact step checks of a Countdown solution: one verdict per line, judged from the numbers and
 * the target alone (no reference solution), so they are a deployable process reward, as the
 * final checker is. A line is right when it is a legal move of the search the trace writes:
 * - a step `a op b=c` (with `(numbers left)` in the state format): a and b are among the numbers
 *   left, c is the result and a positive integer, and the numbers written as left are those left;
 * - `back`: a dead end given up; the numbers start again from the problem's;
 * - `Plan:` and a `Check: ... ok` line: commentary;
 * - `Check: a op b is c, not w. Correcting.`: right after the wrong step `a op b=w` whose result
 *   it gives right; it retracts that step (the numbers go back to what they were before it);
 *   anywhere else wrong;
 * - `Answer: N`: the solution up to it passes the checker (every step of the final path legal,
 *   and it reaches the target).
 * A legal step on a path that cannot reach the target is right here: dead ends are part of the
 * search a trace writes (Stream of Search, Gandhi et al. 2024), and `back` is how it leaves them.
 * After a wrong step the numbers left are unknown, so every later line is wrong until a
 * correction or `back`.
 */
export function checkCountdownSteps(problem: CountdownProblem, lines: readonly string[]): boolean[] {
  const start = [...problem.numbers];
  let pool: number[] | null = [...start];
  // The numbers before the last step, for a correction to go back to.
  let beforeLast: number[] | null = null;
  let lastWrong = false;
  let lastLine = '';
  return lines.map((raw, i) => {
    const line = raw.trim();
    const wasWrong = lastWrong;
    const previous = lastLine;
    lastWrong = false;
    lastLine = line;
    if (line === 'back') {
      pool = [...start];
      return true;
    }
    if (line.startsWith('Answer:')) return verifyCountdown(problem, lines.slice(0, i + 1).join('\n')).correct;
    if (line.startsWith('Check:')) {
      if (!/correcting/i.test(line)) return pool !== null;
      if (!wasWrong || !corrects(line, previous)) return false;
      pool = beforeLast;
      return pool !== null;
    }
    if (line === '' || line.startsWith('Plan:')) return pool !== null;
    beforeLast = pool;
    const move = pool === null ? null : countdownMove(pool, line);
    const next = move !== null && 'c' in move ? move.left : null;
    lastWrong = next === null;
    pool = next;
    return next !== null;
  });
}

/** Whether `Check: a op b is c, not w. Correcting.` names the step `a op b=w` and gives its right result. */
function corrects(check: string, step: string): boolean {
  const k = CORRECTION.exec(check);
  const m = STEP.exec(step);
  if (!k || !m) return false;
  const [a, op, b] = [Number(k[1]), k[2] as CountdownOp, Number(k[3])];
  return Number(m[1]) === a && m[2] === op && Number(m[3]) === b && Number(m[4]) === Number(k[5]) && apply(a, op, b) === Number(k[4]);
}
