import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CheckpointError, loadCheckpoint, saveCheckpoint, type CheckpointIn } from './checkpoint.js';
import { readSafetensorsHeader, writeSafetensors } from './safetensors.js';
import { CharTokenizer } from './tokenizer.js';

const configSchema = z.object({
  dModel: z.number().int().min(8).max(4096),
  nLayer: z.number().int().min(1).max(64),
  vocabSize: z.number().int().positive(),
});
type Config = z.infer<typeof configSchema>;

const shapes = (c: Config): Record<string, number[]> => ({
  'tok_embd.weight': [c.vocabSize, c.dModel],
  ...Object.fromEntries(Array.from({ length: c.nLayer }, (_, i) => [`blk.${i}.attn_q.weight`, [c.dModel, c.dModel]])),
});

function makeCheckpoint(config: Config = { dModel: 8, nLayer: 2, vocabSize: 6 }): CheckpointIn {
  const weights: CheckpointIn['weights'] = {};
  let k = 0;
  for (const [name, shape] of Object.entries(shapes(config))) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(k++);
    weights[name] = { shape, data };
  }
  return { weights, config, tokenizer: new CharTokenizer('abc'), meta: { step: 12, loss: 1.25, run: 'x' } };
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'checkpoint-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The one-line CheckpointError message of `fn`. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected an error');
}

/** A fresh valid checkpoint directory to break. */
function fresh(name: string): string {
  const dir = join(root, name);
  saveCheckpoint(dir, makeCheckpoint());
  return dir;
}

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips weights, config, tokenizer and meta', () => {
    const dir = join(root, 'runs', 'a', 'checkpoints', 'iter-1');
    const ckpt = makeCheckpoint();
    saveCheckpoint(dir, ckpt);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(readdirSync(join(root, 'runs', 'a', 'checkpoints'))).toEqual(['iter-1']); // no temp dirs left
    const back = loadCheckpoint(dir, configSchema, shapes);
    expect(back.config).toEqual(ckpt.config);
    expect(back.meta).toEqual(ckpt.meta);
    expect(back.tokenizer.alphabet).toBe('abc');
    expect(Object.keys(back.weights).sort()).toEqual(Object.keys(ckpt.weights).sort());
    for (const [name, w] of Object.entries(ckpt.weights)) {
      expect(back.weights[name]!.shape).toEqual(w.shape);
      expect(back.weights[name]!.data).toEqual(w.data);
    }
    // config.json and tokenizer.json are plain JSON for people and other tools.
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(ckpt.config);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(ckpt.tokenizer.toJSON());
    expect(readSafetensorsHeader(join(dir, 'model.safetensors')).metadata).toEqual({ format: 'pt', 'searchlearn.meta': '{"step":12,"loss":1.25,"run":"x"}' });
  });

  it('loads without expectedShapes and without meta', () => {
    const dir = join(root, 'nometa');
    const { meta: _meta, ...ckpt } = makeCheckpoint();
    saveCheckpoint(dir, ckpt);
    const back = loadCheckpoint(dir, configSchema);
    expect(back.meta).toBeUndefined();
    expect(Object.keys(back.weights)).toHaveLength(3);
  });

  it('replaces an existing checkpoint, leaving nothing else behind', () => {
    const dir = fresh('replace');
    const next = makeCheckpoint({ dModel: 16, nLayer: 1, vocabSize: 6 });
    saveCheckpoint(dir, next);
    expect(loadCheckpoint(dir, configSchema, shapes).config).toEqual(next.config);
    expect(readdirSync(root).filter((f) => f.startsWith('replace'))).toEqual(['replace']);
  });

  it('keeps the old checkpoint when a save fails, and cleans up its temp dir', () => {
    const dir = fresh('failsave');
    const bad = makeCheckpoint();
    bad.weights['tok_embd.weight'] = { shape: [6, 9], data: new Float32Array(48) };
    expect(errorOf(() => saveCheckpoint(dir, bad))).toBe(
      `checkpoint ${join(dir, 'model.safetensors')}: tensor "tok_embd.weight": shape [6,9] has 54 elements but data has 48`,
    );
    expect(loadCheckpoint(dir, configSchema, shapes).meta).toEqual({ step: 12, loss: 1.25, run: 'x' });
    expect(readdirSync(root).filter((f) => f.startsWith('failsave'))).toEqual(['failsave']);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(errorOf(() => saveCheckpoint(dir, { ...makeCheckpoint(), config: cyclic }))).toMatch(/config\.json: cannot be written as JSON: /);
  });

  it('refuses to replace a directory holding other files', () => {
    const dir = join(root, 'foreign');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    expect(errorOf(() => saveCheckpoint(dir, makeCheckpoint()))).toBe(
      `checkpoint ${dir}: exists and holds other files (notes.txt); refusing to replace it`,
    );
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('ignores the temp dir a killed save left beside a good checkpoint', () => {
    const dir = fresh('killed');
    mkdirSync(`${dir}.tmp-999999`);
    writeFileSync(join(`${dir}.tmp-999999`, 'model.safetensors'), 'half');
    expect(loadCheckpoint(dir, configSchema, shapes).config.dModel).toBe(8);
    // The next save removes leftovers of dead processes, not those of live ones.
    mkdirSync(`${dir}.old-999999`);
    mkdirSync(`${dir}.tmp-${process.ppid}`);
    saveCheckpoint(dir, makeCheckpoint());
    expect(readdirSync(root).filter((f) => f.startsWith('killed')).sort()).toEqual(['killed', `killed.tmp-${process.ppid}`]);
  });
});

describe('loadCheckpoint errors', () => {
  it('names a missing directory, pointing at what an interrupted save left', () => {
    const missing = join(root, 'nowhere');
    expect(errorOf(() => loadCheckpoint(missing, configSchema))).toBe(`checkpoint ${missing}: directory missing`);
    // Killed between the two renames of a replacing save: the old checkpoint sits in <dir>.old-<pid>.
    const dir = fresh('swap');
    renameSync(dir, `${dir}.old-4242`);
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toBe(
      `checkpoint ${dir}: directory missing (an interrupted save left the previous checkpoint in ${dir}.old-4242: rename it to ${dir} to use it)`,
    );
    const tmpOnly = join(root, 'tmponly');
    mkdirSync(`${tmpOnly}.tmp-77`);
    expect(errorOf(() => loadCheckpoint(tmpOnly, configSchema))).toBe(
      `checkpoint ${tmpOnly}: directory missing (an interrupted save left ${tmpOnly}.tmp-77, possibly incomplete)`,
    );
  });

  it('names each missing file', () => {
    for (const file of ['model.safetensors', 'config.json', 'tokenizer.json']) {
      const dir = fresh(`missing-${file}`);
      rmSync(join(dir, file));
      expect(errorOf(() => loadCheckpoint(dir, configSchema))).toBe(`checkpoint ${join(dir, file)}: file missing`);
    }
  });

  it('names the invalid config field, its value and the valid range', () => {
    const dir = fresh('badconfig');
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ dModel: 8, nLayer: 100, vocabSize: 6 }));
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toMatch(
      new RegExp(`^checkpoint ${escape(path)}: config field "nLayer" is 100: .*<=64`),
    );
    writeFileSync(path, JSON.stringify({ dModel: 8, vocabSize: 6 }));
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toMatch(/config\.json: config field "nLayer" missing: /);
    writeFileSync(path, '{"dModel": 8,');
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toMatch(new RegExp(`^checkpoint ${escape(path)}: not valid JSON \\(`));
    writeFileSync(path, '[]');
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toMatch(/config\.json: config invalid: /);
  });

  it('reports an invalid tokenizer', () => {
    const dir = fresh('badtok');
    const path = join(dir, 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ type: 'char', alphabet: 5, specials: { pad: 0, bos: 1, eos: 2 } }));
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toMatch(
      new RegExp(`^checkpoint ${escape(path)}: tokenizer JSON invalid: field "alphabet": `),
    );
  });

  it('reports weights missing, unexpected or mis-shaped against the config', () => {
    const dir = fresh('shapes');
    const path = join(dir, 'model.safetensors');
    const config = { dModel: 8, nLayer: 2, vocabSize: 6 };
    const write = (ws: Record<string, number[]>) =>
      writeSafetensors(path, Object.fromEntries(Object.entries(ws).map(([n, s]) => [n, { dtype: 'F32' as const, shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)) }])));

    write({ ...shapes(config), 'blk.0.attn_q.weight': [64, 128] });
    expect(errorOf(() => loadCheckpoint(dir, configSchema, shapes))).toBe(
      `checkpoint ${path}: tensor "blk.0.attn_q.weight" has shape [64,128], config expects [8,8]`,
    );
    const { 'blk.1.attn_q.weight': _dropped, ...rest } = shapes(config);
    write(rest);
    expect(errorOf(() => loadCheckpoint(dir, configSchema, shapes))).toBe(
      `checkpoint ${path}: tensor "blk.1.attn_q.weight" missing (config expects [8,8])`,
    );
    write({ ...shapes(config), 'blk.2.attn_q.weight': [8, 8], 'extra': [1] });
    expect(errorOf(() => loadCheckpoint(dir, configSchema, shapes))).toBe(
      `checkpoint ${path}: unexpected tensors "blk.2.attn_q.weight", "extra" (not in the config's model)`,
    );
    writeSafetensors(path, { ...Object.fromEntries(Object.entries(shapes(config)).map(([n, s]) => [n, { dtype: 'F32' as const, shape: s, data: new Float32Array(s[0]! * s[1]!) }])), ids: { dtype: 'I32', shape: [1], data: new Int32Array(1) } });
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toBe(
      `checkpoint ${path}: tensor "ids" has dtype I32; weights must be F32, F16 or BF16`,
    );
  });

  it('reports a corrupt or truncated model.safetensors', () => {
    const dir = fresh('corrupt');
    const path = join(dir, 'model.safetensors');
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 10));
    expect(errorOf(() => loadCheckpoint(dir, configSchema, shapes))).toMatch(
      new RegExp(`^checkpoint ${escape(path)}: tensor "[^"]+" data_offsets \\[\\d+,\\d+\\] run past the end of the data section \\(\\d+ bytes\\): file truncated$`),
    );
    writeFileSync(path, full.subarray(0, 5));
    expect(errorOf(() => loadCheckpoint(dir, configSchema))).toBe(
      `checkpoint ${path}: file is 5 bytes, shorter than the 8-byte header length`,
    );
  });

  it('reports a path that is not a directory', () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    expect(errorOf(() => loadCheckpoint(file, configSchema))).toBe(`checkpoint ${file}: not a directory`);
    expect(existsSync(file)).toBe(true);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
