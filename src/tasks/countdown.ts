/**
 * Countdown: reach a target from a few numbers with + - * /, each number used at most once and
 * every intermediate result a positive integer. Traces are written as a search, after Stream of
 * Search (Gandhi et al. 2024): with the `alternatives` behaviour the trace first follows paths that
 * use up the numbers without reaching the target, marks each dead end with a `back` line (which
 * returns to the starting numbers), and then writes a path that reaches the target. By default the
 * dead ends are the failed branches of a heuristic depth-first search (countdown-search.ts).
 *
 *   Q: make 24 from 3 7 12 5        prompt
 *   12*5=60                         a failed attempt (all numbers used, 24 not reached)
 *   60-7=53
 *   53+3=56
 *   back                            dead end: start again from 3 7 12 5
 *   Plan: 24=4*6                    (plan) the last step of the path about to be tried
 *   7-3=4
 *   12/2=6 ...                      steps `a op b=c`
 *   Check: (7-3)*(12/2)=24 ok       (check) the path as one expression
 *   Answer: 24                      final line: the target
 *
 * With `format: 'state'` each step also writes the numbers left after it, as Stream of Search's
 * "Current State" does: `7-3=4 (12 5 4)`. The model then reads the available numbers off the
 * previous line instead of recomputing them from the whole trace.
 *
 * The verifier reads the path after the last `back` (dropping a step that a `Check: ... Correcting.`
 * line retracts) and checks every step's arithmetic and number use (and a written state against
 * the numbers really left), not only the final value. It needs no gold answer: the numbers and the
 * target are in the prompt, so as a reward it is a deployable checker (like code execution for
 * rStar-Math), not an oracle.
 */
import type { Problem } from '../core/problem.js';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { lastAnswerLine } from './answer.js';
import { checkKeys, intOption } from './config.js';
import { dfsSearch, countdownSearches, type CountdownSearch } from './countdown-search.js';
import { checkCountdownSteps } from './countdown-steps.js';
import { after, apply, formatStep, moves, solveCountdown, toExpression, type CountdownOp, type CountdownStep } from './countdown-solve.js';
import { splitOf } from './split.js';
import type { Behaviours, BuiltinTask, Split, VerifyResult } from './task.js';

/** How a step line is written: `plain` `a op b=c`, or `state` `a op b=c (numbers left)`. */
export type CountdownFormat = 'plain' | 'state';
export const countdownFormats: readonly CountdownFormat[] = ['plain', 'state'];

export interface CountdownConfig {
  /**
   * How many numbers are given (2-6). Default 3: the built-in demo model learns 3-number puzzles
   * in minutes on a laptop CPU, while 4-number ones stayed near 0% greedy after 800 steps
   * (issue 8). Pass `numbers=4` for Stream of Search's setting (Gandhi et al. 2024).
   */
  numbers: number;
  /** Numbers are drawn from 1..maxNumber. Default 25. */
  maxNumber: number;
  /** Targets lie in [minTarget, maxTarget]. Defaults 10 and 100. */
  minTarget: number;
  maxTarget: number;
  /**
   * Budget for prompt plus trace in characters (the built-in model's context is 256): failed
   * attempts are dropped, oldest first, until the text fits. Default 230.
   */
  maxChars: number;
  /** Step format of the traces (see the file comment). Default 'state' (measured: see the README section of issue 8). */
  format: CountdownFormat;
  /**
   * Which dead ends a search trace shows (countdown-search.ts): `dfs`, the failed branches of a
   * heuristic depth-first search that ends at the solution (Stream of Search, Gandhi et al. 2024),
   * or `random`, up to two random paths unrelated to the solution. Default 'dfs' (issue 8).
   */
  search: CountdownSearch;
}

export const defaultCountdownConfig = {
  numbers: 3,
  maxNumber: 25,
  minTarget: 10,
  maxTarget: 100,
  maxChars: 230,
  format: 'state' as CountdownFormat,
  search: 'dfs' as CountdownSearch,
} satisfies CountdownConfig;

/**
 * Default behaviour rates: every trace shows its search (Stream of Search trains on search traces
 * only), and a closing Check line 30% of the time (the self-verdict reward reads it). No `plan`:
 * a plan line written after dead ends names the last step before the search has found it. No
 * `correct`: its deliberately wrong step trains the small model on wrong arithmetic, the failure
 * that dominated in issue 8; the search's own dead ends teach backing up instead.
 */
export const defaultCountdownBehaviours: Behaviours = { plan: 0, check: 0.3, correct: 0, alternatives: 1 };

/** Every character a prompt or trace of this task can contain (checked by the tests). */
export const countdownAlphabet = '\n ()*+,-./0123456789:=ACPQabcefghiklmnorstw';

/** Most failed attempts a `random` search trace shows (each one with probability `alternatives`). */
const maxDeadEnds = 2;

export function resolveCountdownConfig(options: Record<string, unknown> = {}): CountdownConfig {
  checkKeys('countdown', options, Object.keys(defaultCountdownConfig));
  const d = defaultCountdownConfig;
  const numbers = intOption('countdown', 'numbers', options.numbers, d.numbers, 2, 6);
  const maxNumber = intOption('countdown', 'maxNumber', options.maxNumber, d.maxNumber, 2, 1000);
  const minTarget = intOption('countdown', 'minTarget', options.minTarget, d.minTarget, 1, 1_000_000);
  const maxTarget = intOption('countdown', 'maxTarget', options.maxTarget, Math.max(minTarget, d.maxTarget), minTarget, 1_000_000);
  const maxChars = intOption('countdown', 'maxChars', options.maxChars, d.maxChars, 16, 1_000_000);
  const format = options.format ?? d.format;
  if (!countdownFormats.includes(format as CountdownFormat)) {
    throw new Error(`countdown: option format must be one of ${countdownFormats.join(', ')}, got ${JSON.stringify(options.format)}`);
  }
  const search = options.search ?? d.search;
  if (!countdownSearches.includes(search as CountdownSearch)) {
    throw new Error(`countdown: option search must be one of ${countdownSearches.join(', ')}, got ${JSON.stringify(options.search)}`);
  }
  return { numbers, maxNumber, minTarget, maxTarget, maxChars, format: format as CountdownFormat, search: search as CountdownSearch };
}

export interface CountdownProblem {
  numbers: number[];
  target: number;
}

/**
 * The numbers and target, read from the prompt text (what the policy sees), else from meta.
 * Never from `problem.answer`: the checker needs no gold answer.
 */
export function readCountdown(problem: Problem): CountdownProblem {
  const m = /^make (\d+) from ([\d ]+)$/.exec(problem.prompt.trim());
  if (m) return { numbers: m[2]!.trim().split(/\s+/).map(Number), target: Number(m[1]) };
  const meta = problem.meta as Partial<CountdownProblem> | undefined;
  if (meta && Array.isArray(meta.numbers) && typeof meta.target === 'number') return { numbers: meta.numbers, target: meta.target };
  throw new Error(`countdown: cannot read problem "${problem.prompt}"`);
}

/** A step line in the given format: `a op b=c`, or with `state` the numbers left after it. */
export function stepLine(s: CountdownStep, left: readonly number[], format: CountdownFormat, c: number = s.c): string {
  return format === 'state' ? `${formatStep(s, c)} (${left.join(' ')})` : formatStep(s, c);
}

/** Step lines of a path from the start, with the numbers left after each. */
function pathLines(numbers: readonly number[], steps: readonly CountdownStep[], format: CountdownFormat): string[] {
  let pool = [...numbers];
  return steps.map((s) => {
    pool = remove(pool, s);
    return stepLine(s, pool, format);
  });
}

/** The multiset after step s: a and b taken out, c appended (as `after` does by index). */
function remove(pool: readonly number[], s: CountdownStep): number[] {
  const out = [...pool];
  for (const x of [s.a, s.b]) out.splice(out.indexOf(x), 1);
  return [...out, s.c];
}

/** A random expression over all the numbers; its value is the target when it lands in range. */
function generate(rng: Rng, config: CountdownConfig) {
  for (let tries = 0; ; tries++) {
    if (tries === 100_000) throw new Error(`countdown: no target in [${config.minTarget}, ${config.maxTarget}] from ${config.numbers} numbers up to ${config.maxNumber}; widen the config`);
    const numbers = Array.from({ length: config.numbers }, () => rng.int(1, config.maxNumber));
    let pool = [...numbers];
    while (pool.length > 1) {
      const { i, j, step } = rng.choice(moves(pool));
      pool = after(pool, i, j, step.c);
    }
    const target = pool[0]!;
    if (target < config.minTarget || target > config.maxTarget || numbers.includes(target)) continue;
    const canonical = `${[...numbers].sort((a, b) => a - b).join(' ')}>${target}`;
    const prompt = `make ${target} from ${numbers.join(' ')}`;
    return { canonical, problem: { id: `countdown-${numbers.join('_')}-${target}`, prompt, answer: String(target), meta: { numbers, target } } };
  }
}

/** Draws in a row without a new problem after which the split counts as exhausted. */
const patience = 20_000;

/**
 * `count` problems of a split, drawn as split.ts's collectProblems draws them (same stream, same
 * problems). Small settings have few distinct puzzles (3 numbers from 1-25 with targets 10-100:
 * about 17,700 train puzzles), fewer than `init`'s 20,000 training problems; once `patience`
 * draws in a row bring nothing new, the train split repeats its puzzles in order (each repeat
 * gets a trace of its own: other dead ends and shortest path). The test split never repeats: it
 * throws instead.
 */
function collectCountdown(split: Split, count: number, seed: number, config: CountdownConfig): Problem[] {
  const rng = new Rng(`countdown/${split}/${seed}`);
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (let dry = 0; out.length < count && dry < patience; dry++) {
    const c = generate(rng, config);
    if (splitOf(c.canonical) !== split || seen.has(c.canonical)) continue;
    seen.add(c.canonical);
    out.push(c.problem);
    dry = -1;
  }
  const distinct = out.length;
  if (distinct < count && (split === 'test' || distinct === 0)) {
    throw new UserError(`countdown: found only ${distinct} of ${count} distinct ${split} problems (${config.numbers} numbers up to ${config.maxNumber}, targets ${config.minTarget}-${config.maxTarget}); ask for fewer or widen the task config`);
  }
  for (let i = 0; out.length < count; i++) out.push(out[i % distinct]!);
  return out;
}

/** A path from the start that uses every number and never produces the target, or null. */
function deadEnd(numbers: readonly number[], target: number, rng: Rng): CountdownStep[] | null {
  for (let attempt = 0; attempt < 20; attempt++) {
    let pool = [...numbers];
    const steps: CountdownStep[] = [];
    while (pool.length > 1) {
      const ms = moves(pool);
      if (ms.length === 0) break;
      const { i, j, step } = rng.choice(ms);
      steps.push(step);
      pool = after(pool, i, j, step.c);
    }
    if (steps.length > 0 && !steps.some((s) => s.c === target)) return steps;
  }
  return null;
}

/** Writes the search trace (the solution text after the prompt). `maxChars` bounds prompt + trace. */
export function countdownTrace(problem: Problem, rng: Rng, behaviours: Behaviours, maxChars = defaultCountdownConfig.maxChars, format: CountdownFormat = defaultCountdownConfig.format, search: CountdownSearch = defaultCountdownConfig.search): string {
  const { numbers, target } = readCountdown(problem);
  const found = search === 'dfs' ? dfsSearch(numbers, target, rng) : null;
  const path = found ? found.path : solveCountdown(numbers, target, rng);
  if (path === null) throw new Error(`countdown: ${problem.prompt} has no solution`);
  // Draw every random choice first, in a fixed order, then assemble.
  const deadEnds: string[][] = [];
  if (found) {
    if (rng.bernoulli(behaviours.alternatives)) deadEnds.push(...found.deadEnds.map((steps) => [...pathLines(numbers, steps, format), 'back']));
  } else {
    for (let k = 0; k < maxDeadEnds && rng.bernoulli(behaviours.alternatives); k++) {
      const steps = deadEnd(numbers, target, rng);
      if (steps) deadEnds.push([...pathLines(numbers, steps, format), 'back']);
    }
  }
  const last = path[path.length - 1];
  const plan = rng.bernoulli(behaviours.plan) && last ? [`Plan: ${target}=${last.a}${last.op}${last.b}`] : [];
  const mistakeAt = path.length > 0 && rng.bernoulli(behaviours.correct) ? rng.int(0, path.length - 1) : -1;
  const success: string[] = [];
  let pool = [...numbers];
  path.forEach((s, k) => {
    const before = pool;
    pool = remove(pool, s);
    if (k === mistakeAt) {
      const wrong = s.c > 1 && rng.bernoulli(0.5) ? s.c - 1 : s.c + 1;
      success.push(stepLine(s, remove(before, { ...s, c: wrong }), format, wrong), `Check: ${s.a}${s.op}${s.b} is ${s.c}, not ${wrong}. Correcting.`);
    }
    success.push(stepLine(s, pool, format));
  });
  const check = rng.bernoulli(behaviours.check) ? [`Check: ${toExpression(numbers, path)}=${target} ok`] : [];
  const promptLength = `Q: ${problem.prompt}\n`.length;
  const assemble = () => [...deadEnds.flat(), ...plan, ...success, ...check, `Answer: ${target}`].join('\n');
  let text = assemble();
  while (deadEnds.length > 0 && promptLength + text.length > maxChars) {
    deadEnds.shift();
    text = assemble();
  }
  return text;
}

/** `a op b=c`, optionally followed by the numbers left: `(n n ...)`. */
export const STEP = /^(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(-?\d+)(?:\s*\(([\d ]*)\))?$/;

const sameMultiset = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && [...a].sort((x, y) => x - y).join(' ') === [...b].sort((x, y) => x - y).join(' ');

/**
 * One step line played from the numbers in `pool`: the numbers left after it (and its result),
 * or why it is no legal move: not a step, a number not in what is left (`missing`, with the
 * numbers left once the step's other number is taken), a result that is wrong or not a positive integer, or written numbers left that are not those left. The verifier
 * and the step checks (countdown-steps.ts) judge moves by this one rule.
 */
export function countdownMove(pool: readonly number[], line: string): { left: number[]; c: number } | { missing: number; left: number[] } | { reason: string } {
  const m = STEP.exec(line);
  if (!m) return { reason: 'not a step of the form a op b=c' };
  const [a, op, b, c] = [Number(m[1]), m[2] as CountdownOp, Number(m[3]), Number(m[4])];
  const left = [...pool];
  for (const x of [a, b]) {
    const at = left.indexOf(x);
    if (at < 0) return { missing: x, left };
    left.splice(at, 1);
  }
  const value = apply(a, op, b);
  if (value === null) {
    const exact = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
    return { reason: `${a}${op}${b} ${Number.isInteger(exact) ? `is ${exact}, not a positive integer` : 'is not an integer'}` };
  }
  if (value !== c) return { reason: `${a}${op}${b} is ${value}, not ${c}` };
  left.push(c);
  if (m[5] !== undefined) {
    const written = m[5].trim() === '' ? [] : m[5].trim().split(/\s+/).map(Number);
    if (!sameMultiset(written, left)) return { reason: `numbers left are ${left.join(' ')}, not ${written.join(' ') || 'none'}` };
  }
  return { left, c };
}

/**
 * Checks the final path of a solution: the lines after the last `back` and before the last
 * `Answer:` line. `Plan:` and `Check:` lines are commentary, except that a `Check:` line saying
 * "Correcting" retracts the step before it. Every other non-blank line must be a step `a op b=c`.
 */
export function verifyCountdown({ numbers, target }: CountdownProblem, solution: string): VerifyResult {
  const extracted = lastAnswerLine(solution);
  if (extracted === null) return { correct: false, extracted, reason: 'no "Answer:" line' };
  const lines = solution.slice(0, solution.lastIndexOf('Answer:')).split('\n').map((l) => l.trim());
  const start = lines.lastIndexOf('back') + 1;
  const path: string[] = [];
  for (const line of lines.slice(start)) {
    if (line === '' || line.startsWith('Plan:')) continue;
    if (line.startsWith('Check:')) {
      if (/correcting/i.test(line)) path.pop();
      continue;
    }
    path.push(line);
  }
  let pool = [...numbers];
  const seen = new Set(numbers);
  let reached: number | null = null;
  for (const [k, line] of path.entries()) {
    const where = `step ${k + 1} "${line}"`;
    const move = countdownMove(pool, line);
    if ('reason' in move) return { correct: false, extracted, reason: `${where}: ${move.reason}` };
    if ('missing' in move) {
      const used = seen.has(move.missing) ? 'already used' : 'not available';
      return { correct: false, extracted, reason: `${where}: ${move.missing} is ${used} (left: ${move.left.join(' ') || 'nothing'})` };
    }
    pool = move.left;
    seen.add(move.c);
    reached = move.c;
  }
  if (!/^-?\d+$/.test(extracted)) return { correct: false, extracted, reason: `answer "${extracted}" is not an integer` };
  if (Number(extracted) !== target) return { correct: false, extracted, reason: `answer ${extracted} is not the target ${target}` };
  if (reached === null && !numbers.includes(target)) return { correct: false, extracted, reason: `no steps reach ${target}` };
  if (reached !== null && reached !== target) return { correct: false, extracted, reason: `the last step reaches ${reached}, not ${target}` };
  return { correct: true, extracted, reason: 'every step valid; reaches the target' };
}

/** The countdown task (defaults: 3 numbers from 1-25, targets 10-100, prompt + trace within 230 characters). */
export function countdownTask(options: Partial<CountdownConfig> | Record<string, unknown> = {}): BuiltinTask & { config: CountdownConfig } {
  const config = resolveCountdownConfig(options);
  return {
    name: 'countdown',
    config,
    stepDelimiter: '\n',
    alphabet: countdownAlphabet,
    defaultBehaviours: defaultCountdownBehaviours,
    problems: (split: Split, count: number, seed: number) => collectCountdown(split, count, seed, config),
    formatPrompt: (problem) => `Q: ${problem.prompt}\n`,
    verify: (problem, solution) => verifyCountdown(readCountdown(problem), solution),
    checkSteps: (problem, steps) => checkCountdownSteps(readCountdown(problem), steps),
    trace: (problem, rng, behaviours) => countdownTrace(problem, rng, behaviours, config.maxChars, config.format, config.search),
  };
}
