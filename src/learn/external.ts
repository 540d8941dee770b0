import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { exportData, type ExportFormat } from '../data/export.js';
import { CHECKPOINT_FILES } from '../nn/checkpoint.js';
import { loadModel } from '../nn/model-io.js';
import { rootOf } from '../policy/http.js';
import { createOpenAIPolicy, type OpenAIPolicy } from '../policy/openai.js';
import type { LearnResult, Learner, LearnerContext } from './learner.js';

/**
 * The external learner: training handed to another program (TRL, OpenRLHF, verl, a script of
 * one's own), as the issue's "data for distributed trainers" asks. Each iteration it
 *
 *     1. exports the iteration's data in the trainer's format (src/data/export.ts),
 *     2. runs the user's command with placeholders and environment variables naming the data,
 *        the iteration and an output directory, and waits for it to exit,
 *     3. brings the new model in: for the built-in policy it loads the checkpoint the command
 *        wrote into {out}; for a served policy (`openai:URL`) it polls the server (/v1/models
 *        listing the iteration's model, or a health URL) with exponential backoff until the new
 *        model is served, or fails after a timeout.
 *
 * | placeholder | environment | value |
 * |---|---|---|
 * | `{data}` | SEARCHLEARN_DATA | the exported file (`data/iter-N/<format>.jsonl`, `.parquet` for verl) |
 * | `{data_dir}` | SEARCHLEARN_DATA_DIR | `data/iter-N/` (sft, pairs, step-labels, problems as JSONL) |
 * | `{format}` | SEARCHLEARN_FORMAT | the export format |
 * | `{iteration}` | SEARCHLEARN_ITERATION | N, from 1 |
 * | `{out}` | SEARCHLEARN_OUTPUT_DIR | `train/iter-N/`: the built-in policy's new checkpoint goes here |
 * | `{checkpoint}` | SEARCHLEARN_CHECKPOINT | the built-in policy's current checkpoint (empty for a served policy) |
 * | `{run}` | SEARCHLEARN_RUN_DIR | the loop's run directory |
 * | `{model}` | SEARCHLEARN_MODEL | the name the new model must be served under (served policy) |
 * | `{base_url}` | SEARCHLEARN_BASE_URL | the first server's base URL (served policy) |
 *
 * Placeholders are replaced by shell-quoted values; other braces (`${HOME}`, awk's `{print}`) are
 * left alone. The command's output goes to `train/iter-N.log`. A command may write
 * `{out}/result.json` with numbers (`trained_tokens`, `steps`, `loss`, ...): they become the
 * iteration's learn metrics, and `trained_tokens` its train-time compute.
 */
export interface ExternalConfig {
  /** The shell command (run by /bin/sh -c). */
  trainCmd: string;
  exportFormat: ExportFormat;
  /** Seconds the command may run; 0: no limit. */
  trainTimeoutS: number;
  /** The served policy to wait for; absent: the built-in policy, updated from {out}'s checkpoint. */
  served?: ServedModel;
  /** Readiness polling: first wait, growth per poll, longest wait (exponential backoff). */
  poll: PollConfig;
}

export interface ServedModel {
  baseURLs: string[];
  /** Served name; `{iteration}` in it names each iteration's model. Absent: any one model served. */
  model?: string;
  apiKey?: string;
  /** A URL that answers 2xx once the new model is up (instead of /v1/models). */
  healthUrl?: string;
  /** Seconds to wait for the model after the command ends. */
  timeoutS: number;
}

export interface PollConfig {
  firstMs: number;
  factor: number;
  maxMs: number;
  /** Time limit of one poll request. */
  requestTimeoutMs: number;
}

export const defaultPollConfig = { firstMs: 250, factor: 2, maxMs: 10_000, requestTimeoutMs: 5_000 } satisfies PollConfig;

export const defaultExternalConfig = {
  exportFormat: 'trl-sft',
  trainTimeoutS: 0,
  poll: defaultPollConfig,
} satisfies Partial<ExternalConfig>;

/** What the loop hands the learner each iteration. */
export interface ExternalRound {
  iteration: number;
  runDir: string;
  /** `data/iter-N/` as the loop wrote it. */
  dataDir: string;
  /** The built-in policy's current checkpoint directory (null for a served policy). */
  checkpoint: string | null;
}

/** The loop config's fields this learner reads (flat, as the loop's flags give them). */
export interface ExternalChoice {
  trainCmd?: string | undefined;
  exportFormat: ExportFormat;
  trainTimeoutS: number;
  policy: string;
  model?: string | undefined;
  healthUrl?: string | undefined;
  serveTimeoutS: number;
}

export function externalConfigOf(c: ExternalChoice, apiKey = process.env['OPENAI_API_KEY']): ExternalConfig {
  if (!c.trainCmd) throw new UserError('the external learner needs a command (--train-cmd "...")');
  const served: ServedModel | undefined = c.policy.startsWith('openai:')
    ? {
        baseURLs: c.policy.slice('openai:'.length).split(',').map((u) => u.trim()).filter((u) => u.length > 0),
        timeoutS: c.serveTimeoutS,
        ...(c.model ? { model: c.model } : {}),
        ...(c.healthUrl ? { healthUrl: c.healthUrl } : {}),
        ...(apiKey ? { apiKey } : {}),
      }
    : undefined;
  return { ...defaultExternalConfig, trainCmd: c.trainCmd, exportFormat: c.exportFormat, trainTimeoutS: c.trainTimeoutS, ...(served ? { served } : {}) };
}

export interface ExternalLearner extends Learner<ExternalRound> {
  readonly config: ExternalConfig;
  /** The served model's name after `iteration` (its template filled with the last iteration that trained). */
  modelName(iteration: number): string | undefined;
  /**
   * Waits until the current model is served, then connects to it (served policies only). At a
   * loop's start give the iteration it resumes after (0 for a fresh run): its model is the one
   * served; after an update, give nothing (an iteration without data keeps the model it had).
   */
  policyFor(resumeAfter?: number, signal?: AbortSignal): Promise<OpenAIPolicy>;
  /** A served policy's update needs no context (its weights live on the server): give null. */
  update(round: ExternalRound, ctx: LearnerContext | null): Promise<LearnResult>;
}

/** Single-quotes a value for /bin/sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The command with known `{name}` placeholders replaced by shell-quoted values. */
export function fillCommand(cmd: string, vars: Record<string, string>): string {
  return cmd.replace(/\{([a-z_]+)\}/g, (whole, name: string) => (name in vars ? shellQuote(vars[name]!) : whole));
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/**
 * Polls until every server lists `model` in /v1/models (or `healthUrl` answers 2xx), waiting
 * firstMs, firstMs·factor, ... up to maxMs between polls. Fails with one line after timeoutS,
 * naming what the last poll saw.
 */
export async function waitForServed(s: ServedModel, poll: PollConfig = defaultPollConfig, opts: { fetch?: typeof fetch; signal?: AbortSignal } = {}): Promise<{ waitedS: number; polls: number }> {
  const f = opts.fetch ?? fetch;
  const t0 = performance.now();
  const headers: Record<string, string> = s.apiKey ? { authorization: `Bearer ${s.apiKey}` } : {};
  let last = 'no answer yet';
  let delay = poll.firstMs;
  const ready = async (url: string): Promise<boolean> => {
    try {
      const target = s.healthUrl ?? `${rootOf(url)}/v1/models`;
      const res = await f(target, { headers, signal: AbortSignal.timeout(poll.requestTimeoutMs) });
      if (!res.ok) {
        last = `${target} answered ${res.status}`;
        await res.body?.cancel();
        return false;
      }
      if (s.healthUrl) return true;
      const body = (await res.json()) as { data?: { id?: unknown }[] };
      const ids = Array.isArray(body.data) ? body.data.map((m) => String(m.id)) : [];
      if (s.model === undefined ? ids.length > 0 : ids.includes(s.model)) return true;
      last = `${target} lists ${ids.length > 0 ? ids.join(', ') : 'no model'}`;
      return false;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      last = `${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`;
      return false;
    }
  };
  for (let polls = 1; ; polls++) {
    opts.signal?.throwIfAborted();
    const ok = await Promise.all(s.baseURLs.map(ready));
    const waitedS = (performance.now() - t0) / 1000;
    if (ok.every(Boolean)) return { waitedS, polls };
    if (waitedS + delay / 1000 > s.timeoutS) {
      throw new UserError(`loop: ${s.model ? `model ${JSON.stringify(s.model)}` : 'no model'} served within ${s.timeoutS} s (last poll: ${last}); raise --serve-timeout or check the server`);
    }
    await sleep(delay, opts.signal);
    delay = Math.min(poll.maxMs, delay * poll.factor);
  }
}

/** Runs `cmd` through /bin/sh with its output appended to `log`; resolves with the exit code (or the signal's name). */
export function runCommand(cmd: string, env: Record<string, string>, log: string, timeoutS: number): Promise<{ code: number | null; signal: string | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const fd = openSync(log, 'a');
    const child = spawn('/bin/sh', ['-c', cmd], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    let timedOut = false;
    const timer =
      timeoutS > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
            setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
          }, timeoutS * 1000)
        : undefined;
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      closeSync(fd);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      closeSync(fd);
      resolve({ code, signal, timedOut });
    });
  });
}

function lastLine(path: string): string {
  if (!existsSync(path)) return '';
  // Node ends an uncaught error's output with its version line: the line before says more.
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^Node\.js v\d/.test(l));
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}

/** Numbers from the command's optional `{out}/result.json`. */
function readResult(out: string): Record<string, number> {
  const p = join(out, 'result.json');
  if (!existsSync(p)) return {};
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UserError(`loop: ${p}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new UserError(`loop: ${p}: expected a JSON object of numbers`);
  return Object.fromEntries(Object.entries(j).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
}

export function externalLearner(config: ExternalConfig): ExternalLearner {
  // The last iteration whose command ran: an iteration without data keeps the model it had.
  let trained = 0;
  const modelName = (iteration: number): string | undefined => config.served?.model?.replaceAll('{iteration}', String(iteration));
  const learner: ExternalLearner = {
    name: 'external',
    config,
    modelName: () => modelName(trained),

    async policyFor(resumeAfter, signal) {
      const s = config.served;
      if (!s) throw new Error('policyFor: the external learner updates a built-in policy, not a served one');
      if (resumeAfter !== undefined) trained = resumeAfter;
      const model = modelName(trained);
      await waitForServed({ ...s, ...(model ? { model } : {}) }, config.poll, signal ? { signal } : {});
      return createOpenAIPolicy({ baseURLs: s.baseURLs, ...(model ? { model } : {}), ...(s.apiKey ? { apiKey: s.apiKey } : {}) });
    },

    async update(round: ExternalRound, ctx: LearnerContext | null): Promise<LearnResult> {
      const { iteration, runDir, dataDir } = round;
      const file = join(dataDir, `${config.exportFormat}.${config.exportFormat === 'verl' ? 'parquet' : 'jsonl'}`);
      const exported = exportData({ run: runDir, format: config.exportFormat, out: file, iteration });
      if (exported.rows === 0) return { steps: 0, trainedTokens: 0, metrics: { 'external/rows': 0 } };
      const out = join(runDir, 'train', `iter-${iteration}`);
      mkdirSync(out, { recursive: true });
      const log = join(runDir, 'train', `iter-${iteration}.log`);
      const nextModel = modelName(iteration) ?? '';
      const vars: Record<string, string> = {
        data: file,
        data_dir: dataDir,
        format: config.exportFormat,
        iteration: String(iteration),
        out,
        checkpoint: round.checkpoint ?? '',
        run: runDir,
        model: nextModel,
        base_url: config.served?.baseURLs[0] ?? '',
      };
      const env = Object.fromEntries(Object.entries(vars).map(([k, v]) => [`SEARCHLEARN_${k === 'out' ? 'OUTPUT_DIR' : k === 'run' ? 'RUN_DIR' : k.toUpperCase()}`, v]));
      const t0 = performance.now();
      const r = await runCommand(fillCommand(config.trainCmd, vars), env, log, config.trainTimeoutS);
      const trainS = (performance.now() - t0) / 1000;
      if (r.code !== 0) {
        const how = r.timedOut ? `ran past --train-timeout ${config.trainTimeoutS} s` : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
        throw new UserError(`loop: --train-cmd ${how} at iteration ${iteration} (output in ${log}${lastLine(log) ? `; last line: ${lastLine(log)}` : ''})`);
      }
      trained = iteration;
      const result = readResult(out);
      const metrics: Record<string, number> = { 'external/rows': exported.rows, 'external/train_s': trainS, ...result };

      if (config.served) {
        const w = await waitForServed({ ...config.served, ...(nextModel ? { model: nextModel } : {}) }, config.poll);
        metrics['external/serve_wait_s'] = w.waitedS;
        metrics['external/serve_polls'] = w.polls;
      } else {
        // The built-in policy: the command's checkpoint replaces the weights in place.
        if (!existsSync(join(out, CHECKPOINT_FILES.weights))) {
          throw new UserError(`loop: --train-cmd wrote no checkpoint in ${out} (expected ${Object.values(CHECKPOINT_FILES).join(', ')}, as {checkpoint} holds them; output in ${log})`);
        }
        if (!ctx) throw new Error('external learner: updating the built-in policy needs its learner context');
        const model = ctx.policy.model;
        let loaded;
        try {
          loaded = loadModel(out, model.kernels);
        } catch (e) {
          throw new UserError(`loop: the checkpoint --train-cmd wrote in ${out} does not load: ${(e as Error).message.split('\n')[0]}`);
        }
        const same = JSON.stringify(loaded.model.config) === JSON.stringify(model.config) && loaded.tokenizer.alphabet === ctx.policy.tokenizer.alphabet;
        if (!same) throw new UserError(`loop: the checkpoint in ${out} has another architecture or alphabet than the policy's (${JSON.stringify(model.config)}); the external learner keeps both`);
        let sq = 0;
        for (let i = 0; i < model.params.length; i++) sq += (loaded.model.params[i]! - model.params[i]!) ** 2;
        model.params.set(loaded.model.params);
        metrics['external/weight_delta_rms'] = Math.sqrt(sq / Math.max(1, model.params.length));
      }
      return { steps: result['steps'] ?? 1, trainedTokens: result['trained_tokens'] ?? 0, metrics };
    },
  };
  return learner;
}
