// The Kanban board: one column per lifecycle state, each a live listener
// on its pile limited to a page of cards (newest first), with an
// aggregate count in its header when the page is full (a column that
// fits in one page counts itself). Filters are equality filters, which
// Firestore serves by merging single-field indexes (no composite index per
// combination); filtered columns are sorted in the page.
import {
  collection, query, where, orderBy, limit,
} from 'firebase/firestore';
import { getDb, watch, count } from '../firebase.js';
import { STATUSES, TYPES, PRIORITIES, pileOf } from '../model.js';
import { h, clear } from '../ui.js';
import { card } from '../card.js';

export const PAGE = 20;

const FILTERS = [
  { key: 'type', label: 'Type', field: 'type', options: TYPES },
  { key: 'priority', label: 'Priority', field: 'priority', options: PRIORITIES },
  { key: 'agent', label: 'Agent', field: 'assignment.primary_agent' },
  { key: 'requester', label: 'Requester', field: 'requester.id' },
  { key: 'tag', label: 'Tag', field: 'metadata.tags', op: 'array-contains' },
];

export function pileCollection(pile) {
  return collection(getDb(), 'tasks', pile, `${pile}_tasks`);
}

/** The constraints of the active filters. */
function filterClauses(filters) {
  return FILTERS.filter((f) => filters[f.key]).map((f) => where(f.field, f.op || '==', filters[f.key]));
}

export function mount(root) {
  const filters = {};
  let showAll = false;
  const columns = new Map();
  const bar = h('form', { class: 'filters', 'aria-label': 'Filter the board', onsubmit: (e) => e.preventDefault() },
    FILTERS.map((f) => {
      const id = `filter-${f.key}`;
      const input = f.options
        ? h('select', { id }, h('option', { value: '' }, 'any'), f.options.map((o) => h('option', { value: o }, o)))
        : h('input', { id, type: 'search', placeholder: 'any' });
      input.addEventListener('change', () => { filters[f.key] = input.value.trim(); restartAll(); });
      return h('span', {}, h('label', { for: id }, f.label), input);
    }),
    h('span', {}, h('input', {
      id: 'show-all', type: 'checkbox',
      onchange: (e) => { showAll = e.target.checked; for (const c of columns.values()) render(c); },
    }), h('label', { for: 'show-all' }, 'Show actions my role may not take')));
  const board = h('div', { class: 'board', role: 'list', 'aria-label': 'Tasks by state' });
  root.append(h('h2', {}, 'Board'), bar, board);

  for (const status of STATUSES) {
    const list = h('ul', { class: 'cards', 'aria-label': `${status} tasks` }, h('li', { class: 'empty' }, 'loading…'));
    const countEl = h('span', { class: 'count', 'data-count': status }, '…');
    const more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => { c.limit += PAGE; restart(c); } }, 'Show more');
    const col = h('section', { class: 'column', role: 'listitem', 'data-column': status, 'aria-label': status },
      h('h3', {}, status, ' ', countEl), list, more);
    board.append(col);
    const c = { status, pile: pileOf(status), limit: PAGE, list, countEl, more, docs: [], stop: null, countTimer: null };
    columns.set(status, c);
  }

  function restart(c) {
    if (c.stop) c.stop();
    const clauses = filterClauses(filters);
    const q = clauses.length
      ? query(pileCollection(c.pile), where('status', '==', c.status), ...clauses, limit(c.limit))
      : query(pileCollection(c.pile), where('status', '==', c.status), orderBy('created_at', 'desc'), limit(c.limit));
    c.stop = watch(q, (snap) => {
      c.docs = snap.docs.map((d) => d.data());
      render(c);
      scheduleCount(c);
    });
  }

  /** The column's total: the page itself when it is not full (no read
   * needed), else an aggregate count, at most every 1.5 s. */
  function scheduleCount(c) {
    clearTimeout(c.countTimer);
    if (c.docs.length < c.limit) {
      c.countEl.textContent = String(c.docs.length);
      c.more.hidden = true;
      return;
    }
    c.countTimer = setTimeout(async () => {
      const q = query(pileCollection(c.pile), where('status', '==', c.status), ...filterClauses(filters));
      try {
        const n = await count(q);
        c.countEl.textContent = String(n);
        c.more.hidden = n <= c.docs.length;
      } catch (e) { c.countEl.textContent = '?'; }
    }, c.counted ? 1500 : 0);
    c.counted = true;
  }

  function render(c) {
    const docs = [...c.docs].sort((a, b) => (b.created_at?.toMillis() ?? 0) - (a.created_at?.toMillis() ?? 0));
    clear(c.list).append(...docs.map((t) => card(t, c.pile, { showAll })));
    if (!docs.length) c.list.append(h('li', { class: 'empty' }, 'none'));
  }

  function restartAll() {
    for (const c of columns.values()) { c.limit = PAGE; restart(c); }
  }

  restartAll();
  return () => { for (const c of columns.values()) { if (c.stop) c.stop(); clearTimeout(c.countTimer); } };
}
