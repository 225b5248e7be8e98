// My tasks: the self-service portal. The signed-in person's own tasks in
// each pile (newest first, a page each), their status and result, and a
// rating for each completed one (ratings/{task_id}, as `vayu task rate`).
import { query, where, orderBy, limit, collection, doc, setDoc, serverTimestamp } from 'firebase/firestore';
import { getDb, watch, ms } from '../firebase.js';
import { h, clear, fmtTime, notice, showError } from '../ui.js';
import { session } from '../session.js';
import { pileCollection } from './board.js';

const PAGE = 20;

export function mount(root) {
  const uid = session().uid;
  const tasks = { queued: [], active: [], completed: [] };
  const ratings = new Map();
  const table = h('div', { class: 'scroll' });
  root.append(h('h2', {}, 'My tasks'), h('p', { class: 'hint' }, `Tasks requested by ${uid}, the newest ${PAGE} in each pile.`), table);
  const stops = Object.keys(tasks).map((pile) => watch(
    query(pileCollection(pile), where('requester.id', '==', uid), orderBy('created_at', 'desc'), limit(PAGE)),
    (snap) => { tasks[pile] = snap.docs.map((d) => d.data()); render(); },
  ));
  stops.push(watch(query(collection(getDb(), 'ratings'), where('by', '==', uid), limit(100)), (snap) => {
    ratings.clear();
    snap.docs.forEach((d) => ratings.set(d.id, d.data()));
    render();
  }));

  function rate(t, stars) {
    setDoc(doc(getDb(), 'ratings', t.task_id), { task_id: t.task_id, rating: stars, comment: '', by: uid, at: serverTimestamp() })
      .then(() => notice(`Rated “${t.title}” ${stars} of 5.`))
      .catch((e) => showError(e, 'Rating'));
  }

  function render() {
    const all = [...tasks.queued, ...tasks.active, ...tasks.completed]
      .sort((a, b) => (ms(b.created_at) ?? 0) - (ms(a.created_at) ?? 0));
    clear(table).append(all.length ? h('table', { class: 'mine' },
      h('thead', {}, h('tr', {}, ['Task', 'Status', 'Created', 'Result', 'Rating'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, all.map((t) => h('tr', { 'data-task': t.task_id },
        h('td', {}, h('a', { href: `#/task/${t.task_id}` }, t.title)),
        h('td', {}, h('span', { class: `badge s-${t.status}` }, t.status)),
        h('td', {}, fmtTime(ms(t.created_at))),
        h('td', {}, t.execution?.result || t.execution?.last_error || '—'),
        h('td', {}, stars(t)))))) : h('p', {}, 'You have not requested any tasks.'));
  }

  function stars(t) {
    const r = ratings.get(t.task_id);
    if (r) return `${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}`;
    if (t.status !== 'completed') return '—';
    return h('span', { class: 'rate' }, [1, 2, 3, 4, 5].map((n) => h('button', {
      type: 'button', class: 'link', 'aria-label': `Rate ${t.title} ${n} of 5`, onclick: () => rate(t, n),
    }, '☆')));
  }

  render();
  return () => stops.forEach((s) => s());
}
