import { isControl, mean, num, runColor } from './fields.js';
import type { RunData, SearchRecord } from './read-run.js';
import type { Chart } from './svg.js';

/**
 * Over-optimization and distribution shift (Gao et al. 2023, "Scaling laws for reward model
 * overoptimization"): the more a search or a learner pushes on a learned reward, the more the
 * reward of what it selects rises; if the verified accuracy of the same selections does not rise
 * with it, the reward is being hacked. Shown per N (test time) and per loop iteration (train
 * time), each as two curves that should move together.
 */

export interface OveroptPoint {
  run: string;
  algo: string;
  x: number;
  quantity: typeof REWARD | typeof ACCURACY;
  value: number;
}

const REWARD = 'learned reward' as const;
const ACCURACY = 'verified accuracy' as const;

/** Mean reward and accuracy of the selected solutions; null where the reward is the exact verifier or absent. */
function selected(results: SearchRecord[]): { reward: number; accuracy: number } | null {
  const pairs = results.flatMap((r) => {
    const score = r.best?.score;
    const correct = r.correct ?? r.best?.correct;
    return score !== undefined && correct !== undefined ? [{ score, correct }] : [];
  });
  if (pairs.length === 0 || pairs.every((p) => p.score === (p.correct ? 1 : 0))) return null;
  return { reward: mean(pairs.map((p) => p.score)), accuracy: mean(pairs.map((p) => (p.correct ? 1 : 0))) };
}

export function overoptPoints(runs: RunData[]): { perN: OveroptPoint[]; perIteration: OveroptPoint[] } {
  const perN: OveroptPoint[] = [];
  const perIteration: OveroptPoint[] = [];
  for (const run of runs) {
    const cells = new Map<string, SearchRecord[]>();
    for (const f of run.searches) {
      if (f.iteration !== undefined) {
        const s = selected(f.results);
        if (s) perIteration.push({ run: run.name, algo: 'loop', x: f.iteration, quantity: REWARD, value: s.reward }, { run: run.name, algo: 'loop', x: f.iteration, quantity: ACCURACY, value: s.accuracy });
        continue;
      }
      for (const r of f.results) {
        if (r.budget === undefined) continue;
        const key = `${r.algo}\u0000${r.budget}`;
        cells.set(key, [...(cells.get(key) ?? []), r]);
      }
    }
    for (const [key, results] of cells) {
      const [algo, budget] = key.split('\u0000') as [string, string];
      const s = selected(results);
      if (s) perN.push({ run: run.name, algo, x: Number(budget), quantity: REWARD, value: s.reward }, { run: run.name, algo, x: Number(budget), quantity: ACCURACY, value: s.accuracy });
    }
    // Loops that log the selected reward instead of saving searches (one source per run, never mixed).
    const fromFiles = perIteration.some((p) => p.run === run.name);
    for (const m of run.metrics) {
      if (fromFiles) break;
      const it = num(m.iteration);
      const reward = num(m['search/selected_reward']) ?? num(m['reward/selected']);
      const acc = num(m['search/selected_accuracy']) ?? num(m['eval/search_accuracy']);
      if (it === undefined || reward === undefined || acc === undefined || isControl(m)) continue;
      perIteration.push({ run: run.name, algo: 'loop', x: it, quantity: REWARD, value: reward }, { run: run.name, algo: 'loop', x: it, quantity: ACCURACY, value: acc });
    }
  }
  return { perN, perIteration };
}

const dash = { field: 'quantity', type: 'nominal' as const, title: 'of the selected solutions', scale: { domain: [REWARD, ACCURACY], range: [[1, 0], [5, 3]] } };

export function overoptCharts(runs: RunData[]): Chart[] {
  const { perN, perIteration } = overoptPoints(runs);
  const charts: Chart[] = [];
  if (perN.length > 0) {
    const algos = [...new Set(perN.map((p) => p.algo))];
    charts.push({
      id: 'overopt-n',
      title: 'Over-optimization against N',
      caption: 'For each search budget N: the mean learned reward of the solutions the search selected (solid) and the fraction of them the verifier accepts (dashed). Curves that part as N grows mean the search is exploiting the reward (Gao et al. 2023).',
      spec: {
        data: { values: perN },
        facet: { field: 'algo', type: 'nominal', title: null },
        columns: Math.min(3, algos.length),
        spec: {
          width: 260,
          height: 200,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: 'budget N (log scale)', scale: { type: 'log' } },
            y: { field: 'value', type: 'quantitative', title: 'mean over problems', scale: { domain: [0, 1] } },
            color: runColor(runs),
            strokeDash: dash,
          },
        },
      },
    });
  }
  if (perIteration.length > 0) {
    charts.push({
      id: 'overopt-iteration',
      title: 'Over-optimization and distribution shift across loop iterations',
      caption: 'Per loop iteration: the learned reward of the solutions search selected on the training problems (solid) against their verified accuracy (dashed). As the policy moves away from the data the reward was trained on, a reward that keeps rising while accuracy stalls is being over-optimized.',
      spec: {
        width: 460,
        height: 240,
        data: { values: perIteration },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'loop iteration', axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'value', type: 'quantitative', title: 'mean over problems', scale: { domain: [0, 1] } },
          color: runColor(runs),
          strokeDash: dash,
        },
      },
    });
  }
  return charts;
}
