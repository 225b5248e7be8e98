// The priority queue: queued tasks in the order agents will claim them,
// with ageing (core/src/assign/ageing.rs, mirrored in model.js). Two
// bounded listeners: the best-ranked and the longest-waiting tasks, since
// ageing can lift an old low-priority task above newer urgent ones; their
// union is ordered as agents order it, on a clock that ticks every 5 s.
import { query, where, orderBy, limit } from 'firebase/firestore';
import { watch, ms } from '../firebase.js';
import { claimOrder, effectiveRank, stepsWaited, overdue, PRIORITIES } from '../model.js';
import { h, clear, fmtAge } from '../ui.js';
import { pileCollection } from './board.js';
import { card } from '../card.js';

const SHOWN = 50;

export function mount(root) {
  const byRank = new Map();
  const byAge = new Map();
  const list = h('ol', { class: 'queue', 'aria-label': 'Claim order' });
  root.append(h('h2', {}, 'Priority queue'),
    h('p', { class: 'hint' }, 'In claim order. A waiting task gains one priority level per 5 minutes; overdue after 20.'), list);
  const q = pileCollection('queued');
  const keep = (m) => (snap) => { m.clear(); snap.docs.forEach((d) => m.set(d.id, d.data())); render(); };
  const stops = [
    watch(query(q, where('status', '==', 'queued'), orderBy('priority_rank'), orderBy('created_at'), limit(SHOWN)), keep(byRank)),
    watch(query(q, where('status', '==', 'queued'), orderBy('created_at'), limit(SHOWN)), keep(byAge)),
  ];
  const tick = setInterval(render, 5000);

  function render() {
    const now = Date.now();
    const all = new Map([...byRank, ...byAge]);
    const view = [...all.values()].map((t) => ({ t, task_id: t.task_id, priority: t.priority, created_at: ms(t.created_at), not_before: ms(t.not_before) }));
    const ordered = claimOrder(view, now).slice(0, SHOWN);
    clear(list).append(...ordered.map((v, i) => {
      const eff = PRIORITIES[effectiveRank(v, now)];
      const aged = eff !== v.priority;
      return h('li', { 'data-task': v.task_id },
        h('div', { class: 'queue-meta' }, h('strong', {}, `#${i + 1}`),
          ` waiting ${fmtAge(now - (v.not_before && v.not_before > v.created_at ? v.not_before : v.created_at))}`,
          aged ? h('span', { class: 'badge warn' }, `aged ${v.priority} → ${eff} (${stepsWaited(v, now)} steps)`) : null,
          overdue(v, now) ? h('span', { class: 'badge error' }, 'overdue') : null),
        card(v.t, 'queued'));
    }));
    if (!ordered.length) list.append(h('li', { class: 'empty' }, 'The queue is empty.'));
  }

  return () => { stops.forEach((s) => s()); clearInterval(tick); };
}
