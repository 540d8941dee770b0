/**
 * JSON Lines: one JSON value per line (https://jsonlines.org), the format of every per-row file
 * a run writes and of TRL and OpenRLHF datasets. Reading validates each row with a zod schema and
 * fails with one line naming the file, the line number and the field; writing is atomic (a
 * temporary file renamed into place), so a reader never sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';

export class JsonlError extends Error {
  constructor(readonly file: string, readonly line: number, readonly problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'JsonlError';
  }
}

/** Rows of a JSONL file, each checked against `schema`; blank lines are skipped. */
export function readJsonl<S extends z.ZodType>(path: string, schema: S): z.infer<S>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new JsonlError(path, 0, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const rows: z.infer<S>[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new JsonlError(path, i + 1, `invalid JSON (${(e as Error).message})`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length > 0 ? `field "${issue.path.join('.')}": ` : '';
      throw new JsonlError(path, i + 1, `${field}${issue.message}`);
    }
    rows.push(parsed.data);
  }
  return rows;
}

/** The JSONL text of `rows` (one line each, newline-terminated). */
export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');
}

/** Writes `rows` as JSONL atomically, creating the parent directory. */
export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeAtomic(path, toJsonl(rows));
}

/** Writes a file through a temporary sibling renamed into place. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
