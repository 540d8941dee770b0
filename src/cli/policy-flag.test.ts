import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuiltinPolicy } from '../policy/builtin.js';
import { builtinBackend } from '../serve/batcher.js';
import { startServer } from '../serve/server.js';
import { writeTinyCheckpoint } from '../serve/testing.js';
import { policyFromFlag } from './common.js';

const dir = mkdtempSync(join(tmpdir(), 'searchlearn-flag-'));
writeTinyCheckpoint(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('policyFromFlag', () => {
  it('takes exactly one of --checkpoint and --policy', async () => {
    await expect(policyFromFlag({})).rejects.toThrow(/--checkpoint missing: give exactly one of --checkpoint DIR and --policy/);
    await expect(policyFromFlag({ checkpoint: dir, policy: 'openai:http://127.0.0.1:1' })).rejects.toThrow(/exactly one/);
    expect((await policyFromFlag({ checkpoint: dir })).id).toMatch(/^builtin:/);
    expect(policyFromFlag(dir).id).toMatch(/^builtin:/);
  });

  it('connects --policy openai:URL --model NAME, and names a bad one in one line', async () => {
    const s = await startServer(builtinBackend(BuiltinPolicy.load(dir)), { port: 0, modelName: 'tiny' });
    try {
      const p = await policyFromFlag({ policy: `openai:${s.url}`, model: 'tiny' });
      expect(p.contextLength).toBe(128);
      await expect(policyFromFlag({ policy: `openai:${s.url}`, model: 'big' })).rejects.toThrow(/^--policy "openai:.*": model "big" is not served/);
      await expect(policyFromFlag({ policy: 'gguf:x.gguf', model: 'tiny' })).rejects.toThrow(/only an openai: policy takes a model name/);
    } finally {
      await s.close();
    }
  });
});
