import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { SftRow } from '../learn/examples.js';
import type { RunDir } from '../learn/run-dir.js';
import type { LmExample } from '../nn/train.js';

export interface ReplayOptions {
  /** Rows to draw (at most the data's size). */
  replay: number;
  /**
   * Share of the rows drawn from the foothold traces (the last `footholdCount` examples, where
   * `initData` puts them) instead of uniformly from all of the initialization data. Unset: uniform.
   */
  replayFoothold?: number | undefined;
  seed: number;
}

/**
 * Initialization traces replayed into an SFT update, so that a round of training on the policy's
 * own solutions does not wash out what initialization taught (the replay buffer of expert
 * iteration; Lee et al. 2025 keep training on the earlier levels' data for the same reason).
 * Drawn with replacement, deterministically per iteration.
 */
export function replayRows(all: readonly LmExample[], footholdCount: number, o: ReplayOptions, iteration: number): SftRow[] {
  if (o.replay === 0 || all.length === 0) return [];
  const rng = new Rng(`${o.seed}/replay/${iteration}`);
  const n = Math.min(o.replay, all.length);
  const foothold = Math.min(footholdCount, all.length);
  const fromFoothold = o.replayFoothold === undefined || foothold === 0 || foothold === all.length ? -1 : Math.round(o.replayFoothold * n);
  return Array.from({ length: n }, (_, i) => {
    const [lo, size] = fromFoothold < 0 ? [0, all.length] : i < fromFoothold ? [all.length - foothold, foothold] : [0, all.length - foothold];
    const e = all[lo + Math.floor(rng.next() * size)]!;
    return { problemId: 'init', prompt: e.prompt ?? '', completion: e.completion };
  });
}

/** The SFT rows kept by the `count` iterations before `it`, as each wrote them to its data directory. */
export function pastRoundRows(run: RunDir, it: number, count: number): SftRow[] {
  const out: SftRow[] = [];
  for (let j = Math.max(1, it - count); j < it; j++) {
    const file = run.file(`data/iter-${j}/sft.jsonl`);
    if (!existsSync(file)) throw new UserError(`loop: pastRounds ${count} needs the rows of iteration ${j}, and ${file} is missing`);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { prompt: string; completion: string; problem_id: string };
      out.push({ problemId: r.problem_id, prompt: r.prompt, completion: r.completion });
    }
  }
  return out;
}
