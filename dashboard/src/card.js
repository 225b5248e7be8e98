// A task's card (board, queue, my tasks) and its role-aware actions.
import { h, notice, showError } from './ui.js';
import { actionsFor, control, requeue, setPriority } from './actions.js';
import { PRIORITIES } from './model.js';

const LABEL = { pause: 'Pause', cancel: 'Cancel', resume: 'Resume', requeue: 'Requeue' };

/** Runs an action on task `t` (read from `pile`) and says what happened. */
export async function act(t, pile, what, arg) {
  const name = `${LABEL[what] || 'Changing the priority of'} “${t.title}”`;
  try {
    let said;
    if (what === 'pause' || what === 'cancel') said = await control(pile, t.task_id, what);
    else if (what === 'resume') said = await requeue(pile, t.task_id, 'paused');
    else if (what === 'requeue') said = await requeue(pile, t.task_id, 'failed');
    else said = await setPriority(t.task_id, arg);
    notice(`${name}: ${said}.`);
  } catch (e) {
    showError(e, name);
  }
}

export function card(t, pile, { showAll = false } = {}) {
  const acts = actionsFor(t, showAll);
  const agent = t.lease?.owner || t.assignment?.primary_agent;
  const running = ['assigned', 'executing'].includes(t.status);
  return h('li', { class: `card p-${t.priority}`, 'data-task': t.task_id, 'data-status': t.status },
    h('a', { href: `#/task/${encodeURIComponent(t.task_id)}`, class: 'title' }, t.title),
    h('div', { class: 'meta' },
      h('span', { class: `badge p-${t.priority}` }, t.priority),
      h('span', {}, t.type.replace('_', ' ')),
      agent ? h('span', { class: 'agent' }, `⚙ ${agent}`) : null,
      t.control ? h('span', { class: 'badge warn' }, `${t.control} requested`) : null),
    running ? h('progress', { max: 100, value: t.execution?.progress ?? 0, 'aria-label': `Progress of ${t.title}` }) : null,
    acts.length ? h('div', { class: 'actions' }, acts.map((a) => (a === 'priority'
      ? h('select', {
        'aria-label': `Priority of ${t.title}`,
        onchange: (ev) => act(t, pile, 'priority', ev.target.value),
      }, PRIORITIES.map((p) => h('option', { value: p, selected: p === t.priority }, p)))
      : h('button', { type: 'button', 'data-action': a, 'aria-label': `${LABEL[a]} ${t.title}`, onclick: () => act(t, pile, a) }, LABEL[a])))) : null);
}
