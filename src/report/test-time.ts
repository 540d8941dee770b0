import type { TopLevelSpec } from 'vega-lite';
import { accuracyAxis, mean, runColor } from './fields.js';
import type { EvalRecord, RunData } from './read-run.js';
import type { Chart } from './svg.js';

/**
 * Test-time scaling (Snell et al. 2024; search-and-learn): accuracy against measured output
 * tokens per problem, one line per algorithm, compute on a log axis. Rewards that read the gold
 * answer make best-of-N pass@N, an upper bound no deployed system reaches, so those lines are
 * dashed and labelled "oracle pass@N" rather than mixed in with deployable search.
 */

export interface ScalingPoint {
  run: string;
  algo: string;
  series: string;
  /** One line per (run, series). */
  line: string;
  reward: string;
  budget: number;
  tokens: number;
  accuracy: number;
}

/** The verifier of a task with a gold answer is an oracle; Countdown's checker needs none. */
export function isOracle(row: Pick<EvalRecord, 'oracle' | 'reward' | 'algo'>): boolean {
  if (row.oracle !== undefined) return row.oracle;
  // Greedy decoding and plain majority vote never consult the reward they were run beside.
  if (row.algo === 'greedy' || row.algo === 'majority') return false;
  const r = row.reward ?? '';
  return r.startsWith('verifier') && !r.includes('countdown');
}

/** Rows of eval.jsonl, or (a run without one) cells rebuilt from saved searches that carry `budget` and `correct`. */
export function evalRowsOf(run: RunData): EvalRecord[] {
  if (run.evalRows.length > 0) return run.evalRows;
  const cells = new Map<string, { algo: string; budget: number; correct: number[]; tokens: number[] }>();
  for (const f of run.searches) {
    if (f.iteration !== undefined) continue;
    for (const r of f.results) {
      const correct = r.correct ?? r.best?.correct;
      if (r.budget === undefined || correct === undefined) continue;
      const key = `${r.algo}@${r.budget}`;
      const c = cells.get(key) ?? { algo: r.algo, budget: r.budget, correct: [], tokens: [] };
      c.correct.push(correct ? 1 : 0);
      c.tokens.push(r.compute?.outputTokens ?? 0);
      cells.set(key, c);
    }
  }
  return [...cells.values()].map((c) => ({ algo: c.algo, budget: c.budget, accuracy: mean(c.correct), problems: c.correct.length, output_tokens: Math.round(mean(c.tokens)) }));
}

export function scalingPoints(runs: RunData[]): ScalingPoint[] {
  const out: ScalingPoint[] = [];
  for (const run of runs) {
    const rows = evalRowsOf(run);
    const rewards = new Set(rows.map((r) => r.reward ?? ''));
    for (const row of rows) {
      const oracle = isOracle(row);
      let label = oracle ? `oracle pass@N (${row.algo})` : row.algo;
      if (!oracle && rewards.size > 1 && row.reward && row.algo !== 'greedy' && row.algo !== 'majority') label += ` [${row.reward}]`;
      out.push({
        run: run.name,
        algo: row.algo,
        series: label,
        line: `${run.name} · ${label}`,
        reward: oracle ? 'oracle pass@N' : 'deployable',
        budget: row.budget,
        // A log axis cannot show 0; a row that spent nothing is drawn at one token.
        tokens: Math.max(1, row.output_tokens),
        accuracy: row.accuracy,
      });
    }
  }
  return out;
}

export function testTimeChart(runs: RunData[]): Chart | null {
  const values = scalingPoints(runs);
  if (values.length === 0) return null;
  // One run: colour tells algorithms apart. Several: colour is the run (as in every figure) and
  // the point shape the algorithm.
  const many = runs.length > 1;
  const spec: TopLevelSpec = {
    width: 560,
    height: 320,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'output tokens per problem (log scale)', scale: { type: 'log' } },
      y: accuracyAxis(),
      color: many ? runColor(runs) : { field: 'series', type: 'nominal', title: 'algorithm' },
      ...(many ? { shape: { field: 'series', type: 'nominal' as const, title: 'algorithm' }, detail: { field: 'line', type: 'nominal' as const } } : {}),
      strokeDash: { field: 'reward', type: 'nominal', title: 'reward', scale: { domain: ['deployable', 'oracle pass@N'], range: [[1, 0], [6, 4]] } },
      order: { field: 'tokens', type: 'quantitative' },
    },
  };
  return {
    id: 'test-time-scaling',
    title: 'Test-time scaling',
    caption: 'Accuracy against measured output tokens per problem (log scale), one line per algorithm (and per run: colour is the run, point shape the algorithm, when several runs are shown); each point is one budget. Dashed lines use an oracle reward that reads the gold answer (best-of-N with it is pass@N): an upper bound, not a deployable method.',
    spec,
  };
}
