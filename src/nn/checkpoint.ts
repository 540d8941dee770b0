/**
 * Model checkpoints: a directory holding
 *
 *   model.safetensors  the weights (F32), with `meta` as JSON in the `__metadata__` map
 *   config.json        the model config (any JSON object; the caller's zod schema validates it)
 *   tokenizer.json     the CharTokenizer
 *
 * Saving is atomic at the directory level: everything is written and fsynced into `<dir>.tmp-<pid>`,
 * which is then renamed to `<dir>`. Replacing an existing checkpoint moves the old one to
 * `<dir>.old-<pid>` first and deletes it last, so a run killed at any moment leaves either the old or
 * the new checkpoint complete (in the one window between the two renames, `<dir>` is missing and
 * loadCheckpoint's error points at the complete `.old` copy). Every load failure is one line naming
 * the file and the problem.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { fsyncDir, readSafetensors, SafetensorsError, writeSafetensors, type TensorIn } from './safetensors.js';
import { CharTokenizer } from './tokenizer.js';

export const CHECKPOINT_FILES = { weights: 'model.safetensors', config: 'config.json', tokenizer: 'tokenizer.json' } as const;

/** The `__metadata__` key under which `meta` is stored, as a JSON string (safetensors metadata is string to string). */
const META_KEY = 'searchlearn.meta';

export interface Weight {
  shape: number[];
  data: Float32Array;
}

export interface CheckpointIn {
  weights: Record<string, Weight>;
  /** The model config: a JSON-serializable object. */
  config: object;
  tokenizer: CharTokenizer;
  /** Free-form JSON (step, loss, run name, ...). */
  meta?: Record<string, unknown>;
}

export interface Checkpoint<C> {
  weights: Record<string, Weight>;
  config: C;
  tokenizer: CharTokenizer;
  meta: Record<string, unknown> | undefined;
}

export class CheckpointError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`checkpoint ${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** Writes a checkpoint directory atomically, replacing an earlier checkpoint at `dir`. */
export function saveCheckpoint(dir: string, ckpt: CheckpointIn): void {
  const { weights, config, tokenizer, meta } = ckpt;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CheckpointError(join(dir, CHECKPOINT_FILES.config), 'config must be a JSON object');
  }
  const configText = toJson(join(dir, CHECKPOINT_FILES.config), config);
  const tokenizerText = toJson(join(dir, CHECKPOINT_FILES.tokenizer), tokenizer.toJSON());
  // transformers refuses safetensors metadata without format ∈ {pt, tf, flax, mlx}; "pt" is true
  // enough: the weights are plain row-major F32, as torch reads them.
  const metadata: Record<string, string> = { format: 'pt' };
  if (meta !== undefined) metadata[META_KEY] = toJson(join(dir, CHECKPOINT_FILES.weights), meta, 0);
  if (existsSync(dir)) assertReplaceable(dir);

  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const tensors: Record<string, TensorIn> = {};
    for (const [name, w] of Object.entries(weights)) {
      Object.defineProperty(tensors, name, { value: { dtype: 'F32', shape: w.shape, data: w.data }, enumerable: true });
    }
    try {
      writeSafetensors(join(tmp, CHECKPOINT_FILES.weights), tensors, metadata);
    } catch (e) {
      // Report the checkpoint's path, not the temp directory's.
      throw e instanceof SafetensorsError ? new CheckpointError(join(dir, CHECKPOINT_FILES.weights), e.problem) : e;
    }
    writeSynced(join(tmp, CHECKPOINT_FILES.config), configText);
    writeSynced(join(tmp, CHECKPOINT_FILES.tokenizer), tokenizerText);
    fsyncDir(tmp);
    if (existsSync(dir)) {
      rmSync(old, { recursive: true, force: true });
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
    fsyncDir(dirname(dir));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(dir, `cannot save: ${oneLine((e as Error).message)}`);
  }
  removeStaleSiblings(dir);
}

/**
 * Loads and checks a checkpoint. `configSchema` validates config.json; `expectedShapes`, given the
 * parsed config, names every weight the model needs and its shape: a missing, unexpected or
 * mis-shaped weight is an error.
 */
export function loadCheckpoint<C>(
  dir: string,
  configSchema: z.ZodType<C>,
  expectedShapes?: (config: C) => Record<string, number[]>,
): Checkpoint<C> {
  if (!existsSync(dir)) throw new CheckpointError(dir, `directory missing${leftoverHint(dir)}`);
  if (!statSync(dir).isDirectory()) throw new CheckpointError(dir, 'not a directory');
  const path = (f: string) => join(dir, f);
  for (const f of Object.values(CHECKPOINT_FILES)) {
    if (!existsSync(path(f))) throw new CheckpointError(path(f), 'file missing');
  }

  const configPath = path(CHECKPOINT_FILES.config);
  const rawConfig = readJson(configPath);
  const parsed = configSchema.safeParse(rawConfig);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.');
    const got = valueAt(rawConfig, issue.path);
    const shown = got === undefined ? 'missing' : `is ${truncate(JSON.stringify(got))}`;
    throw new CheckpointError(configPath, field ? `config field "${field}" ${shown}: ${issue.message}` : `config invalid: ${issue.message}`);
  }
  const config = parsed.data;

  const tokenizerPath = path(CHECKPOINT_FILES.tokenizer);
  let tokenizer: CharTokenizer;
  try {
    tokenizer = CharTokenizer.fromJSON(readJson(tokenizerPath));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(tokenizerPath, oneLine((e as Error).message));
  }

  const weightsPath = path(CHECKPOINT_FILES.weights);
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(weightsPath);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(weightsPath, e.problem);
    throw e;
  }
  const weights: Record<string, Weight> = {};
  for (const [name, t] of Object.entries(file.tensors)) {
    // readSafetensors widens F16/BF16 to Float32Array, so half-precision exports load too.
    if (!(t.data instanceof Float32Array)) {
      throw new CheckpointError(weightsPath, `tensor ${JSON.stringify(name)} has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
    }
    Object.defineProperty(weights, name, { value: { shape: t.shape, data: t.data }, enumerable: true, writable: true, configurable: true });
  }

  if (expectedShapes) {
    const expected = expectedShapes(config);
    for (const [name, shape] of Object.entries(expected)) {
      const w = Object.hasOwn(weights, name) ? weights[name] : undefined;
      if (!w) throw new CheckpointError(weightsPath, `tensor ${JSON.stringify(name)} missing (config expects [${shape.join(',')}])`);
      if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
        throw new CheckpointError(weightsPath, `tensor ${JSON.stringify(name)} has shape [${w.shape.join(',')}], config expects [${shape.join(',')}]`);
      }
    }
    const unexpected = Object.keys(weights).filter((name) => !Object.hasOwn(expected, name));
    if (unexpected.length > 0) {
      const names = unexpected.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
      const more = unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : '';
      throw new CheckpointError(weightsPath, `unexpected tensor${unexpected.length > 1 ? 's' : ''} ${names}${more} (not in the config's model)`);
    }
  }

  let meta: Record<string, unknown> | undefined;
  const metaText = file.metadata[META_KEY];
  if (metaText !== undefined) {
    try {
      meta = JSON.parse(metaText) as Record<string, unknown>;
    } catch (e) {
      throw new CheckpointError(weightsPath, `metadata "${META_KEY}" is not valid JSON (${oneLine((e as Error).message)})`);
    }
  }
  return { weights, config, tokenizer, meta };
}

/** Refuses to replace a directory that holds anything but a checkpoint's own files. */
function assertReplaceable(dir: string): void {
  if (!statSync(dir).isDirectory()) throw new CheckpointError(dir, 'exists and is not a directory');
  const known = new Set<string>(Object.values(CHECKPOINT_FILES));
  const foreign = readdirSync(dir).filter((f) => !known.has(f) && !f.startsWith(`.${CHECKPOINT_FILES.weights}.tmp-`));
  if (foreign.length > 0) {
    throw new CheckpointError(dir, `exists and holds other files (${foreign.slice(0, 5).join(', ')}); refusing to replace it`);
  }
}

/** Deletes the `<dir>.tmp-<pid>` and `<dir>.old-<pid>` left by saves whose process has died. */
function removeStaleSiblings(dir: string): void {
  const pattern = new RegExp(`^${basename(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-(\\d+)$`);
  let siblings: string[] = [];
  try {
    siblings = readdirSync(dirname(dir));
  } catch {
    return;
  }
  for (const s of siblings) {
    const m = pattern.exec(s);
    if (m && !processAlive(Number(m[2]))) rmSync(join(dirname(dir), s), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** After an interrupted save, names the sibling directories it left behind. */
function leftoverHint(dir: string): string {
  const base = basename(dir);
  let siblings: string[];
  try {
    siblings = readdirSync(dirname(dir));
  } catch {
    return '';
  }
  const old = siblings.filter((s) => s.startsWith(`${base}.old-`));
  if (old.length > 0) {
    return ` (an interrupted save left the previous checkpoint in ${join(dirname(dir), old[0]!)}: rename it to ${dir} to use it)`;
  }
  const tmp = siblings.filter((s) => s.startsWith(`${base}.tmp-`));
  if (tmp.length > 0) return ` (an interrupted save left ${join(dirname(dir), tmp[0]!)}, possibly incomplete)`;
  return '';
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(path, `cannot read: ${oneLine((e as Error).message)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(path, `not valid JSON (${oneLine((e as Error).message)})`);
  }
}

function toJson(path: string, value: unknown, indent = 2): string {
  try {
    const text = JSON.stringify(value, null, indent);
    if (text === undefined) throw new Error('nothing to serialize');
    return indent > 0 ? `${text}\n` : text;
  } catch (e) {
    throw new CheckpointError(path, `cannot be written as JSON: ${oneLine((e as Error).message)}`);
  }
}

function writeSynced(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    const bytes = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let v = obj;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function truncate(s: string | undefined, max = 60): string {
  if (s === undefined) return 'undefined';
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
