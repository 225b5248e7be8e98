// Analytics from aggregates, never by reading every task:
// - tasks per state now: one count query per state;
// - throughput per hour (12 h): count queries of completed and failed
//   tasks by their last update, two per hour;
// - completion and error rates: from those counts (cancelled and skipped
//   left out, as core/src/success.rs does);
// - queue depth over time: a count of the queue every 15 s while the page
//   is open (there is no stored history of it);
// - agent utilisation: running/concurrency from the agents as people see
//   them (registration and latest beat, fleet.js);
// - time to assignment and first-time success: from a bounded sample, the
//   newest 50 completed tasks (one page, not the pile).
import { query, where, orderBy, limit, getDocs, Timestamp } from 'firebase/firestore';
import { count, ms, reads } from '../firebase.js';
import { STATUSES, pileOf } from '../model.js';
import { h } from '../ui.js';
import { pileCollection } from './board.js';
import { chart } from '../charts.js';
import { readAgents } from '../fleet.js';

const HOURS = 12;
const SAMPLE = 50;

export function mount(root) {
  const grid = h('div', { class: 'charts' });
  root.append(h('h2', {}, 'Analytics'), h('p', { class: 'hint' }, 'Counts are aggregate queries; timings come from the newest 50 completed tasks.'), grid);
  const panel = (id, title) => {
    const canvas = h('canvas', { id, role: 'img', 'aria-label': title });
    grid.append(h('figure', { class: 'chart' }, h('figcaption', {}, title), h('div', { class: 'canvas-box' }, canvas)));
    return canvas;
  };
  const charts = [];
  const depth = [];
  let depthChart;
  let live = true;

  (async () => {
    const byState = await Promise.all(STATUSES.map((s) => count(query(pileCollection(pileOf(s)), where('status', '==', s)))));
    if (!live) return;
    charts.push(chart(panel('chart-states', 'Tasks per state now'), 'bar', STATUSES, [{ label: 'tasks', data: byState }]));
    const n = Object.fromEntries(STATUSES.map((s, i) => [s, byState[i]]));
    const ran = n.completed + n.failed;
    charts.push(chart(panel('chart-rates', 'Completion and error rates'), 'doughnut', ['completed', 'failed'],
      [{ label: 'ended', data: [n.completed, n.failed] }], ran ? `completion ${(100 * n.completed / ran).toFixed(0)}%` : 'nothing ended'));
    depth.push([new Date().toLocaleTimeString([], { hour12: false }), n.queued]);
    depthChart = chart(panel('chart-depth', 'Queue depth over time (sampled every 15 s)'), 'line', depth.map((d) => d[0]), [{ label: 'queued', data: depth.map((d) => d[1]) }]);
    charts.push(depthChart);

    const hours = [...Array(HOURS).keys()].map((i) => Math.floor(Date.now() / 3600000 - (HOURS - 1 - i)) * 3600000);
    const per = (status) => Promise.all(hours.map((t0) => count(query(pileCollection('completed'), where('status', '==', status),
      where('updated_at', '>=', Timestamp.fromMillis(t0)), where('updated_at', '<', Timestamp.fromMillis(t0 + 3600000))))));
    const [done, failed] = await Promise.all([per('completed'), per('failed')]);
    if (!live) return;
    charts.push(chart(panel('chart-throughput', 'Throughput per hour'), 'bar', hours.map((t) => `${new Date(t).getHours()}:00`),
      [{ label: 'completed', data: done }, { label: 'failed', data: failed }]));

    const agents = await readAgents();
    if (!live) return;
    charts.push(chart(panel('chart-agents', 'Agent utilisation (running / concurrency)'), 'bar', agents.map((a) => a.agent_id),
      [{ label: '% busy', data: agents.map((a) => Math.round(100 * (a.current_tasks || []).length / (a.concurrency || 1))) }]));

    const sample = (await getDocs(query(pileCollection('completed'), where('status', '==', 'completed'), orderBy('created_at', 'desc'), limit(SAMPLE)))).docs.map((d) => d.data());
    reads.documents += sample.length;
    if (!live) return;
    const waits = sample.map(toAssignment).filter((x) => x != null);
    const first = sample.filter((t) => (t.metadata?.retry_count ?? 0) === 0 && (t.review?.round ?? 0) === 0).length;
    const buckets = ['<1s', '1-10s', '10-60s', '1-10m', '>10m'];
    const bucket = (s) => (s < 1 ? 0 : s < 10 ? 1 : s < 60 ? 2 : s < 600 ? 3 : 4);
    const hist = buckets.map((_, i) => waits.filter((w) => bucket(w) === i).length);
    charts.push(chart(panel('chart-assign', 'Time to assignment (newest 50 completed)'), 'bar', buckets, [{ label: 'tasks', data: hist }]));
    charts.push(chart(panel('chart-first', 'First-time success (newest 50 completed)'), 'doughnut', ['first time', 'after a retry or rework'],
      [{ label: 'tasks', data: [first, sample.length - first] }]));
    root.dataset.ready = 'true';
  })().catch((e) => root.append(h('p', { role: 'alert' }, `Analytics failed: ${e.message}`)));

  const tick = setInterval(async () => {
    if (!depthChart) return;
    depth.push([new Date().toLocaleTimeString([], { hour12: false }), await count(query(pileCollection('queued'), where('status', '==', 'queued')))]);
    depthChart.data.labels = depth.map((d) => d[0]);
    depthChart.data.datasets[0].data = depth.map((d) => d[1]);
    depthChart.update();
  }, 15000);
  return () => { live = false; clearInterval(tick); charts.forEach((c) => c.destroy()); };
}

/** Seconds from creation to the first assignment in the history. */
function toAssignment(t) {
  const created = ms(t.created_at);
  const first = (t.history || []).find((e) => e.status === 'assigned');
  const at = first && ms(first.at);
  return created != null && at != null ? Math.max(0, (at - created) / 1000) : null;
}
