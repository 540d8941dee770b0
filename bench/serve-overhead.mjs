// The serving targets, measured side by side in one run (needs a quiet machine and a
// build: `npx tsc -p tsconfig.json && node bench/serve-overhead.mjs [--checkpoint DIR]`):
//
//   1. orchestration overhead at concurrency 16: the openai backend's client wall time against the
//      server's own generation time (target: overhead under 2% of wall time);
//   2. the server's batch-16 throughput (16 concurrent clients, one sample each) against the
//      engine's own batched sampling of the same 16 samples in one call (target: >= 80%).
//
// Both sides draw exactly the same samples (same Rng keys), so they generate the same tokens.
// Without --checkpoint a random model (d128 x 4 layers, context 512) is written to a temp dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(root, 'dist', p));
const { values: a } = parseArgs({ options: { checkpoint: { type: 'string' }, rounds: { type: 'string', default: '10' }, 'max-tokens': { type: 'string', default: '64' }, concurrency: { type: 'string', default: '16' } } });
const rounds = Number(a.rounds);
const maxTokens = Number(a['max-tokens']);
const C = Number(a.concurrency);

let dir = a.checkpoint;
let tmp;
if (!dir) {
  const { Rng } = await dist('core/rng.js');
  const { Transformer } = await dist('nn/model.js');
  const { saveModel } = await dist('nn/model-io.js');
  const { kernelsFor } = await dist('nn/engine.js');
  const { CharTokenizer } = await dist('nn/tokenizer.js');
  const { arithAlphabet } = await dist('tasks/arith.js');
  tmp = mkdtempSync(join(tmpdir(), 'searchlearn-bench-serve-'));
  dir = tmp;
  const tok = new CharTokenizer(arithAlphabet);
  const m = new Transformer({ vocabSize: tok.vocabSize, dModel: 128, nLayers: 4, nHeads: 4, dFF: 512, contextLength: 512, ropeTheta: 10000, normEps: 1e-5 }, kernelsFor('fast'));
  m.init(new Rng(1));
  saveModel(dir, m, tok);
}

// The server in its own process, as vLLM would be.
const child = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--checkpoint', dir, '--port', '0', '--model-name', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /at (http:\/\/\S+\/v1)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});
const health = async () => (await (await fetch(url.replace(/\/v1$/, '/health'))).json());

try {
  const { createOpenAIPolicy } = await dist('policy/openai.js');
  const { BuiltinPolicy } = await dist('policy/builtin.js');
  const policy = await createOpenAIPolicy({ baseURL: url, model: 'bench', concurrency: C });
  const prompts = Array.from({ length: C }, (_, k) => `Q: ${k}+${k * 7}=\n`);
  const req = (k, r) => ({ prefixes: [prompts[k]], n: 1, maxTokens, temperature: 1, seed: 1000 * r + k });
  // Warm-up: one round each side.
  await Promise.all(prompts.map((_, k) => policy.generate(req(k, 999))));

  // 1 + 2a. The server under C concurrent clients.
  const h0 = await health();
  let tokens = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const res = await Promise.all(prompts.map((_, k) => policy.generate(req(k, r))));
    tokens += res.reduce((s, x) => s + x.usage.outputTokens, 0);
  }
  const wall = performance.now() - t0;
  const h1 = await health();
  const gen = h1.generation_ms - h0.generation_ms;

  // 2b. The engine's own batched sampling of the same samples (same Rng keys), in this process.
  const local = BuiltinPolicy.load(dir);
  local.generator.generate(prompts, { n: 1, maxTokens, temperature: 1, stop: [], seed: 0, sampleKey: (i) => `${999000 + i}/0/0` });
  let engineTokens = 0;
  const e0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const { stats } = local.generator.generate(prompts, { n: 1, maxTokens, temperature: 1, stop: [], seed: 0, sampleKey: (i) => `${1000 * r + i}/0/0` });
    engineTokens += stats.outputTokens;
  }
  const engineMs = performance.now() - e0;

  const result = {
    concurrency: C,
    rounds,
    batches: h1.batches - h0.batches,
    client_wall_ms: Math.round(wall),
    server_generation_ms: Math.round(gen),
    overhead_fraction: Number(((wall - gen) / wall).toFixed(4)),
    server_tokens_per_s: Math.round(tokens / (wall / 1000)),
    engine_tokens_per_s: Math.round(engineTokens / (engineMs / 1000)),
    same_tokens: tokens === engineTokens,
  };
  result.throughput_ratio = Number((result.server_tokens_per_s / result.engine_tokens_per_s).toFixed(3));
  console.log(JSON.stringify(result));
  console.log(`overhead ${(result.overhead_fraction * 100).toFixed(2)}% of wall time (target < 2%); server/engine throughput ${(result.throughput_ratio * 100).toFixed(1)}% (target >= 80%)`);
} finally {
  child.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
