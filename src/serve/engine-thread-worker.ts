import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { kernelsFor } from '../nn/engine.js';
import { Transformer } from '../nn/model.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { ContinuousBatcher } from './continuous-batcher.js';
import type { EngineThreadData, FromEngine, ToEngine } from './engine-thread.js';

/** The engine thread (engine-thread.ts): a ContinuousBatcher over its own copy of the model. */
const data = workerData as EngineThreadData;
const model = new Transformer(data.config, kernelsFor(data.kernels));
model.params.set(data.weights);
const port = parentPort!;
// No engine pool of its own: this thread is the engine. While it decodes it reads new jobs and
// cancellations from its port between steps, without yielding to the event loop; when idle, the
// port's 'message' event wakes it.
const batcher = new ContinuousBatcher(new BuiltinPolicy(model, new CharTokenizer(data.alphabet), { workers: 0 }), data.batcher, {
  inbox: () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) receive(m.message as ToEngine);
  },
});
const jobs = new Map<number, AbortController>();
const post = (m: FromEngine): void => port.postMessage(m);

port.on('message', receive);

function receive(m: ToEngine): void {
  if (m.type === 'cancel') {
    jobs.get(m.id)?.abort(new Error('the client left'));
    return;
  }
  const { id, job } = m;
  const ac = new AbortController();
  jobs.set(id, ac);
  const { stream, ...rest } = job;
  batcher
    .submit({ ...rest, signal: ac.signal, ...(stream ? { onText: (prompt: number, sample: number, delta: string) => post({ type: 'text', id, prompt, sample, delta }) } : {}) })
    .then(
      (result) => post({ type: 'done', id, result, stats: { ...batcher.stats } }),
      (e: unknown) => post({ type: 'error', id, message: e instanceof Error ? e.message : String(e), stats: { ...batcher.stats } }),
    )
    .finally(() => jobs.delete(id));
}
