import type { SearchRecord, TrajectoryRecord, TreeRecord } from './read-run.js';

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
  /** Nodes from this index on continue a saved tree with the rollouts that ran past its leaves. */
  rolloutFrom?: number;
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
  const known = outcomes(r);
  if (!r.tree) return { ...head, source: 'trajectories', ...fromTrajectories(r.trajectories, r.best ?? null, known) };
  return { ...head, source: 'tree', ...fromTree(r.tree, r.trajectories, r.best ?? null, known) };
}

type Body = Pick<ViewerTree, 'parent' | 'step' | 'visits' | 'q' | 'prior' | 'reward' | 'leaf' | 'chosen' | 'rolloutFrom'>;

/**
 * A saved search tree, with the trajectories grafted on: tree searches keep only the nodes they
 * expanded, while their solutions come from rollouts that run past the tree's leaves (MCTS's
 * simulation step). Each rollout continues below the deepest tree node it passes through, as
 * nodes numbered from `rolloutFrom` on, so that every solution, the chosen one included, ends
 * in a leaf that can be coloured by the verifier.
 */
export function fromTree(t: TreeRecord, trajectories: TrajectoryRecord[], best: TrajectoryRecord | null, known: Map<string, boolean>): Body {
  const n = t.parent.length;
  const b: Body = {
    parent: [...t.parent],
    step: t.step.map(clip),
    visits: [...t.visits],
    q: t.q.map(round),
    prior: t.prior.map(round),
    reward: t.reward.map(round),
    leaf: new Array<LeafMark>(n).fill(0),
    chosen: [],
    rolloutFrom: n,
  };
  const child = new Map<string, number>();
  for (let i = 1; i < n; i++) {
    const key = `${t.parent[i]}\u0001${t.step[i]!.trim()}`;
    const prev = child.get(key);
    if (prev === undefined || t.visits[i]! > t.visits[prev]!) child.set(key, i);
  }
  // Terminal tree nodes: correctness of the solution they end, where a trajectory says it.
  for (let i = 0; i < n; i++) {
    if (!t.terminal[i]) continue;
    const steps: string[] = [];
    for (let k = i; k > 0; k = t.parent[k]!) steps.push(t.step[k]!);
    const c = known.get(stepKey(steps.reverse()));
    b.leaf[i] = c === undefined ? 3 : c ? 1 : 2;
  }
  graft(b, child, trajectories, best, known, n);
  return b;
}

/** The prefix tree of a set of trajectories: visits count solutions through a node, Q is their mean score, reward the step's PRM score. */
export function fromTrajectories(trajectories: TrajectoryRecord[], best: TrajectoryRecord | null, known: Map<string, boolean>): Body {
  const b: Body = { parent: [-1], step: [''], visits: [0], q: [null], prior: [null], reward: [null], leaf: [0], chosen: [] };
  graft(b, new Map(), trajectories, best, known, 0);
  return b;
}

/**
 * Adds each trajectory's steps below the nodes that already spell its prefix, creating nodes as
 * needed. Nodes from `fresh` on are counted here: visits = solutions through them, Q = their
 * mean score; older nodes (a saved tree's) keep the search's own numbers.
 */
function graft(b: Body, child: Map<string, number>, trajectories: TrajectoryRecord[], best: TrajectoryRecord | null, known: Map<string, boolean>, fresh: number): void {
  const qSum = new Map<number, number>();
  const qCount = new Map<number, number>();
  const descend = (steps: string[], create: boolean, t?: TrajectoryRecord): number[] => {
    const path = [0];
    let node = 0;
    for (let k = 0; k < steps.length; k++) {
      const key = `${node}\u0001${steps[k]!.trim()}`;
      let next = child.get(key);
      if (next === undefined) {
        if (!create) break;
        next = b.parent.length;
        child.set(key, next);
        b.parent.push(node);
        b.step.push(clip(steps[k]!));
        b.visits.push(0);
        b.q.push(null);
        b.prior.push(null);
        b.reward.push(round(t?.stepScores?.[k]));
        b.leaf.push(0);
      }
      path.push(next);
      node = next;
    }
    return path;
  };
  for (const t of trajectories) {
    if (t.steps.length === 0) continue;
    const path = descend(t.steps, true, t);
    for (const i of path) {
      if (i < fresh) continue;
      b.visits[i]!++;
      if (t.score !== undefined) {
        qSum.set(i, (qSum.get(i) ?? 0) + t.score);
        qCount.set(i, (qCount.get(i) ?? 0) + 1);
      }
    }
    const end = path[path.length - 1]!;
    const c = known.get(stepKey(t.steps));
    if (end >= fresh || b.leaf[end] === 0) b.leaf[end] = c === undefined ? 3 : c ? 1 : 2;
  }
  for (const [i, sum] of qSum) b.q[i] = round(sum / qCount.get(i)!);
  if (best && best.steps.length > 0) b.chosen = descend(best.steps, false);
}
