import type { TopLevelSpec } from 'vega-lite';
import { accuracyAxis, cumulative, isControl, isIterationLine, isTrainLine, mean, num, runColor } from './fields.js';
import type { Metric, RunData } from './read-run.js';
import type { Chart } from './svg.js';

/**
 * Train-time scaling: what the search ↔ learning loop buys per iteration (per difficulty level,
 * beside the control arm that searches without learning), and the learner's own curves per step
 * under the metric names TRL and verl log.
 */

export interface IterationPoint {
  run: string;
  family: string;
  level: string;
  iteration: number;
  accuracy: number;
  arm: 'loop' | 'control';
}

/** `eval/greedy/d3` → greedy, d3; `eval/greedy_accuracy` → greedy, all; `eval/pass@8/d1` → pass@8, d1. */
export function evalKey(key: string): { family: string; level: string } | null {
  const perLevel = /^eval\/([^/]+)\/(.+)$/.exec(key);
  if (perLevel) return { family: perLevel[1]!, level: perLevel[2]! };
  const overall = /^eval\/(.+?)_accuracy$/.exec(key) ?? /^eval\/(accuracy)$/.exec(key);
  if (overall) return { family: overall[1] === 'accuracy' ? 'greedy' : overall[1]!, level: 'all' };
  return null;
}

export function iterationPoints(runs: RunData[]): IterationPoint[] {
  const out: IterationPoint[] = [];
  for (const run of runs) {
    for (const m of run.metrics) {
      const iteration = num(m.iteration);
      if (!isIterationLine(m) || iteration === undefined) continue;
      for (const [k, v] of Object.entries(m)) {
        const key = evalKey(k);
        const accuracy = num(v);
        if (key && accuracy !== undefined) out.push({ run: run.name, ...key, iteration, accuracy, arm: isControl(m) ? 'control' : 'loop' });
      }
    }
  }
  return out;
}

/** The x axis of the per-iteration charts. */
const iterationAxis = { field: 'iteration', type: 'quantitative', title: 'loop iteration', axis: { tickMinStep: 1, format: 'd' } } as const;

const familyOrder = (f: string): string => (f === 'greedy' ? '0' : f === 'search' ? '1' : `2${f.padStart(12, ' ')}`);
const levelSort = (a: string, b: string): number => (a === 'all' ? -1 : b === 'all' ? 1 : a.localeCompare(b, 'en', { numeric: true }));

export function iterationCharts(runs: RunData[]): Chart[] {
  const points = iterationPoints(runs);
  const families = [...new Set(points.map((p) => p.family))].sort((a, b) => familyOrder(a).localeCompare(familyOrder(b)));
  return families.map((family) => {
    const values = points.filter((p) => p.family === family);
    const levels = [...new Set(values.map((p) => p.level))].sort(levelSort);
    const spec: TopLevelSpec = {
      data: { values },
      facet: { field: 'level', type: 'nominal', title: 'difficulty level', sort: levels },
      columns: Math.min(4, levels.length),
      spec: {
        width: 220,
        height: 170,
        mark: { type: 'line', point: true },
        encoding: {
          x: iterationAxis,
          y: accuracyAxis(),
          color: runColor(runs),
          strokeDash: { field: 'arm', type: 'nominal', title: 'arm', scale: { domain: ['loop', 'control'], range: [[1, 0], [5, 3]] } },
          detail: { field: 'arm' },
        },
      },
    };
    return {
      id: `iteration-${family.replace(/[^a-z0-9]+/gi, '-')}`,
      title: `Accuracy per loop iteration: ${family}`,
      caption: `Held-out ${family} accuracy after each iteration of search and learning, one panel per difficulty level ("all" is the whole set). Dashed: the control arm, which runs the same search without learning from it.`,
      spec,
    };
  });
}

/**
 * What each round's training-time search gave learning: the share of the round's problems that
 * kept a solution (`data/problems_solved`), and of those that kept none, the share stuck on a
 * step no right prefix gets right (`data/problems_stuck`, src/learn/stuck.ts): problems that
 * more step-level search would not have solved.
 */
export function trainDataChart(runs: RunData[]): Chart | null {
  const measures = { 'data/problems_solved': 'solved', 'data/problems_stuck': 'stuck' } as const;
  const values: { run: string; iteration: number; share: number; measure: string }[] = [];
  for (const run of runs) {
    for (const m of run.metrics) {
      const iteration = num(m.iteration);
      if (!isIterationLine(m) || isControl(m) || iteration === undefined) continue;
      for (const [key, measure] of Object.entries(measures)) {
        const share = num(m[key]);
        if (share !== undefined) values.push({ run: run.name, iteration, share, measure });
      }
    }
  }
  if (values.length === 0) return null;
  return {
    id: 'train-data',
    title: 'Training data per round: problems solved and stuck',
    caption: "Share of each round's training problems for which search kept a solution (solid), and share that kept none and are stuck: a step that no trajectory with a right prefix wrote right, so more step-level search would not have solved them (dashed; tasks with exact step checks).",
    spec: {
      width: 520,
      height: 220,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: iterationAxis,
        y: { field: 'share', type: 'quantitative', title: "share of the round's problems", scale: { domain: [0, 1] }, axis: { format: '.0%' } },
        color: runColor(runs),
        strokeDash: { field: 'measure', type: 'nominal', title: 'problems', scale: { domain: ['solved', 'stuck'], range: [[1, 0], [5, 3]] } },
        detail: { field: 'measure' },
      },
    },
  };
}

/** Accuracy against the tokens the loop has spent (searched + trained), log scale. */
export function trainComputeChart(runs: RunData[]): Chart | null {
  const values: { run: string; arm: string; tokens: number; accuracy: number; iteration: number }[] = [];
  for (const run of runs) {
    for (const arm of ['loop', 'control'] as const) {
      const lines = run.metrics.filter((m) => isIterationLine(m) && (isControl(m) ? 'control' : 'loop') === arm);
      const searched = cumulative(lines.map((m) => num(m['tokens/searched']) ?? 0));
      const trained = cumulative(lines.map((m) => num(m['tokens/trained']) ?? 0));
      lines.forEach((m, i) => {
        const tokens = searched[i]! + trained[i]!;
        const accuracy = overallAccuracy(m);
        if (tokens > 0 && accuracy !== undefined) values.push({ run: run.name, arm, tokens, accuracy, iteration: num(m.iteration) ?? i });
      });
    }
  }
  if (values.length === 0) return null;
  return {
    id: 'train-compute',
    title: 'Train-time scaling: accuracy against loop compute',
    caption: 'Held-out accuracy (greedy where logged, else search) against the tokens the loop has generated in search plus the tokens it has trained on, summed over iterations (log scale). Dashed: the control arm.',
    spec: {
      width: 520,
      height: 280,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'tokens', type: 'quantitative', title: 'tokens searched + trained (cumulative, log scale)', scale: { type: 'log' } },
        y: accuracyAxis(),
        color: runColor(runs),
        strokeDash: { field: 'arm', type: 'nominal', title: 'arm', scale: { domain: ['loop', 'control'], range: [[1, 0], [5, 3]] } },
        order: { field: 'iteration', type: 'quantitative' },
      },
    },
  };
}

function overallAccuracy(m: Metric): number | undefined {
  const direct = num(m['eval/greedy_accuracy']) ?? num(m['eval/accuracy']);
  if (direct !== undefined) return direct;
  const levels = Object.keys(m).filter((k) => k.startsWith('eval/greedy/')).map((k) => num(m[k])).filter((v): v is number => v !== undefined);
  return levels.length ? mean(levels) : num(m['eval/search_accuracy']);
}

/** Fields of a learner line that are bookkeeping, not curves. */
const notCurves = new Set(['time', 'event', 'step', 'iteration', 'epoch', 'control', 'arm', 'elapsed_ms', 'wall_ms']);
/** The curves people look at first, in this order (TRL and verl names, `train/` prefix dropped). */
const preferred = ['loss', 'reward', 'kl', 'entropy', 'completions/mean_length', 'grad_norm', 'lr', 'learning_rate', 'reward_std', 'clip_ratio', 'rewards/chosen', 'rewards/margins', 'rewards/accuracies'];
const MAX_CURVES = 12;
const MAX_POINTS = 400;

export interface CurvePoint {
  run: string;
  arm: 'loop' | 'control';
  metric: string;
  step: number;
  value: number;
}

export function curvePoints(runs: RunData[], phase: (m: Metric) => boolean): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const run of runs) {
    for (const arm of ['loop', 'control'] as const) {
      const lines = run.metrics.filter((m) => isTrainLine(m) && phase(m) && (isControl(m) ? 'control' : 'loop') === arm);
      out.push(...armCurves(run.name, arm, lines));
    }
  }
  return out;
}

function armCurves(run: string, arm: 'loop' | 'control', lines: Metric[]): CurvePoint[] {
  const steps = lines.map((m) => num(m.step));
  // Steps restart each loop iteration; then the learner's steps are numbered in file order.
  const increasing = steps.every((s, i) => s !== undefined && (i === 0 || s > steps[i - 1]!));
  const byMetric = new Map<string, { step: number; value: number }[]>();
  lines.forEach((m, i) => {
    for (const [k, v] of Object.entries(m)) {
      const value = num(v);
      if (value === undefined || notCurves.has(k) || /^(eval|prm|tokens)\//.test(k)) continue;
      const metric = k.replace(/^train\//, '');
      const list = byMetric.get(metric) ?? [];
      list.push({ step: increasing ? steps[i]! : i + 1, value });
      byMetric.set(metric, list);
    }
  });
  return [...byMetric].flatMap(([metric, list]) => downsample(list).map((p) => ({ run, arm, metric, ...p })));
}

/** Bucket means, so a long run draws a few hundred points rather than every step. */
function downsample(list: { step: number; value: number }[]): { step: number; value: number }[] {
  if (list.length <= MAX_POINTS) return list;
  const size = Math.ceil(list.length / MAX_POINTS);
  const out: { step: number; value: number }[] = [];
  for (let i = 0; i < list.length; i += size) {
    const b = list.slice(i, i + size);
    out.push({ step: b[b.length - 1]!.step, value: mean(b.map((p) => p.value)) });
  }
  return out;
}

/** Learner curves, one figure per phase: trainers run alone (policy initialization, train-lm) and the loop's learner. */
export function trainingCurvesCharts(runs: RunData[]): Chart[] {
  const phases = [
    { id: 'training-curves', title: 'Training curves: policy initialization', phase: (m: Metric) => m.event !== 'train', what: 'Trainer metrics per step' },
    { id: 'learner-curves', title: 'Training curves: the learner in the loop', phase: (m: Metric) => m.event === 'train', what: 'Metrics of the loop\'s learner (TRL/verl names) per step, all iterations in order' },
  ];
  return phases.flatMap(({ id, title, phase, what }) => {
    const c = curvesChart(runs, curvePoints(runs, phase), id, title, what);
    return c ? [c] : [];
  });
}

function curvesChart(runs: RunData[], all: CurvePoint[], id: string, title: string, what: string): Chart | null {
  const rank = (m: string): number => (preferred.includes(m) ? preferred.indexOf(m) : preferred.length);
  const metrics = [...new Set(all.map((p) => p.metric))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, MAX_CURVES);
  if (metrics.length === 0) return null;
  const values = all.filter((p) => metrics.includes(p.metric));
  const control = values.some((p) => p.arm === 'control');
  return {
    id,
    title,
    caption: `${what} (${metrics.join(', ')}), each panel with its own y scale${control ? '; dashed: the control arm' : ''}. Long runs are drawn as bucket means of at most ${MAX_POINTS} points; where steps restart each loop iteration, steps are numbered in the order they were logged.`,
    spec: {
      data: { values },
      facet: { field: 'metric', type: 'nominal', title: null, sort: metrics },
      columns: 3,
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 230,
        height: 140,
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'learner step' },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          color: runColor(runs),
          ...(control ? { strokeDash: { field: 'arm', type: 'nominal' as const, title: 'arm', scale: { domain: ['loop', 'control'], range: [[1, 0], [4, 2]] } } } : {}),
        },
      },
    },
  };
}
