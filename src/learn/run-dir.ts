import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A run directory: everything a run writes, so that nothing is lost when it stops and it can
 * resume. Layout (ARCHITECTURE.md): config.json, metrics.jsonl (one JSON object per event,
 * standard names such as `train/loss`), checkpoint/, and run-specific files.
 */
export class RunDir {
  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
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
