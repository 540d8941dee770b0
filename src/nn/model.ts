import type { Rng } from '../core/rng.js';
import { outputSizeOf, parameterShapes, type ModelConfig } from './config.js';
import type { Kernels } from './kernels.js';
import { add, attention, crossEntropy, embedding, linear, rmsnorm, ropeQK, ropeTables, swiglu } from './ops.js';
import { Tensor } from './tensor.js';

/** One layer's parameters; qkv and gateUp are fused views over adjacent storage. */
interface Block {
  attnNorm: Tensor;
  qkv: Tensor; // [3C, C]
  attnOut: Tensor; // [C, C]
  ffnNorm: Tensor;
  gateUp: Tensor; // [2F, C]
  down: Tensor; // [C, F]
}

/**
 * The built-in policy model: a Llama-architecture decoder in one readable file.
 * All parameters live in one Float32Array (and their gradients in another), so the optimizer
 * is one loop and checkpoints are views; named views give the GGUF tensor names.
 */
export class Transformer {
  readonly config: ModelConfig;
  /** Every parameter, in `parameterShapes` order. */
  readonly params: Float32Array;
  readonly grads: Float32Array;
  /** Named views (GGUF names) into params. */
  readonly named: Map<string, { shape: number[]; offset: number; size: number }>;
  kernels: Kernels;

  private readonly tokEmbd: Tensor;
  private readonly blocks: Block[];
  private readonly outNorm: Tensor;
  private readonly output: Tensor;
  private rope: { T: number; cos: Float32Array; sin: Float32Array } | null = null;

  constructor(config: ModelConfig, kernels: Kernels) {
    this.config = config;
    this.kernels = kernels;
    const shapes = parameterShapes(config);
    const total = shapes.reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
    this.params = new Float32Array(total);
    this.grads = new Float32Array(total);
    this.named = new Map();
    let offset = 0;
    for (const [name, shape] of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      this.named.set(name, { shape, offset, size });
      offset += size;
    }
    const C = config.dModel;
    const F = config.dFF;
    // A parameter tensor spanning `rows` rows starting at the named tensor `first`.
    const view = (first: string, shape: number[]): Tensor => {
      const e = this.named.get(first)!;
      const size = shape.reduce((a, b) => a * b, 1);
      return new Tensor(this.params.subarray(e.offset, e.offset + size), shape, {
        requiresGrad: true,
        name: first,
        grad: this.grads.subarray(e.offset, e.offset + size),
      });
    };
    this.tokEmbd = view('token_embd.weight', [config.vocabSize, C]);
    this.blocks = [];
    for (let l = 0; l < config.nLayers; l++) {
      this.blocks.push({
        attnNorm: view(`blk.${l}.attn_norm.weight`, [C]),
        qkv: view(`blk.${l}.attn_q.weight`, [3 * C, C]),
        attnOut: view(`blk.${l}.attn_output.weight`, [C, C]),
        ffnNorm: view(`blk.${l}.ffn_norm.weight`, [C]),
        gateUp: view(`blk.${l}.ffn_gate.weight`, [2 * F, C]),
        down: view(`blk.${l}.ffn_down.weight`, [C, F]),
      });
    }
    this.outNorm = view('output_norm.weight', [C]);
    this.output = view('output.weight', [outputSizeOf(config), C]);
  }

  /**
   * GPT-2 / Llama-style initialization: N(0, 0.02) for matrices, residual output projections
   * scaled by 1/√(2L) (Radford et al. 2019), norms at 1.
   */
  init(rng: Rng): void {
    const residualScale = 1 / Math.sqrt(2 * this.config.nLayers);
    for (const [name, e] of this.named) {
      const v = this.params.subarray(e.offset, e.offset + e.size);
      if (name.endsWith('norm.weight')) {
        v.fill(1);
        continue;
      }
      const std = 0.02 * (name.endsWith('attn_output.weight') || name.endsWith('ffn_down.weight') ? residualScale : 1);
      for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    }
  }

  /** The named parameter's data (a view). */
  weight(name: string): Float32Array {
    const e = this.named.get(name);
    if (!e) throw new Error(`unknown parameter "${name}"`);
    return this.params.subarray(e.offset, e.offset + e.size);
  }

  ropeFor(T: number): { cos: Float32Array; sin: Float32Array } {
    if (!this.rope || this.rope.T < T) {
      const n = Math.max(T, this.config.contextLength);
      this.rope = { T: n, ...ropeTables(n, this.config.dModel / this.config.nHeads, this.config.ropeTheta) };
    }
    return this.rope;
  }

  /**
   * Forward pass: ids [B·T] → logits [B·T, V] (a Tensor carrying the autograd graph); a value
   * model (config.outputSize 1) returns one value per position, [B·T, 1].
   * Outputs live in the kernels' buffer pool: the caller resets it (`kernels.pool.reset()`)
   * once it is done with the tensors of earlier passes (the trainer does so every step).
   */
  forward(ids: Int32Array, B: number, T: number): Tensor {
    if (ids.length !== B * T) throw new Error(`forward: ${ids.length} ids for B=${B}, T=${T}`);
    if (T > this.config.contextLength) throw new Error(`forward: sequence length ${T} exceeds the context length ${this.config.contextLength}`);
    const k = this.kernels;
    const { nHeads: H, dModel: C, normEps: eps } = this.config;
    const D = C / H;
    const { cos, sin } = this.ropeFor(T);
    let x = embedding(this.tokEmbd, ids, k);
    for (const blk of this.blocks) {
      const h = rmsnorm(x, blk.attnNorm, eps, k);
      const qkv = ropeQK(linear(h, blk.qkv, k), B, T, H, D, cos, sin, k);
      x = add(x, linear(attention(qkv, B, T, H, D, k), blk.attnOut, k), k);
      const h2 = rmsnorm(x, blk.ffnNorm, eps, k);
      x = add(x, linear(swiglu(linear(h2, blk.gateUp, k), k), blk.down, k), k);
    }
    return linear(rmsnorm(x, this.outNorm, eps, k), this.output, k);
  }

  /** Mean next-token cross-entropy over positions where mask = 1. */
  loss(ids: Int32Array, targets: Int32Array, mask: Float32Array, B: number, T: number): Tensor {
    return crossEntropy(this.forward(ids, B, T), targets, mask, this.kernels);
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }
}
