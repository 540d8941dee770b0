import type { Kernels } from './kernels.js';
import { createReferenceKernels } from './kernels.js';
import { createOrtKernels } from './ort/ort-kernels.js';

export type KernelChoice = 'fast' | 'reference';

/** The kernels a command runs on: onnxruntime by default, the plain-TS reference on request. */
export function kernelsFor(choice: KernelChoice = 'fast', threads?: number): Kernels {
  return choice === 'reference' ? createReferenceKernels() : createOrtKernels(threads ? { threads } : {});
}
