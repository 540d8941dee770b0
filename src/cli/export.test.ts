import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainTinyCheckpoint } from '../nn/gguf-fixture.js';
import { readGguf } from '../nn/gguf-read.js';
import { commands } from './commands.js';
import { runCli } from './run-cli.js';

/** End to end through the compiled CLI. */
const run = (args: string[]) => runCli(['export', ...args]);
const root = mkdtempSync(join(tmpdir(), 'searchlearn-export-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('searchlearn export, compiled CLI', () => {
  it('is registered as a command', () => expect(commands.some((c) => c.name === 'export')).toBe(true));

  it('writes a GGUF file and a Hugging Face directory and prints one JSON line', async () => {
    const ckpt = trainTinyCheckpoint(join(root, 'ckpt'), { steps: 5 }).dir;
    const gguf = await run(['--checkpoint', ckpt, '--format', 'gguf', '--out', join(root, 'm.gguf'), '--name', 'tiny']);
    expect(gguf.status, gguf.stderr).toBe(0);
    expect(JSON.parse(gguf.stdout)).toMatchObject({ format: 'gguf', tensors: 21 });
    expect(readGguf(join(root, 'm.gguf')).metadata.get('general.name')).toBe('tiny');
    const hf = await run(['--checkpoint', ckpt, '--format', 'hf', '--out', join(root, 'hf')]);
    expect(hf.status, hf.stderr).toBe(0);
    expect(JSON.parse(hf.stdout)).toMatchObject({ format: 'hf', tensors: 21 });
    expect(existsSync(join(root, 'hf', 'model.safetensors'))).toBe(true);
  });

  it('bad arguments exit 2 with one line naming the bad value', async () => {
    const cases: [string[], RegExp][] = [
      [['--checkpoint', root, '--format', 'onnx', '--out', 'x'], /^searchlearn: export: --format "onnx": expected gguf \(llama.cpp\) or hf/],
      [['--format', 'gguf', '--out', 'x'], /^searchlearn: export: --checkpoint missing: required/],
      [['--checkpoint', join(root, 'nope'), '--format', 'gguf', '--out', join(root, 'x.gguf')], /^searchlearn: export: checkpoint .*nope: directory missing/],
      [['--checkpoint', root, '--format', 'hf', '--out', 'x', '--name', 'n'], /^searchlearn: export: --name applies to --format gguf only/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    for (const [k, [, want]] of cases.entries()) {
      const r = results[k]!;
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(want);
    }
  });
});
