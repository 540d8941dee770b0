import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { dirname, join, resolve } from 'node:path';

/**
 * A run directory: everything a run writes, so that nothing is lost when it stops and it can
 * resume. Layout (ARCHITECTURE.md): config.json, metrics.jsonl (one JSON object per event,
 * standard names such as `train/loss`), checkpoint/, and run-specific files.
 */
export class RunDir {
  constructor(readonly path: string) {
    RunDir.ensureWritable(path);
  }

  /**
   * Makes the directory and proves it writable before any work starts, so that a bad `--out`
   * fails at once with one line (ENOTDIR, EACCES, a read-only or virtual file system such as
   * /proc) instead of after minutes of training, or with a stack trace.
   */
  static ensureWritable(path: string): void {
    const probe = join(path, `.write-test-${process.pid}`);
    try {
      makeDirs(path);
      writeFileSync(probe, '');
      unlinkSync(probe);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why: Record<string, string> = { ENOTDIR: 'a part of the path is a file, not a directory', EACCES: 'permission denied', EROFS: 'read-only file system', ENOENT: 'cannot be created there', EEXIST: 'exists and is not a directory', ENOSPC: 'no space left on the device' };
      throw new UserError(`cannot write the run directory ${JSON.stringify(path)}: ${why[err.code ?? ''] ?? err.message} (${err.code ?? 'error'}); choose another --out`);
    }
  }

  file(name: string): string {
    return join(this.path, name);
  }

  get checkpointDir(): string {
    return this.file('checkpoint');
  }

  hasCheckpoint(): boolean {
    return existsSync(join(this.checkpointDir, 'model.safetensors'));
  }

  /** Appends one metrics event (with a timestamp). */
  log(event: Record<string, unknown>): void {
    appendFileSync(this.file('metrics.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  }

  /** Writes a JSON file atomically. */
  writeJson(name: string, value: unknown): void {
    const tmp = this.file(`${name}.tmp-${process.pid}`);
    writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(tmp, this.file(name));
  }

  readJson(name: string): unknown | undefined {
    const p = this.file(name);
    if (!existsSync(p)) return undefined;
    try {
      return JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      throw new Error(`${p}: invalid JSON (${(e as Error).message})`);
    }
  }
}

/**
 * `mkdir -p` without Node's recursive mkdir, which spins forever at full CPU on paths under
 * /proc (the kernel answers ENOENT for every level and libuv retries). Each missing component is
 * made in turn, so any failure comes back as an ordinary error.
 */
export function makeDirs(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const dir of missing.reverse()) mkdirSync(dir);
}
