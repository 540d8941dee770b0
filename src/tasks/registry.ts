import { arithTask } from './arith.js';
import { countdownTask } from './countdown.js';
import { gsm8kTask, loadJsonlTask, math500Task } from './dataset.js';
import type { Task } from './task.js';

/** The names getTask knows; `jsonl:PATH` reads any JSONL file with question and answer fields. */
export const taskNames = ['arith', 'countdown', 'gsm8k', 'math500', 'jsonl:PATH'] as const;

/**
 * A task by name. Options are the task's config (e.g. `{maxDigits: 3}` for arith,
 * `{numbers: 5}` for countdown, `{questionField, answerField, name}` for jsonl); unknown
 * options throw, naming the valid ones.
 */
export function getTask(name: string, options: Record<string, unknown> = {}): Task {
  switch (name) {
    case 'arith':
      return arithTask(options);
    case 'countdown':
      return countdownTask(options);
    case 'gsm8k':
      return gsm8kTask(options);
    case 'math500':
      return math500Task(options);
  }
  if (name.startsWith('jsonl:') && name.length > 'jsonl:'.length) return loadJsonlTask(name.slice('jsonl:'.length), options);
  throw new Error(`unknown task "${name}" (valid: ${taskNames.join(', ')})`);
}
