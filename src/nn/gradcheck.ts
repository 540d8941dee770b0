import { backward, Tensor } from './tensor.js';

/**
 * Finite-difference gradient check: compares the analytic gradient of sum(w ⊙ f(inputs)) with
 * central differences, for every element of every input. Returns the worst relative error.
 * Used by tests for every op (llm.c's test_gpt2 checks gradients the same way, against PyTorch).
 */
export function gradcheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], h = 1e-2): number {
  const out0 = f(inputs);
  const w = new Float32Array(out0.size);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 1.7 + 0.3);
  const scalar = (y: Tensor): number => {
    let s = 0;
    for (let i = 0; i < y.size; i++) s += y.data[i]! * w[i]!;
    return s;
  };
  // Analytic: seed the output's gradient with w.
  for (const t of inputs) t.grad = null;
  const y = f(inputs);
  const loss = new Tensor(new Float32Array([scalar(y)]), [1], {
    parents: [y],
    backward: () => y.accumulateGrad(w.map((v) => v * loss.grad![0]!)),
  });
  backward(loss);
  let worst = 0;
  for (const t of inputs) {
    if (!t.requiresGrad) continue;
    const g = t.grad ?? new Float32Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const orig = t.data[i]!;
      t.data[i] = orig + h;
      const up = scalar(f(inputs));
      t.data[i] = orig - h;
      const down = scalar(f(inputs));
      t.data[i] = orig;
      const numeric = (up - down) / (2 * h);
      const err = Math.abs(numeric - g[i]!) / Math.max(1, Math.abs(numeric), Math.abs(g[i]!));
      worst = Math.max(worst, err);
    }
  }
  return worst;
}
