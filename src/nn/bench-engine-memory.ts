import { pathToFileURL } from 'node:url';
import { Rng } from '../core/rng.js';
import { configForSize, type ModelSize } from './config.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { LmTrainer } from './train.js';
import { CharTokenizer } from './tokenizer.js';

/**
 * Memory of training alone: run in a fresh process (`node dist/nn/bench-engine-memory.js [size]
 * [workers] [steps]`, as bench/engine-vs-pytorch.mjs does), so that the peak resident set is that
 * of training, not of the bench's other figures (sampling engines, reference kernels). Issue 12's
 * target: the demo size trains in under 1 GiB.
 */
export interface TrainMemory {
  size: ModelSize;
  workers: number;
  steps: number;
  /** Peak resident set of the process (all threads: main, workers, onnxruntime), MiB. */
  peak_rss_mib: number;
  /** Resident set before the model was made (Node, onnxruntime loaded), MiB. */
  base_rss_mib: number;
  /** The main thread's buffer pool (activations and gradients of one microbatch), MiB. */
  pool_mib: number;
  /** Parameters, gradients and AdamW moments (4 floats per parameter), MiB. */
  params_mib: number;
}

const ALPHABET = '0123456789+-*=: \nabcdefghijklmnopqrstuvwxyzAPQ.,()';

/** Trains `steps` steps at batch 32, length 128 (the bench's training shape) and reports memory. */
export async function trainMemory(size: ModelSize, workers: number, steps: number): Promise<TrainMemory> {
  createOrtKernels().gemm(new Float32Array(1), new Float32Array(1), 1, 1, 1, false, false); // load onnxruntime first: base RSS counts it
  const base = process.memoryUsage().rss;
  const tok = new CharTokenizer(ALPHABET);
  const cfg = configForSize(size, tok.vocabSize);
  const m = new Transformer(cfg, createOrtKernels());
  m.init(new Rng(1));
  const rng = new Rng(5);
  const rows = Array.from({ length: 64 }, () => ({ completion: Array.from({ length: 128 }, () => ALPHABET[rng.int(0, ALPHABET.length - 1)]).join(''), eos: false }));
  const trainer = new LmTrainer(m, tok, rows, { steps: 1000, batchSize: 32, workers, seed: 1 });
  try {
    for (let i = 0; i < steps; i++) trainer.trainStep();
  } finally {
    await trainer.close();
  }
  const mib = (b: number): number => Math.round(b / 2 ** 20);
  return { size, workers, steps, peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024), base_rss_mib: mib(base), pool_mib: mib(m.kernels.pool.held * 4), params_mib: mib(m.params.length * 16) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [size = 'demo', workers = '1', steps = '5'] = process.argv.slice(2);
  if (size !== 'demo' && size !== 'small') {
    console.error(`bench-engine-memory: size ${JSON.stringify(size)} is not valid (demo, small)`);
    process.exit(2);
  }
  if (!/^\d$/.test(workers) || !/^[1-9]\d?$/.test(steps)) {
    console.error(`bench-engine-memory: workers ${JSON.stringify(workers)} / steps ${JSON.stringify(steps)} are not valid (workers 0-9, steps 1-99)`);
    process.exit(2);
  }
  console.log(JSON.stringify(await trainMemory(size, Number(workers), Number(steps))));
}
