import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import type { InitData } from '../learn/init-policy.js';
import { RunDir } from '../learn/run-dir.js';
import { kernelsFor } from '../nn/engine.js';
import { Transformer } from '../nn/model.js';
import { saveModel } from '../nn/model-io.js';
import { CharTokenizer } from '../nn/tokenizer.js';
import { arithAlphabet } from '../tasks/arith.js';
import { parseLoopConfig } from './config.js';
import { runControl } from './control.js';

describe('runControl', () => {
  it('stops within a step when asked from the event loop (as a Ctrl-C handler asks), not after its whole token budget', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'searchlearn-control-'));
    const tok = new CharTokenizer(arithAlphabet);
    const m = new Transformer({ vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, contextLength: 256, ropeTheta: 10000, normEps: 1e-5 }, kernelsFor('fast'));
    m.init(new Rng(1));
    const initialDir = join(tmp, 'init');
    saveModel(initialDir, m, tok);
    const init: InitData = { task: 'arith', taskOptions: { ops: '+-', maxDigits: 2 }, behaviours: 'plan=0.5,check=0.5', trainProblems: 64, seed: 0 };
    let stop = false;
    setTimeout(() => (stop = true), 20);
    const t0 = performance.now();
    // A budget of some 500 steps (seconds of work): without a turn of the event loop between
    // steps the timer never fires and the control trains to the end (and returns its scores).
    const r = await runControl({ run: new RunDir(join(tmp, 'run')), init, initialDir, config: parseLoopConfig({ batchSize: 4 }, 'test'), levels: [], trainedTokens: 200_000, shouldStop: () => stop });
    expect(r).toBeNull();
    expect(performance.now() - t0).toBeLessThan(1000);
  }, 60_000);
});
