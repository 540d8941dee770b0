/**
 * Export of the built-in model to GGUF for llama.cpp (and so node-llama-cpp, Ollama, LM Studio).
 *
 * The model already is llama.cpp's `llama` architecture: RMSNorm, SwiGLU, no biases, untied output,
 * and RoPE on adjacent pairs (llama.cpp's LLAMA_ROPE_TYPE_NORM, the layout convert_hf_to_gguf.py
 * produces by permuting HF's q/k), and its tensors carry GGUF names (config.ts parameterShapes).
 * So the weights go across unchanged, as F32.
 *
 * The tokenizer becomes llama.cpp's SentencePiece-style vocabulary (`tokenizer.ggml.model =
 * "llama"`): one token per character, specials as CONTROL tokens. llama.cpp's SPM tokenizer splits
 * text into UTF-8 characters and merges only pairs found in the vocabulary; with single characters
 * there is nothing to merge, so every character maps to its own id, as in CharTokenizer. SPM
 * escapes ' ' as '▁' (U+2581) before lookup and unescapes it on output, so the space token is
 * stored as '▁'; `add_space_prefix` is off so no space is invented before the text.
 *
 * A character outside the alphabet falls back to byte tokens `<0x00>`…`<0xFF>`; without them
 * llama.cpp's byte_to_token throws std::out_of_range from native code and kills the process
 * (measured: node-llama-cpp 3.21.1 aborts while loading a byte-free vocabulary). So 256 BYTE tokens
 * follow our vocabulary (ids V…V+255). The model never saw them: their embedding rows are zero and
 * their output rows copy PAD's, a token that is never a training target, so each byte token's
 * logit equals PAD's. The built-in sampler bans PAD and BOS; a llama.cpp sampler that bans
 * `bannedTokenIds` (PAD, BOS and the byte tokens, e.g. node-llama-cpp's tokenBias) samples exactly
 * the built-in distribution.
 */
import { join } from 'node:path';
import { loadCheckpoint, CHECKPOINT_FILES, type Weight } from './checkpoint.js';
import { modelConfigSchema, outputSizeOf, parameterShapes, type ModelConfig } from './config.js';
import { writeGguf, type GgufValue } from './gguf.js';
import { resolveCheckpointDir } from './model-io.js';
import type { CharTokenizer } from './tokenizer.js';

/** SentencePiece's whitespace symbol, which llama.cpp's SPM tokenizer substitutes for ' '. */
export const SPM_SPACE = '\u2581';

/** llama.cpp's llama_token_type (gguf-py constants.py TokenType). */
export const GgufTokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface ExportableModel {
  config: ModelConfig;
  weights: Record<string, Weight>;
  tokenizer: CharTokenizer;
  dir: string;
}

/** Loads a language-model checkpoint (or a run directory holding `checkpoint/`) for export. */
export function loadPolicyCheckpoint(dir: string): ExportableModel {
  const ckptDir = resolveCheckpointDir(dir);
  const ckpt = loadCheckpoint<ModelConfig>(ckptDir, modelConfigSchema, (c) => Object.fromEntries(parameterShapes(c)));
  const { config, tokenizer } = ckpt;
  if (config.vocabSize !== tokenizer.vocabSize) {
    throw new Error(`checkpoint ${join(ckptDir, CHECKPOINT_FILES.config)}: vocabSize ${config.vocabSize} does not match the tokenizer's ${tokenizer.vocabSize} tokens`);
  }
  if (outputSizeOf(config) !== config.vocabSize) {
    throw new Error(`${ckptDir} is a reward (value) model with output size ${outputSizeOf(config)}; only language models export (give a checkpoint from init or train-lm)`);
  }
  return { config, weights: ckpt.weights, tokenizer, dir: ckptDir };
}

/** Byte-fallback tokens appended after the character vocabulary. */
export const BYTE_TOKENS = 256;

/** Ids a sampler over the exported GGUF must ban to sample as the built-in engine does: PAD, BOS, the byte tokens. */
export function bannedTokenIds(tokenizer: CharTokenizer): number[] {
  return [tokenizer.pad, tokenizer.bos, ...Array.from({ length: BYTE_TOKENS }, (_, b) => tokenizer.vocabSize + b)];
}

/** The SPM vocabulary: token strings (space as '▁'), scores and types, in id order; byte tokens last. */
export function spmVocabulary(tokenizer: CharTokenizer): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const s = tokenizer.tokenString(id);
    if (id < 3) {
      tokens.push(s);
      types.push(GgufTokenType.CONTROL);
      continue;
    }
    if (s === SPM_SPACE) throw new Error(`the alphabet holds "${SPM_SPACE}" (U+2581), which SentencePiece vocabularies reserve for the space; it cannot be exported`);
    tokens.push(s === ' ' ? SPM_SPACE : s);
    types.push(GgufTokenType.NORMAL);
  }
  for (let b = 0; b < BYTE_TOKENS; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(GgufTokenType.BYTE);
  }
  // Scores only rank merges of multi-character pieces; a character vocabulary has none.
  return { tokens, scores: tokens.map(() => 0), types };
}

/** GGUF metadata for llama.cpp's `llama` architecture (gguf-py constants.py Keys). */
export function llamaGgufMetadata(config: ModelConfig, tokenizer: CharTokenizer, name: string): [string, GgufValue][] {
  const D = config.dModel / config.nHeads;
  const vocab = spmVocabulary(tokenizer);
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  return [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    // LLAMA_FTYPE_ALL_F32
    ['general.file_type', u32(0)],
    ['llama.vocab_size', u32(vocab.tokens.length)],
    ['llama.context_length', u32(config.contextLength)],
    ['llama.embedding_length', u32(config.dModel)],
    ['llama.block_count', u32(config.nLayers)],
    ['llama.feed_forward_length', u32(config.dFF)],
    ['llama.rope.dimension_count', u32(D)],
    ['llama.attention.head_count', u32(config.nHeads)],
    ['llama.attention.head_count_kv', u32(config.nHeads)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: config.normEps }],
    ['llama.rope.freq_base', { type: 'f32', value: config.ropeTheta }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', values: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', values: vocab.types }],
    ['tokenizer.ggml.bos_token_id', u32(tokenizer.bos)],
    ['tokenizer.ggml.eos_token_id', u32(tokenizer.eos)],
    ['tokenizer.ggml.padding_token_id', u32(tokenizer.pad)],
    // Prompts start with BOS, as the built-in engine's do; completions end at EOS.
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: false }],
    // Our own key (GGUF allows any): what src/policy/llamacpp.ts bans when sampling.
    ['searchlearn.banned_token_ids', { type: 'array', itemType: 'u32', values: bannedTokenIds(tokenizer) }],
  ];
}

/** Writes the checkpoint at `checkpointDir` as a GGUF file; returns the tensor count, parameters and GGUF vocabulary size. */
export function exportGguf(checkpointDir: string, outPath: string, opts: { name?: string } = {}): { tensors: number; parameters: number; vocabSize: number } {
  const { config, weights, tokenizer } = loadPolicyCheckpoint(checkpointDir);
  const C = config.dModel;
  const V = config.vocabSize;
  const tensors = parameterShapes(config).map(([name, shape]) => {
    const data = weights[name]!.data;
    if (name !== 'token_embd.weight' && name !== 'output.weight') return { name, shape, data };
    // Rows for the byte tokens: zero embeddings; output rows copying PAD's (see the file comment).
    const wide = new Float32Array((V + BYTE_TOKENS) * C);
    wide.set(data);
    if (name === 'output.weight') {
      const pad = data.subarray(tokenizer.pad * C, (tokenizer.pad + 1) * C);
      for (let b = 0; b < BYTE_TOKENS; b++) wide.set(pad, (V + b) * C);
    }
    return { name, shape: [V + BYTE_TOKENS, C], data: wide };
  });
  writeGguf(outPath, { metadata: llamaGgufMetadata(config, tokenizer, opts.name ?? 'searchlearn'), tensors });
  return { tensors: tensors.length, parameters: tensors.reduce((s, t) => s + t.data.length, 0), vocabSize: V + BYTE_TOKENS };
}
