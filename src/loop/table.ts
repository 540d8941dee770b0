import { LEVEL_HARDER, LEVEL_INITIAL, type IterationRow } from './loop.js';

const pct = (x: number | null | undefined): string => (x === undefined || x === null ? '   -  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
const kTokens = (n: number): string => `${(n / 1000).toFixed(0)}k`.padStart(7);

/** `search`: the evaluation's test-time search (LevelScores.search): a majority vote, or best-of-N by a gold-free checker. */
export function loopTableHeader(search: 'majority' | 'checker' = 'majority'): string {
  return ['iter   ', 'greedy initial', 'greedy harder', 'pass@1 harder', 'pass@8 harder', search === 'majority' ? 'maj@N harder' : 'bo-N harder', 'searched', 'trained', '  min'].join('  ');
}

/** One row per iteration (and the control's), for terminals and closing notes. */
export function formatLoopRow(r: IterationRow): string {
  const init = r.levels[LEVEL_INITIAL];
  const hard = r.levels[LEVEL_HARDER] ?? init;
  return [
    (r.control ? 'control' : String(r.iteration)).padEnd(7),
    pct(init?.greedy).padStart(14),
    pct(hard?.greedy).padStart(13),
    pct(hard?.pass[1]).padStart(13),
    pct(hard?.pass[8]).padStart(13),
    pct(hard?.vote).padStart(12),
    kTokens(r.searchedTokens).padStart(8),
    kTokens(r.trainedTokens).padStart(7),
    (r.wallS / 60).toFixed(1).padStart(5),
  ].join('  ');
}
