import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ablationRungs } from './ablation.js';
import { writeFixtureRun } from './fixtures.js';
import { scriptJson } from './html.js';
import { auc, calibrationBins } from './prm.js';
import { readRun, runNames } from './read-run.js';
import { buildReport, writeReport } from './report.js';
import { isOracle, scalingPoints } from './test-time.js';
import { evalKey, iterationPoints } from './train-time.js';
import { fromTrajectories, toViewerTree } from './viewer-data.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'searchlearn-report-'));

describe('readRun', () => {
  it('reads what exists, skips and counts bad lines, never throws', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), '{"command": "loop"');
    writeFileSync(join(dir, 'metrics.jsonl'), '{"time":"t","train/loss":1}\n[1]\nnope\n\n{"time":"t","step":2}\n{"time": "cut');
    writeFileSync(join(dir, 'eval.jsonl'), '{"algo":"greedy","budget":1,"accuracy":0.5,"output_tokens":40}\n{"algo":"x"}\n');
    mkdirSync(join(dir, 'search'));
    writeFileSync(join(dir, 'search', 'iter-2.jsonl'), '{"problemId":"p","algo":"beam","trajectories":[{"text":"a\\nb"}]}\n{"problemId":1}\n');
    const run = readRun(dir, 'r');
    expect(run.config).toBeUndefined();
    expect(run.metrics).toHaveLength(2);
    expect(run.evalRows).toHaveLength(1);
    expect(run.searches).toEqual([{ file: 'search/iter-2.jsonl', iteration: 2, results: [expect.objectContaining({ problemId: 'p' })] }]);
    // Steps default to the text's lines when a writer left them out.
    expect(run.searches[0]!.results[0]!.trajectories[0]!.steps).toEqual(['a', 'b']);
    expect(run.problems.map((p) => `${p.file}:${p.line ?? ''}`)).toEqual(['config.json:', 'metrics.jsonl:2', 'metrics.jsonl:3', 'metrics.jsonl:6', 'eval.jsonl:2', 'search/iter-2.jsonl:2']);
    expect(readRun(join(dir, 'missing'), 'm').problems).toEqual([{ file: '.', reason: 'not a directory' }]);
  });

  it('names runs by directory, with more of the path where two share a name', () => {
    expect(runNames(['/a/x/run', '/a/y/run', '/b/other'])).toEqual(['x/run', 'y/run', 'other']);
    expect(runNames(['/a/run', '/a/run'])).toEqual(['a/run', 'a/run (2)']);
  });
});

describe('chart data', () => {
  it('tells oracle rewards from deployable ones', () => {
    expect(isOracle({ algo: 'best-of-n', reward: 'verifier:arith' })).toBe(true);
    expect(isOracle({ algo: 'best-of-n', reward: 'verifier:countdown' })).toBe(false);
    expect(isOracle({ algo: 'majority', reward: 'verifier:arith' })).toBe(false);
    expect(isOracle({ algo: 'best-of-n', reward: 'verifier:arith', oracle: false })).toBe(false);
    expect(isOracle({ algo: 'best-of-n', reward: 'prm:runs/p' })).toBe(false);
  });

  it('labels oracle lines pass@N and draws a log axis from at least one token', () => {
    const run = readRun(tmp(), 'r');
    run.evalRows = [
      { algo: 'best-of-n', budget: 4, accuracy: 0.9, output_tokens: 100, reward: 'verifier:arith', oracle: true },
      { algo: 'greedy', budget: 1, accuracy: 0.2, output_tokens: 0 },
    ];
    const pts = scalingPoints([run]);
    expect(pts.map((p) => [p.series, p.reward, p.tokens])).toEqual([['oracle pass@N (best-of-n)', 'oracle pass@N', 100], ['greedy', 'deployable', 1]]);
  });

  it('parses per-level eval names and marks the control arm', () => {
    expect(evalKey('eval/greedy/d3')).toEqual({ family: 'greedy', level: 'd3' });
    expect(evalKey('eval/pass@8/d1')).toEqual({ family: 'pass@8', level: 'd1' });
    expect(evalKey('eval/search_accuracy')).toEqual({ family: 'search', level: 'all' });
    expect(evalKey('eval/greedy_accuracy')).toEqual({ family: 'greedy', level: 'all' });
    expect(evalKey('train/loss')).toBeNull();
    const run = readRun(tmp(), 'r');
    run.metrics = [
      { event: 'iteration', iteration: 1, 'eval/greedy/d1': 0.5 },
      { event: 'iteration', iteration: 1, control: true, 'eval/greedy/d1': 0.4 },
      { event: 'train', iteration: 1, loss: 2 },
    ];
    expect(iterationPoints([run]).map((p) => [p.level, p.arm, p.accuracy])).toEqual([['d1', 'loop', 0.5], ['d1', 'control', 0.4]]);
  });

  it('computes AUC and calibration bins', () => {
    expect(auc([{ score: 0.9, correct: true }, { score: 0.1, correct: false }])).toBe(1);
    expect(auc([{ score: 0.5, correct: true }, { score: 0.5, correct: false }, { score: 0.9, correct: false }])).toBe(0.25);
    expect(auc([{ score: 0.5, correct: true }])).toBeNull();
    const bins = calibrationBins([{ score: 0.05, correct: false }, { score: 0.15, correct: true }, { score: 0.95, correct: true }, { score: 1, correct: false }]);
    expect(bins).toEqual([{ predicted: 0.05, observed: 0, count: 1 }, { predicted: 0.15, observed: 1, count: 1 }, { predicted: 0.975, observed: 0.5, count: 2 }]);
  });

  it('builds the ablation ladder from eval rows and loop iterations', () => {
    const run = readRun(writeFixtureRun(join(tmp(), 'run'), { problems: 4, trainSteps: 5, treeNodes: 20 }), 'r');
    const rungs = ablationRungs(run);
    expect(rungs.map((r) => r.order)).toEqual([0, 1, 2, 3, 4]);
    expect(rungs[1]!.source).toMatch(/^eval: majority@64/);
    expect(rungs[2]!.source).toMatch(/prm:/);
    expect(rungs[4]!.source).toBe('loop iteration 4 (search)');
    // A loop alone: its iteration 0 (before learning) gives the first two rungs.
    const loop = readRun(tmp(), 'loop');
    loop.metrics = [0, 1, 2].map((iteration) => ({ event: 'iteration', iteration, 'eval/greedy/a': 0.2 + iteration / 10, 'eval/greedy/b': 0.4, 'eval/search_accuracy': 0.5 + iteration / 10 }));
    expect(ablationRungs(loop).map((r) => [r.order, r.accuracy, r.source])).toEqual([
      [0, 0.30000000000000004, 'loop iteration 0 (greedy, mean over levels)'],
      [1, 0.5, 'loop iteration 0 (search)'],
      [3, 0.6, 'loop iteration 1 (search)'],
      [4, 0.7, 'loop iteration 2 (search)'],
    ]);
  });
});

describe('viewer trees', () => {
  const t = (steps: string[], score: number, correct: boolean) => ({ text: steps.join(''), steps, score, correct, stepScores: steps.map(() => score) });

  it('shows trajectories as their prefix tree with the chosen path', () => {
    const a = t(['x\n', 'y\n', 'Answer: 1'], 0.9, true);
    const b = t(['x\n', 'z\n', 'Answer: 2'], 0.2, false);
    const c = t(['w\n', 'Answer: 3'], 0.4, false);
    const tree = fromTrajectories([a, b, c, a], a, new Map([['x\u0001y\u0001Answer: 1', true], ['x\u0001z\u0001Answer: 2', false]]));
    expect(tree.parent).toEqual([-1, 0, 1, 2, 1, 4, 0, 6]);
    expect(tree.visits).toEqual([4, 3, 2, 2, 1, 1, 1, 1]);
    expect(tree.q[1]).toBeCloseTo((0.9 + 0.2 + 0.9) / 3);
    expect(tree.leaf).toEqual([0, 0, 0, 1, 0, 2, 0, 3]);
    expect(tree.chosen).toEqual([0, 1, 2, 3]);
  });

  it('finds the chosen terminal of a saved tree and marks leaves by the verifier', () => {
    const tree = { parent: [-1, 0, 0, 1, 1], step: ['', 'a\n', 'b\n', 'Answer: 1', 'Answer: 2'], visits: [5, 3, 2, 2, 1], q: [0, 0, 0, 0, 0], prior: [1, 0.5, 0.5, 0.5, 0.5], reward: [null, null, null, 1, 0], terminal: [false, false, false, true, true] };
    const best = { text: 'a\nAnswer: 1', steps: ['a\n', 'Answer: 1'], correct: true };
    const v = toViewerTree({ problemId: 'p', algo: 'mcts', trajectories: [best, { text: 'a\nAnswer: 2', steps: ['a\n', 'Answer: 2'], correct: false }], best, tree, correct: true }, 'r', 'search/x.jsonl');
    expect(v.source).toBe('tree');
    expect(v.chosen).toEqual([0, 1, 3]);
    expect(v.leaf).toEqual([0, 0, 0, 1, 2]);
    expect(v.rolloutFrom).toBe(5);
    expect(v.parent).toHaveLength(5);
  });

  it('continues a tree with the rollouts that ran past its leaves (MCTS simulations)', () => {
    const tree = { parent: [-1, 0], step: ['', 'a\n'], visits: [3, 3], q: [0.2, 0.4], prior: [1, 1], reward: [null, 0.5], terminal: [false, false] };
    const best = { text: 'a\nb\nAnswer: 1', steps: ['a\n', 'b\n', 'Answer: 1'], correct: true, score: 0.8 };
    const other = { text: 'a\nc\nAnswer: 2', steps: ['a\n', 'c\n', 'Answer: 2'], correct: false, score: 0.1 };
    const v = toViewerTree({ problemId: 'p', algo: 'mcts', trajectories: [best, other], best, tree }, 'r', 'f');
    expect(v.rolloutFrom).toBe(2);
    expect(v.parent).toEqual([-1, 0, 1, 2, 1, 4]);
    expect(v.visits).toEqual([3, 3, 1, 1, 1, 1]); // the search's own counts are kept
    expect(v.q).toEqual([0.2, 0.4, 0.8, 0.8, 0.1, 0.1]);
    expect(v.leaf).toEqual([0, 0, 0, 1, 0, 2]);
    expect(v.chosen).toEqual([0, 1, 2, 3]);
  });
});

describe('buildReport', () => {
  it('draws every figure of two runs into one self-contained file under 5 MB', async () => {
    const root = tmp();
    const a = writeFixtureRun(join(root, 'seed1'), { seed: 1, skill: 0.7 });
    const b = writeFixtureRun(join(root, 'seed2'), { seed: 2, skill: 0.4 });
    // Step text that would end the data script early if it were not escaped.
    writeFileSync(join(b, 'search', 'evil.jsonl'), JSON.stringify({ problemId: 'evil', algo: 'best-of-n', trajectories: [{ text: '</script><script>alert(1)</script>', steps: ['</script><script>alert(1)</script>'] }] }) + '\n');
    const out = join(root, 'out', 'report.html');
    const r = await writeReport([a, b], out);
    const html = readFileSync(out, 'utf8');
    expect(r).toMatchObject({ path: out, runs: 2, treesOmitted: 0, skippedLines: 4 });
    expect(r.bytes).toBe(Buffer.byteLength(html));
    expect(r.bytes).toBeLessThan(5e6);
    for (const id of ['test-time-scaling', 'iteration-greedy', 'iteration-pass-8', 'train-compute', 'train-data', 'training-curves', 'learner-curves', 'prm-calibration', 'prm-auc-logged', 'prm-auc-search', 'ablation-ladder', 'overopt-n', 'overopt-iteration']) {
      expect(html, id).toMatch(new RegExp(`data-chart="${id}"><h3>[^<]*</h3><div class="chart"><svg[^>]*>.*?role-mark`));
    }
    expect(r.charts).toBe((html.match(/<figure /g) ?? []).length);
    // Nothing that loads: no URLs at all, no external scripts, styles or images.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(/);
    expect(html).not.toContain('</script><script>alert');
    expect((html.match(/<script/g) ?? []).length).toBe(2);
    expect(html).toMatch(/<text[^>]*>oracle pass@N<\/text>/);
    expect(html).toContain('seed1/metrics.jsonl: 1 skipped');
  });

  it('renders a page with nothing to plot for an empty run directory', async () => {
    const { html, summary } = await buildReport([tmp()]);
    expect(summary).toMatchObject({ runs: 1, charts: 0, trees: 0 });
    expect(html).toContain('No eval rows');
    expect(html).toContain('No saved searches');
    expect(scriptJson({ s: '</script>\u2028' })).toBe('{"s":"\\u003c/script>\\u2028"}');
  });

  it('leaves trees out past the byte budget and counts them', async () => {
    const dir = writeFixtureRun(join(tmp(), 'run'), { problems: 6, trainSteps: 5, treeNodes: 50 });
    const { summary } = await buildReport([dir], { maxTreeBytes: 20_000 });
    expect(summary.trees).toBeGreaterThan(0);
    expect(summary.treesOmitted).toBeGreaterThan(0);
  });
});
