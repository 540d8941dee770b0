import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { llamaCppUnavailable } from '../policy/llamacpp.js';
import { parameterShapes } from './config.js';
import { bannedTokenIds, BYTE_TOKENS, exportGguf, spmVocabulary, SPM_SPACE } from './export-gguf.js';
import { Generator } from './generate.js';
import { trainTinyCheckpoint, type TinyCheckpoint } from './gguf-fixture.js';
import { ggufHeader, writeGguf } from './gguf.js';
import { readGguf } from './gguf-read.js';
import { saveModel } from './model-io.js';
import { Transformer } from './model.js';
import { createOrtKernels } from './ort/ort-kernels.js';
import { CharTokenizer } from './tokenizer.js';

const dir = mkdtempSync(join(tmpdir(), 'export-gguf-'));
let fx: TinyCheckpoint;
const gguf = join(dir, 'model.gguf');

beforeAll(() => {
  fx = trainTinyCheckpoint(join(dir, 'ckpt'));
  exportGguf(fx.dir, gguf);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF writer and reader', () => {
  it('round-trips metadata of every type and tensors with GGUF dimension order', () => {
    const path = join(dir, 'rt.gguf');
    const t = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
    writeGguf(path, {
      metadata: [
        ['a.u32', { type: 'u32', value: 7 }],
        ['a.i32', { type: 'i32', value: -3 }],
        ['a.f32', { type: 'f32', value: 0.25 }],
        ['a.bool', { type: 'bool', value: true }],
        ['a.str', { type: 'string', value: 'héllo ▁' }],
        ['a.strs', { type: 'array', itemType: 'string', values: ['x', '', '\n'] }],
        ['a.f32s', { type: 'array', itemType: 'f32', values: [1.5, -2] }],
      ],
      tensors: [{ name: 'w', shape: [2, 3], data: t }, { name: 'v', shape: [1], data: new Float32Array([9]) }],
    });
    const r = readGguf(path);
    expect(r.version).toBe(3);
    expect(Object.fromEntries(r.metadata)).toEqual({ 'a.u32': 7, 'a.i32': -3, 'a.f32': 0.25, 'a.bool': true, 'a.str': 'héllo ▁', 'a.strs': ['x', '', '\n'], 'a.f32s': [1.5, -2] });
    expect(r.tensors.get('w')!.shape).toEqual([2, 3]);
    expect(Array.from(r.tensors.get('w')!.data)).toEqual(Array.from(t));
    expect(Array.from(r.tensors.get('v')!.data)).toEqual([9]);
  });

  it('writes the header bytes the spec names: magic, version 3, counts, ne innermost first, 32-byte alignment', () => {
    const { header, offsets } = ggufHeader({ metadata: [], tensors: [{ name: 'm', shape: [2, 5], data: new Float32Array(10) }, { name: 'n', shape: [3], data: new Float32Array(3) }] });
    expect(header.toString('latin1', 0, 4)).toBe('GGUF');
    expect(header.readUInt32LE(4)).toBe(3);
    expect(header.readBigUInt64LE(8)).toBe(2n);
    expect(header.readBigUInt64LE(16)).toBe(0n);
    // tensor info: name (u64 len + "m"), n_dims, ne0 = 5 (columns), ne1 = 2
    expect(header.readUInt32LE(24 + 8 + 1)).toBe(2);
    expect(header.readBigUInt64LE(24 + 8 + 1 + 4)).toBe(5n);
    expect(header.readBigUInt64LE(24 + 8 + 1 + 12)).toBe(2n);
    expect(header.length % 32).toBe(0);
    expect(offsets).toEqual([0, 64]); // 40 bytes padded to 64
  });

  it('rejects a file that is not GGUF with one line', () => {
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, 'not a gguf file at all');
    expect(() => readGguf(bad)).toThrow(/not a GGUF file/);
  });
});

describe('export --format gguf', () => {
  it("writes llama.cpp's llama architecture with the model's hyperparameters", () => {
    const r = readGguf(gguf);
    const c = fx.model.config;
    const m = Object.fromEntries(r.metadata);
    expect(m['general.architecture']).toBe('llama');
    expect(m['llama.embedding_length']).toBe(c.dModel);
    expect(m['llama.block_count']).toBe(c.nLayers);
    expect(m['llama.attention.head_count']).toBe(c.nHeads);
    expect(m['llama.attention.head_count_kv']).toBe(c.nHeads);
    expect(m['llama.feed_forward_length']).toBe(c.dFF);
    expect(m['llama.context_length']).toBe(c.contextLength);
    expect(m['llama.rope.dimension_count']).toBe(c.dModel / c.nHeads);
    expect(m['llama.rope.freq_base']).toBe(c.ropeTheta);
    expect(m['tokenizer.ggml.model']).toBe('llama');
    expect(m['tokenizer.ggml.bos_token_id']).toBe(fx.tokenizer.bos);
    expect(m['tokenizer.ggml.eos_token_id']).toBe(fx.tokenizer.eos);
    expect(m['tokenizer.ggml.add_space_prefix']).toBe(false);
  });

  it('carries every weight unchanged (RoPE pairs already in llama.cpp order); byte-token rows are zero in, PAD-copies out', () => {
    const r = readGguf(gguf);
    const V = fx.tokenizer.vocabSize;
    const C = fx.model.config.dModel;
    expect(r.tensors.size).toBe(parameterShapes(fx.model.config).length);
    for (const [name, shape] of parameterShapes(fx.model.config)) {
      const t = r.tensors.get(name)!;
      const ours = fx.model.weight(name);
      if (name === 'token_embd.weight' || name === 'output.weight') {
        expect(t.shape).toEqual([V + BYTE_TOKENS, C]);
        expect(Array.from(t.data.subarray(0, V * C))).toEqual(Array.from(ours));
        const extra = t.data.subarray(V * C);
        if (name === 'token_embd.weight') expect(extra.every((x) => x === 0)).toBe(true);
        else expect(Array.from(extra.subarray((BYTE_TOKENS - 1) * C))).toEqual(Array.from(ours.subarray(0, C)));
      } else {
        expect(t.shape).toEqual(shape);
        expect(Array.from(t.data)).toEqual(Array.from(ours));
      }
    }
  });

  it('stores the vocabulary as SPM pieces: specials CONTROL, space as ▁, 256 byte fallbacks', () => {
    const v = spmVocabulary(fx.tokenizer);
    expect(v.tokens.slice(0, 3)).toEqual(['<pad>', '<bos>', '<eos>']);
    expect(v.types.slice(0, 4)).toEqual([3, 3, 3, 1]);
    expect(v.tokens[fx.tokenizer.encode(' ')[0]!]).toBe(SPM_SPACE);
    expect(v.tokens).toHaveLength(fx.tokenizer.vocabSize + 256);
    expect(v.tokens[fx.tokenizer.vocabSize + 0x0a]).toBe('<0x0A>');
    expect(bannedTokenIds(fx.tokenizer)).toHaveLength(258);
    expect(() => spmVocabulary(new CharTokenizer(`ab${SPM_SPACE}`))).toThrow(/U\+2581/);
  });

  it('refuses a reward (value) model with one line', () => {
    const tok = new CharTokenizer('ab');
    const m = new Transformer({ vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, dFF: 8, contextLength: 8, ropeTheta: 10000, normEps: 1e-5, outputSize: 1 }, createOrtKernels({ threads: 1 }));
    m.init(new Rng(1));
    saveModel(join(dir, 'value'), m, tok);
    expect(() => exportGguf(join(dir, 'value'), join(dir, 'value.gguf'))).toThrow(/reward \(value\) model/);
  });
});

describe('node-llama-cpp 3.21.1 runs the exported GGUF', async () => {
  const reason = await llamaCppUnavailable();
  if (reason) console.warn(`skipping node-llama-cpp end-to-end tests: ${reason}`);

  it.skipIf(reason !== null)('tokenizes and detokenizes our alphabet exactly as CharTokenizer does', async () => {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 1 });
    const model = await llama.loadModel({ modelPath: gguf });
    try {
      const texts = [fx.tokenizer.alphabet, 'Q: 12+7\nA: 19', '  Hello  He  ', 'Hello, !\n\n', ...fx.prompts];
      for (const text of texts) {
        expect(model.tokenize(text)).toEqual(fx.tokenizer.encode(text));
        expect(model.detokenize(model.tokenize(text))).toBe(text);
      }
      expect(model.tokens.bos).toBe(fx.tokenizer.bos);
      expect(model.tokens.eos).toBe(fx.tokenizer.eos);
      // A character outside the alphabet falls back to its UTF-8 bytes instead of aborting the process.
      const w = model.tokenize('w');
      expect(w).toEqual([fx.tokenizer.vocabSize + 'w'.charCodeAt(0)]);
      expect(model.detokenize(w)).toBe('w');
    } finally {
      await model.dispose();
      await llama.dispose();
    }
  });

  it.skipIf(reason !== null)("greedy output equals the built-in engine's for 20 prompts", async () => {
    const { getLlama, LlamaLogLevel, TokenBias } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 1 });
    const model = await llama.loadModel({ modelPath: gguf });
    const context = await model.createContext({ contextSize: 64, sequences: 1, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
    try {
      expect(fx.prompts).toHaveLength(20);
      const ours = new Generator(fx.model, fx.tokenizer).generate(fx.prompts, { n: 1, maxTokens: 24, temperature: 0 });
      const bias = TokenBias.for(model).set(bannedTokenIds(fx.tokenizer), 'never');
      const theirs: string[] = [];
      for (const prompt of fx.prompts) {
        const seq = context.getSequence();
        const out: number[] = [];
        for await (const token of seq.evaluate([model.tokens.bos!, ...model.tokenize(prompt)], { temperature: 0, tokenBias: bias })) {
          out.push(token);
          if (out.length >= 24) break;
        }
        theirs.push(model.detokenize(out));
        seq.dispose();
      }
      const expected = ours.samples.map((row) => row[0]!.text);
      expect(theirs).toEqual(expected);
      // The model learned something: most completions are the right sums.
      const right = fx.prompts.filter((p, i) => {
        const [a, b] = p.slice(3, -1).split('+').map(Number);
        return expected[i] === `A: ${a! + b!}`;
      }).length;
      expect(right).toBeGreaterThan(0);
    } finally {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    }
  });
});
