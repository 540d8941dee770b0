import { treeSchema as searchTreeSchema } from '../search/jsonl.js';
import type { SearchTree } from '../search/search.js';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Reading a run directory for the report. Everything here is an edge: files may be missing,
 * half written (a run still going) or from an older version, so reading never throws. A line
 * that does not parse is skipped and counted; a file that cannot be read is noted.
 */

/** One metrics event: `time` plus whatever the writer logged. */
export type Metric = Record<string, unknown>;

/** One row of `eval.jsonl` (eval --out DIR): accuracy of one (algorithm, budget) cell. */
export interface EvalRecord {
  algo: string;
  budget: number;
  accuracy: number;
  problems?: number;
  /** Mean output tokens per problem (EvalRow's convention): the compute axis. */
  output_tokens: number;
  policy_calls?: number;
  reward_calls?: number;
  reward_tokens?: number;
  wall_ms?: number;
  reward?: string;
  /** True when the reward reads the gold answer (best-of-N with it is pass@N). */
  oracle?: boolean;
}

export interface TrajectoryRecord {
  text: string;
  steps: string[];
  answer?: string | null;
  score?: number;
  stepScores?: number[];
  correct?: boolean;
  outputTokens?: number;
}

/** A saved search tree: the SearchTree of search/search.ts. */
export type TreeRecord = SearchTree;

/** A saved SearchResult (src/search/search.ts), with what eval adds (`correct`, `budget`). */
export interface SearchRecord {
  problemId: string;
  algo: string;
  answer?: string | null;
  best?: TrajectoryRecord | null;
  trajectories: TrajectoryRecord[];
  tree?: TreeRecord;
  compute?: { outputTokens?: number };
  correct?: boolean;
  budget?: number;
}

export interface SearchFile {
  /** Path relative to the run directory, e.g. `search/iter-2.jsonl`. */
  file: string;
  /** Loop iteration, from a name like `iter-2.jsonl`. */
  iteration?: number;
  results: SearchRecord[];
}

export interface RunData {
  dir: string;
  /** Short name shown in legends (unique among the runs of one report). */
  name: string;
  config?: Record<string, unknown>;
  metrics: Metric[];
  evalRows: EvalRecord[];
  searches: SearchFile[];
  /** Lines or files that could not be read, for the report's notes. */
  problems: { file: string; line?: number; reason: string }[];
}

// Schemas of exactly the fields the report uses; unknown fields pass through untouched.
const finite = z.number().finite();
const evalSchema = z.object({
  algo: z.string(),
  budget: finite,
  accuracy: finite,
  problems: finite.optional(),
  output_tokens: finite,
  policy_calls: finite.optional(),
  reward_calls: finite.optional(),
  reward_tokens: finite.optional(),
  wall_ms: finite.optional(),
  reward: z.string().optional(),
  oracle: z.boolean().optional(),
});

const trajectorySchema = z.object({
  text: z.string(),
  steps: z.array(z.string()).optional(),
  answer: z.string().nullable().optional(),
  score: finite.optional(),
  stepScores: z.array(z.number()).optional(),
  correct: z.boolean().optional(),
  outputTokens: finite.optional(),
});

const treeSchema = searchTreeSchema
  .refine((t) => [t.step, t.visits, t.q, t.prior, t.reward, t.terminal].every((a) => a.length === t.parent.length), { message: 'tree arrays differ in length' });

const searchSchema = z.object({
  problemId: z.string(),
  algo: z.string(),
  answer: z.string().nullable().optional(),
  best: trajectorySchema.nullable().optional(),
  trajectories: z.array(trajectorySchema).default([]),
  tree: treeSchema.optional(),
  compute: z.object({ outputTokens: finite.optional() }).optional(),
  correct: z.boolean().optional(),
  budget: finite.optional(),
});

function withSteps(t: z.infer<typeof trajectorySchema>): TrajectoryRecord {
  return { ...t, steps: t.steps ?? t.text.split('\n').filter((s) => s !== '') };
}

/** Parses JSONL leniently: each good line through `parse`, each bad one counted in `problems`. */
export function readJsonlFile<T>(path: string, rel: string, parse: (v: unknown) => T | string, problems: RunData['problems']): T[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    problems.push({ file: rel, reason: `unreadable (${(e as Error).message})` });
    return [];
  }
  const out: T[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // The last line of a file still being written is often cut short.
      problems.push({ file: rel, line: i + 1, reason: 'invalid JSON' });
      return;
    }
    const r = parse(value);
    if (typeof r === 'string') problems.push({ file: rel, line: i + 1, reason: r });
    else out.push(r);
  });
  return out;
}

function schemaParser<S extends z.ZodType>(schema: S): (v: unknown) => z.infer<S> | string {
  return (v) => {
    const r = schema.safeParse(v);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
  };
}

const parseMetric = (v: unknown): Metric | string => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Metric) : 'not a JSON object');
const parseEval = schemaParser(evalSchema);
const parseSearchLine = schemaParser(searchSchema);
const parseSearch = (v: unknown): SearchRecord | string => {
  const r = parseSearchLine(v);
  if (typeof r === 'string') return r;
  return { ...r, trajectories: r.trajectories.map(withSteps), best: r.best ? withSteps(r.best) : r.best };
};

/** Reads what exists of one run directory. Never throws. */
export function readRun(dir: string, name: string): RunData {
  const run: RunData = { dir: resolve(dir), name, metrics: [], evalRows: [], searches: [], problems: [] };
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    run.problems.push({ file: '.', reason: 'not a directory' });
    return run;
  }
  const configPath = join(dir, 'config.json');
  if (existsSync(configPath)) {
    try {
      const c: unknown = JSON.parse(readFileSync(configPath, 'utf8'));
      if (c !== null && typeof c === 'object' && !Array.isArray(c)) run.config = c as Record<string, unknown>;
      else run.problems.push({ file: 'config.json', reason: 'not a JSON object' });
    } catch (e) {
      run.problems.push({ file: 'config.json', reason: `invalid JSON (${(e as Error).message.split('\n')[0]})` });
    }
  }
  const metricsPath = join(dir, 'metrics.jsonl');
  if (existsSync(metricsPath)) run.metrics = readJsonlFile(metricsPath, 'metrics.jsonl', parseMetric, run.problems);
  const evalPath = join(dir, 'eval.jsonl');
  if (existsSync(evalPath)) run.evalRows = readJsonlFile(evalPath, 'eval.jsonl', parseEval, run.problems);
  const searchDir = join(dir, 'search');
  if (existsSync(searchDir) && statSync(searchDir).isDirectory()) {
    const files = readdirSync(searchDir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const f of files) {
      const rel = `search/${f}`;
      const results = readJsonlFile(join(searchDir, f), rel, parseSearch, run.problems);
      const m = /^iter-(\d+)\.jsonl$/.exec(f);
      run.searches.push({ file: rel, ...(m ? { iteration: Number(m[1]) } : {}), results });
    }
  }
  return run;
}

/** Legend names: the directory's base name, or more of its path where two runs share one. */
export function runNames(dirs: string[]): string[] {
  const parts = dirs.map((d) => resolve(d).split(/[\\/]/).filter((p) => p !== ''));
  const names = parts.map((p) => p[p.length - 1] ?? '/');
  for (let depth = 2; depth <= 4; depth++) {
    const dup = names.map((n, i) => names.some((m, j) => j !== i && m === n));
    if (!dup.some(Boolean)) break;
    dup.forEach((d, i) => {
      if (d) names[i] = parts[i]!.slice(-depth).join('/');
    });
  }
  // Identical paths given twice still get distinct names.
  return names.map((n, i) => (names.indexOf(n) === i ? n : `${n} (${i + 1})`));
}
