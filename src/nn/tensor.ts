import { addInto as plainAddInto } from './kernels.js';

/**
 * Tensors and reverse-mode autodiff, kept as small as the model needs.
 *
 * A Tensor is a Float32Array in row-major order with a shape. Ops (ops.ts) create outputs that
 * remember their parents and a `backward` closure which adds the output's gradient into the
 * parents' gradients. `backward(loss)` runs the closures in reverse topological order
 * (as micrograd and llm.c's `X_backward` pairs, but recorded by the ops themselves).
 */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
  grad: Float32Array | null = null;
  readonly requiresGrad: boolean;
  /** Inputs this tensor was computed from (empty for leaves). */
  readonly parents: readonly Tensor[];
  /** Adds this.grad into the parents' grads. */
  backwardFn: (() => void) | null;
  /** A name for error messages and parameter listings. */
  name: string;

  constructor(data: Float32Array, shape: readonly number[], opts: { requiresGrad?: boolean; parents?: Tensor[]; backward?: () => void; name?: string; grad?: Float32Array } = {}) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`Tensor ${opts.name ?? ''}: data length ${data.length} does not match shape [${shape.join(',')}]`);
    this.data = data;
    this.shape = shape;
    this.parents = opts.parents ?? [];
    this.backwardFn = opts.backward ?? null;
    this.requiresGrad = opts.requiresGrad ?? this.parents.some((p) => p.requiresGrad);
    this.name = opts.name ?? '';
    if (opts.grad) this.grad = opts.grad;
  }

  get size(): number {
    return this.data.length;
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuffer(): Float32Array {
    if (!this.grad) this.grad = new Float32Array(this.data.length);
    return this.grad;
  }

  /**
   * Adds g into this tensor's gradient (with `addInto`, e.g. the kernels' SIMD one, else the plain loop).
   * When there is none yet, g itself becomes the gradient (no copy): callers hand over a buffer
   * they no longer use.
   */
  accumulateGrad(g: Float32Array, addInto?: (dst: Float32Array, src: Float32Array) => void): void {
    if (!this.grad) {
      if (g.length !== this.data.length) throw new Error(`gradient of length ${g.length} for a tensor of ${this.data.length}`);
      this.grad = g;
      return;
    }
    (addInto ?? plainAddInto)(this.grad, g);
  }

  static zeros(shape: readonly number[], requiresGrad = false, name = ''): Tensor {
    return new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, { requiresGrad, name });
  }

  static from(values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, { requiresGrad });
  }
}

/**
 * Back-propagates from a scalar tensor: seeds its gradient with `scale` (1; a microbatch's share
 * of the batch under gradient accumulation) and runs every recorded
 * backward closure once, children before parents. Intermediate gradients are freed as soon as
 * they have been propagated, keeping peak memory near that of the forward pass.
 */
export function backward(loss: Tensor, scale = 1): void {
  if (loss.size !== 1) throw new Error(`backward: expected a scalar loss, got shape [${loss.shape.join(',')}]`);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS post-order (the graph of a deep model would overflow a recursive one).
  const stack: [Tensor, number][] = [[loss, 0]];
  seen.add(loss);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1] = i + 1;
      const p = t.parents[i]!;
      if (p.requiresGrad && !seen.has(p)) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  loss.grad = new Float32Array([scale]);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    if (t.backwardFn && t.grad) {
      t.backwardFn();
      // Non-leaf: its gradient is no longer needed.
      t.grad = null;
    }
  }
}
