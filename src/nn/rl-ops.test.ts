import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { gradcheck } from './gradcheck.js';
import { createReferenceKernels } from './kernels.js';
import { clippedSurrogate, clippedValueLoss, dpoLoss, entropyOf, gae, klPenalty, maskedNll, sumLosses, tokenLogprobs, tokenLogprobsNoGrad } from './rl-ops.js';
import { Tensor } from './tensor.js';

const K = createReferenceKernels();
const rng = new Rng(7);
function param(shape: number[], scale = 1, offset = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => offset + rng.normal() * scale), shape, { requiresGrad: true });
}
// Float32 central differences: errors of a few 1e-3 are rounding; a wrong gradient is O(0.1) or more.
const TOL = 1e-2;

/** The forward value of `fwd` with the backward of `bwd`: a deliberately wrong op (a plausible bug). */
function withBackwardOf(fwd: Tensor, bwd: Tensor): Tensor {
  const y: Tensor = new Tensor(fwd.data, fwd.shape, { parents: [bwd], backward: () => bwd.accumulateGrad(y.grad!) });
  return y;
}

const N = 8;
const mask = Float32Array.from([1, 1, 0, 1, 1, 1, 0, 1]);
const adv = Float32Array.from([1.5, -0.7, 2, 0.9, -1.2, 0.4, 1, -2]);
// Log-ratios chosen away from the clip boundaries log(0.8), log(1.2) (central differences straddle no kink):
// positions 0, 1 inside; 3 (A>0, r≈1.65) and 4 (A<0, r≈0.55) clipped; 5 (A>0, r≈0.55) and 7 (A<0, r≈1.65) unclipped outside.
const logRatio = [0.05, -0.1, 0, 0.5, -0.6, -0.6, 0, 0.5];

describe('tokenLogprobs', () => {
  it('equals log-softmax gathered and matches the no-grad version', () => {
    const logits = param([3, 5], 2);
    const targets = Int32Array.from([4, 0, 2]);
    const y = tokenLogprobs(logits, targets, K);
    const ng = tokenLogprobsNoGrad(logits.data, targets, 5);
    for (let n = 0; n < 3; n++) {
      const row = Array.from(logits.data.subarray(n * 5, n * 5 + 5));
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      expect(y.data[n]).toBeCloseTo(row[targets[n]!]! - lse, 5);
      expect(ng[n]).toBeCloseTo(y.data[n]!, 6);
    }
    expect(() => tokenLogprobs(logits, Int32Array.from([5, 0, 0]), K)).toThrow(/outside/);
  });

  it('passes a finite-difference gradient check', () => {
    const targets = Int32Array.from([1, 3, 0, 6]);
    expect(gradcheck(([l]) => tokenLogprobs(l!, targets, K), [param([4, 7], 1.5)])).toBeLessThan(TOL);
  });
});

describe('DPO loss', () => {
  // Sequences: 0 = tokens 0..2, 1 = tokens 3..4, 2 = tokens 5..6, 3 = token 7; position 8 is padding.
  const seqOf = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 3, -1]);
  const ref = Float32Array.from([-1, -2, -0.5, -1.5, -1, -0.3, -2.2, -0.9, -5]);
  const base = { refLogps: ref, seqOf, chosen: Int32Array.from([0, 2]), rejected: Int32Array.from([1, 3]), pairNormalizer: 2, nllNormalizer: 5 };

  it('is log 2 when the policy equals the reference, and its statistics are the implicit rewards', () => {
    const out = dpoLoss({ ...base, logps: Tensor.from(ref, [9]), beta: 0.1, rpoAlpha: 0 });
    expect(out.loss.data[0]).toBeCloseTo(Math.log(2), 6);
    expect(Array.from(out.stats.rewardChosen)).toEqual([0, 0]);
    expect(out.stats.logpChosen[0]).toBeCloseTo(-3.5, 5);
  });

  it('equals the textbook formula, with the RPO NLL term as a token mean over chosen tokens', () => {
    const lp = Float32Array.from([-0.5, -1, -0.5, -2, -2, -0.1, -1, -1.5, 0]);
    const beta = 0.5;
    const sum = (a: Float32Array, s: number) => Array.from(a).reduce((acc, v, i) => acc + (seqOf[i] === s ? v : 0), 0);
    const z = (c: number, r: number) => beta * (sum(lp, c) - sum(ref, c) - (sum(lp, r) - sum(ref, r)));
    const ls = (x: number) => Math.log(1 / (1 + Math.exp(-x)));
    const nll = -(sum(lp, 0) + sum(lp, 2)) / 5;
    const expected = -(ls(z(0, 1)) + ls(z(2, 3))) / 2 + 1.0 * nll;
    expect(dpoLoss({ ...base, logps: Tensor.from(lp, [9]), beta, rpoAlpha: 1 }).loss.data[0]).toBeCloseTo(expected, 5);
  });

  it('passes a finite-difference gradient check (with and without the NLL term)', () => {
    for (const rpoAlpha of [0, 1]) {
      expect(gradcheck(([l]) => dpoLoss({ ...base, logps: l!, beta: 0.7, rpoAlpha }).loss, [param([9], 1, -1)])).toBeLessThan(TOL);
    }
  });

  // Sequence 0 (chosen) 1.5 nats below the reference, sequence 2 (chosen) 1.4 above: the penalty acts on pair 0 only.
  const lpPositive = Float32Array.from([-2, -2, -1, -1, -2, -0.1, -1, -1.5, 0]);

  it('DPO-Positive lowers the margin by λ·(ρ_c − π_c) only where the chosen fell below the reference', () => {
    const beta = 0.3;
    const lambda = 5;
    const sum = (a: Float32Array, s: number) => Array.from(a).reduce((acc, v, i) => acc + (seqOf[i] === s ? v : 0), 0);
    const z = (c: number, r: number) => beta * (sum(lpPositive, c) - sum(ref, c) - (sum(lpPositive, r) - sum(ref, r)) - lambda * Math.max(0, sum(ref, c) - sum(lpPositive, c)));
    const ls = (x: number) => Math.log(1 / (1 + Math.exp(-x)));
    const out = dpoLoss({ ...base, logps: Tensor.from(lpPositive, [9]), beta, rpoAlpha: 0, dpopLambda: lambda });
    expect(out.loss.data[0]).toBeCloseTo(-(ls(z(0, 1)) + ls(z(2, 3))) / 2, 5);
    // Pair 1's chosen is above its reference: the same loss as plain DPO there.
    const plainPair1 = dpoLoss({ ...base, chosen: Int32Array.from([2]), rejected: Int32Array.from([3]), pairNormalizer: 1, logps: Tensor.from(lpPositive, [9]), beta, rpoAlpha: 0 });
    const positivePair1 = dpoLoss({ ...base, chosen: Int32Array.from([2]), rejected: Int32Array.from([3]), pairNormalizer: 1, logps: Tensor.from(lpPositive, [9]), beta, rpoAlpha: 0, dpopLambda: lambda });
    expect(positivePair1.loss.data[0]).toBeCloseTo(plainPair1.loss.data[0]!, 6);
  });

  it('DPO-Positive passes a finite-difference gradient check, and a backward without the penalty fails it', () => {
    const at = () => new Tensor(Float32Array.from(lpPositive), [9], { requiresGrad: true });
    expect(gradcheck(([l]) => dpoLoss({ ...base, logps: l!, beta: 0.3, rpoAlpha: 1, dpopLambda: 5 }).loss, [at()])).toBeLessThan(TOL);
    const wrong = (l: Tensor) => withBackwardOf(dpoLoss({ ...base, logps: l, beta: 0.3, rpoAlpha: 1, dpopLambda: 5 }).loss, dpoLoss({ ...base, logps: l, beta: 0.3, rpoAlpha: 1 }).loss);
    expect(gradcheck(([l]) => wrong(l!), [at()])).toBeGreaterThan(0.05);
  });

  it('SimPO: mean token log-probabilities with a margin γ and a zero reference equal the formula of Meng et al. 2024', () => {
    const lp = Float32Array.from([-0.5, -1, -0.5, -2, -2, -0.1, -1, -1.5, 0]);
    const beta = 2;
    const gamma = 0.8;
    const mean = (s: number) => {
      const xs = Array.from(lp).filter((_, i) => seqOf[i] === s);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const ls = (x: number) => Math.log(1 / (1 + Math.exp(-x)));
    const expected = -(ls(beta * (mean(0) - mean(1)) - gamma) + ls(beta * (mean(2) - mean(3)) - gamma)) / 2;
    const zero = new Float32Array(9);
    const out = dpoLoss({ ...base, refLogps: zero, logps: Tensor.from(lp, [9]), beta, rpoAlpha: 0, lengthNormalize: true, margin: gamma });
    expect(out.loss.data[0]).toBeCloseTo(expected, 5);
    expect(out.stats.logpChosen[0]).toBeCloseTo(mean(0), 5);
    // Sums instead of means give another loss: sequence 0 has 3 tokens, sequence 1 has 2.
    expect(dpoLoss({ ...base, refLogps: zero, logps: Tensor.from(lp, [9]), beta, rpoAlpha: 0, margin: gamma }).loss.data[0]).not.toBeCloseTo(expected, 2);
  });

  it('SimPO passes a finite-difference gradient check, and a backward that sums instead of averaging fails it', () => {
    const opts = { refLogps: new Float32Array(9), beta: 2, rpoAlpha: 1, margin: 0.5 };
    expect(gradcheck(([l]) => dpoLoss({ ...base, ...opts, logps: l!, lengthNormalize: true }).loss, [param([9], 1, -1)])).toBeLessThan(TOL);
    const wrong = (l: Tensor) => withBackwardOf(dpoLoss({ ...base, ...opts, logps: l, lengthNormalize: true }).loss, dpoLoss({ ...base, ...opts, logps: l }).loss);
    expect(gradcheck(([l]) => wrong(l!), [param([9], 1, -1)])).toBeGreaterThan(0.05);
  });

  it('catches a wrong backward (the NLL term left out of the gradient)', () => {
    const wrong = (l: Tensor) => withBackwardOf(dpoLoss({ ...base, logps: l, beta: 0.7, rpoAlpha: 1 }).loss, dpoLoss({ ...base, logps: l, beta: 0.7, rpoAlpha: 0 }).loss);
    expect(gradcheck(([l]) => wrong(l!), [param([9], 1, -1)])).toBeGreaterThan(0.05);
  });
});

describe('clipped surrogate', () => {
  const old = Float32Array.from({ length: N }, (_, i) => -1 - 0.1 * i);
  const logps = (): Tensor => new Tensor(Float32Array.from(old, (o, i) => o + logRatio[i]!), [N], { requiresGrad: true });

  it('takes the pessimistic branch: clipped where the ratio moved past 1±ε in the advantage’s direction', () => {
    const { loss, stats } = clippedSurrogate(logps(), old, adv, mask, 0.2, 4);
    let expected = 0;
    for (let i = 0; i < N; i++) {
      if (!mask[i]) continue;
      const r = Math.exp(logRatio[i]!);
      expected += Math.max(-adv[i]! * r, -adv[i]! * Math.min(Math.max(r, 0.8), 1.2));
    }
    expect(loss.data[0]).toBeCloseTo(expected / 4, 5);
    expect(stats.clipped).toBe(2);
    expect(stats.tokens).toBe(6);
    expect(stats.approxKlSum).toBeGreaterThan(0);
  });

  it('passes a finite-difference gradient check across clipped and unclipped tokens', () => {
    expect(gradcheck(([l]) => clippedSurrogate(l!, old, adv, mask, 0.2, 3).loss, [logps()], 1e-3)).toBeLessThan(TOL);
  });

  it('catches a wrong backward (gradient through clipped tokens)', () => {
    const wrong = (l: Tensor) => withBackwardOf(clippedSurrogate(l, old, adv, mask, 0.2, 3).loss, clippedSurrogate(l, old, adv, mask, 1e9, 3).loss);
    expect(gradcheck(([l]) => wrong(l!), [logps()], 1e-3)).toBeGreaterThan(0.1);
  });
});

describe('KL penalty (k3)', () => {
  const refLp = Float32Array.from({ length: N }, (_, i) => -1 - 0.2 * i);

  it('is zero at the reference, positive elsewhere, and equals e^d − d − 1', () => {
    expect(klPenalty(Tensor.from(refLp, [N]), refLp, mask, 1).klSum).toBeCloseTo(0, 6);
    const lp = Float32Array.from(refLp, (v, i) => v + logRatio[i]!);
    const { loss, klSum } = klPenalty(Tensor.from(lp, [N]), refLp, mask, 6);
    let expected = 0;
    for (let i = 0; i < N; i++) if (mask[i]) expected += Math.exp(-logRatio[i]!) + logRatio[i]! - 1;
    expect(klSum).toBeCloseTo(expected, 5);
    expect(loss.data[0]).toBeCloseTo(expected / 6, 5);
  });

  it('passes a finite-difference gradient check', () => {
    expect(gradcheck(([l]) => klPenalty(l!, refLp, mask, 3).loss, [param([N], 0.8, -1.5)])).toBeLessThan(TOL);
  });

  it('catches a wrong backward (the k1 gradient, −1 per token, instead of k3’s)', () => {
    const k1 = (l: Tensor): Tensor => {
      const y: Tensor = new Tensor(new Float32Array([0]), [1], { parents: [l], backward: () => l.accumulateGrad(Float32Array.from(mask, (m) => (-m * y.grad![0]!) / 3)) });
      return y;
    };
    const wrong = (l: Tensor) => withBackwardOf(klPenalty(l, refLp, mask, 3).loss, k1(l));
    expect(gradcheck(([l]) => wrong(l!), [param([N], 0.8, -1.5)])).toBeGreaterThan(0.1);
  });
});

describe('entropy', () => {
  it('is log V for uniform logits and passes a finite-difference gradient check', () => {
    const m3 = Float32Array.from([1, 0, 1]);
    expect(entropyOf(Tensor.from(new Float32Array(15), [3, 5]), m3, 2, K).loss.data[0]).toBeCloseTo(Math.log(5), 5);
    expect(gradcheck(([l]) => entropyOf(l!, m3, 2, K).loss, [param([3, 5], 1.5)])).toBeLessThan(TOL);
  });

  it('catches a wrong backward (the per-row entropy term left out)', () => {
    const m3 = Float32Array.from([1, 1, 1]);
    // Gradient of −Σ p log p taken as −p·log p only: a common slip.
    const slip = (l: Tensor): Tensor => {
      const y: Tensor = new Tensor(new Float32Array([0]), [1], {
        parents: [l],
        backward: () => {
          const g = new Float32Array(l.size);
          for (let n = 0; n < 3; n++) {
            const row = Array.from(l.data.subarray(n * 5, n * 5 + 5));
            const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
            for (let v = 0; v < 5; v++) g[n * 5 + v] = -Math.exp(row[v]! - lse) * (row[v]! - lse) * y.grad![0]!;
          }
          l.accumulateGrad(g);
        },
      });
      return y;
    };
    expect(gradcheck(([l]) => withBackwardOf(entropyOf(l!, m3, 1, K).loss, slip(l!)), [param([3, 5], 1.5)])).toBeGreaterThan(0.1);
  });
});

describe('clipped value loss', () => {
  const old = Float32Array.from([0, 0.5, 0, 1, -1, 0.2, 0, 0.3]);
  const ret = Float32Array.from([1, -0.5, 0, 0, 1, 0.25, 0, 2]);
  // v inside the clip range at 0, 1, 5; outside it at 3 (the unclipped error is larger: gradient flows), 4 and 7 (the clipped one is: none).
  const values = (): Tensor => new Tensor(Float32Array.from([0.1, 0.55, 0, 1.5, -0.5, 0.22, 0, 0.9]), [N, 1], { requiresGrad: true });

  it('equals ½·max of the two squared errors', () => {
    const { loss, clipped } = clippedValueLoss(values(), old, ret, mask, 0.2, 2);
    let expected = 0;
    let nClipped = 0;
    for (let i = 0; i < N; i++) {
      if (!mask[i]) continue;
      const v = values().data[i]!;
      const vc = Math.min(Math.max(v, old[i]! - 0.2), old[i]! + 0.2);
      const u = (v - ret[i]!) ** 2;
      const c = (vc - ret[i]!) ** 2;
      expected += 0.5 * Math.max(u, c);
      if (c > u) nClipped++;
    }
    expect(loss.data[0]).toBeCloseTo(expected / 2, 5);
    expect(clipped).toBe(nClipped);
    expect(nClipped).toBeGreaterThan(0);
  });

  it('passes a finite-difference gradient check', () => {
    expect(gradcheck(([v]) => clippedValueLoss(v!, old, ret, mask, 0.2, 2).loss, [values()], 1e-3)).toBeLessThan(TOL);
  });

  it('catches a wrong backward (gradient through the clipped branch)', () => {
    const wrong = (v: Tensor) => withBackwardOf(clippedValueLoss(v, old, ret, mask, 0.2, 2).loss, clippedValueLoss(v, old, ret, mask, 1e9, 2).loss);
    expect(gradcheck(([v]) => wrong(v!), [values()], 1e-3)).toBeGreaterThan(0.1);
  });
});

describe('composition and GAE', () => {
  it('a weighted sum of losses on one log-prob tensor passes a gradient check', () => {
    const old = Float32Array.from({ length: N }, (_, i) => -1 - 0.1 * i);
    const refLp = Float32Array.from({ length: N }, (_, i) => -1.2 - 0.05 * i);
    const f = (l: Tensor) => sumLosses([
      { loss: clippedSurrogate(l, old, adv, mask, 0.2, 4).loss, weight: 1 },
      { loss: klPenalty(l, refLp, mask, 4).loss, weight: 0.04 },
    ]);
    const lp = new Tensor(Float32Array.from(old, (o, i) => o + logRatio[i]!), [N], { requiresGrad: true });
    expect(gradcheck(([l]) => f(l!), [lp], 1e-3)).toBeLessThan(TOL);
  });

  it('GAE: γ = λ = 1 gives returns-to-go minus values; λ = 0 gives one-step TD errors', () => {
    const r = [0, 0, 1];
    const v = [0.2, 0.5, 0.7];
    const full = gae(r, v, 1, 1);
    expect(Array.from(full.returns)).toEqual([1, 1, 1]);
    expect(full.advantages[0]).toBeCloseTo(0.8, 6);
    const td = gae(r, v, 1, 0);
    expect(td.advantages[0]).toBeCloseTo(0.5 - 0.2, 6);
    expect(td.advantages[2]).toBeCloseTo(1 - 0.7, 6);
    const disc = gae(r, [0, 0, 0], 0.9, 0.95);
    expect(disc.advantages[0]).toBeCloseTo((0.9 * 0.95) ** 2, 6);
  });
});

describe('maskedNll (the replay term of PPO-ptx)', () => {
  it('is the masked mean negative log-probability, and passes a finite-difference gradient check', () => {
    const lp = Float32Array.from([-0.5, -1, -3, -0.2, -2, -0.1, -4, -1.5]);
    const { loss, nllSum } = maskedNll(Tensor.from(lp, [N]), mask, 6);
    const want = lp.reduce((s, v, n) => s - mask[n]! * v, 0);
    expect(nllSum).toBeCloseTo(want, 5);
    expect(loss.data[0]).toBeCloseTo(want / 6, 5);
    expect(gradcheck(([l]) => maskedNll(l!, mask, 6).loss, [param([N], 0.8, -1.5)])).toBeLessThan(TOL);
  });

  it('a gradient that ignores the mask fails the check', () => {
    const all = new Float32Array(N).fill(1);
    const wrong = (l: Tensor) => withBackwardOf(maskedNll(l, mask, 1).loss, maskedNll(l, all, 1).loss);
    expect(gradcheck(([l]) => wrong(l!), [param([N], 0.8, -1.5)])).toBeGreaterThan(0.1);
  });
});
