import type { TopLevelSpec } from 'vega-lite';
import { mean, num, runColor } from './fields.js';
import type { RunData, SearchRecord } from './read-run.js';
import type { Chart } from './svg.js';

/**
 * How far a learned reward can be trusted. Calibration: of the steps scored p, about a fraction
 * p should be correct (a reliability diagram; the PRM's own held-out step labels when the trainer
 * logged `prm/calibration`, otherwise the outcome scores of saved searches against the
 * verifier). AUC per problem (as in Math-Shepherd and the PRM lessons of Zhang et al. 2025)
 * asks what search needs: does the reward rank a problem's correct solutions above its wrong ones?
 */

export interface CalibrationBin {
  run: string;
  source: string;
  predicted: number;
  observed: number;
  count: number;
}

const BINS = 10;

/** Equal-width bins of predicted probability; empty bins are left out. */
export function calibrationBins(pairs: { score: number; correct: boolean }[]): { predicted: number; observed: number; count: number }[] {
  const bins = Array.from({ length: BINS }, () => ({ p: [] as number[], y: [] as number[] }));
  for (const { score, correct } of pairs) {
    const b = bins[Math.min(BINS - 1, Math.max(0, Math.floor(score * BINS)))]!;
    b.p.push(score);
    b.y.push(correct ? 1 : 0);
  }
  return bins.filter((b) => b.p.length > 0).map((b) => ({ predicted: mean(b.p), observed: mean(b.y), count: b.p.length }));
}

/** Area under the ROC curve by the Mann–Whitney statistic (ties count one half); null without both classes. */
export function auc(pairs: { score: number; correct: boolean }[]): number | null {
  const pos = pairs.filter((p) => p.correct).map((p) => p.score);
  const neg = pairs.filter((p) => !p.correct).map((p) => p.score);
  if (pos.length === 0 || neg.length === 0) return null;
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** Scored, verified trajectories of a run's saved searches, by problem; an exact verifier's scores (0/1 equal to correctness) are left out. */
export function scoredByProblem(run: RunData): Map<string, { score: number; correct: boolean }[]> {
  const out = new Map<string, { score: number; correct: boolean }[]>();
  const all: { score: number; correct: boolean }[] = [];
  const add = (key: string, r: SearchRecord): void => {
    for (const t of r.trajectories) {
      if (t.score === undefined || t.correct === undefined || t.score < 0 || t.score > 1) continue;
      const list = out.get(key) ?? [];
      list.push({ score: t.score, correct: t.correct });
      out.set(key, list);
      all.push(list[list.length - 1]!);
    }
  };
  for (const f of run.searches) for (const r of f.results) add(`${f.file}#${r.problemId}#${r.algo}#${r.budget ?? ''}`, r);
  const isVerifier = all.length > 0 && all.every((p) => p.score === (p.correct ? 1 : 0));
  return isVerifier ? new Map() : out;
}

export function calibrationChart(runs: RunData[]): Chart | null {
  const values: CalibrationBin[] = [];
  for (const run of runs) {
    const logged = [...run.metrics].reverse().find((m) => Array.isArray(m['prm/calibration']));
    const bins = logged ? (logged['prm/calibration'] as unknown[]) : [];
    const good = bins.flatMap((b) => {
      const o = (b ?? {}) as Record<string, unknown>;
      const predicted = num(o.predicted);
      const observed = num(o.observed);
      return predicted !== undefined && observed !== undefined ? [{ predicted, observed, count: num(o.count) ?? 1 }] : [];
    });
    if (good.length > 0) {
      values.push(...good.map((b) => ({ run: run.name, source: 'PRM step labels (logged)', ...b })));
      continue;
    }
    const pairs = [...scoredByProblem(run).values()].flat();
    values.push(...calibrationBins(pairs).map((b) => ({ run: run.name, source: 'outcome of saved searches', ...b })));
  }
  if (values.length === 0) return null;
  const spec: TopLevelSpec = {
    width: 340,
    height: 300,
    layer: [
      {
        data: { values: [{ predicted: 0, observed: 0 }, { predicted: 1, observed: 1 }] },
        mark: { type: 'line', color: '#999', strokeDash: [3, 3], strokeWidth: 1 },
        encoding: { x: { field: 'predicted', type: 'quantitative' }, y: { field: 'observed', type: 'quantitative' } },
      },
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'predicted', type: 'quantitative', title: 'predicted probability correct', scale: { domain: [0, 1] } },
          y: { field: 'observed', type: 'quantitative', title: 'observed fraction correct', scale: { domain: [0, 1] } },
          color: runColor(runs),
          strokeDash: { field: 'source', type: 'nominal', title: 'labels' },
          size: { field: 'count', type: 'quantitative', title: 'count', legend: null },
        },
      },
    ],
  };
  return {
    id: 'prm-calibration',
    title: 'Reward calibration',
    caption: 'Reliability diagram: predicted probability of correctness against the observed fraction correct, in ten bins (point size: how many). The dotted diagonal is perfect calibration; below it the reward is over-confident. Labels come from the PRM trainer\'s held-out step labels when logged, otherwise from the verified outcomes of saved searches.',
    spec,
  };
}

/** Per-problem AUC: logged by the PRM trainer over time, and measured on saved searches. */
export function aucCharts(runs: RunData[]): Chart[] {
  const charts: Chart[] = [];
  const logged: { run: string; metric: string; x: number; value: number }[] = [];
  for (const run of runs) {
    let i = 0;
    for (const m of run.metrics) {
      const keys = Object.keys(m).filter((k) => k.startsWith('prm/') && k.includes('auc') && num(m[k]) !== undefined);
      if (keys.length === 0) continue;
      i++;
      for (const k of keys) logged.push({ run: run.name, metric: k, x: num(m.iteration) ?? num(m.step) ?? i, value: num(m[k])! });
    }
  }
  if (logged.length > 0) {
    charts.push({
      id: 'prm-auc-logged',
      title: 'PRM AUC during training',
      caption: 'AUC of the process reward model on held-out step labels as logged by its trainer: pooled over all problems (prm/auc) and averaged per problem (prm/per_problem_auc), the figure that matters for search, which only compares solutions of the same problem.',
      spec: {
        width: 420,
        height: 240,
        data: { values: logged },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'iteration (or step)', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: 'AUC', scale: { domain: [0, 1] } },
          color: runColor(runs),
          strokeDash: { field: 'metric', type: 'nominal', title: 'metric' },
        },
      },
    });
  }
  const measured: { run: string; auc: number }[] = [];
  for (const run of runs) {
    for (const pairs of scoredByProblem(run).values()) {
      const a = auc(pairs);
      if (a !== null) measured.push({ run: run.name, auc: a });
    }
  }
  if (measured.length > 0) {
    const summary = runs
      .map((r) => ({ r, xs: measured.filter((m) => m.run === r.name).map((m) => m.auc) }))
      .filter((x) => x.xs.length > 0)
      .map(({ r, xs }) => `${r.name}: mean ${mean(xs).toFixed(3)} over ${xs.length} problems`)
      .join('; ');
    charts.push({
      id: 'prm-auc-search',
      title: 'Per-problem AUC on saved searches',
      caption: `For each saved search with both correct and wrong scored solutions: how often the reward scores a correct one above a wrong one (0.5 is chance). ${summary}.`,
      spec: {
        width: 420,
        height: 200,
        data: { values: measured },
        mark: { type: 'bar', opacity: 0.8 },
        encoding: {
          x: { field: 'auc', type: 'quantitative', bin: { extent: [0, 1], step: 0.1 }, title: 'per-problem AUC' },
          y: { aggregate: 'count', type: 'quantitative', title: 'problems', stack: null },
          color: runColor(runs),
        },
      },
    });
  }
  return charts;
}
