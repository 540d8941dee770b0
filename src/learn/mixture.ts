import type { LmExample } from '../nn/train.js';

/**
 * The initialization data with its foothold traces (the last `footholdCount`, where `initData`
 * puts them) at a share of the list: they are repeated (or the initial level's, for a small share)
 * so that a uniform draw from the list hits them at that share, rounded to whole repeats; unset:
 * the list as it is. Initialization trains on it (`Foothold.share`), and the loop's equal-token
 * control on it at the loop's replay share, so that a loop that upweights its foothold is
 * compared with a control that does too.
 */
export function footholdMixture(all: readonly LmExample[], footholdCount: number, share: number | undefined): LmExample[] {
  const foothold = Math.min(footholdCount, all.length);
  if (share === undefined || foothold === 0 || foothold === all.length) return [...all];
  const base = all.slice(0, all.length - foothold);
  const hard = all.slice(all.length - foothold);
  if (share <= 0) return base;
  if (share >= 1) return hard;
  const k = (share * base.length) / ((1 - share) * hard.length);
  const repeat = <T>(xs: readonly T[], times: number): T[] => Array.from({ length: Math.max(1, Math.round(times)) }, () => xs).flat();
  return k >= 1 ? [...base, ...repeat(hard, k)] : [...repeat(base, 1 / k), ...hard];
}
