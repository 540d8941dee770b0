import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ProgressEvent } from '../core/progress.js';
import { Rng } from '../core/rng.js';
import { Transformer } from '../nn/model.js';
import { createOrtKernels } from '../nn/ort/ort-kernels.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { BuiltinPolicy } from '../policy/builtin.js';
import { getTask } from '../tasks/registry.js';
import type { BuiltinTask } from '../tasks/task.js';
import { exactLabels, fromTrlStepwise } from './mc-labels.js';
import { defaultTrainPrmConfig, trainPrm } from './train-prm.js';

const arith = getTask('arith') as BuiltinTask;
const dir = mkdtempSync(join(tmpdir(), 'train-prm-lib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tinyPolicy(): BuiltinPolicy {
  const tok = new CharTokenizer(arith.alphabet);
  const model = new Transformer({ vocabSize: tok.vocabSize, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, contextLength: 48, ropeTheta: 10000, normEps: 1e-5 }, createOrtKernels({ threads: 1 }));
  model.init(new Rng(0));
  return new BuiltinPolicy(model, tok);
}

describe('trainPrm (library)', () => {
  it('reports progress as events, stops when asked (still saving and evaluating), and prints nothing', async () => {
    const log = vi.spyOn(console, 'log');
    const err = vi.spyOn(console, 'error');
    const events: ProgressEvent[] = [];
    const lines: string[] = [];
    let trainSteps = 0;
    try {
      const r = await trainPrm({
        ...defaultTrainPrmConfig,
        policy: tinyPolicy(),
        policyDir: 'memory',
        task: arith,
        out: join(dir, 'run'),
        problems: 6,
        samples: 2,
        rollouts: 2,
        steps: 20,
        batchSize: 4,
        heldOut: 0.34,
        onProgress: (e) => {
          events.push(e);
          if (e.stage === 'train') trainSteps = e.done;
        },
        shouldStop: () => trainSteps >= 3,
        log: (l) => lines.push(l),
      });
      expect(r.stopped).toBe(true);
      expect(r.steps).toBe(3);
      expect(existsSync(join(r.checkpoint, 'model.safetensors'))).toBe(true);
      expect(r.selection).not.toBeNull();
      expect(events.some((e) => e.stage === 'label' && e.done === e.total && e.unit === 'problem')).toBe(true);
      expect(events.filter((e) => e.stage === 'train').map((e) => e.done)).toEqual([1, 2, 3]);
      expect(lines.some((l) => /labels: \d+ solutions .* at temperature 0.8/.test(l))).toBe(true);
      expect(log).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });

  it('trains on exact step labels from the task checker when asked (no rollouts), and does not reuse them for Monte-Carlo labels', async () => {
    const base = { ...defaultTrainPrmConfig, policy: tinyPolicy(), policyDir: 'memory', task: arith, out: join(dir, 'exact'), problems: 4, samples: 2, steps: 2, batchSize: 4, heldOut: 0.25 };
    const lines: string[] = [];
    await trainPrm({ ...base, labelSource: 'exact', log: (l) => lines.push(l) });
    const metrics = readFileSync(join(dir, 'exact', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(metrics.find((m) => 'labels/rollouts' in m)!['labels/rollouts']).toBe(0);
    const problems = new Map(arith.problems('train', 4, 0).map((p) => [p.id, p]));
    const rows = readFileSync(join(dir, 'exact', 'labels.jsonl'), 'utf8').trim().split('\n').map((l, i) => fromTrlStepwise(JSON.parse(l), i));
    expect(rows).toHaveLength(8);
    for (const r of rows) expect(r.labels.hard).toEqual(exactLabels(arith, problems.get(r.problemId)!, r.steps, r.outcome));
    await trainPrm({ ...base, labelSource: 'mc', rollouts: 2, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith('reusing'))).toEqual([]);
  });
});
