import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { encodeModel, type OnnxGraph } from './onnx-proto.js';

/**
 * A synchronous onnxruntime session over a small graph.
 *
 * onnxruntime-node's public `InferenceSession.run` wraps a synchronous native call in a Promise
 * and a setImmediate; our autograd calls a kernel per op, so we use the native binding's
 * synchronous `run` directly (same library, same threads, no event-loop round trip per kernel).
 */
const require = createRequire(import.meta.url);

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, { data: Float32Array; dims: readonly number[] }>;
  dispose(): void;
}

interface OrtModule {
  Tensor: new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]) => unknown;
}

let native: { binding: { InferenceSession: new () => NativeSession }; ort: OrtModule } | null = null;

function loadNative(): NonNullable<typeof native> {
  if (native) return native;
  try {
    const ort = require('onnxruntime-node') as OrtModule;
    const b = require('onnxruntime-node/dist/binding.js') as { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void };
    b.initOrt();
    native = { binding: b.binding, ort };
    return native;
  } catch (e) {
    throw new Error(`onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]}); run with --kernels reference to use the plain-TypeScript kernels`);
  }
}

/**
 * Threads for onnxruntime's intra-op pool: 1 unless SEARCHLEARN_THREADS says otherwise.
 * Measured on the 2-vCPU development VM, one thread trained the demo model faster than two
 * (median GEMM 4096×128×688: 5.5 ms on one thread, 10+ ms on two, with frequent stalls while the
 * pool's second thread waited to be scheduled); on a machine with idle cores, set it higher.
 */
export function ortThreads(): number {
  const env = Number(process.env['SEARCHLEARN_THREADS']);
  return Number.isInteger(env) && env > 0 ? Math.min(env, availableParallelism()) : 1;
}

export class OrtSession {
  private readonly session: NativeSession;
  private readonly ort: OrtModule;
  private readonly outputNames: string[];

  constructor(graph: OnnxGraph, threads = ortThreads()) {
    const { binding, ort } = loadNative();
    this.ort = ort;
    const bytes = encodeModel(graph);
    this.session = new binding.InferenceSession();
    this.session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    this.outputNames = graph.outputs.map((o) => o.name);
  }

  /**
   * Runs the graph; inputs are float32 (or int32) arrays with their shapes. Outputs are written into the
   * given buffers (onnxruntime writes into our memory: no copy, no fresh allocation).
   */
  run(inputs: Record<string, [Float32Array | Int32Array, readonly number[]]>, outputs: Record<string, [Float32Array, readonly number[]]>): void {
    const feeds: Record<string, unknown> = {};
    for (const [name, [data, dims]] of Object.entries(inputs)) feeds[name] = new this.ort.Tensor(data instanceof Int32Array ? 'int32' : 'float32', data, dims);
    const fetches: Record<string, unknown> = {};
    for (const n of this.outputNames) {
      const o = outputs[n];
      if (!o) throw new Error(`onnxruntime session: no buffer given for output "${n}"`);
      fetches[n] = new this.ort.Tensor('float32', o[0], o[1]);
    }
    this.session.run(feeds, fetches, {});
  }

  /** Frees the native session (its packed weights); `run` must not be called after. */
  dispose(): void {
    this.session.dispose();
  }
}
