import type { Metric, RunData } from './read-run.js';

/** Small readers shared by the charts: metrics are free-form, so every value is checked. */

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Colour by run, with one shared domain so a run keeps its colour in every figure. */
export function runColor(runs: RunData[]) {
  return { field: 'run', type: 'nominal', title: 'run', scale: { domain: runs.map((r) => r.name), scheme: 'tableau10' } } as const;
}

/** Learner lines: `event: "train"`, or lines with `train/*` fields (policy initialization). */
export function isTrainLine(m: Metric): boolean {
  if (m.event === 'train') return true;
  if (m.event !== undefined && m.event !== 'train') return false;
  return Object.keys(m).some((k) => k.startsWith('train/'));
}

/** Loop iteration summaries: `event: "iteration"`, or any line with an iteration number and eval fields. */
export function isIterationLine(m: Metric): boolean {
  if (m.event === 'iteration') return true;
  return m.event === undefined && num(m.iteration) !== undefined && Object.keys(m).some((k) => k.startsWith('eval/'));
}

/** The control arm of the loop logs `control: true` (or `arm: "control"`). */
export function isControl(m: Metric): boolean {
  return m.control === true || m.arm === 'control';
}

/**
 * Reads a compute counter that may be logged either per iteration or as a running total: a
 * series that never decreases is taken as a total, anything else is summed.
 */
export function cumulative(values: number[]): number[] {
  const monotone = values.every((v, i) => i === 0 || v >= values[i - 1]!);
  if (monotone) return values;
  let s = 0;
  return values.map((v) => (s += v));
}

/** Percent axis for accuracies. */
export function accuracyAxis() {
  return { field: 'accuracy', type: 'quantitative' as const, title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } };
}
