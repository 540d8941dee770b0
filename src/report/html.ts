import type { Rung } from './ablation.js';
import type { EvalRecord, RunData } from './read-run.js';
import { isOracle } from './test-time.js';

/** HTML pieces of the report: escaping, tables, sections and the page around them. */

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside a <script> element: `<` escaped so no string in the data can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const opt = (x: number | undefined): string => (x === undefined ? '–' : String(x));

export function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="num"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function evalTable(rows: EvalRecord[]): string {
  return table(
    ['algorithm', 'budget', 'reward', 'kind', 'accuracy', 'problems', 'output tokens / problem', 'policy calls', 'reward calls', 'reward tokens', 'wall ms'],
    rows.map((r) => [r.algo, String(r.budget), r.reward ?? '–', isOracle(r) ? 'oracle pass@N' : 'deployable', pct(r.accuracy), opt(r.problems), String(r.output_tokens), opt(r.policy_calls), opt(r.reward_calls), opt(r.reward_tokens), opt(r.wall_ms)]),
    [false, true, false, false, true, true, true, true, true, true, true],
  );
}

export function ladderTable(rungs: Rung[]): string {
  return table(
    ['run', 'rung', 'accuracy', 'output tokens / problem', 'from'],
    [...rungs].sort((a, b) => a.order - b.order || a.run.localeCompare(b.run)).map((r) => [r.run, r.rung, pct(r.accuracy), r.tokens === undefined ? '–' : String(Math.round(r.tokens)), r.source]),
    [false, false, true, true, false],
  );
}

/** What a run is: its directory, its command, what it holds. */
export function runSummary(run: RunData, color: string): string {
  const c = run.config ?? {};
  const command = typeof c.command === 'string' ? c.command : undefined;
  const holds = [
    run.config ? 'config.json' : null,
    run.metrics.length ? `${run.metrics.length} metrics lines` : null,
    run.evalRows.length ? `${run.evalRows.length} eval rows` : null,
    ...run.searches.map((s) => `${s.file} (${s.results.length} searches)`),
  ].filter((x): x is string => x !== null);
  const config = run.config ? `<details><summary>config.json</summary><pre>${esc(JSON.stringify(run.config, null, 2))}</pre></details>` : '';
  return `<li><span class="swatch" style="background:${color}"></span><b>${esc(run.name)}</b> <code>${esc(run.dir)}</code>${command ? ` · <code>${esc(command)}</code>` : ''}<br><span class="muted">${esc(holds.join(' · ') || 'nothing readable')}</span>${config}</li>`;
}

export const css = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #6b6b70; --line: #e3e3e8; --accent: #2f6fde; --ok: #1b873f; --bad: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fafafb; }
header { padding: 20px 32px 8px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 0 0 8px; padding-top: 8px; }
h3 { font-size: 15px; margin: 0 0 6px; }
nav { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 32px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
main { padding: 12px 32px 48px; max-width: 1400px; }
section { margin: 18px 0 28px; }
figure { margin: 0 0 18px; padding: 12px 14px; background: #fff; border: 1px solid var(--line); border-radius: 8px; display: inline-block; max-width: 100%; vertical-align: top; }
figure .chart { overflow-x: auto; }
figure svg { display: block; max-width: none; }
figcaption { color: var(--muted); font-size: 12.5px; max-width: 720px; margin-top: 6px; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
ul.runs { list-style: none; padding: 0; margin: 6px 0; }
ul.runs li { margin: 4px 0; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
details summary { cursor: pointer; color: var(--muted); font-size: 12.5px; }
pre { background: #f4f4f6; padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 16px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; }
th { background: #f4f4f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.viewer { display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 2fr); gap: 14px; align-items: start; }
.viewer-controls { margin-bottom: 8px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.viewer-controls select { max-width: 100%; font: inherit; padding: 3px; }
.viewer-controls button, .sl-more { font: inherit; font-size: 12px; padding: 2px 8px; cursor: pointer; }
#sl-tree-head { color: var(--muted); font-size: 13px; margin-bottom: 6px; }
#sl-tree { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; max-height: 640px; overflow: auto; }
#sl-tree ul { list-style: none; margin: 0; padding-left: 18px; border-left: 1px dotted #d0d0d8; }
#sl-tree ul.sl-root { padding-left: 0; border-left: 0; }
.sl-row { display: flex; gap: 8px; align-items: baseline; padding: 2px 6px; border-radius: 4px; cursor: pointer; white-space: nowrap; }
.sl-row:hover { background: #f1f4fb; }
.sl-row:focus { outline: 2px solid var(--accent); outline-offset: -2px; }
.sl-row.sl-selected { background: #e4ecfb; }
.sl-row.sl-chosen { font-weight: 600; box-shadow: inset 3px 0 0 #f0a500; background: #fff8e6; }
.sl-toggle { width: 10px; color: var(--muted); }
.sl-step { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; overflow: hidden; text-overflow: ellipsis; max-width: 520px; }
.sl-stats, .sl-count { color: var(--muted); font-size: 11.5px; font-weight: 400; font-variant-numeric: tabular-nums; }
.sl-badge { font-size: 11px; padding: 0 6px; border-radius: 8px; color: #fff; font-weight: 600; }
.sl-correct .sl-step { color: var(--ok); }
.sl-correct .sl-badge { background: var(--ok); }
.sl-wrong .sl-step { color: var(--bad); }
.sl-wrong .sl-badge { background: var(--bad); }
.sl-terminal .sl-step { font-style: italic; }
.sl-rollout .sl-step { opacity: 0.8; }
.sl-tag { font-size: 10.5px; color: var(--muted); border: 1px solid var(--line); border-radius: 8px; padding: 0 5px; font-weight: 400; }
#sl-node-detail { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; position: sticky; top: 44px; }
#sl-node-detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; font-size: 13px; }
#sl-node-detail dt { color: var(--muted); }
#sl-node-detail dd { margin: 0; font-variant-numeric: tabular-nums; }
.sl-detail-head { font-weight: 600; font-size: 13px; }
.key-chosen { font-weight: 600; background: #fff8e6; box-shadow: inset 3px 0 0 #f0a500; padding: 0 4px 0 7px; }
`;
