import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initCommand } from '../cli/init.js';
import { Rng } from '../core/rng.js';
import { parameterCount, type ModelConfig } from './config.js';
import { accumulateGradients } from './microbatch.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';
import { defaultTrainConfig, LmTrainer, type LmExample, type TrainConfig } from './train.js';
import { TrainWorkerPool } from './train-workers.js';

const corpus = ['Q: 12+7\nA: 19', 'Q: 30+4\nA: 34', 'Q: 5+5\nA: 10', 'Q: 21+2\nA: 23', 'Q: 8+13\nA: 21', 'Q: 40+40\nA: 80'];
const tok = CharTokenizer.fromCorpus(corpus);
const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, dFF: 64, contextLength: 32, ropeTheta: 10000, normEps: 1e-5 };
const examples: LmExample[] = corpus.map((c) => ({ prompt: c.slice(0, c.indexOf('\n') + 1), completion: c.slice(c.indexOf('\n') + 1), weight: c.length % 3 === 0 ? 0.5 : 1 }));

function freshModel(): Transformer {
  const m = new Transformer(cfg, createOrtKernels({ threads: 1 }));
  m.init(new Rng(11));
  return m;
}

/**
 * One model per worker count, re-initialized for each trainer: trainers over one model share its
 * worker pool (as the loop's do), so the workers start once per count (seconds each from sources).
 */
const models = new Map<number, Transformer>();
const trainers: LmTrainer[] = [];
function trainer(config: Partial<TrainConfig> & { workers: number }): LmTrainer {
  let m = models.get(config.workers);
  if (!m) models.set(config.workers, (m = freshModel()));
  else m.init(new Rng(11));
  // parallelMinFlops 0: these steps are far below the default's threshold.
  const t = new LmTrainer(m, tok, examples, { steps: 30, batchSize: 9, seed: 4, parallelMinFlops: 0, ...config });
  trainers.push(t);
  return t;
}
afterAll(async () => {
  await Promise.all(trainers.map((t) => t.close()));
});

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
}

describe('data-parallel training (worker threads)', () => {
  it('small steps stay on the main thread (parallelMinFlops)', () => {
    const t = trainer({ workers: 1, parallelMinFlops: 1e9 });
    expect(t.trainStep().threads).toBe(1);
  });

  it('one worker gives the single-thread gradient, loss and step (several microbatches per thread, odd rows)', () => {
    for (const microBatchTokens of [1 << 20, 40]) {
      const single = trainer({ workers: 0, microBatchTokens });
      const dual = trainer({ workers: 1, microBatchTokens });
      for (let s = 0; s < 2; s++) {
        const a = single.trainStep();
        const b = dual.trainStep();
        expect([a.threads, b.threads]).toEqual([1, 2]);
        expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
        expect(Math.abs(a.gradNorm - b.gradNorm) / a.gradNorm).toBeLessThan(1e-5);
        // The trainer leaves the step's gradient in model.grads.
        expect(maxRelDiff(single.model.grads, dual.model.grads)).toBeLessThan(1e-5);
        expect(maxRelDiff(single.model.params, dual.model.params)).toBeLessThan(1e-5);
      }
    }
  });

  it('more workers than rows: empty shares are skipped', () => {
    const single = trainer({ workers: 0, batchSize: 2 });
    const many = trainer({ workers: 2, batchSize: 2 });
    const a = single.trainStep();
    const b = many.trainStep();
    expect(b.threads).toBe(2);
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
    expect(maxRelDiff(single.model.grads, many.model.grads)).toBeLessThan(1e-5);
  });

  it('a short run reaches the single-thread loss, and is deterministic for a given worker count', () => {
    const run = (workers: number): number[] => {
      const t = trainer({ workers, steps: 40, batchSize: 8, optimizer: { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, clipNorm: 1 } });
      return Array.from({ length: 40 }, () => t.trainStep().loss);
    };
    const single = run(0);
    const dual = run(1);
    expect(run(1)).toEqual(dual);
    expect(single[39]!).toBeLessThan(single[0]! / 3);
    for (let i = 0; i < 40; i++) expect(Math.abs(dual[i]! - single[i]!)).toBeLessThan(1e-3 * Math.max(1, single[i]!));
  });

  it("a worker's error reaches the main thread as one message, and the pool recovers", () => {
    const m = freshModel();
    const pool = new TrainWorkerPool(m, 1);
    try {
      const T = cfg.contextLength + 1;
      pool.publish();
      pool.dispatch(0, { inputs: new Int32Array(T), targets: new Int32Array(T), mask: new Float32Array(T).fill(1), chunks: [{ B: 1, T }] }, T);
      expect(() => pool.collect(0)).toThrow(/train worker 0: forward: sequence length 33 exceeds the context length 32/);
      expect(pool.running).toBe(0);
      // A good job afterwards starts a fresh worker and matches the main thread's own gradient.
      const T2 = 8;
      const span = { inputs: new Int32Array(2 * T2).fill(3), targets: new Int32Array(2 * T2).fill(4), mask: new Float32Array(2 * T2).fill(1), chunks: [{ B: 2, T: T2 }] };
      pool.publish();
      pool.dispatch(0, span, 2 * T2);
      const r = pool.collect(0);
      expect(r.lossSum).toBeGreaterThan(0);
      m.zeroGrad();
      expect(accumulateGradients(m, span, 2 * T2)).toBeCloseTo(r.lossSum, 5);
      expect(m.grads.some((g) => g !== 0)).toBe(true);
      for (let i = 0; i < m.grads.length; i++) expect(Math.abs(r.grads[i]! - m.grads[i]!)).toBeLessThan(1e-6);
    } finally {
      void pool.close();
    }
  });
});

/** Runs a command asynchronously (a synchronous spawn would block the test worker's heartbeat). */
function run(args: string[], timeout: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout, maxBuffer: 1 << 26, env: { ...process.env, SEARCHLEARN_WORKERS: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number | null) ?? -1 : 0, stdout, stderr });
    });
  });
}

describe('the process exits with training workers left running', () => {
  it('from TypeScript sources (tsx), without close()', async () => {
    const here = import.meta.dirname;
    const script = `
      import { Rng } from ${JSON.stringify(join(here, '../core/rng.ts'))};
      import { Transformer } from ${JSON.stringify(join(here, 'model.ts'))};
      import { createOrtKernels } from ${JSON.stringify(join(here, 'ort/ort-kernels.ts'))};
      import { CharTokenizer } from ${JSON.stringify(join(here, 'tokenizer.ts'))};
      import { LmTrainer } from ${JSON.stringify(join(here, 'train.ts'))};
      const tok = CharTokenizer.fromCorpus(['ab+c']);
      const m = new Transformer({ vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: 16, ropeTheta: 10000, normEps: 1e-5 }, createOrtKernels({ threads: 1 }));
      m.init(new Rng(1));
      const t = new LmTrainer(m, tok, [{ completion: 'ab+c' }, { completion: 'c+ba' }], { steps: 2, batchSize: 4, workers: 1, parallelMinFlops: 0 });
      console.log(t.trainStep().loss > 0 && t.trainStep().loss > 0 ? 'trained' : 'bad');
    `;
    const r = await run(['--import', 'tsx', '--input-type=module', '-e', script], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('trained');
  });

  const main = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
  it.skipIf(!existsSync(join(import.meta.dirname, '..', '..', 'dist', 'nn', 'train-worker-entry.js')))('the compiled CLI: init --workers 1 trains and exits (dist/ built by npm test)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'searchlearn-train-workers-')), 'run');
    const r = await run([main, 'init', '--task', 'arith', '--out', out, '--steps', '3', '--train-problems', '64', '--eval-problems', '0', '--batch-size', '32', '--workers', '1'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)['steps']).toBe(3);
    // The steps were large enough for the worker: 32 rows of at least 16 positions on the demo size.
    const model = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))['model'] as ModelConfig;
    expect(6 * parameterCount(model) * 32 * 16).toBeGreaterThanOrEqual(defaultTrainConfig.parallelMinFlops);
  });
});

describe('init --workers', () => {
  it('rejects a bad value in one line', async () => {
    // In process: the flag is checked before anything runs.
    await expect(initCommand.run(['--task', 'arith', '--out', join(tmpdir(), 'never-written'), '--workers', '-1'])).rejects.toThrow(/^init: --workers "-1": must be >= 0$/);
  });
});
