import { attentionFunction, referenceAttention, type AttentionKernel } from './attention.js';
import { referenceRopeStore, ropeStoreFunction, type RopeStoreKernel } from './rope-store.js';
import { referenceSwiglu, swigluFunction, type SwigluKernel } from './swiglu.js';
import { buildModule } from './wasm-builder.js';

/** The decode step's element-wise kernels over one WebAssembly memory: SIMD, or the plain-TS references. */
export interface DecodeKernels extends AttentionKernel, SwigluKernel, RopeStoreKernel {
  readonly name: 'wasm-simd128' | 'reference';
}

/** The module for head size D: `attend` (attention.ts), `swiglu` (swiglu.ts) and `rope_store` (rope-store.ts), importing `env.memory`. */
export function decodeModuleBytes(D: number): Uint8Array<ArrayBuffer> {
  return buildModule([attentionFunction(D), swigluFunction(), ropeStoreFunction(D)]);
}

/** Whether this runtime validates a 128-bit SIMD module (Node ≥ 16.4 does). */
export function simdAvailable(): boolean {
  try {
    return WebAssembly.validate(decodeModuleBytes(4));
  } catch {
    return false;
  }
}

const compiled = new Map<number, WebAssembly.Module>();

/** The SIMD kernels for head size D, instantiated over `memory` (the module is compiled once per D). */
export function wasmDecodeKernels(memory: WebAssembly.Memory, D: number): DecodeKernels {
  let mod = compiled.get(D);
  if (!mod) compiled.set(D, (mod = new WebAssembly.Module(decodeModuleBytes(D))));
  const e = new WebAssembly.Instance(mod, { env: { memory } }).exports;
  return {
    name: 'wasm-simd128',
    attend: e['attend'] as AttentionKernel['attend'],
    swiglu: e['swiglu'] as SwigluKernel['swiglu'],
    ropeStore: e['rope_store'] as RopeStoreKernel['ropeStore'],
  };
}

export function referenceDecodeKernels(memory: WebAssembly.Memory, D: number): DecodeKernels {
  return { name: 'reference', ...referenceAttention(memory, D), ...referenceSwiglu(memory), ...referenceRopeStore(memory, D) };
}
