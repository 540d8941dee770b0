import { Rng } from '../core/rng.js';
import { configForSize, parameterCount, trainFlopsPerToken, type ModelConfig } from './config.js';
import { Generator } from './generate.js';
import { referenceKernels, type Kernels } from './kernels.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { backward } from './tensor.js';
import { CharTokenizer } from './tokenizer.js';
import { AdamW } from './adamw.js';
import { FloatArena } from './wasm/arena.js';
import type { AttentionKernel } from './wasm/attention.js';
import { referenceDecodeKernels, wasmDecodeKernels } from './wasm/decode-kernels.js';

/** What `searchlearn bench engine` measures (one run, one machine, fast and reference side by side). */
export interface EngineBench {
  gemm_peak_gflops: number;
  train: { tokens_per_s: number; model_gflops: number; mfu: number; step_ms: number; peak_rss_mib: number };
  sample: { batch1_tokens_per_s: number; batch64_tokens_per_s: number };
  /** Decode attention alone (64 rows × 128 cached positions, one layer): SIMD kernel against the plain-TS reference. */
  decode_attention: { wasm_us: number; reference_us: number; speedup: number };
  reference: { train_tokens_per_s: number; batch64_tokens_per_s: number; gemm_gflops: number };
  ratios: { train_fast_over_reference: number; batch64_fast_over_reference: number };
  model: { size: string; parameters: number; d_model: number; n_layers: number; n_heads: number; d_ff: number; vocab: number; batch: number; context: number; flops_per_token: number };
  kernels: string;
}

const ALPHABET = '0123456789+-*=: \nabcdefghijklmnopqrstuvwxyzAPQ.,()';

/** Best-of-k GFLOP/s of an M×K×N product. */
export function gemmGflops(k: Kernels, M: number, K: number, N: number, reps: number): number {
  const rng = new Rng(1);
  const a = Float32Array.from({ length: M * K }, () => rng.next() - 0.5);
  const b = Float32Array.from({ length: K * N }, () => rng.next() - 0.5);
  k.gemm(a, b, M, K, N, false, false);
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    k.gemm(a, b, M, K, N, false, false);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * M * K * N) / best / 1e6;
}

/** Median time of training steps (forward, backward, AdamW) at batch B, length T. */
export function trainTokensPerSec(cfg: ModelConfig, k: Kernels, B: number, T: number, warmup: number, steps: number): { tokensPerSec: number; stepMs: number } {
  const m = new Transformer(cfg, k);
  m.init(new Rng(1));
  const rng = new Rng(2);
  const ids = Int32Array.from({ length: B * T }, () => rng.int(3, cfg.vocabSize - 1));
  const targets = Int32Array.from({ length: B * T }, () => rng.int(3, cfg.vocabSize - 1));
  const mask = new Float32Array(B * T).fill(1);
  const opt = new AdamW(m.params, m.grads, []);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    k.pool.reset();
    m.zeroGrad();
    backward(m.loss(ids, targets, mask, B, T));
    opt.update(1e-3);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const stepMs = times[Math.floor(times.length / 2)]!;
  return { tokensPerSec: (B * T * 1000) / stepMs, stepMs };
}

/**
 * Sampling throughput with the KV cache: `batch` independent sequences (prompt 16 tokens,
 * `tokens` new tokens each), after a full warm-up run; the median of `reps` timed runs.
 */
export function sampleTokensPerSec(cfg: ModelConfig, k: Kernels, tok: CharTokenizer, batch: number, tokens: number, reps = 3): number {
  const m = new Transformer(cfg, k);
  m.init(new Rng(1));
  const gen = new Generator(m, tok, { prefixCacheTokens: 0, maxBatch: Math.max(256, batch) });
  const rng = new Rng(3);
  const prompts = Array.from({ length: batch }, () => Array.from({ length: 15 }, () => ALPHABET[rng.int(0, ALPHABET.length - 1)]).join(''));
  gen.generate(prompts, { maxTokens: tokens, seed: 1 }); // warm up (JIT, kernel sessions, buffers)
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = gen.generate(prompts, { maxTokens: tokens, seed: 2 + r });
    rates.push((out.stats.outputTokens * 1000) / (performance.now() - t0));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

/**
 * Decode attention alone: `batch` rows, each over its own `history` cached positions, one layer
 * of the model's heads; best-of-`reps` microseconds per call of the SIMD kernel and of the
 * plain-TS reference, on the same memory.
 */
export function decodeAttentionMicros(cfg: ModelConfig, batch: number, history: number, reps: number): { wasm_us: number; reference_us: number; speedup: number } {
  const H = cfg.nHeads;
  const D = cfg.dModel / H;
  const arena = new FloatArena();
  const rng = new Rng(4);
  const segs = Array.from({ length: batch }, () => arena.alloc(2 * cfg.nLayers * H * history * D));
  const q = arena.alloc(batch * H * D);
  const out = arena.alloc(batch * H * D);
  const scores = arena.alloc(history + 4);
  const desc = arena.alloc(6 * batch);
  const f = arena.f32;
  for (let i = 0; i < f.length; i++) f[i] = rng.next() - 0.5;
  const m = arena.i32;
  segs.forEach((seg, r) => m.set([(q + r * H * D) * 4, (out + r * H * D) * 4, 1, seg * 4, history * D * 4, history], desc + 6 * r));
  const time = (k: AttentionKernel): number => {
    k.attend(desc * 4, batch, H, 0, 1 / Math.sqrt(D), scores * 4);
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      k.attend(desc * 4, batch, H, 0, 1 / Math.sqrt(D), scores * 4);
      best = Math.min(best, performance.now() - t0);
    }
    return best * 1000;
  };
  const wasm = time(wasmDecodeKernels(arena.memory, D));
  const ref = time(referenceDecodeKernels(arena.memory, D));
  return { wasm_us: round(wasm), reference_us: round(ref), speedup: round(ref / wasm, 2) };
}

export function benchEngine(log: (line: string) => void = () => {}): EngineBench {
  const tok = new CharTokenizer(ALPHABET);
  const cfg = configForSize('demo', tok.vocabSize);
  const B = 32;
  const T = 128;
  const fast = createOrtKernels();
  const flopsPerToken = trainFlopsPerToken(cfg, T);

  const peak = gemmGflops(fast, 1024, 1024, 1024, 8);
  log(`gemm 1024³ (${fast.name}): ${peak.toFixed(1)} GFLOP/s`);
  const train = trainTokensPerSec(cfg, fast, B, T, 3, 8);
  const modelGflops = (train.tokensPerSec * flopsPerToken) / 1e9;
  log(`train demo B=${B} T=${T}: ${Math.round(train.tokensPerSec)} tokens/s, ${modelGflops.toFixed(1)} GFLOP/s model, MFU ${(modelGflops / peak * 100).toFixed(1)}%`);
  const b1 = sampleTokensPerSec(cfg, fast, tok, 1, 112, 5);
  log(`sample batch 1: ${Math.round(b1)} tokens/s`);
  const b64 = sampleTokensPerSec(cfg, fast, tok, 64, 112);
  log(`sample batch 64: ${Math.round(b64)} tokens/s`);
  const att = decodeAttentionMicros(cfg, 64, 128, 20);
  log(`decode attention 64×128: ${att.wasm_us} µs SIMD, ${att.reference_us} µs reference (${att.speedup}×)`);
  const peakRss = process.memoryUsage().rss / 2 ** 20;

  // Reference kernels: naive loops, so smaller batches (throughput per token barely depends on batch there).
  const refGemm = gemmGflops(referenceKernels, 256, 256, 256, 1);
  const refTrain = trainTokensPerSec(cfg, referenceKernels, 4, T, 0, 1);
  log(`reference train: ${Math.round(refTrain.tokensPerSec)} tokens/s`);
  const ref64 = sampleTokensPerSec(cfg, referenceKernels, tok, 64, 8, 1);
  log(`reference sample batch 64: ${Math.round(ref64)} tokens/s`);

  return {
    gemm_peak_gflops: round(peak),
    train: { tokens_per_s: Math.round(train.tokensPerSec), model_gflops: round(modelGflops), mfu: round(modelGflops / peak, 3), step_ms: round(train.stepMs), peak_rss_mib: Math.round(peakRss) },
    sample: { batch1_tokens_per_s: Math.round(b1), batch64_tokens_per_s: Math.round(b64) },
    decode_attention: att,
    reference: { train_tokens_per_s: Math.round(refTrain.tokensPerSec), batch64_tokens_per_s: Math.round(ref64), gemm_gflops: round(refGemm) },
    ratios: { train_fast_over_reference: round(train.tokensPerSec / refTrain.tokensPerSec), batch64_fast_over_reference: round(b64 / ref64) },
    model: { size: 'demo', parameters: parameterCount(cfg), d_model: cfg.dModel, n_layers: cfg.nLayers, n_heads: cfg.nHeads, d_ff: cfg.dFF, vocab: cfg.vocabSize, batch: B, context: T, flops_per_token: flopsPerToken },
    kernels: fast.name,
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
