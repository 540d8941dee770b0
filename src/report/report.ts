import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ablationChart, ablationRungs } from './ablation.js';
import { css, esc, evalTable, ladderTable, runSummary, scriptJson } from './html.js';
import { overoptCharts } from './overopt.js';
import { aucCharts, calibrationChart } from './prm.js';
import { readRun, runNames, type RunData } from './read-run.js';
import { renderSvg, type Chart } from './svg.js';
import { testTimeChart } from './test-time.js';
import { iterationCharts, trainComputeChart, trainDataChart, trainingCurvesCharts } from './train-time.js';
import { toViewerTree, type ViewerTree } from './viewer-data.js';
import { treeViewerScript } from './viewer-script.js';

/**
 * The report: one self-contained HTML file from one or more run directories, drawn on the same
 * axes (colour by run). Plots are Vega-Lite rendered to SVG in Node; the search-tree viewer is
 * plain DOM and a small script; nothing in the file loads from the network.
 */

export interface ReportConfig {
  /** Page title. */
  title: string;
  /** Bytes of tree data embedded at most; further searches are counted, not embedded. */
  maxTreeBytes: number;
  /** A single tree larger than this many nodes is left out (the viewer stays responsive well past it). */
  maxTreeNodes: number;
}

export const defaultReportConfig = {
  title: 'searchlearn report',
  // Keeps a report under the 5 MB the issue allows, with room for plots and tables.
  maxTreeBytes: 3_500_000,
  maxTreeNodes: 50_000,
} satisfies ReportConfig;

export interface ReportResult {
  path: string;
  bytes: number;
  runs: number;
  /** Figures drawn. */
  charts: number;
  /** Searches embedded in the tree viewer, and those left out for size. */
  trees: number;
  treesOmitted: number;
  /** JSONL lines that did not parse (skipped), and other unreadable inputs. */
  skippedLines: number;
}

/** Vega's tableau10, the scheme of the run colour scale, for swatches outside the plots. */
const TABLEAU10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

interface Section {
  id: string;
  title: string;
  intro: string;
  charts: (Chart | null)[];
  /** Shown when the section has no figure: what would fill it. */
  empty: string;
  extra?: string;
}

/** Reads the runs and returns the page with counts. Pure apart from reading the run directories. */
export async function buildReport(runDirs: string[], config: Partial<ReportConfig> = {}): Promise<{ html: string; summary: Omit<ReportResult, 'path' | 'bytes'> }> {
  const cfg: ReportConfig = { ...defaultReportConfig, ...config };
  const names = runNames(runDirs);
  const runs = runDirs.map((d, i) => readRun(d, names[i]!));

  const rungs = runs.flatMap(ablationRungs);
  const evalTables = runs
    .filter((r) => r.evalRows.length > 0)
    .map((r) => `<h3>${esc(r.name)}</h3>${evalTable(r.evalRows)}`)
    .join('\n');
  const sections: Section[] = [
    { id: 'test-time', title: 'Test-time scaling', intro: '', charts: [testTimeChart(runs)], empty: 'No eval rows: run searchlearn eval --out DIR (it writes eval.jsonl and search/*.jsonl).' },
    {
      id: 'train-time',
      title: 'Train-time scaling',
      intro: '',
      charts: [...iterationCharts(runs), trainComputeChart(runs), trainDataChart(runs), ...trainingCurvesCharts(runs)],
      empty: 'No training metrics: metrics.jsonl from init, train-lm, train-prm or loop fills this section.',
    },
    {
      id: 'reward',
      title: 'Reward model: calibration and per-problem AUC',
      intro: '',
      charts: [calibrationChart(runs), ...aucCharts(runs)],
      empty: 'No reward-model data: prm/* metrics (train-prm, loop) or saved searches scored by a learned reward fill this section.',
    },
    {
      id: 'ablation',
      title: 'Ablation ladder',
      intro: '',
      charts: [ablationChart(runs)],
      empty: 'No rungs: eval rows (greedy, deployable search, PRM-guided search) and loop iterations fill the ladder.',
      ...(rungs.length ? { extra: ladderTable(rungs) } : {}),
    },
    { id: 'overopt', title: 'Over-optimization and distribution shift', intro: '', charts: overoptCharts(runs), empty: 'No selected solutions scored by a learned reward: saved searches (eval --out, loop) with a PRM or ORM fill this section.' },
  ];

  const charts = sections.flatMap((s) => s.charts.filter((c): c is Chart => c !== null));
  const svgs = new Map<string, string>();
  for (const c of charts) svgs.set(c.id, await renderSvg(c.spec));
  const figure = (c: Chart): string => `<figure id="fig-${esc(c.id)}" data-chart="${esc(c.id)}"><h3>${esc(c.title)}</h3><div class="chart">${svgs.get(c.id)}</div><figcaption>${esc(c.caption)}</figcaption></figure>`;

  const { trees, omitted } = collectTrees(runs, cfg);
  const skippedLines = runs.reduce((n, r) => n + r.problems.length, 0);

  const body = [
    ...sections.map((s) => {
      const figs = s.charts.filter((c): c is Chart => c !== null);
      return `<section id="${s.id}"><h2>${esc(s.title)}</h2>${figs.length ? figs.map(figure).join('\n') : `<p class="empty">${esc(s.empty)}</p>`}${s.extra ?? ''}</section>`;
    }),
    `<section id="eval-tables"><h2>Evaluation tables</h2>${evalTables || '<p class="empty">No eval.jsonl in these runs.</p>'}</section>`,
    viewerSection(trees, omitted),
    notesSection(runs),
  ].join('\n');

  const nav = [...sections.map((s) => [s.id, s.title]), ['eval-tables', 'Evaluation tables'], ['trees', 'Search trees'], ['notes', 'Notes']]
    .map(([id, t]) => `<a href="#${id}">${esc(t!)}</a>`)
    .join('');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(cfg.title)}</title>
<style>${css}</style></head>
<body>
<header><h1>${esc(cfg.title)}</h1>
<ul class="runs">${runs.map((r, i) => runSummary(r, TABLEAU10[i % TABLEAU10.length]!)).join('\n')}</ul></header>
<nav>${nav}</nav>
<main>
${body}
</main>
<script type="application/json" id="sl-trees">${scriptJson({ trees })}</script>
<script>${treeViewerScript()}</script>
</body></html>
`;
  return { html, summary: { runs: runs.length, charts: charts.length, trees: trees.length, treesOmitted: omitted, skippedLines } };
}

/** Writes the report (atomically: a viewer never sees half a file) and says what is in it. */
export async function writeReport(runDirs: string[], outFile: string, config: Partial<ReportConfig> = {}): Promise<ReportResult> {
  const { html, summary } = await buildReport(runDirs, config);
  const path = resolve(outFile);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, html);
  renameSync(tmp, path);
  return { path, bytes: Buffer.byteLength(html), ...summary };
}

/** Every saved search as a viewer tree, in file order, until the byte budget is spent. */
function collectTrees(runs: RunData[], cfg: ReportConfig): { trees: ViewerTree[]; omitted: number } {
  const trees: ViewerTree[] = [];
  let bytes = 0;
  let omitted = 0;
  for (const run of runs) {
    for (const f of run.searches) {
      for (const r of f.results) {
        const size = r.tree ? r.tree.parent.length : r.trajectories.reduce((n, t) => n + t.steps.length, 1);
        if (size > cfg.maxTreeNodes) {
          omitted++;
          continue;
        }
        const t = toViewerTree(r, run.name, f.file);
        const b = JSON.stringify(t).length;
        if (bytes + b > cfg.maxTreeBytes) {
          omitted++;
          continue;
        }
        bytes += b;
        trees.push(t);
      }
    }
  }
  return { trees, omitted };
}

function viewerSection(trees: ViewerTree[], omitted: number): string {
  const note = omitted > 0 ? `<p class="muted">${omitted} further searches are not embedded, to keep this file small (the limit is set by maxTreeBytes).</p>` : '';
  if (trees.length === 0) return `<section id="trees"><h2>Search trees</h2><p class="empty">No saved searches: search/*.jsonl (eval --out, loop) fills the viewer.</p>${note}</section>`;
  return `<section id="trees"><h2>Search trees</h2>
<p class="muted legend-key">Pick a search; click a node to expand or collapse it and to see its numbers (N visits, Q mean value, P prior, R reward). <span class="key-chosen">highlighted</span>: the chosen solution; leaves <span style="color:var(--ok)">✓ correct</span> and <span style="color:var(--bad)">✗ wrong</span> by the verifier. Best-of-N and beam search are shown as the prefix tree of their trajectories; a saved tree (MCTS) is continued by the rollouts that ran past its leaves, tagged <i>rollout</i>.</p>
<div class="viewer-controls"><select id="sl-tree-select" aria-label="search"></select><button type="button" id="sl-collapse">collapse all</button></div>${note}
<div id="sl-tree-head"></div>
<div class="viewer"><div id="sl-tree" role="tree"></div><div id="sl-node-detail" aria-live="polite"></div></div></section>`;
}

function notesSection(runs: RunData[]): string {
  const items = runs.flatMap((r) => {
    const byFile = new Map<string, { count: number; first: string }>();
    for (const p of r.problems) {
      const e = byFile.get(p.file) ?? { count: 0, first: `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.reason}` };
      e.count++;
      byFile.set(p.file, e);
    }
    return [...byFile].map(([file, e]) => `<li>${esc(r.name)}/${esc(file)}: ${e.count} skipped (first: ${esc(e.first)})</li>`);
  });
  return `<section id="notes"><h2>Notes</h2>${items.length ? `<ul>${items.join('')}</ul>` : '<p class="muted">Every line of every input was read.</p>'}</section>`;
}
