import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';

import { UserError } from '../core/errors.js';
import { searchSpecSchema } from '../search/registry.js';

/** An error whose message is the one line a user sees (exit code 2). */
export class CliError extends UserError {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses argv against `options`, then validates with a zod schema (the single source of the
 * command's types). Any problem becomes one CliError line naming the bad value and what is valid.
 */
export function parseCommand<S extends z.ZodType>(
  command: string,
  argv: string[],
  options: OptionSpec,
  schema: S,
): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: false }));
  } catch (e) {
    const known = Object.keys(options).map((k) => `--${k}`).join(', ');
    throw new CliError(`${command}: ${(e as Error).message.split('\n')[0]} (options: ${known})`);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // The flag is the first path element (list flags add an index after it).
    const key = issue.path.length > 0 ? String(issue.path[0]) : '';
    const got = key ? values[key as keyof typeof values] : undefined;
    const shown = got === undefined ? 'missing' : JSON.stringify(got);
    throw new CliError(`${command}: --${key} ${shown}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * `--flag -3` → `--flag=-3` for flags that take a value: parseArgs reads a value starting with
 * "-" as another flag ("argument is ambiguous"), so a negative number would never reach the
 * schema, whose message says what is valid ("must be >= 0").
 */
export function joinNegativeValues(argv: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = /^--([^=]+)$/.exec(argv[i]!);
    const next = argv[i + 1];
    if (flag && options[flag[1]!]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}

/** A numeric flag given as a string: `num({int: true, min: 1})`. */
export function num(opts: { int?: boolean; min?: number; max?: number; gt?: number } = {}) {
  let s = z.coerce.number({ message: 'expected a number' });
  if (opts.int) s = s.int({ message: 'expected an integer' });
  if (opts.min !== undefined) s = s.min(opts.min, { message: `must be >= ${opts.min}` });
  if (opts.max !== undefined) s = s.max(opts.max, { message: `must be <= ${opts.max}` });
  if (opts.gt !== undefined) s = s.gt(opts.gt, { message: `must be > ${opts.gt}` });
  return s;
}

/** A comma-separated list flag. */
/** A search spec (`revision:select=majority`): the algorithm's own one-line error when it is bad. */
export const searchSpec = searchSpecSchema();

export function list<T extends z.ZodType<unknown, string>>(item: T) {
  return z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)).pipe(z.array(item).min(1, { message: 'expected a non-empty comma-separated list' }));
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}
