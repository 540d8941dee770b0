import { isControl, isIterationLine, mean, num, runColor } from './fields.js';
import type { EvalRecord, Metric, RunData } from './read-run.js';
import type { Chart } from './svg.js';
import { evalRowsOf, isOracle } from './test-time.js';

/**
 * The ablation ladder (the seed's first check): each rung adds one ingredient of the roadmap and
 * should buy accuracy, at a cost in tokens shown beside it. A run logs `event: "ablation"` lines
 * (`rung`, `accuracy`, `tokens`) to state its rungs outright; otherwise they are read from what
 * the run holds: eval rows for the test-time rungs, loop iterations for the learning rungs.
 */

export const rungNames = [
  'greedy after initialization',
  '+ test-time search, deployable reward',
  '+ PRM guidance',
  '+ one round of learning',
  '+ the whole loop',
] as const;

export interface Rung {
  run: string;
  rung: string;
  order: number;
  accuracy: number;
  tokens?: number;
  /** Where the number comes from, e.g. "eval: majority@16". */
  source: string;
}

/** Learned or judged rewards (PRM, ORM, Bradley–Terry, LLM judge), as opposed to votes and checkers. */
const learnedReward = /prm|orm|bt|bradley|judge|learned/i;

function bestRow(rows: EvalRecord[]): EvalRecord | undefined {
  return rows.reduce<EvalRecord | undefined>((b, r) => (!b || r.accuracy > b.accuracy || (r.accuracy === b.accuracy && r.output_tokens < b.output_tokens) ? r : b), undefined);
}

/** Accuracy of a loop iteration with search (what the ladder compares), else greedy. */
function iterationAccuracy(m: Metric): { accuracy: number; what: string } | undefined {
  const search = num(m['eval/search_accuracy']);
  if (search !== undefined) return { accuracy: search, what: 'search' };
  return greedyAccuracy(m);
}

function greedyAccuracy(m: Metric): { accuracy: number; what: string } | undefined {
  const greedy = num(m['eval/greedy_accuracy']);
  if (greedy !== undefined) return { accuracy: greedy, what: 'greedy' };
  const levels = Object.keys(m).filter((k) => k.startsWith('eval/greedy/')).map((k) => num(m[k])).filter((v): v is number => v !== undefined);
  return levels.length ? { accuracy: mean(levels), what: 'greedy, mean over levels' } : undefined;
}

const iterTokens = (m: Metric): number | undefined => num(m['eval/output_tokens']) ?? num(m['eval/search_tokens']);

export function ablationRungs(run: RunData): Rung[] {
  const stated = run.metrics.filter((m) => m.event === 'ablation' && typeof m.rung === 'string' && num(m.accuracy) !== undefined);
  if (stated.length > 0) {
    return stated.map((m, i) => {
      const known = rungNames.indexOf(m.rung as (typeof rungNames)[number]);
      const tokens = num(m.tokens);
      return { run: run.name, rung: m.rung as string, order: known >= 0 ? known : rungNames.length + i, accuracy: num(m.accuracy)!, ...(tokens !== undefined ? { tokens } : {}), source: 'logged' };
    });
  }
  const out: Rung[] = [];
  const add = (order: number, accuracy: number, tokens: number | undefined, source: string): void => {
    out.push({ run: run.name, rung: rungNames[order]!, order, accuracy, ...(tokens !== undefined ? { tokens } : {}), source });
  };
  const rows = evalRowsOf(run);
  const greedy = rows.find((r) => r.algo === 'greedy');
  const initLine = run.metrics.find((m) => !isIterationLine(m) && num(m['eval/greedy_accuracy']) !== undefined);
  // A loop's iteration 0 is evaluated before any learning: greedy and search of the initial policy.
  const iter0 = run.metrics.find((m) => isIterationLine(m) && !isControl(m) && num(m.iteration) === 0);
  const greedy0 = iter0 ? greedyAccuracy(iter0) : undefined;
  if (greedy) add(0, greedy.accuracy, greedy.output_tokens, 'eval: greedy');
  else if (initLine) add(0, num(initLine['eval/greedy_accuracy'])!, num(initLine['eval/output_tokens']), 'metrics: eval/greedy_accuracy');
  else if (greedy0) add(0, greedy0.accuracy, undefined, `loop iteration 0 (${greedy0.what})`);
  const deployable = rows.filter((r) => r.algo !== 'greedy' && !isOracle(r));
  const plain = bestRow(deployable.filter((r) => !learnedReward.test(r.reward ?? '')));
  const search0 = iter0 ? num(iter0['eval/search_accuracy']) : undefined;
  if (plain) add(1, plain.accuracy, plain.output_tokens, `eval: ${plain.algo}@${plain.budget}${plain.reward ? ` (${plain.reward})` : ''}`);
  else if (search0 !== undefined) add(1, search0, iterTokens(iter0!), 'loop iteration 0 (search)');
  const guided = bestRow(deployable.filter((r) => learnedReward.test(r.reward ?? '')));
  if (guided) add(2, guided.accuracy, guided.output_tokens, `eval: ${guided.algo}@${guided.budget} (${guided.reward})`);
  const iters = run.metrics.filter((m) => isIterationLine(m) && !isControl(m) && (num(m.iteration) ?? 0) >= 1 && iterationAccuracy(m));
  if (iters.length > 0) {
    const first = iters.reduce((a, b) => (num(b.iteration)! < num(a.iteration)! ? b : a));
    const last = iters.reduce((a, b) => (num(b.iteration)! >= num(a.iteration)! ? b : a));
    const f = iterationAccuracy(first)!;
    add(3, f.accuracy, iterTokens(first), `loop iteration ${num(first.iteration)} (${f.what})`);
    if (last !== first) {
      const l = iterationAccuracy(last)!;
      add(4, l.accuracy, iterTokens(last), `loop iteration ${num(last.iteration)} (${l.what})`);
    }
  }
  return out;
}

export function ablationChart(runs: RunData[]): Chart | null {
  const values = runs.flatMap(ablationRungs).map((r) => ({ ...r, label: `${(r.accuracy * 100).toFixed(1)}%${r.tokens !== undefined ? ` · ${Math.round(r.tokens)} tok` : ''}` }));
  if (values.length === 0) return null;
  const order = [...new Set([...values].sort((a, b) => a.order - b.order).map((v) => v.rung))];
  const y = { field: 'rung', type: 'nominal' as const, title: null, sort: order, axis: { labelLimit: 300 } };
  return {
    id: 'ablation-ladder',
    title: 'Ablation ladder',
    caption: 'Each rung adds one ingredient: greedy decoding after policy initialization; test-time search with a deployable reward (a vote or a checker that needs no gold answer); guidance by the learned PRM; one round of learning from search; the whole loop. Bars: held-out accuracy; labels: accuracy and output tokens per problem. Missing rungs were not run.',
    spec: {
      width: 460,
      height: { step: 22 * Math.max(1, runs.length) },
      data: { values },
      encoding: { y, yOffset: { field: 'run', type: 'nominal', scale: { domain: runs.map((r) => r.name) } } },
      layer: [
        { mark: { type: 'bar', height: { band: 0.9 } }, encoding: { x: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } }, color: runColor(runs) } },
        { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { x: { field: 'accuracy', type: 'quantitative' }, text: { field: 'label' } } },
      ],
    },
  };
}
