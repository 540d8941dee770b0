import { z } from 'zod';

/**
 * The built-in model's shape: a Llama-architecture decoder (Touvron et al. 2023): RMSNorm,
 * rotary embeddings, SwiGLU MLP, no biases, untied output projection.
 */
export const modelConfigSchema = z.object({
  vocabSize: z.number().int().min(4).max(1_000_000),
  dModel: z.number().int().min(2).max(8192),
  nLayers: z.number().int().min(1).max(128),
  nHeads: z.number().int().min(1).max(128),
  dFF: z.number().int().min(1).max(65536),
  contextLength: z.number().int().min(2).max(65536),
  ropeTheta: z.number().positive().default(10000),
  normEps: z.number().positive().default(1e-5),
  /**
   * Rows of the output projection (`output.weight` [outputSize, C]). Absent means vocabSize: a
   * language model. 1 makes a scalar value model (the reward models of src/reward/prm.ts).
   * Optional so that checkpoints written before the field existed still load.
   */
  outputSize: z.number().int().min(1).max(1_000_000).optional(),
}).refine((c) => c.dModel % c.nHeads === 0 && (c.dModel / c.nHeads) % 4 === 0, { message: 'dModel must divide into nHeads heads whose size is a multiple of 4' });

export type ModelConfig = z.infer<typeof modelConfigSchema>;

/** Width of the model's output: the vocabulary for a language model, 1 for a value model. */
export function outputSizeOf(c: ModelConfig): number {
  return c.outputSize ?? c.vocabSize;
}

/** Named sizes (the vocabulary comes from the tokenizer). dFF ≈ 8/3·dModel rounded up to 8, as in Llama. */
export const modelSizes = {
  /** ≈0.4M parameters with a character vocabulary: trains in minutes on a laptop CPU. */
  demo: { dModel: 128, nLayers: 2, nHeads: 4, dFF: 344, contextLength: 256 },
  /** ≈3M parameters. */
  small: { dModel: 256, nLayers: 4, nHeads: 8, dFF: 688, contextLength: 256 },
} as const;

export type ModelSize = keyof typeof modelSizes;

export function configForSize(size: ModelSize, vocabSize: number): ModelConfig {
  return { ...modelSizes[size], vocabSize, ropeTheta: 10000, normEps: 1e-5 };
}

/**
 * Parameter layout, in storage order, with GGUF / llama.cpp tensor names and PyTorch [out,in]
 * shapes. q,k,v are stored adjacently so they form one [3C,C] matrix (one GEMM), and so are
 * gate and up ([2F,C]); export splits them by name.
 */
export function parameterShapes(c: ModelConfig): [string, number[]][] {
  const C = c.dModel;
  const shapes: [string, number[]][] = [['token_embd.weight', [c.vocabSize, C]]];
  for (let l = 0; l < c.nLayers; l++) {
    shapes.push(
      [`blk.${l}.attn_norm.weight`, [C]],
      [`blk.${l}.attn_q.weight`, [C, C]],
      [`blk.${l}.attn_k.weight`, [C, C]],
      [`blk.${l}.attn_v.weight`, [C, C]],
      [`blk.${l}.attn_output.weight`, [C, C]],
      [`blk.${l}.ffn_norm.weight`, [C]],
      [`blk.${l}.ffn_gate.weight`, [c.dFF, C]],
      [`blk.${l}.ffn_up.weight`, [c.dFF, C]],
      [`blk.${l}.ffn_down.weight`, [C, c.dFF]],
    );
  }
  shapes.push(['output_norm.weight', [C]], ['output.weight', [outputSizeOf(c), C]]);
  return shapes;
}

export function parameterCount(c: ModelConfig): number {
  return parameterShapes(c).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/**
 * Model FLOPs per trained token, as PaLM's MFU counts them (Chowdhery et al. 2022, App. B):
 * 6·N for the parameters plus 12·L·T·C for attention (no discount for the causal mask).
 * This is the convention of the foundation issue's PyTorch baseline (65 GFLOP/s at 23K tokens/s).
 */
export function trainFlopsPerToken(c: ModelConfig, T: number): number {
  return 6 * parameterCount(c) + 12 * c.nLayers * T * c.dModel;
}
