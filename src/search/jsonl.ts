import { z } from 'zod';
import type { SearchResult } from './search.js';

/**
 * SearchResult ⇄ one JSON line (runs/<name>/search/iter-N.jsonl). Reading is an edge, so the
 * line is validated with a zod schema of exactly the fields SearchResult has; the type check
 * below keeps the schema and the interface in step.
 */

const finishReason = z.enum(['stop', 'eos', 'length']);

const trajectorySchema = z.object({
  text: z.string(),
  steps: z.array(z.string()),
  answer: z.string().nullable(),
  finishReason,
  outputTokens: z.number(),
  logprob: z.number().optional(),
  stepScores: z.array(z.number()).optional(),
  score: z.number().optional(),
  correct: z.boolean().optional(),
});

/** A SearchTree's flat arrays (also read by the report). */
export const treeSchema = z.object({
  parent: z.array(z.number().int()),
  step: z.array(z.string()),
  visits: z.array(z.number()),
  q: z.array(z.number()),
  prior: z.array(z.number()),
  reward: z.array(z.number().nullable()),
  terminal: z.array(z.boolean()),
});

const computeSchema = z.object({
  promptTokens: z.number(),
  cachedPromptTokens: z.number(),
  outputTokens: z.number(),
  policyCalls: z.number(),
  rewardCalls: z.number(),
  rewardTokens: z.number(),
  wallMs: z.number(),
});

export const searchResultSchema = z.object({
  problemId: z.string(),
  algo: z.string(),
  answer: z.string().nullable(),
  best: trajectorySchema.nullable(),
  trajectories: z.array(trajectorySchema),
  tree: treeSchema.optional(),
  actionWeights: z.array(z.number()).optional(),
  compute: computeSchema,
});

// Compile-time check that the schema's type and SearchResult agree both ways.
type Parsed = z.infer<typeof searchResultSchema>;
const _toInterface = (p: Parsed): SearchResult => p;
const _toSchema = (r: SearchResult): Parsed => r;
void _toInterface;
void _toSchema;

/** One line of JSON (no trailing newline). The best trajectory is stored by value. */
export function toJsonl(result: SearchResult): string {
  return JSON.stringify(result);
}

/** Parses and validates one line; throws one line naming the first bad field. */
export function fromJsonl(line: string): SearchResult {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    throw new Error(`search result: not JSON: ${(e as Error).message}`);
  }
  const parsed = searchResultSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`search result: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Many results, one per line. */
export function readJsonl(text: string): SearchResult[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(fromJsonl);
}

/**
 * The file an eval table writes one cell's results to: `<spec>-<budget>.jsonl`, with each ':' of
 * the spec (`best-of-n:kl=2`) written '+', since Windows forbids ':' in file names.
 */
export function searchFileName(spec: string, budget: number): string {
  return `${spec.replaceAll(':', '+')}-${budget}.jsonl`;
}
