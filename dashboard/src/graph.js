// A task's dependency graph, one hop each way: what it waits for (left),
// the task (middle), what waits for it (right), as an SVG with links.
import { h } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...kids);
  return el;
}

function node(x, y, id, self) {
  const label = svg('text', { x: x + 8, y: y + 17 }, id.slice(0, 13));
  const box = svg('g', { class: self ? 'node self' : 'node' }, svg('rect', { x, y, width: 120, height: 26, rx: 4 }), label);
  if (self) return box;
  const a = svg('a', { href: `#/task/${encodeURIComponent(id)}` }, box);
  a.setAttribute('aria-label', `Task ${id}`);
  return a;
}

/** `dependents`: every task waiting for `t` (its waiters document), or
 * null before that is read (then the one its mark names). */
export function depGraph(t, dependents) {
  const before = t.dependencies?.blocked_by || [];
  const after = dependents || t.dependencies?.blocking || [];
  if (!before.length && !after.length) return h('p', { class: 'hint' }, 'No dependencies.');
  const rows = Math.max(before.length, after.length, 1);
  const height = rows * 34 + 10;
  const mid = height / 2 - 13;
  const g = svg('svg', { viewBox: `0 0 440 ${height}`, class: 'graph', role: 'img', 'aria-label': `Waits for ${before.length}, ${after.length} wait for it` });
  const edge = (x1, y1, x2, y2) => svg('line', { x1, y1, x2, y2, class: 'edge' });
  before.forEach((id, i) => { g.append(edge(125, i * 34 + 18, 160, mid + 13), node(5, i * 34 + 5, id)); });
  after.forEach((id, i) => { g.append(edge(280, mid + 13, 315, i * 34 + 18), node(315, i * 34 + 5, id)); });
  g.append(node(160, mid, t.task_id, true));
  return g;
}
