// The agent availability matrix: agents against capabilities, with status,
// current tasks, CPU and memory, last heartbeat and draining. Two listeners,
// on `agents` and `presence` (a fleet is small), merged as `vayu agent
// list` merges them (fleet.js). A dead agent writes nothing, so the page
// judges staleness itself on a clock that ticks every second: an agent
// that missed two of its declared heartbeats shows offline, the rule
// peers use to mark it (firestore.rules `isMarkOffline`).
import { doc, updateDoc, serverTimestamp } from 'firebase/firestore';
import { getDb } from '../firebase.js';
import { watchAgents } from '../fleet.js';
import { agentOffline } from '../model.js';
import { h, clear, fmtAge, notice, showError } from '../ui.js';
import { session } from '../session.js';

/** `vayu agent drain` (src/store/agents.rs `request_drain`): only `drain`
 * changes, naming the caller, at the server's time; an admin's only
 * (firestore.rules `isDrainRequest`). */
async function drain(id) {
  try {
    await updateDoc(doc(getDb(), 'agents', id), { drain: { by: session().uid, at: serverTimestamp() } });
    notice(`Asked ${id} to drain: it stops claiming, finishes or hands back its tasks, and exits.`);
  } catch (e) {
    showError(e, `Draining ${id}`);
  }
}

export function mount(root) {
  let agents = [];
  const table = h('div', { class: 'scroll' });
  root.append(h('h2', {}, 'Agents'),
    h('p', { class: 'hint' }, 'Offline when two heartbeats are missed, judged in this page every second.'),
    table);
  const stop = watchAgents((seen) => { agents = seen; render(); });
  const tick = setInterval(render, 1000);

  function render() {
    const now = Date.now();
    const caps = [...new Set(agents.flatMap((a) => a.capabilities || []))].sort();
    const head = h('tr', {}, h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Status'),
      caps.map((c) => h('th', { scope: 'col', class: 'cap' }, c)),
      ['Tasks', 'CPU', 'Memory', 'Last heartbeat', 'Drain'].map((x) => h('th', { scope: 'col' }, x)));
    const rows = agents.map((a) => {
      const beat = a.last_heartbeat;
      const offline = agentOffline(a, now);
      const status = offline ? 'offline' : a.drain ? 'draining' : a.status;
      const mine = new Set(a.capabilities || []);
      return h('tr', { 'data-agent': a.agent_id, 'data-status': status },
        h('th', { scope: 'row' }, a.agent_id, h('div', { class: 'hint' }, a.hostname || '')),
        h('td', {}, h('span', { class: `badge s-${status}` }, status)),
        caps.map((c) => h('td', { class: 'cap' }, mine.has(c) ? h('span', { 'aria-label': `${a.agent_id} can ${c}` }, '●') : '')),
        h('td', {}, `${(a.current_tasks || []).length}/${a.concurrency}`,
          h('div', {}, (a.current_tasks || []).map((id) => h('a', { href: `#/task/${id}`, class: 'mono' }, id.slice(0, 8), ' ')))),
        h('td', {}, `${Number(a.cpu_usage || 0).toFixed(0)}%`),
        h('td', {}, `${Number(a.memory_usage || 0).toFixed(0)}% · ${Number(a.rss_mb || 0).toFixed(0)} MB`),
        h('td', {}, beat ? `${fmtAge(now - beat)} ago` : '—'),
        h('td', {}, a.drain ? `asked by ${a.drain.by}`
          : session().role === 'admin' && !offline
            ? h('button', { type: 'button', 'aria-label': `Drain ${a.agent_id}`, onclick: () => drain(a.agent_id) }, 'Drain') : ''));
    });
    clear(table).append(agents.length
      ? h('table', { class: 'matrix', 'aria-label': 'Agents and their capabilities' }, h('thead', {}, head), h('tbody', {}, rows))
      : h('p', {}, 'No agents have registered.'));
  }

  render();
  return () => { stop(); clearInterval(tick); };
}
