import { createReadStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { CliError, parseCommand, type Command, type OptionSpec } from './args.js';
import { verify } from '../verify/verify.js';

const options = {
  gold: { type: 'string' },
  pred: { type: 'string' },
  jsonl: { type: 'string' },
} satisfies OptionSpec;

const schema = z.object({
  gold: z.string().optional(),
  pred: z.string().optional(),
  jsonl: z.string().min(1, { message: 'expected a file name, or - for standard input' }).optional(),
});

const USAGE = 'give --gold G --pred P, or --jsonl FILE (--jsonl - reads standard input)';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check final answers against gold answers (math equivalence)',
  usage: 'verify --gold G --pred P (--pred=-3 for a value starting with -) | verify --jsonl FILE|-',
  async run(argv: string[]): Promise<void> {
    const flags = parseCommand('verify', argv, options, schema);
    if (flags.jsonl !== undefined) {
      if (flags.gold !== undefined || flags.pred !== undefined) throw new CliError(`verify: --jsonl excludes --gold and --pred; ${USAGE}`);
      const input = flags.jsonl === '-' ? process.stdin : openFile(flags.jsonl);
      const { malformed } = await runVerifyJsonl(input, process.stdout, process.stderr);
      if (malformed > 0) process.exitCode = 1;
      return;
    }
    if (flags.gold === undefined || flags.pred === undefined) {
      throw new CliError(`verify: ${flags.gold === undefined ? '--gold' : '--pred'} missing; ${USAGE}`);
    }
    process.stdout.write(`${verify(flags.gold, flags.pred).correct}\n`);
  },
};

function openFile(path: string): Readable {
  if (!existsSync(path)) throw new CliError(`verify: --jsonl ${JSON.stringify(path)}: no such file`);
  return createReadStream(path, { encoding: 'utf8' });
}

/**
 * Verifies a JSONL stream line by line: each line `{"gold", "prediction", ...}` comes back in
 * order with `correct`, `extracted` and `reason` added. `prediction` is full solution text,
 * so the final answer is extracted from it first. A line that is not a JSON object is
 * reported on `errOut` as `line N: ...` and left out; the rest go on.
 */
export async function runVerifyJsonl(
  input: Readable,
  output: Writable,
  errOut: Writable,
): Promise<{ lines: number; malformed: number }> {
  const reader = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let lines = 0;
  let malformed = 0;
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
    const r = verify(row.gold as string, row.prediction as string);
    const out = JSON.stringify({ ...row, correct: r.correct, extracted: r.extracted, reason: r.reason });
    if (!output.write(`${out}\n`)) await once(output, 'drain');
  }
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
