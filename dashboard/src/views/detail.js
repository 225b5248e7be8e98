// One task: its fields, history timeline, progress (step and estimated
// completion), checkpoints, artifacts, live log tail, reviews and rating,
// dependencies, collaborators and the team (a parent's parts, or a
// part's parent). The task is watched in all three piles
// (it moves between them); the log tail is the newest few batches.
import {
  doc, collection, query, where, orderBy, limitToLast, limit,
} from 'firebase/firestore';
import { getDb, watch, ms } from '../firebase.js';
import { h, clear, fmtTime } from '../ui.js';
import { card } from '../card.js';
import { depGraph } from '../graph.js';

const LOG_BATCHES = 5;

export function mount(root, [id]) {
  const db = getDb();
  const body = h('div', {}, h('p', {}, 'Loading…'));
  const logs = h('pre', { class: 'logs', 'aria-label': 'Log tail', tabindex: 0 });
  const reviews = h('div', {});
  root.append(h('h2', {}, 'Task ', h('span', { class: 'mono' }, id)), body,
    h('h3', {}, 'Log tail'), logs, h('h3', {}, 'Reviews and rating'), reviews);
  const found = {};
  // What waits for the task: its waiters document (src/deps/waiters.rs),
  // every dependent; the task's own `blocking` names only the first.
  const waiting = { list: null };
  const show = () => {
    const [p, t] = Object.entries(found).find(([, v]) => v) || [];
    if (t) render(body, t, p, waiting.list);
    else if (Object.keys(found).length === 3) clear(body).append(h('p', { role: 'alert' }, `No task ${id}.`));
  };
  const stops = ['queued', 'active', 'completed'].map((pile) => watch(doc(db, 'tasks', pile, `${pile}_tasks`, id), (snap) => {
    found[pile] = snap.exists() ? snap.data() : null;
    show();
  }));
  stops.push(watch(doc(db, 'waiters', id), (snap) => {
    waiting.list = snap.exists() ? snap.data().dependents || [] : [];
    show();
  }));
  stops.push(watch(query(collection(db, 'task_logs', id, 'lines'), orderBy('at'), limitToLast(LOG_BATCHES)), (snap) => {
    logs.textContent = snap.docs.flatMap((d) => d.data().lines || []).slice(-40).join('\n') || '(no log lines yet)';
  }));
  const verdicts = {};
  const showReviews = () => renderReviews(reviews, Object.values(verdicts.list || {}), verdicts.rating);
  stops.push(watch(query(collection(db, 'reviews'), where('task_id', '==', id), limit(40)), (snap) => {
    verdicts.list = snap.docs.map((d) => d.data());
    showReviews();
  }));
  stops.push(watch(doc(db, 'ratings', id), (snap) => { verdicts.rating = snap.exists() ? snap.data() : null; showReviews(); }));
  return () => stops.forEach((s) => s());
}

function field(name, value) {
  return [h('dt', {}, name), h('dd', {}, value ?? '—')];
}

function render(root, t, pile, dependents) {
  const ex = t.execution || {};
  const eta = ms(ex.estimated_completion);
  clear(root).append(
    h('ul', { class: 'cards detail-head' }, card(t, pile)),
    h('div', { class: 'progress-block' },
      h('label', { for: 'task-progress' }, `Progress ${ex.progress ?? 0}%`, ex.current_step ? ` · ${ex.current_step}` : ''),
      h('progress', { id: 'task-progress', max: 100, value: ex.progress ?? 0 }),
      h('p', { class: 'hint' }, eta ? `Estimated completion ${fmtTime(eta)}` : 'No estimate yet')),
    h('dl', { class: 'fields' },
      field('Status', h('span', { 'data-field': 'status' }, t.status)), field('Type', t.type), field('Priority', t.priority),
      field('Requester', `${t.requester?.id} (${t.requester?.type})`), field('Agent', t.lease?.owner || t.assignment?.primary_agent),
      field('Collaborators', (t.assignment?.collaborators || []).join(', ') || null),
      field('Team', team(t.team)), field('Part of', partOf(t.part_of)),
      field('Created', fmtTime(ms(t.created_at))), field('Updated', fmtTime(ms(t.updated_at))),
      field('Attempt', `${ex.attempt ?? 0} (retries ${t.metadata?.retry_count ?? 0}/${t.metadata?.max_retries ?? 0})`),
      field('Tags', (t.metadata?.tags || []).join(', ') || null), field('Requires', (t.requires || []).join(', ') || null),
      field('Review policy', t.review?.policy), field('Result', ex.result), field('Last error', ex.last_error)),
    h('h3', {}, 'Dependencies'), depGraph(t, dependents),
    h('h3', {}, 'History'),
    h('ol', { class: 'timeline' }, (t.history || []).map((e) => h('li', {},
      h('time', {}, fmtTime(ms(e.at))), ' ', h('strong', {}, e.status || ''), e.agent ? ` by ${e.agent}` : '', e.note ? ` — ${e.note}` : ''))),
    h('h3', {}, 'Checkpoints'),
    list('checkpoints', ex.checkpoints, (c) => `${fmtTime(ms(c.at))} (epoch ${c.epoch}): ${String(c.data).slice(0, 200)}`),
    h('h3', {}, 'Artifacts'),
    list('artifacts', ex.artifacts, (a) => h('span', {}, h('strong', {}, a.name), ' ', h('span', { class: 'mono' }, a.uri))),
    h('h3', {}, 'Input'), h('pre', { class: 'input' }, t.input || '(none)'));
}

const taskLink = (id) => h('a', { href: `#/task/${encodeURIComponent(id)}`, class: 'mono' }, id);

/** A team's parent: its pattern, merge, and each part (with its role). */
function team(tm) {
  if (!tm) return null;
  return h('div', { 'data-field': 'team' }, `${tm.pattern} team, results merged by ${tm.merge}`,
    h('ol', {}, (tm.parts || []).map((p, i) => h('li', {}, taskLink(p), tm.roles?.[i] ? ` (role ${tm.roles[i]})` : ''))));
}

/** A team's part: which part of which parent. */
function partOf(p) {
  if (!p) return null;
  return h('span', { 'data-field': 'part-of' }, `part ${p.index} of ${p.of} (${p.pattern}${p.role ? `, role ${p.role}` : ''}) of `, taskLink(p.parent));
}

function list(name, items, f) {
  return items && items.length ? h('ul', { class: name }, items.map((x) => h('li', {}, f(x)))) : h('p', { class: 'hint' }, 'none');
}

function renderReviews(root, verdicts, rating) {
  verdicts.sort((a, b) => a.round - b.round || a.kind.localeCompare(b.kind));
  clear(root).append(
    verdicts.length ? h('table', { class: 'reviews' }, h('thead', {}, h('tr', {}, ['Round', 'Kind', 'Reviewer', 'Verdict', 'Scores', 'Comment'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, verdicts.map((v) => h('tr', {}, h('td', {}, v.round), h('td', {}, v.kind), h('td', {}, v.reviewer), h('td', {}, v.verdict),
        h('td', {}, Object.entries(v.scores || {}).map(([k, s]) => `${k} ${s}`).join(', ')), h('td', {}, v.comment)))))
      : h('p', { class: 'hint' }, 'No review verdicts.'),
    h('p', {}, rating ? `Requester's rating: ${'★'.repeat(rating.rating)}${'☆'.repeat(5 - rating.rating)} ${rating.comment || ''}` : 'Not rated.'));
}
