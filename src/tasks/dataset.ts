/**
 * Dataset tasks: natural-language math read from JSONL (GSM8K, MATH-500, or any file with a
 * question field and an answer field). Steps are separated by a blank line (the PRM800K and
 * Math-Shepherd convention); the prompt asks for a `\boxed{}` answer and ends with the step
 * delimiter, so a policy's first step starts right after it. Answers are checked by
 * src/verify (extraction plus math equivalence).
 *
 * Splits: the shipped files are test sets, so a dataset task has only a test split unless a
 * `trainPath` is given; asking for train without one throws (a holdout carved from a test set
 * would quietly change the benchmark).
 */
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Problem } from '../core/problem.js';
import { Rng } from '../core/rng.js';
import { extractAnswer, verify } from '../verify/verify.js';
import { checkKeys, stringOption } from './config.js';
import type { Split, Task } from './task.js';

export interface JsonlTaskOptions {
  /** Task name, used in ids and messages. Default: the file name without extension. */
  name: string;
  /** Field holding the question. Default "question". */
  questionField: string;
  /** Field holding the gold answer (or a solution ending in `#### N` or `\boxed{N}`). Default "answer". */
  answerField: string;
  /** Field holding a stable id; rows without it get `<name>-<line index>`. */
  idField?: string;
  /** A second JSONL file (same fields) that serves the train split. */
  trainPath?: string;
}

const jsonlOptionKeys = ['name', 'questionField', 'answerField', 'idField', 'trainPath'];

/** The cue that ends every dataset prompt (the Qwen2.5-Math / DeepSeek-R1 evaluation wording). */
export const boxedCue = 'Please reason step by step, and put your final answer within \\boxed{}.';

/** The package root: this file lives in src/tasks/ or dist/tasks/, two levels down. */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/**
 * The gold answer from an answer field: the text after the last `####` (GSM8K, thousands
 * separators dropped), else the content of a `\boxed{}`, else the value itself.
 */
export function goldAnswer(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const hashes = text.lastIndexOf('####');
  if (hashes >= 0) return text.slice(hashes + 4).trim().replace(/(\d),(?=\d{3}\b)/g, '$1');
  if (text.includes('\\boxed')) return extractAnswer(text) ?? text.trim();
  return text.trim();
}

function readJsonl(path: string, name: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${name}: cannot read ${path} (${(e as Error).message})`);
  }
  const rows: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch (e) {
      throw new Error(`${name}: ${path}:${i + 1}: bad JSON (${(e as Error).message})`);
    }
  });
  return rows;
}

function toProblems(rows: Record<string, unknown>[], o: JsonlTaskOptions, path: string, tag: string): Problem[] {
  return rows.map((row, index) => {
    const question = row[o.questionField];
    const answer = row[o.answerField];
    if (typeof question !== 'string' || answer === undefined || answer === null) {
      throw new Error(`${o.name}: ${path}: row ${index + 1} lacks a string "${o.questionField}" or an "${o.answerField}" field`);
    }
    const gold = goldAnswer(answer);
    const meta: Record<string, unknown> = { index };
    for (const [k, v] of Object.entries(row)) if (k !== o.questionField && k !== o.answerField) meta[k] = v;
    if (typeof answer !== 'string' || answer.trim() !== gold) meta.reference = answer;
    const id = o.idField !== undefined && row[o.idField] !== undefined ? String(row[o.idField]) : `${o.name}${tag}-${index}`;
    return { id, prompt: question, answer: gold, meta };
  });
}

/**
 * A task over a JSONL file. Relative paths resolve against the working directory.
 * `problems(split, count, seed)` returns the whole split in file order when count covers it,
 * else a seeded sample of `count` problems, still in file order.
 */
export function loadJsonlTask(path: string, options: Partial<JsonlTaskOptions> | Record<string, unknown> = {}): Task {
  const name = stringOption('jsonl', 'name', options.name, basename(path).replace(/\.jsonl?$/, ''));
  checkKeys(name, options, jsonlOptionKeys);
  const o: JsonlTaskOptions = {
    name,
    questionField: stringOption(name, 'questionField', options.questionField, 'question'),
    answerField: stringOption(name, 'answerField', options.answerField, 'answer'),
    idField: options.idField === undefined ? undefined : stringOption(name, 'idField', options.idField, ''),
    trainPath: options.trainPath === undefined ? undefined : stringOption(name, 'trainPath', options.trainPath, ''),
  };
  const files: Record<Split, string | undefined> = {
    test: isAbsolute(path) ? path : resolve(path),
    train: o.trainPath === undefined ? undefined : resolve(o.trainPath),
  };
  const cache: Partial<Record<Split, Problem[]>> = {};
  const load = (split: Split): Problem[] => {
    const file = files[split];
    if (file === undefined) {
      throw new Error(`${name}: no train split (the file ${path} is a test set); pass trainPath, or train on a built-in task`);
    }
    return (cache[split] ??= toProblems(readJsonl(file, name), o, file, split === 'train' ? '-train' : ''));
  };
  return {
    name,
    stepDelimiter: '\n\n',
    problems(split, count, seed) {
      const all = load(split);
      if (count >= all.length) return [...all];
      const order = new Rng(`${name}/${split}/${seed}`).shuffle(all.map((_, i) => i));
      return order.slice(0, Math.max(0, count)).sort((a, b) => a - b).map((i) => all[i]!);
    },
    formatPrompt: (problem) => `${problem.prompt}\n\n${boxedCue}\n\n`,
    verify: (problem, solution) => verify(problem.answer, solution),
  };
}

/** GSM8K test set (Cobbe et al. 2021), 1319 problems; gold is the number after `####`. */
export function gsm8kTask(options: Partial<JsonlTaskOptions> | Record<string, unknown> = {}): Task {
  return loadJsonlTask(resolve(packageRoot(), 'data/gsm8k/test.jsonl'), { name: 'gsm8k', ...options });
}

/**
 * MATH-500 (Lightman et al. 2023's test subset of MATH), 500 problems. Ids come from `unique_id`
 * when a copy has it; the shipped copy does not, so they are `math500-<line index>`.
 */
export function math500Task(options: Partial<JsonlTaskOptions> | Record<string, unknown> = {}): Task {
  return loadJsonlTask(resolve(packageRoot(), 'data/math500/test.jsonl'), { name: 'math500', questionField: 'problem', answerField: 'answer', idField: 'unique_id', ...options });
}
