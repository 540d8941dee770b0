import { parentPort, workerData } from 'node:worker_threads';
import { kernelsFor } from './engine.js';
import { accumulateGradients } from './microbatch.js';
import { Transformer } from './model.js';
import { DONE, READY, type TrainJob, type TrainReply, type TrainWorkerData } from './train-workers.js';

/**
 * A training worker (started by TrainWorkerPool): its own Transformer over the main thread's
 * parameters, computing the gradient of its rows of each step's batch with the same microbatch
 * code as the main thread (accumulateGradients), on one onnxruntime thread (one core each).
 */
const data = workerData as TrainWorkerData;
const model = new Transformer(data.config, kernelsFor(data.kernels, 1));
const params = new Float32Array(data.params);
const grads = new Float32Array(data.grads);
const ctrl = new Int32Array(data.ctrl);

parentPort!.on('message', (job: TrainJob) => {
  let reply: TrainReply;
  try {
    // The main thread wrote the parameters before posting the job (postMessage orders them).
    model.params.set(params);
    model.zeroGrad();
    const lossSum = accumulateGradients(model, job, job.total);
    grads.set(model.grads);
    reply = { seq: job.seq, lossSum };
  } catch (e) {
    reply = { seq: job.seq, error: (e as Error).message };
  }
  // Reply first, then signal: the main thread reads the reply once it sees DONE.
  data.port.postMessage(reply);
  Atomics.store(ctrl, DONE, job.seq);
  Atomics.notify(ctrl, DONE);
});

Atomics.store(ctrl, READY, 1);
