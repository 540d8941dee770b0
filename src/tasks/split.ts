import type { Problem } from '../core/problem.js';
import { Rng, hashString } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import type { Split } from './task.js';

/**
 * Which split a generated problem belongs to, decided by a hash of its canonical text alone:
 * one problem in ten (hash % 10 == 0) is test, the rest train. The sets of possible train and
 * test problems are therefore disjoint by construction, whatever the seed or the count.
 */
export function splitOf(canonical: string): Split {
  return hashString(`split/${canonical}`) % 10 === 0 ? 'test' : 'train';
}

/** One generated candidate: the canonical text (equal for equivalent problems) and the problem. */
export interface Candidate {
  canonical: string;
  problem: Problem;
}

/**
 * Draws candidates from a stream seeded by (task, split, seed) and keeps the distinct ones that
 * fall in `split` until `count` are collected. Throws when the problem space is too small.
 */
export function collectProblems(
  task: string,
  split: Split,
  count: number,
  seed: number,
  generate: (rng: Rng) => Candidate,
): Problem[] {
  const rng = new Rng(`${task}/${split}/${seed}`);
  const seen = new Set<string>();
  const out: Problem[] = [];
  const maxDraws = 1000 + 200 * count;
  for (let draws = 0; out.length < count; draws++) {
    if (draws >= maxDraws) {
      // A user's choice (a task option or a problem count), not a bug: one line that says what to change.
      throw new UserError(`${task}: found only ${out.length} of ${count} distinct ${split} problems in ${maxDraws} draws; ask for fewer problems (e.g. --train-problems ${out.length}) or widen the task options`);
    }
    const c = generate(rng);
    if (splitOf(c.canonical) !== split || seen.has(c.canonical)) continue;
    seen.add(c.canonical);
    out.push(c.problem);
  }
  return out;
}
