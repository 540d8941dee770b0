import type { SearchRecord, TrajectoryRecord } from './read-run.js';

/**
 * Saved searches as the trees the viewer draws, in the flat-array layout of src/search/tree.ts
 * (node 0 is the root, parent -1 means none). Tree searches (MCTS) saved their tree; best-of-N,
 * voting and beam search saved only trajectories, which are a tree all the same: the root, the
 * step prefixes the trajectories share, and one leaf per distinct solution (beam search's
 * surviving prefixes are exactly those shared prefixes).
 */

/** Leaf status: 0 inner node, 1 correct leaf, 2 wrong leaf, 3 terminal of unknown correctness. */
export type LeafMark = 0 | 1 | 2 | 3;

export interface ViewerTree {
  run: string;
  file: string;
  problemId: string;
  algo: string;
  budget?: number;
  /** Whether the selected answer is correct, when known. */
  correct: boolean | null;
  answer: string | null;
  source: 'tree' | 'trajectories';
  parent: number[];
  step: string[];
  visits: number[];
  q: (number | null)[];
  prior: (number | null)[];
  reward: (number | null)[];
  leaf: LeafMark[];
  /** Nodes of the chosen solution, root first. */
  chosen: number[];
}

/** Step text kept per node: enough to read, bounded so one odd step cannot bloat the file. */
const MAX_STEP_CHARS = 2000;

const round = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1e4) / 1e4);
const stepKey = (steps: string[]): string => steps.map((s) => s.trim()).join('\u0001');
const clip = (s: string): string => (s.length > MAX_STEP_CHARS ? `${s.slice(0, MAX_STEP_CHARS)}…` : s);

function correctOf(r: SearchRecord): boolean | null {
  return r.correct ?? r.best?.correct ?? null;
}

/** Correctness of each distinct solution, by its trimmed steps. */
function outcomes(r: SearchRecord): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const t of [...r.trajectories, ...(r.best ? [r.best] : [])]) if (t.correct !== undefined) m.set(stepKey(t.steps), t.correct);
  // The selected solution's correctness is known from eval even where trajectories lack it.
  const c = correctOf(r);
  if (r.best && c !== null && !m.has(stepKey(r.best.steps))) m.set(stepKey(r.best.steps), c);
  return m;
}

export function toViewerTree(r: SearchRecord, run: string, file: string): ViewerTree {
  const head = { run, file, problemId: r.problemId, algo: r.algo, ...(r.budget !== undefined ? { budget: r.budget } : {}), correct: correctOf(r), answer: r.answer ?? r.best?.answer ?? null };
  return r.tree ? { ...head, source: 'tree', ...fromTree(r) } : { ...head, source: 'trajectories', ...fromTrajectories(r.trajectories, r.best ?? null, outcomes(r)) };
}

type Body = Pick<ViewerTree, 'parent' | 'step' | 'visits' | 'q' | 'prior' | 'reward' | 'leaf' | 'chosen'>;

function fromTree(r: SearchRecord): Body {
  const t = r.tree!;
  const n = t.parent.length;
  const known = outcomes(r);
  const leaf: LeafMark[] = new Array(n).fill(0);
  const bestKey = r.best ? stepKey(r.best.steps) : null;
  let chosenEnd = -1;
  for (let i = 0; i < n; i++) {
    if (!t.terminal[i]) continue;
    const steps: string[] = [];
    for (let k = i; k > 0; k = t.parent[k]!) steps.push(t.step[k]!);
    const key = stepKey(steps.reverse());
    const c = known.get(key);
    leaf[i] = c === undefined ? 3 : c ? 1 : 2;
    if (key === bestKey && (chosenEnd < 0 || t.visits[i]! > t.visits[chosenEnd]!)) chosenEnd = i;
  }
  const chosen: number[] = [];
  if (chosenEnd >= 0) for (let k = chosenEnd; k >= 0; k = t.parent[k]!) chosen.push(k);
  else if (r.best) chosen.push(...walk(t.parent, t.step, t.visits, r.best.steps));
  return {
    parent: t.parent,
    step: t.step.map(clip),
    visits: t.visits,
    q: t.q.map(round),
    prior: t.prior.map(round),
    reward: t.reward.map(round),
    leaf,
    chosen: chosenEnd >= 0 ? chosen.reverse() : chosen,
  };
}

/** Root-first path that follows `steps` as far as the tree has them (most-visited child on ties). */
function walk(parent: number[], step: string[], visits: number[], steps: string[]): number[] {
  const path = [0];
  let node = 0;
  for (const s of steps) {
    let next = -1;
    for (let i = node + 1; i < parent.length; i++) {
      if (parent[i] === node && step[i]!.trim() === s.trim() && (next < 0 || visits[i]! > visits[next]!)) next = i;
    }
    if (next < 0) break;
    path.push(next);
    node = next;
  }
  return path;
}

/** The prefix tree of a set of trajectories: visits count solutions through a node, Q is their mean score, reward the step's PRM score. */
export function fromTrajectories(trajectories: TrajectoryRecord[], best: TrajectoryRecord | null, known: Map<string, boolean>): Body {
  const b: Body = { parent: [-1], step: [''], visits: [0], q: [null], prior: [null], reward: [null], leaf: [0], chosen: [] };
  const qSum: number[] = [0];
  const qCount: number[] = [0];
  const child = new Map<string, number>();
  const descend = (steps: string[], create: boolean, t?: TrajectoryRecord): number[] => {
    const path = [0];
    let node = 0;
    steps.forEach((s, k) => {
      if (node < 0) return;
      const key = `${node}\u0001${s.trim()}`;
      let next = child.get(key);
      if (next === undefined) {
        if (!create) {
          node = -1;
          return;
        }
        next = b.parent.length;
        child.set(key, next);
        b.parent.push(node);
        b.step.push(clip(s));
        b.visits.push(0);
        b.q.push(null);
        b.prior.push(null);
        b.reward.push(round(t?.stepScores?.[k]));
        b.leaf.push(0);
        qSum.push(0);
        qCount.push(0);
      }
      path.push(next);
      node = next;
    });
    return node < 0 ? [] : path;
  };
  for (const t of trajectories) {
    if (t.steps.length === 0) continue;
    const path = descend(t.steps, true, t);
    for (const i of path) {
      b.visits[i]!++;
      if (t.score !== undefined) {
        qSum[i]! += t.score;
        qCount[i]!++;
      }
    }
    const end = path[path.length - 1]!;
    const c = known.get(stepKey(t.steps));
    b.leaf[end] = c === undefined ? 3 : c ? 1 : 2;
  }
  for (let i = 0; i < b.parent.length; i++) b.q[i] = qCount[i]! > 0 ? round(qSum[i]! / qCount[i]!) : null;
  if (best && best.steps.length > 0) b.chosen = descend(best.steps, false);
  return b;
}
