import { createReadStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { CliError, list, num, parseCommand, type Command, type OptionSpec } from './args.js';
import { defaultVerifyConfig, verify, type VerifyConfig } from '../verify/verify.js';

const options = {
  gold: { type: 'string' },
  pred: { type: 'string' },
  jsonl: { type: 'string' },
  json: { type: 'boolean' },
  extraction: { type: 'string' },
  percent: { type: 'string' },
  units: { type: 'string' },
  'float-rounding': { type: 'string' },
  'strict-equations': { type: 'boolean' },
  'set-relation': { type: 'boolean' },
  'timeout-ms': { type: 'string' },
} satisfies OptionSpec;

const schema = z.object({
  gold: z.string().optional(),
  pred: z.string().optional(),
  jsonl: z.string().min(1, { message: 'expected a file name, or - for standard input' }).optional(),
  json: z.boolean().optional(),
  extraction: list(z.enum(['boxed', 'marker', 'bold', 'last'], { message: 'expected steps among boxed, marker, bold, last' })).optional(),
  percent: z.enum(['either', 'value', 'ignore'], { message: 'expected either, value or ignore' }).optional(),
  units: z.enum(['lenient', 'strict'], { message: 'expected lenient or strict' }).optional(),
  'float-rounding': num({ int: true, min: 0, max: 15 }).optional(),
  'strict-equations': z.boolean().optional(),
  'set-relation': z.boolean().optional(),
  'timeout-ms': num({ int: true, min: 1, max: 600_000 }).optional(),
});

const USAGE = 'give --gold G --pred P, or --jsonl FILE (--jsonl - reads standard input)';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check final answers against gold answers (extraction and math equivalence)',
  usage:
    'verify --gold G --pred P [--json] (--pred=-3 for a value starting with -) | verify --jsonl FILE|- ' +
    '[--extraction boxed,marker,bold,last] [--percent either|value|ignore] [--units lenient|strict] ' +
    `[--float-rounding ${defaultVerifyConfig.floatRounding}] [--strict-equations] [--set-relation] [--timeout-ms ${defaultVerifyConfig.timeoutMs}]`,
  async run(argv: string[]): Promise<void> {
    const flags = parseCommand('verify', argv, options, schema);
    const config: Partial<VerifyConfig> = {
      ...(flags.extraction && { extraction: flags.extraction }),
      ...(flags.percent && { percent: flags.percent }),
      ...(flags.units && { units: flags.units }),
      ...(flags['float-rounding'] !== undefined && { floatRounding: flags['float-rounding'] }),
      ...(flags['strict-equations'] && { equationMatchesValue: false }),
      ...(flags['set-relation'] && { allowSetRelation: true }),
      ...(flags['timeout-ms'] !== undefined && { timeoutMs: flags['timeout-ms'] }),
    };
    if (flags.jsonl !== undefined) {
      if (flags.gold !== undefined || flags.pred !== undefined) throw new CliError(`verify: --jsonl excludes --gold and --pred; ${USAGE}`);
      const input = flags.jsonl === '-' ? process.stdin : openFile(flags.jsonl);
      const { malformed } = await runVerifyJsonl(input, process.stdout, process.stderr, config);
      if (malformed > 0) process.exitCode = 1;
      return;
    }
    if (flags.gold === undefined || flags.pred === undefined) {
      throw new CliError(`verify: ${flags.gold === undefined ? '--gold' : '--pred'} missing; ${USAGE}`);
    }
    const r = verify(flags.gold, flags.pred, config);
    process.stdout.write(flags.json ? `${JSON.stringify(r)}\n` : `${r.correct}\n`);
  },
};

function openFile(path: string): Readable {
  if (!existsSync(path)) throw new CliError(`verify: --jsonl ${JSON.stringify(path)}: no such file`);
  return createReadStream(path, { encoding: 'utf8' });
}

/**
 * Verifies a JSONL stream line by line: each line `{"gold", "prediction", ...}` comes back in
 * order with `correct`, `extracted` and `reason` added. `prediction` is full solution text,
 * so the final answer is extracted from it first; an optional `choices` array holds the
 * option texts of a multiple-choice question. A line that is not a JSON object is reported
 * on `errOut` as `line N: ...` and left out; the rest go on.
 */
export async function runVerifyJsonl(
  input: Readable,
  output: Writable,
  errOut: Writable,
  config: Partial<VerifyConfig> = {},
): Promise<{ lines: number; malformed: number }> {
  const reader = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let lines = 0;
  let malformed = 0;
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const chunk = batch.join('');
    batch = [];
    if (!output.write(chunk)) await once(output, 'drain');
  };
  for await (const raw of reader) {
    n++;
    const line = raw.trim();
    if (line === '') continue;
    const row = parseRow(line);
    if (typeof row === 'string') {
      malformed++;
      errOut.write(`line ${n}: ${row}\n`);
      continue;
    }
    lines++;
    const choices = Array.isArray(row.choices) && row.choices.every((c) => typeof c === 'string') ? (row.choices as string[]) : undefined;
    const r = verify(row.gold as string, row.prediction as string, choices ? { ...config, choices } : config);
    batch.push(`${JSON.stringify({ ...row, correct: r.correct, extracted: r.extracted, reason: r.reason })}\n`);
    if (batch.length >= 256) await flush();
  }
  await flush();
  return { lines, malformed };
}

const row = z.record(z.string(), z.unknown());

/** The line as an object, or what is wrong with it. Field values are judged by verify(), not here. */
function parseRow(line: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `invalid JSON (${(e as Error).message})`;
  }
  const parsed = row.safeParse(value);
  if (!parsed.success || Array.isArray(value)) return `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  return parsed.data;
}
