// The serving targets, measured side by side in one run (needs a quiet machine and a
// build: `npx tsc -p tsconfig.json && node bench/serve-overhead.mjs [--checkpoint DIR]`):
//
//   1. orchestration overhead at concurrency 16: the openai backend's client wall time against the
//      server's own generation time (target: overhead under 2% of wall time);
//   2. the server's batch-16 throughput (16 concurrent clients, one sample each) against the
//      engine's own batched sampling of the same 16 samples in one call (target: >= 80%).
//
// Both sides draw exactly the same samples (same prompts, n = 1, same Rng keys, same max tokens),
// so they generate the same tokens (the bench prints whether they did). Rounds alternate between
// the two sides. The server batches continuously (requests join at the next decode step); its
// generation time is the time inside its decode steps, so the overhead is the time the engine
// waits: HTTP, JSON, the client, scheduling. Steps that run part-full while requests arrive count
// as generation; they show in the throughput ratio instead.
// --engine-thread true|false and --steps-per-turn N pass through to `serve` (defaults there: the
// engine thread with a second core, one decode step per turn).
// --mode lockstep (default) runs rounds: all 16 clients send, the round ends with the slowest, and
// the next round starts, so every round's arrivals and departures are idle engine time.
// --mode continuous keeps 16 requests in flight: each client sends its next request as soon as
// its last is answered (vLLM's benchmark_serving with --max-concurrency 16), which is the load a
// deployed server sees; the engine's own rounds then run before and after, half each.
// --rounds (default 40: 640 requests, as vLLM's benchmark_serving runs hundreds) and --warmup
// (default 300 rounds, 4,800 requests, before anything is timed): the figures are the server's
// steady state. The start and the drain of a run are fixed costs of a few ms (the first requests'
// way in, the last clients' round trips while the engine has little left), about 2% of a
// 10-round run on their own; and V8 optimizes the engine thread's per-request code only after a
// few thousand requests (session 32, continuous mode, same build: 3.2% after one warm-up round,
// about 1.9% after 100, 1.2–1.7% after 300; 1.3% after 100 with V8's --interrupt-budget=8192,
// which optimizes sooner: so it is the JIT's warm-up, not the server's state).
// Without --checkpoint a random model (d128 x 4 layers, context 512) is written to a temp dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const distRoot = process.env.SEARCHLEARN_BENCH_DIST ?? join(root, 'dist');
const dist = (p) => import(join(distRoot, p));
const { values: a } = parseArgs({ options: { checkpoint: { type: 'string' }, rounds: { type: 'string', default: '40' }, warmup: { type: 'string', default: '300' }, 'max-tokens': { type: 'string', default: '64' }, concurrency: { type: 'string', default: '16' }, 'engine-thread': { type: 'string' }, 'steps-per-turn': { type: 'string' }, mode: { type: 'string', default: 'lockstep' } } });
if (a.mode !== 'lockstep' && a.mode !== 'continuous') throw new Error(`--mode: expected lockstep or continuous, got ${a.mode}`);
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
// SEARCHLEARN_SERVE_NODE_ARGS passes node flags to the server (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
const nodeArgs = (process.env.SEARCHLEARN_SERVE_NODE_ARGS ?? '').split(' ').filter((x) => x.length > 0);
const child = spawn(process.execPath, [...nodeArgs, join(distRoot, 'cli/main.js'), 'serve', '--checkpoint', dir, '--port', '0', '--model-name', 'bench', ...(a['engine-thread'] ? ['--engine-thread', a['engine-thread']] : []), ...(a['steps-per-turn'] ? ['--steps-per-turn', a['steps-per-turn']] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
// The machine's load before this bench adds its own (its warm-up keeps both cores busy).
const loadBefore = loadavg()[0];
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /at (http:\/\/\S+\/v1)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const health = async () => (await (await fetch(url.replace(/\/v1$/, '/health'))).json());

try {
  const { createOpenAIPolicy } = await dist('policy/openai.js');
  const { BuiltinPolicy } = await dist('policy/builtin.js');
  const policy = await createOpenAIPolicy({ baseURL: url, model: 'bench', concurrency: C });
  const local = BuiltinPolicy.load(dir);
  const prompts = Array.from({ length: C }, (_, k) => `Q: ${k}+${k * 7}=\n`);
  // Client k of round r asks for one sample with seed 1000r + k: the server draws it from Rng key
  // `${1000r + k}/0/0`, which is exactly the key the engine's own call below gives prompt k.
  const req = (k, r) => ({ prefixes: [prompts[k]], n: 1, maxTokens, temperature: 1, seed: 1000 * r + k });
  const serverRound = async (r) => (await Promise.all(prompts.map((_, k) => policy.generate(req(k, r))))).reduce((s, x) => s + x.usage.outputTokens, 0);
  const engineRound = (r) => local.generator.generate(prompts, { n: 1, maxTokens, temperature: 1, stop: [], seed: 0, sampleKey: (i) => `${1000 * r + i}/0/0` }).stats.outputTokens;
  // Warm-up: each client sends `warmup` requests back to back; the engine's own side, a few rounds.
  const warmup = Number(a.warmup);
  await Promise.all(prompts.map(async (_, k) => {
    for (let r = 0; r < warmup; r++) await policy.generate(req(k, 5000 + r));
  }));
  for (let r = 0; r < Math.min(warmup, 5); r++) engineRound(5000 + r);

  // Rounds alternate between the two sides, so that load from elsewhere falls on both alike.
  const h0 = await health();
  let tokens = 0;
  let engineTokens = 0;
  let wall = 0;
  let engineMs = 0;
  let clientCpu = 0;
  let engineCpu = 0;
  const timeEngine = (r) => {
    const e0 = performance.now();
    const ec0 = cpuMs();
    engineTokens += engineRound(r);
    engineCpu += cpuMs() - ec0;
    engineMs += performance.now() - e0;
  };
  if (a.mode === 'lockstep') {
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const c0 = cpuMs();
      tokens += await serverRound(r);
      clientCpu += cpuMs() - c0;
      wall += performance.now() - t0;
      timeEngine(r);
    }
  } else {
    for (let r = 0; r < rounds / 2; r++) timeEngine(r);
    const t0 = performance.now();
    const c0 = cpuMs();
    // Client k sends request (k, r) for r = 0, 1, ... as soon as (k, r − 1) is answered.
    const perClient = await Promise.all(prompts.map(async (_, k) => {
      let n = 0;
      for (let r = 0; r < rounds; r++) n += (await policy.generate(req(k, r))).usage.outputTokens;
      return n;
    }));
    tokens += perClient.reduce((x, y) => x + y, 0);
    clientCpu += cpuMs() - c0;
    wall += performance.now() - t0;
    for (let r = Math.ceil(rounds / 2); r < rounds; r++) timeEngine(r);
  }
  const h1 = await health();
  const gen = h1.generation_ms - h0.generation_ms;

  const load = loadBefore;
  const result = {
    concurrency: C,
    mode: a.mode,
    rounds,
    warmup,
    max_tokens: maxTokens,
    server_batches: h1.batches - h0.batches,
    server_steps: h1.steps - h0.steps,
    joined_mid_batch: h1.joined_mid_batch - h0.joined_mid_batch,
    client_wall_ms: Math.round(wall),
    server_generation_ms: Math.round(gen),
    overhead_fraction: Number(((wall - gen) / wall).toFixed(4)),
    server_tokens_per_s: Math.round(tokens / (wall / 1000)),
    engine_tokens_per_s: Math.round(engineTokens / (engineMs / 1000)),
    server_tokens: tokens,
    engine_tokens: engineTokens,
    same_tokens: tokens === engineTokens,
    // CPU view: process CPU time, which a busy machine does not inflate as it does wall time.
    server_cpu_ms: Math.round(h1.process_cpu_ms - h0.process_cpu_ms),
    client_cpu_ms: Math.round(clientCpu),
    engine_cpu_ms: Math.round(engineCpu),
    load_average_1m_before: Number(load.toFixed(2)),
    cpus: cpus().length,
  };
  result.throughput_ratio = Number((result.server_tokens_per_s / result.engine_tokens_per_s).toFixed(3));
  // The engine's CPU for the tokens against all the CPU the served path spent on them (server and client).
  result.cpu_efficiency_ratio = Number((result.engine_cpu_ms / (result.server_cpu_ms + result.client_cpu_ms)).toFixed(3));
  console.log(JSON.stringify(result));
  console.log(`orchestration overhead: ${(result.overhead_fraction * 100).toFixed(2)}% of client wall time (target < 2%)`);
  console.log(`throughput, server at concurrency ${C} / engine's own batch-${C} generate: ${(result.throughput_ratio * 100).toFixed(1)}% (target >= 80%)`);
  console.log(`CPU view (less sensitive to load than wall time): engine CPU / (server + client CPU) for the same tokens ${(result.cpu_efficiency_ratio * 100).toFixed(1)}% (server ${result.server_cpu_ms} ms, client ${result.client_cpu_ms} ms, engine ${result.engine_cpu_ms} ms)`);
  console.log(`same tokens on both sides: ${result.same_tokens} (${tokens} and ${engineTokens})`);
  if (load > 0.5 * result.cpus) console.log(`WARNING: 1-minute load average ${load.toFixed(2)} before the bench on ${result.cpus} CPUs: the machine is busy, so these figures are not results (rerun on a quiet machine)`);
} finally {
  child.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
