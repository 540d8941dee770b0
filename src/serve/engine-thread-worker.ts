import { workerData } from 'node:worker_threads';
import { kernelsFor } from '../nn/engine.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { defaultContinuousBatcherConfig } from './continuous-batcher.js';
import { EngineLoop, type LoopJob } from './engine-loop.js';
import { CANCEL, DONE, ERROR, readSubmit, statKeys, SUBMIT, TEXT, writeDone, type EngineThreadData } from './engine-thread.js';
import { ChannelReader, ChannelWriter, RecordReader, RecordWriter } from './word-channel.js';

/**
 * The engine thread (engine-thread.ts): an EngineLoop over its own copy of the model, driven
 * without an event loop. Between turns it reads new jobs and cancellations from its channel;
 * with nothing to do it sleeps on the channel until a job comes.
 */
const data = workerData as EngineThreadData;
const model = new Transformer(data.config, kernelsFor(data.kernels));
model.params.set(data.weights);
// No engine pool of its own: this thread is the engine.
const policy = new BuiltinPolicy(model, new CharTokenizer(data.alphabet), { workers: 0 });
const windowMs = data.batcher.windowMs ?? defaultContinuousBatcherConfig.windowMs;
const loop = new EngineLoop(policy.generator, { stepsPerTurn: data.batcher.stepsPerTurn ?? defaultContinuousBatcherConfig.stepsPerTurn });
const inbox = new ChannelReader(data.toEngine, data.toEnginePort);
const outbox = new ChannelWriter(data.fromEngine, data.fromEnginePort);
const stats = new Float64Array(data.stats);
const record = new RecordWriter();
const jobs = new Map<number, LoopJob>();
/** Results written since the server's thread was last woken (it reads them on a timer while jobs are out). */
let unannounced = false;

const publish = (): void => {
  for (let i = 0; i < statKeys.length; i++) stats[i] = loop.stats[statKeys[i]!];
};
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function receive(words: Int32Array): void {
  const r = new RecordReader(words);
  const kind = r.int();
  if (kind === CANCEL) {
    const id = r.int();
    const j = jobs.get(id);
    if (j) loop.cancel(j, new Error('the client left'));
    return;
  }
  if (kind !== SUBMIT) throw new Error(`engine thread: unknown record kind ${kind}`);
  const { id, job, stream } = readSubmit(r);
  jobs.set(
    id,
    loop.add(job, {
      ...(stream ? { text: (p: number, j: number, delta: string) => outbox.write(record.reset().int(TEXT).int(id).int(p).int(j).str(delta).words()) } : {}),
      done: (seqs) => {
        jobs.delete(id);
        // The counters first: whoever reads this response then reads them with its generation in.
        publish();
        outbox.write(writeDone(record, id, seqs));
        unannounced = true;
      },
      fail: (e) => {
        jobs.delete(id);
        publish();
        // A cancelled job's end is written too; that side has forgotten the job and skips it.
        outbox.write(record.reset().int(ERROR).int(id).str(message(e)).words());
        unannounced = true;
      },
    }),
  );
}

const drain = (): void => {
  for (let w = inbox.read(); w; w = inbox.read()) receive(w);
};

// This thread's weights never change after the copy above, so the whole loop runs with them
// compiled into the decode graphs as constants (InferenceEngine.withFrozenWeights: onnxruntime
// packs them once, not at every step).
policy.generator.engine.withFrozenWeights(() => {
  for (;;) {
    drain();
    if (!loop.busy) {
      publish();
      // Out of work: wake the server's thread for the last results instead of letting them wait for its timer.
      if (unannounced) data.wakePort.postMessage(0);
      unannounced = false;
      inbox.wait(60_000);
      drain();
      // A job that finds the engine idle waits `windowMs` for company (0 by default: start at once).
      if (loop.busy && windowMs > 0) {
        const until = performance.now() + windowMs;
        for (let left = windowMs; left > 0; left = until - performance.now()) {
          inbox.wait(left);
          drain();
        }
      }
      continue;
    }
    loop.turn();
    publish();
  }
});
