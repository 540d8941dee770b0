import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parameterShapes } from './config.js';
import { exportHf, HF_FILES, hfTensorName, permuteAdjacentToHalf } from './export-hf.js';
import { trainTinyCheckpoint, type TinyCheckpoint } from './gguf-fixture.js';
import { readSafetensors } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'export-hf-'));
const out = join(dir, 'hf');
let fx: TinyCheckpoint;

beforeAll(() => {
  fx = trainTinyCheckpoint(join(dir, 'ckpt'));
  exportHf(fx.dir, out);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment for Debian's torch: OpenBLAS overrides meant for the project's own runs are dropped. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

/** A python with torch (Debian's python3-torch lives under /usr/bin/python3), or the reason there is none. */
function findTorchPython(): { python: string } | { reason: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import torch'], { env: pythonEnv(), encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return { reason: 'no python3 with torch (dev-time oracle: apt-get install -y python3-torch)' };
}

describe('export --format hf', () => {
  it('writes a LlamaForCausalLM directory with HF tensor names and shapes', () => {
    for (const f of Object.values(HF_FILES)) expect(existsSync(join(out, f))).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, HF_FILES.config), 'utf8'));
    expect(cfg.architectures).toEqual(['LlamaForCausalLM']);
    expect(cfg.hidden_size).toBe(fx.model.config.dModel);
    expect(cfg.vocab_size).toBe(fx.tokenizer.vocabSize);
    const st = readSafetensors(join(out, HF_FILES.weights));
    expect(st.metadata['format']).toBe('pt');
    const names = Object.keys(st.tensors).sort();
    expect(names).toEqual(parameterShapes(fx.model.config).map(([n]) => hfTensorName(n)).sort());
    expect(names).toContain('model.layers.1.self_attn.q_proj.weight');
    expect(names).toContain('lm_head.weight');
    // v is not rotated, so it is copied as is.
    expect(Array.from(st.tensors['model.layers.0.self_attn.v_proj.weight']!.data as Float32Array)).toEqual(Array.from(fx.model.weight('blk.0.attn_v.weight')));
  });

  it('permutes q/k rows from adjacent pairs to rotate-half within each head', () => {
    // Two heads of size 4, one column: our rows [h0: a0 b0 a1 b1, h1: ...] → HF [a0 a1 b0 b1].
    const w = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
    expect(Array.from(permuteAdjacentToHalf(w, 2, 4, 1))).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
  });

  it('writes a tokenizer whose vocabulary is our ids, BOS first, pieces fused on decode', () => {
    const tj = JSON.parse(readFileSync(join(out, HF_FILES.tokenizer), 'utf8'));
    expect(tj.model.type).toBe('BPE');
    expect(tj.model.merges).toEqual([]);
    for (const ch of fx.tokenizer.alphabet) expect(tj.model.vocab[ch]).toBe(fx.tokenizer.encode(ch)[0]);
    expect(tj.post_processor.single[0].SpecialToken.id).toBe('<bos>');
    expect(tj.decoder.type).toBe('Fuse');
    const tc = JSON.parse(readFileSync(join(out, HF_FILES.tokenizerConfig), 'utf8'));
    expect([tc.bos_token, tc.eos_token, tc.pad_token]).toEqual(['<bos>', '<eos>', '<pad>']);
  });

  it('refuses to replace a directory holding other files', () => {
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    expect(() => exportHf(fx.dir, busy)).toThrow(/holds other files \(notes.txt\)/);
    expect(readFileSync(join(busy, 'notes.txt'), 'utf8')).toBe('mine');
  });

  const torch = findTorchPython();
  if ('reason' in torch) console.warn(`skipping the PyTorch oracle comparison: ${torch.reason}`);

  it.skipIf('reason' in torch)('gives the logits of an independent PyTorch forward pass (HF conventions) to 1e-4', () => {
    const python = (torch as { python: string }).python;
    const texts = [...fx.prompts.slice(0, 6), 'Q: 12+7\nA: 19', ' He o,!\n'];
    const r = spawnSync(python, ['test/oracle/hf_llama_forward.py', out], { input: JSON.stringify(texts), env: pythonEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const oracle = JSON.parse(r.stdout) as { ids: number[][]; logits: number[][][] };
    const V = fx.tokenizer.vocabSize;
    let maxDiff = 0;
    texts.forEach((text, t) => {
      const ids = fx.tokenizer.encode(text, { bos: true });
      expect(oracle.ids[t]).toEqual(ids);
      const ours = fx.model.forward(Int32Array.from(ids), 1, ids.length).data;
      for (let p = 0; p < ids.length; p++) {
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(ours[p * V + v]! - oracle.logits[t]![p]![v]!));
      }
    });
    console.log(`HF export vs PyTorch oracle: max |Δlogit| = ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
