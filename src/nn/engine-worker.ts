import { parentPort, workerData } from 'node:worker_threads';
import type { EngineJob, EngineReply, EngineWorkerData } from './engine-pool.js';
import { kernelsFor } from './engine.js';
import { Generator, type GeneratorOptions } from './generate.js';
import { Transformer } from './model.js';
import { runBatched } from './split-generate.js';
import { CharTokenizer } from './tokenizer.js';

/**
 * A worker thread's engine (started by EnginePool): its own Transformer, kernels and Generator
 * (KV and prefix cache) over a copy of the main thread's weights.
 *
 * Weights come from the pool's SharedArrayBuffer. onnxruntime-node refuses typed arrays on
 * shared memory ("Invalid argument"), so the engine cannot run its GEMMs on the shared array
 * itself: it keeps a private copy and refreshes it whenever the pool's version counter moved
 * (the main thread bumps it after writing changed weights, e.g. after in-place training). A
 * refresh also drops the prefix cache, whose keys and values belong to the old weights.
 */
const data = workerData as EngineWorkerData;
const tokenizer = new CharTokenizer(data.alphabet);
const model = new Transformer(data.config, kernelsFor(data.kernels, data.ortThreads));
const shared = new Float32Array(data.weights);
const version = new Int32Array(data.version);
const finished = new Int32Array(data.finished);
let loaded = -1;
let generator: Generator | null = null;
let generatorKey = '';

function generatorFor(opts: GeneratorOptions): Generator {
  // Atomics.load orders this read after the main thread's weight writes (it stores the version with Atomics.store).
  const v = Atomics.load(version, 0);
  const key = JSON.stringify(opts);
  const changed = v !== loaded;
  if (changed) {
    model.params.set(shared);
    loaded = v;
  }
  if (changed || !generator || key !== generatorKey) {
    // The old engine's weights compiled as constants (native sessions) go now, not at its collection.
    generator?.engine.releaseFrozenWeights();
    generator = new Generator(model, tokenizer, opts);
    generatorKey = key;
  }
  return generator;
}

parentPort!.on('message', (job: EngineJob) => {
  let reply: EngineReply;
  try {
    const g = generatorFor(job.generator);
    reply = { id: job.id, results: runBatched(g, job.parts, job.sampling) };
  } catch (e) {
    reply = { id: job.id, error: (e as Error).message };
  }
  parentPort!.postMessage(reply);
  Atomics.add(finished, 0, 1);
});
