/**
 * Export of the built-in model as a Hugging Face `LlamaForCausalLM` directory, which vLLM serves
 * and TRL, OpenRLHF and verl fine-tune:
 *
 *   config.json              LlamaConfig (transformers' configuration_llama.py field names)
 *   model.safetensors        F32 weights under HF names (model.layers.N.self_attn.q_proj.weight, ...)
 *   tokenizer.json           a `tokenizers` BPE model with one token per character and no merges
 *   tokenizer_config.json    PreTrainedTokenizerFast with <bos>/<eos>/<pad> and a chat template
 *   special_tokens_map.json, generation_config.json
 *
 * RoPE: our model (and llama.cpp) rotates adjacent pairs (x[2i], x[2i+1]); HF's
 * `apply_rotary_pos_emb` rotates halves (x[i], x[i + D/2]) via `rotate_half`. Both use frequency
 * θ^(−2i/D) for pair i, so permuting the rows of q_proj and k_proj inside each head — HF row
 * h·D + j·D/2 + i takes our row h·D + 2i + j — gives identical attention scores. This is the
 * inverse of the `permute` in llama.cpp's convert_hf_to_gguf.py.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelConfig } from './config.js';
import { loadPolicyCheckpoint } from './export-gguf.js';
import { writeSafetensors, type TensorIn } from './safetensors.js';
import type { CharTokenizer } from './tokenizer.js';

export const HF_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  specialTokens: 'special_tokens_map.json',
  generationConfig: 'generation_config.json',
} as const;

/**
 * Chat template: the messages' contents concatenated, no role markers, because that is how the
 * model was trained (prompt text followed by completion text). BOS comes from the tokenizer's
 * post-processor, as for Llama 2.
 */
export const HF_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}";

/** Rows of a [H·D, C] projection reordered from adjacent-pair RoPE to HF's rotate-half layout. */
export function permuteAdjacentToHalf(w: Float32Array, nHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * headDim + 2 * i + j) * cols;
        const to = (h * headDim + j * half + i) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** transformers' LlamaConfig for the model. */
export function hfConfig(c: ModelConfig, tok: CharTokenizer): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.dFF,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nHeads,
    head_dim: c.dModel / c.nHeads,
    max_position_embeddings: c.contextLength,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    tie_word_embeddings: false,
    initializer_range: 0.02,
    pretraining_tp: 1,
    use_cache: true,
    bos_token_id: tok.bos,
    eos_token_id: tok.eos,
    pad_token_id: tok.pad,
    torch_dtype: 'float32',
  };
}

/** HF tensor names for our GGUF-named parameters. */
export function hfTensorName(name: string): string {
  const fixed: Record<string, string> = { 'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight' };
  if (fixed[name]) return fixed[name];
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(name);
  const part: Record<string, string> = {
    attn_norm: 'input_layernorm',
    attn_q: 'self_attn.q_proj',
    attn_k: 'self_attn.k_proj',
    attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj',
    ffn_norm: 'post_attention_layernorm',
    ffn_gate: 'mlp.gate_proj',
    ffn_up: 'mlp.up_proj',
    ffn_down: 'mlp.down_proj',
  };
  if (!m || !part[m[2]!]) throw new Error(`no Hugging Face name for tensor "${name}"`);
  return `model.layers.${m[1]}.${part[m[2]!]}.weight`;
}

/**
 * tokenizer.json for the `tokenizers` library: a BPE model whose vocabulary is our characters and
 * whose merge list is empty, so each character is one token with our id; no normalizer or
 * pre-tokenizer (spaces and newlines are ordinary characters); the Fuse decoder joins pieces
 * without separators; the post-processor prepends <bos>, as the built-in engine does.
 */
export function hfTokenizerJson(tok: CharTokenizer): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) vocab[tok.tokenString(id)] = id;
  const special = (id: number) => ({ id, content: tok.tokenString(id), single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = tok.tokenString(tok.bos);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(tok.pad), special(tok.bos), special(tok.eos)],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [tok.bos], tokens: [bos] } },
    },
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

export function hfTokenizerConfig(tok: CharTokenizer, contextLength: number): Record<string, unknown> {
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const id of [tok.pad, tok.bos, tok.eos]) {
    addedTokensDecoder[String(id)] = { content: tok.tokenString(id), lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    added_tokens_decoder: addedTokensDecoder,
    bos_token: tok.tokenString(tok.bos),
    eos_token: tok.tokenString(tok.eos),
    pad_token: tok.tokenString(tok.pad),
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: contextLength,
    padding_side: 'left',
    chat_template: HF_CHAT_TEMPLATE,
  };
}

/** Writes the checkpoint at `checkpointDir` as a Hugging Face directory at `outDir`; an existing `outDir` is replaced only if it holds nothing but these files. */
export function exportHf(checkpointDir: string, outDir: string): { tensors: number; parameters: number } {
  const { config: c, weights, tokenizer: tok } = loadPolicyCheckpoint(checkpointDir);
  const D = c.dModel / c.nHeads;
  const tensors: Record<string, TensorIn> = {};
  let parameters = 0;
  for (const [name, w] of Object.entries(weights)) {
    const isQK = /\.attn_[qk]\.weight$/.test(name);
    const data = isQK ? permuteAdjacentToHalf(w.data, c.nHeads, D, c.dModel) : w.data;
    Object.defineProperty(tensors, hfTensorName(name), { value: { dtype: 'F32', shape: w.shape, data }, enumerable: true });
    parameters += data.length;
  }
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new Error(`${outDir} exists and is not a directory`);
    const known = new Set<string>(Object.values(HF_FILES));
    const foreign = readdirSync(outDir).filter((f) => !known.has(f));
    if (foreign.length > 0) throw new Error(`${outDir} exists and holds other files (${foreign.slice(0, 5).join(', ')}); refusing to replace it`);
  }
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const json = (file: string, v: unknown) => writeFileSync(join(tmp, file), `${JSON.stringify(v, null, 2)}\n`);
    writeSafetensors(join(tmp, HF_FILES.weights), tensors, { format: 'pt' });
    json(HF_FILES.config, hfConfig(c, tok));
    json(HF_FILES.tokenizer, hfTokenizerJson(tok));
    json(HF_FILES.tokenizerConfig, hfTokenizerConfig(tok, c.contextLength));
    json(HF_FILES.specialTokens, { bos_token: tok.tokenString(tok.bos), eos_token: tok.tokenString(tok.eos), pad_token: tok.tokenString(tok.pad) });
    json(HF_FILES.generationConfig, { bos_token_id: tok.bos, eos_token_id: tok.eos, pad_token_id: tok.pad });
    mkdirSync(dirname(outDir), { recursive: true });
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { tensors: Object.keys(tensors).length, parameters };
}
