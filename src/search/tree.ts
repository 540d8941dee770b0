import { NO_PARENT, ROOT_INDEX, type SearchTree } from './search.js';

/**
 * Flat-array tree helpers (mctx's `Tree`: node i's fields live at index i of each array; node 0
 * is the root; parent -1 means none). Nodes are only appended, so a child's index is always
 * greater than its parent's.
 */

export function newTree(): SearchTree {
  const tree: SearchTree = { parent: [], step: [], visits: [], q: [], prior: [], reward: [], terminal: [] };
  addNode(tree, NO_PARENT, '', 1, false);
  return tree;
}

/** Appends a node and returns its index. */
export function addNode(tree: SearchTree, parent: number, step: string, prior: number, terminal: boolean): number {
  tree.parent.push(parent);
  tree.step.push(step);
  tree.visits.push(0);
  tree.q.push(0);
  tree.prior.push(prior);
  tree.reward.push(null);
  tree.terminal.push(terminal);
  return tree.parent.length - 1;
}

export function numNodes(tree: SearchTree): number {
  return tree.parent.length;
}

/** Children of `node` in index order. */
export function childrenOf(tree: SearchTree, node: number): number[] {
  const out: number[] = [];
  for (let i = node + 1; i < tree.parent.length; i++) if (tree.parent[i] === node) out.push(i);
  return out;
}

/** Nodes from the root's first child down to `node` (empty for the root). */
export function pathTo(tree: SearchTree, node: number): number[] {
  const path: number[] = [];
  for (let n = node; n !== ROOT_INDEX && n !== NO_PARENT; n = tree.parent[n]!) path.push(n);
  return path.reverse();
}

/** The solution text of the path to `node` (its steps concatenated, delimiters included). */
export function textTo(tree: SearchTree, node: number): string {
  return pathTo(tree, node)
    .map((n) => tree.step[n])
    .join('');
}

export function depthOf(tree: SearchTree, node: number): number {
  return pathTo(tree, node).length;
}
