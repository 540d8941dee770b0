/**
 * The search-tree viewer that runs in the page: plain DOM, no library. It is written here as a
 * typed function and embedded with `Function.prototype.toString`, so it must not refer to
 * anything outside its own body. Large trees stay responsive because children are built only
 * when their parent is first expanded, and at most CHUNK of them at a time.
 */
export function treeViewer(): void {
  interface Tree {
    run: string;
    file: string;
    problemId: string;
    algo: string;
    budget?: number;
    correct: boolean | null;
    answer: string | null;
    source: string;
    parent: number[];
    step: string[];
    visits: number[];
    q: (number | null)[];
    prior: (number | null)[];
    reward: (number | null)[];
    leaf: number[];
    chosen: number[];
    rolloutFrom?: number;
  }
  const CHUNK = 100;
  const dataEl = document.getElementById('sl-trees');
  const select = document.getElementById('sl-tree-select') as HTMLSelectElement | null;
  const host = document.getElementById('sl-tree');
  const detail = document.getElementById('sl-node-detail');
  if (!dataEl || !select || !host || !detail) return;
  const panel: HTMLElement = detail;
  const trees = (JSON.parse(dataEl.textContent ?? '{"trees":[]}') as { trees: Tree[] }).trees;
  if (trees.length === 0) return;

  let tree: Tree = trees[0]!;
  let children: number[][] = [];
  let onPath = new Uint8Array(0);

  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3));

  // The picker: one group per run and file.
  let group: HTMLOptGroupElement | null = null;
  trees.forEach((t, i) => {
    const label = `${t.run} · ${t.file}`;
    if (!group || group.label !== label) {
      group = document.createElement('optgroup');
      group.label = label;
      select.appendChild(group);
    }
    const o = document.createElement('option');
    o.value = String(i);
    const mark = t.correct === null ? '' : t.correct ? ' ✓' : ' ✗';
    o.textContent = `${t.problemId} · ${t.algo}${t.budget !== undefined ? `@${t.budget}` : ''} · ${t.parent.length} nodes${mark}`;
    group.appendChild(o);
  });

  function rowFor(i: number): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.node = String(i);
    const row = document.createElement('div');
    row.className = 'sl-row';
    row.tabIndex = 0;
    row.setAttribute('role', 'treeitem');
    const has = children[i]!.length > 0;
    row.setAttribute('aria-expanded', has ? 'false' : 'true');
    if (onPath[i]) row.classList.add('sl-chosen');
    const rollout = tree.rolloutFrom !== undefined && i >= tree.rolloutFrom;
    if (rollout) row.classList.add('sl-rollout');
    const leaf = tree.leaf[i];
    if (leaf === 1) row.classList.add('sl-correct');
    else if (leaf === 2) row.classList.add('sl-wrong');
    else if (leaf === 3) row.classList.add('sl-terminal');
    const toggle = document.createElement('span');
    toggle.className = 'sl-toggle';
    toggle.textContent = has ? '▸' : '·';
    const text = document.createElement('span');
    text.className = 'sl-step';
    const step = i === 0 ? `problem ${tree.problemId}` : tree.step[i]!.trim() || '(empty step)';
    text.textContent = step.length > 160 ? `${step.slice(0, 160)}…` : step;
    text.title = step;
    const stats = document.createElement('span');
    stats.className = 'sl-stats';
    stats.textContent = `N ${tree.visits[i]} · Q ${fmt(tree.q[i])} · P ${fmt(tree.prior[i])} · R ${fmt(tree.reward[i])}`;
    row.append(toggle, text, stats);
    if (rollout) {
      const tag = document.createElement('span');
      tag.className = 'sl-tag';
      tag.textContent = 'rollout';
      row.appendChild(tag);
    }
    if (leaf === 1 || leaf === 2) {
      const badge = document.createElement('span');
      badge.className = 'sl-badge';
      badge.textContent = leaf === 1 ? '✓ correct' : '✗ wrong';
      row.appendChild(badge);
    }
    if (has) {
      const count = document.createElement('span');
      count.className = 'sl-count';
      count.textContent = children[i]!.length === 1 ? '1 child' : `${children[i]!.length} children`;
      row.appendChild(count);
    }
    li.appendChild(row);
    return li;
  }

  function appendChunk(ul: HTMLUListElement, i: number, from: number): void {
    const kids = children[i]!;
    const frag = document.createDocumentFragment();
    for (let k = from; k < Math.min(kids.length, from + CHUNK); k++) frag.appendChild(rowFor(kids[k]!));
    if (from + CHUNK < kids.length) {
      const more = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sl-more';
      button.textContent = `show ${Math.min(CHUNK, kids.length - from - CHUNK)} more of ${kids.length - from - CHUNK}`;
      button.addEventListener('click', () => {
        more.remove();
        appendChunk(ul, i, from + CHUNK);
      });
      more.appendChild(button);
      frag.appendChild(more);
    }
    ul.appendChild(frag);
  }

  function setOpen(li: HTMLLIElement, open: boolean): void {
    const i = Number(li.dataset.node);
    if (!(children[i]?.length)) return;
    const row = li.firstElementChild as HTMLElement;
    let ul = li.querySelector(':scope > ul') as HTMLUListElement | null;
    if (open && !ul) {
      ul = document.createElement('ul');
      appendChunk(ul, i, 0);
      li.appendChild(ul);
    }
    if (ul) ul.hidden = !open;
    row.setAttribute('aria-expanded', String(open));
    (row.firstElementChild as HTMLElement).textContent = open ? '▾' : '▸';
  }

  function show(i: number): void {
    const path: number[] = [];
    for (let k = i; k > 0; k = tree.parent[k]!) path.push(k);
    path.reverse();
    const leaf = tree.leaf[i];
    const status = leaf === 1 ? 'correct leaf' : leaf === 2 ? 'wrong leaf' : leaf === 3 ? 'terminal (correctness unknown)' : 'inner node';
    panel.textContent = '';
    const h = document.createElement('div');
    h.className = 'sl-detail-head';
    const rollout = tree.rolloutFrom !== undefined && i >= tree.rolloutFrom ? ' · rollout past the saved tree' : '';
    h.textContent = `node ${i} · depth ${path.length} · ${status}${rollout}${onPath[i] ? ' · on the chosen path' : ''}`;
    const dl = document.createElement('dl');
    const fields: [string, string][] = [
      ['visits', String(tree.visits[i])],
      ['Q', fmt(tree.q[i])],
      ['prior', fmt(tree.prior[i])],
      ['reward', fmt(tree.reward[i])],
      ['children', String(children[i]!.length)],
    ];
    for (const [k, v] of fields) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dd.dataset.field = k;
      dl.append(dt, dd);
    }
    const pre = document.createElement('pre');
    pre.textContent = path.map((k) => tree.step[k]!.replace(/\n+$/, '')).join('\n') || '(root: no steps yet)';
    panel.append(h, dl, pre);
  }

  function load(index: number): void {
    tree = trees[index]!;
    const n = tree.parent.length;
    children = Array.from({ length: n }, () => [] as number[]);
    for (let i = 1; i < n; i++) if (tree.parent[i]! >= 0) children[tree.parent[i]!]!.push(i);
    // Most-visited first, as a search would rank them; index order breaks ties.
    for (const c of children) if (c.length > 1) c.sort((a, b) => tree.visits[b]! - tree.visits[a]! || a - b);
    onPath = new Uint8Array(n);
    for (const k of tree.chosen) onPath[k] = 1;
    host!.textContent = '';
    const head = document.getElementById('sl-tree-head');
    if (head) {
      const verdict = tree.correct === null ? 'correctness unknown' : tree.correct ? 'correct' : 'wrong';
      let good = 0;
      let bad = 0;
      for (const m of tree.leaf) {
        if (m === 1) good++;
        else if (m === 2) bad++;
      }
      head.textContent = `${tree.algo}${tree.budget !== undefined ? ` at budget ${tree.budget}` : ''} on ${tree.problemId}: ${n} nodes (${tree.source === 'tree' ? 'search tree' : 'prefix tree of the trajectories'}), ${good} correct and ${bad} wrong leaves; answer ${tree.answer ?? 'none'} (${verdict})`;
    }
    const ul = document.createElement('ul');
    ul.className = 'sl-root';
    const root = rowFor(0);
    ul.appendChild(root);
    host!.appendChild(ul);
    // Open the chosen path so the selected solution is in view.
    let li: HTMLLIElement | null = root;
    setOpen(root, true);
    for (const k of tree.chosen.slice(1)) {
      const next: HTMLLIElement | null = li ? (li.querySelector(`:scope > ul > li[data-node="${k}"]`) as HTMLLIElement | null) : null;
      if (!next) break;
      setOpen(next, true);
      li = next;
    }
    show(tree.chosen.length ? tree.chosen[tree.chosen.length - 1]! : 0);
  }

  function activate(row: HTMLElement): void {
    const li = row.parentElement as HTMLLIElement;
    const ul = li.querySelector(':scope > ul') as HTMLUListElement | null;
    setOpen(li, !ul || ul.hidden);
    host!.querySelector('.sl-selected')?.classList.remove('sl-selected');
    row.classList.add('sl-selected');
    show(Number(li.dataset.node));
  }

  host.addEventListener('click', (e) => {
    const row = (e.target as HTMLElement).closest('.sl-row') as HTMLElement | null;
    if (row) activate(row);
  });
  host.addEventListener('keydown', (e) => {
    const row = (e.target as HTMLElement).closest('.sl-row') as HTMLElement | null;
    if (row && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      activate(row);
    }
  });
  select.addEventListener('change', () => load(Number(select.value)));
  document.getElementById('sl-collapse')?.addEventListener('click', () => {
    host.querySelectorAll<HTMLLIElement>('li[data-node]').forEach((li) => {
      if (li.dataset.node !== '0') setOpen(li as HTMLLIElement, false);
    });
  });
  load(0);
}

/** The viewer as a script body. `__name` covers bundlers that wrap inner functions to keep their names. */
export function treeViewerScript(): string {
  return `(function(){var __name=function(f){return f};(${treeViewer.toString()})();})();`;
}
