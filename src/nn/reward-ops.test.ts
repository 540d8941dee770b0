import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { ModelConfig } from './config.js';
import { parameterShapes } from './config.js';
import { gradcheck } from './gradcheck.js';
import { createReferenceKernels } from './kernels.js';
import { loadModel, saveModel } from './model-io.js';
import { Transformer } from './model.js';
import { bceWithLogits, bradleyTerryLoss } from './ops.js';
import { Tensor } from './tensor.js';
import { CharTokenizer } from './tokenizer.js';
import { isValueModel, valueModelFromCheckpoint, valueModelFromPolicy } from './value-model.js';

const K = createReferenceKernels();
const rng = new Rng(5);
function param(shape: number[], scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape, { requiresGrad: true });
}
const TOL = 1e-2;

describe('reward losses', () => {
  it('bceWithLogits passes a finite-difference gradient check (soft labels, mask)', () => {
    const targets = Float32Array.from([0, 1, 0.25, 0.5, 1, 0.75]);
    const mask = Float32Array.from([1, 1, 0, 1, 2, 1]);
    expect(gradcheck(([l]) => bceWithLogits(l!, targets, mask, K), [param([6, 1], 2)])).toBeLessThan(TOL);
  });

  it('bceWithLogits equals the textbook formula and ignores masked positions', () => {
    const x = Tensor.from([0.3, -2, 50], [3, 1]);
    const y = Float32Array.from([1, 0.25, 0]);
    const mask = Float32Array.from([1, 1, 0]);
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const ref = (-(Math.log(s(0.3))) - (0.25 * Math.log(s(-2)) + 0.75 * Math.log(1 - s(-2)))) / 2;
    expect(bceWithLogits(x, y, mask, K).data[0]).toBeCloseTo(ref, 5);
    // Extreme logits stay finite.
    expect(Number.isFinite(bceWithLogits(Tensor.from([1000, -1000], [2, 1]), Float32Array.from([0, 1]), Float32Array.from([1, 1]), K).data[0])).toBe(true);
  });

  it('Bradley–Terry loss passes a finite-difference gradient check', () => {
    const better = Int32Array.from([0, 2, 4, 0]);
    const worse = Int32Array.from([1, 3, 1, 5]);
    expect(gradcheck(([s]) => bradleyTerryLoss(s!, better, worse, K), [param([6, 1], 2)])).toBeLessThan(TOL);
  });

  it('Bradley–Terry loss is log 2 at equal scores and falls as the margin grows', () => {
    const p = [Int32Array.from([0]), Int32Array.from([1])] as const;
    expect(bradleyTerryLoss(Tensor.from([0, 0], [2, 1]), ...p, K).data[0]).toBeCloseTo(Math.log(2), 6);
    expect(bradleyTerryLoss(Tensor.from([3, 0], [2, 1]), ...p, K).data[0]).toBeCloseTo(Math.log1p(Math.exp(-3)), 6);
    expect(() => bradleyTerryLoss(Tensor.from([0, 0], [2, 1]), Int32Array.from([2]), Int32Array.from([0]), K)).toThrow(/outside/);
  });
});

describe('value model', () => {
  const tok = new CharTokenizer('0123456789+=\n');
  const cfg: ModelConfig = { vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 24, contextLength: 16, ropeTheta: 10000, normEps: 1e-5 };

  it('starts from the policy: same trunk, zero scalar head, one value per position', () => {
    const policy = new Transformer(cfg, K);
    policy.init(new Rng(1));
    const value = valueModelFromPolicy(policy);
    expect(isValueModel(value)).toBe(true);
    expect(value.named.get('output.weight')!.shape).toEqual([1, 16]);
    expect(Array.from(value.weight('blk.0.ffn_down.weight'))).toEqual(Array.from(policy.weight('blk.0.ffn_down.weight')));
    expect(value.weight('output.weight').every((v) => v === 0)).toBe(true);
    K.pool.reset();
    const out = value.forward(Int32Array.from([1, 3, 4, 5, 6, 1, 3, 0, 0, 0]), 2, 5);
    expect(out.shape).toEqual([10, 1]);
    expect(Array.from(out.data).every((v) => v === 0)).toBe(true);
  });

  it('saves and loads with outputSize, and a checkpoint without the field still loads as a language model', () => {
    const dir = mkdtempSync(join(tmpdir(), 'value-model-'));
    try {
      const policy = new Transformer(cfg, K);
      policy.init(new Rng(2));
      saveModel(join(dir, 'policy'), policy, tok);
      const cfgText = JSON.parse(readFileSync(join(dir, 'policy', 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(cfgText.outputSize).toBeUndefined();
      const loaded = loadModel(join(dir, 'policy'), K).model;
      expect(isValueModel(loaded)).toBe(false);
      expect(parameterShapes(loaded.config).at(-1)).toEqual(['output.weight', [tok.vocabSize, 16]]);
      const value = valueModelFromPolicy(policy);
      value.weight('output.weight')[3] = 0.5;
      saveModel(join(dir, 'value'), value, tok);
      const v2 = loadModel(join(dir, 'value'), K).model;
      expect(v2.config.outputSize).toBe(1);
      expect(v2.weight('output.weight')[3]).toBe(0.5);
      // From a checkpoint: the trunk is the policy's, the head zero; a value model is refused.
      const fromCkpt = valueModelFromCheckpoint(join(dir, 'policy'), K).model;
      expect(Array.from(fromCkpt.weight('token_embd.weight'))).toEqual(Array.from(policy.weight('token_embd.weight')));
      expect(fromCkpt.weight('output.weight').every((v) => v === 0)).toBe(true);
      expect(() => valueModelFromCheckpoint(join(dir, 'value'), K)).toThrow(/already a value model/);
      // An older config.json (no outputSize) with its weights still loads.
      writeFileSync(join(dir, 'policy', 'config.json'), JSON.stringify({ ...cfgText, outputSize: undefined }));
      expect(loadModel(join(dir, 'policy'), K).model.config.outputSize).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
